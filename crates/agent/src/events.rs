//! Events the agent records (core/v1 Events from component `kubelet`, on the pod or a
//! container of it). Recording is best effort: a failure is logged, never fatal.
//!
//! Several Events of one moment (a container's `Pulled`, `Created`, `Started`) are written
//! at once rather than one after the other, and at the same time as the pod's status that
//! reports the start, so the store commits them together and the status is not held up by
//! durable writes in a row. The response (the created Event) is not decoded: nothing reads it.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::{Api, Client};

use crate::plan;
use crate::status::time;

/// Records Events as this node's kubelet.
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    node: String,
    component: &'static str,
}

impl Recorder {
    /// A recorder for `component` (`kubelet`) on `node`.
    pub fn new(client: Client, node: &str, component: &'static str) -> Self {
        Recorder {
            client,
            node: node.to_owned(),
            component,
        }
    }

    /// Records `e` about `pod`.
    pub async fn pod(&self, pod: &Pod, e: &plan::Event) {
        self.record(reference(pod, e), e).await;
    }

    /// Records `events` about `pod`, all at once; returns when every one was written (or
    /// failed). They keep their order in their timestamps and names (which `kubectl get
    /// events` sorts by), not necessarily in their resource versions.
    pub async fn pod_all(&self, pod: &Pod, events: &[plan::Event]) {
        let now = Timestamp::now();
        let writes = events.iter().zip(0i64..).map(|(e, i)| {
            // Distinct names even within one clock tick.
            let at = now
                .checked_add(SignedDuration::from_nanos(i))
                .unwrap_or(now);
            self.record_at(reference(pod, e), e, at)
        });
        futures::future::join_all(writes).await;
    }

    /// Records `e` about `object` (in `object.namespace`, or `default`).
    pub async fn record(&self, object: ObjectReference, e: &plan::Event) {
        self.record_at(object, e, Timestamp::now()).await;
    }

    async fn record_at(&self, object: ObjectReference, e: &plan::Event, now: Timestamp) {
        let ns = object
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into());
        let name = format!(
            "{}.{:x}",
            object.name.as_deref().unwrap_or("object"),
            now.as_nanosecond()
        );
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            involved_object: object,
            reason: Some(e.reason.to_owned()),
            message: Some(e.message.clone()),
            source: Some(EventSource {
                component: Some(self.component.to_owned()),
                host: Some(self.node.clone()),
            }),
            first_timestamp: Some(time(now)),
            last_timestamp: Some(time(now)),
            count: Some(1),
            type_: Some(if e.warning { "Warning" } else { "Normal" }.to_owned()),
            reporting_component: Some(self.component.to_owned()),
            reporting_instance: Some(self.node.clone()),
            ..Default::default()
        };
        let api = Api::<Event>::namespaced(self.client.clone(), &ns);
        let created = async {
            let body = serde_json::to_vec(&event).map_err(kube::Error::SerdeError)?;
            let req = kube::core::Request::new(api.resource_url())
                .create(&PostParams::default(), body)
                .map_err(kube::Error::BuildRequest)?;
            self.client.request_text(req).await
        };
        if let Err(err) = created.await {
            tracing::debug!(reason = e.reason, error = %err, "recording an event failed");
        }
    }
}

/// The reference to `pod` (or its container) that `e` is about.
fn reference(pod: &Pod, e: &plan::Event) -> ObjectReference {
    let m = &pod.metadata;
    let field_path = e.container.as_ref().map(|c| {
        let init = pod
            .spec
            .as_ref()
            .and_then(|s| s.init_containers.as_ref())
            .is_some_and(|ics| ics.iter().any(|i| &i.name == c));
        if init {
            format!("spec.initContainers{{{c}}}")
        } else {
            format!("spec.containers{{{c}}}")
        }
    });
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: m.name.clone(),
        namespace: m.namespace.clone(),
        uid: m.uid.clone(),
        resource_version: m.resource_version.clone(),
        field_path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_the_container_as_kubelet_does() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "resourceVersion": "7"},
            "spec": {
                "initContainers": [{"name": "init"}],
                "containers": [{"name": "main"}],
            },
        }))
        .unwrap();
        let about = |container: Option<&str>| plan::Event {
            warning: false,
            reason: "Started",
            message: String::new(),
            container: container.map(str::to_owned),
        };
        let cases = [
            (Some("init"), Some("spec.initContainers{init}")),
            (Some("main"), Some("spec.containers{main}")),
            (None, None),
        ];
        for (container, want) in cases {
            let r = reference(&pod, &about(container));
            assert_eq!(r.field_path.as_deref(), want, "{container:?}");
            assert_eq!(
                (r.name.as_deref(), r.namespace.as_deref(), r.uid.as_deref()),
                (Some("p"), Some("ns"), Some("u"))
            );
            assert_eq!(r.resource_version.as_deref(), Some("7"));
        }
    }
}
