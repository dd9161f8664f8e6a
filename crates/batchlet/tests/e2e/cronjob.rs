//! The CronJob controller and `batchlet schedule`, driven by kubectl. Sub-minute `@every`
//! schedules keep the tests short (batchlet names their Jobs by seconds); the tests play
//! the kubelet where a Job must finish, so they do not depend on the node agent.

use crate::harness::{Server, kubectl_available};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Turns a hang into a failure; never a performance threshold.
const PATIENCE: Duration = Duration::from_secs(90);

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn create(s: &Server, obj: &Value) -> crate::harness::Run {
    let r = s.kubectl_stdin(&["create", "-f", "-"], obj.to_string().as_bytes());
    assert!(r.success, "{r:?}");
    r
}

fn cronjob(name: &str, schedule: &str, spec: Value, command: &[&str]) -> Value {
    let mut s = json!({
        "schedule": schedule,
        "jobTemplate": {"spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": command}]
        }}}}
    });
    if let (Some(b), Value::Object(extra)) = (s.as_object_mut(), spec) {
        b.extend(extra);
    }
    json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name}, "spec": s})
}

fn list(s: &Server, what: &str) -> Vec<Value> {
    let out = s.ok(&["get", what, "-o", "json"]);
    let v: Value = serde_json::from_str(&out).expect("json");
    v["items"].as_array().cloned().unwrap_or_default()
}

/// A CronJob's Jobs (controlled by it): name, scheduled time, finished condition.
#[derive(Debug, Clone)]
struct JobView {
    name: String,
    scheduled: jiff::Timestamp,
    complete: bool,
}

fn jobs_of(s: &Server, cj: &str) -> Vec<JobView> {
    let mut out: Vec<JobView> = list(s, "jobs")
        .iter()
        .filter(|j| j["metadata"]["ownerReferences"][0]["name"] == cj)
        .filter(|j| j["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|j| {
            let ann =
                &j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"];
            let conds = j["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            Some(JobView {
                name: j["metadata"]["name"].as_str()?.to_owned(),
                scheduled: ann.as_str()?.parse().ok()?,
                complete: conds
                    .iter()
                    .any(|c| c["type"] == "Complete" && c["status"] == "True"),
            })
        })
        .collect();
    out.sort_by_key(|j| j.scheduled);
    out
}

fn events_of(s: &Server, name: &str) -> Vec<(String, String)> {
    list(s, "events")
        .iter()
        .filter(|e| e["involvedObject"]["name"] == name)
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or("").to_owned(),
                e["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Plays the kubelet: every unfinished pod whose Job name starts with `prefix` succeeds.
fn finish_pods(s: &Server, prefix: &str) {
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for p in list(s, "pods") {
        let job = p["metadata"]["labels"]["batch.kubernetes.io/job-name"]
            .as_str()
            .unwrap_or("");
        let phase = p["status"]["phase"].as_str().unwrap_or("");
        if !job.starts_with(prefix) || phase == "Succeeded" || phase == "Failed" {
            continue;
        }
        let patch = json!({"status": {
            "phase": "Succeeded",
            "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}],
            "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                "startedAt": now, "finishedAt": now}}}]
        }});
        let name = p["metadata"]["name"].as_str().unwrap_or("");
        // The agent may finish it first: a failure here is not the test's concern.
        let _ = s.kubectl(&[
            "patch",
            "pod",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch.to_string(),
        ]);
    }
}

#[test]
fn runs_keep_the_history_limit_and_suspend_stops_them() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    create(
        &s,
        &cronjob(
            "often",
            "@every 2s",
            json!({"successfulJobsHistoryLimit": 2}),
            &["true"],
        ),
    );
    let mut seen = BTreeSet::new();
    eventually("six runs", || {
        finish_pods(&s, "often-");
        seen.extend(jobs_of(&s, "often").into_iter().map(|j| j.name));
        seen.len() >= 6
    });
    let table = s.ok(&["get", "cronjob", "often"]);
    assert!(
        table.contains("LAST SCHEDULE") && table.contains("ACTIVE"),
        "{table}"
    );
    s.ok(&[
        "patch",
        "cronjob",
        "often",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    eventually("two complete Jobs kept, none active", || {
        finish_pods(&s, "often-");
        let jobs = jobs_of(&s, "often");
        jobs.len() == 2 && jobs.iter().all(|j| j.complete)
    });
    let events = events_of(&s, "often");
    for reason in ["SuccessfulCreate", "SawCompletedJob", "SuccessfulDelete"] {
        assert!(
            events.iter().any(|(r, _)| r == reason),
            "no {reason}: {events:?}"
        );
    }
    // Suspended: no new Job in a few periods.
    let before: Vec<String> = jobs_of(&s, "often").into_iter().map(|j| j.name).collect();
    std::thread::sleep(Duration::from_secs(5));
    let after: Vec<String> = jobs_of(&s, "often").into_iter().map(|j| j.name).collect();
    assert_eq!(before, after);
}

#[test]
fn forbid_waits_and_replace_replaces() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let sleep = ["sleep", "20"];
    create(
        &s,
        &cronjob(
            "forbid",
            "@every 2s",
            json!({"concurrencyPolicy": "Forbid"}),
            &sleep,
        ),
    );
    create(
        &s,
        &cronjob(
            "replace",
            "@every 2s",
            json!({"concurrencyPolicy": "Replace"}),
            &sleep,
        ),
    );
    let mut replaced = BTreeSet::new();
    eventually("Replace starts three Jobs", || {
        replaced.extend(jobs_of(&s, "replace").into_iter().map(|j| j.name));
        replaced.len() >= 3
    });
    assert_eq!(jobs_of(&s, "forbid").len(), 1, "Forbid never runs two");
    let events = events_of(&s, "forbid");
    assert!(
        events.iter().any(|(r, _)| r == "JobAlreadyActive"),
        "{events:?}"
    );
    let events = events_of(&s, "replace");
    assert!(
        events.iter().any(|(r, _)| r == "SuccessfulDelete"),
        "{events:?}"
    );
    eventually("Replace keeps one active Job", || {
        let active = s.ok(&[
            "get",
            "cronjob",
            "replace",
            "-o",
            "jsonpath={.status.active[*].name}",
        ]);
        active.split_whitespace().count() == 1
    });
}

#[test]
fn after_downtime_one_catch_up_job_runs_and_an_event_names_the_missed_runs() {
    if !kubectl_available() {
        return;
    }
    let mut s = Server::start();
    let spec = json!({"startingDeadlineSeconds": 300});
    create(&s, &cronjob("catchup", "@every 3s", spec, &["true"]));
    eventually("a first Job", || !jobs_of(&s, "catchup").is_empty());
    s.kill();
    let down = jiff::Timestamp::now();
    std::thread::sleep(Duration::from_secs(10));
    s.restart();
    eventually("a Job after the restart", || {
        jobs_of(&s, "catchup").iter().any(|j| j.scheduled > down)
    });
    let jobs = jobs_of(&s, "catchup");
    let before = jobs
        .iter()
        .rfind(|j| j.scheduled <= down)
        .expect("a Job before");
    let after = jobs
        .iter()
        .find(|j| j.scheduled > down)
        .expect("a Job after");
    // Three or more runs fell in the downtime; only the most recent one started.
    let gap = after.scheduled.as_second() - before.scheduled.as_second();
    assert!(gap >= 9, "{jobs:?}");
    let missed: Vec<(String, String)> = events_of(&s, "catchup")
        .into_iter()
        .filter(|(r, _)| r == "MissSchedule")
        .collect();
    let first_missed = before
        .scheduled
        .checked_add(jiff::SignedDuration::from_secs(3))
        .expect("time")
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert!(
        missed
            .iter()
            .any(|(_, m)| m.contains(&first_missed) && m.contains("superseded")),
        "{missed:?}"
    );
}

#[test]
fn manual_jobs_run_at_once_and_are_never_pruned() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let spec = json!({"suspend": true, "successfulJobsHistoryLimit": 0});
    create(&s, &cronjob("mysql-backup", "@every 2s", spec, &["true"]));
    s.ok(&[
        "create",
        "job",
        "mysql-backup-test",
        "--from=cronjob/mysql-backup",
    ]);
    eventually("the manual Job completes", || {
        finish_pods(&s, "mysql-backup-test");
        s.ok(&[
            "get",
            "job",
            "mysql-backup-test",
            "-o",
            "jsonpath={.status.succeeded}",
        ]) == "1"
    });
    s.ok(&[
        "patch",
        "cronjob",
        "mysql-backup",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    eventually("a scheduled Job is pruned", || {
        finish_pods(&s, "mysql-backup-");
        events_of(&s, "mysql-backup")
            .iter()
            .any(|(r, _)| r == "SuccessfulDelete")
    });
    s.ok(&["get", "job", "mysql-backup-test"]);
    let events = events_of(&s, "mysql-backup");
    assert!(
        !events.iter().any(|(_, m)| m.contains("mysql-backup-test")),
        "{events:?}"
    );
}

#[test]
fn the_seed_cronjob_creates_its_first_job_within_a_minute() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    s.ok(&["apply", "-f", "cronjob-fixed.yaml"]);
    eventually("cj-hello's first Job", || {
        !jobs_of(&s, "cj-hello").is_empty()
    });
    let job = &jobs_of(&s, "cj-hello")[0];
    assert_eq!(
        job.name,
        format!("cj-hello-{}", job.scheduled.as_second() / 60)
    );
    assert_eq!(job.scheduled.as_second() % 60, 0);
    eventually("LAST SCHEDULE is shown", || {
        // NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST-SCHEDULE AGE
        let row = s.ok(&["get", "cronjob", "cj-hello", "--no-headers"]);
        row.split_whitespace().nth(5).is_some_and(|c| c != "<none>")
    });
}

#[test]
fn schedules_are_checked_like_the_server_and_dst_runs_warn() {
    if !kubectl_available() {
        return;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_batchlet"))
        .args([
            "schedule",
            "*/5 02 * * *",
            "--time-zone",
            "Asia/Shanghai",
            "-n",
            "12",
        ])
        .args(["--after", "2025-06-01T00:00:00Z"])
        .output()
        .expect("batchlet schedule");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let utc: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(5))
        .collect();
    let want: Vec<String> = (0..12).map(|i| format!("18:{:02}:00Z", i * 5)).collect();
    assert_eq!(utc, want, "{text}");

    let s = Server::start();
    let mut cj = cronjob(
        "berlin",
        "30 2 * * *",
        json!({"timeZone": "Europe/Berlin"}),
        &["true"],
    );
    let r = create(&s, &cj);
    assert!(
        r.stderr
            .contains("Warning: spec.schedule: in time zone Europe/Berlin the clocks skip"),
        "{r:?}"
    );
    assert!(r.stderr.contains("will happen twice"), "{r:?}");
    for (name, schedule, zone, message) in [
        (
            "tz",
            "TZ=UTC 0 * * * *",
            None,
            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ),
        (
            "mars",
            "0 * * * *",
            Some("Mars/Base"),
            "unknown time zone Mars/Base",
        ),
    ] {
        cj = cronjob(name, schedule, json!({"timeZone": zone}), &["true"]);
        let r = s.kubectl_stdin(&["create", "-f", "-"], cj.to_string().as_bytes());
        assert!(!r.success && r.stderr.contains(message), "{r:?}");
        let cli = std::process::Command::new(env!("CARGO_BIN_EXE_batchlet"))
            .args(["schedule", schedule])
            .args(zone.map(|z| ["--time-zone", z]).into_iter().flatten())
            .output()
            .expect("batchlet schedule");
        assert!(!cli.status.success());
        assert!(String::from_utf8_lossy(&cli.stderr).contains(message));
    }
}
