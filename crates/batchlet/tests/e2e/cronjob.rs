//! The CronJob controller and `batchlet schedule`, driven by kubectl. The Jobs' pods run for
//! real on the node agent. Sub-minute `@every` schedules keep the tests short (batchlet
//! names their Jobs by seconds) where the acceptance does not say "every minute"; where a
//! Job must finish by a given time the tests also play the kubelet (`finish_pods`). The
//! seed's per-minute `cj-hello` runs for five minutes, a server outage included.

use crate::harness::{
    Server, create, events_of, eventually, eventually_within, kubectl_available, list, marked_env,
    marked_processes,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

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
    // Resumed: runs again. As in Kubernetes (no startingDeadlineSeconds), the most recent
    // run missed while suspended starts at once; batchlet names the others in an Event.
    let last = jobs_of(&s, "often").last().expect("a Job").scheduled;
    s.ok(&[
        "patch",
        "cronjob",
        "often",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    eventually("a run after the suspension", || {
        finish_pods(&s, "often-");
        jobs_of(&s, "often").iter().any(|j| j.scheduled > last)
    });
    let missed: Vec<(String, String)> = events_of(&s, "often")
        .into_iter()
        .filter(|(r, _)| r == "MissSchedule")
        .collect();
    let first_missed = (last + jiff::SignedDuration::from_secs(2))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert!(
        missed
            .iter()
            .any(|(_, m)| m.contains(&first_missed) && m.contains("superseded")),
        "no MissSchedule naming {first_missed}: {missed:?}"
    );
}

/// The Job names (`E2E_JOB`) of the live processes of `cronjob`'s Jobs.
fn running_jobs(s: &Server, cronjob: &str) -> BTreeSet<String> {
    marked_processes(s)
        .into_iter()
        .filter_map(|p| p.env.get("E2E_JOB").cloned())
        .filter(|j| j.starts_with(&format!("{cronjob}-")))
        .collect()
}

/// Forbid, Replace and Allow, each every 2 s with Jobs that sleep 20 s, on real processes.
#[test]
fn forbid_waits_replace_replaces_and_allow_overlaps() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    for (name, policy) in [
        ("forbid", "Forbid"),
        ("replace", "Replace"),
        ("allow", "Allow"),
    ] {
        let mut cj = cronjob(
            name,
            "@every 2s",
            json!({"concurrencyPolicy": policy}),
            &["sleep", "20"],
        );
        cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"] =
            marked_env(&s);
        create(&s, &cj);
    }
    let mut replaced = BTreeSet::new();
    let mut overlapping = BTreeSet::new();
    eventually(
        "Replace starts three Jobs and Allow runs two at once",
        || {
            let forbid = running_jobs(&s, "forbid");
            assert!(forbid.len() <= 1, "Forbid runs {forbid:?}");
            replaced.extend(jobs_of(&s, "replace").into_iter().map(|j| j.name));
            let allow = running_jobs(&s, "allow");
            if allow.len() >= 2 {
                overlapping = allow;
            }
            replaced.len() >= 3 && overlapping.len() >= 2
        },
    );
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
    // A replaced Job's process is killed with it (each would sleep 20 s otherwise).
    eventually("the replaced Jobs' processes to be killed", || {
        let current: BTreeSet<String> =
            jobs_of(&s, "replace").into_iter().map(|j| j.name).collect();
        let gone: BTreeSet<&String> = replaced.difference(&current).collect();
        let running = running_jobs(&s, "replace");
        !gone.is_empty() && gone.iter().all(|j| !running.contains(*j))
    });
    let active = s.ok(&[
        "get",
        "cronjob",
        "allow",
        "-o",
        "jsonpath={.status.active[*].name}",
    ]);
    assert!(active.split_whitespace().count() >= 2, "{active}");
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

/// The ACTIVE and LAST SCHEDULE cells of `kubectl get cronjob cj-hello` (counted from the
/// right: the schedule has spaces).
fn active_and_last_schedule(s: &Server) -> (String, String) {
    let row = s.ok(&["get", "cronjob", "cj-hello", "--no-headers"]);
    let cells: Vec<&str> = row.split_whitespace().rev().collect();
    assert!(cells.len() >= 7, "{row}");
    (cells[2].to_owned(), cells[1].to_owned())
}

/// The minute boundaries in `(after, until]`.
fn minutes_between(after: jiff::Timestamp, until: jiff::Timestamp) -> Vec<jiff::Timestamp> {
    let first = after.as_second().div_euclid(60) * 60 + 60;
    (first..=until.as_second())
        .step_by(60)
        .map(|t| jiff::Timestamp::from_second(t).expect("time"))
        .collect()
}

/// The seed's `cj-hello` (typos fixed) for five minutes of wall time, mostly sleeping: a Job
/// every minute named by its minute, `kubectl get cronjob` with LAST SCHEDULE and ACTIVE;
/// the server SIGKILLed over two scheduled minutes and started again runs exactly one
/// catch-up Job and names the missed run in a `MissSchedule` Event; at the end 3 successful
/// Jobs remain (`successfulJobsHistoryLimit: 3`).
#[test]
fn the_seed_cronjob_runs_every_minute_catches_up_once_and_keeps_three() {
    if !kubectl_available() {
        return;
    }
    // A minute boundary plus a loaded machine's delay.
    let minute = Duration::from_secs(150);
    let mut s = Server::start();
    s.ok(&["apply", "-f", "cronjob-fixed.yaml"]);
    let mut first = None;
    eventually_within(minute, "cj-hello's first Job to complete", || {
        first = jobs_of(&s, "cj-hello").into_iter().find(|j| j.complete);
        first.is_some()
    });
    let first = first.expect("a Job");
    assert_eq!(
        first.name,
        format!("cj-hello-{}", first.scheduled.as_second() / 60)
    );
    assert_eq!(first.scheduled.as_second() % 60, 0);
    let logs = s.ok(&["logs", &format!("job/{}", first.name)]);
    assert!(
        logs.ends_with("Hello from the Kubernetes cluster\n"),
        "{logs:?}"
    );
    let table = s.ok(&["get", "cronjob", "cj-hello"]);
    let header = table.lines().next().unwrap_or_default();
    assert!(
        header.split_whitespace().collect::<Vec<_>>()
            == [
                "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"
            ],
        "{table}"
    );
    eventually("LAST SCHEDULE is shown", || {
        let (active, last) = active_and_last_schedule(&s);
        assert!(active.parse::<u32>().is_ok(), "ACTIVE: {active}");
        last != "<none>"
    });

    // Down over two scheduled minutes; started again well before the next one.
    s.kill();
    let down = jiff::Timestamp::now();
    let missed = minutes_between(down, down + jiff::SignedDuration::from_secs(120));
    let (skipped, catch_up) = (missed[0], missed[1]);
    let wake = catch_up + jiff::SignedDuration::from_secs(5);
    if let Ok(d) = Duration::try_from(wake.duration_since(jiff::Timestamp::now())) {
        std::thread::sleep(d);
    }
    s.restart();
    let up = jiff::Timestamp::now();
    assert_eq!(minutes_between(down, up), missed, "restarted too late");
    eventually_within(minute, "the catch-up Job", || {
        jobs_of(&s, "cj-hello")
            .iter()
            .any(|j| j.scheduled == catch_up)
    });
    let during: Vec<JobView> = jobs_of(&s, "cj-hello")
        .into_iter()
        .filter(|j| j.scheduled > down && j.scheduled < up)
        .collect();
    assert_eq!(during.len(), 1, "one catch-up Job: {during:?}");
    let skipped_text = skipped.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let events = events_of(&s, "cj-hello");
    assert!(
        events
            .iter()
            .any(|(r, m)| r == "MissSchedule" && m.contains(&skipped_text)),
        "no MissSchedule naming {skipped_text}: {events:?}"
    );

    // Two more runs: the oldest Job is pruned, three successful ones remain.
    let last = catch_up + jiff::SignedDuration::from_secs(120);
    let mut kept = Vec::new();
    eventually_within(
        3 * minute,
        "three successful Jobs, the last one at +2 min",
        || {
            kept = jobs_of(&s, "cj-hello");
            kept.len() == 3 && kept.iter().all(|j| j.complete) && kept[2].scheduled >= last
        },
    );
    assert!(kept.iter().all(|j| j.scheduled >= catch_up), "{kept:?}");
    let events = events_of(&s, "cj-hello");
    assert!(
        events
            .iter()
            .any(|(r, m)| r == "SuccessfulDelete" && m.contains(&first.name)),
        "{events:?}"
    );
    assert!(
        events.iter().any(|(r, _)| r == "SawCompletedJob"),
        "{events:?}"
    );
    assert_ne!(active_and_last_schedule(&s).1, "<none>");
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

/// The Jobs are made from the CronJob's current template (the slim cache holds none: the
/// controller reads it when a Job is due): once a Job of the changed template is made, no
/// later run uses the old one, and the Job's template is the CronJob's, field for field.
#[test]
fn a_changed_template_makes_the_next_jobs_and_never_the_old_one_again() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let template = |version: &str| {
        json!({"metadata": {"labels": {"version": version}, "annotations": {"note": version}},
            "spec": {"suspend": true, "backoffLimit": 0, "template": {
                "metadata": {"labels": {"version": version}},
                "spec": {"restartPolicy": "Never",
                    "containers": [{"name": "c", "image": format!("busybox:{version}"),
                        "command": ["true"]}]}}}})
    };
    let mut cj = cronjob("retemplated", "@every 2s", json!({}), &["true"]);
    cj["spec"]["jobTemplate"] = template("one");
    create(&s, &cj);
    let jobs = || -> Vec<(jiff::Timestamp, Value)> {
        let mut v: Vec<(jiff::Timestamp, Value)> = list(&s, "jobs")
            .into_iter()
            .filter(|j| j["metadata"]["ownerReferences"][0]["name"] == "retemplated")
            .filter_map(|j| {
                let ann = &j["metadata"]["annotations"]
                    ["batch.kubernetes.io/cronjob-scheduled-timestamp"];
                Some((ann.as_str()?.parse().ok()?, j))
            })
            .collect();
        v.sort_by_key(|(t, _)| *t);
        v
    };
    let version = |j: &Value| {
        j["metadata"]["labels"]["version"]
            .as_str()
            .map(str::to_owned)
    };
    eventually("a Job of the first template", || {
        jobs()
            .iter()
            .any(|(_, j)| version(j).as_deref() == Some("one"))
    });
    let patch = json!({"spec": {"jobTemplate": template("two")}});
    s.ok(&[
        "patch",
        "cronjob",
        "retemplated",
        "--type=merge",
        "-p",
        &patch.to_string(),
    ]);
    eventually("two Jobs of the changed template", || {
        jobs()
            .iter()
            .filter(|(_, j)| version(j).as_deref() == Some("two"))
            .count()
            >= 2
    });
    s.ok(&[
        "patch",
        "cronjob",
        "retemplated",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    let all = jobs();
    let first_two = all
        .iter()
        .position(|(_, j)| version(j).as_deref() == Some("two"))
        .expect("a Job of the changed template");
    for (t, j) in &all[first_two..] {
        assert_eq!(
            version(j).as_deref(),
            Some("two"),
            "run {t} after the change"
        );
        assert_eq!(j["metadata"]["annotations"]["note"], "two", "run {t}");
        let c = &j["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "busybox:two", "run {t}");
        assert_eq!(
            j["spec"]["template"]["metadata"]["labels"]["version"],
            "two"
        );
        assert_eq!(j["spec"]["suspend"], true, "run {t}");
    }
    for (t, j) in &all[..first_two] {
        let c = &j["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "busybox:one", "run {t} before the change");
    }
}
