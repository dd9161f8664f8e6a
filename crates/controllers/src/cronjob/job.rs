//! The Job a CronJob creates for a scheduled time (`getJobFromTemplate2`, k8s-semantics
//! §3.6): its deterministic name, labels and annotations from the template plus the
//! scheduled-timestamp annotation, the controller reference, and the template's spec.

use super::plan::SCHEDULED_TIMESTAMP;
use crate::informers::KeptTemplate;
use api::schedule::{self, Schedule};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use serde_json::value::RawValue;

/// `<cronjob>-<minutes since the epoch>` (`getJobName`). batchlet's one extension: an
/// `@every` schedule under a minute names its Jobs `<cronjob>-<seconds since the epoch>`
/// (11 characters, within the 52-character name limit, as the first CronJob controller
/// did), so each run gets its own Job; Kubernetes' minute names make those runs collide.
pub fn child_job_name(cj: &CronJob, sched: &Schedule, scheduled: Timestamp) -> String {
    let name = cj.metadata.name.as_deref().unwrap_or("");
    let secs = scheduled.as_second();
    if sched.every_seconds().is_some_and(|s| s < 60) {
        format!("{name}-{secs}")
    } else {
        format!("{name}-{}", secs.div_euclid(60))
    }
}

/// Go's `time.RFC3339` rendering of `t` in the zone (UTC when unset): `Z` for a zero
/// offset, else `±hh:mm`.
pub fn rfc3339_in(t: Timestamp, zone: Option<&str>) -> String {
    let tz = schedule::time_zone(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let z = t.to_zoned(tz);
    if z.offset().seconds() == 0 {
        z.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// The Job for `scheduled`, named `name`.
pub fn job_from_template(
    cj: &CronJob,
    name: &str,
    scheduled: Timestamp,
    zone: Option<&str>,
) -> Job {
    let template = cj
        .spec
        .as_ref()
        .map(|s| s.job_template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.into(), rfc3339_in(scheduled, zone));
    Job {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: cj.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "CronJob".into(),
                name: cj.metadata.name.clone().unwrap_or_default(),
                uid: cj.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// The body of the Job [`job_from_template`] makes from a CronJob whose template is
/// `kept`, as `serde_json::to_vec` of that Job writes it: `job` is the Job made from the
/// same CronJob without its template (the cached one), whose metadata only lacks the
/// template's labels and annotations. The template's spec is copied as the JSON it was
/// kept as, never decoded (one due CronJob in a crowded minute: BENCHMARKS.md finding 47).
pub fn job_body(job: &Job, kept: &KeptTemplate) -> serde_json::Result<Vec<u8>> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Body<'a> {
        api_version: &'static str,
        kind: &'static str,
        metadata: &'a ObjectMeta,
        #[serde(skip_serializing_if = "Option::is_none")]
        spec: Option<&'a RawValue>,
    }
    let mut metadata = job.metadata.clone();
    metadata.labels.clone_from(&kept.labels);
    if let Some(template) = &kept.annotations {
        let mut annotations = template.clone();
        annotations.extend(metadata.annotations.take().unwrap_or_default());
        metadata.annotations = Some(annotations);
    }
    // Room for the template's spec and the metadata: the body is written without growing
    // (each growth copied what was written so far).
    let spec_len = kept.spec.as_deref().map_or(0, |s| s.get().len());
    let mut body = Vec::with_capacity(spec_len + 1024);
    serde_json::to_writer(
        &mut body,
        &Body {
            api_version: "batch/v1",
            kind: "Job",
            metadata: &metadata,
            spec: kept.spec.as_deref(),
        },
    )?;
    Ok(body)
}
