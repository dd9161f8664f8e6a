//! Scenario `job-latency`: Job create → first container running, observed as a watch client
//! sees it (as Kubernetes' pod startup SLI does): N single-pod Jobs of `/bin/true` created one
//! after the other against a whole server, each timed from the moment its POST is sent to the
//! first pod event whose container is running (or already terminated, with a start time).
//! The same events split the latency into create → pod created (Job controller) → bound
//! (scheduler) → running (node agent). Baseline in the same run: a bare spawn of `/bin/true`.

use super::server::{Event, ServerProcess, true_job};
use super::{Sizes, median, ms, percentile, run_line, runs_list};
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Latencies of one Job's pod, from its create: (pod created, bound, container started).
type Stages = (Duration, Duration, Duration);

fn job_name(pod: &Value) -> Option<&str> {
    pod["metadata"]["labels"]["batch.kubernetes.io/job-name"]
        .as_str()
        .or_else(|| pod["metadata"]["labels"]["job-name"].as_str())
}

fn started(pod: &Value) -> bool {
    pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| {
            c["state"]["running"].is_object() || c["state"]["terminated"]["startedAt"].is_string()
        })
}

/// Creates the Job `name` and follows its pod's events until its container started.
async fn one(
    srv: &ServerProcess,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    name: &str,
) -> Result<Stages> {
    let t0 = Instant::now();
    srv.api
        .create("/apis/batch/v1/namespaces/lat/jobs", &true_job(name, 1, 1))
        .await?;
    let (mut created, mut bound) = (None, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .with_context(|| format!("Job {name}: no running container within 60 s"))?
            .context("the pod watch ended")?;
        if job_name(&ev.object) != Some(name) {
            continue;
        }
        let since = ev.at.saturating_duration_since(t0);
        created.get_or_insert(since);
        if ev.object["spec"]["nodeName"].is_string() {
            bound.get_or_insert(since);
        }
        if started(&ev.object) {
            return Ok((created.unwrap_or(since), bound.unwrap_or(since), since));
        }
        if ev.object["status"]["phase"] == "Failed" {
            bail!("Job {name}'s pod failed: {}", ev.object["status"]);
        }
    }
}

/// `n` bare spawns of `/bin/true`: the time until each spawn returned (the process exists
/// and has exec'd), then waited for.
fn bare_spawn_ms(n: usize) -> Result<Vec<f64>> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let mut c = Command::new("/bin/true")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            let d = ms(t.elapsed());
            c.wait()?;
            Ok(d)
        })
        .collect()
}

pub async fn run(sizes: &Sizes, runs: usize) -> Result<()> {
    let n = sizes.latency_jobs;
    println!("job-latency: {n} single-pod Jobs of /bin/true, one at a time, whole server");
    let (mut p50, mut p99, mut base50, mut base99) = (vec![], vec![], vec![], vec![]);
    let (mut c50, mut b50) = (vec![], vec![]);
    for run in 1..=runs {
        let base = tokio::task::block_in_place(|| bare_spawn_ms(n))?;
        let srv = ServerProcess::start(false)?;
        srv.api.namespace("lat").await?;
        let mut events = srv
            .api
            .watch::<serde_json::Value>("/api/v1/namespaces/lat/pods")
            .await?;
        let mut stages = Vec::with_capacity(n);
        for i in 0..n {
            stages.push(one(&srv, &mut events, &format!("lat-{i}")).await?);
        }
        let running: Vec<f64> = stages.iter().map(|s| ms(s.2)).collect();
        let created: Vec<f64> = stages.iter().map(|s| ms(s.0)).collect();
        let bound: Vec<f64> = stages.iter().map(|s| ms(s.1 - s.0)).collect();
        let agent: Vec<f64> = stages.iter().map(|s| ms(s.2 - s.1)).collect();
        run_line(
            "job-latency",
            run,
            &format!(
                "create→running p50 {:.1} ms p99 {:.1} ms (create→pod p50 {:.1}, pod→bound p50 {:.1}, bound→running p50 {:.1}); bare spawn p50 {:.2} ms p99 {:.2} ms",
                percentile(&running, 50.0),
                percentile(&running, 99.0),
                percentile(&created, 50.0),
                percentile(&bound, 50.0),
                percentile(&agent, 50.0),
                percentile(&base, 50.0),
                percentile(&base, 99.0)
            ),
        );
        p50.push(percentile(&running, 50.0));
        p99.push(percentile(&running, 99.0));
        c50.push(percentile(&created, 50.0));
        b50.push(percentile(&agent, 50.0));
        base50.push(percentile(&base, 50.0));
        base99.push(percentile(&base, 99.0));
    }
    println!(
        "job-latency  create→running p50 {:>8.1} ms {}  p99 {:.1} ms {}",
        median(&p50),
        runs_list(&p50, 1),
        median(&p99),
        runs_list(&p99, 1)
    );
    println!(
        "job-latency  stages p50: create→pod {:.1} ms, bound→running {:.1} ms",
        median(&c50),
        median(&b50)
    );
    println!(
        "job-latency  bare spawn p50 {:>8.2} ms  p99 {:.2} ms  ratio p50 {:.0} ×",
        median(&base50),
        median(&base99),
        median(&p50) / median(&base50)
    );
    Ok(())
}
