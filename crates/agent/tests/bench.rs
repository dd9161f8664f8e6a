//! Smoke test of `agent::bench` at a tiny size: the functions run end to end against an
//! in-process API (apiserver router over a store in a temporary directory, composed as the
//! server composes it) and real processes. No timing is asserted.
//!
//! A custom harness: the runtime re-executes this test binary as its launcher of shims
//! (`bench shim STATE_ROOT`), as the batchlet binary does with `batchlet shim`.

use std::process::ExitCode;
use std::sync::Arc;

use apiserver::AppState;
use apiserver::registry::Registry;
use runtime::{Config, ProcessRuntime, ShimCommand};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "shim") {
        return runtime::shim::main(std::env::args_os().skip(2));
    }
    // `cargo test -- --list` and filters: this binary has one test, always run.
    if std::env::args().any(|a| a == "--list") {
        println!("bench_functions_run: test");
        return ExitCode::SUCCESS;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(bench_functions_run());
    println!("test bench_functions_run ... ok");
    ExitCode::SUCCESS
}

async fn bench_functions_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        store::Store::open(&dir.path().join("state.db"), store::Options::default()).expect("store");
    let registry = Registry::new(store.clone(), Arc::new(jiff::Timestamp::now));
    registry.bootstrap().await.expect("bootstrap");
    let shutdown = CancellationToken::new();
    let router = apiserver::router(AppState {
        registry,
        shutdown: shutdown.clone(),
        server_address: "127.0.0.1:0".into(),
        token: None,
        pod_logs: None,
        omit_managed_fields: false,
    });
    let client = kube::Client::new(router, "default");
    let runtime = Arc::new(
        ProcessRuntime::new(Config {
            state_root: dir.path().join("containers"),
            shim: ShimCommand::current_exe("shim").expect("current exe"),
        })
        .expect("runtime"),
    );

    let latency = agent::bench::start_latency(
        client.clone(),
        Arc::clone(&runtime),
        dir.path(),
        "bench-node",
        "default",
        3,
    )
    .await
    .expect("start latency");
    assert_eq!(latency.pods, 3);
    assert!(latency.agent_p50 <= latency.agent_p99);
    assert!(latency.spawn_p50 <= latency.spawn_p99);

    let rate =
        agent::bench::completion_rate(client, runtime, dir.path(), "bench-node", "default", 5, 2)
            .await
            .expect("completion rate");
    assert_eq!(rate.pods, 5, "every pod completed");
    assert!(
        rate.pods_per_sec > 0.0 && rate.raw_per_sec > 0.0,
        "{rate:?}"
    );
    println!("{latency:?}\n{rate:?} ratio {:.2}", rate.ratio());
    shutdown.cancel();
    store.close().await;
}
