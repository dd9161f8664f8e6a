//! In-process tests of the HTTP API: the real [`router`](crate::router) over a store in a
//! temporary directory and a registry with a fixed clock, called with `tower`'s `oneshot`
//! (no TCP, no kubectl). Expectations are the real kube-apiserver's (v1.33).

mod auth;
mod crud;
mod errors;
mod limits;
mod list;
mod patch;
mod pods;
mod ssa;
mod watch;

use crate::registry::{Clock, Registry};
use crate::{AppState, router};
use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The Accept header kubectl sends for server-side printing.
pub const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// The fixed start of the test clock: 2023-11-14T22:13:20Z.
pub const T0: i64 = 1_700_000_000;

/// A router over a fresh store, bootstrapped with the system namespaces.
pub struct Harness {
    app: Router,
    pub registry: Registry,
    pub shutdown: CancellationToken,
    clock: Arc<Mutex<Timestamp>>,
    _dir: TempDir,
}

/// One response, fully read.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    /// The body as JSON (panics with the body text if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Every `Warning` header value.
    pub fn warnings(&self) -> Vec<String> {
        self.headers
            .get_all(http::header::WARNING)
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Asserts the status code, showing the body on failure; returns the JSON body.
    #[track_caller]
    pub fn expect(&self, code: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            code,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    /// Asserts a `Status` failure with this code and reason; returns it.
    #[track_caller]
    pub fn expect_status(&self, code: u16, reason: &str) -> Value {
        let s = self.expect(code);
        assert_status(&s, code, reason);
        s
    }
}

/// Asserts that `s` is a `Status` failure with `code` and `reason` and a message.
#[track_caller]
pub fn assert_status(s: &Value, code: u16, reason: &str) {
    assert_eq!(s["kind"], "Status", "{s}");
    assert_eq!(s["apiVersion"], "v1", "{s}");
    assert_eq!(s["metadata"], json!({}), "{s}");
    assert_eq!(s["status"], "Failure", "{s}");
    assert_eq!(s["code"], code, "{s}");
    assert_eq!(s["reason"], reason, "{s}");
    assert!(s["message"].as_str().is_some_and(|m| !m.is_empty()), "{s}");
}

/// A harness with default store options and no token.
pub async fn app() -> Harness {
    app_with(store::Options::default(), None).await
}

/// A harness with these store options and bearer token.
pub async fn app_with(opts: store::Options, token: Option<&str>) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store::Store::open(&dir.path().join("db.sqlite"), opts).expect("open store");
    let clock = Arc::new(Mutex::new(
        Timestamp::from_second(T0).expect("valid timestamp"),
    ));
    let c = clock.clone();
    let f: Clock = Arc::new(move || *c.lock().unwrap_or_else(|e| e.into_inner()));
    let registry = Registry::new(store, f);
    registry.bootstrap().await.expect("bootstrap");
    let shutdown = CancellationToken::new();
    let app = router(AppState {
        registry: registry.clone(),
        shutdown: shutdown.clone(),
        server_address: "127.0.0.1:6443".into(),
        token: token.map(Arc::from),
        pod_logs: None,
        omit_managed_fields: false,
    });
    Harness {
        app,
        registry,
        shutdown,
        clock,
        _dir: dir,
    }
}

impl Harness {
    /// Serves pod logs from `logs`.
    pub fn set_pod_logs(&mut self, logs: Arc<dyn crate::logs::PodLogs>) {
        self.app = router(AppState {
            registry: self.registry.clone(),
            shutdown: self.shutdown.clone(),
            server_address: "127.0.0.1:6443".into(),
            token: None,
            pod_logs: Some(logs),
            omit_managed_fields: false,
        });
    }

    /// Serves as the in-process router does: watches and JSON lists without managedFields.
    pub fn set_omit_managed_fields(&mut self) {
        self.app = router(AppState {
            registry: self.registry.clone(),
            shutdown: self.shutdown.clone(),
            server_address: "127.0.0.1:6443".into(),
            token: None,
            pod_logs: None,
            omit_managed_fields: true,
        });
    }

    /// Puts the listener's request limits in front of the router.
    pub fn set_limits(&mut self, limits: crate::limits::Limits) {
        self.app = crate::limits::layer(self.app.clone(), limits);
    }

    /// Moves the clock forward.
    pub fn advance(&self, secs: i64) {
        let mut t = self.clock.lock().unwrap_or_else(|e| e.into_inner());
        *t = Timestamp::from_second(t.as_second() + secs).expect("valid timestamp");
    }

    /// The store's current revision.
    pub fn revision(&self) -> u64 {
        self.registry.store().current_revision()
    }

    /// Sends a request and returns the response with its body unread.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> http::Response<Body> {
        let mut b = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(body.into()).expect("request");
        self.app.clone().oneshot(req).await.expect("infallible")
    }

    /// Sends a request and reads the whole response.
    pub async fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Resp {
        let resp = self.send(method, path, headers, body).await;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// `GET` with `Accept: application/json`.
    pub async fn get(&self, path: &str) -> Resp {
        self.req(
            "GET",
            path,
            &[("accept", "application/json")],
            Body::empty(),
        )
        .await
    }

    /// `GET` asking for a Table.
    pub async fn get_table(&self, path: &str) -> Resp {
        self.req("GET", path, &[("accept", TABLE)], Body::empty())
            .await
    }

    /// A JSON body with `method`.
    pub async fn send_json(&self, method: &str, path: &str, body: &Value) -> Resp {
        self.req(
            method,
            path,
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await
    }

    /// `POST` a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send_json("POST", path, body).await
    }

    /// `PUT` a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send_json("PUT", path, body).await
    }

    /// `PATCH` with a content type.
    pub async fn patch(&self, path: &str, content_type: &str, body: &Value) -> Resp {
        self.req(
            "PATCH",
            path,
            &[("content-type", content_type)],
            body.to_string(),
        )
        .await
    }

    /// `DELETE` with a DeleteOptions body; without one, Background propagation, as kubectl
    /// sends by default.
    pub async fn delete(&self, path: &str, body: Option<&Value>) -> Resp {
        let body = body.map_or_else(
            || r#"{"propagationPolicy":"Background"}"#.to_owned(),
            Value::to_string,
        );
        self.req("DELETE", path, &[], body).await
    }

    /// `DELETE` with no body at all (the resource's default propagation).
    pub async fn delete_raw(&self, path: &str) -> Resp {
        self.req("DELETE", path, &[], String::new()).await
    }

    /// Creates a Job in `ns` (201 expected) and returns it.
    pub async fn create_job(&self, ns: &str, job: Value) -> Value {
        self.post(&format!("/apis/batch/v1/namespaces/{ns}/jobs"), &job)
            .await
            .expect(201)
    }

    /// Starts a watch; events are read with [`Events::next`].
    pub async fn watch(&self, path: &str, accept: &str) -> Events {
        let resp = self
            .send("GET", path, &[("accept", accept)], Body::empty())
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "watch {path}");
        Events {
            body: resp.into_body(),
            buf: Vec::new(),
        }
    }
}

/// A watch response body, split into events.
pub struct Events {
    body: Body,
    buf: Vec<u8>,
}

impl Events {
    /// The next event, or `None` when the server ended the stream.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(serde_json::from_slice(&line).unwrap_or_else(|e| {
                    panic!("bad event ({e}): {}", String::from_utf8_lossy(&line))
                }));
            }
            match self.body.frame().await {
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => panic!("watch body: {e}"),
                None => {
                    assert!(self.buf.is_empty(), "partial event at end of stream");
                    return None;
                }
            }
        }
    }

    /// The next event, failing after a generous safety delay (not a timing assertion: it
    /// only turns a hang into a failure).
    pub async fn expect_next(&mut self) -> Value {
        tokio::time::timeout(std::time::Duration::from_secs(60), self.next())
            .await
            .expect("watch event within 60 s")
            .expect("watch stream ended")
    }

    /// The next event's type and object name.
    pub async fn next_kind_name(&mut self) -> (String, String) {
        let ev = self.expect_next().await;
        (
            ev["type"].as_str().unwrap_or_default().to_owned(),
            ev["object"]["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    }
}

/// A minimal valid Job.
pub fn job(name: &str) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {
            "containers": [{"name": "c", "image": "busybox:1.36", "command": ["true"]}],
            "restartPolicy": "Never"
        }}}
    })
}

/// A Job with labels.
pub fn job_labeled(name: &str, labels: Value) -> Value {
    let mut j = job(name);
    j["metadata"]["labels"] = labels;
    j
}

/// A minimal valid Pod.
pub fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    })
}

/// Names of a list's items, in order.
pub fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    i["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The path of a Job.
pub fn job_path(ns: &str, name: &str) -> String {
    format!("/apis/batch/v1/namespaces/{ns}/jobs/{name}")
}

/// A patch content type.
pub const MERGE: &str = "application/merge-patch+json";
/// A patch content type.
pub const JSON_PATCH: &str = "application/json-patch+json";
/// A patch content type.
pub const STRATEGIC: &str = "application/strategic-merge-patch+json";
