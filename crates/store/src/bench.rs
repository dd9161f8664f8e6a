//! Write-throughput benchmarks (durable writes per second), called by the project's
//! benchmark command. Each run uses a fresh store file in `dir`; failures are logged and
//! reported as 0 writes/s.

use std::path::Path;
use std::time::Instant;

use bytes::Bytes;

use crate::{Options, Result, Store};

/// Writes/s with one writer awaiting each write (one fsync per write).
pub async fn fsync_single_writer(dir: &Path, n: usize) -> f64 {
    report(
        "fsync_single_writer",
        run(dir, "bench-single.db", 1, n).await,
    )
}

/// Writes/s with `clients` concurrent writers of `n_per_client` writes each (group
/// commit shares fsyncs between them).
pub async fn group_commit(dir: &Path, clients: usize, n_per_client: usize) -> f64 {
    report(
        "group_commit",
        run(dir, "bench-group.db", clients, n_per_client).await,
    )
}

fn report(name: &str, r: Result<f64>) -> f64 {
    r.unwrap_or_else(|e| {
        tracing::error!(error = %e, "benchmark {name} failed");
        0.0
    })
}

async fn run(dir: &Path, file: &str, clients: usize, n: usize) -> Result<f64> {
    let path = dir.join(file);
    for suffix in ["", "-wal", "-shm"] {
        let p = dir.join(format!("{file}{suffix}"));
        if p.exists() {
            std::fs::remove_file(p)?;
        }
    }
    let store = Store::open(&path, Options::default())?;
    let value = Bytes::from(vec![b'x'; 512]);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (store, value) = (store.clone(), value.clone());
            tokio::spawn(async move {
                for i in 0..n {
                    store
                        .create(&format!("/bench/{c}/{i}"), value.clone())
                        .await?;
                }
                Ok::<_, crate::Error>(())
            })
        })
        .collect();
    for t in tasks {
        t.await
            .map_err(|e| crate::Error::Storage(e.to_string()))??;
    }
    let secs = started.elapsed().as_secs_f64();
    store.close().await;
    Ok((clients * n) as f64 / secs.max(f64::EPSILON))
}
