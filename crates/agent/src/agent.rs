//! [`Agent`]: the node agent's shared state. It owns the in-memory record of every pod it
//! runs (observations, runtime handles), the runtime, and the tasks that wait for container
//! exits; the sync loop ([`crate::sync`]), housekeeping ([`crate::housekeeping`]) and the log
//! reader ([`crate::logs`]) work through it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::channel::mpsc;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::runtime::reflector::ObjectRef;
use runtime::{ContainerRuntime, ExitStatus, Handle};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::env::Host;
use crate::events::Recorder;
use crate::ids;
use crate::layout::Layout;
use crate::node::Machine;
use crate::observed::{Observed, Run};

/// How the agent is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The Node's name (`--node-name`, default the hostname).
    pub node_name: String,
    /// The data dir (logs, volumes, runtime state).
    pub data_dir: PathBuf,
    /// The node's IP, which pods share (host network).
    pub host_ip: String,
    /// How often the Node's status is written when nothing in it changed (the kubelet's
    /// `nodeStatusReportFrequency`, 5 minutes): liveness is the Lease's job.
    pub node_status_report_frequency: Duration,
    /// The node Lease's `leaseDurationSeconds` (the kubelet's 40); it is renewed every
    /// quarter of that.
    pub lease_duration_seconds: i32,
}

impl Config {
    /// A configuration with the kubelet's defaults: host IP 127.0.0.1, node status reported
    /// every 5 minutes, a 40 s Lease renewed every 10 s.
    pub fn new(node_name: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Config {
            node_name: node_name.into(),
            data_dir: data_dir.into(),
            host_ip: "127.0.0.1".into(),
            node_status_report_frequency: Duration::from_secs(300),
            lease_duration_seconds: crate::lease::DURATION_SECONDS,
        }
    }
}

/// What the agent keeps of one pod, by UID.
#[derive(Debug)]
pub(crate) struct PodState {
    pub(crate) ns: String,
    pub(crate) name: String,
    pub(crate) obs: Observed,
    /// Runtime handles by run id (the latest two runs per container).
    pub(crate) handles: HashMap<String, Handle>,
    /// Runtime state and emptyDirs are gone (the pod is terminal).
    pub(crate) released: bool,
}

impl PodState {
    pub(crate) fn new(ns: &str, name: &str, now: Timestamp) -> Self {
        PodState {
            ns: ns.to_owned(),
            name: name.to_owned(),
            obs: Observed::new(now),
            handles: HashMap::new(),
            released: false,
        }
    }
}

/// The node agent. Shared as `Arc<Agent<R>>` by its loops and the log endpoint.
pub struct Agent<R: ContainerRuntime + 'static> {
    pub(crate) cfg: Config,
    pub(crate) layout: Layout,
    pub(crate) machine: Machine,
    pub(crate) rt: Arc<R>,
    pub(crate) client: Client,
    pub(crate) recorder: Recorder,
    pods: Mutex<HashMap<String, PodState>>,
    pub(crate) trigger: mpsc::UnboundedSender<ObjectRef<Pod>>,
    pub(crate) triggered: Mutex<Option<mpsc::UnboundedReceiver<ObjectRef<Pod>>>>,
    pub(crate) tasks: TaskTracker,
    pub(crate) shutdown: CancellationToken,
}

impl<R: ContainerRuntime + 'static> std::fmt::Debug for Agent<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("node", &self.cfg.node_name)
            .finish_non_exhaustive()
    }
}

impl<R: ContainerRuntime + 'static> Agent<R> {
    /// An agent for `cfg` over `rt`, talking to the API through `client`, stopping its loops
    /// when `shutdown` is cancelled (containers keep running). Start it with
    /// [`run`](Self::run).
    pub fn new(client: Client, rt: Arc<R>, cfg: Config, shutdown: CancellationToken) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded();
        let machine = Machine::detect(&cfg.data_dir);
        Arc::new(Agent {
            layout: Layout::new(&cfg.data_dir),
            recorder: Recorder::new(client.clone(), &cfg.node_name, "kubelet"),
            machine,
            cfg,
            rt,
            client,
            pods: Mutex::new(HashMap::new()),
            trigger: tx,
            triggered: Mutex::new(Some(rx)),
            tasks: TaskTracker::new(),
            shutdown,
        })
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.cfg.node_name
    }

    /// What containers may refer to (`status.hostIP`, node allocatable).
    pub(crate) fn host(&self) -> Host {
        Host {
            ip: self.cfg.host_ip.clone(),
            cpu_millis: self.machine.cpu_millis,
            memory_bytes: self.machine.memory_bytes,
        }
    }

    pub(crate) fn pods(&self) -> MutexGuard<'_, HashMap<String, PodState>> {
        // No code panics while holding the lock; a poisoned map is still consistent.
        self.pods.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handle of run `id`, if the agent holds one.
    pub(crate) fn handle(&self, id: &str) -> Option<Handle> {
        let (uid, _, _) = ids::parse(id)?;
        self.pods().get(uid)?.handles.get(id).cloned()
    }

    /// Records how run `id` ended and asks for the pod to be synced.
    pub(crate) fn record_exit(&self, id: &str, exit: ExitStatus) {
        let Some((uid, container, restart)) = ids::parse(id) else {
            return;
        };
        let target = {
            let mut pods = self.pods();
            let Some(st) = pods.get_mut(uid) else { return };
            let o = st.obs.containers.entry(container.to_owned()).or_default();
            match &mut o.current {
                Some(run) if run.id == id => {
                    run.exit = Some(exit);
                    o.stopping = false;
                }
                _ if restart + 1 == o.restart => o.previous = Some(exit),
                _ => {}
            }
            ObjectRef::new(&st.name).within(&st.ns)
        };
        let _ = self.trigger.unbounded_send(target);
    }

    /// Waits (in a tracked task) for run `handle` to end, then records it.
    pub(crate) fn watch_exit(self: &Arc<Self>, handle: Handle) {
        let me = Arc::clone(self);
        self.tasks.spawn(async move {
            tokio::select! {
                () = me.shutdown.cancelled() => {}
                r = me.rt.wait(&handle) => match r {
                    Ok(exit) => {
                        me.exit_event(&handle.id, &exit).await;
                        me.record_exit(&handle.id, exit);
                    }
                    Err(e) => tracing::warn!(id = %handle.id, error = %e, "waiting for a container failed"),
                },
            }
        });
    }

    /// Adds an adopted run to the pod's state (after a restart).
    pub(crate) fn adopt_run(&self, uid: &str, ns: &str, name: &str, handle: Handle) {
        let Some((_, container, restart)) = ids::parse(&handle.id) else {
            return;
        };
        let mut pods = self.pods();
        let st = pods
            .entry(uid.to_owned())
            .or_insert_with(|| PodState::new(ns, name, Timestamp::now()));
        let o = st.obs.containers.entry(container.to_owned()).or_default();
        if o.current.is_none() || restart > o.restart {
            o.restart = restart;
            o.current = Some(Run {
                id: handle.id.clone(),
                started_at: handle.started_at,
                exit: None,
            });
        }
        st.handles.insert(handle.id.clone(), handle);
    }
}
