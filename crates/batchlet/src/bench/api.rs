//! Scenario `api`: the API alone (`batchlet server --api-only`, no controllers), each figure
//! against a baseline of the same run.
//!
//! - `store-fsync`: the store's own rate with one writer awaiting each durable write (the
//!   baseline: one fsync per write), and with concurrent writers (group commit).
//! - `api-create`: durable creates/s of (suspended) Jobs through the real server binary
//!   (HTTP, JSON, admission, store), concurrent clients on keep-alive connections.
//! - `list`: LIST of N Jobs as a Table (what `kubectl get jobs` asks for) and as JSON.
//! - `patch`: strategic merge patches/s on a Job with 20 containers (what `kubectl apply` of a
//!   changed manifest sends), against plain updates (PUT) of the same object.
//! - `rss`: resident memory of the idle API-only server, and after the load.

use super::server::{Api, ServerProcess, TABLE_ACCEPT};
use super::{Sizes, median, run_line, runs_list};
use anyhow::{Result, bail};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A suspended Job: the API is measured, not the controllers and pods it would start.
fn job(name: String) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {"suspend": true, "completions": 4, "parallelism": 2, "backoffLimit": 2, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "echo hello"]}]
        }}}
    })
}

/// A Job with 20 containers, as `kubectl apply` would have created it.
fn wide_job(name: &str) -> Value {
    let containers: Vec<Value> = (0..20)
        .map(|i| {
            json!({"name": format!("c{i}"), "image": "busybox:1.36",
                "command": ["sh", "-c", "echo hello"], "env": [{"name": "N", "value": i.to_string()}]})
        })
        .collect();
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {"suspend": true, "template": {"spec": {"restartPolicy": "Never", "containers": containers}}}
    })
}

async fn expect(api: &Api, method: http::Method, path: &str, ct: &str, body: String) -> Result<()> {
    let (status, bytes) = api
        .request(method.clone(), path, "application/json", ct, Some(body))
        .await?;
    if status != http::StatusCode::OK {
        bail!(
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok(())
}

/// Sequential strategic merge patches (a label change plus the container list with
/// `$setElementOrder`, as kubectl apply sends it) and sequential unconditional PUTs with a
/// label change, on the same 20-container Job; ops/s per run.
async fn patch_vs_update(api: &Api, runs: usize, n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    api.namespace("bench-patch").await?;
    let path = "/apis/batch/v1/namespaces/bench-patch/jobs/wide";
    api.create(
        "/apis/batch/v1/namespaces/bench-patch/jobs",
        &wide_job("wide"),
    )
    .await?;
    let order: Vec<Value> = (0..20).map(|i| json!({"name": format!("c{i}")})).collect();
    let (mut smp, mut put) = (Vec::new(), Vec::new());
    let mut counter = 0u64;
    for _ in 0..runs {
        let start = Instant::now();
        for _ in 0..n {
            counter += 1;
            let patch = json!({
                "metadata": {"labels": {"rev": counter.to_string()}},
                "spec": {"template": {"spec": {"$setElementOrder/containers": order, "containers": [{"name": "c7", "image": "busybox:1.36"}]}}}
            });
            let ct = "application/strategic-merge-patch+json";
            expect(api, http::Method::PATCH, path, ct, patch.to_string()).await?;
        }
        smp.push(n as f64 / start.elapsed().as_secs_f64());

        // The client's copy, read once; each PUT is unconditional (no resourceVersion), as
        // Jobs allow, so the loop measures the server's update path alone.
        let mut obj = api.get(path).await?;
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        let start = Instant::now();
        for _ in 0..n {
            counter += 1;
            obj["metadata"]["labels"]["rev"] = json!(counter.to_string());
            let ct = "application/json";
            expect(api, http::Method::PUT, path, ct, obj.to_string()).await?;
        }
        put.push(n as f64 / start.elapsed().as_secs_f64());
    }
    Ok((smp, put))
}

pub async fn run(sizes: &Sizes, runs: usize) -> Result<()> {
    let (clients, writes, list_size) = (sizes.clients, sizes.writes, sizes.list_size);
    println!(
        "api: server --api-only, {clients} clients, {writes} creates per run, LIST of {list_size} Jobs"
    );
    let (mut single, mut group) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let dir = tempfile::tempdir()?;
        let s = store::bench::fsync_single_writer(dir.path(), writes.min(2000)).await;
        let dir = tempfile::tempdir()?;
        let g = store::bench::group_commit(dir.path(), clients, writes / clients.max(1)).await;
        run_line(
            "store-fsync",
            run,
            &format!("single writer {s:.0}/s, {clients} writers {g:.0}/s"),
        );
        single.push(s);
        group.push(g);
    }
    let single_m = median(&single);
    println!(
        "store-fsync  single writer   {:>9.0} writes/s  {}",
        single_m,
        runs_list(&single, 0)
    );
    println!(
        "store-fsync  {clients:>2} writers      {:>9.0} writes/s  {}",
        median(&group),
        runs_list(&group, 0)
    );

    let srv = ServerProcess::start(true)?;
    let api = &srv.api;
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("rss          idle api-only   {:>9.1} MiB", srv.rss_mib());

    api.namespace("bench").await?;
    let mut creates = Vec::new();
    for run in 0..runs {
        let path = "/apis/batch/v1/namespaces/bench/jobs";
        let r = api
            .create_many(path, writes, clients, move |i| job(format!("run{run}-{i}")))
            .await?;
        run_line("api-create", run + 1, &format!("{r:.0} creates/s"));
        creates.push(r);
    }
    let creates_m = median(&creates);
    println!(
        "api-create   {clients:>2} clients      {:>9.0} creates/s {}  ratio to single-writer fsync {:.2}",
        creates_m,
        runs_list(&creates, 0),
        creates_m / single_m
    );

    api.namespace("bench-list").await?;
    let path = "/apis/batch/v1/namespaces/bench-list/jobs";
    api.create_many(path, list_size, clients, |i| job(format!("job-{i}")))
        .await?;
    for (label, accept) in [("table", TABLE_ACCEPT), ("json", "application/json")] {
        let mut times = Vec::new();
        let mut size = 0;
        for run in 1..=runs {
            let start = Instant::now();
            let (status, body) = api
                .request(http::Method::GET, path, accept, "application/json", None)
                .await?;
            let t = start.elapsed().as_secs_f64() * 1000.0;
            if !status.is_success() {
                bail!("list returned {status}");
            }
            run_line("list", run, &format!("{label} {t:.1} ms"));
            times.push(t);
            size = body.len();
        }
        println!(
            "list         {list_size} jobs as {label:<5} {:>7.1} ms  {} ms, {:.1} MiB",
            median(&times),
            runs_list(&times, 1),
            size as f64 / 1048576.0
        );
    }
    let (smp, put) = patch_vs_update(api, runs, writes.min(500)).await?;
    println!(
        "patch        20 containers   {:>9.0} SMP/s     {}  ratio to PUT ({:.0}/s) {:.2}",
        median(&smp),
        runs_list(&smp, 0),
        median(&put),
        median(&smp) / median(&put)
    );
    println!(
        "rss          api-only after {} jobs {:>9.1} MiB",
        list_size + runs * writes,
        srv.rss_mib()
    );
    Ok(())
}
