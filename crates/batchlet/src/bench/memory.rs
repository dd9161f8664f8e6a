//! Scenario `memory`: resident memory of a whole server (controllers, scheduler, agent):
//! idle, then with N CronJobs (scheduled once a year, so none runs), then after M pods ran
//! to completion and stay as finished pods (Jobs of at most 10,000 completions of
//! `/bin/true`, parallelism 100, one after the other: real pods through the whole server,
//! so a long run at full size), or, with `--memory-pods-via status-patch`, after M pods
//! created bound to another registered Node and patched `Succeeded` as its kubelet would
//! (the same objects in the caches, without running M processes). The last figure is the
//! steady state: read once pod GC is done (the API lists no more terminated pods than its
//! threshold), then until two readings agree; it is printed with its anonymous and
//! file-backed parts, and split by mapping (the binary, the store's files, other files,
//! anonymous memory).

use super::server::{Api, ServerProcess, true_job, wait_complete};
use super::{PodsVia, Sizes, load};
use anyhow::{Result, bail};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Completions per Job when running the finished pods.
const PODS_PER_JOB: usize = 10_000;

pub async fn run(sizes: &Sizes) -> Result<()> {
    let (n, m) = (sizes.memory_cronjobs, sizes.memory_pods);
    println!("memory: whole server, idle, with {n} CronJobs, after {m} finished pods (one run)");
    let mut extra: Vec<String> = Vec::new();
    for (flag, value) in [
        ("--terminated-pod-gc-threshold", sizes.memory_gc_threshold),
        ("--default-watch-cache-size", sizes.memory_watch_cache_size),
    ] {
        if let Some(n) = value {
            extra.extend([flag.to_owned(), n.to_string()]);
        }
    }
    let srv = ServerProcess::start_with(false, &extra)?;
    let api = &srv.api;
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "memory       rss idle whole server {:>8.1} MiB  (load {:.2})",
        srv.rss_mib(),
        load()
    );
    println!("  memory: idle by mapping: {}", srv.rss_by_mapping());
    api.namespace("mem").await?;
    api.create_many("/apis/batch/v1/namespaces/mem/cronjobs", n, sizes.clients, |i| {
        json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": format!("cj-{i}")},
            "spec": {"schedule": "0 0 1 1 *", "timeZone": "Etc/UTC",
                "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox:1.36", "command": ["/bin/true"]}]}}}}}
        })
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (anon, file) = srv.rss_split_mib();
    println!(
        "memory       rss with {n} CronJobs {:>8.1} MiB  (anon {anon:.1}, file-backed {file:.1}; load {:.2})",
        srv.rss_mib(),
        load()
    );
    println!(
        "  memory: with {n} CronJobs by mapping: {}",
        srv.rss_by_mapping()
    );
    let start = Instant::now();
    if sizes.memory_pods_via == PodsVia::StatusPatch {
        patched_pods(api, &srv, m, sizes.clients).await?;
    }
    let (mut done, mut job) = (0, 0);
    while done < m && sizes.memory_pods_via == PodsVia::Jobs {
        let k = PODS_PER_JOB.min(m - done);
        let name = format!("pods-{job}");
        api.create(
            "/apis/batch/v1/namespaces/mem/jobs",
            &true_job(&name, k, 100),
        )
        .await?;
        wait_complete(
            api,
            &format!("/apis/batch/v1/namespaces/mem/jobs/{name}"),
            k,
            Duration::from_millis(200),
            Duration::from_secs(120) + Duration::from_millis(k as u64 * 200),
        )
        .await?;
        done += k;
        job += 1;
        println!(
            "  memory: {done} finished pods after {:.0} s, rss {:.1} MiB  (load {:.2})",
            start.elapsed().as_secs_f64(),
            srv.rss_mib(),
            load()
        );
    }
    let threshold = sizes
        .memory_gc_threshold
        .unwrap_or(controllers::pod_gc::DEFAULT_THRESHOLD);
    let kept = pod_gc_done(api, threshold, start).await?;
    let rss = settled_rss(&srv).await;
    let (anon, file) = srv.rss_split_mib();
    println!(
        "memory       rss with {n} CronJobs and {m} finished pods {rss:>8.1} MiB  (anon {anon:.1}, file-backed {file:.1}: mostly code; load {:.2}; steady state: read once pod GC is done, {kept} terminated pods left at threshold {threshold}, then two readings 5 s apart within 1 MiB)",
        load()
    );
    println!(
        "  memory: with {n} CronJobs and {m} finished pods by mapping: {}",
        srv.rss_by_mapping()
    );
    Ok(())
}

/// Waits until pod GC is done: the terminated pods the API lists are at most `threshold`
/// (checked every 5 s, at most 15 minutes; a threshold of 0 disables pod GC: no wait).
/// Returns the terminated pods left.
async fn pod_gc_done(api: &Api, threshold: usize, start: Instant) -> Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let left = terminated_pods(api).await?;
        if threshold == 0 || left <= threshold {
            println!(
                "  memory: pod GC done after {:.0} s: {left} terminated pods  (load {:.2})",
                start.elapsed().as_secs_f64(),
                load()
            );
            return Ok(left);
        }
        if Instant::now() > deadline {
            bail!(
                "pod GC not done after 15 minutes: {left} terminated pods, threshold {threshold}"
            );
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// The terminated pods (phase `Succeeded` or `Failed`) in namespace `mem`, listed in pages
/// of 500 so that counting them adds little to the server's memory.
async fn terminated_pods(api: &Api) -> Result<usize> {
    let (mut count, mut cont) = (0, String::new());
    loop {
        let mut path = "/api/v1/namespaces/mem/pods?limit=500".to_owned();
        if !cont.is_empty() {
            path.push_str("&continue=");
            path.push_str(&cont);
        }
        let list = api.get(&path).await?;
        count += list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
            .count();
        match list["metadata"]["continue"].as_str() {
            Some(c) if !c.is_empty() => cont = c.to_owned(),
            _ => return Ok(count),
        }
    }
}

/// The server's RSS once it settles: read every 5 s until two readings agree within 1 MiB
/// (at most 2 minutes).
async fn settled_rss(srv: &ServerProcess) -> f64 {
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut last = srv.rss_mib();
    for _ in 0..24 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let now = srv.rss_mib();
        if (now - last).abs() <= 1.0 {
            return now;
        }
        last = now;
    }
    last
}

/// The Node the status-patched pods are bound to (registered, never served by an agent).
const ELSEWHERE: &str = "bench-elsewhere";

/// A pod as the Job controller makes them, bound to [`ELSEWHERE`].
fn bound_pod(i: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("done-{i}"), "labels": {
            "batch.kubernetes.io/controller-uid": "00000000-0000-0000-0000-000000000000",
            "batch.kubernetes.io/job-name": "done", "controller-uid": "00000000-0000-0000-0000-000000000000",
            "job-name": "done"}},
        "spec": {"nodeName": ELSEWHERE, "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "main", "image": "busybox:1.36", "command": ["/bin/true"]}]}
    })
}

/// The status a kubelet writes when the pod's one container exited 0.
fn succeeded(i: usize) -> Value {
    let t = "2026-01-01T00:00:00Z";
    let cond = |ty: &str, status: &str, reason: Option<&str>| {
        let mut c =
            json!({"type": ty, "status": status, "lastProbeTime": null, "lastTransitionTime": t});
        if let Some(r) = reason {
            c["reason"] = json!(r);
        }
        c
    };
    json!({"status": {
        "phase": "Succeeded", "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}], "startTime": t, "qosClass": "BestEffort",
        "conditions": [
            cond("PodReadyToStartContainers", "False", None),
            cond("Initialized", "True", Some("PodCompleted")),
            cond("Ready", "False", Some("PodCompleted")),
            cond("ContainersReady", "False", Some("PodCompleted")),
            cond("PodScheduled", "True", None)],
        "containerStatuses": [{"name": "main", "image": "busybox:1.36", "imageID": "", "ready": false,
            "restartCount": 0, "started": false, "containerID": format!("batchlet://done-{i}_main_0"),
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t,
                "containerID": format!("batchlet://done-{i}_main_0")}}}]
    }})
}

/// Creates `m` pods bound to [`ELSEWHERE`] and patches each `Succeeded`, `clients` at a
/// time, printing the server's RSS every 10,000.
async fn patched_pods(api: &Api, srv: &ServerProcess, m: usize, clients: usize) -> Result<()> {
    api.create(
        "/api/v1/nodes",
        &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": ELSEWHERE}}),
    )
    .await?;
    let start = Instant::now();
    let step = 10_000.min(m.max(1));
    let mut done = 0;
    while done < m {
        let k = step.min(m - done);
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..clients.max(1) {
            let api = api.clone();
            let stride = clients.max(1);
            tasks.spawn(async move {
                let mut i = done + c;
                while i < done + k {
                    api.create("/api/v1/namespaces/mem/pods", &bound_pod(i))
                        .await?;
                    let (status, body) = api
                        .request(
                            http::Method::PATCH,
                            &format!("/api/v1/namespaces/mem/pods/done-{i}/status"),
                            "application/json",
                            "application/merge-patch+json",
                            Some(succeeded(i).to_string()),
                        )
                        .await?;
                    if status != http::StatusCode::OK {
                        bail!(
                            "PATCH pod done-{i} status: {status} {}",
                            String::from_utf8_lossy(&body)
                        );
                    }
                    i += stride;
                }
                Ok(())
            });
        }
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        done += k;
        println!(
            "  memory: {done} finished pods (status-patched) after {:.0} s, rss {:.1} MiB  (load {:.2})",
            start.elapsed().as_secs_f64(),
            srv.rss_mib(),
            load()
        );
    }
    Ok(())
}
