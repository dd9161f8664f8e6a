//! batch/v1 Job rules (`pkg/apis/batch/validation`, v1.33): the generated selector, the
//! JobSpec (counts, Indexed mode, podFailurePolicy, successPolicy, podReplacementPolicy,
//! restartPolicy), the update immutability rules and the status transition rules.

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobSpec, JobStatus};
use serde_json::Value;

use super::field::{ErrorList, FieldError, go_quote, go_slice, go_string_map, value_or_default};
use super::meta::{
    NameRule, go_label_selector, go_time, validate_has_label, validate_label_selector,
    validate_object_meta, validate_object_meta_update,
};
use super::names;
use super::pod::validate_pod_template;
use crate::selector::LabelSelector as Selector;

const MAX_PARALLELISM_INDEXED: i32 = 100_000;
const MAX_FAILED_INDEXES: i32 = 100_000;
const COMPLETIONS_SOFT_LIMIT: i32 = 100_000;
const PARALLELISM_LIMIT_HIGH_COMPLETIONS: i32 = 10_000;
const MAX_FAILED_INDEXES_HIGH_COMPLETIONS: i32 = 10_000;
const MAX_MANAGED_BY_LEN: usize = 63;
const NON_NEGATIVE: &str = "must be greater than or equal to 0";

fn non_negative(v: Option<i64>, path: &str, errs: &mut ErrorList) {
    if let Some(v) = v.filter(|v| *v < 0) {
        errs.push(FieldError::invalid(path, v, NON_NEGATIVE));
    }
}

/// `ValidateJob` (create): metadata, generated selector, spec, Indexed hostname rule.
pub fn validate_job_create(job: &Job) -> ErrorList {
    let mut errs = validate_object_meta(&job.metadata, true, NameRule::Subdomain);
    let spec = value_or_default(&job.spec);
    errs.extend(validate_generated_selector(job, &spec, true));
    errs.extend(validate_job_spec_with_selector(&spec, "spec"));
    let completions = spec.completions.unwrap_or(0);
    if spec.completion_mode.as_deref() == Some("Indexed") && completions > 0 {
        let name = job.metadata.name.as_deref().unwrap_or("");
        let host = format!("{name}-{}", i64::from(completions) - 1);
        if !names::is_dns1123_label(&host).is_empty() {
            errs.push(FieldError::invalid(
                "metadata.name",
                name,
                &format!("will not able to create pod with invalid DNS label: {host}"),
            ));
        }
    }
    errs
}

/// `validateGeneratedSelector`.
fn validate_generated_selector(job: &Job, spec: &JobSpec, prefixed: bool) -> ErrorList {
    let mut errs = ErrorList::new();
    if spec.manual_selector == Some(true) {
        return errs;
    }
    let Some(sel) = &spec.selector else {
        return errs;
    };
    let uid = job.metadata.uid.as_deref().unwrap_or("");
    let name = job.metadata.name.as_deref().unwrap_or("");
    if uid.is_empty() {
        errs.push(FieldError::required("metadata.uid", ""));
    }
    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref());
    let tp = "spec.template.metadata";
    errs.extend(validate_has_label(labels, tp, "controller-uid", uid));
    errs.extend(validate_has_label(labels, tp, "job-name", name));
    let mut expected = std::collections::BTreeMap::new();
    if prefixed {
        errs.extend(validate_has_label(
            labels,
            tp,
            "batch.kubernetes.io/controller-uid",
            uid,
        ));
        errs.extend(validate_has_label(
            labels,
            tp,
            "batch.kubernetes.io/job-name",
            name,
        ));
        expected.insert(
            "batch.kubernetes.io/controller-uid".to_string(),
            uid.to_string(),
        );
        expected.insert("batch.kubernetes.io/job-name".to_string(), name.to_string());
    }
    expected.insert("controller-uid".to_string(), uid.to_string());
    expected.insert("job-name".to_string(), name.to_string());
    if let Ok(s) = Selector::from_label_selector(sel)
        && !s.matches(&expected)
    {
        errs.push(FieldError::invalid_go(
            "spec.selector",
            go_label_selector(sel),
            "`selector` not auto-generated",
        ));
    }
    errs
}

/// `ValidateJobSpec`: the spec rules, then the selector must exist and match the template.
fn validate_job_spec_with_selector(spec: &JobSpec, path: &str) -> ErrorList {
    let mut errs = validate_job_spec(spec, path);
    match &spec.selector {
        None => errs.push(FieldError::required(format!("{path}.selector"), "")),
        Some(sel) => errs.extend(validate_label_selector(sel, &format!("{path}.selector"))),
    }
    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref());
    let matches = match &spec.selector {
        // LabelSelectorAsSelector(nil) is labels.Nothing(): it matches no labels.
        None => Some(false),
        Some(sel) => Selector::from_label_selector(sel)
            .ok()
            .map(|s| s.matches(labels.unwrap_or(&Default::default()))),
    };
    if matches == Some(false) {
        errs.push(FieldError::invalid_go(
            format!("{path}.template.metadata.labels"),
            go_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
    errs
}

/// `validateJobSpec`: shared by Jobs and CronJob job templates.
pub fn validate_job_spec(spec: &JobSpec, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let p = |f: &str| format!("{path}.{f}");
    non_negative(
        spec.parallelism.map(i64::from),
        &p("parallelism"),
        &mut errs,
    );
    non_negative(
        spec.completions.map(i64::from),
        &p("completions"),
        &mut errs,
    );
    non_negative(
        spec.active_deadline_seconds,
        &p("activeDeadlineSeconds"),
        &mut errs,
    );
    non_negative(
        spec.backoff_limit.map(i64::from),
        &p("backoffLimit"),
        &mut errs,
    );
    non_negative(
        spec.ttl_seconds_after_finished.map(i64::from),
        &p("ttlSecondsAfterFinished"),
        &mut errs,
    );
    non_negative(
        spec.backoff_limit_per_index.map(i64::from),
        &p("backoffLimitPerIndex"),
        &mut errs,
    );
    if let Some(mfi) = spec.max_failed_indexes {
        non_negative(Some(i64::from(mfi)), &p("maxFailedIndexes"), &mut errs);
        if spec.backoff_limit_per_index.is_none() {
            errs.push(FieldError::required(
                p("backoffLimitPerIndex"),
                "when maxFailedIndexes is specified",
            ));
        }
    }
    if let Some(mb) = &spec.managed_by {
        errs.extend(domain_prefixed_path(mb, &p("managedBy")));
        if mb.len() > MAX_MANAGED_BY_LEN {
            errs.push(FieldError::too_long(
                p("managedBy"),
                "",
                MAX_MANAGED_BY_LEN as i64,
            ));
        }
    }
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    if let Some(mode) = spec.completion_mode.as_deref() {
        if mode != "NonIndexed" && mode != "Indexed" {
            errs.push(FieldError::not_supported(
                p("completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
        if indexed {
            errs.extend(indexed_rules(spec, path));
        }
    }
    if !indexed {
        if let Some(b) = spec.backoff_limit_per_index {
            errs.push(FieldError::invalid(
                p("backoffLimitPerIndex"),
                b,
                "requires indexed completion mode",
            ));
        }
        if let Some(m) = spec.max_failed_indexes {
            errs.push(FieldError::invalid(
                p("maxFailedIndexes"),
                m,
                "requires indexed completion mode",
            ));
        }
    }
    if spec.pod_failure_policy.is_some() {
        errs.extend(super::job_policy::validate_pod_failure_policy(
            spec,
            &p("podFailurePolicy"),
        ));
    }
    if let Some(sp) = &spec.success_policy {
        if indexed {
            errs.extend(super::job_policy::validate_success_policy(
                spec,
                &p("successPolicy"),
            ));
        } else {
            errs.push(FieldError::invalid_go(
                p("successPolicy"),
                super::job_policy::go_success_policy(sp),
                "requires indexed completion mode",
            ));
        }
    }
    if let Some(prp) = spec.pod_replacement_policy.as_deref() {
        // With a podFailurePolicy only Failed is allowed.
        let valid: &[&str] = if spec.pod_failure_policy.is_some() {
            &["Failed"]
        } else {
            &["Failed", "TerminatingOrFailed"]
        };
        if !valid.contains(&prp) {
            errs.push(FieldError::not_supported(
                p("podReplacementPolicy"),
                prp,
                valid,
            ));
        }
    }
    errs.extend(validate_pod_template(&spec.template, &p("template")));
    let restart = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("");
    let rp = p("template.spec.restartPolicy");
    if restart == "Always" || restart.is_empty() {
        errs.push(FieldError::required(
            rp,
            "valid values: \"OnFailure\", \"Never\"",
        ));
    } else if restart != "OnFailure" && restart != "Never" {
        errs.push(FieldError::not_supported(
            rp,
            restart,
            &["OnFailure", "Never"],
        ));
    } else if spec.pod_failure_policy.is_some() && restart != "Never" {
        errs.push(FieldError::invalid(
            rp,
            restart,
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
    errs
}

fn indexed_rules(spec: &JobSpec, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let p = |f: &str| format!("{path}.{f}");
    if spec.completions.is_none() {
        errs.push(FieldError::required(
            p("completions"),
            "when completion mode is Indexed",
        ));
    }
    if let Some(par) = spec.parallelism.filter(|v| *v > MAX_PARALLELISM_INDEXED) {
        errs.push(FieldError::invalid(
            p("parallelism"),
            par,
            &format!("must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"),
        ));
    }
    if let (Some(c), Some(m)) = (spec.completions, spec.max_failed_indexes)
        && m > c
    {
        errs.push(FieldError::invalid(
            p("maxFailedIndexes"),
            m,
            "must be less than or equal to completions",
        ));
    }
    if let Some(m) = spec.max_failed_indexes.filter(|m| *m > MAX_FAILED_INDEXES) {
        errs.push(FieldError::invalid(
            p("maxFailedIndexes"),
            m,
            &format!("must be less than or equal to {MAX_FAILED_INDEXES}"),
        ));
    }
    let high = spec.completions.is_some_and(|c| c > COMPLETIONS_SOFT_LIMIT);
    if high && spec.backoff_limit_per_index.is_some() {
        let why = format!(
            "when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
        );
        if spec.max_failed_indexes.is_none() {
            errs.push(FieldError::required(
                p("maxFailedIndexes"),
                &format!("must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"),
            ));
        }
        if let Some(par) = spec
            .parallelism
            .filter(|v| *v > PARALLELISM_LIMIT_HIGH_COMPLETIONS)
        {
            errs.push(FieldError::invalid(
                p("parallelism"),
                par,
                &format!(
                    "must be less than or equal to {PARALLELISM_LIMIT_HIGH_COMPLETIONS} {why}"
                ),
            ));
        }
        if let Some(m) = spec
            .max_failed_indexes
            .filter(|m| *m > MAX_FAILED_INDEXES_HIGH_COMPLETIONS)
        {
            errs.push(FieldError::invalid(
                p("maxFailedIndexes"),
                m,
                &format!(
                    "must be less than or equal to {MAX_FAILED_INDEXES_HIGH_COMPLETIONS} {why}"
                ),
            ));
        }
    }
    errs
}

/// `IsDomainPrefixedPath`.
fn domain_prefixed_path(v: &str, path: &str) -> ErrorList {
    if v.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let Some((host, rest)) = v
        .split_once('/')
        .filter(|(h, r)| !h.is_empty() && !r.is_empty())
    else {
        return vec![FieldError::invalid(
            path,
            v,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )];
    };
    let mut errs: ErrorList = names::is_dns1123_subdomain(host)
        .into_iter()
        .map(|m| FieldError::invalid(path, host, &m))
        .collect();
    if let Some(m) = names::http_path_error(rest) {
        errs.push(FieldError::invalid(path, rest, &m));
    }
    errs
}

/// `ValidateJobUpdate`: the new spec is valid, and the immutable fields did not change.
pub fn validate_job_update(new: &Job, old: &Job) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata);
    let ns = value_or_default(&new.spec);
    let os = value_or_default(&old.spec);
    errs.extend(validate_job_spec_with_selector(&ns, "spec"));
    errs.extend(validate_completions_update(&ns, &os));
    if ns.selector != os.selector {
        errs.push(match &ns.selector {
            Some(sel) => FieldError::invalid_go(
                "spec.selector",
                go_label_selector(sel),
                "field is immutable",
            ),
            None => FieldError::invalid("spec.selector", Value::Null, "field is immutable"),
        });
    }
    errs.extend(validate_template_update(new, old, &ns, &os));
    let immutable = |field: &str, n: Value, o: Value, go: Option<String>| -> Option<FieldError> {
        (n != o).then(|| match go {
            Some(g) if !n.is_null() => {
                FieldError::invalid_go(format!("spec.{field}"), g, "field is immutable")
            }
            _ => FieldError::invalid(format!("spec.{field}"), n.clone(), "field is immutable"),
        })
    };
    let j = |v: &Option<String>| v.clone().map_or(Value::Null, Value::from);
    let ji = |v: Option<i32>| v.map_or(Value::Null, Value::from);
    errs.extend(immutable(
        "completionMode",
        j(&ns.completion_mode),
        j(&os.completion_mode),
        None,
    ));
    errs.extend(immutable(
        "podFailurePolicy",
        to_json(&ns.pod_failure_policy),
        to_json(&os.pod_failure_policy),
        Some("batch.PodFailurePolicy{...}".to_string()),
    ));
    errs.extend(immutable(
        "backoffLimitPerIndex",
        ji(ns.backoff_limit_per_index),
        ji(os.backoff_limit_per_index),
        None,
    ));
    errs.extend(immutable(
        "managedBy",
        j(&ns.managed_by),
        j(&os.managed_by),
        None,
    ));
    errs.extend(immutable(
        "successPolicy",
        to_json(&ns.success_policy),
        to_json(&os.success_policy),
        ns.success_policy
            .as_ref()
            .map(super::job_policy::go_success_policy),
    ));
    errs
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// `validateCompletions`: immutable, except Indexed Jobs that change it with parallelism.
fn validate_completions_update(ns: &JobSpec, os: &JobSpec) -> ErrorList {
    if ns.completions == os.completions {
        return Vec::new();
    }
    let value = ns.completions.map_or(Value::Null, Value::from);
    if ns.completion_mode.as_deref() != Some("Indexed") {
        return vec![FieldError::invalid(
            "spec.completions",
            value,
            "field is immutable",
        )];
    }
    match ns.completions {
        None => Vec::new(),
        Some(c) if Some(c) != ns.parallelism => vec![FieldError::invalid(
            "spec.completions",
            c,
            "can only be modified in tandem with spec.parallelism",
        )],
        Some(_) => Vec::new(),
    }
}

/// The template is immutable, except scheduling directives of a suspended, never-started Job.
fn validate_template_update(new: &Job, old: &Job, ns: &JobSpec, os: &JobSpec) -> ErrorList {
    let mut old_t = os.template.clone();
    let never_started = old
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .is_none();
    let suspended = os.suspend == Some(true);
    let _ = new;
    if suspended && never_started {
        let nt = &ns.template;
        let (om, nm) = (
            old_t.metadata.get_or_insert_with(Default::default),
            nt.metadata.clone().unwrap_or_default(),
        );
        om.labels = nm.labels;
        om.annotations = nm.annotations;
        if let (Some(osp), Some(nsp)) = (old_t.spec.as_mut(), nt.spec.as_ref()) {
            osp.node_selector.clone_from(&nsp.node_selector);
            osp.tolerations.clone_from(&nsp.tolerations);
            osp.scheduling_gates.clone_from(&nsp.scheduling_gates);
            match (osp.affinity.as_mut(), nsp.affinity.as_ref()) {
                (Some(oa), Some(na)) => oa.node_affinity.clone_from(&na.node_affinity),
                (None, Some(na)) => {
                    osp.affinity = Some(k8s_openapi::api::core::v1::Affinity {
                        node_affinity: na.node_affinity.clone(),
                        ..Default::default()
                    })
                }
                (Some(oa), None) => {
                    oa.node_affinity = None;
                    if oa.pod_affinity.is_none() && oa.pod_anti_affinity.is_none() {
                        osp.affinity = None;
                    }
                }
                (None, None) => {}
            }
        }
        if old_t
            .metadata
            .as_ref()
            .is_some_and(|m| m == &Default::default())
            && nt.metadata.is_none()
        {
            old_t.metadata = None;
        }
    }
    if normalize(&ns.template) != normalize(&old_t) {
        return vec![FieldError::invalid_go(
            "spec.template",
            "core.PodTemplateSpec{...}".to_string(),
            "field is immutable",
        )];
    }
    Vec::new()
}

fn normalize(t: &k8s_openapi::api::core::v1::PodTemplateSpec) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// `ValidateJobUpdateStatus`: metadata rules and the status transition rules that apply
/// with the v1.33 default feature gates.
pub fn validate_job_status_update(new: &Job, old: &Job) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata);
    let st = value_or_default(&new.status);
    let ost = value_or_default(&old.status);
    let spec = value_or_default(&new.spec);
    errs.extend(validate_job_status(&st, &spec));
    let conds = st.conditions.as_deref().unwrap_or_default();
    let oconds = ost.conditions.as_deref().unwrap_or_default();
    for ty in ["Failed", "Complete", "FailureTarget"] {
        if is_true(oconds, ty) && !is_true(conds, ty) {
            errs.push(FieldError::invalid_omit(
                "status.conditions",
                &format!("cannot disable the terminal {ty}=True condition"),
            ));
        }
    }
    if st.failed.unwrap_or(0) < ost.failed.unwrap_or(0) {
        errs.push(FieldError::invalid(
            "status.failed",
            st.failed.unwrap_or(0),
            "cannot decrease the failed counter",
        ));
    }
    let elastic =
        spec.completion_mode.as_deref() == Some("Indexed") && spec.completions == spec.parallelism;
    if st.succeeded.unwrap_or(0) < ost.succeeded.unwrap_or(0) && !elastic {
        errs.push(FieldError::invalid(
            "status.succeeded",
            st.succeeded.unwrap_or(0),
            "cannot decrease the succeeded counter",
        ));
    }
    if let (Some(n), Some(o)) = (&st.completion_time, &ost.completion_time)
        && n != o
    {
        errs.push(FieldError::invalid_go(
            "status.completionTime",
            go_time(n.0),
            "completionTime cannot be mutated",
        ));
    }
    if ost.start_time.is_some() && ost.start_time != st.start_time && spec.suspend != Some(true) {
        errs.push(FieldError::required(
            "status.startTime",
            "startTime cannot be removed for unsuspended job",
        ));
    }
    if is_true(oconds, "SuccessCriteriaMet") && !is_true(conds, "SuccessCriteriaMet") {
        errs.push(FieldError::invalid_omit(
            "status.conditions",
            "cannot disable the SuccessCriteriaMet=True condition",
        ));
    }
    if is_true(oconds, "Complete")
        && !is_true(oconds, "SuccessCriteriaMet")
        && is_true(conds, "SuccessCriteriaMet")
    {
        errs.push(FieldError::invalid_omit(
            "status.conditions",
            "cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions",
        ));
    }
    errs
}

fn is_true(conds: &[JobCondition], ty: &str) -> bool {
    conds.iter().any(|c| c.type_ == ty && c.status == "True")
}

/// `validateJobStatus` with the checks the v1.33 strategy enables when the fields change.
fn validate_job_status(st: &JobStatus, spec: &JobSpec) -> ErrorList {
    let mut errs = ErrorList::new();
    non_negative(
        Some(i64::from(st.active.unwrap_or(0))),
        "status.active",
        &mut errs,
    );
    non_negative(
        Some(i64::from(st.succeeded.unwrap_or(0))),
        "status.succeeded",
        &mut errs,
    );
    non_negative(
        Some(i64::from(st.failed.unwrap_or(0))),
        "status.failed",
        &mut errs,
    );
    non_negative(st.ready.map(i64::from), "status.ready", &mut errs);
    non_negative(
        st.terminating.map(i64::from),
        "status.terminating",
        &mut errs,
    );
    if let Some(u) = &st.uncounted_terminated_pods {
        let mut seen = std::collections::BTreeSet::new();
        for (list, f) in [(&u.succeeded, "succeeded"), (&u.failed, "failed")] {
            for (i, uid) in list.iter().flatten().enumerate() {
                let p = format!("status.uncountedTerminatedPods.{f}[{i}]");
                if uid.is_empty() {
                    errs.push(FieldError::invalid(p, "", "must not be empty"));
                } else if !seen.insert(uid.clone()) {
                    errs.push(FieldError::duplicate(p, uid.as_str()));
                }
            }
        }
    }
    let conds = st.conditions.as_deref().unwrap_or_default();
    let complete = is_true(conds, "Complete");
    let failed = is_true(conds, "Failed");
    let target = is_true(conds, "FailureTarget");
    let scm = is_true(conds, "SuccessCriteriaMet");
    let finished = complete || failed;
    let c = "status.conditions";
    if complete && failed {
        errs.push(FieldError::invalid_omit(
            c,
            "cannot set Complete=True and Failed=true conditions",
        ));
    }
    if complete && target {
        errs.push(FieldError::invalid_omit(
            c,
            "cannot set Complete=True and FailureTarget=true conditions",
        ));
    }
    if let Some(ct) = st.completion_time.as_ref().filter(|_| !complete) {
        errs.push(FieldError::invalid_go(
            "status.completionTime",
            go_time(ct.0),
            "cannot set completionTime when there is no Complete=True condition",
        ));
    }
    if complete && st.completion_time.is_none() {
        errs.push(FieldError::required(
            "status.completionTime",
            "completionTime is required for Complete jobs",
        ));
    }
    if let (Some(s), Some(ct)) = (&st.start_time, &st.completion_time)
        && ct.0 < s.0
    {
        errs.push(FieldError::invalid_go(
            "status.completionTime",
            go_time(ct.0),
            "completionTime cannot be set before startTime",
        ));
    }
    if failed && !target {
        errs.push(FieldError::invalid_omit(
            c,
            "cannot set Failed=True condition without the FailureTarget=true condition",
        ));
    }
    if complete && !scm {
        errs.push(FieldError::invalid_omit(
            c,
            "cannot set Complete=True condition without the SuccessCriteriaMet=true condition",
        ));
    }
    let active = st.active.unwrap_or(0);
    if active > 0 && finished {
        errs.push(FieldError::invalid(
            "status.active",
            active,
            "active>0 is invalid for finished job",
        ));
    }
    if st.start_time.is_none() && finished {
        errs.push(FieldError::required(
            "status.startTime",
            "startTime is required for finished job",
        ));
    }
    if let Some(u) = st.uncounted_terminated_pods.as_ref() {
        let n = u.failed.as_ref().map_or(0, Vec::len) + u.succeeded.as_ref().map_or(0, Vec::len);
        if finished && n > 0 {
            let list =
                |l: &Option<Vec<String>>| go_slice("types.UID", l.as_deref(), |s| go_quote(s));
            errs.push(FieldError::invalid_go(
                "status.uncountedTerminatedPods",
                format!(
                    "batch.UncountedTerminatedPods{{Succeeded:{}, Failed:{}}}",
                    list(&u.succeeded),
                    list(&u.failed)
                ),
                "uncountedTerminatedPods needs to be empty for finished job",
            ));
        }
    }
    if let Some(t) = st.terminating.filter(|t| *t > 0 && finished) {
        errs.push(FieldError::invalid(
            "status.terminating",
            t,
            "terminating>0 is invalid for finished job",
        ));
    }
    if let Some(r) = st.ready.filter(|r| *r > active) {
        errs.push(FieldError::invalid(
            "status.ready",
            r,
            "cannot set more ready pods than active",
        ));
    }
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    if let Some(ci) = st.completed_indexes.as_deref().filter(|ci| !ci.is_empty()) {
        if !indexed {
            errs.push(FieldError::invalid(
                "status.completedIndexes",
                ci,
                "cannot set non-empty completedIndexes when non-indexed completion mode",
            ));
        } else if let (Some(c), Err(e)) = (
            spec.completions,
            super::job_policy::indexes_total(ci, spec.completions.unwrap_or(0)),
        ) {
            let _ = c;
            errs.push(FieldError::invalid(
                "status.completedIndexes",
                ci,
                &format!("error parsing completedIndexes: {e}"),
            ));
        }
    }
    if let Some(fi) = st.failed_indexes.as_deref()
        && spec.backoff_limit_per_index.is_none()
    {
        errs.push(FieldError::invalid(
            "status.failedIndexes",
            fi,
            "cannot set non-null failedIndexes when backoffLimitPerIndex is null",
        ));
    }
    if scm && failed {
        errs.push(FieldError::invalid_omit(
            c,
            "cannot set SuccessCriteriaMet=True and Failed=true conditions",
        ));
    }
    if scm && target {
        errs.push(FieldError::invalid_omit(
            c,
            "cannot set SuccessCriteriaMet=True and FailureTarget=true conditions",
        ));
    }
    if spec.success_policy.is_some() && !scm && complete {
        errs.push(FieldError::invalid_omit(
            c,
            "cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True",
        ));
    }
    errs
}
