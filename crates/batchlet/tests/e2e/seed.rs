//! The seed tutorial's Job, applied unchanged, run for real by the node agent: parallelism 3,
//! completions 4, each pod printing two lines around a 60 s sleep.

use crate::harness::{Server, kubectl_available};
use std::time::{Duration, Instant};

#[test]
fn the_seed_job_runs_to_completion_as_the_tutorial_says() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let out = s.ok(&["apply", "-f", "job.yaml"]);
    assert_eq!(out.trim(), "job.batch/my-busybox-job created");
    // Never more than 3 pods active; two rounds of 60 s.
    let deadline = Instant::now() + Duration::from_secs(400);
    loop {
        let phases = s.ok(&[
            "get",
            "pods",
            "-l",
            "job-name=my-busybox-job",
            "-o",
            "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}",
        ]);
        let running = phases
            .lines()
            .filter(|p| *p == "Running" || *p == "Pending")
            .count();
        assert!(running <= 3, "more than 3 pods active:\n{phases}");
        let succeeded = s.ok(&[
            "get",
            "job",
            "my-busybox-job",
            "-o",
            "jsonpath={.status.succeeded}",
        ]);
        if succeeded == "4" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the seed job did not finish: {phases}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = s.ok(&[
        "wait",
        "--for=condition=complete",
        "job/my-busybox-job",
        "--timeout=120s",
    ]);
    assert_eq!(out.trim(), "job.batch/my-busybox-job condition met");
    let table = s.ok(&["get", "job", "my-busybox-job"]);
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .expect("row")
        .split_whitespace()
        .collect();
    assert_eq!(&row[..3], ["my-busybox-job", "Complete", "4/4"], "{table}");
    let r = s.kubectl(&["logs", "job/my-busybox-job"]);
    assert!(r.success, "{r:?}");
    assert_eq!(r.stdout, "Welcome to k8s\nNext to Meet you\n");
    // The tutorial's TTL is 100 s; shorten it (the field is mutable) and the Job goes, pods too.
    s.ok(&[
        "patch",
        "job",
        "my-busybox-job",
        "--type=merge",
        "-p",
        r#"{"spec":{"ttlSecondsAfterFinished":1}}"#,
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.kubectl(&["get", "job", "my-busybox-job"]).success {
        assert!(Instant::now() < deadline, "the TTL did not delete the job");
        std::thread::sleep(Duration::from_millis(200));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !s
        .ok(&["get", "pods", "-l", "job-name=my-busybox-job", "-o", "name"])
        .trim()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the job's pods were not collected"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
