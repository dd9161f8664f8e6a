//! Defaulting of Jobs, CronJobs, Pods, pod templates and Namespaces, as the Kubernetes
//! v1.33 API server applies it (`pkg/apis/batch/v1/defaults.go`, `pkg/apis/core/v1/
//! defaults.go`), plus the create-time preparation of Jobs (`pkg/registry/batch/job/
//! strategy.go`) and the pod fields that the default admission plugins fill in.
//!
//! Choice where the docs disagree: `spec.manualSelector` IS defaulted to `false` (code:
//! `SetDefaults_Job`, since kubernetes PR #120206, v1.29), so `kubectl get job -o yaml`
//! shows `manualSelector: false`; kubectl-compat §12 says it stays unset, the code wins.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerResizePolicy, EmptyDirVolumeSource, Namespace, NamespaceSpec,
    NamespaceStatus, Pod, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, Toleration,
};

/// Label on the pod template and selector key: the Job's UID.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
/// Label on the pod template: the Job's name.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// Legacy unprefixed controller-uid label.
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
/// Legacy unprefixed job-name label.
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";

/// `SetObjectDefaults_Job`: the Job defaults, then the pod template's.
pub fn default_job(job: &mut Job) {
    let tmpl_labels = job
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone());
    if let Some(labels) = tmpl_labels
        && job.metadata.labels.as_ref().is_none_or(|l| l.is_empty())
    {
        job.metadata.labels = Some(labels);
    }
    let spec = job.spec.get_or_insert_with(Default::default);
    default_job_spec(spec);
}

/// `SetDefaults_Job` on a spec (also used for CronJob job templates), and its template.
fn default_job_spec(spec: &mut JobSpec) {
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
        spec.parallelism = Some(1);
    }
    spec.parallelism.get_or_insert(1);
    if spec.backoff_limit.is_none() {
        spec.backoff_limit = Some(if spec.backoff_limit_per_index.is_some() {
            i32::MAX
        } else {
            6
        });
    }
    spec.completion_mode
        .get_or_insert_with(|| "NonIndexed".to_string());
    spec.suspend.get_or_insert(false);
    if spec.pod_replacement_policy.is_none() {
        let p = if spec.pod_failure_policy.is_some() {
            "Failed"
        } else {
            "TerminatingOrFailed"
        };
        spec.pod_replacement_policy = Some(p.to_string());
    }
    spec.manual_selector.get_or_insert(false);
    if let Some(pfp) = spec.pod_failure_policy.as_mut() {
        for rule in &mut pfp.rules {
            for pat in rule.on_pod_conditions.iter_mut().flatten() {
                if pat.status.is_empty() {
                    pat.status = "True".to_string();
                }
            }
        }
    }
    default_pod_template(&mut spec.template);
}

/// `SetObjectDefaults_CronJob`: CronJob defaults; its job template gets the pod template
/// defaults only (the embedded JobSpec is not a Job, so `SetDefaults_Job` does not run:
/// parallelism, backoffLimit etc. are filled in when the controller creates the Job).
pub fn default_cronjob(cj: &mut CronJob) {
    let spec = cj.spec.get_or_insert_with(Default::default);
    spec.concurrency_policy
        .get_or_insert_with(|| "Allow".to_string());
    spec.suspend.get_or_insert(false);
    spec.successful_jobs_history_limit.get_or_insert(3);
    spec.failed_jobs_history_limit.get_or_insert(1);
    let jspec = spec.job_template.spec.get_or_insert_with(Default::default);
    for rule in jspec
        .pod_failure_policy
        .iter_mut()
        .flat_map(|p| p.rules.iter_mut())
    {
        for pat in rule.on_pod_conditions.iter_mut().flatten() {
            if pat.status.is_empty() {
                pat.status = "True".to_string();
            }
        }
    }
    default_pod_template(&mut jspec.template);
}

/// Defaults of a pod template (`SetDefaults_PodSpec`, containers, volumes, probes).
pub fn default_pod_template(t: &mut PodTemplateSpec) {
    default_pod_spec(t.spec.get_or_insert_with(Default::default));
}

/// `SetObjectDefaults_Pod` plus what the default admission plugins add to every new pod
/// (ServiceAccount: `serviceAccountName: default`; Priority: `priority: 0` and
/// `preemptionPolicy: PreemptLowerPriority`; DefaultTolerationSeconds: the not-ready and
/// unreachable tolerations for 300 s). The service-account token volume is not added.
pub fn default_pod(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(Default::default);
    default_pod_spec(spec);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        let res = c.resources.get_or_insert_with(Default::default);
        if let Some(limits) = res.limits.clone() {
            let req = res.requests.get_or_insert_with(BTreeMap::new);
            for (k, v) in limits {
                req.entry(k).or_insert(v);
            }
        }
        if res.limits.is_none() && res.requests.is_none() && res.claims.is_none() {
            c.resources = Some(Default::default());
        }
    }
    for c in &mut spec.containers {
        let Some(req) = c.resources.as_ref().and_then(|r| r.requests.as_ref()) else {
            continue;
        };
        let wanted: Vec<&str> = ["cpu", "memory"]
            .into_iter()
            .filter(|r| req.contains_key(*r))
            .collect();
        for r in wanted {
            let policies = c.resize_policy.get_or_insert_with(Vec::new);
            if !policies.iter().any(|p| p.resource_name == r) {
                policies.push(ContainerResizePolicy {
                    resource_name: r.to_string(),
                    restart_policy: "NotRequired".to_string(),
                });
            }
        }
    }
    spec.enable_service_links.get_or_insert(true);
    if spec.host_network == Some(true) {
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            for p in c.ports.iter_mut().flatten() {
                if p.host_port.unwrap_or(0) == 0 {
                    p.host_port = Some(p.container_port);
                }
            }
        }
    }
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        let sa = spec
            .service_account
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".to_string());
        spec.service_account_name = Some(sa);
    }
    spec.service_account.clone_from(&spec.service_account_name);
    if spec.priority_class_name.as_deref().unwrap_or("").is_empty() {
        spec.priority.get_or_insert(0);
    }
    spec.preemption_policy
        .get_or_insert_with(|| "PreemptLowerPriority".to_string());
    let tols = spec.tolerations.get_or_insert_with(Vec::new);
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let covered = tols.iter().any(|t| {
            let op = t.operator.as_deref().unwrap_or("Equal");
            let effect = t.effect.as_deref().unwrap_or("");
            (effect.is_empty() || effect == "NoExecute")
                && (t.key.as_deref() == Some(key) || (op == "Exists" && t.key.is_none()))
        });
        if !covered {
            tols.push(Toleration {
                key: Some(key.to_string()),
                operator: Some("Exists".to_string()),
                effect: Some("NoExecute".to_string()),
                toleration_seconds: Some(300),
                value: None,
            });
        }
    }
}

/// `SetDefaults_PodSpec` and the nested defaulters.
fn default_pod_spec(spec: &mut PodSpec) {
    if spec.dns_policy.as_deref().unwrap_or("").is_empty() {
        spec.dns_policy = Some("ClusterFirst".to_string());
    }
    if spec.restart_policy.as_deref().unwrap_or("").is_empty() {
        spec.restart_policy = Some("Always".to_string());
    }
    spec.security_context
        .get_or_insert_with(PodSecurityContext::default);
    spec.termination_grace_period_seconds.get_or_insert(30);
    if spec.scheduler_name.as_deref().unwrap_or("").is_empty() {
        spec.scheduler_name = Some("default-scheduler".to_string());
    }
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
        && let Some(sa) = spec.service_account.clone().filter(|s| !s.is_empty())
    {
        spec.service_account_name = Some(sa);
    }
    for vol in spec.volumes.iter_mut().flatten() {
        let only_name = serde_json::to_value(&*vol)
            .ok()
            .and_then(|v| v.as_object().map(|m| m.len() <= 1))
            .unwrap_or(false);
        if only_name {
            vol.empty_dir = Some(EmptyDirVolumeSource::default());
        }
        if let Some(h) = vol.host_path.as_mut() {
            h.type_.get_or_insert_with(String::new);
        }
        if let Some(s) = vol.secret.as_mut() {
            s.default_mode.get_or_insert(0o644);
        }
        if let Some(c) = vol.config_map.as_mut() {
            c.default_mode.get_or_insert(0o644);
        }
        if let Some(d) = vol.downward_api.as_mut() {
            d.default_mode.get_or_insert(0o644);
            for item in d.items.iter_mut().flatten() {
                if let Some(f) = item.field_ref.as_mut() {
                    f.api_version.get_or_insert_with(|| "v1".to_string());
                }
            }
        }
        if let Some(p) = vol.projected.as_mut() {
            p.default_mode.get_or_insert(0o644);
            for src in p.sources.iter_mut().flatten() {
                if let Some(t) = src.service_account_token.as_mut() {
                    t.expiration_seconds.get_or_insert(3600);
                }
            }
        }
    }
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        default_container(c);
    }
    for ec in spec.ephemeral_containers.iter_mut().flatten() {
        if ec.image_pull_policy.as_deref().unwrap_or("").is_empty() {
            ec.image_pull_policy = Some(pull_policy_for(ec.image.as_deref().unwrap_or("")));
        }
        ec.termination_message_path
            .get_or_insert_with(|| "/dev/termination-log".to_string());
        ec.termination_message_policy
            .get_or_insert_with(|| "File".to_string());
    }
}

/// `SetDefaults_Container` and its ports, env, probes and lifecycle handlers.
fn default_container(c: &mut Container) {
    if c.image_pull_policy.as_deref().unwrap_or("").is_empty() {
        c.image_pull_policy = Some(pull_policy_for(c.image.as_deref().unwrap_or("")));
    }
    if c.termination_message_path
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        c.termination_message_path = Some("/dev/termination-log".to_string());
    }
    if c.termination_message_policy
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        c.termination_message_policy = Some("File".to_string());
    }
    for p in c.ports.iter_mut().flatten() {
        if p.protocol.as_deref().unwrap_or("").is_empty() {
            p.protocol = Some("TCP".to_string());
        }
    }
    for e in c.env.iter_mut().flatten() {
        if let Some(f) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut())
            && f.api_version.as_deref().unwrap_or("").is_empty()
        {
            f.api_version = Some("v1".to_string());
        }
    }
    for p in [
        c.liveness_probe.as_mut(),
        c.readiness_probe.as_mut(),
        c.startup_probe.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        default_probe(p);
    }
    if let Some(l) = c.lifecycle.as_mut() {
        for h in [l.post_start.as_mut(), l.pre_stop.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(g) = h.http_get.as_mut() {
                default_http_get(g);
            }
        }
    }
}

fn default_probe(p: &mut Probe) {
    for (v, d) in [
        (&mut p.timeout_seconds, 1),
        (&mut p.period_seconds, 10),
        (&mut p.success_threshold, 1),
        (&mut p.failure_threshold, 3),
    ] {
        if v.unwrap_or(0) == 0 {
            *v = Some(d);
        }
    }
    if let Some(g) = p.http_get.as_mut() {
        default_http_get(g);
    }
}

fn default_http_get(g: &mut k8s_openapi::api::core::v1::HTTPGetAction) {
    if g.path.as_deref().unwrap_or("").is_empty() {
        g.path = Some("/".to_string());
    }
    if g.scheme.as_deref().unwrap_or("").is_empty() {
        g.scheme = Some("HTTP".to_string());
    }
}

/// `Always` for a `:latest` or untagged image, otherwise `IfNotPresent` (a digest without
/// a tag counts as tagged, as `parseImageName` reports no tag for it).
pub fn pull_policy_for(image: &str) -> String {
    let without_digest = image.split('@').next().unwrap_or("");
    let has_digest = image.contains('@');
    let last = without_digest.rsplit('/').next().unwrap_or("");
    let tag = last.split_once(':').map(|(_, t)| t);
    let always = match tag {
        Some(t) => t == "latest",
        None => !has_digest,
    };
    if always { "Always" } else { "IfNotPresent" }.to_string()
}

/// Job `PrepareForCreate`: clears status and, unless `manualSelector` is true, generates the
/// selector and the template labels (`batch.kubernetes.io/job-name`, `job-name`,
/// `batch.kubernetes.io/controller-uid`, `controller-uid`; existing keys are kept so that a
/// conflict is reported by validation). Name generation and `generation` are the API
/// server's. Like the real server (whose Job labels alias the template's label map when
/// defaulting copied them, and which re-defaults on read), the Job's own labels become the
/// template labels when they were empty or copied from the template.
pub fn prepare_job_for_create(job: &mut Job, uid: &str) {
    job.status = None;
    job.metadata.uid = Some(uid.to_string());
    let name = job.metadata.name.clone().unwrap_or_default();
    let spec = job.spec.get_or_insert_with(Default::default);
    if spec.manual_selector == Some(true) {
        return;
    }
    let tmeta = spec.template.metadata.get_or_insert_with(Default::default);
    let before = tmeta.labels.clone();
    let labels = tmeta.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in [
        (LEGACY_JOB_NAME_LABEL, &name),
        (JOB_NAME_LABEL, &name),
        (LEGACY_CONTROLLER_UID_LABEL, &uid.to_string()),
        (CONTROLLER_UID_LABEL, &uid.to_string()),
    ] {
        labels.entry(k.to_string()).or_insert_with(|| v.clone());
    }
    let labels = labels.clone();
    let sel = spec.selector.get_or_insert_with(Default::default);
    sel.match_labels
        .get_or_insert_with(BTreeMap::new)
        .entry(CONTROLLER_UID_LABEL.to_string())
        .or_insert_with(|| uid.to_string());
    let job_labels = job.metadata.labels.as_ref();
    let aliased = before.is_some() && job_labels == before.as_ref();
    let empty = job_labels.is_none_or(|l| l.is_empty());
    let all_valid = labels
        .values()
        .all(|v| crate::validation::names::is_valid_label_value(v).is_empty());
    if aliased || (empty && all_valid) {
        job.metadata.labels = Some(labels);
    }
}

/// Namespace defaults and `PrepareForCreate`: the `kubernetes.io/metadata.name` label, the
/// `kubernetes` finalizer and phase `Active`.
pub fn default_namespace(ns: &mut Namespace) {
    if let Some(name) = ns.metadata.name.clone().filter(|n| !n.is_empty()) {
        ns.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert("kubernetes.io/metadata.name".to_string(), name);
    }
    let spec = ns.spec.get_or_insert_with(NamespaceSpec::default);
    let fins = spec.finalizers.get_or_insert_with(Vec::new);
    if !fins.iter().any(|f| f == "kubernetes") {
        fins.push("kubernetes".to_string());
    }
    let status = ns.status.get_or_insert_with(NamespaceStatus::default);
    if status.phase.as_deref().unwrap_or("").is_empty() {
        status.phase = Some("Active".to_string());
    }
}

/// `SetDefaults_PersistentVolumeClaim` and `SetDefaults_PersistentVolumeClaimSpec`: volume
/// mode `Filesystem`, phase `Pending`.
pub fn default_pvc(pvc: &mut k8s_openapi::api::core::v1::PersistentVolumeClaim) {
    let spec = pvc.spec.get_or_insert_with(Default::default);
    spec.volume_mode
        .get_or_insert_with(|| "Filesystem".to_string());
    let status = pvc.status.get_or_insert_with(Default::default);
    if status.phase.as_deref().unwrap_or("").is_empty() {
        status.phase = Some("Pending".to_string());
    }
}

/// The Lease strategy's `PrepareForCreate` and `PrepareForUpdate` (`old` given): with the
/// `CoordinatedLeaderElection` feature gate off, as in v1.33 by default, `spec.strategy` and
/// `spec.preferredHolder` are dropped unless the stored Lease already has them. The spec is a
/// Go struct, never absent: an empty one is `{}`.
pub fn prepare_lease(
    lease: &mut k8s_openapi::api::coordination::v1::Lease,
    old: Option<&k8s_openapi::api::coordination::v1::Lease>,
) {
    let old = old.and_then(|o| o.spec.as_ref());
    let spec = lease.spec.get_or_insert_with(Default::default);
    if old.is_none_or(|o| o.strategy.is_none()) {
        spec.strategy = None;
    }
    if old.is_none_or(|o| o.preferred_holder.is_none()) {
        spec.preferred_holder = None;
    }
}

#[cfg(test)]
mod lease_tests {
    use super::prepare_lease;
    use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};

    fn lease(strategy: Option<&str>, holder: Option<&str>) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some("vm".into()),
                strategy: strategy.map(Into::into),
                preferred_holder: holder.map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn gated_fields_are_dropped_unless_already_stored() {
        // (new, old, expected after prepare)
        let cases = [
            (lease(Some("s"), Some("h")), None, lease(None, None)),
            (
                lease(Some("s"), Some("h")),
                Some(lease(None, None)),
                lease(None, None),
            ),
            (
                lease(Some("s2"), Some("h2")),
                Some(lease(Some("s"), None)),
                lease(Some("s2"), None),
            ),
            (
                lease(Some("s"), Some("h2")),
                Some(lease(Some("s"), Some("h"))),
                lease(Some("s"), Some("h2")),
            ),
        ];
        for (mut new, old, want) in cases {
            prepare_lease(&mut new, old.as_ref());
            assert_eq!(new, want);
        }
        let mut empty = Lease::default();
        prepare_lease(&mut empty, None);
        assert_eq!(empty.spec, Some(LeaseSpec::default()));
    }
}
