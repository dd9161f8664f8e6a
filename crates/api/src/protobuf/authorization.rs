//! authorization.k8s.io/v1 and authentication.k8s.io/v1: the access reviews kubectl's
//! `auth can-i` and `auth whoami` create (SelfSubjectAccessReview, SelfSubjectRulesReview,
//! SelfSubjectReview) and the messages under them.

use super::ProtobufError;
use super::conv::{ToOpenapi, convert};
use k8s_openapi::api::authentication::v1 as oa_authn;
use k8s_openapi::api::authorization::v1 as oa;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as oa_meta;
use k8s_pb::api::authentication::v1 as pb_authn;
use k8s_pb::api::authorization::v1 as pb;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as pb_meta;

convert!(pb::SelfSubjectAccessReview => oa::SelfSubjectAccessReview {
    metadata: req, spec: req, status: opt
});
convert!(pb::SelfSubjectAccessReviewSpec => oa::SelfSubjectAccessReviewSpec {
    resource_attributes: opt, non_resource_attributes: opt
});
convert!(pb::ResourceAttributes => oa::ResourceAttributes {
    namespace: omit, verb: omit, group: omit, version: omit, resource: omit, subresource: omit,
    name: omit, field_selector: opt, label_selector: opt
});
convert!(pb::FieldSelectorAttributes => oa::FieldSelectorAttributes {
    raw_selector: omit, requirements: list
});
convert!(pb::LabelSelectorAttributes => oa::LabelSelectorAttributes {
    raw_selector: omit, requirements: list
});
convert!(pb_meta::FieldSelectorRequirement => oa_meta::FieldSelectorRequirement {
    key: req, operator: req, values: list
});
convert!(pb::NonResourceAttributes => oa::NonResourceAttributes { path: omit, verb: omit });
convert!(pb::SubjectAccessReviewStatus => oa::SubjectAccessReviewStatus {
    allowed: req, denied: omit, reason: omit, evaluation_error: omit
});
convert!(pb::SelfSubjectRulesReview => oa::SelfSubjectRulesReview {
    metadata: req, spec: req, status: opt
});
convert!(pb::SelfSubjectRulesReviewSpec => oa::SelfSubjectRulesReviewSpec { namespace: omit });
convert!(pb::SubjectRulesReviewStatus => oa::SubjectRulesReviewStatus {
    resource_rules: list_req, non_resource_rules: list_req, incomplete: req,
    evaluation_error: omit
});
convert!(pb::ResourceRule => oa::ResourceRule {
    verbs: list_req, api_groups: list, resources: list, resource_names: list
});
convert!(pb::NonResourceRule => oa::NonResourceRule {
    verbs: list_req
    ; rename { non_resource_urls = list(non_resource_ur_ls) }
});

convert!(pb_authn::SelfSubjectReview => oa_authn::SelfSubjectReview { metadata: req, status: opt });
convert!(pb_authn::SelfSubjectReviewStatus => oa_authn::SelfSubjectReviewStatus { user_info: opt });
convert!(pb_authn::UserInfo => oa_authn::UserInfo {
    username: omit, uid: omit, groups: list, extra: map
});

/// `ExtraValue` is a `[]string` in Go, a message with `items` on the wire.
impl ToOpenapi for pb_authn::ExtraValue {
    type Out = Vec<String>;
    fn to_openapi(self) -> Result<Self::Out, ProtobufError> {
        Ok(self.items)
    }
}

#[cfg(test)]
mod tests {
    use super::super::decode;
    use super::super::tests::meta_named;
    use super::{pb, pb_authn, pb_meta};
    use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
    use prost::Message;
    use serde_json::{Value, json};

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    fn body(api_version: &str, kind: &str, m: impl Message) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(TypeMeta {
                api_version: s(api_version),
                kind: s(kind),
            }),
            raw: Some(m.encode_to_vec()),
            content_encoding: s(""),
            content_type: s(""),
        };
        let mut out = b"k8s\0".to_vec();
        out.extend(unknown.encode_to_vec());
        out
    }

    fn attributes(verb: &str, group: &str, resource: &str) -> pb::ResourceAttributes {
        pb::ResourceAttributes {
            namespace: s("default"),
            verb: s(verb),
            group: s(group),
            version: s(""),
            resource: s(resource),
            subresource: s(""),
            name: s(""),
            field_selector: None,
            label_selector: None,
        }
    }

    fn sar_status() -> Option<pb::SubjectAccessReviewStatus> {
        Some(pb::SubjectAccessReviewStatus {
            allowed: Some(false),
            denied: Some(false),
            reason: s(""),
            evaluation_error: s(""),
        })
    }

    #[test]
    fn kubectl_bodies_decode_to_the_json_a_go_client_writes() {
        let cases: Vec<(&str, Vec<u8>, Value)> = vec![
            (
                "auth can-i create jobs",
                body(
                    "authorization.k8s.io/v1",
                    "SelfSubjectAccessReview",
                    pb::SelfSubjectAccessReview {
                        metadata: Some(meta_named("")),
                        spec: Some(pb::SelfSubjectAccessReviewSpec {
                            resource_attributes: Some(attributes("create", "batch", "jobs")),
                            non_resource_attributes: None,
                        }),
                        status: sar_status(),
                    },
                ),
                json!({
                    "metadata": {},
                    "spec": {"resourceAttributes": {
                        "namespace": "default", "verb": "create", "group": "batch", "resource": "jobs"}},
                    "status": {"allowed": false},
                }),
            ),
            (
                "auth can-i get /healthz",
                body(
                    "authorization.k8s.io/v1",
                    "SelfSubjectAccessReview",
                    pb::SelfSubjectAccessReview {
                        metadata: Some(meta_named("")),
                        spec: Some(pb::SelfSubjectAccessReviewSpec {
                            resource_attributes: None,
                            non_resource_attributes: Some(pb::NonResourceAttributes {
                                path: s("/healthz"),
                                verb: s("get"),
                            }),
                        }),
                        status: sar_status(),
                    },
                ),
                json!({
                    "metadata": {},
                    "spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}},
                    "status": {"allowed": false},
                }),
            ),
            (
                "selectors",
                body(
                    "authorization.k8s.io/v1",
                    "SelfSubjectAccessReview",
                    pb::SelfSubjectAccessReview {
                        metadata: Some(meta_named("")),
                        spec: Some(pb::SelfSubjectAccessReviewSpec {
                            resource_attributes: Some(pb::ResourceAttributes {
                                field_selector: Some(pb::FieldSelectorAttributes {
                                    raw_selector: s(""),
                                    requirements: vec![pb_meta::FieldSelectorRequirement {
                                        key: s("spec.nodeName"),
                                        operator: s("In"),
                                        values: vec!["a".into()],
                                    }],
                                }),
                                label_selector: Some(pb::LabelSelectorAttributes {
                                    raw_selector: s("app=x"),
                                    requirements: vec![],
                                }),
                                ..attributes("list", "", "pods")
                            }),
                            non_resource_attributes: None,
                        }),
                        status: None,
                    },
                ),
                json!({
                    "metadata": {},
                    "spec": {"resourceAttributes": {
                        "namespace": "default", "verb": "list", "resource": "pods",
                        "fieldSelector": {"requirements": [
                            {"key": "spec.nodeName", "operator": "In", "values": ["a"]}]},
                        "labelSelector": {"rawSelector": "app=x"}}},
                }),
            ),
            (
                "auth can-i --list",
                body(
                    "authorization.k8s.io/v1",
                    "SelfSubjectRulesReview",
                    pb::SelfSubjectRulesReview {
                        metadata: Some(meta_named("")),
                        spec: Some(pb::SelfSubjectRulesReviewSpec {
                            namespace: s("default"),
                        }),
                        status: Some(pb::SubjectRulesReviewStatus {
                            resource_rules: vec![],
                            non_resource_rules: vec![],
                            incomplete: Some(false),
                            evaluation_error: s(""),
                        }),
                    },
                ),
                json!({
                    "metadata": {},
                    "spec": {"namespace": "default"},
                    "status": {"resourceRules": [], "nonResourceRules": [], "incomplete": false},
                }),
            ),
            (
                "auth whoami",
                body(
                    "authentication.k8s.io/v1",
                    "SelfSubjectReview",
                    pb_authn::SelfSubjectReview {
                        metadata: Some(meta_named("")),
                        status: Some(pb_authn::SelfSubjectReviewStatus {
                            user_info: Some(pb_authn::UserInfo {
                                username: s(""),
                                uid: s(""),
                                groups: vec![],
                                extra: Default::default(),
                            }),
                        }),
                    },
                ),
                json!({"metadata": {}, "status": {"userInfo": {}}}),
            ),
            (
                "user info with extra",
                body(
                    "authentication.k8s.io/v1",
                    "SelfSubjectReview",
                    pb_authn::SelfSubjectReview {
                        metadata: None,
                        status: Some(pb_authn::SelfSubjectReviewStatus {
                            user_info: Some(pb_authn::UserInfo {
                                username: s("u"),
                                uid: s("1"),
                                groups: vec!["g".into()],
                                extra: [(
                                    "k".to_string(),
                                    pb_authn::ExtraValue {
                                        items: vec!["v".into()],
                                    },
                                )]
                                .into(),
                            }),
                        }),
                    },
                ),
                json!({"metadata": {}, "status": {"userInfo": {
                    "username": "u", "uid": "1", "groups": ["g"], "extra": {"k": ["v"]}}}}),
            ),
        ];
        for (name, bytes, mut want) in cases {
            let (api_version, kind, got) = decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            // k8s-openapi writes the type's own apiVersion and kind.
            want["apiVersion"] = json!(api_version);
            want["kind"] = json!(kind);
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn other_authorization_kinds_are_not_registered() {
        let bytes = body(
            "authorization.k8s.io/v1",
            "SubjectAccessReview",
            pb::SubjectAccessReview::default(),
        );
        assert_eq!(
            decode(&bytes).unwrap_err().to_string(),
            "no kind \"SubjectAccessReview\" is registered for version \"authorization.k8s.io/v1\" in scheme \"pkg/api/legacyscheme/scheme.go:30\""
        );
    }
}
