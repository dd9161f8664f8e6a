//! Scenario `job-throughput`: one Job of N completions of `/bin/true`, parallelism P, through
//! the whole server (API, store, Job controller, scheduler, node agent, runtime): pods/s from
//! the create to the Complete condition, against the raw spawn rate measured just before in
//! the same run, and the Slurm peer running the same tasks (array and single jobs).

use super::server::{ServerProcess, true_job, wait_complete};
use super::slurm::Slurm;
use super::{Sizes, median, run_line, runs_list, spawn};
use anyhow::Result;
use std::time::{Duration, Instant};

/// Kubernetes' figure: ≈ 2,500 pods/min at 50 client QPS (KEP-2307).
const KEP_2307_PODS_PER_S: f64 = 42.0;

/// One Job through a fresh whole server: (pods/s, server CPU ms per pod).
pub async fn job_rate(completions: usize, parallelism: usize) -> Result<(f64, f64)> {
    let srv = ServerProcess::start(false)?;
    let api = &srv.api;
    api.namespace("bench").await?;
    let cpu0 = srv.cpu_time();
    let start = Instant::now();
    api.create(
        "/apis/batch/v1/namespaces/bench/jobs",
        &true_job("throughput", completions, parallelism),
    )
    .await?;
    wait_complete(
        api,
        "/apis/batch/v1/namespaces/bench/jobs/throughput",
        completions,
        Duration::from_millis(50),
        Duration::from_secs(120) + Duration::from_millis(completions as u64 * 200),
    )
    .await?;
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (srv.cpu_time().saturating_sub(cpu0)).as_secs_f64() * 1000.0;
    Ok((completions as f64 / elapsed, cpu / completions as f64))
}

pub async fn run(sizes: &Sizes, runs: usize) -> Result<()> {
    let (n, p) = (sizes.completions, sizes.parallelism);
    println!(
        "job-throughput: a Job of {n} completions of /bin/true, parallelism {p}, whole server; Slurm: {} tasks",
        sizes.slurm_tasks
    );
    let slurm = if sizes.slurm_tasks == 0 {
        println!("  slurm: skipped: --slurm-tasks 0");
        None
    } else {
        match tokio::task::block_in_place(|| Slurm::start(p)) {
            Ok(s) => Some(s),
            Err(why) => {
                println!("  slurm: skipped: {why}");
                None
            }
        }
    };
    let (mut rates, mut ratios, mut cpus, mut raws) = (vec![], vec![], vec![], vec![]);
    let (mut arrays, mut singles) = (vec![], vec![]);
    for run in 1..=runs {
        let raw = spawn::raw_rate(sizes.spawns).await?;
        let (rate, cpu) = job_rate(n, p).await?;
        run_line(
            "job-throughput",
            run,
            &format!(
                "{rate:.0} pods/s, raw spawn {raw:.0}/s, ratio {:.3}, server CPU {cpu:.2} ms/pod",
                rate / raw
            ),
        );
        rates.push(rate);
        raws.push(raw);
        ratios.push(rate / raw);
        cpus.push(cpu);
        if let Some(slurm) = &slurm {
            let t = sizes.slurm_tasks;
            let deadline = Duration::from_secs(600) + Duration::from_millis(t as u64 * 500);
            let result = tokio::task::block_in_place(|| {
                Ok::<_, anyhow::Error>((slurm.array(t, deadline)?, slurm.singles(t, deadline)?))
            });
            match result {
                Ok((a, s)) => {
                    run_line(
                        "job-throughput",
                        run,
                        &format!("Slurm array {a:.1} tasks/s, single jobs {s:.1} jobs/s"),
                    );
                    arrays.push(a);
                    singles.push(s);
                }
                Err(e) => println!("  slurm: run {run} failed: {e:#}"),
            }
        }
    }
    println!(
        "job-throughput batchlet {n} pods     {:>8.1} pods/s {}  ratio to spawn {:.3} {}  (raw spawn {:.0}/s)",
        median(&rates),
        runs_list(&rates, 1),
        median(&ratios),
        runs_list(&ratios, 3),
        median(&raws)
    );
    println!(
        "job-throughput server CPU per pod {:>8.2} ms     {}",
        median(&cpus),
        runs_list(&cpus, 2)
    );
    println!(
        "job-throughput vs KEP-2307 (≈{KEP_2307_PODS_PER_S} pods/s) {:>6.1} ×",
        median(&rates) / KEP_2307_PODS_PER_S
    );
    if !arrays.is_empty() {
        println!(
            "job-throughput slurm array {} tasks {:>8.1} tasks/s {}  batchlet/slurm {:.2}",
            sizes.slurm_tasks,
            median(&arrays),
            runs_list(&arrays, 1),
            median(&rates) / median(&arrays)
        );
        println!(
            "job-throughput slurm {} single jobs {:>7.1} jobs/s {}  batchlet/slurm {:.2}",
            sizes.slurm_tasks,
            median(&singles),
            runs_list(&singles, 1),
            median(&rates) / median(&singles)
        );
    }
    Ok(())
}
