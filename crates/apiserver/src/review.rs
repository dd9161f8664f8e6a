//! The access reviews, as `kubectl auth whoami` and `kubectl auth can-i` create them:
//! authentication.k8s.io SelfSubjectReview, authorization.k8s.io SelfSubjectAccessReview and
//! SelfSubjectRulesReview. Created, never stored: the answer is computed for the server's one
//! identity, the holder of the admin token, a member of `system:masters` (whom the real
//! server's authorizer allows everything).

use crate::error::{ApiError, ApiResult};
use crate::registry::decode::{self, cannot_handle};
use crate::registry::{managed, rfc3339};
use crate::request::Query;
use api::apply;
use api::resource::ResourceInfo;
use jiff::Timestamp;
use k8s_openapi::api::authorization::v1::{SelfSubjectAccessReview, SelfSubjectRulesReview};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The user the admin token authenticates (the kubeconfig's user).
pub const USERNAME: &str = "batchlet-admin";
/// Its groups: a static-token user's own, then the `system:authenticated` every
/// authenticated request gets.
pub const GROUPS: &[&str] = &["system:masters", "system:authenticated"];

/// What the real REST passes to `NewInvalid`: its group with an empty Kind (decoding into
/// the internal version clears it), so the message reads `.authorization.k8s.io "" is
/// invalid` and kubectl prints "The request is invalid".
static NO_KIND: ResourceInfo = ResourceInfo {
    group: "authorization.k8s.io",
    version: "v1",
    kind: "",
    plural: "",
    singular: "",
    namespaced: false,
    short_names: &[],
    categories: &[],
    verbs: &[],
    subresources: &[],
};

/// A review's answer and the warnings of its decoding (unknown fields with
/// `fieldValidation=Warn`), which go back with the answer or its error.
#[derive(Debug)]
pub struct Reviewed {
    /// `Warning` header texts.
    pub warnings: Vec<String>,
    /// The object to answer with 201, or why not.
    pub answer: ApiResult<Value>,
}

/// `POST` of a review: decoding as every create (media types, protobuf, strict fields),
/// then [`answer`], with the request's `fieldManager` as the manager of the fields sent.
pub fn create(
    r: &'static ResourceInfo,
    q: &Query,
    content_type: Option<&str>,
    body: &[u8],
    now: Timestamp,
) -> ApiResult<Reviewed> {
    q.dry_run()?;
    let decoded = decode::decode(r, content_type, body, q.field_validation()?)?;
    let manager = q.get("fieldManager").filter(|m| !m.is_empty());
    Ok(Reviewed {
        warnings: decoded.warnings,
        answer: answer(r, decoded.object, manager, now),
    })
}

/// The typed object, with a value of the wrong type named as Go's decoder does.
fn typed<T: DeserializeOwned>(r: &ResourceInfo, obj: &Value) -> ApiResult<T> {
    serde_json::from_value(obj.clone()).map_err(|e| {
        cannot_handle(
            r,
            api::unmarshal::type_error(r, obj).unwrap_or_else(|| e.to_string()),
        )
    })
}

/// The answer to a decoded review `obj` of kind `r`.
pub fn answer(
    r: &'static ResourceInfo,
    obj: Value,
    manager: Option<&str>,
    now: Timestamp,
) -> ApiResult<Value> {
    match r.kind {
        "SelfSubjectReview" => Ok(self_subject_review(now)),
        "SelfSubjectAccessReview" => self_subject_access_review(r, obj, manager, now),
        "SelfSubjectRulesReview" => self_subject_rules_review(r, &obj),
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// The requesting user, as the real REST builds it: a new object, stamped now.
fn self_subject_review(now: Timestamp) -> Value {
    json!({
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": rfc3339(now)},
        "status": {"userInfo": {"username": USERNAME, "groups": GROUPS}},
    })
}

/// The review as sent (through the typed object, so as Go would write it back) with the
/// field manager's entry and `status.allowed`: `system:masters` may do anything, and the
/// authorizer that says so gives no reason.
fn self_subject_access_review(
    r: &'static ResourceInfo,
    obj: Value,
    manager: Option<&str>,
    now: Timestamp,
) -> ApiResult<Value> {
    let sar: SelfSubjectAccessReview = typed(r, &obj)?;
    let errors = api::validation::validate_self_subject_access_review(&sar);
    if !errors.is_empty() {
        return Err(ApiError::Invalid {
            resource: &NO_KIND,
            name: String::new(),
            errors,
        });
    }
    let mut out = serde_json::to_value(&sar).map_err(|e| ApiError::Internal(e.to_string()))?;
    omit_empty_attributes(&mut out);
    let meta = out
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ApiError::Internal("review without metadata".into()))?;
    meta.insert("creationTimestamp".into(), Value::Null);
    meta.remove("managedFields");
    if let Some(manager) = manager {
        let time = rfc3339(now);
        let before = json!({"metadata": {"creationTimestamp": null}, "spec": {}, "status": {"allowed": false}});
        let entries = apply::record_update(
            &apply::Request {
                resource: r,
                manager,
                subresource: None,
                time: &time,
            },
            &before,
            &out,
            &managed::entries_of(&obj).unwrap_or_default(),
        );
        if let Some(v) = managed::to_value(&entries)
            && let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.insert("managedFields".into(), v);
        }
    }
    out["status"] = json!({"allowed": true});
    Ok(out)
}

/// Every string of the attributes is `omitempty` in Go: an empty one is not written back.
fn omit_empty_attributes(sar: &mut Value) {
    let Some(spec) = sar.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for attrs in ["resourceAttributes", "nonResourceAttributes"] {
        let Some(a) = spec.get_mut(attrs).and_then(Value::as_object_mut) else {
            continue;
        };
        a.retain(|_, v| *v != "");
        for sel in ["fieldSelector", "labelSelector"] {
            if let Some(s) = a.get_mut(sel).and_then(Value::as_object_mut) {
                s.retain(|k, v| !(k == "rawSelector" && v == ""));
            }
        }
    }
}

/// The rules RBAC resolves for the identity in `spec.namespace`, answered (as the real
/// REST does) in a new object: cluster-admin's, bound to `system:masters`, then those of the
/// bootstrap roles bound to `system:authenticated` (system:basic-user, system:discovery,
/// system:public-info-viewer). The list is complete: nothing else authorizes.
fn self_subject_rules_review(r: &'static ResourceInfo, obj: &Value) -> ApiResult<Value> {
    let srr: SelfSubjectRulesReview = typed(r, obj)?;
    if srr.spec.namespace.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::BadRequest("no namespace on request".into()));
    }
    Ok(json!({
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": {},
        "status": {
            "resourceRules": [
                {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                 "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
                {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"],
                 "resources": ["selfsubjectreviews"]},
            ],
            "nonResourceRules": [
                {"verbs": ["*"], "nonResourceURLs": ["*"]},
                {"verbs": ["get"], "nonResourceURLs": [
                    "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                    "/openapi/*", "/readyz", "/version", "/version/"]},
                {"verbs": ["get"], "nonResourceURLs": [
                    "/healthz", "/livez", "/readyz", "/version", "/version/"]},
            ],
            "incomplete": false,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(k: &str) -> &'static ResourceInfo {
        api::resource::RESOURCES
            .iter()
            .find(|r| r.kind == k)
            .expect("served")
    }

    fn now() -> Timestamp {
        "2026-01-02T03:04:05Z".parse().expect("time")
    }

    fn query(q: &str) -> Query {
        Query::parse(Some(q))
    }

    #[test]
    fn answers_as_the_real_server_for_system_masters() {
        let cases: &[(&str, &str, Value, Value)] = &[
            (
                "whoami",
                "SelfSubjectReview",
                json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {}}),
                json!({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                       "metadata": {"creationTimestamp": "2026-01-02T03:04:05Z"},
                       "status": {"userInfo": {"username": "batchlet-admin",
                                               "groups": ["system:masters", "system:authenticated"]}}}),
            ),
            (
                "can-i create jobs",
                "SelfSubjectAccessReview",
                json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                       "metadata": {},
                       "spec": {"resourceAttributes": {"namespace": "default", "verb": "create",
                                                       "group": "batch", "resource": "jobs", "name": ""}},
                       "status": {"allowed": false}}),
                json!({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                       "metadata": {"creationTimestamp": null},
                       "spec": {"resourceAttributes": {"namespace": "default", "verb": "create",
                                                       "group": "batch", "resource": "jobs"}},
                       "status": {"allowed": true}}),
            ),
            (
                "can-i get /healthz",
                "SelfSubjectAccessReview",
                json!({"spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}}),
                json!({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                       "metadata": {"creationTimestamp": null},
                       "spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}},
                       "status": {"allowed": true}}),
            ),
        ];
        for (name, k, obj, want) in cases {
            let got = answer(kind(k), obj.clone(), None, now()).expect(name);
            assert_eq!(&got, want, "{name}");
        }
    }

    #[test]
    fn rules_are_cluster_admin_and_the_authenticated_roles() {
        let r = kind("SelfSubjectRulesReview");
        let got = answer(r, json!({"spec": {"namespace": "default"}}), None, now()).expect("rules");
        assert_eq!(got["spec"], json!({}));
        assert_eq!(got["metadata"], json!({"creationTimestamp": null}));
        assert_eq!(got["status"]["incomplete"], false);
        assert_eq!(
            got["status"]["resourceRules"][0],
            json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
        );
        assert_eq!(
            got["status"]["nonResourceRules"][0],
            json!({"verbs": ["*"], "nonResourceURLs": ["*"]})
        );
        let err = answer(r, json!({"spec": {}}), None, now()).unwrap_err();
        assert_eq!(err.status()["code"], 400);
        assert_eq!(err.status()["message"], "no namespace on request");
    }

    #[test]
    fn invalid_reviews_get_the_real_status() {
        let r = kind("SelfSubjectAccessReview");
        let err = answer(r, json!({"spec": {}}), None, now()).unwrap_err();
        assert_eq!(
            err.status(),
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": ".authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
                "reason": "Invalid", "code": 422,
                "details": {"name": "", "group": "authorization.k8s.io", "kind": "", "causes": [{
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
                    "field": "spec.resourceAttributes"}]},
            })
        );
        // A value of the wrong type is a decoding error, as Go's.
        let err = answer(
            r,
            json!({"spec": {"resourceAttributes": {"verb": 1}}}),
            None,
            now(),
        )
        .unwrap_err();
        assert_eq!(err.status()["code"], 400, "{}", err.status());
    }

    #[test]
    fn the_field_manager_owns_the_spec_it_sent() {
        let r = kind("SelfSubjectAccessReview");
        let body = br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"get","resource":"pods"}}}"#;
        let got = create(r, &query("fieldManager=kubectl-create"), None, body, now())
            .expect("decoded")
            .answer
            .expect("answered");
        assert_eq!(
            got["metadata"]["managedFields"],
            json!([{"manager": "kubectl-create", "operation": "Update",
                    "apiVersion": "authorization.k8s.io/v1", "time": "2026-01-02T03:04:05Z",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:resourceAttributes": {
                        ".": {}, "f:resource": {}, "f:verb": {}}}}}])
        );
        // Unknown fields: refused with Strict, a warning by default, never answered back.
        let body = br#"{"spec":{"nonResourceAttributes":{"path":"/x","verb":"get"}},"bogus":1}"#;
        let err = create(r, &query("fieldValidation=Strict"), None, body, now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "SelfSubjectAccessReview in version \"v1\" cannot be handled as a SelfSubjectAccessReview: strict decoding error: unknown field \"bogus\""
        );
        let warned = create(r, &query(""), None, body, now()).expect("warned");
        assert_eq!(warned.warnings, ["unknown field \"bogus\""]);
        assert!(warned.answer.expect("answered").get("bogus").is_none());
    }
}
