//! The batchlet binary: command line, configuration, composition of the server's parts,
//! signals and shutdown order. It holds no logic of its own.

mod bench;
mod compose;
mod pod_logs;
mod run;
mod schedule;
mod server;

use clap::{CommandFactory, Parser, Subcommand};

/// mimalloc instead of glibc malloc: LIST responses build and free many small JSON values,
/// where glibc's free-list consolidation dominated the profile (BENCHMARKS.md).
/// (Feature `system-allocator`: glibc's malloc, for heap profilers such as heaptrack.)
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

/// Kubernetes Jobs and CronJobs in one binary, driven by the stock kubectl.
#[derive(Debug, Parser)]
#[command(name = "batchlet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the Kubernetes API (batch/v1 Jobs and CronJobs, core/v1 Pods, Namespaces, Events,
    /// Nodes) from a durable store, and write an admin kubeconfig for kubectl.
    Server(server::Args),
    /// Run the Jobs of a manifest file (or one run of each CronJob) to completion in this
    /// process, with no server to start: shows progress and the pods' logs, then a summary.
    /// Exit status: 0 complete, 1 failed, 2 invalid manifest, 124 timeout.
    Run(run::Args),
    /// Run the benchmark suite (spawn, job-throughput with the Slurm peer, job-latency,
    /// cron-lateness, api, memory, agent) against baselines of the same run (BENCHMARKS.md).
    Bench(bench::Args),
    /// Print the next run times of a CronJob schedule in its time zone and in UTC, and warn
    /// about runs that daylight-saving changes skip or repeat.
    Schedule(schedule::Args),
    /// Print a shell completion script, e.g. `batchlet completion bash > /etc/bash_completion.d/batchlet`.
    Completion {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    // Hidden `batchlet shim STATE_DIR`: a container's supervisor (runtime::shim). It must run
    // before the async runtime and logging start: it stays single-threaded and small.
    if std::env::args_os().nth(1).is_some_and(|a| a == "shim") {
        return runtime::shim::main(std::env::args_os().skip(2));
    }
    let cli = Cli::parse();
    if let Command::Completion { shell } = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "batchlet",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let default_level = match cli.command {
        Command::Server(_) => "info",
        Command::Run(_) | Command::Bench(_) | Command::Schedule(_) | Command::Completion { .. } => {
            "warn"
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BATCHLET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(args).await.map(ExitCode::from),
            Command::Server(args) => server::run(args).await.map(|()| ExitCode::SUCCESS),
            Command::Bench(args) => bench::run(args).await.map(|()| ExitCode::SUCCESS),
            Command::Schedule(args) => schedule::run(args).map(|()| ExitCode::SUCCESS),
            Command::Completion { .. } => Ok(ExitCode::SUCCESS),
        }
    });
    // Blocking log readers may still wait on files; do not wait for them forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
