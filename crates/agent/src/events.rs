//! Events the agent records (core/v1 Events from component `kubelet`, on the pod or a
//! container of it). Recording is best effort: a failure is logged, never fatal.

use jiff::Timestamp;
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
        let object = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: m.name.clone(),
            namespace: m.namespace.clone(),
            uid: m.uid.clone(),
            resource_version: m.resource_version.clone(),
            field_path,
        };
        self.record(object, e).await;
    }

    /// Records `e` about `object` (in `object.namespace`, or `default`).
    pub async fn record(&self, object: ObjectReference, e: &plan::Event) {
        let now = Timestamp::now();
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
        if let Err(err) = api.create(&PostParams::default(), &event).await {
            tracing::debug!(reason = e.reason, error = %err, "recording an event failed");
        }
    }
}
