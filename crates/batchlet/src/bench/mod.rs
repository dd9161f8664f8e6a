//! `batchlet bench`: the benchmark suite. Each scenario reports the median of `--runs` runs
//! and a baseline measured in the same run (the machine's raw spawn rate, the store's fsync
//! rate, a bare spawn's latency), with the load average beside each run. Method and
//! results: BENCHMARKS.md.
//!
//! One file per scenario: [`spawn`], [`job_throughput`] (with the [`slurm`] peer),
//! [`job_latency`], [`cron_lateness`], [`api`], [`memory`], [`agent`]; [`server`] starts
//! `batchlet server` children and speaks HTTP to them.

mod agent;
mod api;
mod cron_lateness;
mod job_latency;
mod job_throughput;
mod memory;
mod server;
mod slurm;
mod spawn;

use anyhow::Result;
use std::time::Duration;

/// The scenarios, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Spawn,
    JobThroughput,
    JobLatency,
    CronLateness,
    Api,
    Memory,
    Agent,
}

/// How big each scenario is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    /// A few seconds per scenario (the CI smoke): every figure printed, none meaningful.
    Tiny,
    /// The sizes of DESIGN.md's budget (10,000 completions, 10,000 CronJobs, 100,000 pods).
    Full,
}

/// How the memory scenario makes its finished pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PodsVia {
    /// Real pods: Jobs of `/bin/true` through the whole server (slow: the server's pod rate).
    Jobs,
    /// Pods created bound to another registered Node, their status then patched Succeeded
    /// as a kubelet would (fast: two writes per pod, no process).
    StatusPatch,
}

/// Options of `batchlet bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenarios to run (default: all).
    #[arg(long = "scenario", value_enum, value_name = "NAME")]
    scenarios: Vec<Scenario>,
    /// Runs per scenario; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// tiny (smoke) or full (the budget's sizes; takes many minutes).
    #[arg(long, value_enum, default_value = "full")]
    size: Size,
    /// Tasks the Slurm peer runs (as an array and as single jobs); default: the Job's
    /// completions. 0 skips the peer.
    #[arg(long, value_name = "N")]
    slurm_tasks: Option<usize>,
    /// Finished pods in the memory scenario (default: 100 tiny, 100,000 full).
    #[arg(long, value_name = "N")]
    memory_pods: Option<usize>,
    /// How the memory scenario makes its finished pods.
    #[arg(long, value_enum, value_name = "HOW", default_value = "jobs")]
    memory_pods_via: PodsVia,
    /// The memory scenario's server's `--terminated-pod-gc-threshold` (default: the
    /// server's, 12,500; 0 keeps every finished pod).
    #[arg(long, value_name = "N")]
    memory_gc_threshold: Option<usize>,
    /// The memory scenario's server's `--default-watch-cache-size` (default: the server's).
    #[arg(long, value_name = "N")]
    memory_watch_cache_size: Option<usize>,
}

/// Sizes of every scenario, from `--size` and the overrides.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub spawns: usize,
    pub completions: usize,
    pub parallelism: usize,
    pub latency_jobs: usize,
    pub cronjobs: usize,
    pub clients: usize,
    pub writes: usize,
    pub list_size: usize,
    pub memory_cronjobs: usize,
    pub memory_pods: usize,
    pub memory_pods_via: PodsVia,
    pub memory_gc_threshold: Option<usize>,
    pub memory_watch_cache_size: Option<usize>,
    pub slurm_tasks: usize,
    pub agent_pods: usize,
}

impl Sizes {
    fn new(args: &Args) -> Sizes {
        let mut s = match args.size {
            Size::Tiny => Sizes {
                spawns: 200,
                completions: 20,
                parallelism: 10,
                latency_jobs: 5,
                cronjobs: 20,
                clients: 4,
                writes: 32,
                list_size: 40,
                memory_cronjobs: 20,
                memory_pods: 20,
                memory_pods_via: args.memory_pods_via,
                memory_gc_threshold: args.memory_gc_threshold,
                memory_watch_cache_size: args.memory_watch_cache_size,
                slurm_tasks: 20,
                agent_pods: 20,
            },
            Size::Full => Sizes {
                spawns: 4000,
                completions: 10_000,
                parallelism: 100,
                latency_jobs: 200,
                cronjobs: 10_000,
                clients: 16,
                writes: 2000,
                list_size: 10_000,
                memory_cronjobs: 10_000,
                memory_pods: 100_000,
                memory_pods_via: args.memory_pods_via,
                memory_gc_threshold: args.memory_gc_threshold,
                memory_watch_cache_size: args.memory_watch_cache_size,
                slurm_tasks: 10_000,
                agent_pods: 1000,
            },
        };
        if let Some(n) = args.slurm_tasks {
            s.slurm_tasks = n;
        } else {
            s.slurm_tasks = s.completions;
        }
        if let Some(n) = args.memory_pods {
            s.memory_pods = n;
        }
        s
    }
}

/// The one-minute load average, printed beside each run: the machine is shared.
pub fn load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// The median of `v` (NaN when empty).
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The `p`-th percentile (nearest rank) of `v`, in the unit of `v`.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Milliseconds of a duration, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `[a, b, c]` with `decimals` digits.
pub fn runs_list(v: &[f64], decimals: usize) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:.decimals$}")).collect();
    format!("[{}]", parts.join(", "))
}

/// Prints one run's figures, prefixed by scenario and run number, with the load average.
pub fn run_line(scenario: &str, run: usize, text: &str) {
    println!("  {scenario} run {run}: {text}  (load {:.2})", load());
}

/// Runs the chosen scenarios and prints the results.
pub async fn run(args: Args) -> Result<()> {
    let runs = args.runs.max(1);
    let sizes = Sizes::new(&args);
    let all = [
        Scenario::Spawn,
        Scenario::JobThroughput,
        Scenario::JobLatency,
        Scenario::CronLateness,
        Scenario::Api,
        Scenario::Memory,
        Scenario::Agent,
    ];
    let chosen: Vec<Scenario> = all
        .into_iter()
        .filter(|s| args.scenarios.is_empty() || args.scenarios.contains(s))
        .collect();
    println!(
        "batchlet bench: size {:?}, {runs} runs per scenario, median reported; {} cores, load {:.2}",
        args.size,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load()
    );
    for scenario in chosen {
        match scenario {
            Scenario::Spawn => spawn::run(&sizes, runs).await?,
            Scenario::JobThroughput => job_throughput::run(&sizes, runs).await?,
            Scenario::JobLatency => job_latency::run(&sizes, runs).await?,
            Scenario::CronLateness => cron_lateness::run(&sizes, runs).await?,
            Scenario::Api => api::run(&sizes, runs).await?,
            Scenario::Memory => memory::run(&sizes).await?,
            Scenario::Agent => agent::run(&sizes, runs).await?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        for (p, want) in [(50.0, 100.0), (99.0, 198.0), (100.0, 200.0), (0.0, 1.0)] {
            assert_eq!(percentile(&v, p), want, "p{p}");
        }
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn medians() {
        for (v, want) in [
            (vec![3.0, 1.0, 2.0], 2.0),
            (vec![4.0, 1.0, 2.0, 3.0], 2.5),
            (vec![7.0], 7.0),
        ] {
            assert_eq!(median(&v), want);
        }
        assert!(median(&[]).is_nan());
    }
}
