//! The pod garbage collector (kube-controller-manager's PodGC, `gcTerminated`): every 20 s,
//! when more pods are terminated (phase `Succeeded` or `Failed`) than
//! `--terminated-pod-gc-threshold` (12,500 by default; 0 disables it), the excess is deleted,
//! evicted pods first, then oldest first (by `creationTimestamp`, then name), with a grace
//! period of 0. Which pods is decided by [`plan`]; [`run`] reads the shared Pod cache and
//! deletes them.
//!
//! As in Kubernetes, owned pods are collected too: a Job's pod that still carries the
//! `batch.kubernetes.io/job-tracking` finalizer is only marked for deletion, and goes once
//! the Job controller has counted it and released the finalizer. Pods already marked for
//! deletion count among the terminated ones but are not deleted again (Kubernetes sends the
//! same delete again, which changes nothing). Each delete carries the pod's uid as a
//! precondition, so a pod created again under the same name is never collected from a stale
//! cache.

use crate::informers::Informers;
use crate::{Error, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Preconditions};
use kube::{Api, Client};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// `--terminated-pod-gc-threshold`'s default in kube-controller-manager.
pub const DEFAULT_THRESHOLD: usize = 12_500;

/// How often the collector looks (PodGC's `gcCheckPeriod`).
pub const CHECK_PERIOD: Duration = Duration::from_secs(20);

/// Deletes in flight at a time.
const CONCURRENCY: usize = 16;

/// A pod to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Victim {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// Whether `pod` is terminated (PodGC's `isPodTerminated`: a terminal phase).
pub fn terminated(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Whether `pod` was evicted (`eviction.PodIsEvicted`: Failed with reason Evicted).
fn evicted(pod: &Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| {
        s.phase.as_deref() == Some("Failed") && s.reason.as_deref() == Some("Evicted")
    })
}

/// `byEvictionAndCreationTimestamp`: evicted pods first, then by creation time, then name.
fn order_key(p: &Pod) -> (bool, Option<Timestamp>, Option<&str>) {
    (
        !evicted(p),
        p.metadata.creation_timestamp.as_ref().map(|t| t.0),
        p.metadata.name.as_deref(),
    )
}

/// The terminated pods of `pods` beyond `threshold` to delete (`gcTerminated`), in the
/// order Kubernetes picks them (`byEvictionAndCreationTimestamp`), leaving out those
/// already being deleted. A threshold of 0 collects nothing (the controller is disabled).
pub fn plan(pods: &[Arc<Pod>], threshold: usize) -> Vec<Victim> {
    if threshold == 0 {
        return Vec::new();
    }
    let mut done: Vec<&Pod> = pods
        .iter()
        .map(Arc::as_ref)
        .filter(|p| terminated(p))
        .collect();
    let Some(excess) = done.len().checked_sub(threshold).filter(|n| *n > 0) else {
        return Vec::new();
    };
    // Only the `excess` first in that order are needed: select, then sort those.
    let order = |a: &&Pod, b: &&Pod| order_key(a).cmp(&order_key(b));
    if excess < done.len() {
        done.select_nth_unstable_by(excess - 1, order);
        done.truncate(excess);
    }
    done.sort_by(order);
    done.into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| Victim {
            namespace: p.metadata.namespace.clone().unwrap_or_default(),
            name: p.metadata.name.clone().unwrap_or_default(),
            uid: p.metadata.uid.clone().unwrap_or_default(),
        })
        .collect()
}

/// Deletes `v` with grace period 0 and its uid as precondition; a pod already gone or
/// replaced is no error.
async fn delete(client: &Client, v: &Victim) -> Result<()> {
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some(v.uid.clone()),
            resource_version: None,
        }),
        ..Default::default()
    };
    match Api::<Pod>::namespaced(client.clone(), &v.namespace)
        .delete(&v.name, &dp)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(Error::Kube(e)),
    }
}

/// Runs the collector over the shared Pod cache until `shutdown`, every [`CHECK_PERIOD`].
pub async fn run(
    client: Client,
    informers: Informers,
    threshold: usize,
    shutdown: CancellationToken,
) {
    if threshold == 0 {
        return;
    }
    // Until the cache has its first list it is empty, and nothing is collected.
    let pods = informers.pods.store();
    tracing::info!(threshold, "starting the pod garbage collector");
    let mut tick = tokio::time::interval(CHECK_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let cached = pods.state();
        let victims = plan(&cached, threshold);
        tracing::debug!(pods = cached.len(), victims = victims.len(), "pod GC");
        drop(cached);
        if victims.is_empty() {
            continue;
        }
        tracing::info!(pods = victims.len(), "garbage collecting pods");
        let deletes = futures::stream::iter(victims)
            .map(|v| {
                let client = client.clone();
                async move {
                    if let Err(e) = delete(&client, &v).await {
                        tracing::warn!(pod = %v.name, namespace = %v.namespace, error = %e, "PodGC could not delete the pod");
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<()>();
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = deletes => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use k8s_openapi::jiff::Timestamp;

    fn pod(
        name: &str,
        created: i64,
        phase: &str,
        reason: Option<&str>,
        deleting: bool,
    ) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("u-{name}")),
                creation_timestamp: Some(Time(Timestamp::from_second(created).unwrap())),
                deletion_timestamp: deleting
                    .then(|| Time(Timestamp::from_second(created + 1).unwrap())),
                ..Default::default()
            },
            status: Some(PodStatus {
                phase: Some(phase.into()),
                reason: reason.map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    fn ok(name: &str, created: i64) -> Arc<Pod> {
        pod(name, created, "Succeeded", None, false)
    }

    #[test]
    fn plan_table() {
        // (case, pods, threshold, the pods deleted in order)
        type Case = (&'static str, Vec<Arc<Pod>>, usize, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            (
                "at the threshold: nothing",
                vec![ok("a", 1), ok("b", 2)],
                2,
                vec![],
            ),
            ("below: nothing", vec![ok("a", 1)], 2, vec![]),
            (
                "the oldest beyond the threshold",
                vec![ok("c", 3), ok("a", 1), ok("d", 4), ok("b", 2)],
                2,
                vec!["a", "b"],
            ),
            (
                "running and pending pods are neither counted nor deleted",
                vec![
                    pod("r", 0, "Running", None, false),
                    pod("p", 0, "Pending", None, false),
                    pod("u", 0, "Unknown", None, false),
                    ok("a", 1),
                    ok("b", 2),
                ],
                1,
                vec!["a"],
            ),
            (
                "failed pods count as terminated",
                vec![pod("f", 1, "Failed", None, false), ok("a", 2)],
                1,
                vec!["f"],
            ),
            (
                "evicted pods go first, whatever their age",
                vec![
                    ok("a", 1),
                    ok("b", 2),
                    pod("e", 9, "Failed", Some("Evicted"), false),
                ],
                1,
                vec!["e", "a"],
            ),
            (
                "equal creation times: by name",
                vec![ok("b", 1), ok("a", 1), ok("c", 1)],
                1,
                vec!["a", "b"],
            ),
            (
                "pods already being deleted count but are not deleted again",
                vec![pod("a", 1, "Succeeded", None, true), ok("b", 2), ok("c", 3)],
                1,
                vec!["b"],
            ),
            ("threshold 0: disabled", vec![ok("a", 1)], 0, vec![]),
        ];
        for (name, pods, threshold, want) in cases {
            let got: Vec<String> = plan(&pods, threshold).into_iter().map(|v| v.name).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn victims_carry_their_uid() {
        let got = plan(&[ok("a", 1), ok("b", 2)], 1);
        assert_eq!(
            got,
            vec![Victim {
                namespace: "ns".into(),
                name: "a".into(),
                uid: "u-a".into()
            }]
        );
    }
}
