//! batch/v1 CronJob rules (v1.33): name length, schedule (robfig/cron wording), TZ in the
//! schedule, `timeZone` (IANA names through jiff's tz database: the system copy first, the
//! bundled one as fallback, like Go's `time.LoadLocation` in kube-apiserver), limits,
//! concurrencyPolicy and the job template.

use std::sync::LazyLock;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec};
use regex::Regex;
use serde_json::Value;

use super::cron::parse_standard;
use super::field::{ErrorList, FieldError, value_or_default};
use super::job::validate_job_spec;
use super::meta::{NameRule, go_label_selector, validate_object_meta, validate_object_meta_update};

static TZ_PART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z.\-_0-9+]{1,14}$")
        .unwrap_or_else(|_| Regex::new("$^").unwrap_or_else(|_| unreachable!()))
});

/// `ValidateCronJobCreate`.
pub fn validate_cronjob_create(cj: &CronJob) -> ErrorList {
    let mut errs = validate_object_meta(&cj.metadata, true, NameRule::Subdomain);
    errs.extend(validate_cronjob_spec(&value_or_default(&cj.spec), None));
    let name = cj.metadata.name.as_deref().unwrap_or("");
    if name.len() > 52 {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
        ));
    }
    errs
}

/// `ValidateCronJobUpdate` (the 52-character name limit is not checked on update).
pub fn validate_cronjob_update(new: &CronJob, old: &CronJob) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata);
    let os = value_or_default(&old.spec);
    errs.extend(validate_cronjob_spec(
        &value_or_default(&new.spec),
        Some(&os),
    ));
    errs
}

fn validate_cronjob_spec(spec: &CronJobSpec, old: Option<&CronJobSpec>) -> ErrorList {
    let mut errs = ErrorList::new();
    if spec.schedule.is_empty() {
        errs.push(FieldError::required("spec.schedule", ""));
    } else {
        let allow_tz = old.is_some_and(|o| o.schedule.contains("TZ"));
        if let Err(e) = parse_standard(&spec.schedule, &load_location) {
            errs.push(FieldError::invalid(
                "spec.schedule",
                spec.schedule.as_str(),
                &e,
            ));
        }
        let has_tz = spec.schedule.contains("TZ");
        if allow_tz && has_tz && spec.time_zone.is_some() {
            errs.push(FieldError::invalid(
                "spec.schedule",
                spec.schedule.as_str(),
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            ));
        } else if !allow_tz && has_tz {
            errs.push(FieldError::invalid(
                "spec.schedule",
                spec.schedule.as_str(),
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    if let Some(s) = spec.starting_deadline_seconds.filter(|s| *s < 0) {
        errs.push(FieldError::invalid(
            "spec.startingDeadlineSeconds",
            s,
            "must be greater than or equal to 0",
        ));
    }
    if old.is_none_or(|o| o.time_zone != spec.time_zone) {
        errs.extend(validate_time_zone(spec.time_zone.as_deref()));
    }
    let cp = "spec.concurrencyPolicy";
    match spec.concurrency_policy.as_deref().unwrap_or("") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required(cp, "")),
        other => errs.push(FieldError::not_supported(
            cp,
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let jspec = value_or_default(&spec.job_template.spec);
    errs.extend(validate_job_spec(&jspec, "spec.jobTemplate.spec"));
    if let Some(sel) = &jspec.selector {
        errs.push(FieldError::invalid_go(
            "spec.jobTemplate.spec.selector",
            go_label_selector(sel),
            "`selector` will be auto-generated",
        ));
    }
    if jspec.manual_selector == Some(true) {
        errs.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            true,
            &["nil", "false"],
        ));
    }
    for (v, f) in [
        (
            spec.successful_jobs_history_limit,
            "successfulJobsHistoryLimit",
        ),
        (spec.failed_jobs_history_limit, "failedJobsHistoryLimit"),
    ] {
        if let Some(v) = v.filter(|v| *v < 0) {
            errs.push(FieldError::invalid(
                format!("spec.{f}"),
                v,
                "must be greater than or equal to 0",
            ));
        }
    }
    errs
}

/// `validateTimeZone`.
fn validate_time_zone(tz: Option<&str>) -> ErrorList {
    let path = "spec.timeZone";
    let Some(tz) = tz else {
        return Vec::new();
    };
    if tz.is_empty() {
        return vec![FieldError::invalid(
            path,
            "",
            "timeZone must be nil or non-empty string",
        )];
    }
    for part in tz.split('/') {
        if part == "." || part == ".." || part.starts_with('-') || !TZ_PART.is_match(part) {
            return vec![FieldError::invalid(
                path,
                tz,
                &format!("unknown time zone {tz}"),
            )];
        }
    }
    let mut errs = ErrorList::new();
    if tz.eq_ignore_ascii_case("Local") {
        errs.push(FieldError::invalid(
            path,
            tz,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
    if let Err(e) = load_location(tz) {
        errs.push(FieldError::invalid(path, Value::from(tz), &e));
    }
    errs
}

/// Go's `time.LoadLocation`: `UTC` and `Local` are built in; other names must exist in the
/// tz database with this exact spelling (Linux file names are case-sensitive).
pub fn load_location(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "UTC" || name == "Local" {
        return Ok(());
    }
    if name.contains("..") || name.starts_with('/') || name.starts_with('\\') {
        return Err("time: invalid location name".to_string());
    }
    match jiff::tz::db().get(name) {
        Ok(tz) if tz.iana_name() == Some(name) => Ok(()),
        _ => Err(format!("unknown time zone {name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::load_location;

    #[test]
    fn load_location_is_exact_like_go_on_linux() {
        for ok in [
            "UTC",
            "Asia/Shanghai",
            "America/New_York",
            "Etc/GMT+5",
            "US/Eastern",
        ] {
            assert_eq!(load_location(ok), Ok(()), "{ok}");
        }
        for bad in ["asia/shanghai", "Mars/Base", "Asia"] {
            assert_eq!(load_location(bad), Err(format!("unknown time zone {bad}")));
        }
    }
}
