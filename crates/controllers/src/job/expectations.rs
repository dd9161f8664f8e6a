//! Expectations (the Go controller's `ControllerExpectations` and `finalizerExpectations`):
//! what the shell has asked the apiserver to do and the pod cache has not shown yet. While a
//! Job's creations or deletions are unobserved, its sync creates and deletes nothing, so a
//! stale cache never produces duplicate pods; a pod whose finalizer removal is unobserved is
//! treated as released, so it is never counted twice.
//!
//! An expectation is met by a watch event for the pod, or by the cache's current state
//! (a relist replaces the cache without events), and expires after five minutes.

use super::pods;
use k8s_openapi::api::core::v1::Pod;
use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an unobserved expectation holds (`ExpectationsTimeout`).
const TTL: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Inner {
    /// `namespace/pod name` → (job key, when).
    creates: HashMap<String, (String, Instant)>,
    /// pod uid → (job key, when).
    deletes: HashMap<String, (String, Instant)>,
    /// pod uid → when its finalizer removal was issued.
    finalizers: HashMap<String, Instant>,
}

/// The expectations of every Job, shared by the reconciler and the pod-event forwarder.
#[derive(Default)]
pub struct Expectations(Mutex<Inner>);

fn pod_key(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or(""),
        pods::name(p)
    )
}

impl Expectations {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    /// Before creating `names` (in `namespace`) for the Job `job`.
    pub fn expect_creates(&self, job: &str, namespace: &str, names: &[String]) {
        let now = Instant::now();
        self.with(|i| {
            for n in names {
                i.creates
                    .insert(format!("{namespace}/{n}"), (job.into(), now));
            }
        });
    }

    /// A creation failed or was skipped: it will never be observed.
    pub fn creation_failed(&self, namespace: &str, name: &str) {
        self.with(|i| i.creates.remove(&format!("{namespace}/{name}")));
    }

    /// Before deleting the pod `uid` of the Job `job`.
    pub fn expect_delete(&self, job: &str, uid: &str) {
        self.with(|i| i.deletes.insert(uid.into(), (job.into(), Instant::now())));
    }

    /// A deletion failed.
    pub fn deletion_failed(&self, uid: &str) {
        self.with(|i| i.deletes.remove(uid));
    }

    /// Before removing the tracking finalizer of the pod `uid`.
    pub fn expect_finalizer_removal(&self, uid: &str) {
        self.with(|i| i.finalizers.insert(uid.into(), Instant::now()));
    }

    /// A finalizer removal failed.
    pub fn finalizer_removal_failed(&self, uid: &str) {
        self.with(|i| i.finalizers.remove(uid));
    }

    /// A watch event for `pod` (`deleted`: it is gone).
    pub fn observe(&self, pod: &Pod, deleted: bool) {
        let key = pod_key(pod);
        let uid = pods::uid(pod);
        self.with(|i| {
            i.creates.remove(&key);
            if deleted || pod.metadata.deletion_timestamp.is_some() {
                i.deletes.remove(uid);
            }
            if deleted || !pods::has_finalizer(pod) {
                i.finalizers.remove(uid);
            }
        });
    }

    /// Whether the Job `job` may create and delete pods: none of its expectations is
    /// outstanding, given the pods the cache holds for it now.
    pub fn satisfied<P: Borrow<Pod>>(&self, job: &str, cached: &[P]) -> bool {
        let now = Instant::now();
        let outstanding = |i: &Inner| {
            i.creates.values().any(|(j, _)| j == job) || i.deletes.values().any(|(j, _)| j == job)
        };
        // Most syncs have nothing outstanding: no need to look at the pods.
        if !self.with(|i| outstanding(i)) {
            return true;
        }
        let present: BTreeSet<String> = cached.iter().map(|p| pod_key(p.borrow())).collect();
        let live: BTreeSet<&str> = cached
            .iter()
            .map(Borrow::borrow)
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(pods::uid)
            .collect();
        self.with(|i| {
            i.creates.retain(|k, (j, t)| {
                !(j == job && (present.contains(k) || now.duration_since(*t) > TTL))
            });
            i.deletes.retain(|u, (j, t)| {
                !(j == job && (!live.contains(u.as_str()) || now.duration_since(*t) > TTL))
            });
            !outstanding(i)
        })
    }

    /// The uids among `cached` whose finalizer removal is issued but not yet visible.
    pub fn pending_finalizer_removals<P: Borrow<Pod>>(&self, cached: &[P]) -> BTreeSet<String> {
        let now = Instant::now();
        self.with(|i| {
            if i.finalizers.is_empty() {
                return BTreeSet::new();
            }
            cached
                .iter()
                .map(Borrow::borrow)
                .filter(|p| pods::has_finalizer(p))
                .map(pods::uid)
                .filter(|u| {
                    i.finalizers
                        .get(*u)
                        .is_some_and(|t| now.duration_since(*t) <= TTL)
                })
                .map(str::to_owned)
                .collect()
        })
    }

    /// Forgets a Job's expectations (it finished or is gone).
    pub fn forget(&self, job: &str) {
        self.with(|i| {
            i.creates.retain(|_, (j, _)| j != job);
            i.deletes.retain(|_, (j, _)| j != job);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str, uid: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(uid.into()),
                finalizers: Some(vec![pods::TRACKING_FINALIZER.into()]),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn creations_are_met_by_the_cache_or_an_event() {
        let e = Expectations::default();
        e.expect_creates("ns/j", "ns", &["a".into(), "b".into()]);
        assert!(!e.satisfied("ns/j", &[] as &[Pod]));
        assert!(e.satisfied("ns/other", &[] as &[Pod]));
        e.observe(&pod("a", "1"), true);
        assert!(!e.satisfied("ns/j", &[] as &[Pod]));
        assert!(e.satisfied("ns/j", &[pod("b", "2")]));
        e.expect_creates("ns/j", "ns", &["c".into()]);
        e.creation_failed("ns", "c");
        assert!(e.satisfied("ns/j", &[] as &[Pod]));
    }

    #[test]
    fn deletions_are_met_when_the_pod_is_gone_or_terminating() {
        let e = Expectations::default();
        e.expect_delete("ns/j", "1");
        assert!(!e.satisfied("ns/j", &[pod("a", "1")]));
        let mut p = pod("a", "1");
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
        assert!(e.satisfied("ns/j", &[p]));
    }

    #[test]
    fn finalizer_removals_are_pending_until_seen() {
        let e = Expectations::default();
        e.expect_finalizer_removal("1");
        let p = pod("a", "1");
        assert_eq!(
            e.pending_finalizer_removals(std::slice::from_ref(&p)).len(),
            1
        );
        let mut released = p.clone();
        released.metadata.finalizers = None;
        e.observe(&released, false);
        assert!(e.pending_finalizer_removals(&[p]).is_empty());
    }
}
