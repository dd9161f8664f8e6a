//! Scenario `spawn`: the machine's physical limit for short processes — posix_spawn+wait of
//! `/bin/true` on 2 workers (what two cores can do at all) — beside `xargs -P2` doing the
//! same, as a user would from a shell.

use super::{Sizes, median, run_line, runs_list};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Workers for the raw rate: one per core of the 2-core budget machine.
pub const WORKERS: usize = 2;

/// posix_spawn+wait of `/bin/true`, `n` in total over [`WORKERS`] threads; spawns/s.
pub async fn raw_rate(n: usize) -> Result<f64> {
    let rate = tokio::task::spawn_blocking(move || runtime::bench::spawn_wait_rate(n, WORKERS))
        .await
        .context("spawn benchmark thread")?;
    if rate == 0.0 {
        bail!("posix_spawn of /bin/true failed");
    }
    Ok(rate)
}

/// `xargs -P2 -n1 /bin/true` over `n` arguments; processes/s.
fn xargs_rate(n: usize) -> Result<f64> {
    let start = Instant::now();
    let mut child = Command::new("xargs")
        .args(["-P2", "-n1", "/bin/true"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("running xargs")?;
    {
        let mut stdin = child.stdin.take().context("xargs stdin")?;
        let input: String = (0..n).map(|i| format!("{i}\n")).collect();
        stdin.write_all(input.as_bytes())?;
    }
    if !child.wait()?.success() {
        bail!("xargs failed");
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

pub async fn run(sizes: &Sizes, runs: usize) -> Result<()> {
    println!(
        "spawn: posix_spawn+wait of /bin/true, {} per run",
        sizes.spawns
    );
    let (mut raw, mut xargs) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let r = raw_rate(sizes.spawns).await?;
        let n = sizes.spawns;
        let x = tokio::task::spawn_blocking(move || xargs_rate(n)).await??;
        run_line(
            "spawn",
            run,
            &format!("posix_spawn {r:.0}/s, xargs -P2 {x:.0}/s"),
        );
        raw.push(r);
        xargs.push(x);
    }
    println!(
        "spawn        posix_spawn+wait {WORKERS} workers {:>8.0} /s  {}",
        median(&raw),
        runs_list(&raw, 0)
    );
    println!(
        "spawn        xargs -P2               {:>8.0} /s  {}  ratio to posix_spawn {:.2}",
        median(&xargs),
        runs_list(&xargs, 0),
        median(&xargs) / median(&raw)
    );
    Ok(())
}
