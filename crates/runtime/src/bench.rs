//! Measurements for the benchmark command (`batchlet bench`): the machine's raw spawn rate
//! and the runtime's cost on top of it. Nothing here is timed in tests.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::spec::ContainerSpec;
use crate::{ContainerRuntime, ProcessRuntime};

/// Raw `posix_spawn` + `waitpid` of `/bin/true` (std's `Command` without `pre_exec`), `n`
/// in total over `workers` threads. Returns spawns per second; 0 if a spawn failed.
pub fn spawn_wait_rate(n: usize, workers: usize) -> f64 {
    let workers = workers.max(1);
    let start = Instant::now();
    let ok = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let count = n / workers + usize::from(w < n % workers);
                scope.spawn(move || {
                    (0..count).all(|_| {
                        Command::new("/bin/true")
                            .stdin(Stdio::null())
                            .stdout(Stdio::null())
                            .stderr(Stdio::null())
                            .status()
                            .is_ok_and(|s| s.success())
                    })
                })
            })
            .collect();
        handles.into_iter().all(|h| h.join().unwrap_or(false))
    });
    if !ok {
        return 0.0;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Latency of `start` (the call until the command runs) for `n` sequential starts of
/// `/bin/true`, each then waited for and removed. Logs go under `log_dir`.
pub async fn runtime_start_to_running(
    rt: &ProcessRuntime,
    n: usize,
    log_dir: &Path,
) -> Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(n);
    let tag = std::process::id();
    for i in 0..n {
        let spec = true_spec(&format!("bench-{tag}-s{i}"), log_dir);
        let t0 = Instant::now();
        let handle = rt.start(&spec).await?;
        latencies.push(t0.elapsed());
        rt.wait(&handle).await?;
        rt.remove(&handle)?;
    }
    Ok(latencies)
}

/// Containers of `/bin/true` completed per second through the runtime (start, wait,
/// remove), `n` in total with `concurrency` in flight.
pub async fn runtime_completion_rate(
    rt: Arc<ProcessRuntime>,
    n: usize,
    concurrency: usize,
    log_dir: &Path,
) -> Result<f64> {
    let concurrency = concurrency.max(1);
    let tag = std::process::id();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let rt = Arc::clone(&rt);
        let log_dir = log_dir.to_owned();
        let count = n / concurrency + usize::from(w < n % concurrency);
        tasks.spawn(async move {
            for i in 0..count {
                let spec = true_spec(&format!("bench-{tag}-c{w}-{i}"), &log_dir);
                let handle = rt.start(&spec).await?;
                rt.wait(&handle).await?;
                rt.remove(&handle)?;
            }
            Ok::<(), crate::Error>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => result?,
            Err(e) => {
                return Err(crate::Error::Shim {
                    id: "bench".into(),
                    message: format!("benchmark task failed: {e}"),
                });
            }
        }
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn true_spec(id: &str, log_dir: &Path) -> ContainerSpec {
    ContainerSpec::new(
        id,
        vec!["/bin/true".into()],
        log_dir.join(format!("{id}.log")),
    )
}
