//! Crash torture: a workload of Jobs (NonIndexed, Indexed, failing with a backoffLimit) and
//! a per-minute CronJob runs on the real server with real pods while the server is killed
//! with SIGKILL at random moments (during a burst of writes) and restarted,
//! `BATCHLET_TORTURE_CYCLES` times (5 by default; the long run is 50). Then every invariant
//! of DESIGN.md §6 is checked and printed. Also: a truncated or corrupted store file makes
//! the server refuse to start, with a message saying how to recover, and leaves the file as
//! it was.
//!
//! Every pod appends its own name to a file outside the server (`marks/<job>`), so the
//! counts are checked against what really ran, not only against what the API says.

use crate::client::{Api, documents};
use crate::harness::{Server, kubectl_available};
use http::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift64*), seeded from the clock or
/// `BATCHLET_TORTURE_SEED`, so that a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("BATCHLET_TORTURE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
            | 1;
        println!("torture seed {seed} (BATCHLET_TORTURE_SEED={seed} replays it)");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn eventually(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

fn env() -> Value {
    json!([{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}])
}

/// A pod template that sleeps, appends its name to `marks/<file>` and exits with `code`.
fn template(marks: &Path, file: &str, sleep: &str, code: u8) -> Value {
    let script = format!(
        "sleep {sleep}; echo \"$POD\" >> {}/{file}; exit {code}",
        marks.display()
    );
    json!({"spec": {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script], "env": env()}],
    }})
}

/// The Jobs of one cycle: NonIndexed, Indexed, and every other cycle one that fails.
fn jobs_of_cycle(marks: &Path, cycle: u32) -> Vec<Value> {
    let mut out = vec![
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": format!("ni-{cycle}")},
            "spec": {"completions": 4, "parallelism": 2, "backoffLimit": 6,
                     "template": template(marks, &format!("ni-{cycle}"), "1", 0)}}),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": format!("ix-{cycle}")},
            "spec": {"completions": 4, "parallelism": 2, "completionMode": "Indexed", "backoffLimit": 6,
                     "template": template(marks, &format!("ix-{cycle}"), "1", 0)}}),
    ];
    if cycle.is_multiple_of(2) {
        out.push(json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": format!("fail-{cycle}")},
            "spec": {"completions": 1, "backoffLimit": 1,
                     "template": template(marks, &format!("fail-{cycle}"), "0", 1)}}));
    }
    out
}

fn list(s: &Server, what: &str) -> Vec<Value> {
    let out = s.ok(&["get", what, "-o", "json"]);
    let v: Value = serde_json::from_str(&out).expect("list json");
    v["items"].as_array().expect("items").clone()
}

fn condition(job: &Value, kind: &str) -> bool {
    job["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == kind && c["status"] == "True")
    })
}

fn finished(job: &Value) -> bool {
    condition(job, "Complete") || condition(job, "Failed")
}

fn marks_of(marks: &Path, file: &str) -> Vec<String> {
    std::fs::read_to_string(marks.join(file))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Creates Events as fast as 4 connections can until `stop`; returns the names whose
/// create was acknowledged (201).
fn write_burst(api: Api, prefix: String, stop: Arc<AtomicBool>) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let acked = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..4 {
            let (api, prefix, stop, acked) =
                (api.clone(), prefix.clone(), stop.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                let Ok(mut c) = api.connect().await else {
                    return;
                };
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let name = format!("{prefix}-{w}-{n}");
                    let ev = json!({"apiVersion": "v1", "kind": "Event",
                        "metadata": {"name": name},
                        "involvedObject": {"kind": "Pod", "name": "burst", "namespace": "default"},
                        "reason": "Burst", "message": "a write in a burst", "type": "Normal"});
                    match c.post("/api/v1/namespaces/default/events", &ev).await {
                        Ok(r) if r.status == StatusCode::CREATED => {
                            acked.lock().expect("lock").push(name);
                        }
                        // The server died under the request: not acknowledged.
                        _ => return,
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    acked.lock().expect("lock").clone()
}

/// Processes still running from this server's containers: the shims (found by their state
/// path) and everything in their sessions.
fn container_processes(dir: &Path) -> Vec<String> {
    let marker = dir.join("containers").to_string_lossy().into_owned();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in procs.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(&marker) || cmd.contains("/marks/") {
            out.push(format!("{pid}: {cmd}"));
        }
    }
    out
}

#[test]
fn torture_sigkill_during_jobs_cronjobs_and_write_bursts() {
    if !kubectl_available() {
        return;
    }
    let cycles: u32 = std::env::var("BATCHLET_TORTURE_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(5);
    let mut rng = Rng::new();
    let marks_dir = tempfile::tempdir().expect("marks dir");
    let marks = marks_dir.path().join("marks");
    std::fs::create_dir(&marks).expect("marks");
    let mut s = Server::start();
    let started = Instant::now();

    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cron"},
        "spec": {"schedule": "* * * * *", "successfulJobsHistoryLimit": 1000, "failedJobsHistoryLimit": 1000,
                 "jobTemplate": {"spec": {"backoffLimit": 0, "template": template(&marks, "cron", "0", 0)}}}});
    let r = s.kubectl_stdin(&["create", "-f", "-"], cron.to_string().as_bytes());
    assert!(r.success, "{}", r.stderr);
    let cron_created: jiff::Timestamp = s
        .ok(&[
            "get",
            "cronjob",
            "cron",
            "-o",
            "jsonpath={.metadata.creationTimestamp}",
        ])
        .parse()
        .expect("creationTimestamp");

    let mut acked_jobs: Vec<String> = Vec::new();
    let mut acked_events: Vec<String> = Vec::new();
    let mut kills = 0;
    for cycle in 0..cycles {
        let items = documents(&jobs_of_cycle(&marks, cycle));
        let r = s.kubectl_stdin(&["create", "-f", "-"], items.as_bytes());
        assert!(
            r.success,
            "creating the jobs of cycle {cycle}: {}",
            r.stderr
        );
        for j in jobs_of_cycle(&marks, cycle) {
            acked_jobs.push(j["metadata"]["name"].as_str().expect("name").to_owned());
        }
        // Kill at a random moment 1-12 s later, while a write burst is running.
        let run = Duration::from_millis(1000 + rng.below(11_000));
        let burst_lead = Duration::from_millis(100 + rng.below(900)).min(run);
        std::thread::sleep(run - burst_lead);
        let stop = Arc::new(AtomicBool::new(false));
        let burst = {
            let (api, stop) = (Api::of(&s), stop.clone());
            std::thread::spawn(move || write_burst(api, format!("burst-{cycle}"), stop))
        };
        std::thread::sleep(burst_lead);
        s.kill();
        kills += 1;
        stop.store(true, Ordering::Relaxed);
        let acked = burst.join().expect("burst writer");
        s.restart();
        let have: BTreeSet<String> = list(&s, "events")
            .iter()
            .filter_map(|e| e["metadata"]["name"].as_str().map(str::to_owned))
            .collect();
        let lost: Vec<&String> = acked.iter().filter(|n| !have.contains(*n)).collect();
        assert!(
            lost.is_empty(),
            "cycle {cycle}: acknowledged writes lost after SIGKILL: {lost:?}"
        );
        println!(
            "cycle {cycle}: SIGKILL after {run:?}, {} writes of the burst acknowledged, all present after restart",
            acked.len()
        );
        acked_events.extend(acked);
    }
    // Let the CronJob see at least two scheduled times, then stop it.
    let minute_after = |t: jiff::Timestamp| (t.as_second() / 60 + 1) * 60;
    let second_run = minute_after(cron_created) + 60;
    while jiff::Timestamp::now().as_second() < second_run + 15 {
        std::thread::sleep(Duration::from_secs(1));
    }
    s.ok(&[
        "patch",
        "cronjob",
        "cron",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    let suspended = jiff::Timestamp::now();

    // Every Job finishes.
    eventually("every Job to finish", Duration::from_secs(600), || {
        let jobs = list(&s, "jobs");
        jobs.iter().all(finished) && jobs.len() >= acked_jobs.len()
    });
    let jobs = list(&s, "jobs");
    let pods = list(&s, "pods");
    let mut failures = Vec::new();
    let mut check = |ok: bool, what: String| {
        println!("{} {what}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            failures.push(what);
        }
    };
    let by_name: BTreeMap<&str, &Value> = jobs
        .iter()
        .map(|j| (j["metadata"]["name"].as_str().expect("name"), j))
        .collect();
    let missing: Vec<&String> = acked_jobs
        .iter()
        .filter(|n| !by_name.contains_key(n.as_str()))
        .collect();
    check(
        missing.is_empty(),
        format!(
            "all {} acknowledged Jobs exist (missing: {missing:?})",
            acked_jobs.len()
        ),
    );
    let events: BTreeSet<String> = list(&s, "events")
        .iter()
        .filter_map(|e| e["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    let lost = acked_events.iter().filter(|n| !events.contains(*n)).count();
    check(
        lost == 0,
        format!(
            "all {} acknowledged burst writes exist ({lost} lost)",
            acked_events.len()
        ),
    );

    let pods_of = |job: &str| -> Vec<&Value> {
        pods.iter()
            .filter(|p| p["metadata"]["labels"]["batch.kubernetes.io/job-name"] == job)
            .collect()
    };
    let phase_count =
        |ps: &[&Value], phase: &str| ps.iter().filter(|p| p["status"]["phase"] == phase).count();
    for (name, job) in &by_name {
        let ps = pods_of(name);
        let st = &job["status"];
        let succeeded = st["succeeded"].as_u64().unwrap_or(0) as usize;
        let failed = st["failed"].as_u64().unwrap_or(0) as usize;
        let ran = marks_of(&marks, name);
        let ran_set: BTreeSet<&String> = ran.iter().collect();
        if name.starts_with("cron") {
            continue;
        }
        if name.starts_with("fail-") {
            check(
                condition(job, "Failed")
                    && failed == 2
                    && phase_count(&ps, "Failed") == 2
                    && ran.len() == 2
                    && ran_set.len() == 2,
                format!(
                    "{name}: Failed after backoffLimit 1 with failed={failed}, {} Failed pods, {} runs",
                    phase_count(&ps, "Failed"),
                    ran.len()
                ),
            );
            continue;
        }
        check(
            condition(job, "Complete")
                && succeeded == 4
                && phase_count(&ps, "Succeeded") == 4
                && failed == 0,
            format!(
                "{name}: Complete with succeeded={succeeded} (completions 4), {} Succeeded pods, failed={failed}",
                phase_count(&ps, "Succeeded")
            ),
        );
        check(
            ran.len() == 4 && ran_set.len() == 4,
            format!(
                "{name}: {} successful container runs recorded, {} distinct pods",
                ran.len(),
                ran_set.len()
            ),
        );
        if name.starts_with("ix-") {
            let mut per_index: BTreeMap<String, usize> = BTreeMap::new();
            for p in ps.iter().filter(|p| p["status"]["phase"] == "Succeeded") {
                let i = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned();
                *per_index.entry(i).or_default() += 1;
            }
            check(
                st["completedIndexes"] == "0-3"
                    && per_index.len() == 4
                    && per_index.values().all(|n| *n == 1),
                format!(
                    "{name}: completedIndexes {} and succeeded pods per index {per_index:?}",
                    st["completedIndexes"]
                ),
            );
        }
    }
    // The CronJob ran once per scheduled time, every minute between its creation and its
    // suspension (a run missed while the server was down is caught up at restart).
    let cron_jobs: Vec<&Value> = jobs
        .iter()
        .filter(|j| j["metadata"]["ownerReferences"][0]["name"] == "cron")
        .collect();
    let mut times: Vec<i64> = cron_jobs
        .iter()
        .map(|j| {
            j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map_or(0, |t| t.as_second())
        })
        .collect();
    times.sort();
    let distinct: BTreeSet<i64> = times.iter().copied().collect();
    let expected: Vec<i64> = (minute_after(cron_created)..=suspended.as_second() - 10)
        .step_by(60)
        .collect();
    check(
        distinct.len() == times.len()
            && expected.iter().all(|t| distinct.contains(t))
            && times.iter().all(|t| {
                *t % 60 == 0 && *t > cron_created.as_second() && *t <= suspended.as_second()
            }),
        format!(
            "CronJob: {} runs at {times:?}, expected every minute of {expected:?}",
            times.len()
        ),
    );
    let cron_runs = marks_of(&marks, "cron");
    let cron_ok = cron_jobs
        .iter()
        .all(|j| condition(j, "Complete") && j["status"]["succeeded"] == 1);
    check(
        cron_ok
            && cron_runs.len() == cron_jobs.len()
            && cron_runs.iter().collect::<BTreeSet<_>>().len() == cron_runs.len(),
        format!(
            "CronJob: {} Jobs all Complete with one pod each, {} container runs",
            cron_jobs.len(),
            cron_runs.len()
        ),
    );
    // No process of any pod outlives its pod's end. Stop the server first: while it runs, its
    // launcher of shims (`batchlet shim STATE_ROOT`, one per server) is alive by design, and
    // it must exit with the server; every pod has ended, so nothing else may remain.
    let status = s.terminate();
    check(
        status.success(),
        format!("the server stops cleanly ({status:?})"),
    );
    let mut left = Vec::new();
    for _ in 0..120 {
        left = container_processes(s.dir.path());
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    check(
        left.is_empty(),
        format!("no orphan container processes ({left:?})"),
    );
    println!(
        "torture: {kills} SIGKILLs in {:?}, {} Jobs, {} pods",
        started.elapsed(),
        jobs.len(),
        pods.len()
    );
    assert!(failures.is_empty(), "invariants broken: {failures:#?}");
}

/// Starts a server on `dir` that is expected to refuse; returns its stderr.
fn refused_start(dir: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchlet"))
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("BATCHLET_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn batchlet server");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read stdout");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the server started on a damaged store");
    assert!(
        !stdout.contains("export KUBECONFIG"),
        "it announced itself: {stdout}"
    );
    stderr
}

fn damaged_store_is_refused(damage: impl FnOnce(&Path)) {
    let mut s = Server::start();
    let namespaces: Vec<Value> = (0..200)
        .map(|i| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("ns-{i}"), "labels": {"filler": "x".repeat(60)}}}))
        .collect();
    let r = s.kubectl_stdin(&["create", "-f", "-"], documents(&namespaces).as_bytes());
    assert!(r.success, "{}", r.stderr);
    s.ok(&["create", "-f", "job.yaml"]);
    let status = s.terminate();
    assert!(status.success(), "{status:?}");
    let db = s.dir.path().join("state.db");
    damage(&db);
    let damaged = std::fs::read(&db).expect("read state.db");
    let stderr = refused_start(s.dir.path());
    println!("{stderr}");
    assert!(
        stderr.contains("is corrupted") && stderr.contains("restore a backup or move it away"),
        "no clear message: {stderr}"
    );
    assert!(
        stderr.contains(&db.display().to_string()),
        "the message names the file: {stderr}"
    );
    assert_eq!(
        std::fs::read(&db).expect("read state.db"),
        damaged,
        "the refused start changed the file"
    );
}

#[test]
fn a_truncated_store_file_is_refused() {
    if !kubectl_available() {
        return;
    }
    damaged_store_is_refused(|db| {
        let len = std::fs::metadata(db).expect("stat").len();
        assert!(len > 16384 * 3, "state.db is only {len} bytes");
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(db)
            .expect("open");
        f.set_len(len / 2 + 100).expect("truncate");
    });
}

#[test]
fn a_corrupted_store_file_is_refused() {
    if !kubectl_available() {
        return;
    }
    damaged_store_is_refused(|db| {
        let mut bytes = std::fs::read(db).expect("read");
        // Scribble over the b-tree page headers of every page but the first.
        for page in bytes.chunks_mut(16384).skip(1) {
            page[..64].fill(0xA5);
        }
        std::fs::write(db, bytes).expect("write");
    });
}
