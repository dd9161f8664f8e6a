//! Pod-level rules of core validation (v1.33): `ValidatePodSpec` in the real order,
//! `ValidatePodTemplateSpec`, `ValidatePodCreate` and `ValidatePodUpdate` (what a pod update
//! may change).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodTemplateSpec, Toleration};
use serde_json::Value;

use super::container::{dns1123_label, label_key, validate_container_common};
use super::field::{ErrorList, FieldError, go_quote, value_or_default};
use super::meta::{
    NameRule, validate_annotations, validate_labels, validate_object_meta,
    validate_object_meta_update,
};
use super::names;
use super::resources::validate_probe;
use super::volume::validate_volumes;

const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// `ValidatePodTemplateSpec`: labels and annotations (under `<path>.labels`, as the real
/// validator reports them), then the pod spec under `<path>.spec`.
pub fn validate_pod_template(t: &PodTemplateSpec, path: &str) -> ErrorList {
    let meta = value_or_default(&t.metadata);
    let mut errs = validate_labels(meta.labels.as_ref(), &format!("{path}.labels"));
    errs.extend(validate_annotations(
        meta.annotations.as_ref(),
        &format!("{path}.annotations"),
    ));
    let spec = value_or_default(&t.spec);
    errs.extend(validate_pod_spec(&spec, None, &format!("{path}.spec")));
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(FieldError::forbidden(
            format!("{path}.spec.ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// `ValidatePodSpec`.
pub fn validate_pod_spec(spec: &PodSpec, pod_name: Option<&str>, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    if spec.termination_grace_period_seconds.is_none() {
        errs.push(FieldError::required(
            format!("{path}.terminationGracePeriodSeconds"),
            "",
        ));
    }
    let (vols, verrs) = validate_volumes(
        spec.volumes.as_deref().unwrap_or_default(),
        &format!("{path}.volumes"),
    );
    errs.extend(verrs);
    let _ = pod_name;
    let restart = spec.restart_policy.as_deref().unwrap_or("");
    errs.extend(validate_containers(&spec.containers, &vols, restart, path));
    errs.extend(validate_init_containers(spec, &vols, restart, path));
    if spec.host_network == Some(true) {
        for (i, c) in spec.containers.iter().enumerate() {
            for (j, p) in c.ports.iter().flatten().enumerate() {
                let hp = p.host_port.unwrap_or(0);
                if hp != 0 && hp != p.container_port {
                    errs.push(FieldError::invalid(
                        format!("{path}.containers[{i}].ports[{j}].hostPort"),
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    errs.extend(enum_field(
        restart,
        &format!("{path}.restartPolicy"),
        &["Always", "OnFailure", "Never"],
    ));
    let dns = spec.dns_policy.as_deref().unwrap_or("");
    errs.extend(enum_field(
        dns,
        &format!("{path}.dnsPolicy"),
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    ));
    errs.extend(validate_labels(
        spec.node_selector.as_ref(),
        &format!("{path}.nodeSelector"),
    ));
    if let Some(sc) = &spec.security_context {
        let sp = format!("{path}.securityContext");
        for (v, f) in [
            (sc.fs_group, "fsGroup"),
            (sc.run_as_user, "runAsUser"),
            (sc.run_as_group, "runAsGroup"),
        ] {
            if let Some(v) = v {
                for m in names::is_valid_id(v) {
                    errs.push(FieldError::invalid(format!("{sp}.{f}"), v, &m));
                }
            }
        }
        for (i, g) in sc.supplemental_groups.iter().flatten().enumerate() {
            for m in names::is_valid_id(*g) {
                errs.push(FieldError::invalid(
                    format!("{sp}.supplementalGroups[{i}]"),
                    *g,
                    &m,
                ));
            }
        }
    }
    if dns == "None" {
        let cfg = spec.dns_config.as_ref();
        if cfg.is_none() {
            errs.push(FieldError::required(
                format!("{path}.dnsConfig"),
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
        } else if cfg.is_some_and(|c| c.nameservers.as_deref().unwrap_or_default().is_empty()) {
            errs.push(FieldError::required(
                format!("{path}.dnsConfig.nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            ));
        }
    }
    for (i, g) in spec.readiness_gates.iter().flatten().enumerate() {
        errs.extend(qualified(
            &g.condition_type,
            &format!("{path}.readinessGates[{i}].conditionType"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, g) in spec.scheduling_gates.iter().flatten().enumerate() {
        let p = format!("{path}.schedulingGates[{i}]");
        errs.extend(qualified(&g.name, &p));
        if !seen.insert(g.name.clone()) {
            errs.push(FieldError::duplicate(p, g.name.as_str()));
        }
    }
    for (v, f) in [
        (&spec.service_account_name, "serviceAccountName"),
        (&spec.node_name, "nodeName"),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            for m in names::is_dns1123_subdomain(v) {
                errs.push(FieldError::invalid(format!("{path}.{f}"), v, &m));
            }
        }
    }
    if let Some(ads) = spec.active_deadline_seconds
        && !(1..=i64::from(i32::MAX)).contains(&ads)
    {
        errs.push(FieldError::invalid(
            format!("{path}.activeDeadlineSeconds"),
            ads,
            &names::inclusive_range_error(1, i64::from(i32::MAX)),
        ));
    }
    for (v, f) in [(&spec.hostname, "hostname"), (&spec.subdomain, "subdomain")] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            errs.extend(dns1123_label(v, &format!("{path}.{f}")));
        }
    }
    errs.extend(validate_tolerations(
        spec.tolerations.as_deref().unwrap_or_default(),
        &format!("{path}.tolerations"),
    ));
    for (v, f) in [
        (&spec.priority_class_name, "priorityClassName"),
        (&spec.runtime_class_name, "runtimeClassName"),
    ] {
        if let Some(v) = v
            .as_deref()
            .filter(|v| !v.is_empty() || f == "runtimeClassName")
        {
            for m in names::is_dns1123_subdomain(v) {
                errs.push(FieldError::invalid(format!("{path}.{f}"), v, &m));
            }
        }
    }
    if let Some(pp) = spec.preemption_policy.as_deref() {
        errs.extend(enum_field(
            pp,
            &format!("{path}.preemptionPolicy"),
            &["PreemptLowerPriority", "Never"],
        ));
    }
    errs
}

fn qualified(v: &str, path: &str) -> ErrorList {
    names::is_qualified_name(v)
        .into_iter()
        .map(|m| FieldError::invalid(path, v, &m))
        .collect()
}

/// An enumerated string: empty is Required, unknown is NotSupported (values as listed).
fn enum_field(v: &str, path: &str, valid: &[&str]) -> ErrorList {
    if v.is_empty() {
        vec![FieldError::required(path, "")]
    } else if valid.contains(&v) {
        Vec::new()
    } else {
        vec![FieldError::not_supported(path, v, valid)]
    }
}

fn validate_containers(
    containers: &[Container],
    vols: &BTreeSet<String>,
    restart: &str,
    spec_path: &str,
) -> ErrorList {
    let path = format!("{spec_path}.containers");
    if containers.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errs = ErrorList::new();
    let mut names_seen = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = format!("{path}[{i}]");
        errs.extend(validate_container_common(c, vols, restart, &p));
        if !names_seen.insert(c.name.clone()) {
            errs.push(FieldError::duplicate(format!("{p}.name"), c.name.as_str()));
        }
        for (probe, kind, f) in [
            (&c.liveness_probe, "liveness", "livenessProbe"),
            (&c.readiness_probe, "readiness", "readinessProbe"),
            (&c.startup_probe, "startup", "startupProbe"),
        ] {
            if let Some(pr) = probe {
                errs.extend(validate_probe(pr, kind, &format!("{p}.{f}")));
            }
        }
        if c.restart_policy.is_some() {
            errs.push(FieldError::forbidden(
                format!("{p}.restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(host_port_conflicts(containers, &path));
    errs
}

fn validate_init_containers(
    spec: &PodSpec,
    vols: &BTreeSet<String>,
    restart: &str,
    spec_path: &str,
) -> ErrorList {
    let path = format!("{spec_path}.initContainers");
    let mut errs = ErrorList::new();
    let mut all: BTreeSet<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let p = format!("{path}[{i}]");
        errs.extend(validate_container_common(c, vols, restart, &p));
        let always = c.restart_policy.as_deref() == Some("Always");
        if let Some(rp) = c.restart_policy.as_deref().filter(|rp| *rp != "Always") {
            errs.push(FieldError::not_supported(
                format!("{p}.restartPolicy"),
                rp,
                &["Always"],
            ));
        }
        if all.contains(&c.name) {
            errs.push(FieldError::duplicate(format!("{p}.name"), c.name.as_str()));
        } else if !c.name.is_empty() {
            all.insert(c.name.clone());
        }
        errs.extend(host_port_conflicts(std::slice::from_ref(c), &path));
        let probes = [
            (c.lifecycle.is_some(), "lifecycle", None),
            (
                c.liveness_probe.is_some(),
                "livenessProbe",
                c.liveness_probe.as_ref().map(|p| (p, "liveness")),
            ),
            (
                c.readiness_probe.is_some(),
                "readinessProbe",
                c.readiness_probe.as_ref().map(|p| (p, "readiness")),
            ),
            (
                c.startup_probe.is_some(),
                "startupProbe",
                c.startup_probe.as_ref().map(|p| (p, "startup")),
            ),
        ];
        for (present, f, probe) in probes {
            match (present, always, probe) {
                (true, false, _) => errs.push(FieldError::forbidden(
                    format!("{p}.{f}"),
                    "may not be set for init containers without restartPolicy=Always",
                )),
                (true, true, Some((pr, kind))) => {
                    errs.extend(validate_probe(pr, kind, &format!("{p}.{f}")));
                }
                _ => {}
            }
        }
        if c.resize_policy.as_ref().is_some_and(|r| !r.is_empty()) {
            errs.push(FieldError::invalid_go(
                format!("{p}.resizePolicy"),
                "[]core.ContainerResizePolicy{...}".to_string(),
                "must not be set for init containers",
            ));
        }
    }
    errs
}

/// `checkHostPortConflicts`.
fn host_port_conflicts(containers: &[Container], path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut seen = BTreeSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, p) in c.ports.iter().flatten().enumerate() {
            let hp = p.host_port.unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{hp}",
                p.protocol.as_deref().unwrap_or(""),
                p.host_ip.as_deref().unwrap_or("")
            );
            if !seen.insert(key.clone()) {
                errs.push(FieldError::duplicate(
                    format!("{path}[{ci}].ports[{pi}].hostPort"),
                    key,
                ));
            }
        }
    }
    errs
}

/// `ValidateTolerations`.
fn validate_tolerations(tols: &[Toleration], path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, t) in tols.iter().enumerate() {
        let idx = format!("{path}[{i}]");
        let key = t.key.as_deref().unwrap_or("");
        let op = t.operator.as_deref().unwrap_or("");
        let effect = t.effect.as_deref().unwrap_or("");
        let value = t.value.as_deref().unwrap_or("");
        if !key.is_empty() {
            errs.extend(label_key(key, &format!("{idx}.key")));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                format!("{idx}.operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                format!("{idx}.effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "Equal" | "" => {
                let msgs = names::is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        format!("{idx}.operator"),
                        value,
                        &msgs.join(";"),
                    ));
                }
            }
            "Exists" if !value.is_empty() => errs.push(FieldError::invalid_go(
                format!("{idx}.operator"),
                go_toleration(t),
                "value must be empty when `operator` is 'Exists'",
            )),
            "Exists" => {}
            other => errs.push(FieldError::not_supported(
                format!("{idx}.operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect)
        {
            errs.push(FieldError::not_supported(
                format!("{idx}.effect"),
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
    errs
}

fn go_toleration(t: &Toleration) -> String {
    let s = |v: &Option<String>| go_quote(v.as_deref().unwrap_or(""));
    let secs = match t.toleration_seconds {
        Some(_) => "(*int64)(0xc000000000)".to_string(),
        None => "(*int64)(nil)".to_string(),
    };
    format!(
        "core.Toleration{{Key:{}, Operator:{}, Value:{}, Effect:{}, TolerationSeconds:{secs}}}",
        s(&t.key),
        s(&t.operator),
        s(&t.value),
        s(&t.effect)
    )
}

/// `validatePodMetadataAndSpec`.
fn pod_metadata_and_spec(pod: &Pod) -> ErrorList {
    let mut errs = validate_object_meta(&pod.metadata, true, NameRule::Subdomain);
    let spec = value_or_default(&pod.spec);
    errs.extend(validate_pod_spec(
        &spec,
        pod.metadata.name.as_deref(),
        "spec",
    ));
    for (list, f) in [
        (Some(&spec.containers), "containers"),
        (spec.init_containers.as_ref(), "initContainers"),
    ] {
        for (i, c) in list.into_iter().flatten().enumerate() {
            let image = c.image.as_deref().unwrap_or("");
            if image.len() != image.trim().len() {
                errs.push(FieldError::invalid(
                    format!("spec.{f}[{i}].image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    errs
}

/// `ValidatePodCreate`.
pub fn validate_pod_create(pod: &Pod) -> ErrorList {
    let mut errs = pod_metadata_and_spec(pod);
    let spec = value_or_default(&pod.spec);
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(FieldError::forbidden(
            "spec.ephemeralContainers",
            "cannot be set on create",
        ));
    }
    if !spec.node_name.as_deref().unwrap_or("").is_empty()
        && spec
            .scheduling_gates
            .as_ref()
            .is_some_and(|g| !g.is_empty())
    {
        errs.push(FieldError::forbidden(
            "spec.nodeName",
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errs
}

/// `ValidatePodUpdate`: only images, `activeDeadlineSeconds` (set or lowered), added
/// tolerations, removed scheduling gates and a negative grace period raised to 1 may change.
pub fn validate_pod_update(new: &Pod, old: &Pod) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata);
    errs.extend(pod_metadata_and_spec(new));
    let ns = value_or_default(&new.spec);
    let os = value_or_default(&old.spec);
    for (n, o, f) in [
        (
            ns.containers.as_slice(),
            os.containers.as_slice(),
            "containers",
        ),
        (
            ns.init_containers.as_deref().unwrap_or_default(),
            os.init_containers.as_deref().unwrap_or_default(),
            "initContainers",
        ),
    ] {
        if n.len() != o.len() {
            errs.push(FieldError::forbidden(
                format!("spec.{f}"),
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in n.iter().enumerate() {
            let image = c.image.as_deref().unwrap_or("");
            if image.is_empty() {
                errs.push(FieldError::required(format!("spec.{f}[{i}].image"), ""));
            }
            if image.trim().len() != image.len() {
                errs.push(FieldError::invalid(
                    format!("spec.{f}[{i}].image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    match (ns.active_deadline_seconds, os.active_deadline_seconds) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            errs.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                n,
                &names::inclusive_range_error(0, i64::from(i32::MAX)),
            ));
            return errs;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                n,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            Value::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    errs.extend(only_added_tolerations(&ns, &os));
    let old_gates: BTreeSet<&String> = os
        .scheduling_gates
        .iter()
        .flatten()
        .map(|g| &g.name)
        .collect();
    for (i, g) in ns.scheduling_gates.iter().flatten().enumerate() {
        if !old_gates.contains(&g.name) {
            errs.push(FieldError::forbidden(
                format!("spec.schedulingGates[{i}].name"),
                &format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    g.name
                ),
            ));
        }
    }
    let mut munged = ns.clone().into_owned();
    for (m, o) in munged.containers.iter_mut().zip(&os.containers) {
        m.image.clone_from(&o.image);
    }
    if let (Some(m), Some(o)) = (munged.init_containers.as_mut(), os.init_containers.as_ref()) {
        for (m, o) in m.iter_mut().zip(o) {
            m.image.clone_from(&o.image);
        }
    }
    munged.active_deadline_seconds = os.active_deadline_seconds;
    munged.scheduling_gates.clone_from(&os.scheduling_gates);
    munged.tolerations.clone_from(&os.tolerations);
    if os.termination_grace_period_seconds.is_some_and(|g| g < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = os.termination_grace_period_seconds;
    }
    if munged != *os {
        errs.push(FieldError::forbidden(
            "spec",
            &format!(
                "pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{}",
                spec_diff(&os, &munged)
            ),
        ));
    }
    errs
}

fn only_added_tolerations(ns: &PodSpec, os: &PodSpec) -> ErrorList {
    let new = ns.tolerations.as_deref().unwrap_or_default();
    for old in os.tolerations.iter().flatten() {
        let found = new.iter().any(|n| {
            let mut o = old.clone();
            o.toleration_seconds = n.toleration_seconds;
            &o == n
        });
        if !found {
            return vec![FieldError::forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            )];
        }
    }
    validate_tolerations(new, "spec.tolerations")
}

/// A compact diff of the top-level pod spec fields that differ, in the spirit of the
/// `cmp.Diff` text the real server appends (whose exact spacing is randomized by go-cmp).
fn spec_diff(old: &PodSpec, new: &PodSpec) -> String {
    let o = serde_json::to_value(old).unwrap_or(Value::Null);
    let n = serde_json::to_value(new).unwrap_or(Value::Null);
    let mut out = String::from("  core.PodSpec{\n");
    let keys: BTreeSet<&String> = o
        .as_object()
        .into_iter()
        .chain(n.as_object())
        .flat_map(|m| m.keys())
        .collect();
    for k in keys {
        let (a, b) = (o.get(k), n.get(k));
        if a != b {
            let go = go_field_name(k);
            out.push_str(&format!(
                "- \t{go}: {},\n",
                a.map_or("nil".into(), |v| v.to_string())
            ));
            out.push_str(&format!(
                "+ \t{go}: {},\n",
                b.map_or("nil".into(), |v| v.to_string())
            ));
        }
    }
    out.push_str("  }\n");
    out
}

fn go_field_name(json: &str) -> String {
    let mut c = json.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
