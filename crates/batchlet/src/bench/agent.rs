//! Scenario `agent`: the node agent alone (`agent::bench`, issue 4): pods created already
//! bound to the node through an in-process API (router over a store in a temporary
//! directory, no scheduler, no Job controller), bind → container running p50/p99 against a
//! bare spawn of the same command, and pods of `/bin/true` completed per second with 100 in
//! flight against the raw spawn+wait rate, both in the same run. Beside it, the layer under
//! the agent: the container runtime alone (`runtime::bench`).

use super::{Sizes, median, ms, percentile, run_line, runs_list, spawn};
use anyhow::{Context, Result};
use apiserver::AppState;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The agent's API: the apiserver's router over a fresh store in `dir`, as `compose` builds it.
async fn in_process_api(dir: &Path) -> Result<(kube::Client, store::Store, CancellationToken)> {
    let (store, registry) = crate::compose::open_store(dir)
        .await
        .context("opening the bench store")?;
    let shutdown = CancellationToken::new();
    let router = apiserver::router(AppState {
        registry,
        shutdown: shutdown.clone(),
        server_address: "127.0.0.1:0".into(),
        token: None,
        pod_logs: None,
        omit_managed_fields: true,
    });
    Ok((kube::Client::new(router, "default"), store, shutdown))
}

pub async fn run(sizes: &Sizes, runs: usize) -> Result<()> {
    let n = sizes.agent_pods;
    println!("agent: {n} pods of /bin/true per run through the agent alone; runtime layer beside");
    let (mut a50, mut a99, mut arate, mut aratio) = (vec![], vec![], vec![], vec![]);
    let (mut p50, mut p99, mut rates, mut ratios) = (vec![], vec![], vec![], vec![]);
    for run in 1..=runs {
        // The agent alone.
        let dir = tempfile::tempdir()?;
        let (client, store, shutdown) = in_process_api(dir.path()).await?;
        let rt = Arc::new(crate::compose::process_runtime(dir.path())?);
        let lat = agent::bench::start_latency(
            client.clone(),
            Arc::clone(&rt),
            dir.path(),
            "bench-node",
            "default",
            n,
        )
        .await
        .context("agent start latency")?;
        let thr =
            agent::bench::completion_rate(client, rt, dir.path(), "bench-node", "default", n, 100)
                .await
                .context("agent completion rate")?;
        shutdown.cancel();
        store.close().await;
        run_line(
            "agent",
            run,
            &format!(
                "bind→running p50 {:.2} ms p99 {:.2} ms (stage p50s: create acknowledged {:.2}, agent to runtime start {:.2}, start {:.2} ms; bare spawn p50 {:.2} ms); {:.0} pods/s ({:.1} API writes per pod), raw spawn {:.0}/s, ratio {:.3}",
                ms(lat.agent_p50),
                ms(lat.agent_p99),
                ms(lat.stages_p50[0]),
                ms(lat.stages_p50[1]),
                ms(lat.stages_p50[2]),
                ms(lat.spawn_p50),
                thr.pods_per_sec,
                thr.writes_per_pod,
                thr.raw_per_sec,
                thr.ratio()
            ),
        );
        a50.push(ms(lat.agent_p50));
        a99.push(ms(lat.agent_p99));
        arate.push(thr.pods_per_sec);
        aratio.push(thr.ratio());

        // The runtime alone, under the agent.
        let dir = tempfile::tempdir()?;
        let rt = crate::compose::process_runtime(dir.path())?;
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
                "runtime start→running p50 {:.2} ms p99 {:.2} ms; {rate:.0} containers/s, raw spawn {raw:.0}/s, ratio {:.3}",
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
        "agent        bind→running p50 {:.2} ms {}  p99 {:.2} ms",
        median(&a50),
        runs_list(&a50, 2),
        median(&a99)
    );
    println!(
        "agent        pods completed {:>8.0} /s {}  ratio to spawn {:.3}",
        median(&arate),
        runs_list(&arate, 0),
        median(&aratio)
    );
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
