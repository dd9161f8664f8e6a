//! The pod sync loop: pod workers over the Pods bound to this node (of a Pod cache that may
//! hold other pods too: the server's shared one), fed straight from the cache's changes
//! through a [`WorkQueue`], that ask [`crate::plan`] what to do and do it: start
//! containers through the runtime, stop them, record events, write the status, release a
//! terminal pod's runtime state, and delete a stopped pod's object. Exits of containers come
//! back through [`Agent::record_exit`], which requeues the pod.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use informer::{Change, Informer, Next, RateLimit, Subscription, WorkQueue};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::reflector::{ObjectRef, Store};
use runtime::{ContainerRuntime, ExitReason, ExitStatus, Handle};
use serde_json::json;

use crate::agent::{Agent, PodState};
use crate::container::{self, Problem};
use crate::ids;
use crate::observed::{Blocked, Observed, Run};
use crate::plan::{self, Action, Event};
use crate::{Error, Result};

/// Re-plans after starting containers at most this many times per reconcile.
const MAX_ROUNDS: usize = 4;

fn event(warning: bool, reason: &'static str, message: String, container: &str) -> Event {
    Event {
        warning,
        reason,
        message,
        container: Some(container.to_owned()),
    }
}

impl<R: ContainerRuntime + 'static> Agent<R> {
    /// The observations of `pod`, creating its record on first sight.
    fn observe(&self, pod: &Pod, uid: &str) -> Observed {
        let mut pods = self.pods();
        let st = pods.entry(uid.to_owned()).or_insert_with(|| {
            PodState::new(
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                pod.metadata.name.as_deref().unwrap_or_default(),
                Timestamp::now(),
            )
        });
        st.obs.clone()
    }

    fn update<T>(&self, uid: &str, f: impl FnOnce(&mut PodState) -> T) -> Option<T> {
        self.pods().get_mut(uid).map(f)
    }

    /// Syncs `pod`; when to sync it again without a change, if ever.
    async fn sync(self: &Arc<Self>, pod: &Pod) -> Result<Option<Duration>> {
        let uid = pod
            .metadata
            .uid
            .clone()
            .ok_or(Error::MissingField("metadata.uid"))?;
        // Events of the containers started in this sync, written with the status below.
        let mut pending = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let obs = self.observe(pod, &uid);
            let plan = plan::plan(pod, &obs, &self.cfg.host_ip, Timestamp::now());
            let mut started = false;
            let mut status = None;
            for action in plan.actions {
                match action {
                    Action::Start {
                        container,
                        restart,
                        backoff,
                    } => {
                        started |= self
                            .start(pod, &uid, &container, restart, backoff, &mut pending)
                            .await;
                    }
                    Action::Stop { container, grace } => {
                        self.stop(pod, &uid, &container, grace).await
                    }
                    Action::Event(e) => {
                        if e.reason == "BackOff"
                            && let Some(c) = &e.container
                        {
                            self.update(&uid, |st| {
                                st.obs
                                    .containers
                                    .entry(c.clone())
                                    .or_default()
                                    .backoff_reported = true;
                            });
                        }
                        self.recorder.pod(pod, &e).await;
                    }
                    Action::WriteStatus(s) => status = Some(s),
                    Action::Release => self.release(&uid),
                    Action::DeleteObject => {
                        if let Err(e) = self.delete_object(pod, &uid).await {
                            self.recorder.pod_all(pod, &pending).await;
                            return Err(e);
                        }
                    }
                }
            }
            if started {
                continue;
            }
            // A start's Events and the status that reports it are written at once, so the
            // store commits them together (the kubelet's recorder does not wait for its
            // Events either); both are written when the sync returns.
            let events = self.recorder.pod_all(pod, &pending);
            let written = match status {
                Some(s) => tokio::join!(events, self.write_status(pod, &s)).1,
                None => {
                    events.await;
                    Ok(())
                }
            };
            return written.map(|()| plan.requeue);
        }
        self.recorder.pod_all(pod, &pending).await;
        Ok(Some(Duration::from_millis(100)))
    }

    async fn write_status(
        &self,
        pod: &Pod,
        status: &k8s_openapi::api::core::v1::PodStatus,
    ) -> Result<()> {
        let api = Api::<Pod>::namespaced(
            self.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or_default(),
        );
        let pp = PatchParams {
            field_manager: Some("kubelet".into()),
            ..Default::default()
        };
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        // `Api::patch_status` without decoding the returned Pod: the watch brings it.
        let req = kube::core::Request::new(api.resource_url())
            .patch_subresource(
                "status",
                name,
                &pp,
                &Patch::Merge(json!({"status": status})),
            )
            .map_err(kube::Error::BuildRequest)?;
        match self.client.request_text(req).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Starts run `restart` of `name`, or records why it cannot start. True when a run was
    /// recorded (the plan changes).
    async fn start(
        self: &Arc<Self>,
        pod: &Pod,
        uid: &str,
        name: &str,
        restart: u32,
        backoff: Option<crate::backoff::Entry>,
        pending: &mut Vec<plan::Event>,
    ) -> bool {
        let Some(c) = container::find(pod, name) else {
            return false;
        };
        let id = ids::run_id(uid, name, restart);
        let built = container::spec(pod, c, restart, &self.layout, &self.host());
        let spec = match built {
            Ok(spec) => spec,
            Err(Problem::Blocked(b)) => {
                self.block(pod, uid, name, b).await;
                return false;
            }
            Err(Problem::CannotRun(message)) => {
                let now = Timestamp::now();
                let exit = ExitStatus {
                    code: 128,
                    signal: None,
                    reason: ExitReason::StartError,
                    message: Some(message),
                    started_at: None,
                    finished_at: now,
                };
                self.record_start(uid, name, restart, backoff, None, &id);
                self.exit_event_for(pod, name, &exit).await;
                self.record_exit(&id, exit);
                return true;
            }
        };
        // A file left by an earlier pod of the same name must not prefix this run's log.
        let _ = std::fs::remove_file(&spec.log_path);
        let image = c.image.clone().unwrap_or_default();
        match self.rt.start(&spec).await {
            Ok(handle) => {
                let limits = (!handle.limits_enforced).then(|| handle.limits_message.clone());
                let started = handle.pid.is_some();
                self.record_start(uid, name, restart, backoff, Some(handle.clone()), &id);
                self.watch_exit(handle);
                let mut events = vec![
                    event(
                        false,
                        "Pulled",
                        format!(
                            "Container image \"{image}\" not pulled: the process runtime runs the container's command on the host"
                        ),
                        name,
                    ),
                    event(false, "Created", format!("Created container: {name}"), name),
                ];
                if let Some(why) = limits {
                    let message = format!(
                        "Resource limits of container {name} are not enforced: {}",
                        why.unwrap_or_else(|| "cgroups are not writable".into())
                    );
                    events.push(event(true, "LimitsNotEnforced", message, name));
                }
                if started {
                    events.push(event(
                        false,
                        "Started",
                        format!("Started container {name}"),
                        name,
                    ));
                }
                // Written with the status that reports the start (see `sync`).
                pending.extend(events);
                true
            }
            Err(runtime::Error::AlreadyExists { .. }) => {
                // Started before a restart and not adopted: nothing to do but wait.
                tracing::warn!(%id, "container already exists");
                false
            }
            Err(e) => {
                let b = Blocked {
                    reason: "RunContainerError".into(),
                    message: Some(e.to_string()),
                };
                self.block(pod, uid, name, b).await;
                false
            }
        }
    }

    fn record_start(
        &self,
        uid: &str,
        name: &str,
        restart: u32,
        backoff: Option<crate::backoff::Entry>,
        handle: Option<Handle>,
        id: &str,
    ) {
        let old = self.update(uid, |st| {
            let o = st.obs.containers.entry(name.to_owned()).or_default();
            let prev = o.current.take();
            o.previous = prev.as_ref().and_then(|r| r.exit.clone());
            o.restart = restart;
            o.current = Some(Run {
                id: id.to_owned(),
                started_at: handle.as_ref().and_then(|h| h.started_at),
                exit: None,
            });
            o.blocked = None;
            o.backoff = backoff.or(o.backoff);
            o.backoff_reported = false;
            o.stopping = false;
            if let Some(h) = handle {
                st.handles.insert(h.id.clone(), h);
            }
            // Keep the runs `kubectl logs` and `--previous` read; forget older ones.
            restart
                .checked_sub(2)
                .map(|r| ids::run_id(uid, name, r))
                .and_then(|old| st.handles.remove(&old))
        });
        if let Some(Some(h)) = old
            && let Err(e) = self.rt.remove(&h)
        {
            tracing::debug!(id = %h.id, error = %e, "removing an old run failed");
        }
    }

    async fn block(&self, pod: &Pod, uid: &str, name: &str, b: Blocked) {
        let changed = self
            .update(uid, |st| {
                let o = st.obs.containers.entry(name.to_owned()).or_default();
                let changed = o.blocked.as_ref() != Some(&b);
                o.blocked = Some(b.clone());
                changed
            })
            .unwrap_or(false);
        if changed {
            let (reason, message) = match b.reason.as_str() {
                "ContainerCreating" => ("FailedMount", b.message.clone().unwrap_or_default()),
                _ => (
                    "Failed",
                    format!("Error: {}", b.message.clone().unwrap_or_default()),
                ),
            };
            self.recorder
                .pod(pod, &event(true, reason, message, name))
                .await;
        }
    }

    /// The Warning a failed start gets.
    async fn exit_event_for(&self, pod: &Pod, name: &str, exit: &ExitStatus) {
        if exit.reason == ExitReason::StartError {
            let message = format!("Error: {}", exit.message.clone().unwrap_or_default());
            self.recorder
                .pod(pod, &event(true, "Failed", message, name))
                .await;
        }
    }

    /// Stops `name` in a tracked task: SIGTERM, SIGKILL after `grace`.
    async fn stop(self: &Arc<Self>, pod: &Pod, uid: &str, name: &str, grace: Duration) {
        let handle = self
            .update(uid, |st| {
                let o = st.obs.containers.get_mut(name)?;
                o.stopping = true;
                let id = o.current.as_ref()?.id.clone();
                st.handles.get(&id).cloned()
            })
            .flatten();
        let Some(handle) = handle else { return };
        self.recorder
            .pod(
                pod,
                &event(false, "Killing", format!("Stopping container {name}"), name),
            )
            .await;
        let me = Arc::clone(self);
        self.tasks.spawn(async move {
            tokio::select! {
                () = me.shutdown.cancelled() => {}
                r = me.rt.stop(&handle, grace) => {
                    if let Err(e) = r {
                        tracing::warn!(id = %handle.id, error = %e, "stopping a container failed");
                    }
                }
            }
        });
    }

    /// Forgets a terminal pod's runtime state and emptyDir volumes (logs stay).
    pub(crate) fn release(&self, uid: &str) {
        let handles: Vec<Handle> = self
            .update(uid, |st| {
                if st.released {
                    return Vec::new();
                }
                st.released = true;
                st.handles.drain().map(|(_, h)| h).collect()
            })
            .unwrap_or_default();
        if handles.is_empty() && !self.layout.pod_dir(uid).exists() {
            return;
        }
        for h in handles {
            if let Err(e) = self.rt.remove(&h) {
                tracing::debug!(id = %h.id, error = %e, "removing a container failed");
            }
        }
        let dir = self.layout.pod_dir(uid);
        if dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&dir)
        {
            tracing::warn!(dir = %dir.display(), error = %e, "removing the pod's volumes failed");
        }
    }

    async fn delete_object(&self, pod: &Pod, uid: &str) -> Result<()> {
        self.release(uid);
        let api = Api::<Pod>::namespaced(
            self.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or_default(),
        );
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(uid.to_owned()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api
            .delete(pod.metadata.name.as_deref().unwrap_or_default(), &dp)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The Warning for a run that could not start (from its exit).
    pub(crate) async fn exit_event(&self, id: &str, exit: &ExitStatus) {
        if exit.reason != ExitReason::StartError {
            return;
        }
        let Some((uid, name, _)) = ids::parse(id) else {
            return;
        };
        let target = self
            .pods()
            .get(uid)
            .map(|st| (st.ns.clone(), st.name.clone()));
        let Some((ns, pod_name)) = target else { return };
        let pod = Pod {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(pod_name),
                namespace: Some(ns),
                uid: Some(uid.to_owned()),
                ..Default::default()
            },
            ..Default::default()
        };
        self.exit_event_for(&pod, name, exit).await;
    }
}

/// Retries of a failed sync: client-go's 5 ms doubling, capped at the kubelet's pod worker
/// back-off period (10 s).
const RETRY: RateLimit = RateLimit {
    base: Duration::from_millis(5),
    max: Duration::from_secs(10),
};

/// A pod's key in the work queue.
type Key = ObjectRef<Pod>;

/// Runs the pod workers until shutdown (the kubelet's pod workers): this node's pods in
/// `pods` and the exits [`Agent::record_exit`] reports are keys in a [`WorkQueue`]; each key
/// is synced by one worker at a time, against the pod as cached when its sync starts. A
/// sync's requeue (a deadline, a crash backoff) is a delayed add, a failed sync a
/// rate-limited one. On shutdown no sync starts and the running ones finish.
pub(crate) async fn run<R: ContainerRuntime + 'static>(agent: Arc<Agent<R>>, pods: Informer<Pod>) {
    let queue = WorkQueue::new(RETRY);
    let triggered = agent
        .triggered
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    let changes = pods.subscribe();
    tokio::join!(
        feed(&agent, changes, triggered, &queue),
        work(&agent, pods.store(), pods.readiness(), &queue)
    );
}

/// Adds the key of every change to a pod on this node, and of every exit, until shutdown.
async fn feed<R: ContainerRuntime + 'static>(
    agent: &Agent<R>,
    changes: Subscription<Pod>,
    triggered: Option<mpsc::UnboundedReceiver<Key>>,
    queue: &WorkQueue<Key>,
) {
    let node = agent.cfg.node_name.as_str();
    let mine = changes.filter_map(|c| {
        std::future::ready(match c {
            Change::Applied(p) if on_node(&p, node) => Some(informer::key(p.as_ref())),
            _ => None,
        })
    });
    let exits = futures::stream::iter(triggered).flatten();
    let mut keys = futures::stream::select(mine, exits);
    loop {
        tokio::select! {
            () = agent.shutdown.cancelled() => return,
            key = keys.next() => match key {
                Some(key) => queue.add(key),
                None => return,
            },
        }
    }
}

/// Syncs each key in a worker task, once `store` has its first list (`ready`), until
/// shutdown; then waits for the running syncs.
async fn work<R: ContainerRuntime + 'static>(
    agent: &Arc<Agent<R>>,
    store: Store<Pod>,
    ready: informer::Readiness,
    queue: &WorkQueue<Key>,
) {
    let stop = &agent.shutdown;
    queue
        .run_workers_when_ready(ready.wait(), stop, |key| {
            let (agent, store) = (Arc::clone(agent), store.clone());
            async move {
                // A pod gone from the cache needs no sync (housekeeping stops what it left).
                let Some(pod) = store.get(&key) else {
                    return Next::AwaitChange;
                };
                match reconcile(&pod, &agent).await {
                    Ok(Some(after)) => Next::After(after),
                    Ok(None) => Next::AwaitChange,
                    Err(e) => {
                        tracing::warn!(pod = %key.name, error = %e, "pod sync failed; retrying");
                        Next::Retry
                    }
                }
            }
        })
        .await;
}

/// Whether `pod` is bound to the node `node`.
pub(crate) fn on_node(pod: &Pod, node: &str) -> bool {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node)
}

/// Syncs `pod` if it is on this node; when to sync it again without a change, if ever.
async fn reconcile<R: ContainerRuntime + 'static>(
    pod: &Pod,
    agent: &Arc<Agent<R>>,
) -> Result<Option<Duration>> {
    if !on_node(pod, &agent.cfg.node_name) {
        return Ok(None);
    }
    agent.sync(pod).await
}
