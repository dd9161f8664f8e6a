//! coordination.k8s.io/v1 Lease rules (v1.33 `ValidateLease`, `ValidateLeaseUpdate`,
//! `ValidateLeaseSpec` and `ValidateCoordinatedLeaseStrategy`).

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};

use super::field::{ErrorList, FieldError};
use super::meta::{NameRule, validate_object_meta, validate_object_meta_update};
use super::names;

/// The strategies Kubernetes defines (`validLeaseStrategies`).
const STRATEGIES: &[&str] = &["OldestEmulationVersion"];

/// `ValidateLease`: metadata (DNS subdomain name, namespaced) and the spec.
pub fn validate_lease_create(lease: &Lease) -> ErrorList {
    let mut errs = validate_object_meta(&lease.metadata, true, NameRule::Subdomain);
    errs.extend(validate_spec(lease.spec.as_ref()));
    errs
}

/// `ValidateLeaseUpdate`: the metadata update rules and the spec; every spec field may change.
pub fn validate_lease_update(new: &Lease, old: &Lease) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata);
    errs.extend(validate_spec(new.spec.as_ref()));
    errs
}

/// `ValidateLeaseSpec`.
fn validate_spec(spec: Option<&LeaseSpec>) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(spec) = spec else {
        return errs;
    };
    if let Some(d) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
        errs.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            d,
            "must be greater than 0",
        ));
    }
    if let Some(t) = spec.lease_transitions.filter(|t| *t < 0) {
        errs.push(FieldError::invalid(
            "spec.leaseTransitions",
            t,
            "must be greater than or equal to 0",
        ));
    }
    if let Some(strategy) = &spec.strategy {
        // Upstream passes `spec.strategy` as the parent path and adds `strategy` again.
        errs.extend(validate_strategy(strategy, "spec.strategy.strategy"));
    }
    let holder = spec
        .preferred_holder
        .as_deref()
        .is_some_and(|h| !h.is_empty());
    if holder && spec.strategy.as_deref().is_none_or(str::is_empty) {
        errs.push(FieldError::forbidden(
            "spec.preferredHolder",
            "may only be specified if `strategy` is defined",
        ));
    }
    errs
}

/// `ValidateCoordinatedLeaseStrategy`: a Kubernetes-defined name, or a qualified name with a
/// prefix.
fn validate_strategy(strategy: &str, path: &str) -> ErrorList {
    if strategy.split('/').count() == 1 {
        if STRATEGIES.contains(&strategy) {
            return ErrorList::new();
        }
        return vec![FieldError::not_supported(path, strategy, STRATEGIES)];
    }
    names::is_qualified_name(strategy)
        .iter()
        .map(|msg| FieldError::invalid(path, strategy, msg))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lease(spec: serde_json::Value) -> Lease {
        serde_json::from_value(
            json!({"metadata": {"name": "vm", "namespace": "kube-node-lease",
            "resourceVersion": "1"}, "spec": spec}),
        )
        .unwrap_or_default()
    }

    fn messages(errs: &ErrorList) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn spec_rules() {
        let cases: &[(serde_json::Value, &[&str])] = &[
            (json!({}), &[]),
            (
                json!({"holderIdentity": "vm", "leaseDurationSeconds": 40, "leaseTransitions": 0,
                       "renewTime": "2025-06-01T12:00:00.000000Z"}),
                &[],
            ),
            (
                json!({"leaseDurationSeconds": 0}),
                &["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"],
            ),
            (
                json!({"leaseDurationSeconds": -5, "leaseTransitions": -1}),
                &[
                    "spec.leaseDurationSeconds: Invalid value: -5: must be greater than 0",
                    "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
                ],
            ),
            (
                json!({"strategy": "OldestEmulationVersion", "preferredHolder": "a"}),
                &[],
            ),
            (json!({"strategy": "example.com/mine"}), &[]),
            (
                json!({"strategy": "Newest"}),
                &[
                    "spec.strategy.strategy: Unsupported value: \"Newest\": supported values: \"OldestEmulationVersion\"",
                ],
            ),
            (
                json!({"preferredHolder": "a"}),
                &[
                    "spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined",
                ],
            ),
            (json!({"preferredHolder": ""}), &[]),
        ];
        for (spec, want) in cases {
            assert_eq!(
                messages(&validate_lease_create(&lease(spec.clone()))),
                *want,
                "{spec}"
            );
        }
    }

    #[test]
    fn name_and_update() {
        let mut bad = lease(json!({}));
        bad.metadata.name = Some("Not_A_Name".into());
        assert_eq!(
            messages(&validate_lease_create(&bad)),
            [
                "metadata.name: Invalid value: \"Not_A_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ]
        );
        let old = lease(json!({"holderIdentity": "a", "leaseDurationSeconds": 40}));
        let new = lease(json!({"holderIdentity": "b", "leaseDurationSeconds": 15}));
        assert!(validate_lease_update(&new, &old).is_empty());
        let zero = lease(json!({"leaseDurationSeconds": 0}));
        assert_eq!(
            messages(&validate_lease_update(&zero, &old)),
            ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
        );
    }
}
