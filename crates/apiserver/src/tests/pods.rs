//! Pods on a node: binding, graceful deletion, the log endpoint's errors and parameters, and
//! PersistentVolumeClaims.

use super::{T0, app, pod};
use crate::logs::{LogError, LogOptions, LogStream, PodLogs};
use serde_json::{Value, json};

const PODS: &str = "/api/v1/namespaces/default/pods";

async fn bind(h: &super::Harness, name: &str, node: &str) -> super::Resp {
    let b = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
    h.post(&format!("{PODS}/{name}/binding"), &b).await
}

#[tokio::test]
async fn binding_sets_the_node_once() {
    let h = app().await;
    h.post(PODS, &pod("p")).await.expect(201);
    let s = bind(&h, "p", "n1").await.expect(201);
    assert_eq!(
        (s["status"].as_str(), s["code"].as_i64()),
        (Some("Success"), Some(201))
    );
    let p = h.get(&format!("{PODS}/p")).await.expect(200);
    assert_eq!(p["spec"]["nodeName"], "n1");
    assert_eq!(
        p["status"]["conditions"],
        json!([{"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2023-11-14T22:13:20Z"}])
    );
    let s = bind(&h, "p", "n2").await.expect_status(409, "Conflict");
    assert_eq!(
        s["message"],
        "Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node \"n1\""
    );
    bind(&h, "missing", "n1")
        .await
        .expect_status(404, "NotFound");
}

async fn bound_pod(h: &super::Harness, name: &str, grace: Option<i64>) {
    let mut p = pod(name);
    p["spec"]["nodeName"] = json!("n1");
    if let Some(g) = grace {
        p["spec"]["terminationGracePeriodSeconds"] = json!(g);
    }
    h.post(PODS, &p).await.expect(201);
}

#[tokio::test]
async fn deleting_a_bound_pod_is_graceful() {
    let h = app().await;
    bound_pod(&h, "p", Some(20)).await;
    let p = h.delete(&format!("{PODS}/p"), None).await.expect(200);
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 20);
    assert_eq!(
        p["metadata"]["deletionTimestamp"].as_str(),
        Some("2023-11-14T22:13:40Z")
    );
    // A status write (the node agent's) does not complete the deletion.
    let patch = json!({"status": {"phase": "Running"}});
    h.patch(
        &format!("{PODS}/p/status"),
        "application/merge-patch+json",
        &patch,
    )
    .await
    .expect(200);
    // A longer grace period does not extend it; a shorter one shortens it.
    let p = h
        .delete(
            &format!("{PODS}/p"),
            Some(&json!({"gracePeriodSeconds": 60})),
        )
        .await
        .expect(200);
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 20);
    let p = h
        .delete(
            &format!("{PODS}/p"),
            Some(&json!({"gracePeriodSeconds": 5})),
        )
        .await
        .expect(200);
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 5);
    h.get(&format!("{PODS}/p")).await.expect(200);
    // The agent's final delete: grace 0 removes it.
    h.delete(
        &format!("{PODS}/p"),
        Some(&json!({"gracePeriodSeconds": 0})),
    )
    .await
    .expect(200);
    h.get(&format!("{PODS}/p"))
        .await
        .expect_status(404, "NotFound");
}

#[tokio::test]
async fn unbound_terminal_and_forced_pods_go_at_once() {
    let h = app().await;
    h.post(PODS, &pod("unbound")).await.expect(201);
    h.delete(&format!("{PODS}/unbound"), None).await.expect(200);
    h.get(&format!("{PODS}/unbound")).await.expect(404);

    bound_pod(&h, "done", None).await;
    let patch = json!({"status": {"phase": "Succeeded"}});
    h.patch(
        &format!("{PODS}/done/status"),
        "application/merge-patch+json",
        &patch,
    )
    .await
    .expect(200);
    h.delete(&format!("{PODS}/done"), None).await.expect(200);
    h.get(&format!("{PODS}/done")).await.expect(404);

    bound_pod(&h, "forced", None).await;
    h.req(
        "DELETE",
        &format!("{PODS}/forced?gracePeriodSeconds=0"),
        &[],
        String::new(),
    )
    .await;
    h.get(&format!("{PODS}/forced")).await.expect(404);

    // With a finalizer, a graceful pod stays until the finalizer goes and grace 0 comes.
    let mut p = pod("held");
    p["spec"]["nodeName"] = json!("n1");
    p["metadata"]["finalizers"] = json!(["batch.kubernetes.io/job-tracking"]);
    h.post(PODS, &p).await.expect(201);
    let p = h.delete(&format!("{PODS}/held"), None).await.expect(200);
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 30);
    let p = h
        .delete(
            &format!("{PODS}/held"),
            Some(&json!({"gracePeriodSeconds": 0})),
        )
        .await
        .expect(200);
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 0);
    let patch = json!({"metadata": {"finalizers": null}});
    h.patch(
        &format!("{PODS}/held"),
        "application/merge-patch+json",
        &patch,
    )
    .await
    .expect(200);
    h.get(&format!("{PODS}/held")).await.expect(404);
}

struct Fixed;

impl PodLogs for Fixed {
    fn open(&self, pod: &Value, container: &str, opts: &LogOptions) -> Result<LogStream, LogError> {
        if container == "waiting" {
            return Err(LogError::BadRequest(format!(
                "container \"waiting\" in pod \"{}\" is waiting to start: ContainerCreating",
                pod["metadata"]["name"].as_str().unwrap_or_default()
            )));
        }
        let text = format!(
            "{container} tail={:?} previous={}\n",
            opts.tail_lines, opts.previous
        );
        Ok(Box::pin(futures::stream::iter([Ok(bytes::Bytes::from(
            text,
        ))])))
    }
}

#[tokio::test]
async fn log_endpoint() {
    let mut h = app().await;
    h.set_pod_logs(std::sync::Arc::new(Fixed));
    let mut p = pod("two");
    p["spec"]["containers"] =
        json!([{"name": "a", "image": "x"}, {"name": "waiting", "image": "x"}]);
    h.post(PODS, &p).await.expect(201);
    // Not bound yet: an empty answer.
    let r = h.get(&format!("{PODS}/two/log?container=a")).await;
    assert_eq!((r.status.as_u16(), r.body.len()), (200, 0));
    bind(&h, "two", "n1").await.expect(201);
    let s = h
        .get(&format!("{PODS}/two/log"))
        .await
        .expect_status(400, "BadRequest");
    assert_eq!(
        s["message"],
        "a container name must be specified for pod two, choose one of: [a waiting]"
    );
    let s = h
        .get(&format!("{PODS}/two/log?container=nope"))
        .await
        .expect_status(400, "BadRequest");
    assert_eq!(s["message"], "container nope is not valid for pod two");
    let s = h
        .get(&format!("{PODS}/two/log?container=waiting"))
        .await
        .expect_status(400, "BadRequest");
    assert_eq!(
        s["message"],
        "container \"waiting\" in pod \"two\" is waiting to start: ContainerCreating"
    );
    let r = h
        .get(&format!(
            "{PODS}/two/log?container=a&tailLines=3&previous=true"
        ))
        .await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.headers["content-type"], "text/plain");
    assert_eq!(&r.body[..], b"a tail=Some(3) previous=true\n");
    let s = h
        .get(&format!("{PODS}/two/log?container=a&sinceSeconds=0"))
        .await
        .expect_status(422, "Invalid");
    assert_eq!(
        s["message"],
        "PodLogOptions \"two\" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0"
    );
    h.get(&format!("{PODS}/nope/log"))
        .await
        .expect_status(404, "NotFound");
    let _ = T0;
}

#[tokio::test]
async fn persistent_volume_claims() {
    let h = app().await;
    let path = "/api/v1/namespaces/default/persistentvolumeclaims";
    let s = h
        .post(path, &json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"}, "spec": {}}))
        .await
        .expect_status(422, "Invalid");
    assert_eq!(
        s["message"],
        "PersistentVolumeClaim \"c\" is invalid: [spec.accessModes: Required value: at least 1 access mode is required, spec.resources[storage]: Required value]"
    );
    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    let c = h.post(path, &claim).await.expect(201);
    assert_eq!(c["status"]["phase"], "Pending");
    assert_eq!(c["spec"]["volumeMode"], "Filesystem");
    let t = h.get_table(&format!("{path}/c")).await.expect(200);
    assert_eq!(t["rows"][0]["cells"][1], "Pending");
}
