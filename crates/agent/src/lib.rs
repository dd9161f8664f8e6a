//! batchlet's node agent, its kubelet: it registers this machine as a Node, runs the Pods
//! bound to it as supervised processes through a [`runtime::ContainerRuntime`], reports their
//! status as a kubelet does, provisions PersistentVolumeClaims as local directories, and
//! serves container logs.
//!
//! Like every component but the apiserver, it is a Kubernetes API client (kube-rs): it would
//! run unchanged against a real kube-apiserver. The decisions are pure functions ([`plan`]
//! with [`status`], [`backoff`], [`expand`], [`env`]); the loops that carry them out are thin
//! (`sync`, `housekeeping`, `pvc`, the node status report, the node [`lease`] renewal).
//!
//! ```text
//!  Pods (spec.nodeName=this node) ──watch──► sync: plan(pod, observed, now) → actions
//!        ▲  status, events, delete                │ start / stop
//!        └────────────────────────────────────────┤
//!                                                 ▼
//!                                   runtime (process groups under shims)
//!                                   exits ──► record_exit ──► requeue the pod
//! ```
//!
//! On shutdown the loops stop and the containers keep running; the next start adopts them
//! ([`runtime::ContainerRuntime::adopt`]) and records the exits of those that ended meanwhile.

mod agent;
pub mod backoff;
pub mod bench;
pub mod container;
pub mod env;
mod events;
pub mod expand;
mod housekeeping;
pub mod ids;
pub mod layout;
pub mod lease;
pub mod logs;
pub mod node;
pub mod observed;
pub mod plan;
mod pvc;
pub mod status;
mod sync;
pub mod volumes;

use std::path::PathBuf;
use std::sync::Arc;

pub use agent::{Agent, Config};
use informer::{Informer, Strip};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::Api;
use kube::runtime::watcher;
use runtime::ContainerRuntime;

/// Errors of the agent's loops.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("kubernetes api: {0}")]
    Kube(#[from] kube::Error),
    /// The runtime failed.
    #[error("runtime: {0}")]
    Runtime(#[from] runtime::Error),
    /// An object lacked a field every served object has.
    #[error("object without {0}")]
    MissingField(&'static str),
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A blocking task failed.
    #[error("task: {0}")]
    Task(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl<R: ContainerRuntime + 'static> Agent<R> {
    /// Runs the agent with caches of its own (a remote agent's): the pods bound to this
    /// node (`spec.nodeName` field selector) and the claims. See [`run_shared`](Self::run_shared).
    pub async fn run(self: Arc<Self>, runtime_version: String) {
        let wc =
            watcher::Config::default().fields(&format!("spec.nodeName={}", self.cfg.node_name));
        let pods = Informer::new(
            Api::all(self.client.clone()),
            wc,
            Strip::ManagedFieldsAndLastApplied,
        );
        let stop = self.shutdown.clone();
        tokio::join!(
            pods.run(stop),
            Arc::clone(&self).run_shared(runtime_version, pods.clone())
        );
    }

    /// Runs the agent until its shutdown token is cancelled, over `pods`, a Pod cache shared
    /// with others (the server's, which holds every pod: only this node's are synced, and
    /// whoever made it runs it): registers the Node, adopts the surviving containers, then
    /// runs the pod sync loop, the claim provisioner (over a claims cache of its own),
    /// housekeeping, the node status report and the Lease renewal. Containers keep running
    /// after it returns.
    pub async fn run_shared(self: Arc<Self>, runtime_version: String, pods: Informer<Pod>) {
        let node = node::node_object(
            &self.cfg.node_name,
            &self.cfg.host_ip,
            &self.machine,
            &runtime_version,
            jiff::Timestamp::now(),
        );
        // Register and adopt, retrying until the API answers (it is in-process: at once).
        loop {
            let ready = async {
                node::register(&self.client, &node).await?;
                self.adopt().await
            };
            match ready.await {
                Ok(()) => break,
                Err(e) => tracing::warn!(error = %e, "node agent start failed; retrying"),
            }
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
        }
        tracing::info!(node = %self.cfg.node_name, "node agent running");
        let store = pods.store();
        let claims = Informer::<PersistentVolumeClaim>::new(
            Api::all(self.client.clone()),
            watcher::Config::default(),
            Strip::ManagedFieldsAndLastApplied,
        );
        tokio::join!(
            claims.run(self.shutdown.clone()),
            sync::run(Arc::clone(&self), pods.clone()),
            pvc::run(Arc::clone(&self), claims.clone()),
            Arc::clone(&self).housekeeping(store, pods.readiness()),
            Arc::clone(&self).heartbeats(),
            Arc::clone(&self).renew_lease(),
        );
        self.tasks.close();
        self.tasks.wait().await;
        tracing::info!("node agent stopped; containers keep running");
    }

    /// The node status report: the conditions never change here, so the status is written
    /// only every `nodeStatusReportFrequency`, as a kubelet with node leases does.
    async fn heartbeats(self: Arc<Self>) {
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = tokio::time::sleep(self.cfg.node_status_report_frequency) => {}
            }
            if let Err(e) =
                node::heartbeat(&self.client, &self.cfg.node_name, jiff::Timestamp::now()).await
            {
                tracing::warn!(error = %e, "node heartbeat failed");
            }
        }
    }

    /// The node Lease: created at once (the Node is registered), then renewed every quarter
    /// of its duration, one write each; a failure is logged and retried with backoff.
    async fn renew_lease(self: Arc<Self>) {
        let duration = self.cfg.lease_duration_seconds;
        let interval = lease::renew_interval(duration);
        let mut renewer = lease::Renewer::new(self.client.clone(), &self.cfg.node_name, duration);
        let mut failures = 0u32;
        loop {
            let synced = tokio::select! {
                () = self.shutdown.cancelled() => return,
                r = renewer.sync(jiff::Timestamp::now()) => r,
            };
            match synced {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, failures, "failed to renew the node lease; will retry");
                }
            }
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = tokio::time::sleep(lease::next_delay(interval, failures)) => {}
            }
        }
    }
}
