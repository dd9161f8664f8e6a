//! The node's Lease in `kube-node-lease`, as the kubelet's node lease controller
//! (`component-helpers/apimachinery/lease`) keeps it: named as the node, held by it, renewed
//! every quarter of its 40 s duration with one write, owned by the Node so that it goes with
//! it. [`new_lease`] and [`renewed`] decide the object; [`Renewer`] is the thin shell.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kube::api::PostParams;
use kube::{Api, Client};

/// The namespace of node Leases.
pub const NAMESPACE: &str = "kube-node-lease";

/// The kubelet's `nodeLeaseDurationSeconds` default.
pub const DURATION_SECONDS: i32 = 40;

/// How often the Lease is renewed: a quarter of its duration (the kubelet's
/// `renewIntervalFraction`), 10 s for 40 s.
pub fn renew_interval(duration_seconds: i32) -> Duration {
    Duration::from_millis(u64::try_from(duration_seconds).unwrap_or(0) * 250)
}

/// The delay before the next sync after `failures` failures in a row: the renew interval
/// when the last sync worked, else the kubelet's ensure-lease backoff (200 ms doubling, at
/// most 7 s, never more than the interval).
pub fn next_delay(interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return interval;
    }
    let backoff = Duration::from_millis(200).saturating_mul(1 << failures.min(8).saturating_sub(1));
    backoff.min(Duration::from_secs(7)).min(interval)
}

/// `t` as a `MicroTime`, cut to whole microseconds as the API stores it.
fn micro(t: Timestamp) -> MicroTime {
    let us = t.as_microsecond();
    MicroTime(Timestamp::from_microsecond(us).unwrap_or(t))
}

/// The writes' field manager: the kubelet's.
fn params() -> PostParams {
    PostParams {
        field_manager: Some("kubelet".into()),
        ..Default::default()
    }
}

/// The Node as an owner (`setNodeOwnerFunc`): no controller, no blockOwnerDeletion.
pub fn node_owner(name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Node".into(),
        name: name.to_owned(),
        uid: uid.to_owned(),
        ..Default::default()
    }
}

/// A new Lease for `node` (`newLease(nil)`): held by the node, renewed `now`, owned by the
/// Node when its UID is known. The kubelet sets no `acquireTime`.
pub fn new_lease(
    node: &str,
    duration_seconds: i32,
    now: Timestamp,
    owner_uid: Option<&str>,
) -> Lease {
    let base = Lease {
        metadata: ObjectMeta {
            name: Some(node.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(node.to_owned()),
            lease_duration_seconds: Some(duration_seconds),
            ..Default::default()
        }),
    };
    renewed(&base, node, now, owner_uid)
}

/// `base` renewed at `now` (`newLease(base)`): the same object with a fresh `renewTime`, and
/// the Node as owner if it has none yet and the UID is known.
pub fn renewed(base: &Lease, node: &str, now: Timestamp, owner_uid: Option<&str>) -> Lease {
    let mut lease = base.clone();
    lease.spec.get_or_insert_with(Default::default).renew_time = Some(micro(now));
    if needs_owner(&lease)
        && let Some(uid) = owner_uid
    {
        lease.metadata.owner_references = Some(vec![node_owner(node, uid)]);
    }
    lease
}

/// Whether the Lease has no owner yet (so the Node's UID is needed).
pub fn needs_owner(lease: &Lease) -> bool {
    lease
        .metadata
        .owner_references
        .as_deref()
        .is_none_or(<[_]>::is_empty)
}

/// The renewal shell: keeps the last Lease it wrote, so that a renewal is one `PUT` (no
/// `GET`), falling back to reading or creating the Lease when that fails (a conflict, a
/// deleted Lease), as the kubelet's `sync` does.
#[derive(Debug)]
pub struct Renewer {
    api: Api<Lease>,
    nodes: Api<Node>,
    node: String,
    duration_seconds: i32,
    latest: Option<Lease>,
}

impl Renewer {
    /// A renewer of `node`'s Lease.
    pub fn new(client: Client, node: &str, duration_seconds: i32) -> Self {
        Renewer {
            api: Api::namespaced(client.clone(), NAMESPACE),
            nodes: Api::all(client),
            node: node.to_owned(),
            duration_seconds,
            latest: None,
        }
    }

    /// The Node's UID, if it can be read (`setNodeOwnerFunc`: the owner waits otherwise).
    async fn node_uid(&self) -> Option<String> {
        match self.nodes.get(&self.node).await {
            Ok(n) => n.metadata.uid,
            Err(e) => {
                tracing::warn!(node = %self.node, error = %e, "failed to get node when trying to set owner ref to the node lease");
                None
            }
        }
    }

    /// One sync at `now`: renews from the last written Lease; if that fails, reads the Lease
    /// (creating it if missing) and renews that. Errors are the caller's to log; the next
    /// sync retries.
    pub async fn sync(&mut self, now: Timestamp) -> kube::Result<()> {
        if let Some(latest) = self.latest.take() {
            match self.update(&latest, now).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::info!(error = %e, "failed to update lease using latest lease, fallback to ensure lease");
                }
            }
        }
        match self.api.get_opt(&self.node).await? {
            Some(lease) => self.update(&lease, now).await,
            None => {
                let uid = self.node_uid().await;
                let lease = new_lease(&self.node, self.duration_seconds, now, uid.as_deref());
                self.latest = Some(self.api.create(&params(), &lease).await?);
                Ok(())
            }
        }
    }

    async fn update(&mut self, base: &Lease, now: Timestamp) -> kube::Result<()> {
        let uid = if needs_owner(base) {
            self.node_uid().await
        } else {
            None
        };
        let lease = renewed(base, &self.node, now, uid.as_deref());
        self.latest = Some(self.api.replace(&self.node, &params(), &lease).await?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn renewal_interval_is_a_quarter_of_the_duration() {
        assert_eq!(renew_interval(DURATION_SECONDS), Duration::from_secs(10));
        assert_eq!(renew_interval(0), Duration::ZERO);
        assert_eq!(renew_interval(-4), Duration::ZERO);
    }

    #[test]
    fn failures_back_off_up_to_seven_seconds() {
        let i = Duration::from_secs(10);
        let cases = [
            (0, 10_000),
            (1, 200),
            (2, 400),
            (3, 800),
            (5, 3_200),
            (6, 6_400),
            (7, 7_000),
            (40, 7_000),
        ];
        for (failures, ms) in cases {
            assert_eq!(
                next_delay(i, failures),
                Duration::from_millis(ms),
                "{failures}"
            );
        }
        assert_eq!(
            next_delay(Duration::from_secs(1), 9),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn a_new_lease_is_the_kubelets() {
        let now = at("2025-06-01T12:00:00.123456789Z");
        let cases = [
            (
                Some("uid-1"),
                json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": "vm", "namespace": "kube-node-lease",
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "vm", "uid": "uid-1"}]},
                    "spec": {"holderIdentity": "vm", "leaseDurationSeconds": 40,
                        "renewTime": "2025-06-01T12:00:00.123456Z"}}),
            ),
            (
                None,
                json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": "vm", "namespace": "kube-node-lease"},
                    "spec": {"holderIdentity": "vm", "leaseDurationSeconds": 40,
                        "renewTime": "2025-06-01T12:00:00.123456Z"}}),
            ),
        ];
        for (uid, want) in cases {
            let got = serde_json::to_value(new_lease("vm", 40, now, uid)).unwrap_or_default();
            assert_eq!(got, want, "{uid:?}");
        }
    }

    #[test]
    fn renewal_moves_only_the_renew_time_and_adds_a_missing_owner() {
        let first = new_lease("vm", 40, at("2025-06-01T12:00:00Z"), None);
        let later = at("2025-06-01T12:00:10Z");
        // (base, known uid, owners after)
        let owned = renewed(&first, "vm", later, Some("u"));
        let cases = [
            (&first, None, None),
            (&first, Some("u"), Some(vec![node_owner("vm", "u")])),
            (&owned, Some("other"), Some(vec![node_owner("vm", "u")])),
        ];
        for (base, uid, owners) in cases {
            let r = renewed(base, "vm", later, uid);
            let spec = r.spec.clone().unwrap_or_default();
            assert_eq!(spec.renew_time, Some(MicroTime(later)));
            assert_eq!(spec.holder_identity.as_deref(), Some("vm"));
            assert_eq!(spec.acquire_time, None);
            assert_eq!(r.metadata.owner_references, owners, "{uid:?}");
            assert_eq!(needs_owner(&r), owners.is_none());
        }
    }
}
