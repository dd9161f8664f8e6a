//! authorization.k8s.io validation: `ValidateSelfSubjectAccessReview` (exactly one of
//! resourceAttributes / nonResourceAttributes, well-formed field and label selector
//! attributes, empty metadata), with upstream's paths, messages and Go renderings.

use super::field::{ErrorList, FieldError, go_quote, go_slice, go_string_map};
use k8s_openapi::api::authorization::v1::{
    FieldSelectorAttributes, LabelSelectorAttributes, NonResourceAttributes, ResourceAttributes,
    SelfSubjectAccessReview,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// `ValidateSelfSubjectAccessReview`: the spec, then `metadata` (which must be empty but for
/// `managedFields`).
pub fn validate_self_subject_access_review(sar: &SelfSubjectAccessReview) -> ErrorList {
    let spec = &sar.spec;
    let mut errs = ErrorList::new();
    match (&spec.resource_attributes, &spec.non_resource_attributes) {
        (Some(_), Some(n)) => errs.push(FieldError::invalid_go(
            "spec.nonResourceAttributes",
            go_non_resource_attributes(n),
            "cannot be specified in combination with resourceAttributes",
        )),
        // Upstream passes the (nil) nonResourceAttributes as the value.
        (None, None) => errs.push(FieldError::invalid_go(
            "spec.resourceAttributes",
            go_quote("null"),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        _ => {}
    }
    if let Some(ra) = &spec.resource_attributes {
        errs.extend(validate_resource_attributes(ra));
    }
    if !meta_is_empty(&sar.metadata) {
        errs.push(FieldError::invalid_go(
            "metadata",
            go_object_meta(&sar.metadata),
            "must be empty",
        ));
    }
    errs
}

fn validate_resource_attributes(ra: &ResourceAttributes) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(FieldSelectorAttributes {
        raw_selector,
        requirements,
    }) = &ra.field_selector
    {
        let reqs = requirements.iter().flatten();
        errs.extend(selector_attributes(
            "spec.resourceAttributes.fieldSelector",
            raw_selector,
            reqs.map(|r| (r.key.as_str(), r.operator.as_str(), r.values.as_deref())),
            false,
        ));
    }
    if let Some(LabelSelectorAttributes {
        raw_selector,
        requirements,
    }) = &ra.label_selector
    {
        let reqs = requirements.iter().flatten();
        errs.extend(selector_attributes(
            "spec.resourceAttributes.labelSelector",
            raw_selector,
            reqs.map(|r| (r.key.as_str(), r.operator.as_str(), r.values.as_deref())),
            true,
        ));
    }
    errs
}

/// A field or label selector's attributes: a raw selector or requirements, not both, and
/// each requirement valid (`label` picks the label or the field rules).
fn selector_attributes<'a>(
    path: &str,
    raw: &Option<String>,
    requirements: impl Iterator<Item = (&'a str, &'a str, Option<&'a [String]>)>,
    label: bool,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut any = false;
    for (i, (key, operator, values)) in requirements.enumerate() {
        any = true;
        errs.extend(selector_requirement(
            &format!("{path}.requirements[{i}]"),
            key,
            operator,
            values.unwrap_or_default(),
            label,
        ));
    }
    let mut out = raw_versus_requirements(path, raw, !any);
    out.extend(errs);
    out
}

fn raw_versus_requirements(path: &str, raw: &Option<String>, no_requirements: bool) -> ErrorList {
    let raw = raw.as_deref().unwrap_or_default();
    let mut errs = ErrorList::new();
    if !raw.is_empty() && !no_requirements {
        errs.push(FieldError::invalid(
            format!("{path}.rawSelector"),
            raw,
            "may not specified at the same time as requirements",
        ));
    }
    if raw.is_empty() && no_requirements {
        errs.push(FieldError::required(
            format!("{path}.requirements"),
            &format!("when {path} is specified, requirements or rawSelector is required"),
        ));
    }
    errs
}

/// `ValidateFieldSelectorRequirement` / `ValidateLabelSelectorRequirement` with
/// `AllowUnknownOperatorInRequirement` (the reviews accept operators this server does not
/// know); a label requirement's key must also be a qualified name.
fn selector_requirement(
    path: &str,
    key: &str,
    operator: &str,
    values: &[String],
    label: bool,
) -> ErrorList {
    let mut errs = ErrorList::new();
    // The field variant checks the key first, the label variant last.
    if !label && key.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.key"),
            "must be specified",
        ));
    }
    match operator {
        "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
            format!("{path}.values"),
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
            format!("{path}.values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        _ => {}
    }
    if label {
        for msg in super::names::is_qualified_name(key) {
            errs.push(FieldError::invalid(format!("{path}.key"), key, &msg));
        }
    }
    errs
}

/// `apiequality.Semantic.DeepEqual(metav1.ObjectMeta{}, meta)` once `managedFields` is
/// cleared; empty and absent collections are equal, as in the semantic comparison.
fn meta_is_empty(m: &ObjectMeta) -> bool {
    let empty_str = |s: &Option<String>| s.as_deref().is_none_or(str::is_empty);
    empty_str(&m.name)
        && empty_str(&m.generate_name)
        && empty_str(&m.namespace)
        && empty_str(&m.self_link)
        && empty_str(&m.uid)
        && empty_str(&m.resource_version)
        && m.generation.unwrap_or_default() == 0
        && m.creation_timestamp.is_none()
        && m.deletion_timestamp.is_none()
        && m.deletion_grace_period_seconds.is_none()
        && m.labels.as_ref().is_none_or(|x| x.is_empty())
        && m.annotations.as_ref().is_none_or(|x| x.is_empty())
        && m.owner_references.as_ref().is_none_or(Vec::is_empty)
        && m.finalizers.as_ref().is_none_or(Vec::is_empty)
}

/// `%#v` of the internal `authorization.NonResourceAttributes`.
fn go_non_resource_attributes(n: &NonResourceAttributes) -> String {
    format!(
        "authorization.NonResourceAttributes{{Path:{}, Verb:{}}}",
        go_quote(n.path.as_deref().unwrap_or_default()),
        go_quote(n.verb.as_deref().unwrap_or_default())
    )
}

/// `%#v` of a `metav1.ObjectMeta`. Known difference: times and the elements of owner
/// references and managed fields are shown as `{...}` (Go prints pointer addresses there).
fn go_object_meta(m: &ObjectMeta) -> String {
    let s = |x: &Option<String>| go_quote(x.as_deref().unwrap_or_default());
    let time = |t: bool, ty: &str| {
        if t {
            format!("&{ty}{{...}}")
        } else {
            format!("(*{ty})(nil)")
        }
    };
    format!(
        "v1.ObjectMeta{{Name:{}, GenerateName:{}, Namespace:{}, SelfLink:{}, UID:{}, \
         ResourceVersion:{}, Generation:{}, CreationTimestamp:{}, DeletionTimestamp:{}, \
         DeletionGracePeriodSeconds:{}, Labels:{}, Annotations:{}, OwnerReferences:{}, \
         Finalizers:{}, ManagedFields:{}}}",
        s(&m.name),
        s(&m.generate_name),
        s(&m.namespace),
        s(&m.self_link),
        s(&m.uid),
        s(&m.resource_version),
        m.generation.unwrap_or_default(),
        match &m.creation_timestamp {
            None => "time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)".to_owned(),
            Some(_) => "v1.Time{...}".to_owned(),
        },
        time(m.deletion_timestamp.is_some(), "v1.Time"),
        match m.deletion_grace_period_seconds {
            None => "(*int64)(nil)".to_owned(),
            Some(_) => "(*int64)(...)".to_owned(),
        },
        go_string_map(m.labels.as_ref()),
        go_string_map(m.annotations.as_ref()),
        go_slice("v1.OwnerReference", m.owner_references.as_deref(), |_| {
            "v1.OwnerReference{...}".to_owned()
        }),
        go_slice("string", m.finalizers.as_deref(), |f| go_quote(f)),
        go_slice("v1.ManagedFieldsEntry", m.managed_fields.as_deref(), |_| {
            "v1.ManagedFieldsEntry{...}".to_owned()
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sar(v: serde_json::Value) -> SelfSubjectAccessReview {
        serde_json::from_value(v).expect("a SelfSubjectAccessReview")
    }

    #[test]
    fn reviews_are_validated_as_upstream() {
        let cases: &[(&str, serde_json::Value, &[&str])] = &[
            (
                "resource attributes",
                json!({"spec": {"resourceAttributes": {"verb": "create", "resource": "jobs"}}}),
                &[],
            ),
            (
                "non-resource attributes",
                json!({"spec": {"nonResourceAttributes": {"verb": "get", "path": "/healthz"}}}),
                &[],
            ),
            (
                "managed fields alone leave metadata empty",
                json!({"metadata": {"managedFields": [{"manager": "m"}], "labels": {}},
                       "spec": {"nonResourceAttributes": {}}}),
                &[],
            ),
            (
                "neither",
                json!({"spec": {}}),
                &[
                    "spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
                ],
            ),
            (
                "both",
                json!({"spec": {"resourceAttributes": {}, "nonResourceAttributes": {"path": "/x", "verb": "get"}}}),
                &[
                    "spec.nonResourceAttributes: Invalid value: authorization.NonResourceAttributes{Path:\"/x\", Verb:\"get\"}: cannot be specified in combination with resourceAttributes",
                ],
            ),
            (
                "a name",
                json!({"metadata": {"name": "x"}, "spec": {"resourceAttributes": {}}}),
                &[
                    "metadata: Invalid value: v1.ObjectMeta{Name:\"x\", GenerateName:\"\", Namespace:\"\", SelfLink:\"\", UID:\"\", ResourceVersion:\"\", Generation:0, CreationTimestamp:time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC), DeletionTimestamp:(*v1.Time)(nil), DeletionGracePeriodSeconds:(*int64)(nil), Labels:map[string]string(nil), Annotations:map[string]string(nil), OwnerReferences:[]v1.OwnerReference(nil), Finalizers:[]string(nil), ManagedFields:[]v1.ManagedFieldsEntry(nil)}: must be empty",
                ],
            ),
            (
                "field selector: both raw and requirements",
                json!({"spec": {"resourceAttributes": {"fieldSelector": {
                    "rawSelector": "foo", "requirements": [{"key": "k", "operator": "Exists"}]}}}}),
                &[
                    "spec.resourceAttributes.fieldSelector.rawSelector: Invalid value: \"foo\": may not specified at the same time as requirements",
                ],
            ),
            (
                "field selector: neither",
                json!({"spec": {"resourceAttributes": {"fieldSelector": {}}}}),
                &[
                    "spec.resourceAttributes.fieldSelector.requirements: Required value: when spec.resourceAttributes.fieldSelector is specified, requirements or rawSelector is required",
                ],
            ),
            (
                "field selector: no key, no values for In",
                json!({"spec": {"resourceAttributes": {"fieldSelector": {
                    "requirements": [{"key": "", "operator": "In"}]}}}}),
                &[
                    "spec.resourceAttributes.fieldSelector.requirements[0].key: Required value: must be specified",
                    "spec.resourceAttributes.fieldSelector.requirements[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                ],
            ),
            (
                "label selector: values with Exists, unknown operators allowed",
                json!({"spec": {"resourceAttributes": {"labelSelector": {
                    "requirements": [{"key": "a", "operator": "Exists", "values": ["x"]},
                                     {"key": "b", "operator": "Gt", "values": ["1"]}]}}}}),
                &[
                    "spec.resourceAttributes.labelSelector.requirements[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ],
            ),
        ];
        for (name, obj, want) in cases {
            let got: Vec<String> = validate_self_subject_access_review(&sar(obj.clone()))
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(got, *want, "{name}");
        }
    }
}
