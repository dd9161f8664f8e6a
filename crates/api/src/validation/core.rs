//! Namespace, core/v1 Event and Node rules (v1.33), kept to what the real validators check
//! for objects created through the v1 API.

use k8s_openapi::api::core::v1::{Event, Namespace, Node};

use super::field::{ErrorList, FieldError};
use super::meta::{NameRule, kube_finalizer_name, validate_label_name, validate_object_meta};
use super::names;

/// `ValidateNamespace`: metadata (DNS label name, no namespace) and `spec.finalizers`.
pub fn validate_namespace(ns: &Namespace) -> ErrorList {
    let mut errs = validate_object_meta(&ns.metadata, false, NameRule::Label);
    let fins = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.as_deref())
        .unwrap_or_default();
    for f in fins {
        for msg in names::is_qualified_name(f) {
            errs.push(FieldError::invalid("spec.finalizers", f.as_str(), &msg));
        }
        errs.extend(kube_finalizer_name(f, "spec.finalizers"));
    }
    errs
}

/// `ValidateEventCreate` for core/v1 (legacy rules only: no metadata checks, as the real
/// server does for the v1 API).
pub fn validate_event(ev: &Event) -> ErrorList {
    let mut errs = ErrorList::new();
    let ns = ev.metadata.namespace.as_deref().unwrap_or("");
    let ins = ev.involved_object.namespace.as_deref().unwrap_or("");
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    if ev.event_time.is_none() {
        let mismatch = if ins.is_empty() {
            !ns.is_empty() && ns != "default"
        } else {
            ns != ins
        };
        if mismatch {
            errs.push(FieldError::invalid(
                "involvedObject.namespace",
                ins,
                "does not match event.namespace",
            ));
        }
    } else {
        if ins.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(FieldError::invalid(
                "involvedObject.namespace",
                ins,
                "does not match event.namespace",
            ));
        }
        let rc = s(&ev.reporting_component);
        if rc.is_empty() {
            errs.push(FieldError::required("reportingController", ""));
        }
        for msg in names::is_qualified_name(&rc) {
            errs.push(FieldError::invalid(
                "reportingController",
                rc.as_str(),
                &msg,
            ));
        }
        for (v, f, limit) in [
            (s(&ev.reporting_instance), "reportingInstance", 128),
            (s(&ev.action), "action", 128),
            (s(&ev.reason), "reason", 128),
        ] {
            if v.is_empty() {
                errs.push(FieldError::required(f, ""));
            }
            if v.len() > limit {
                errs.push(FieldError::invalid(
                    f,
                    "",
                    &format!("can have at most {limit} characters"),
                ));
            }
        }
        if s(&ev.message).len() > 1024 {
            errs.push(FieldError::invalid(
                "message",
                "",
                "can have at most 1024 characters",
            ));
        }
    }
    for msg in names::is_dns1123_subdomain(ns) {
        errs.push(FieldError::invalid("namespace", ns, &msg));
    }
    errs
}

/// `ValidateNode` (metadata and taints; status fields are optional).
pub fn validate_node(node: &Node) -> ErrorList {
    let mut errs = validate_object_meta(&node.metadata, false, NameRule::Subdomain);
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in taints.iter().enumerate() {
        let p = format!("metadata.taints[{i}]");
        errs.extend(validate_label_name(&t.key, &format!("{p}.key")));
        let value = t.value.as_deref().unwrap_or("");
        let msgs = names::is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                format!("{p}.value"),
                value,
                &msgs.join(";"),
            ));
        }
        match t.effect.as_str() {
            "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
            "" => errs.push(FieldError::required(format!("{p}.effect"), "")),
            other => errs.push(FieldError::not_supported(
                format!("{p}.effect"),
                other,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            )),
        }
        if !seen.insert((t.effect.clone(), t.key.clone())) {
            let mut e = FieldError::invalid_go(
                p,
                format!(
                    "core.Taint{{Key:{:?}, Value:{:?}, Effect:{:?}, TimeAdded:(*v1.Time)(nil)}}",
                    t.key, value, t.effect
                ),
                "",
            );
            e.kind = super::field::ErrorType::Duplicate;
            e.detail = "taints must be unique by key and effect pair".to_string();
            errs.push(e);
        }
    }
    errs
}
