//! The shared watch caches the controllers read ([`Informers`]: one
//! [`informer::Informer`] per kind, made and run once by whoever composes the controllers,
//! and handed to each controller's `run`), and [`controller_uid`], the key of the indexes
//! by controlling owner (`informer::Index`) the Job and CronJob controllers look their
//! children up in instead of scanning a cache.
//!
//! The Job cache takes each watch event only once no CronJob create is in flight
//! ([`crate::gate`]): when thousands of CronJobs are due in the same minute, decoding and
//! caching their new Jobs (≈ 13 % of the minute's CPU, for the garbage collector's owner
//! checks and the controllers' later syncs, none of which the creates need) waits until the
//! minute's Jobs are all created (BENCHMARKS.md finding 61). The watch is not read
//! meanwhile; it resumes where it was.
//!
//! A controller stays a plain API client: anything that can make a `kube::Client` can make
//! the [`Informers`] of a real kube-apiserver, run them, and run one controller alone.
//!
//! What the caches leave out ([`informer::Strip`]):
//! - `metadata.managedFields` of every kind: no controller reads them, and they are most of
//!   a small object's size. A write without them keeps the stored ones (PATCH, and PUT: the
//!   write path keeps the stored entries when a body carries none).
//! - the `kubectl.kubernetes.io/last-applied-configuration` annotation of Pods and Nodes,
//!   which every component writes with PATCH only (the node agent's and the scheduler's
//!   status merge patches, `pods/binding`, the collector's and the Job controller's
//!   strategic patches). Jobs and CronJobs keep it: the Job and CronJob controllers write
//!   their status with a PUT (`replace_status`) of the cached object, and a status PUT keeps
//!   the metadata it carries, annotations included (the status strategies reset only the
//!   spec), so a stripped annotation would be erased from the stored object.
//! - the Job template of CronJobs (`spec.jobTemplate`, [`slim_cronjob`]): about half of a
//!   cached CronJob's memory as typed structs, read by no one but the CronJob controller
//!   when a Job is due. The cache keeps it aside ([`JobTemplates`]: its spec as compact
//!   JSON, a fifth of the typed size), around which a due CronJob's sync writes the Job's
//!   body, instead of reading the CronJob with a GET. The status PUT of a cached CronJob
//!   is unaffected: the status strategy takes the spec from the stored object.

use crate::gate::Gate;
use informer::{Informer, Strip};
use k8s_openapi::api::batch::v1::{CronJob, Job, JobTemplateSpec};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use tokio_util::sync::CancellationToken;

/// One shared cache per kind the controllers watch. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Informers {
    /// Every Pod.
    pub pods: Informer<Pod>,
    /// Every Job.
    pub jobs: Informer<Job>,
    /// Every CronJob, without its Job template ([`slim_cronjob`]).
    pub cronjobs: Informer<CronJob>,
    /// The Job templates `cronjobs` leaves out.
    pub cronjob_templates: JobTemplates,
    /// Every Node.
    pub nodes: Informer<Node>,
}

/// The Job watch's events, each taken once no create is in flight on `creates` (at most
/// [`crate::gate::MAX_DEFER`] later), without managedFields.
fn jobs_after_creates(
    client: &Client,
    wc: watcher::Config,
    creates: &Arc<Gate>,
) -> impl futures::Stream<Item = watcher::Result<watcher::Event<Job>>> + Send + 'static {
    use kube::runtime::WatchStreamExt;
    let events = watcher(Api::<Job>::all(client.clone()), wc).default_backoff();
    after_creates(events, Arc::clone(creates)).modify(|j| Strip::ManagedFields.apply(j))
}

/// `events`, each passed on once no create is in flight on `creates` (at most
/// [`crate::gate::MAX_DEFER`] later).
fn after_creates<S: futures::Stream>(
    events: S,
    creates: Arc<Gate>,
) -> impl futures::Stream<Item = S::Item> {
    use futures::StreamExt;
    events.then(move |ev| {
        let creates = Arc::clone(&creates);
        async move {
            creates.deferred().await;
            ev
        }
    })
}

impl Informers {
    /// The caches of `client`'s cluster, the Job cache held while `creates` has creates in
    /// flight; nothing is watched before [`run`](Self::run).
    pub fn new(client: &Client, creates: &Arc<Gate>) -> Self {
        let wc = watcher::Config::default;
        let cronjob_templates = JobTemplates::default();
        let templates = cronjob_templates.clone();
        Informers {
            pods: Informer::new(
                Api::all(client.clone()),
                wc(),
                Strip::ManagedFieldsAndLastApplied,
            ),
            jobs: Informer::from_events(jobs_after_creates(client, wc(), creates)),
            cronjobs: Informer::with_trim(Api::all(client.clone()), wc(), move |cj| {
                templates.keep(cj);
                slim_cronjob(cj);
            }),
            cronjob_templates,
            nodes: Informer::new(
                Api::all(client.clone()),
                wc(),
                Strip::ManagedFieldsAndLastApplied,
            ),
        }
    }

    /// Waits until every cache holds its first list; `false` if `patience` passed first.
    pub async fn ready(&self, patience: std::time::Duration) -> bool {
        let all = async {
            let _ = self.pods.readiness().wait().await;
            let _ = self.jobs.readiness().wait().await;
            let _ = self.cronjobs.readiness().wait().await;
            let _ = self.nodes.readiness().wait().await;
        };
        tokio::time::timeout(patience, all).await.is_ok()
    }

    /// Watches and fills every cache until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        tokio::join!(
            self.pods.run(shutdown.clone()),
            self.jobs.run(shutdown.clone()),
            self.cronjobs.run(shutdown.clone()),
            self.nodes.run(shutdown),
        );
    }
}

/// A CronJob as the shared cache keeps it: without managedFields and with an empty
/// `spec.jobTemplate` (see the module docs); the rest of the spec, the metadata and the
/// status are the stored ones.
pub fn slim_cronjob(cj: &mut CronJob) {
    Strip::ManagedFields.apply(cj);
    if let Some(spec) = cj.spec.as_mut() {
        spec.job_template = JobTemplateSpec::default();
    }
}

/// The Job templates of the cached CronJobs, each as a [`KeptTemplate`] with the
/// `resourceVersion` of the CronJob it came from, by CronJob uid. The CronJob cache fills
/// it as objects arrive (before [`slim_cronjob`] drops the typed template); the CronJob
/// controller forgets a CronJob's entry when it sees the deletion (the cache's trim sees
/// deletions as any other event). Cheap to clone; clones share the entries.
#[derive(Debug, Clone, Default)]
pub struct JobTemplates(Arc<Mutex<HashMap<String, Kept>>>);

#[derive(Debug)]
struct Kept {
    resource_version: String,
    template: Arc<KeptTemplate>,
}

/// A CronJob's Job template as kept aside: what `getJobFromTemplate2` copies into a Job,
/// the labels and annotations typed and the spec as the compact JSON it serializes to, so
/// that the Job's body is written around it without decoding it
/// (`cronjob::job::job_body`).
#[derive(Debug)]
pub struct KeptTemplate {
    /// `metadata.labels`.
    pub labels: Option<BTreeMap<String, String>>,
    /// `metadata.annotations`.
    pub annotations: Option<BTreeMap<String, String>>,
    /// `spec`, serialized.
    pub spec: Option<Box<RawValue>>,
}

impl KeptTemplate {
    /// `template`'s parts.
    pub fn new(template: &JobTemplateSpec) -> serde_json::Result<Self> {
        let meta = template.metadata.as_ref();
        let spec = match &template.spec {
            Some(s) => Some(serde_json::value::to_raw_value(s)?),
            None => None,
        };
        Ok(KeptTemplate {
            labels: meta.and_then(|m| m.labels.clone()),
            annotations: meta.and_then(|m| m.annotations.clone()),
            spec,
        })
    }
}

impl JobTemplates {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Kept>> {
        // Nothing panics while holding the lock; the map is consistent after any panic.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `cj`'s template, replacing the one of an older version.
    pub fn keep(&self, cj: &CronJob) {
        let (Some(uid), Some(rv), Some(spec)) = (
            cj.metadata.uid.as_ref(),
            cj.metadata.resource_version.as_ref(),
            cj.spec.as_ref(),
        ) else {
            return;
        };
        let Ok(template) = KeptTemplate::new(&spec.job_template) else {
            return;
        };
        let kept = Kept {
            resource_version: rv.clone(),
            template: Arc::new(template),
        };
        self.entries().insert(uid.clone(), kept);
    }

    /// The template of `cj` if the one kept is of `cj`'s version (else the caller reads
    /// the CronJob).
    pub fn get(&self, cj: &CronJob) -> Option<Arc<KeptTemplate>> {
        let uid = cj.metadata.uid.as_ref()?;
        let rv = cj.metadata.resource_version.as_ref()?;
        let entries = self.entries();
        let kept = entries.get(uid).filter(|k| &k.resource_version == rv)?;
        Some(Arc::clone(&kept.template))
    }

    /// Drops the template of the CronJob `uid` (deleted).
    pub fn forget(&self, uid: &str) {
        self.entries().remove(uid);
    }

    /// How many templates are kept.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `meta`'s controller reference if it is of `kind` (and `api_version`).
pub fn controller_ref<'a>(
    meta: &'a ObjectMeta,
    api_version: &str,
    kind: &str,
) -> Option<&'a OwnerReference> {
    meta.owner_references
        .as_deref()?
        .iter()
        .find(|r| r.controller == Some(true))
        .filter(|r| r.kind == kind && r.api_version == api_version)
}

/// The uid of `meta`'s controller reference if it is of `kind` (and `api_version`).
pub fn controller_uid<'a>(meta: &'a ObjectMeta, api_version: &str, kind: &str) -> Option<&'a str> {
    controller_ref(meta, api_version, kind).map(|r| r.uid.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::pin::pin;
    use std::time::Duration;

    /// The Job cache's events wait while a create is in flight, and go on once it ends.
    #[tokio::test]
    async fn events_wait_for_the_creates_in_flight() {
        let creates = Arc::new(Gate::default());
        let mut events = pin!(after_creates(
            futures::stream::iter([1, 2]),
            Arc::clone(&creates)
        ));
        assert_eq!(events.next().await, Some(1), "nothing in flight: at once");
        let create = creates.creating();
        let held = tokio::time::timeout(Duration::from_millis(50), events.next()).await;
        assert!(held.is_err(), "held while a create is in flight");
        drop(create);
        assert_eq!(events.next().await, Some(2));
        assert_eq!(events.next().await, None);
    }
}
