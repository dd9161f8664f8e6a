//! The composition `server` and `run` share: the in-process kube client over the router, the
//! container runtime, the node agent, and the controllers' loops.

use anyhow::{Context, Result};
use apiserver::AppState;
use apiserver::registry::Registry;
use runtime::ProcessRuntime;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::JoinSet;

/// The parts built over one [`AppState`].
pub struct Composition {
    /// A kube client of an in-process router: the same write path as kubectl's, without TCP,
    /// TLS or a token (nothing outside the process can reach it).
    pub client: kube::Client,
    /// The container runtime the agent runs pods with (kept to stop leftovers at `run`'s end).
    pub runtime: Arc<ProcessRuntime>,
    /// The node agent.
    pub agent: Arc<agent::Agent<ProcessRuntime>>,
    /// The router to serve to outside clients: `state` with the agent as its log provider.
    pub app: axum::Router,
}

/// Which loops to start.
#[derive(Debug, Clone, Copy)]
pub struct Loops {
    /// The CronJob controller (`run --now` creates its one Job itself and leaves it out).
    pub cronjob: bool,
    /// Terminated pods kept before the pod garbage collector deletes the oldest (0: never).
    pub terminated_pod_gc_threshold: usize,
}

/// Opens (creating it 0600 when absent, so that the store and the WAL and shared-memory files
/// SQLite makes with its mode are the owner's only) the store `dir/state.db`, and bootstraps
/// the system namespaces through a registry over it.
pub async fn open_store(dir: &Path) -> Result<(store::Store, Registry)> {
    open_store_with(dir, store::Options::default()).await
}

/// [`open_store`] with the store's `opts`.
pub async fn open_store_with(dir: &Path, opts: store::Options) -> Result<(store::Store, Registry)> {
    use std::os::unix::fs::OpenOptionsExt;
    let db = dir.join("state.db");
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&db)
        .with_context(|| format!("creating {}", db.display()))?;
    let store = store::Store::open(&db, opts)
        .with_context(|| format!("opening the store {}", db.display()))?;
    let registry = Registry::new(store.clone(), Arc::new(jiff::Timestamp::now));
    registry
        .bootstrap()
        .await
        .context("creating the system namespaces")?;
    Ok((store, registry))
}

/// The process runtime with its state under `dir/containers`, its shims launched from this
/// binary (`batchlet shim`).
pub fn process_runtime(dir: &Path) -> Result<ProcessRuntime> {
    ProcessRuntime::new(runtime::Config {
        state_root: dir.join("containers"),
        shim: runtime::ShimCommand::current_exe("shim").context("locating the batchlet binary")?,
    })
    .context("starting the container runtime")
}

/// Builds the client, runtime and agent for `state` over the data dir `dir`.
pub fn compose(state: AppState, dir: &Path, node_name: String) -> Result<Composition> {
    let local = apiserver::router(AppState {
        token: None,
        omit_managed_fields: true,
        ..state.clone()
    });
    let client = kube::Client::new(local, "default");
    let runtime = Arc::new(process_runtime(dir)?);
    let agent = agent::Agent::new(
        client.clone(),
        Arc::clone(&runtime),
        agent::Config::new(node_name, dir),
        state.shutdown.clone(),
    );
    let app = apiserver::router(AppState {
        pod_logs: Some(Arc::new(crate::pod_logs::AgentLogs(agent.clone()))),
        ..state
    });
    Ok(Composition {
        client,
        runtime,
        agent,
        app,
    })
}

impl Composition {
    /// Spawns the controllers, the scheduler and the node agent; they stop when the state's
    /// shutdown token is cancelled (the agent leaves containers running, to adopt them later).
    pub fn spawn_loops(
        &self,
        tasks: &mut Tasks,
        shutdown: &tokio_util::sync::CancellationToken,
        loops: Loops,
    ) -> controllers::informers::Informers {
        let client = &self.client;
        // One shared watch cache per kind for every controller and the agent.
        // CronJobs' creates go before the Job controller's syncs and the Job cache
        // (`controllers::gate`).
        let creates = Arc::new(controllers::gate::Gate::default());
        let informers = controllers::informers::Informers::new(client, &creates);
        tasks.spawn("informers", informers.clone().run(shutdown.clone()));
        tasks.spawn(
            "garbage collector",
            controllers::garbage_collector::run(
                client.clone(),
                informers.clone(),
                shutdown.clone(),
            ),
        );
        tasks.spawn(
            "scheduler",
            controllers::scheduler::run(client.clone(), informers.clone(), shutdown.clone()),
        );
        // The agent stops its loops on shutdown and leaves the containers running: the next
        // start adopts them.
        tasks.spawn(
            "node agent",
            Arc::clone(&self.agent).run_shared(
                format!("batchlet-process://{}", env!("CARGO_PKG_VERSION")),
                informers.pods.clone(),
            ),
        );
        tasks.spawn(
            "job controller",
            controllers::job::run(
                client.clone(),
                informers.clone(),
                Arc::clone(&creates),
                shutdown.clone(),
            ),
        );
        if loops.cronjob {
            tasks.spawn(
                "cronjob controller",
                controllers::cronjob::run(
                    client.clone(),
                    informers.clone(),
                    creates,
                    shutdown.clone(),
                ),
            );
        }
        tasks.spawn(
            "pod garbage collector",
            controllers::pod_gc::run(
                client.clone(),
                informers.clone(),
                loops.terminated_pod_gc_threshold,
                shutdown.clone(),
            ),
        );
        tasks.spawn(
            "ttl-after-finished controller",
            controllers::ttl_after_finished::run(
                client.clone(),
                informers.clone(),
                shutdown.clone(),
            ),
        );
        informers
    }
}

/// The server's long-running tasks, by name, so that a shutdown that does not complete says
/// which loop kept it from completing.
#[derive(Default)]
pub struct Tasks {
    set: JoinSet<()>,
    running: Arc<Mutex<BTreeSet<&'static str>>>,
}

impl Tasks {
    /// Spawns `fut` as the task `name`.
    pub fn spawn(
        &mut self,
        name: &'static str,
        fut: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        lock(&self.running).insert(name);
        let running = Arc::clone(&self.running);
        self.set.spawn(async move {
            fut.await;
            lock(&running).remove(name);
        });
    }

    /// Waits for every task to end (they all stop on the shutdown token); those still
    /// running after `patience` are a bug, logged by name and aborted, so that a stop always
    /// completes.
    pub async fn join(mut self, patience: Duration) {
        let joined = tokio::time::timeout(patience, async {
            while let Some(r) = self.set.join_next().await {
                if let Err(e) = r {
                    tracing::error!(error = %e, "task failed during shutdown");
                }
            }
        })
        .await;
        if joined.is_err() {
            let left: Vec<&str> = lock(&self.running).iter().copied().collect();
            tracing::error!(
                ?left,
                "still running {patience:?} after shutdown; aborting them"
            );
            self.set.abort_all();
            while self.set.join_next().await.is_some() {}
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
