//! Table tests of the CronJob plan with a fake clock: scheduling, concurrency policies,
//! catch-up after downtime, deadlines, the 100 rule, history limits, zones and DST.

use super::plan::{CronJobPlan, SCHEDULED_TIMESTAMP, is_child};
use crate::events::EventType;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use std::time::Duration;

const UID: &str = "cj-uid";

/// The plan of owned Jobs (the shell's are shared with the cache: `Arc<Job>`).
fn plan(cj: &CronJob, jobs: &[Job], now: Timestamp) -> CronJobPlan {
    super::plan::plan(cj, jobs, now)
}

/// The plan is the same whether the children are owned or shared with the cache.
#[test]
fn shared_children_plan_as_owned_ones() {
    let jobs = vec![job("cj-1", None)];
    let shared: Vec<std::sync::Arc<Job>> = jobs.iter().cloned().map(std::sync::Arc::new).collect();
    let cj = cronjob(json!({}), json!({}));
    let now = ts("2025-06-02T10:01:30Z");
    assert_eq!(super::plan::plan(&cj, &shared, now), plan(&cj, &jobs, now));
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn minutes(s: &str) -> i64 {
    ts(s).as_second() / 60
}

/// A CronJob created at 10:00:30 on 2025-06-02 with `spec` merged over the defaults.
fn cronjob(spec: Value, status: Value) -> CronJob {
    let mut base = json!({
        "schedule": "*/1 * * * *",
        "concurrencyPolicy": "Allow",
        "suspend": false,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1,
        "jobTemplate": {
            "metadata": {"labels": {"app": "hello"}, "annotations": {"note": "x"}},
            "spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                "containers": [{"name": "c", "image": "busybox"}]}}}
        }
    });
    if let (Some(b), Value::Object(s)) = (base.as_object_mut(), spec) {
        b.extend(s);
    }
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "cj", "namespace": "default", "uid": UID,
            "creationTimestamp": "2025-06-02T10:00:30Z"},
        "spec": base,
        "status": status,
    }))
    .expect("cronjob")
}

/// A child Job; `end` is `(condition, startTime, completionTime)` when finished.
fn job(name: &str, end: Option<(&str, Option<&str>, &str)>) -> Job {
    let mut status = json!({});
    if let Some((cond, start, done)) = end {
        status = json!({"conditions": [{"type": cond, "status": "True"}]});
        if let Some(s) = start {
            status["startTime"] = json!(s);
        }
        if cond == "Complete" {
            status["completionTime"] = json!(done);
        }
    }
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "cj",
                "uid": UID, "controller": true, "blockOwnerDeletion": true}]},
        "status": status,
    }))
    .expect("job")
}

fn active(names: &[&str]) -> Value {
    let refs: Vec<Value> = names
        .iter()
        .map(|n| json!({"kind": "Job", "name": n, "namespace": "default", "uid": format!("uid-{n}")}))
        .collect();
    json!(refs)
}

fn reasons(p: &CronJobPlan) -> Vec<String> {
    p.events.iter().map(|e| e.reason.clone()).collect()
}

fn created(p: &CronJobPlan) -> Option<String> {
    p.create.as_ref().and_then(|c| c.job.metadata.name.clone())
}

fn secs(p: &CronJobPlan) -> Option<f64> {
    p.requeue_after.map(|d| d.as_secs_f64())
}

#[test]
fn the_first_run_creates_a_job_from_the_template() {
    let p = plan(
        &cronjob(json!({}), json!({})),
        &[],
        ts("2025-06-02T10:01:00.5Z"),
    );
    let c = p.create.expect("a job");
    let want = format!("cj-{}", minutes("2025-06-02T10:01:00Z"));
    assert_eq!(c.job.metadata.name.as_deref(), Some(want.as_str()));
    assert_eq!(c.scheduled, ts("2025-06-02T10:01:00Z"));
    let ann = c.job.metadata.annotations.expect("annotations");
    assert_eq!(ann[SCHEDULED_TIMESTAMP], "2025-06-02T10:01:00Z");
    assert_eq!(ann["note"], "x");
    assert_eq!(c.job.metadata.labels.expect("labels")["app"], "hello");
    let owner = &c.job.metadata.owner_references.expect("owner")[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.uid.as_str(),
            owner.controller,
            owner.block_owner_deletion
        ),
        ("CronJob", UID, Some(true), Some(true))
    );
    assert!(c.job.spec.is_some());
    assert!(p.status_changed);
    // Woken exactly at the next minute (no 100 ms padding).
    assert_eq!(p.requeue_after, Some(Duration::from_millis(59_500)));
}

#[test]
fn nothing_is_due_before_the_first_time() {
    let p = plan(
        &cronjob(json!({}), json!({})),
        &[],
        ts("2025-06-02T10:00:45Z"),
    );
    assert_eq!(created(&p), None);
    assert!(!p.status_changed);
    assert_eq!(p.requeue_after, Some(Duration::from_millis(15_000)));
    // A wake-up a little early (the wall clock stepped) sleeps exactly the rest.
    let p = plan(
        &cronjob(json!({}), json!({})),
        &[],
        ts("2025-06-02T10:00:59.9997Z"),
    );
    assert_eq!(created(&p), None);
    assert_eq!(p.requeue_after, Some(Duration::from_micros(300)));
}

#[test]
fn a_processed_time_is_not_run_again() {
    let st = json!({"lastScheduleTime": "2025-06-02T10:01:00Z"});
    let p = plan(&cronjob(json!({}), st), &[], ts("2025-06-02T10:01:30Z"));
    assert_eq!(created(&p), None);
    assert_eq!(secs(&p), Some(30.0));
}

#[test]
fn concurrency_policies() {
    let name = format!("cj-{}", minutes("2025-06-02T10:01:00Z"));
    let st = json!({"lastScheduleTime": "2025-06-02T10:01:00Z", "active": active(&[&name])});
    let running = [job(&name, None)];
    let now = ts("2025-06-02T10:02:00Z");
    let next = format!("cj-{}", minutes("2025-06-02T10:02:00Z"));

    let forbid = plan(
        &cronjob(json!({"concurrencyPolicy": "Forbid"}), st.clone()),
        &running,
        now,
    );
    assert_eq!(created(&forbid), None);
    assert_eq!(reasons(&forbid), ["JobAlreadyActive"]);
    assert_eq!(secs(&forbid), Some(60.0));

    let replace = plan(
        &cronjob(json!({"concurrencyPolicy": "Replace"}), st.clone()),
        &running,
        now,
    );
    assert_eq!(created(&replace), Some(next.clone()));
    assert_eq!(replace.replace.len(), 1);
    assert_eq!(replace.replace[0].name, name);
    assert_eq!(replace.status.active.as_deref().map(<[_]>::len), Some(0));

    let allow = plan(&cronjob(json!({}), st), &running, now);
    assert_eq!(created(&allow), Some(next));
    assert!(allow.replace.is_empty());
    assert_eq!(allow.status.active.as_deref().map(<[_]>::len), Some(1));
}

#[test]
fn forbid_starts_the_waiting_run_late_when_the_job_ends() {
    // Kubernetes' documented surprise: the 10:02 slot was skipped while 10:01 ran; it
    // starts as soon as the Job completes (no deadline set).
    let name = format!("cj-{}", minutes("2025-06-02T10:01:00Z"));
    let st = json!({"lastScheduleTime": "2025-06-02T10:01:00Z", "active": active(&[&name])});
    let done = [job(
        &name,
        Some((
            "Complete",
            Some("2025-06-02T10:01:01Z"),
            "2025-06-02T10:02:30Z",
        )),
    )];
    let p = plan(
        &cronjob(json!({"concurrencyPolicy": "Forbid"}), st),
        &done,
        ts("2025-06-02T10:02:31Z"),
    );
    assert_eq!(reasons(&p), ["SawCompletedJob"]);
    assert_eq!(
        p.events[0].message,
        format!("Saw completed job: {name}, condition: Complete")
    );
    assert_eq!(
        created(&p),
        Some(format!("cj-{}", minutes("2025-06-02T10:02:00Z")))
    );
    assert_eq!(
        p.status.last_successful_time.map(|t| t.0),
        Some(ts("2025-06-02T10:02:30Z"))
    );
}

#[test]
fn missing_and_unexpected_jobs() {
    let st = json!({"lastScheduleTime": "2025-06-02T10:01:00Z", "active": active(&["gone"])});
    let stray = [job("stray", None)];
    let p = plan(&cronjob(json!({}), st), &stray, ts("2025-06-02T10:01:10Z"));
    assert_eq!(reasons(&p), ["UnexpectedJob", "MissingJob"]);
    assert_eq!(p.events[1].message, "Active job went missing: gone");
    assert_eq!(p.unexpected, ["stray"]);
    assert!(p.status_changed);
    assert_eq!(p.status.active.as_deref().map(<[_]>::len), Some(0));
}

#[test]
fn after_downtime_only_the_most_recent_missed_run_starts() {
    let st = json!({"lastScheduleTime": "2025-06-02T10:01:00Z"});
    let p = plan(&cronjob(json!({}), st), &[], ts("2025-06-02T10:05:30Z"));
    assert_eq!(
        created(&p),
        Some(format!("cj-{}", minutes("2025-06-02T10:05:00Z")))
    );
    assert_eq!(reasons(&p), ["MissSchedule"]);
    assert_eq!(p.events[0].type_, EventType::Warning);
    assert_eq!(
        p.events[0].message,
        "Missed scheduled time to start a job: 2025-06-02T10:02:00Z, 2025-06-02T10:03:00Z, \
         2025-06-02T10:04:00Z (3 runs): superseded, only the most recent missed run starts"
    );
    assert_eq!(secs(&p), Some(30.0));
}

#[test]
fn runs_past_the_starting_deadline_do_not_start() {
    let spec = json!({"startingDeadlineSeconds": 20});
    let st = json!({"lastScheduleTime": "2025-06-02T10:01:00Z"});
    let p = plan(
        &cronjob(spec.clone(), st.clone()),
        &[],
        ts("2025-06-02T10:03:30Z"),
    );
    assert_eq!(created(&p), None);
    assert_eq!(reasons(&p), ["MissSchedule"]);
    assert!(p.events[0].message.ends_with(
        "2025-06-02T10:02:00Z, 2025-06-02T10:03:00Z (2 runs): more than startingDeadlineSeconds (20s) late"
    ));
    assert_eq!(secs(&p), Some(30.0));
    // Within the deadline the most recent starts; older ones are named.
    let p = plan(&cronjob(spec, st), &[], ts("2025-06-02T10:03:10Z"));
    assert_eq!(
        created(&p),
        Some(format!("cj-{}", minutes("2025-06-02T10:03:00Z")))
    );
    assert_eq!(reasons(&p), ["MissSchedule"]);
    assert!(
        p.events[0]
            .message
            .contains("2025-06-02T10:02:00Z (1 run): more than")
    );
}

#[test]
fn more_than_100_missed_times_warn_and_still_start_the_latest() {
    let st = json!({"lastScheduleTime": "2025-06-02T08:00:00Z"});
    let p = plan(&cronjob(json!({}), st), &[], ts("2025-06-02T10:05:10Z"));
    assert_eq!(
        created(&p),
        Some(format!("cj-{}", minutes("2025-06-02T10:05:00Z")))
    );
    assert_eq!(reasons(&p), ["TooManyMissedTimes", "MissSchedule"]);
    assert!(
        p.events[1].message.contains("(more than 100 runs)"),
        "{}",
        p.events[1].message
    );
}

#[test]
fn suspended_cronjobs_start_nothing_and_are_not_requeued() {
    let p = plan(
        &cronjob(json!({"suspend": true}), json!({})),
        &[],
        ts("2025-06-02T10:05:10Z"),
    );
    assert_eq!(created(&p), None);
    assert_eq!(p.requeue_after, None);
    assert!(p.events.is_empty());
}

#[test]
fn history_limits_prune_the_oldest_finished_children() {
    let ok =
        |n: &str, start: Option<&str>| job(n, Some(("Complete", start, "2025-06-02T10:00:00Z")));
    let failed = |n: &str, start: &str| job(n, Some(("Failed", Some(start), "")));
    let jobs = [
        ok("c-none", None),
        ok("c-3", Some("2025-06-02T09:03:00Z")),
        ok("c-1", Some("2025-06-02T09:01:00Z")),
        ok("c-2b", Some("2025-06-02T09:02:00Z")),
        ok("c-2a", Some("2025-06-02T09:02:00Z")),
        failed("f-2", "2025-06-02T09:02:00Z"),
        failed("f-1", "2025-06-02T09:01:00Z"),
        job("running", None),
    ];
    let st = json!({"lastScheduleTime": "2025-06-02T10:00:00Z", "active": active(&["running"])});
    let p = plan(&cronjob(json!({}), st), &jobs, ts("2025-06-02T10:00:10Z"));
    let pruned: Vec<&str> = p.prune.iter().map(|d| d.name.as_str()).collect();
    // Start time ascending, name breaking ties, unset start times last.
    assert_eq!(pruned, ["c-1", "c-2a", "f-1"]);
    let none = plan(
        &cronjob(
            json!({"successfulJobsHistoryLimit": 0, "failedJobsHistoryLimit": 5}),
            json!({}),
        ),
        &jobs,
        ts("2025-06-02T10:00:10Z"),
    );
    assert_eq!(none.prune.len(), 5);
}

#[test]
fn manual_jobs_are_not_children() {
    let cj = cronjob(json!({}), json!({}));
    // kubectl 1.33 sets `controller: true` (without blockOwnerDeletion) and the annotation.
    let mut manual = job(
        "mysql-backup-test",
        Some(("Complete", None, "2025-06-02T10:00:00Z")),
    );
    if let Some(r) = manual.metadata.owner_references.as_mut() {
        r[0].block_owner_deletion = None;
    }
    assert!(is_child(&manual, &cj));
    manual.metadata.annotations = Some(
        [(
            "cronjob.kubernetes.io/instantiate".to_owned(),
            "manual".to_owned(),
        )]
        .into(),
    );
    assert!(!is_child(&manual, &cj));
    assert!(is_child(&job("cj-1", None), &cj));
    let mut other = job("x", None);
    if let Some(r) = other.metadata.owner_references.as_mut() {
        r[0].uid = "another-cronjob-of-that-name".into();
    }
    assert!(!is_child(&other, &cj));
}

#[test]
fn time_zones_name_and_annotate_in_the_zone() {
    let spec = json!({"schedule": "*/5 02 * * *", "timeZone": "Asia/Shanghai"});
    let p = plan(
        &cronjob(spec.clone(), json!({})),
        &[],
        ts("2025-06-02T10:01:00Z"),
    );
    assert_eq!(created(&p), None);
    // 02:00 in Shanghai is 18:00 UTC.
    assert_eq!(secs(&p), Some(8.0 * 3600.0 - 60.0));
    let p = plan(&cronjob(spec, json!({})), &[], ts("2025-06-02T18:00:00.2Z"));
    let c = p.create.expect("created");
    assert_eq!(
        c.job.metadata.name,
        Some(format!("cj-{}", minutes("2025-06-02T18:00:00Z")))
    );
    let ann = c.job.metadata.annotations.expect("annotations");
    assert_eq!(ann[SCHEDULED_TIMESTAMP], "2025-06-03T02:00:00+08:00");

    let bad = plan(
        &cronjob(json!({"timeZone": "Mars/Base"}), json!({})),
        &[],
        ts("2025-06-02T10:05:00Z"),
    );
    assert_eq!(reasons(&bad), ["UnknownTimeZone"]);
    assert_eq!(
        bad.events[0].message,
        "invalid timeZone: \"Mars/Base\": unknown time zone Mars/Base"
    );
    assert_eq!(bad.requeue_after, None);
}

#[test]
fn daylight_saving_changes() {
    let berlin = |sched: &str| json!({"schedule": sched, "timeZone": "Europe/Berlin"});
    // Autumn: 02:30 runs at 00:30Z and again at 01:30Z.
    let st = json!({"lastScheduleTime": "2025-10-26T00:30:00Z"});
    let p = plan(
        &cronjob(berlin("30 2 * * *"), st),
        &[],
        ts("2025-10-26T01:30:00Z"),
    );
    let c = p.create.clone().expect("second run");
    assert_eq!(
        c.job.metadata.annotations.expect("annotations")[SCHEDULED_TIMESTAMP],
        "2025-10-26T02:30:00+01:00"
    );
    assert_eq!(secs(&p), Some(86400.0));
    // Spring: after 2025-03-29's run the next is 2025-03-31.
    let st = json!({"lastScheduleTime": "2025-03-29T01:30:00Z"});
    let p = plan(
        &cronjob(berlin("30 2 * * *"), st.clone()),
        &[],
        ts("2025-03-29T01:30:00Z"),
    );
    assert_eq!(created(&p), None);
    assert_eq!(secs(&p), Some(86400.0), "capped at a day");
    let p = plan(
        &cronjob(berlin("30 2 * * *"), st),
        &[],
        ts("2025-03-30T01:30:00Z"),
    );
    assert_eq!(created(&p), None, "02:30 does not exist on 2025-03-30");
    assert_eq!(secs(&p), Some(82800.0), "2025-03-31 02:30 CEST is 00:30Z");
    // New York autumn: 01:30 EDT then 01:30 EST.
    let ny = json!({"schedule": "30 1 * * *", "timeZone": "America/New_York"});
    let st = json!({"lastScheduleTime": "2025-11-02T05:30:00Z"});
    let p = plan(&cronjob(ny, st), &[], ts("2025-11-02T05:30:00Z"));
    assert_eq!(secs(&p), Some(3600.0));
}

#[test]
fn sub_minute_every_schedules_name_jobs_by_seconds() {
    let p = plan(
        &cronjob(json!({"schedule": "@every 2s"}), json!({})),
        &[],
        ts("2025-06-02T10:00:33Z"),
    );
    let c = p.create.clone().expect("created");
    assert_eq!(c.scheduled, ts("2025-06-02T10:00:32Z"));
    assert_eq!(
        c.job.metadata.name,
        Some(format!("cj-{}", ts("2025-06-02T10:00:32Z").as_second()))
    );
    assert_eq!(secs(&p), Some(1.0));
    let hourly = plan(
        &cronjob(json!({"schedule": "@every 1h"}), json!({})),
        &[],
        ts("2025-06-02T11:00:31Z"),
    );
    assert_eq!(
        created(&hourly),
        Some(format!("cj-{}", minutes("2025-06-02T11:00:30Z")))
    );
}

#[test]
fn far_runs_wake_up_daily() {
    let leap = plan(
        &cronjob(json!({"schedule": "0 0 29 2 *"}), json!({})),
        &[],
        ts("2025-06-02T10:05:00Z"),
    );
    assert_eq!(created(&leap), None);
    assert_eq!(secs(&leap), Some(86400.0));
}

#[test]
fn impossible_schedules_and_deleted_cronjobs() {
    let p = plan(
        &cronjob(json!({"schedule": "0 0 30 2 *"}), json!({})),
        &[],
        ts("2025-06-02T10:05:00Z"),
    );
    assert_eq!(reasons(&p), ["InvalidSchedule"]);
    assert_eq!(
        p.events[0].message,
        "invalid schedule: 0 0 30 2 * : time difference between two schedules is less than 1 second"
    );
    let mut cj = cronjob(json!({}), json!({}));
    cj.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        ts("2025-06-02T10:05:00Z"),
    ));
    let p = plan(&cj, &[], ts("2025-06-02T10:05:00Z"));
    assert_eq!(created(&p), None);
    assert_eq!(p.requeue_after, None);
}

#[test]
fn the_cached_cronjob_without_its_template_plans_the_same_but_the_job() {
    // (case, spec, status, children, now): the shell plans on the cached CronJob, then
    // makes the Job from the template kept aside (or plans again on the CronJob it reads).
    type Case = (&'static str, Value, Value, Vec<Job>, &'static str);
    let cases: Vec<Case> = vec![
        (
            "first run",
            json!({}),
            json!({}),
            vec![],
            "2025-06-02T10:01:00.5Z",
        ),
        (
            "forbid with an active job",
            json!({"concurrencyPolicy": "Forbid"}),
            json!({"active": active(&["cj-1"])}),
            vec![job("cj-1", None)],
            "2025-06-02T10:03:00Z",
        ),
        (
            "replace",
            json!({"concurrencyPolicy": "Replace"}),
            json!({"active": active(&["cj-1"])}),
            vec![job("cj-1", None)],
            "2025-06-02T10:03:00Z",
        ),
        (
            "history pruned, a completed job seen",
            json!({"successfulJobsHistoryLimit": 1}),
            json!({"active": active(&["cj-2"])}),
            vec![
                job(
                    "cj-1",
                    Some((
                        "Complete",
                        Some("2025-06-02T10:01:00Z"),
                        "2025-06-02T10:01:05Z",
                    )),
                ),
                job(
                    "cj-2",
                    Some((
                        "Complete",
                        Some("2025-06-02T10:02:00Z"),
                        "2025-06-02T10:02:05Z",
                    )),
                ),
            ],
            "2025-06-02T10:02:30Z",
        ),
        (
            "suspended",
            json!({"suspend": true}),
            json!({}),
            vec![],
            "2025-06-02T10:05:00Z",
        ),
        (
            "an unexpected job",
            json!({}),
            json!({}),
            vec![job("cj-7", None)],
            "2025-06-02T10:01:30Z",
        ),
    ];
    for (name, spec, status, jobs, now) in cases {
        let stored = cronjob(spec, status);
        let mut cached = stored.clone();
        crate::informers::slim_cronjob(&mut cached);
        assert_ne!(
            serde_json::to_value(&cached.spec).ok(),
            serde_json::to_value(&stored.spec).ok(),
            "{name}: the template is left out"
        );
        let full = plan(&stored, &jobs, ts(now));
        let slim = plan(&cached, &jobs, ts(now));
        let without_job = |p: &CronJobPlan| {
            let mut p = p.clone();
            let c = p.create.take().map(|c| (c.job.metadata.name, c.scheduled));
            (p, c)
        };
        assert_eq!(without_job(&slim), without_job(&full), "{name}");
        let template = stored.spec.as_ref().map(|s| &s.job_template).expect("spec");
        let kept = crate::informers::KeptTemplate::new(template).expect("kept");
        let body = |p: &CronJobPlan| {
            p.create
                .as_ref()
                .map(|c| super::job::job_body(&c.job, &kept).ok())
        };
        let encoded = full
            .create
            .as_ref()
            .map(|c| serde_json::to_vec(&c.job).ok());
        assert_eq!(
            body(&slim),
            encoded,
            "{name}: the Job's body written around the template"
        );
        // The shell reads the CronJob before it creates: only a stored one makes a Job.
        if let Some(c) = &full.create {
            assert!(c.job.spec.is_some(), "{name}");
            let slim_job = slim.create.as_ref().map(|c| c.job.spec.is_some());
            assert_eq!(slim_job, Some(false), "{name}");
        }
    }
}

/// The template kept aside for the cached version makes the Job the stored CronJob makes;
/// for another version none is kept (the sync then reads the CronJob); a deletion forgets it.
#[test]
fn kept_templates_are_those_of_the_cached_version() {
    let mut stored = cronjob(json!({}), json!({}));
    stored.metadata.resource_version = Some("7".into());
    let templates = crate::informers::JobTemplates::default();
    templates.keep(&stored);
    let mut cached = stored.clone();
    crate::informers::slim_cronjob(&mut cached);
    let kept = templates.get(&cached).expect("kept for version 7");
    // The shell plans on the cached CronJob, then writes the Job's body around the template.
    let (jobs, now) = (Vec::<Job>::new(), ts("2025-06-02T10:01:30Z"));
    let p = plan(&cached, &jobs, now);
    let body = p
        .create
        .as_ref()
        .map(|c| super::job::job_body(&c.job, &kept).ok());
    let made = plan(&stored, &jobs, now).create.expect("a Job is due").job;
    assert_eq!(body, Some(serde_json::to_vec(&made).ok()));
    let mut newer = cached.clone();
    newer.metadata.resource_version = Some("8".into());
    assert!(templates.get(&newer).is_none(), "another version's");
    templates.forget(UID);
    assert!(templates.get(&cached).is_none());
    assert!(templates.is_empty());
}

/// The body written around a kept template is the typed Job's encoding, whatever the
/// template holds: no metadata, labels only, an annotation the controller sets itself (the
/// scheduled time wins, as in `getJobFromTemplate2`), no spec, a spec with every kind of
/// value.
#[test]
fn job_bodies_are_the_jobs_encoding() {
    let templates = [
        json!({}),
        json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
        json!({"metadata": {"annotations": {
            "batch.kubernetes.io/cronjob-scheduled-timestamp": "earlier", "z": "\"q\"\n"}}}),
        json!({"metadata": {"labels": {"app": "x"}, "annotations": {"n": "1"}, "name": "ignored"}}),
        json!({"spec": {"parallelism": 2, "completions": 4, "backoffLimit": 0,
            "suspend": true, "ttlSecondsAfterFinished": 100,
            "template": {"metadata": {"labels": {"k": "v"}}, "spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "i",
                "command": ["sh", "-c", "echo é \"$(X)\""],
                "env": [{"name": "X", "value": ""}]}]}}}}),
    ];
    for (i, t) in templates.into_iter().enumerate() {
        let mut stored = cronjob(json!({"timeZone": "Asia/Shanghai"}), json!({}));
        if let Some(spec) = stored.spec.as_mut() {
            spec.job_template = serde_json::from_value(t).expect("template");
        }
        let mut cached = stored.clone();
        crate::informers::slim_cronjob(&mut cached);
        let template = stored.spec.as_ref().map(|s| &s.job_template).expect("spec");
        let kept = crate::informers::KeptTemplate::new(template).expect("kept");
        let now = ts("2025-06-02T10:01:30Z");
        let slim = plan(&cached, &[], now).create.expect("due").job;
        let made = plan(&stored, &[], now).create.expect("due").job;
        let body = super::job::job_body(&slim, &kept).expect("body");
        assert_eq!(
            String::from_utf8(body).ok(),
            serde_json::to_string(&made).ok(),
            "template {i}"
        );
    }
}

/// A due CronJob's sync stays alive, waiting for the minute's other creates, until they are
/// all made (one per due CronJob: 10,000 in the benchmark's minute). Its future was 18 KB,
/// then 5.2 KB; each page of it is fresh memory the minute touches (BENCHMARKS.md findings
/// 31 and 35): the API calls' futures and big values live in boxes while they are needed.
#[tokio::test]
async fn a_waiting_sync_is_small() {
    use std::sync::Arc;
    fn size<F: std::future::Future>(_: &F) -> usize {
        std::mem::size_of::<F>()
    }
    let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let gate = Arc::new(crate::gate::Gate::default());
    let informers = crate::informers::Informers::new(&client, &gate);
    let ctx = Arc::new(super::Context {
        recorder: crate::events::Recorder::new(client.clone(), super::COMPONENT),
        client,
        cronjobs: informers.cronjobs.store(),
        templates: informers.cronjob_templates.clone(),
        job_index: informers.jobs.index(super::cronjob_uid),
        gate: Arc::clone(&gate),
    });
    let slot = Arc::new(tokio::sync::Semaphore::new(1))
        .acquire_owned()
        .await
        .unwrap();
    let turn = super::Turn {
        _creating: gate.creating(),
        _slot: slot,
    };
    let key = kube::runtime::reflector::ObjectRef::new("x").within("d");
    let sync = super::sync(key, Arc::clone(&ctx), turn);
    assert!(size(&sync) <= 2048, "{} bytes", size(&sync));
    let cj = cronjob(json!({"schedule": "* * * * *"}), json!({}));
    let api = kube::Api::<Job>::namespaced(ctx.client.clone(), "d");
    let job = super::plan::JobRef {
        name: "a".into(),
        uid: "b".into(),
    };
    let delete = ctx.delete(&api, &cj, &job);
    assert!(size(&delete) <= 1024, "{} bytes", size(&delete));
}
