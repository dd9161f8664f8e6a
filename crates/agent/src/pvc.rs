//! The local provisioner: binds every PersistentVolumeClaim to a directory under
//! `DATA/volumes/<namespace>/<claim>` (whatever its `storageClassName`: users bring manifests
//! from clusters), sets `spec.volumeName` (`pvc-<uid>`, as dynamic provisioners name volumes)
//! and the status (Bound, the requested capacity, the access modes). A claim naming a storage
//! class gets a Warning that it was provisioned locally. Deleting a claim keeps its data
//! (as the `Retain` reclaim policy).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolumeClaim};
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube::runtime::Controller;
use kube::runtime::controller::Action as Requeue;
use runtime::ContainerRuntime;
use serde_json::json;

use crate::agent::Agent;
use crate::layout::safe;
use crate::plan::Event;
use crate::{Error, Result};

fn params() -> PatchParams {
    PatchParams {
        field_manager: Some("persistentvolume-binder-controller".into()),
        ..Default::default()
    }
}

async fn reconcile<R: ContainerRuntime + 'static>(
    pvc: Arc<PersistentVolumeClaim>,
    agent: Arc<Agent<R>>,
) -> Result<Requeue> {
    let m = &pvc.metadata;
    let (Some(ns), Some(name), Some(uid)) = (&m.namespace, &m.name, &m.uid) else {
        return Err(Error::MissingField("metadata.name"));
    };
    if m.deletion_timestamp.is_some()
        || pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
        || !safe(ns)
        || !safe(name)
    {
        return Ok(Requeue::await_change());
    }
    let dir = agent.layout.claim(ns, name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::Io {
        what: "failed to create",
        path: dir.clone(),
        source: e,
    })?;
    let spec = pvc.spec.clone().unwrap_or_default();
    let volume = format!("pvc-{uid}");
    let api = Api::<PersistentVolumeClaim>::namespaced(agent.client.clone(), ns);
    if spec.volume_name.as_deref().is_none_or(str::is_empty) {
        api.patch(
            name,
            &params(),
            &Patch::Merge(json!({"spec": {"volumeName": volume}})),
        )
        .await?;
    }
    let storage = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .cloned();
    let status = json!({"status": {
        "phase": "Bound",
        "accessModes": spec.access_modes,
        "capacity": {"storage": storage},
    }});
    api.patch_status(name, &params(), &Patch::Merge(status))
        .await?;
    let object = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        name: Some(name.clone()),
        namespace: Some(ns.clone()),
        uid: Some(uid.clone()),
        ..Default::default()
    };
    let mut events = vec![Event {
        warning: false,
        reason: "ProvisioningSucceeded",
        message: format!(
            "Successfully provisioned volume {volume} in {}",
            dir.display()
        ),
        container: None,
    }];
    if let Some(class) = spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) {
        events.push(Event {
            warning: true,
            reason: "ProvisionedLocally",
            message: format!(
                "storageclass \"{class}\" is not available on this node: the claim was provisioned locally in {}",
                dir.display()
            ),
            container: None,
        });
    }
    for e in &events {
        agent.recorder.record(object.clone(), e).await;
    }
    Ok(Requeue::await_change())
}

fn error_policy<R: ContainerRuntime + 'static>(
    pvc: Arc<PersistentVolumeClaim>,
    err: &Error,
    _agent: Arc<Agent<R>>,
) -> Requeue {
    tracing::warn!(claim = pvc.metadata.name.as_deref().unwrap_or(""), error = %err, "binding a claim failed; retrying");
    Requeue::requeue(Duration::from_secs(2))
}

/// Runs the provisioner over the claims' cache until shutdown.
pub(crate) async fn run<R: ContainerRuntime + 'static>(
    agent: Arc<Agent<R>>,
    claims: informer::Informer<PersistentVolumeClaim>,
) {
    let stop = agent.shutdown.clone();
    Controller::for_shared_stream(claims.applied(), claims.store())
        .graceful_shutdown_on(async move { stop.cancelled().await })
        .run(reconcile::<R>, error_policy::<R>, agent)
        .for_each(|_| async {})
        .await;
}
