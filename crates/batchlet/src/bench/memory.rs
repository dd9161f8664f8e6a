//! Scenario `memory`: resident memory of a whole server (controllers, scheduler, agent):
//! idle, then with N CronJobs (scheduled once a year, so none runs), then after M pods ran
//! to completion and stay as finished pods (Jobs of at most 10,000 completions of
//! `/bin/true`, parallelism 100, one after the other: real pods through the whole server,
//! so a long run at full size).

use super::server::{ServerProcess, true_job, wait_complete};
use super::{Sizes, load};
use anyhow::Result;
use serde_json::json;
use std::time::{Duration, Instant};

/// Completions per Job when running the finished pods.
const PODS_PER_JOB: usize = 10_000;

pub async fn run(sizes: &Sizes) -> Result<()> {
    let (n, m) = (sizes.memory_cronjobs, sizes.memory_pods);
    println!("memory: whole server, idle, with {n} CronJobs, after {m} finished pods (one run)");
    let srv = ServerProcess::start(false)?;
    let api = &srv.api;
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "memory       rss idle whole server {:>8.1} MiB  (load {:.2})",
        srv.rss_mib(),
        load()
    );
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
    println!(
        "memory       rss with {n} CronJobs {:>8.1} MiB  (load {:.2})",
        srv.rss_mib(),
        load()
    );
    let start = Instant::now();
    let (mut done, mut job) = (0, 0);
    while done < m {
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
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!(
        "memory       rss with {n} CronJobs and {m} finished pods {:>8.1} MiB  (load {:.2})",
        srv.rss_mib(),
        load()
    );
    Ok(())
}
