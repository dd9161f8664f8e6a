//! Scenario `cron-lateness`: N CronJobs due in the same minute, on the real clock. They are
//! created far enough before a minute boundary (about N/200 s + 10 s), with the schedule
//! `M H * * *` in Etc/UTC for that minute and a suspended Job template (so that no pod
//! runs: the CronJob controller is measured). A watch on the namespace's Jobs records when
//! each Job's ADDED event arrives; lateness = that time − the minute (first, p50, p99, last).
//! The Jobs' `creationTimestamp` has whole seconds only, so it serves as a cross-check of the
//! last one; their scheduled-timestamp annotation must name the minute.

use super::server::ServerProcess;
use super::{Sizes, median, percentile, run_line, runs_list};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn cronjob(i: usize, schedule: &str) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": format!("cj-{i}")},
        "spec": {"schedule": schedule, "timeZone": "Etc/UTC",
            "jobTemplate": {"spec": {"suspend": true, "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox:1.36", "command": ["/bin/true"]}]}}}}}
    })
}

/// The first minute boundary at least `margin` from now (seconds since the epoch).
fn target_minute(now: SystemTime, margin: Duration) -> u64 {
    let t = (now + margin)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    t.div_ceil(60) * 60
}

/// The fields of a created Job the run reads: the watch's client decodes only these (a
/// whole `Value` per Job took ≈ 0.25 of the two cores from the server in the minute:
/// BENCHMARKS.md finding 59).
#[derive(serde::Deserialize)]
struct Created {
    metadata: CreatedMeta,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatedMeta {
    #[serde(default)]
    name: String,
    creation_timestamp: Option<String>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

/// Lateness of each Job in ms after the minute: (watch-observed lateness, creationTimestamp
/// seconds after the minute of the last one).
async fn one_run(n: usize, clients: usize) -> Result<(Vec<f64>, i64)> {
    let srv = ServerProcess::start(false)?;
    srv.api.namespace("cron").await?;
    let margin = Duration::from_secs(10 + n as u64 / 200);
    let minute = target_minute(SystemTime::now(), margin);
    let at = jiff::Timestamp::from_second(minute as i64)?;
    let schedule = format!("{} {} * * *", at.strftime("%M"), at.strftime("%H"));
    let mut events = srv
        .api
        .watch::<Created>("/apis/batch/v1/namespaces/cron/jobs")
        .await?;
    srv.api
        .create_many(
            "/apis/batch/v1/namespaces/cron/cronjobs",
            n,
            clients,
            move |i| cronjob(i, &schedule),
        )
        .await?;
    let boundary = UNIX_EPOCH + Duration::from_secs(minute);
    if SystemTime::now() + Duration::from_secs(1) > boundary {
        bail!(
            "creating {n} CronJobs took longer than the {margin:?} margin; the minute was missed"
        );
    }
    let deadline = tokio::time::Instant::now()
        + boundary
            .duration_since(SystemTime::now())
            .unwrap_or_default()
        + Duration::from_secs(120);
    let want = at.to_string();
    let (mut seen, mut lateness, mut last_created) = (HashSet::new(), Vec::new(), 0i64);
    while seen.len() < n {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .with_context(|| {
                format!(
                    "only {} of {n} Jobs created 120 s after the minute",
                    seen.len()
                )
            })?
            .context("the Job watch ended")?;
        if ev.kind != "ADDED" {
            continue;
        }
        let meta = ev.object.metadata;
        let scheduled = meta
            .annotations
            .get("batch.kubernetes.io/cronjob-scheduled-timestamp")
            .map(String::as_str)
            .unwrap_or_default();
        if scheduled != want {
            bail!(
                "Job {:?} scheduled for {scheduled:?}, not {want}",
                meta.name
            );
        }
        if !seen.insert(meta.name) {
            continue;
        }
        let late = match ev.wall.duration_since(boundary) {
            Ok(d) => d.as_secs_f64() * 1000.0,
            Err(e) => -(e.duration().as_secs_f64() * 1000.0),
        };
        lateness.push(late);
        if let Some(created) = meta
            .creation_timestamp
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        {
            last_created = last_created.max(created.as_second() - minute as i64);
        }
    }
    Ok((lateness, last_created))
}

pub async fn run(sizes: &Sizes, runs: usize) -> Result<()> {
    let n = sizes.cronjobs;
    println!(
        "cron-lateness: {n} CronJobs due in the same minute (real clock), Job ADDED seen by a watch; cron: 1-minute granularity"
    );
    let (mut first, mut p50, mut p99, mut last) = (vec![], vec![], vec![], vec![]);
    for run in 1..=runs {
        let (late, created) = one_run(n, sizes.clients).await?;
        let (f, m, p, l) = (
            percentile(&late, 0.0),
            percentile(&late, 50.0),
            percentile(&late, 99.0),
            percentile(&late, 100.0),
        );
        run_line(
            "cron-lateness",
            run,
            &format!(
                "first {f:.1} ms, p50 {m:.1} ms, p99 {p:.1} ms, last {l:.1} ms; last creationTimestamp minute+{created} s"
            ),
        );
        first.push(f);
        p50.push(m);
        p99.push(p);
        last.push(l);
    }
    println!(
        "cron-lateness {n} CronJobs first {:.1} ms {}  p50 {:.1} ms  p99 {:.1} ms  last {:.1} ms {}",
        median(&first),
        runs_list(&first, 1),
        median(&p50),
        median(&p99),
        median(&last),
        runs_list(&last, 1)
    );
    println!(
        "cron-lateness baseline: cron wakes once a minute (granularity 60,000 ms); Kubernetes CronJob v2: no visible delay at 6,120 CronJobs, v1: ~9 min at 5,120"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_minute_leaves_the_margin() {
        for (now, margin, want) in [(100, 10, 120), (110, 10, 120), (111, 10, 180), (0, 0, 0)] {
            let t = target_minute(
                UNIX_EPOCH + Duration::from_secs(now),
                Duration::from_secs(margin),
            );
            assert_eq!(t, want, "now {now} margin {margin}");
        }
    }
}
