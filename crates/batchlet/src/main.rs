//! The batchlet binary: command line, configuration, composition of the server's parts,
//! signals and shutdown order. It holds no logic of its own.

mod server;

use clap::{Parser, Subcommand};
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BATCHLET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
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
            Command::Server(args) => server::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
