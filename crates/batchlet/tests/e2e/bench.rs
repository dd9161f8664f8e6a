//! A smoke run of `batchlet bench` at a tiny size: every scenario still runs and prints its
//! figures. No timing is asserted (the machines are shared and noisy).

use std::process::Command;

#[test]
fn bench_smoke_prints_every_scenario() {
    let out = Command::new(env!("CARGO_BIN_EXE_batchlet"))
        .args([
            "bench",
            "--runs",
            "1",
            "--writes",
            "32",
            "--clients",
            "4",
            "--list-size",
            "40",
        ])
        .env("BATCHLET_LOG", "error")
        .output()
        .expect("run batchlet bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for scenario in [
        "store-fsync  single writer",
        "store-fsync   4 writers",
        "rss          idle api-only",
        "api-create    4 clients",
        "list         40 jobs as table",
        "list         40 jobs as json",
        "patch        20 containers",
        "rss          api-only after",
        "rss          idle full server",
        "rss          full after 40 jobs",
    ] {
        assert!(
            stdout.contains(scenario),
            "{scenario:?} missing in\n{stdout}"
        );
    }
}
