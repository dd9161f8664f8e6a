//! Load: 50 concurrent clients (5 kubectl processes in a loop, 45 Rust clients over their
//! own HTTPS connections) list, watch and write for a fixed time while a Job of 2,000
//! completions of `true` runs with real pods. No answer other than 2xx and the documented
//! 409 (conflicts on a contended object) and 429 (limits); every watch, replayed, equals the
//! final list (no missed event); the Job completes with exactly its completions. Prints
//! requests/s, latency percentiles and errors (BENCHMARKS.md, "Load test").
//!
//! `BATCHLET_LOAD_SECONDS` (default 30) and `BATCHLET_LOAD_COMPLETIONS` (default 2000)
//! resize it.

use crate::client::{Api, Conn, each_event};
use crate::harness::{Server, kubectl_available};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NS: &str = "load";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the clients saw.
#[derive(Default)]
struct Stats {
    /// Latency of each non-watch request, in microseconds.
    latencies: Vec<u64>,
    /// Answers by status code.
    codes: BTreeMap<u16, u64>,
    /// Unexpected answers and transport errors, described.
    errors: Vec<String>,
}

impl Stats {
    fn record(
        &mut self,
        what: &str,
        started: Instant,
        r: &Result<crate::client::Reply, crate::client::Error>,
    ) {
        self.latencies.push(started.elapsed().as_micros() as u64);
        match r {
            Ok(r) => {
                *self.codes.entry(r.status.as_u16()).or_default() += 1;
                if r.status == StatusCode::TOO_MANY_REQUESTS
                    && !r.headers.contains_key("retry-after")
                {
                    self.errors.push(format!("{what}: 429 without Retry-After"));
                }
                if !(r.status.is_success()
                    || r.status == StatusCode::CONFLICT
                    || r.status == StatusCode::TOO_MANY_REQUESTS)
                {
                    self.errors.push(format!(
                        "{what}: {} {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    ));
                }
            }
            Err(e) => self.errors.push(format!("{what}: {e}")),
        }
    }
}

/// A watcher's view: name -> resourceVersion, rebuilt from events only.
#[derive(Default)]
struct View {
    objects: BTreeMap<String, String>,
    last_rv: u64,
    events: u64,
    problems: Vec<String>,
}

fn name_rv(obj: &Value) -> (String, String) {
    (
        obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        obj["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Lists `path` and returns (name -> rv, list rv).
async fn snapshot(c: &mut Conn, path: &str) -> (BTreeMap<String, String>, String) {
    let v = c.get(path).await.expect("list").json();
    let items = v["items"].as_array().expect("items");
    (
        items.iter().map(name_rv).collect(),
        v["metadata"]["resourceVersion"]
            .as_str()
            .expect("rv")
            .to_owned(),
    )
}

/// Lists then watches `path` from the list's revision until `stop`, applying each event
/// to `view`; re-watches from the last revision when a watch ends.
async fn watcher(api: Api, path: String, view: Arc<Mutex<View>>, stop: Arc<AtomicBool>) {
    let mut c = api.connect().await.expect("connect");
    let (objects, rv) = snapshot(&mut c, &path).await;
    let mut rv: u64 = rv.parse().expect("numeric rv");
    {
        let mut v = view.lock().expect("lock");
        v.objects = objects;
        v.last_rv = rv;
    }
    while !stop.load(Ordering::Relaxed) {
        let mut wc = api.connect().await.expect("connect");
        let q = format!(
            "{path}?watch=true&resourceVersion={rv}&timeoutSeconds=20&allowWatchBookmarks=true"
        );
        let resp = match wc.open(Method::GET, &q, "application/json", "").await {
            Ok(r) if r.status() == StatusCode::OK => r,
            Ok(r) => {
                view.lock()
                    .expect("lock")
                    .problems
                    .push(format!("watch answered {}", r.status()));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => {
                view.lock()
                    .expect("lock")
                    .problems
                    .push(format!("watch: {e}"));
                return;
            }
        };
        let stop2 = stop.clone();
        let res = each_event(resp, |ev| {
            let mut v = view.lock().expect("lock");
            let kind = ev["type"].as_str().unwrap_or_default();
            let (name, erv) = name_rv(&ev["object"]);
            let n: u64 = erv.parse().unwrap_or(0);
            match kind {
                "ERROR" => {
                    v.problems.push(format!("ERROR event: {}", ev["object"]));
                    return false;
                }
                "BOOKMARK" => {}
                _ if n <= v.last_rv => {
                    let last = v.last_rv;
                    v.problems
                        .push(format!("{kind} {name} at {n} after {last}"));
                }
                "ADDED" | "MODIFIED" => {
                    v.objects.insert(name, erv);
                }
                "DELETED" => {
                    v.objects.remove(&name);
                }
                other => v.problems.push(format!("unknown event type {other}")),
            }
            v.last_rv = v.last_rv.max(n);
            if kind != "BOOKMARK" {
                v.events += 1;
            }
            rv = v.last_rv;
            !stop2.load(Ordering::Relaxed)
        })
        .await;
        if let Err(e) = res {
            view.lock()
                .expect("lock")
                .problems
                .push(format!("watch stream: {e}"));
            return;
        }
    }
}

fn event(name: &str, message: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": NS},
        "involvedObject": {"kind": "Pod", "name": "load", "namespace": NS},
        "reason": "Load", "message": message, "type": "Normal"})
}

/// Creates, updates and deletes its own Events, and updates a shared one with the version it
/// last read (409 when another writer got there first).
async fn writer(api: Api, id: usize, stats: Arc<Mutex<Stats>>, stop: Arc<AtomicBool>) {
    let mut c = api.connect().await.expect("connect");
    let coll = format!("/api/v1/namespaces/{NS}/events");
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let name = format!("w{id}-{n}");
        let t = Instant::now();
        let r = c.post(&coll, &event(&name, "created")).await;
        stats.lock().expect("lock").record("create", t, &r);
        let Ok(r) = r else { return };
        if r.status == StatusCode::CREATED {
            let mut obj = r.json();
            obj["message"] = json!("updated");
            let t = Instant::now();
            let r = c
                .send(
                    Method::PUT,
                    &format!("{coll}/{name}"),
                    "application/json",
                    obj.to_string(),
                )
                .await;
            stats.lock().expect("lock").record("update", t, &r);
            if n % 2 == 1 {
                let t = Instant::now();
                let r = c
                    .send(
                        Method::DELETE,
                        &format!("{coll}/{name}"),
                        "application/json",
                        "",
                    )
                    .await;
                stats.lock().expect("lock").record("delete", t, &r);
            }
        }
        // The contended object: read, then replace with the version read.
        let t = Instant::now();
        let r = c.get(&format!("{coll}/shared")).await;
        stats.lock().expect("lock").record("get", t, &r);
        if let Ok(r) = r
            && r.status == StatusCode::OK
        {
            let mut obj = r.json();
            obj["message"] = json!(format!("writer {id} round {n}"));
            let t = Instant::now();
            let r = c
                .send(
                    Method::PUT,
                    &format!("{coll}/shared"),
                    "application/json",
                    obj.to_string(),
                )
                .await;
            stats.lock().expect("lock").record("update shared", t, &r);
        }
        n += 1;
    }
}

/// Lists pods (in pages of 500, as kubectl does), Jobs as a Table, and gets the Job.
async fn lister(api: Api, stats: Arc<Mutex<Stats>>, stop: Arc<AtomicBool>) {
    let mut c = api.connect().await.expect("connect");
    while !stop.load(Ordering::Relaxed) {
        let mut cont = String::new();
        loop {
            let t = Instant::now();
            let r = c
                .get(&format!(
                    "/api/v1/namespaces/{NS}/pods?limit=500&continue={cont}"
                ))
                .await;
            stats.lock().expect("lock").record("list pods", t, &r);
            let Ok(r) = r else { return };
            if r.status != StatusCode::OK {
                break;
            }
            match r.json()["metadata"]["continue"].as_str() {
                Some(next) if !next.is_empty() => {
                    cont = next
                        .replace('%', "%25")
                        .replace('+', "%2B")
                        .replace('/', "%2F")
                        .replace('=', "%3D");
                }
                _ => break,
            }
        }
        let t = Instant::now();
        let r = c
            .get(&format!("/apis/batch/v1/namespaces/{NS}/jobs/big"))
            .await;
        stats.lock().expect("lock").record("get job", t, &r);
        let t = Instant::now();
        let r = c.get(&format!("/apis/batch/v1/namespaces/{NS}/jobs")).await;
        stats.lock().expect("lock").record("list jobs", t, &r);
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[test]
fn fifty_clients_while_a_job_of_2000_completions_runs() {
    if !kubectl_available() {
        return;
    }
    let seconds = env_num("BATCHLET_LOAD_SECONDS", 30);
    let completions = env_num("BATCHLET_LOAD_COMPLETIONS", 2000);
    let s = Server::start();
    s.ok(&["create", "namespace", NS]);
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "big", "namespace": NS},
        "spec": {"completions": completions, "parallelism": 50, "backoffLimit": 0,
                 "template": {"spec": {"restartPolicy": "Never", "containers": [
                     {"name": "c", "image": "busybox", "command": ["true"]}]}}}});
    let api = Api::of(&s);
    let stats = Arc::new(Mutex::new(Stats::default()));
    let stop = Arc::new(AtomicBool::new(false));
    // The watchers run until the final comparison, past the clients' fixed time.
    let watch_stop = Arc::new(AtomicBool::new(false));
    let pod_views: Vec<Arc<Mutex<View>>> = (0..5).map(|_| Arc::default()).collect();
    let event_views: Vec<Arc<Mutex<View>>> = (0..5).map(|_| Arc::default()).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let pods_path = format!("/api/v1/namespaces/{NS}/pods");
    let events_path = format!("/api/v1/namespaces/{NS}/events");
    rt.block_on(async {
        let mut c = api.connect().await.expect("connect");
        let r = c
            .post(&events_path, &event("shared", "contended"))
            .await
            .expect("shared");
        assert_eq!(r.status, StatusCode::CREATED);
    });
    // Watchers first, so they see the Job's pods from the start.
    let mut watch_tasks = Vec::new();
    for v in &pod_views {
        watch_tasks.push(rt.spawn(watcher(
            api.clone(),
            pods_path.clone(),
            v.clone(),
            watch_stop.clone(),
        )));
    }
    for v in &event_views {
        watch_tasks.push(rt.spawn(watcher(
            api.clone(),
            events_path.clone(),
            v.clone(),
            watch_stop.clone(),
        )));
    }
    s.kubectl_stdin(&["create", "-f", "-"], job.to_string().as_bytes());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for id in 0..20 {
        tasks.push(rt.spawn(writer(api.clone(), id, stats.clone(), stop.clone())));
    }
    for _ in 0..15 {
        tasks.push(rt.spawn(lister(api.clone(), stats.clone(), stop.clone())));
    }
    // 5 kubectl clients.
    let kubectl_runs = Mutex::new((0u64, Vec::<String>::new()));
    std::thread::scope(|scope| {
        for k in 0..5 {
            let (s, runs) = (&s, &kubectl_runs);
            scope.spawn(move || {
                let cmds: [&[&str]; 3] = [
                    &["get", "pods", "-n", NS, "-o", "name"],
                    &["get", "jobs", "-n", NS],
                    &["get", "events", "-n", NS, "--chunk-size=100", "-o", "name"],
                ];
                let mut i = k;
                while Instant::now() < deadline {
                    let r = s.kubectl(cmds[i % cmds.len()]);
                    let mut g = runs.lock().expect("lock");
                    g.0 += 1;
                    if !r.success {
                        g.1.push(format!("kubectl {:?}: {}", cmds[i % cmds.len()], r.stderr));
                    }
                    i += 1;
                }
            });
        }
    });
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    rt.block_on(async {
        for t in tasks {
            t.await.expect("client task");
        }
    });
    // The watches, replayed, equal the final lists. Events: a last write fences the
    // watchers; pods: once the Job is done nothing changes, so each watcher must converge.
    let job_done = || {
        let out = s.kubectl(&["get", "job", "big", "-n", NS, "-o", "json"]);
        let v: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        v["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True"
                })
            })
            .then_some(v)
    };
    let wait_until = Instant::now() + Duration::from_secs(900);
    let job = loop {
        if let Some(v) = job_done() {
            break v;
        }
        assert!(Instant::now() < wait_until, "Job big did not finish");
        std::thread::sleep(Duration::from_secs(2));
    };
    let job_time = started.elapsed();
    let (final_pods, final_events) = rt.block_on(async {
        let mut c = api.connect().await.expect("connect");
        let r = c
            .post(&events_path, &event("fence", "the last write"))
            .await
            .expect("fence");
        assert_eq!(r.status, StatusCode::CREATED);
        let fence: u64 = r.json()["metadata"]["resourceVersion"]
            .as_str()
            .expect("rv")
            .parse()
            .expect("rv");
        let converge = Instant::now() + Duration::from_secs(120);
        loop {
            let (pods, _) = snapshot(&mut c, &pods_path).await;
            let (events, _) = snapshot(&mut c, &events_path).await;
            let ok = pod_views
                .iter()
                .all(|v| v.lock().expect("lock").objects == pods)
                && event_views.iter().all(|v| {
                    let v = v.lock().expect("lock");
                    v.last_rv >= fence && v.objects == events
                });
            if ok || Instant::now() > converge {
                break (pods, events);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    watch_stop.store(true, Ordering::Relaxed);
    for t in watch_tasks {
        t.abort();
    }
    let stats = stats.lock().expect("lock");
    let (kruns, kerrors) = &*kubectl_runs.lock().expect("lock");
    let mut lat = stats.latencies.clone();
    lat.sort_unstable();
    let total = lat.len() as u64 + kruns;
    println!(
        "load: 50 clients (45 Rust over HTTPS, 5 kubectl) for {elapsed:.1?} while a Job of {completions} completions ran (done after {job_time:.1?})"
    );
    println!(
        "load: {total} requests, {:.0} requests/s; Rust client latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; kubectl runs {kruns}",
        total as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
    println!(
        "load: answers by code {:?}; errors {}",
        stats.codes,
        stats.errors.len() + kerrors.len()
    );
    let mut problems: Vec<String> = stats.errors.iter().take(10).cloned().collect();
    problems.extend(kerrors.iter().take(10).cloned());
    for (what, views, fin) in [
        ("pods", &pod_views, &final_pods),
        ("events", &event_views, &final_events),
    ] {
        for (i, v) in views.iter().enumerate() {
            let v = v.lock().expect("lock");
            println!(
                "load: {what} watcher {i}: {} events, {} objects at the end, final list {}",
                v.events,
                v.objects.len(),
                fin.len()
            );
            problems.extend(
                v.problems
                    .iter()
                    .take(5)
                    .map(|p| format!("{what} watcher {i}: {p}")),
            );
            if v.objects != *fin {
                let missing = fin
                    .iter()
                    .filter(|(k, rv)| v.objects.get(*k) != Some(rv))
                    .count();
                let extra = v.objects.keys().filter(|k| !fin.contains_key(*k)).count();
                problems.push(format!("{what} watcher {i} differs from the final list: {missing} missing or stale, {extra} extra"));
            }
        }
    }
    let st = &job["status"];
    let succeeded_pods = final_pods.len();
    println!(
        "load: Job big: succeeded {} failed {} ({} pods)",
        st["succeeded"], st["failed"], succeeded_pods
    );
    if st["succeeded"] != completions
        || !st["failed"].is_null() && st["failed"] != 0
        || succeeded_pods as u64 != completions
    {
        problems.push(format!("Job big did not complete correctly: {st}"));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
