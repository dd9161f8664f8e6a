//! Object metadata rules (apimachinery `api/validation` and `meta/v1/validation`, plus the
//! core finalizer check): names, namespace, labels, annotations, owner references,
//! finalizers, label selectors, and the update rules (immutable name, uid, ...).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use serde_json::Value;

use super::field::{ErrorList, FieldError, go_quote, go_slice, go_string_map};
use super::names;

/// How a kind's `metadata.name` is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// DNS-1123 subdomain (most kinds: Job, CronJob, Pod, Node, Event).
    Subdomain,
    /// DNS-1123 label (Namespace).
    Label,
}

impl NameRule {
    fn check(self, name: &str, prefix: bool) -> Vec<String> {
        match self {
            NameRule::Subdomain => names::name_is_dns_subdomain(name, prefix),
            NameRule::Label => names::name_is_dns_label(name, prefix),
        }
    }
}

/// Total size limit of annotations (keys plus values).
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// `ValidateObjectMeta` (core flavour, with the kube finalizer-name check).
pub fn validate_object_meta(meta: &ObjectMeta, namespaced: bool, rule: NameRule) -> ErrorList {
    let mut errs = ErrorList::new();
    let generate_name = meta.generate_name.as_deref().unwrap_or("");
    if !generate_name.is_empty() {
        for msg in rule.check(generate_name, true) {
            errs.push(FieldError::invalid(
                "metadata.generateName",
                generate_name,
                &msg,
            ));
        }
    }
    let name = meta.name.as_deref().unwrap_or("");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in rule.check(name, false) {
            errs.push(FieldError::invalid("metadata.name", name, &msg));
        }
    }
    let ns = meta.namespace.as_deref().unwrap_or("");
    if namespaced {
        if ns.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else {
            for msg in names::name_is_dns_label(ns, false) {
                errs.push(FieldError::invalid("metadata.namespace", ns, &msg));
            }
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        ));
    }
    if let Some(g) = meta.generation.filter(|g| *g < 0) {
        errs.push(FieldError::invalid(
            "metadata.generation",
            g,
            "must be greater than or equal to 0",
        ));
    }
    errs.extend(validate_labels(meta.labels.as_ref(), "metadata.labels"));
    errs.extend(validate_annotations(
        meta.annotations.as_ref(),
        "metadata.annotations",
    ));
    errs.extend(validate_owner_references(meta.owner_references.as_deref()));
    errs.extend(validate_finalizers(meta.finalizers.as_deref()));
    for (i, f) in meta.finalizers.iter().flatten().enumerate() {
        errs.extend(kube_finalizer_name(f, &format!("metadata.finalizers[{i}]")));
    }
    errs
}

/// `ValidateObjectMetaUpdate` (core flavour).
pub fn validate_object_meta_update(new: &ObjectMeta, old: &ObjectMeta) -> ErrorList {
    let mut errs = ErrorList::new();
    if old.deletion_timestamp.is_some() {
        let old_f: Vec<&String> = old.finalizers.iter().flatten().collect();
        let mut extra: Vec<&String> = new
            .finalizers
            .iter()
            .flatten()
            .filter(|f| !old_f.contains(f))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let list = go_slice("string", Some(extra.as_slice()), |s| go_quote(s));
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {list}"
                ),
            ));
        }
    }
    let rv = new.resource_version.as_deref().unwrap_or("");
    if rv.is_empty() {
        errs.push(FieldError::invalid(
            "metadata.resourceVersion",
            rv,
            "must be specified for an update",
        ));
    }
    let (ng, og) = (new.generation.unwrap_or(0), old.generation.unwrap_or(0));
    if ng < og {
        errs.push(FieldError::invalid(
            "metadata.generation",
            ng,
            "must not be decremented",
        ));
    }
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    for (field, n, o) in [
        ("metadata.name", s(&new.name), s(&old.name)),
        ("metadata.namespace", s(&new.namespace), s(&old.namespace)),
        ("metadata.uid", s(&new.uid), s(&old.uid)),
    ] {
        if n != o {
            errs.push(FieldError::invalid(field, n, "field is immutable"));
        }
    }
    if new.creation_timestamp != old.creation_timestamp {
        errs.push(immutable_time(
            "metadata.creationTimestamp",
            new.creation_timestamp.as_ref().map(|t| t.0),
        ));
    }
    if new.deletion_timestamp != old.deletion_timestamp {
        errs.push(immutable_time(
            "metadata.deletionTimestamp",
            new.deletion_timestamp.as_ref().map(|t| t.0),
        ));
    }
    if new.deletion_grace_period_seconds != old.deletion_grace_period_seconds {
        let v = new
            .deletion_grace_period_seconds
            .map_or(Value::Null, Value::from);
        errs.push(FieldError::invalid(
            "metadata.deletionGracePeriodSeconds",
            v,
            "field is immutable",
        ));
    }
    errs.extend(validate_labels(new.labels.as_ref(), "metadata.labels"));
    errs.extend(validate_annotations(
        new.annotations.as_ref(),
        "metadata.annotations",
    ));
    errs.extend(validate_owner_references(new.owner_references.as_deref()));
    for (i, f) in new.finalizers.iter().flatten().enumerate() {
        errs.extend(kube_finalizer_name(f, &format!("metadata.finalizers[{i}]")));
    }
    errs
}

fn immutable_time(field: &str, t: Option<jiff::Timestamp>) -> FieldError {
    match t {
        Some(t) => FieldError::invalid_go(field, go_time(t), "field is immutable"),
        None => FieldError::invalid(field, Value::Null, "field is immutable"),
    }
}

/// Go's `time.Time.String()` for a UTC instant, as `metav1.Time` values print.
pub fn go_time(t: jiff::Timestamp) -> String {
    let s = t.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let ns = t.subsec_nanosecond();
    if ns == 0 {
        format!("{s} +0000 UTC")
    } else {
        let frac = format!("{ns:09}");
        format!("{s}.{} +0000 UTC", frac.trim_end_matches('0'))
    }
}

/// `ValidateLabels`: each key a qualified name, each value a label value; the errors carry
/// `path` itself (not the key), as the real validator reports them.
pub fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    for (k, v) in labels.into_iter().flatten() {
        errs.extend(validate_label_name(k, path));
        for msg in names::is_valid_label_value(v) {
            errs.push(FieldError::invalid(path, v.as_str(), &msg));
        }
    }
    errs
}

/// `ValidateLabelName`.
pub fn validate_label_name(key: &str, path: &str) -> ErrorList {
    names::is_qualified_name(key)
        .into_iter()
        .map(|msg| FieldError::invalid(path, key, &msg))
        .collect()
}

/// `ValidateAnnotations`: keys are qualified names (case-insensitive), total size limit.
pub fn validate_annotations(
    annotations: Option<&BTreeMap<String, String>>,
    path: &str,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut total = 0usize;
    for (k, v) in annotations.into_iter().flatten() {
        for msg in names::is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), &msg));
        }
        total = total.saturating_add(k.len()).saturating_add(v.len());
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(
            path,
            "",
            TOTAL_ANNOTATION_SIZE_LIMIT as i64,
        ));
    }
    errs
}

fn validate_owner_references(refs: Option<&[OwnerReference]>) -> ErrorList {
    let path = "metadata.ownerReferences";
    let mut errs = ErrorList::new();
    let mut first_controller: Option<String> = None;
    for r in refs.unwrap_or_default() {
        let version = r.api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.apiVersion"),
                r.api_version.as_str(),
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.kind"),
                "",
                "kind must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.name"),
                "",
                "name must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.uid"),
                "",
                "uid must not be empty",
            ));
        }
        if r.controller == Some(true) {
            let cur = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid_go(
                    path,
                    "[]v1.OwnerReference{...}".to_string(),
                    &format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {cur}"
                    ),
                )),
                None => first_controller = Some(cur),
            }
        }
    }
    errs
}

/// `ValidateFinalizers` (apimachinery): qualified names, no orphan+foreground together.
fn validate_finalizers(finalizers: Option<&[String]>) -> ErrorList {
    let path = "metadata.finalizers";
    let list = finalizers.unwrap_or_default();
    let mut errs = ErrorList::new();
    for f in list {
        for msg in names::is_qualified_name(f) {
            errs.push(FieldError::invalid(path, f.as_str(), &msg));
        }
    }
    let has = |n: &str| list.iter().any(|f| f == n);
    if has("orphan") && has("foregroundDeletion") {
        errs.push(FieldError::invalid_go(
            path,
            go_slice("string", Some(list), |s| go_quote(s)),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// `validateKubeFinalizerName`: unprefixed finalizers must be standard ones.
pub fn kube_finalizer_name(f: &str, path: &str) -> ErrorList {
    if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f) {
        vec![FieldError::invalid(
            path,
            f,
            "name is neither a standard finalizer name nor is it fully qualified",
        )]
    } else {
        Vec::new()
    }
}

/// `ValidateLabelSelector` (invalid label values in selectors are not allowed on create).
pub fn validate_label_selector(sel: &LabelSelector, path: &str) -> ErrorList {
    let mut errs = validate_labels(sel.match_labels.as_ref(), &format!("{path}.matchLabels"));
    for (i, expr) in sel.match_expressions.iter().flatten().enumerate() {
        let p = format!("{path}.matchExpressions[{i}]");
        let values = expr.values.as_deref().unwrap_or_default();
        match expr.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
                format!("{p}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
                format!("{p}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errs.push(FieldError::invalid(
                format!("{p}.operator"),
                other,
                "not a valid selector operator",
            )),
        }
        errs.extend(validate_label_name(&expr.key, &format!("{p}.key")));
        for (j, v) in values.iter().enumerate() {
            for msg in names::is_valid_label_value(v) {
                errs.push(FieldError::invalid(
                    format!("{p}.values[{j}]"),
                    v.as_str(),
                    &msg,
                ));
            }
        }
    }
    errs
}

/// Go `%#v` of a `metav1.LabelSelector` value.
pub fn go_label_selector(sel: &LabelSelector) -> String {
    let exprs = sel.match_expressions.as_deref();
    let exprs = go_slice("v1.LabelSelectorRequirement", exprs, |e| {
        format!(
            "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
            go_quote(&e.key),
            go_quote(&e.operator),
            go_slice("string", e.values.as_deref(), |s| go_quote(s))
        )
    });
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_string_map(sel.match_labels.as_ref()),
        exprs
    )
}

/// `ValidateHasLabel`: `labels[key]` must be present and equal to `expected`.
pub fn validate_has_label(
    labels: Option<&BTreeMap<String, String>>,
    path: &str,
    key: &str,
    expected: &str,
) -> ErrorList {
    let p = format!("{path}.labels[{key}]");
    match labels.and_then(|l| l.get(key)) {
        None => vec![FieldError::required(p, &format!("must be '{expected}'"))],
        Some(v) if v != expected => vec![FieldError::invalid_go(
            p,
            go_string_map(labels),
            &format!("must be '{expected}'"),
        )],
        Some(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(v: Value) -> ObjectMeta {
        serde_json::from_value(v).unwrap_or_default()
    }

    fn lines(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn names_and_namespace() {
        assert_eq!(
            lines(validate_object_meta(
                &meta(json!({"namespace": "default"})),
                true,
                NameRule::Subdomain
            )),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
        assert_eq!(
            lines(validate_object_meta(
                &meta(json!({"name": "Bad", "namespace": "default"})),
                true,
                NameRule::Subdomain
            )),
            vec![
                "metadata.name: Invalid value: \"Bad\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ]
        );
        assert_eq!(
            lines(validate_object_meta(
                &meta(json!({"name": "a.b"})),
                false,
                NameRule::Label
            )),
            vec!["metadata.name: Invalid value: \"a.b\": must not contain dots"]
        );
        assert_eq!(
            lines(validate_object_meta(
                &meta(json!({"name": "a"})),
                true,
                NameRule::Subdomain
            )),
            vec!["metadata.namespace: Required value"]
        );
        assert_eq!(
            lines(validate_object_meta(
                &meta(json!({"name": "n", "namespace": "x"})),
                false,
                NameRule::Label
            )),
            vec!["metadata.namespace: Forbidden: not allowed on this type"]
        );
    }

    #[test]
    fn labels_annotations_finalizers() {
        let m = meta(json!({"name": "a", "namespace": "d",
            "labels": {"bad key": "v", "k": "-x"},
            "finalizers": ["custom"]}));
        assert_eq!(
            lines(validate_object_meta(&m, true, NameRule::Subdomain)),
            vec![
                "metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "metadata.labels: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                "metadata.finalizers[0]: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified",
            ]
        );
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let m = meta(json!({"name": "a", "namespace": "d", "annotations": {"k": big}}));
        assert_eq!(
            lines(validate_object_meta(&m, true, NameRule::Subdomain)),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
    }

    #[test]
    fn update_rules() {
        let old = meta(json!({"name": "a", "resourceVersion": "1", "uid": "u"}));
        let new = meta(json!({"name": "b", "uid": "u"}));
        assert_eq!(
            lines(validate_object_meta_update(&new, &old)),
            vec![
                "metadata.resourceVersion: Invalid value: \"\": must be specified for an update",
                "metadata.name: Invalid value: \"b\": field is immutable",
            ]
        );
    }

    #[test]
    fn selector_rendering() {
        let sel: LabelSelector =
            serde_json::from_value(json!({"matchLabels": {"a": "b"}})).unwrap_or_default();
        assert_eq!(
            go_label_selector(&sel),
            "v1.LabelSelector{MatchLabels:map[string]string{\"a\":\"b\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
    }
}
