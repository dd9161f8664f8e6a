//! PersistentVolumeClaim rules (v1.33 `ValidatePersistentVolumeClaim` and its update), kept
//! to the spec fields a claim on one machine uses: access modes, the storage request, the
//! volume mode, and spec immutability once created.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimSpec};

use super::field::{ErrorList, FieldError};
use super::meta::{NameRule, validate_object_meta};
use super::quantity::Quantity;

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

/// Claim create: metadata (DNS subdomain name) and the spec.
pub fn validate_pvc_create(pvc: &PersistentVolumeClaim) -> ErrorList {
    let mut errs = validate_object_meta(&pvc.metadata, true, NameRule::Subdomain);
    errs.extend(validate_spec(pvc.spec.as_ref()));
    errs
}

fn validate_spec(spec: Option<&PersistentVolumeClaimSpec>) -> ErrorList {
    let mut errs = ErrorList::new();
    let default = PersistentVolumeClaimSpec::default();
    let spec = spec.unwrap_or(&default);
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    if modes.is_empty() {
        errs.push(FieldError::required(
            "spec.accessModes",
            "at least 1 access mode is required",
        ));
    }
    for m in modes {
        if !ACCESS_MODES.contains(&m.as_str()) {
            errs.push(FieldError::not_supported(
                "spec.accessModes",
                m.as_str(),
                ACCESS_MODES,
            ));
        }
    }
    if modes.iter().any(|m| m == "ReadWriteOncePod") && modes.len() > 1 {
        errs.push(FieldError::forbidden(
            "spec.accessModes",
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    let storage = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"));
    let path = "spec.resources[storage]";
    match storage {
        None => errs.push(FieldError::required(path, "")),
        Some(q) => match Quantity::parse(&q.0) {
            None => errs.push(FieldError::invalid(
                path,
                q.0.as_str(),
                "must be a valid quantity",
            )),
            Some(v) if v.is_negative() || v.value() == 0 => {
                errs.push(FieldError::invalid(
                    path,
                    q.0.as_str(),
                    "must be greater than zero",
                ));
            }
            Some(_) => {}
        },
    }
    if let Some(mode) = spec.volume_mode.as_deref()
        && !matches!(mode, "Block" | "Filesystem")
    {
        errs.push(FieldError::not_supported(
            "spec.volumeMode",
            mode,
            &["Block", "Filesystem"],
        ));
    }
    errs
}

/// Claim update: the spec is immutable except the storage request and binding the volume
/// name once.
pub fn validate_pvc_update(new: &PersistentVolumeClaim, old: &PersistentVolumeClaim) -> ErrorList {
    let mut errs = super::meta::validate_object_meta_update(&new.metadata, &old.metadata);
    errs.extend(validate_spec(new.spec.as_ref()));
    let strip = |s: Option<&PersistentVolumeClaimSpec>, bound_name: bool| {
        let mut s = s.cloned().unwrap_or_default();
        if let Some(r) = s.resources.as_mut() {
            r.requests = None;
        }
        if bound_name {
            s.volume_name = None;
        }
        s.volume_attributes_class_name = None;
        s
    };
    let old_unbound = old
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .is_none_or(str::is_empty);
    if strip(new.spec.as_ref(), old_unbound) != strip(old.spec.as_ref(), old_unbound) {
        errs.push(FieldError::forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pvc(spec: serde_json::Value) -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": "data", "namespace": "default", "resourceVersion": "1"}, "spec": spec}))
            .unwrap_or_default()
    }

    fn messages(errs: &ErrorList) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn create_rules() {
        assert_eq!(
            messages(&validate_pvc_create(&pvc(json!({})))),
            [
                "spec.accessModes: Required value: at least 1 access mode is required",
                "spec.resources[storage]: Required value",
            ]
        );
        let ok = pvc(
            json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}),
        );
        assert!(validate_pvc_create(&ok).is_empty());
        let bad = pvc(
            json!({"accessModes": ["ReadWriteSometimes"], "resources": {"requests": {"storage": "0"}}}),
        );
        assert_eq!(
            messages(&validate_pvc_create(&bad)),
            [
                "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                "spec.resources[storage]: Invalid value: \"0\": must be greater than zero",
            ]
        );
    }

    #[test]
    fn update_rules() {
        let old = pvc(
            json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}),
        );
        let mut new = old.clone();
        if let Some(s) = new.spec.as_mut() {
            s.volume_name = Some("pvc-1".into());
        }
        assert!(validate_pvc_update(&new, &old).is_empty());
        let mut changed = new.clone();
        if let Some(s) = changed.spec.as_mut() {
            s.access_modes = Some(vec!["ReadWriteMany".into()]);
        }
        assert_eq!(
            messages(&validate_pvc_update(&changed, &new)),
            [
                "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
            ]
        );
    }
}
