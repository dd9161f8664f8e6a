//! Measurements of the node agent alone, for the benchmark command (`batchlet bench`): how
//! long a pod bound to this node takes to get its container process running, and how many
//! pods of `/bin/true` the agent completes per second, each against a bare `posix_spawn` of
//! the same command in the same run. Nothing here is timed in tests.
//!
//! The caller composes the API the agent talks to (the apiserver's router over a store in a
//! temporary directory, as the server does, through an in-process `kube::Client`) and passes
//! the client: this crate does not depend on the apiserver or the store. Pods are created
//! already bound (`spec.nodeName` set), so no scheduler and no Job controller take part.
//! The agent runs with its usual loops and writes statuses and events as it always does.
//!
//! First figures (release build, 2-core reference machine shared with other builds, load
//! 14-21; 300 pods; the runtime with its launcher, see the `runtime` crate docs): bind →
//! running p50 26.7 ms, p99 128 ms (bare spawn p50 0.15 ms, p99 8 ms); 60 pods/s completed
//! with 100 in flight against 1,550 raw spawns+waits/s, a ratio of 0.04. The budget (p50 ≤ 2
//! ms, p99 ≤ 10 ms, ratio ≥ 0.5) is not met: the runtime's start is 1.6-4 ms of it, the rest
//! is the agent's path (watch → reconcile → status and event writes, each a durable API
//! write), the next thing to profile.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher;
use runtime::{ContainerRuntime, ContainerSpec, ExitStatus, Handle, Signal};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{Agent, Config, Error, Result};

/// The command every benchmark pod runs.
pub const COMMAND: &str = "/bin/true";

/// Bind → container process running, over `pods` pods created one after the other.
#[derive(Debug, Clone, PartialEq)]
pub struct StartLatency {
    /// Pods measured.
    pub pods: usize,
    /// Median and 99th percentile from the create call of an already bound pod to the
    /// runtime's start returning (the command runs).
    pub agent_p50: Duration,
    /// See `agent_p50`.
    pub agent_p99: Duration,
    /// The medians of the three stages of `agent_p50`'s path: the create call until the API
    /// acknowledged it (the pod is durably bound), then until the agent called the runtime's
    /// start (watch delivery, sync loop, the container's spec), then the start itself (the
    /// runtime: shim fork, spawn, report).
    pub stages_p50: [Duration; 3],
    /// Median and 99th percentile of a bare `posix_spawn` of the same command (until the
    /// child runs), measured in the same run.
    pub spawn_p50: Duration,
    /// See `spawn_p50`.
    pub spawn_p99: Duration,
}

/// Pods of `/bin/true` completed per second by the agent, against the machine's raw
/// spawn+wait rate measured in the same run.
#[derive(Debug, Clone, PartialEq)]
pub struct Throughput {
    /// Pods completed (phase `Succeeded` written by the agent).
    pub pods: usize,
    /// Pods kept in flight (created and not yet succeeded).
    pub in_flight: usize,
    /// Completed pods per second.
    pub pods_per_sec: f64,
    /// `posix_spawn` + `waitpid` of the same command per second (2 threads; the mean of a
    /// run before and one after the agent's).
    pub raw_per_sec: f64,
    /// Writes to the API per completed pod: how far the store's revision (every write
    /// advances it by one) moved during the run, over the pods; the bench's own create and
    /// the Events count.
    pub writes_per_pod: f64,
}

impl Throughput {
    /// `pods_per_sec / raw_per_sec` (the budget is at least 0.5).
    pub fn ratio(&self) -> f64 {
        if self.raw_per_sec > 0.0 {
            self.pods_per_sec / self.raw_per_sec
        } else {
            0.0
        }
    }
}

/// Bind → running for `n` pods created one at a time in `namespace`, through an agent for
/// node `node` running over `rt` with its files under `data_dir`, and a bare spawn of the
/// same command `n` times.
pub async fn start_latency<R: ContainerRuntime + 'static>(
    client: kube::Client,
    rt: Arc<R>,
    data_dir: &Path,
    node: &str,
    namespace: &str,
    n: usize,
) -> Result<StartLatency> {
    let timed = Arc::new(Timed::new(rt));
    let bench = Running::start(client.clone(), Arc::clone(&timed), data_dir, node);
    let api = Api::<Pod>::namespaced(client, namespace);
    let tag = std::process::id();
    // The first pod also waits for the agent to register and start its loops: not counted.
    let mut agent = Vec::with_capacity(n);
    let mut stages: [Vec<Duration>; 3] = Default::default();
    for i in 0..=n {
        let name = format!("bench-start-{tag}-{i}");
        let t0 = Instant::now();
        let at = timed.create_and_start(&api, &name, node).await?;
        if i > 0 {
            agent.push(at.started.saturating_duration_since(t0));
            stages[0].push(at.acknowledged.saturating_duration_since(t0));
            stages[1].push(at.entered.saturating_duration_since(at.acknowledged));
            stages[2].push(at.started.saturating_duration_since(at.entered));
        }
    }
    bench.stop().await;
    let mut spawn = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        let mut child = spawn_true()?;
        spawn.push(t0.elapsed());
        child.wait().map_err(|e| io_error("waiting for", e))?;
    }
    agent.sort();
    spawn.sort();
    let stages_p50 = stages.map(|mut s| {
        s.sort();
        percentile(&s, 0.50)
    });
    Ok(StartLatency {
        pods: n,
        agent_p50: percentile(&agent, 0.50),
        agent_p99: percentile(&agent, 0.99),
        stages_p50,
        spawn_p50: percentile(&spawn, 0.50),
        spawn_p99: percentile(&spawn, 0.99),
    })
}

/// Pods of `/bin/true` completed per second: `n` pods created already bound in `namespace`,
/// `in_flight` at a time, through an agent for `node` over `rt` (files under `data_dir`); a
/// pod counts once the agent has written its phase `Succeeded`.
pub async fn completion_rate<R: ContainerRuntime + 'static>(
    client: kube::Client,
    rt: Arc<R>,
    data_dir: &Path,
    node: &str,
    namespace: &str,
    n: usize,
    in_flight: usize,
) -> Result<Throughput> {
    let in_flight = in_flight.max(1);
    let raw_before = runtime::bench::spawn_wait_rate(n, 2);
    let timed = Arc::new(Timed::new(rt));
    let bench = Running::start(client.clone(), Arc::clone(&timed), data_dir, node);
    let api = Api::<Pod>::namespaced(client, namespace);
    let tag = std::process::id();
    // Waits for the agent to run its loops before the clock starts.
    timed
        .create_and_start(&api, &format!("bench-warm-{tag}"), node)
        .await?;
    let prefix = format!("bench-done-{tag}-");
    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
    let mut done: HashSet<String> = HashSet::new();
    let rev0 = revision(&api).await?;
    let t0 = Instant::now();
    let mut created = 0;
    while done.len() < n {
        while created < n && created - done.len() < in_flight {
            let name = format!("{prefix}{created}");
            api.create(&PostParams::default(), &pod(&name, node))
                .await?;
            created += 1;
        }
        let Some(event) = events.next().await else {
            break;
        };
        let pods = match event {
            Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => vec![p],
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::debug!(error = %e, "bench watch error; the watcher retries");
                Vec::new()
            }
        };
        for p in pods {
            let succeeded = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded");
            if let Some(name) = p.metadata.name
                && succeeded
                && name.starts_with(&prefix)
            {
                done.insert(name);
            }
        }
    }
    let elapsed = t0.elapsed();
    let rev1 = revision(&api).await?;
    bench.stop().await;
    let raw_after = runtime::bench::spawn_wait_rate(n, 2);
    Ok(Throughput {
        pods: done.len(),
        in_flight,
        pods_per_sec: done.len() as f64 / elapsed.as_secs_f64(),
        raw_per_sec: (raw_before + raw_after) / 2.0,
        writes_per_pod: rev1.saturating_sub(rev0) as f64 / done.len().max(1) as f64,
    })
}

/// The API's current revision (a list's resourceVersion).
async fn revision(api: &Api<Pod>) -> Result<u64> {
    let list = api.list_metadata(&ListParams::default().limit(1)).await?;
    Ok(list
        .metadata
        .resource_version
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0))
}

/// An agent running in the background until [`Running::stop`].
struct Running {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start<R: ContainerRuntime + 'static>(
        client: kube::Client,
        rt: Arc<R>,
        data_dir: &Path,
        node: &str,
    ) -> Running {
        let shutdown = CancellationToken::new();
        let agent = Agent::new(client, rt, Config::new(node, data_dir), shutdown.clone());
        let task = tokio::spawn(agent.run("batchlet-bench://".into()));
        Running { shutdown, task }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

fn pod(name: &str, node: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": "busybox", "command": [COMMAND]}],
        },
    }))
    .unwrap_or_default()
}

fn spawn_true() -> Result<std::process::Child> {
    Command::new(COMMAND)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| io_error("spawning", e))
}

fn io_error(what: &'static str, source: std::io::Error) -> Error {
    Error::Io {
        what,
        path: COMMAND.into(),
        source,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// When a pod's first start was called and returned (the command runs).
#[derive(Debug, Clone, Copy)]
struct Start {
    entered: Instant,
    started: Instant,
}

/// The moments of one measured pod.
#[derive(Debug, Clone, Copy)]
struct Moments {
    /// The create call returned (the API acknowledged the durable, bound pod).
    acknowledged: Instant,
    /// The agent called the runtime's start.
    entered: Instant,
    /// The runtime's start returned.
    started: Instant,
}

/// A runtime that notes when each start was called and returned, by pod UID.
struct Timed<R> {
    inner: Arc<R>,
    started: Mutex<HashMap<String, Start>>,
    notify: Notify,
}

impl<R: ContainerRuntime> Timed<R> {
    fn new(inner: Arc<R>) -> Self {
        Timed {
            inner,
            started: Mutex::new(HashMap::new()),
            notify: Notify::new(),
        }
    }

    fn started(&self) -> std::sync::MutexGuard<'_, HashMap<String, Start>> {
        self.started.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates pod `name` bound to `node` and returns when its first container started.
    async fn create_and_start(&self, api: &Api<Pod>, name: &str, node: &str) -> Result<Moments> {
        // Registered before the create, so that no start is missed.
        let mut wait = Box::pin(self.notify.notified());
        let pod = api.create(&PostParams::default(), &pod(name, node)).await?;
        let acknowledged = Instant::now();
        let uid = pod
            .metadata
            .uid
            .ok_or(Error::MissingField("metadata.uid"))?;
        loop {
            if let Some(at) = self.started().get(&uid) {
                return Ok(Moments {
                    // The agent may start the container before the client hears back.
                    acknowledged: acknowledged.min(at.entered),
                    entered: at.entered,
                    started: at.started,
                });
            }
            wait.as_mut().await;
            wait.set(self.notify.notified());
        }
    }
}

impl<R: ContainerRuntime> ContainerRuntime for Timed<R> {
    async fn start(&self, spec: &ContainerSpec) -> runtime::Result<Handle> {
        let entered = Instant::now();
        let handle = self.inner.start(spec).await?;
        let started = Instant::now();
        if let Some((uid, _, _)) = crate::ids::parse(&spec.id) {
            self.started()
                .entry(uid.to_owned())
                .or_insert(Start { entered, started });
        }
        self.notify.notify_waiters();
        Ok(handle)
    }

    fn signal(&self, handle: &Handle, signal: Signal) -> runtime::Result<()> {
        self.inner.signal(handle, signal)
    }

    async fn wait(&self, handle: &Handle) -> runtime::Result<ExitStatus> {
        self.inner.wait(handle).await
    }

    fn adopt(&self) -> runtime::Result<Vec<Handle>> {
        self.inner.adopt()
    }

    fn remove(&self, handle: &Handle) -> runtime::Result<()> {
        self.inner.remove(handle)
    }
}
