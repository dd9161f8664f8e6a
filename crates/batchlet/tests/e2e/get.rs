//! Reading as kubectl does: tables (plain and wide), YAML and JSON, selectors, all
//! namespaces, watches, describe.

use crate::harness::{Server, kubectl_available, lines_of, rows, wait_for_line};
use std::process::Stdio;
use std::time::Duration;

fn server_with_objects() -> Server {
    let s = Server::start();
    s.ok(&["apply", "-f", "job.yaml"]);
    s.ok(&["apply", "-f", "cronjob-fixed.yaml"]);
    s
}

#[test]
fn get_jobs_and_cronjobs_in_every_output_format() {
    if !kubectl_available() {
        return;
    }
    let s = server_with_objects();
    let uid = s.ok(&[
        "get",
        "job",
        "my-busybox-job",
        "-o",
        "jsonpath={.metadata.uid}",
    ]);

    // The CronJob controller runs cj-hello every minute: a minute boundary during the test
    // adds a Job `cj-hello-…` ahead of my-busybox-job, so rows and items are found by name.
    let t = rows(&s.ok(&["get", "jobs"]));
    assert_eq!(t[0], ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]);
    let row = t.iter().find(|r| r[0] == "my-busybox-job").expect("row");
    assert_eq!(&row[..3], ["my-busybox-job", "Running", "0/4"]);

    let wide = s.ok(&["get", "jobs", "-o", "wide"]);
    let t = rows(&wide);
    assert_eq!(
        t[0],
        [
            "NAME",
            "STATUS",
            "COMPLETIONS",
            "DURATION",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    assert!(
        wide.contains(&format!(
            "my-container-job   busybox:1.28   batch.kubernetes.io/controller-uid={uid}"
        )),
        "{wide}"
    );

    let t = rows(&s.ok(&["get", "cronjobs"]));
    assert_eq!(
        t[0],
        [
            "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"
        ]
    );
    assert_eq!(
        &t[1][..8],
        ["cj-hello", "*/1", "*", "*", "*", "*", "<none>", "False"]
    );
    // ACTIVE and LAST SCHEDULE: the CronJob controller runs cj-hello every minute, so a minute
    // boundary during the test changes them.
    assert!(t[1][8].parse::<u32>().is_ok(), "{:?}", t[1]);

    let yaml = s.ok(&["get", "job", "my-busybox-job", "-o", "yaml"]);
    for want in [
        "apiVersion: batch/v1",
        "kind: Job",
        "backoffLimit: 2",
        "completionMode: NonIndexed",
        "podReplacementPolicy: TerminatingOrFailed",
        "suspend: false",
        "terminationGracePeriodSeconds: 30",
        "dnsPolicy: ClusterFirst",
        "schedulerName: default-scheduler",
        "terminationMessagePath: /dev/termination-log",
        &format!("batch.kubernetes.io/controller-uid: {uid}"),
        "batch.kubernetes.io/job-name: my-busybox-job",
        "job-name: my-busybox-job",
        "generation: 1",
    ] {
        assert!(yaml.contains(want), "{want:?} missing in\n{yaml}");
    }

    let json: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "jobs", "-o", "json"])).expect("json");
    assert_eq!(json["kind"], "List");
    let job = json["items"]
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .find(|j| j["metadata"]["name"] == "my-busybox-job")
        })
        .expect("my-busybox-job in the list");
    assert_eq!(job["spec"]["completions"], 4);
    assert_eq!(
        job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid.as_str()
    );

    let t = rows(&s.ok(&["get", "jobs", "-l", "job-name=my-busybox-job"]));
    assert_eq!(t.len(), 2);
    let r = s.kubectl(&["get", "jobs", "-l", "job-name in (other,else)"]);
    assert!(r.success && r.stdout.is_empty());
    assert_eq!(r.stderr.trim(), "No resources found in default namespace.");

    let t = rows(&s.ok(&["get", "jobs,cronjobs", "-A"]));
    assert_eq!(t[0][0], "NAMESPACE");
    assert!(
        t.iter()
            .any(|r| r[0] == "default" && r[1] == "job.batch/my-busybox-job"),
        "{t:?}"
    );
    assert!(
        t.iter()
            .any(|r| r[0] == "default" && r[1] == "cronjob.batch/cj-hello"),
        "{t:?}"
    );

    // The job controller creates the Job's pods meanwhile (see e2e/job.rs).
    let r = s.kubectl(&["get", "pods"]);
    assert!(r.success, "{r:?}");

    let sorted = s.ok(&[
        "get",
        "jobs",
        "--sort-by=.metadata.creationTimestamp",
        "-o",
        "name",
    ]);
    // A minute boundary during the test adds cj-hello's Job (see above): whatever the list
    // holds, it comes in creation order. The times are read after it, so each name has one.
    let created: std::collections::HashMap<String, String> = s
        .ok(&[
            "get",
            "jobs",
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.name} {.metadata.creationTimestamp}{"\n"}{end}"#,
        ])
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, t)| (format!("job.batch/{n}"), t.to_owned()))
        .collect();
    let names: Vec<&str> = sorted.lines().collect();
    assert!(names.contains(&"job.batch/my-busybox-job"), "{sorted}");
    let times: Vec<&str> = names
        .iter()
        .map(|n| created.get(*n).map(String::as_str).expect("created"))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "{sorted}\n{created:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| *n == "job.batch/my-busybox-job" || n.starts_with("job.batch/cj-hello-")),
        "{sorted}"
    );
}

#[test]
fn get_watch_shows_later_changes() {
    if !kubectl_available() {
        return;
    }
    let s = server_with_objects();
    let mut one = s
        .kubectl_cmd(&[
            "get",
            "job",
            "my-busybox-job",
            "-w",
            "-o",
            "custom-columns=NAME:.metadata.name,TEAM:.metadata.labels.team",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let one_lines = lines_of(&mut one);
    let mut all = s
        .kubectl_cmd(&["get", "jobs", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get jobs -w");
    let all_lines = lines_of(&mut all);
    let t = Duration::from_secs(30);
    assert!(
        wait_for_line(&one_lines, t, |l| l.starts_with("my-busybox-job")
            && l.contains("<none>"))
        .is_some()
    );
    assert!(wait_for_line(&all_lines, t, |l| l.starts_with("my-busybox-job")).is_some());

    s.ok(&["label", "job", "my-busybox-job", "team=backup"]);
    assert!(
        wait_for_line(&one_lines, t, |l| l.starts_with("my-busybox-job")
            && l.contains("backup"))
        .is_some(),
        "single-object watch did not show the label change"
    );
    assert!(
        wait_for_line(&all_lines, t, |l| l.starts_with("my-busybox-job")).is_some(),
        "list watch did not show the change"
    );
    s.ok(&[
        "create",
        "-f",
        "job-restart-always.yaml",
        "--dry-run=client",
        "-o",
        "name",
    ]);
    let _ = one.kill();
    let _ = all.kill();
    let _ = one.wait();
    let _ = all.wait();
}

#[test]
fn describe_job_and_cronjob() {
    if !kubectl_available() {
        return;
    }
    let s = server_with_objects();
    let squash = |t: &str| {
        t.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // The job controller starts three pods (the seed's containers sleep 60 s), the agent runs
    // them, and both say so in events.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let out = loop {
        let out = squash(&s.ok(&["describe", "job", "my-busybox-job"]));
        if out.contains("Pods Statuses: 3 Active (3 Ready)")
            && out.matches("SuccessfulCreate").count() == 3
            || std::time::Instant::now() > deadline
        {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    for want in [
        "Name: my-busybox-job",
        "Namespace: default",
        "Parallelism: 3",
        "Completions: 4",
        "Completion Mode: NonIndexed",
        "Pods Statuses: 3 Active (3 Ready) / 0 Succeeded / 0 Failed",
        "Normal SuccessfulCreate",
        "job-controller Created pod: my-busybox-job-",
    ] {
        assert!(out.contains(want), "{want:?} missing in\n{out}");
    }
    let out = squash(&s.ok(&["describe", "cronjob", "cj-hello"]));
    for want in [
        "Name: cj-hello",
        "Schedule: */1 * * * *",
        "Concurrency Policy: Allow",
        "Suspend: False",
    ] {
        assert!(out.contains(want), "{want:?} missing in\n{out}");
    }
}
