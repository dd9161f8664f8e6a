//! The node Lease renewer against an in-process API (apiserver router over a store in a
//! temporary directory), every request it makes recorded: one `PUT` per renewal, and the
//! kubelet's fallbacks (read, create) when the Lease changed or went away.

use std::sync::{Arc, Mutex};

use agent::lease::{Renewer, node_owner};
use apiserver::AppState;
use apiserver::registry::Registry;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;

type Log = Arc<Mutex<Vec<String>>>;

/// A client over an in-process API that records `METHOD path` of each request, and the
/// store's directory (kept alive by the caller).
async fn api() -> (Client, Log, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        store::Store::open(&dir.path().join("state.db"), store::Options::default()).expect("store");
    let registry = Registry::new(store, Arc::new(Timestamp::now));
    registry.bootstrap().await.expect("bootstrap");
    let router = apiserver::router(AppState {
        registry,
        shutdown: CancellationToken::new(),
        server_address: "127.0.0.1:0".into(),
        token: None,
        pod_logs: None,
        omit_managed_fields: false,
    });
    let log: Log = Arc::default();
    let l = Arc::clone(&log);
    let router = router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let l = Arc::clone(&l);
            async move {
                let line = format!("{} {}", req.method(), req.uri().path());
                l.lock().expect("log").push(line);
                next.run(req).await
            }
        },
    ));
    (Client::new(router, "default"), log, dir)
}

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().expect("log"))
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_750_000_000 + second).expect("time")
}

const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";

#[tokio::test]
async fn renewals_are_one_put_with_the_kubelets_fallbacks() {
    let (client, log, _dir) = api().await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let nodes: Api<Node> = Api::all(client.clone());
    let renew_time = |l: &Lease| {
        l.spec
            .as_ref()
            .and_then(|s| s.renew_time.clone())
            .map(|t| t.0)
    };
    let mut r = Renewer::new(client.clone(), "n1", 40);

    // No Lease and no Node yet: created without an owner.
    r.sync(at(0)).await.expect("create");
    assert_eq!(
        take(&log),
        [
            format!("GET {LEASE}/n1"),
            "GET /api/v1/nodes/n1".to_owned(),
            format!("POST {LEASE}"),
        ]
    );
    let lease = leases.get("n1").await.expect("lease");
    assert_eq!(lease.metadata.owner_references, None);
    assert_eq!(renew_time(&lease), Some(at(0)));
    let spec = lease.spec.clone().unwrap_or_default();
    assert_eq!(
        (spec.holder_identity.as_deref(), spec.lease_duration_seconds),
        (Some("n1"), Some(40))
    );

    // The Node registers: the next renewal reads it once for the owner reference.
    let node = Node {
        metadata: kube::api::ObjectMeta {
            name: Some("n1".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let node = nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("node");
    let uid = node.metadata.uid.clone().expect("uid");
    take(&log);
    r.sync(at(10)).await.expect("renew with owner");
    assert_eq!(
        take(&log),
        ["GET /api/v1/nodes/n1".to_owned(), format!("PUT {LEASE}/n1")]
    );

    // From then on a renewal is exactly one write.
    let before = leases.get("n1").await.expect("lease");
    take(&log);
    r.sync(at(20)).await.expect("renew");
    assert_eq!(take(&log), [format!("PUT {LEASE}/n1")]);
    let after = leases.get("n1").await.expect("lease");
    assert_eq!(
        after.metadata.owner_references,
        Some(vec![node_owner("n1", &uid)])
    );
    assert_eq!(renew_time(&after), Some(at(20)));
    let managers: Vec<_> = after
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| (m.manager.clone(), m.operation.clone()))
        .collect();
    assert_eq!(managers, [(Some("kubelet".into()), Some("Update".into()))]);
    let rv = |l: &Lease| {
        l.metadata
            .resource_version
            .clone()
            .unwrap_or_default()
            .parse::<u64>()
            .unwrap_or(0)
    };
    assert_eq!(rv(&after), rv(&before) + 1, "one write");

    // Someone else wrote the Lease: the stale PUT conflicts, then read and renew.
    let mut other = after.clone();
    other
        .spec
        .get_or_insert_with(Default::default)
        .lease_transitions = Some(3);
    leases
        .replace("n1", &PostParams::default(), &other)
        .await
        .expect("other writer");
    take(&log);
    r.sync(at(30)).await.expect("renew after conflict");
    assert_eq!(
        take(&log),
        [
            format!("PUT {LEASE}/n1"),
            format!("GET {LEASE}/n1"),
            format!("PUT {LEASE}/n1")
        ]
    );
    let lease = leases.get("n1").await.expect("lease");
    assert_eq!(renew_time(&lease), Some(at(30)));
    assert_eq!(lease.spec.and_then(|s| s.lease_transitions), Some(3));

    // The Lease was deleted: created again, with its owner.
    leases
        .delete("n1", &DeleteParams::default())
        .await
        .expect("delete");
    take(&log);
    r.sync(at(40)).await.expect("recreate");
    assert_eq!(
        take(&log),
        [
            format!("PUT {LEASE}/n1"),
            format!("GET {LEASE}/n1"),
            "GET /api/v1/nodes/n1".to_owned(),
            format!("POST {LEASE}"),
        ]
    );
    let lease = leases.get("n1").await.expect("lease");
    assert_eq!(
        lease.metadata.owner_references,
        Some(vec![node_owner("n1", &uid)])
    );
    assert_eq!(renew_time(&lease), Some(at(40)));
}

#[tokio::test]
async fn a_failed_renewal_is_an_error_and_the_next_one_recovers() {
    let (client, log, _dir) = api().await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let mut r = Renewer::new(client.clone(), "n1", 40);
    r.sync(at(0)).await.expect("create");
    // Without its namespace the Lease cannot be written: the sync reports the API's error.
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    leases
        .delete("n1", &DeleteParams::default())
        .await
        .expect("delete");
    namespaces
        .delete("kube-node-lease", &DeleteParams::default())
        .await
        .expect("delete namespace");
    take(&log);
    let err = r.sync(at(10)).await.expect_err("no namespace");
    assert!(err.to_string().contains("kube-node-lease"), "{err}");
    let ns = k8s_openapi::api::core::v1::Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some("kube-node-lease".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    // The namespace may still be terminating: wait until it is gone, then recreate it.
    let mut tries = 0;
    while namespaces
        .create(&PostParams::default(), &ns)
        .await
        .is_err()
    {
        tries += 1;
        assert!(tries < 600, "namespace never recreated");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    r.sync(at(20)).await.expect("recovered");
    let lease = leases.get("n1").await.expect("lease");
    assert_eq!(
        lease.spec.and_then(|s| s.renew_time).map(|t| t.0),
        Some(at(20))
    );
}
