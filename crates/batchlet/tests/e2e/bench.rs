//! A smoke run of `batchlet bench --size tiny`: every scenario still runs and prints its
//! figures. No timing is asserted (the machines are shared and noisy). The Slurm peer runs
//! where slurm-wlm is installed and is otherwise skipped with its reason printed.

use std::process::Command;

#[test]
fn bench_smoke_prints_every_scenario() {
    let out = Command::new(env!("CARGO_BIN_EXE_batchlet"))
        .args(["bench", "--size", "tiny", "--runs", "1"])
        .env("BATCHLET_LOG", "error")
        .output()
        .expect("run batchlet bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    for figure in [
        "spawn        posix_spawn+wait 2 workers",
        "spawn        xargs -P2",
        "job-throughput batchlet 20 pods",
        "job-throughput server CPU per pod",
        "job-throughput vs KEP-2307",
        "job-latency  create→running p50",
        "job-latency  stages p50",
        "job-latency  bare spawn p50",
        "cron-lateness 20 CronJobs first",
        "store-fsync  single writer",
        "store-fsync   4 writers",
        "rss          idle api-only",
        "api-create    4 clients",
        "list         40 jobs as table",
        "list         40 jobs as json",
        "patch        20 containers",
        "rss          api-only after",
        "memory       rss idle whole server",
        "memory       rss with 20 CronJobs",
        "memory       rss with 20 CronJobs and 20 finished pods",
        "agent        bind→running p50",
        "agent        pods completed",
        "agent        runtime start→running p50",
        "agent        runtime completions",
    ] {
        assert!(stdout.contains(figure), "{figure:?} missing in\n{stdout}");
    }
    // The Slurm peer either printed its figures or why it was skipped.
    assert!(
        stdout.contains("job-throughput slurm array") || stdout.contains("slurm: skipped:"),
        "no Slurm figures and no reason in\n{stdout}"
    );
}
