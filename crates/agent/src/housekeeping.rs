//! Housekeeping: what the sync loop cannot see. At start, adoption: the runtime's surviving
//! containers are matched to this node's pods (by UID) and watched again; those of pods that
//! are gone are stopped and removed, with leftover log and volume directories. While
//! running, every few seconds: pods that disappeared from the API (deleted at once, e.g. a
//! terminal pod or a namespace) are stopped and forgotten with their files.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use kube::runtime::reflector::Store;
use runtime::{ContainerRuntime, Handle};

use crate::agent::Agent;
use crate::{Error, Result, ids};

/// How often orphans are looked for (the kubelet's housekeeping period is 2 s).
const PERIOD: Duration = Duration::from_secs(2);
/// The grace period of a container whose pod is gone.
const ORPHAN_GRACE: Duration = Duration::from_secs(2);

impl<R: ContainerRuntime + 'static> Agent<R> {
    /// Re-attaches to the containers that survived a restart. Must run before the sync loop.
    pub(crate) async fn adopt(self: &Arc<Self>) -> Result<()> {
        let rt = Arc::clone(&self.rt);
        let handles = tokio::task::spawn_blocking(move || rt.adopt())
            .await
            .map_err(|e| Error::Task(e.to_string()))??;
        let pods = Api::<Pod>::all(self.client.clone())
            .list(&ListParams::default().fields(&format!("spec.nodeName={}", self.cfg.node_name)))
            .await?;
        let known: HashMap<String, (String, String)> = pods
            .items
            .iter()
            .filter_map(|p| {
                let m = &p.metadata;
                Some((m.uid.clone()?, (m.namespace.clone()?, m.name.clone()?)))
            })
            .collect();
        let mut orphans: Vec<Handle> = Vec::new();
        let mut adopted = Vec::new();
        for h in handles {
            let owner = ids::parse(&h.id)
                .and_then(|(uid, _, _)| known.get(uid).map(|k| (uid.to_owned(), k)));
            match owner {
                Some((uid, (ns, name))) => {
                    self.adopt_run(&uid, ns, name, h.clone());
                    adopted.push(h);
                }
                None => orphans.push(h),
            }
        }
        tracing::info!(
            adopted = adopted.len(),
            orphans = orphans.len(),
            "adopted containers"
        );
        for h in adopted {
            self.watch_exit(h);
        }
        for h in orphans {
            self.remove_orphan(h);
        }
        self.remove_stale_dirs(&known);
        Ok(())
    }

    /// Stops (briefly) and removes a container whose pod is gone.
    fn remove_orphan(self: &Arc<Self>, h: Handle) {
        let me = Arc::clone(self);
        self.tasks.spawn(async move {
            tokio::select! {
                () = me.shutdown.cancelled() => {}
                r = me.rt.stop(&h, ORPHAN_GRACE) => {
                    if let Err(e) = r.map(drop).and_then(|()| me.rt.remove(&h)) {
                        tracing::debug!(id = %h.id, error = %e, "removing an orphaned container failed");
                    }
                }
            }
        });
    }

    /// Log and volume directories of pods that no longer exist.
    fn remove_stale_dirs(&self, known: &HashMap<String, (String, String)>) {
        let live: HashSet<(&str, &str)> = known
            .values()
            .map(|(n, p)| (n.as_str(), p.as_str()))
            .collect();
        let Ok(entries) = std::fs::read_dir(self.layout.pods()) else {
            return;
        };
        for e in entries.flatten() {
            let first = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if path.join("volumes").is_dir() && first.len() == 36 {
                if !known.contains_key(&first) {
                    let _ = std::fs::remove_dir_all(&path);
                }
                continue;
            }
            let Ok(pods) = std::fs::read_dir(&path) else {
                continue;
            };
            for p in pods.flatten() {
                let name = p.file_name().to_string_lossy().into_owned();
                if !live.contains(&(first.as_str(), name.as_str())) {
                    let _ = std::fs::remove_dir_all(p.path());
                }
            }
        }
    }

    /// One housekeeping pass over the pods the agent knows, against the API's (`store`).
    pub(crate) fn housekeep(self: &Arc<Self>, store: &Store<Pod>) {
        let live: HashSet<String> = store
            .state()
            .iter()
            .filter_map(|p| p.metadata.uid.clone())
            .collect();
        let names: HashSet<(String, String)> = store
            .state()
            .iter()
            .filter_map(|p| Some((p.metadata.namespace.clone()?, p.metadata.name.clone()?)))
            .collect();
        let gone: Vec<String> = self
            .pods()
            .keys()
            .filter(|uid| !live.contains(*uid))
            .cloned()
            .collect();
        for uid in gone {
            let running: Vec<Handle> = self
                .pods()
                .get_mut(&uid)
                .map(|st| {
                    let mut out = Vec::new();
                    for o in st.obs.containers.values_mut() {
                        if o.running() && !o.stopping {
                            o.stopping = true;
                            if let Some(h) = o.current.as_ref().and_then(|r| st.handles.get(&r.id))
                            {
                                out.push(h.clone());
                            }
                        }
                    }
                    out
                })
                .unwrap_or_default();
            let still = self
                .pods()
                .get(&uid)
                .is_some_and(|st| st.obs.containers.values().any(|o| o.running()));
            for h in running {
                let me = Arc::clone(self);
                self.tasks.spawn(async move {
                    tokio::select! {
                        () = me.shutdown.cancelled() => {}
                        _ = me.rt.stop(&h, ORPHAN_GRACE) => {}
                    }
                });
            }
            if still {
                continue;
            }
            self.release(&uid);
            let st = self.pods().remove(&uid);
            if let Some(st) = st
                && !names.contains(&(st.ns.clone(), st.name.clone()))
            {
                let dir = self.layout.pod_logs(&st.ns, &st.name);
                if dir.exists()
                    && let Err(e) = std::fs::remove_dir_all(&dir)
                {
                    tracing::debug!(dir = %dir.display(), error = %e, "removing logs failed");
                }
            }
        }
    }

    /// Housekeeping until shutdown, once `store` has its first list (`ready`).
    pub(crate) async fn housekeeping(
        self: Arc<Self>,
        store: Store<Pod>,
        ready: informer::Readiness,
    ) {
        tokio::select! {
            () = self.shutdown.cancelled() => return,
            r = ready.wait() => if r.is_err() { return },
        }
        loop {
            self.housekeep(&store);
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = tokio::time::sleep(PERIOD) => {}
            }
        }
    }
}
