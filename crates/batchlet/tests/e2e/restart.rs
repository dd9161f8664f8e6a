//! Durability and shutdown: an acknowledged write survives SIGKILL; SIGTERM stops cleanly.

use crate::harness::{Server, kubectl_available};

#[test]
fn acknowledged_create_survives_sigkill() {
    if !kubectl_available() {
        return;
    }
    let mut s = Server::start();
    let out = s.ok(&["create", "-f", "job.yaml"]);
    assert_eq!(out.trim(), "job.batch/my-busybox-job created");
    s.kill();
    s.restart();
    let name = s.ok(&[
        "get",
        "job",
        "my-busybox-job",
        "-o",
        "jsonpath={.metadata.name}",
    ]);
    assert_eq!(name, "my-busybox-job");
    let ns = s.ok(&["get", "ns", "default", "-o", "name"]);
    assert_eq!(ns.trim(), "namespace/default");
}

#[test]
fn sigterm_stops_cleanly() {
    if !kubectl_available() {
        return;
    }
    let mut s = Server::start();
    s.ok(&["get", "jobs", "-A"]);
    let status = s.terminate();
    assert!(status.success(), "exit status {status:?}");
}
