//! Scenario `agent`: the node agent's share of a pod's cost. Until `agent::bench` (bind →
//! running latency and agent-only pods/s, issue 4) lands, this measures the layer under it,
//! the container runtime (`runtime::bench`): start → running latency of `/bin/true` through
//! the shim, and containers completed per second with 100 in flight, against a bare spawn
//! and the raw spawn rate of the same run.

use super::{Sizes, median, ms, percentile, run_line, runs_list, spawn};
use anyhow::{Context, Result};
use std::sync::Arc;

pub async fn run(sizes: &Sizes, runs: usize) -> Result<()> {
    let n = sizes.agent_pods;
    println!("agent: runtime layer (runtime::bench), {n} containers of /bin/true per run");
    let (mut p50, mut p99, mut rates, mut ratios) = (vec![], vec![], vec![], vec![]);
    for run in 1..=runs {
        let dir = tempfile::tempdir()?;
        let rt = runtime::ProcessRuntime::new(runtime::Config {
            state_root: dir.path().join("containers"),
            shim: runtime::ShimCommand::current_exe("shim")
                .context("locating the batchlet binary")?,
        })
        .context("starting the container runtime")?;
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs)?;
        let lat = runtime::bench::runtime_start_to_running(&rt, n, &logs).await?;
        let lat: Vec<f64> = lat.into_iter().map(ms).collect();
        let raw = spawn::raw_rate(sizes.spawns).await?;
        let rate = runtime::bench::runtime_completion_rate(Arc::new(rt), n, 100, &logs).await?;
        run_line(
            "agent",
            run,
            &format!(
                "start→running p50 {:.2} ms p99 {:.2} ms; {rate:.0} containers/s, raw spawn {raw:.0}/s, ratio {:.3}",
                percentile(&lat, 50.0),
                percentile(&lat, 99.0),
                rate / raw
            ),
        );
        p50.push(percentile(&lat, 50.0));
        p99.push(percentile(&lat, 99.0));
        rates.push(rate);
        ratios.push(rate / raw);
    }
    println!(
        "agent        runtime start→running p50 {:.2} ms {}  p99 {:.2} ms",
        median(&p50),
        runs_list(&p50, 2),
        median(&p99)
    );
    println!(
        "agent        runtime completions {:>8.0} /s {}  ratio to spawn {:.3}",
        median(&rates),
        runs_list(&rates, 0),
        median(&ratios)
    );
    Ok(())
}
