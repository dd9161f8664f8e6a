//! Validation with Kubernetes' (v1.33) field paths, error types and messages, in the order
//! the real validators report them. Every function takes objects after defaulting (as the
//! API server validates them) and never panics on any input.
//!
//! Known differences from the real server, all in the rendering of large Go values: the
//! immutable Job template (`core.PodTemplateSpec{...}`), a few Go structs shown as `{...}`,
//! and the `cmp.Diff` text after "pod updates may not change fields other than" (go-cmp
//! randomizes its spacing, so no client can rely on it).

mod authorization;
mod container;
mod core;
mod cron;
mod cronjob;
mod field;
mod job;
mod job_policy;
mod lease;
mod meta;
pub mod names;
mod pod;
mod pvc;
mod quantity;
mod resources;
mod volume;

pub use authorization::validate_self_subject_access_review;
pub use cron::{go_parse_duration, parse_standard};
pub use cronjob::load_location;
pub use field::{ErrorList, ErrorType, FieldError, GO_REPR_KEY, go_quote};
pub use meta::{NameRule, validate_label_selector, validate_object_meta_update};
pub use quantity::Quantity;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    Event, Namespace, Node, PersistentVolumeClaim, Pod, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// `ValidateObjectMeta`: name or generateName, namespace (required when `namespaced`,
/// forbidden otherwise), labels, annotations, owner references and finalizers.
pub fn validate_object_meta(meta: &ObjectMeta, namespaced: bool, name_rule: NameRule) -> ErrorList {
    meta::validate_object_meta(meta, namespaced, name_rule)
}

/// Job create (after `defaults::default_job` and `defaults::prepare_job_for_create`).
pub fn validate_job_create(job: &Job) -> ErrorList {
    job::validate_job_create(job)
}

/// Job update: metadata update rules, the new spec, and the immutable fields.
pub fn validate_job_update(new: &Job, old: &Job) -> ErrorList {
    job::validate_job_update(new, old)
}

/// Job status update: counters may not decrease, terminal conditions stick, and the
/// consistency rules between conditions, times and counters.
pub fn validate_job_status_update(new: &Job, old: &Job) -> ErrorList {
    job::validate_job_status_update(new, old)
}

/// CronJob create: metadata (name at most 52 characters), schedule, time zone, policies
/// and the job template.
pub fn validate_cronjob_create(cj: &CronJob) -> ErrorList {
    cronjob::validate_cronjob_create(cj)
}

/// CronJob update (TZ in an old schedule is tolerated; the name length is not checked).
pub fn validate_cronjob_update(new: &CronJob, old: &CronJob) -> ErrorList {
    cronjob::validate_cronjob_update(new, old)
}

/// Pod create.
pub fn validate_pod_create(pod: &Pod) -> ErrorList {
    pod::validate_pod_create(pod)
}

/// Pod update: only images, activeDeadlineSeconds, added tolerations and a few more may change.
pub fn validate_pod_update(new: &Pod, old: &Pod) -> ErrorList {
    pod::validate_pod_update(new, old)
}

/// A pod template at `path` (`spec.template`, `spec.jobTemplate.spec.template`).
pub fn validate_pod_template(t: &PodTemplateSpec, path: &str) -> ErrorList {
    pod::validate_pod_template(t, path)
}

/// PersistentVolumeClaim create: access modes and the storage request are required.
pub fn validate_pvc_create(pvc: &PersistentVolumeClaim) -> ErrorList {
    pvc::validate_pvc_create(pvc)
}

/// PersistentVolumeClaim update: the spec is immutable but for the storage request and
/// binding the volume name once.
pub fn validate_pvc_update(new: &PersistentVolumeClaim, old: &PersistentVolumeClaim) -> ErrorList {
    pvc::validate_pvc_update(new, old)
}

/// Namespace create or update.
pub fn validate_namespace(ns: &Namespace) -> ErrorList {
    core::validate_namespace(ns)
}

/// core/v1 Event create.
pub fn validate_event(ev: &Event) -> ErrorList {
    core::validate_event(ev)
}

/// Node create.
pub fn validate_node(node: &Node) -> ErrorList {
    core::validate_node(node)
}

/// coordination.k8s.io/v1 Lease create: metadata and the spec (durations positive,
/// transitions non-negative, a known strategy).
pub fn validate_lease_create(lease: &Lease) -> ErrorList {
    lease::validate_lease_create(lease)
}

/// Lease update: the metadata update rules and the spec.
pub fn validate_lease_update(new: &Lease, old: &Lease) -> ErrorList {
    lease::validate_lease_update(new, old)
}

#[cfg(test)]
mod tests;
