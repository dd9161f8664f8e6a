//! A recorder for core/v1 Events, as client-go's `record.EventRecorder` writes them: named
//! `<object>.<hex nanoseconds>`, with `involvedObject`, `source.component`,
//! `reportingComponent`, first and last timestamps, and repeats of the same event folded
//! into one object by raising its `count`. The apiserver serves core/v1 events only, so
//! kube-runtime's `Recorder` (events.k8s.io/v1) is not used. Failures are logged, never
//! returned: an event is best effort, as in Kubernetes.

use k8s_openapi::api::core::v1::{Event as CoreEvent, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;

/// Normal or Warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// `Normal`.
    Normal,
    /// `Warning`.
    Warning,
}

impl EventType {
    /// The `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// An event to record about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Normal or Warning.
    pub type_: EventType,
    /// The reason, e.g. `SuccessfulCreate`.
    pub reason: String,
    /// The message, e.g. `Created pod: pi-xf9p4`.
    pub message: String,
}

impl Event {
    /// A Normal event.
    pub fn normal(reason: &str, message: impl Into<String>) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// A Warning event.
    pub fn warning(reason: &str, message: impl Into<String>) -> Event {
        Event {
            type_: EventType::Warning,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// The aggregation key: the same object, type, reason and message.
type Key = (String, &'static str, String, String);

/// Writes Events for one component.
pub struct Recorder {
    client: Client,
    component: String,
    /// Name and count of the events written so far, to fold repeats.
    seen: Mutex<HashMap<Key, (String, i32)>>,
}

impl Recorder {
    /// A recorder writing as `component` (e.g. `job-controller`).
    pub fn new(client: Client, component: &str) -> Recorder {
        Recorder {
            client,
            component: component.into(),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records `ev` about `obj` at `now`.
    pub async fn record(&self, obj: &ObjectReference, ev: &Event, now: Timestamp) {
        if let Err(e) = self.try_record(obj, ev, now).await {
            tracing::warn!(reason = %ev.reason, object = obj.name.as_deref().unwrap_or(""), error = %e, "could not record event");
        }
    }

    async fn try_record(
        &self,
        obj: &ObjectReference,
        ev: &Event,
        now: Timestamp,
    ) -> kube::Result<()> {
        let ns = obj.namespace.clone().unwrap_or_else(|| "default".into());
        let api = Api::<CoreEvent>::namespaced(self.client.clone(), &ns);
        let key: Key = (
            obj.uid.clone().unwrap_or_default(),
            ev.type_.as_str(),
            ev.reason.clone(),
            ev.message.clone(),
        );
        let previous = self.seen.lock().ok().and_then(|s| s.get(&key).cloned());
        if let Some((name, count)) = previous {
            let patch = json!({"count": count + 1, "lastTimestamp": Time(now)});
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await
            {
                Ok(_) => {
                    if let Ok(mut s) = self.seen.lock() {
                        s.insert(key, (name, count + 1));
                    }
                    return Ok(());
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let name = format!(
            "{}.{:x}",
            obj.name.as_deref().unwrap_or("object"),
            now.as_nanosecond()
        );
        // Boxed: every sync that records an Event carries this future (its size) inline.
        let event = Box::new(CoreEvent {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns),
                ..Default::default()
            },
            involved_object: obj.clone(),
            reason: Some(ev.reason.clone()),
            message: Some(ev.message.clone()),
            type_: Some(ev.type_.as_str().into()),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: None,
            }),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.component.clone()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            ..Default::default()
        });
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {}
            // Two events in the same nanosecond: the later one is dropped, as a name clash
            // drops it in client-go.
            Err(kube::Error::Api(s)) if s.code == 409 => return Ok(()),
            Err(e) => return Err(e),
        }
        if let Ok(mut s) = self.seen.lock() {
            // Bounded, like client-go's LRU of 4096 entries.
            if s.len() >= 4096 {
                s.clear();
            }
            s.insert(key, (name, 1));
        }
        Ok(())
    }
}
