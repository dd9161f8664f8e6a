//! The kubelet's half of `kubectl logs`: which run of a container to read, from the pod's
//! reported status (`validateContainerLogStatus`, with its messages), and the bytes of its log
//! file through [`runtime::logs`], following it until the container exits.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use runtime::ContainerRuntime;
use runtime::logs::ReadOptions;

use crate::agent::Agent;
use crate::ids;

pub use api::logs::{LogError, LogOptions};

/// The log bytes.
pub type LogBytes = BoxStream<'static, io::Result<Bytes>>;

/// The run whose log to read, as a container id (`validateContainerLogStatus`).
pub fn pick_run(pod: &Pod, container: &str, previous: bool) -> Result<String, LogError> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let find = |list: &Option<Vec<ContainerStatus>>| {
        list.iter().flatten().find(|s| s.name == container).cloned()
    };
    let s = find(&status.container_statuses)
        .or_else(|| find(&status.init_container_statuses))
        .or_else(|| find(&status.ephemeral_container_statuses))
        .ok_or_else(|| {
            LogError::BadRequest(format!(
                "container \"{container}\" in pod \"{name}\" is not available"
            ))
        })?;
    let state = s.state.unwrap_or_default();
    let last = s
        .last_state
        .and_then(|l| l.terminated)
        .and_then(|t| t.container_id)
        .filter(|id| !id.is_empty());
    let terminated = |what: &str| {
        LogError::BadRequest(format!(
            "container \"{container}\" in pod \"{name}\" is {what}"
        ))
    };
    let id = if previous {
        last.ok_or_else(|| {
            LogError::BadRequest(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            ))
        })?
    } else if let Some(r) = state.running {
        let _ = r;
        s.container_id.clone().unwrap_or_default()
    } else if let Some(t) = state.terminated {
        match t.container_id.filter(|id| !id.is_empty()) {
            Some(id) => id,
            None => last.ok_or_else(|| terminated("terminated"))?,
        }
    } else if let Some(id) = last {
        id
    } else if let Some(w) = state.waiting {
        return Err(LogError::BadRequest(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {}",
            w.reason.unwrap_or_default()
        )));
    } else {
        return Err(LogError::BadRequest(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start - no logs yet"
        )));
    };
    Ok(id.strip_prefix("batchlet://").unwrap_or(&id).to_owned())
}

/// Streams a log reader in 64 KiB chunks, reading off the async workers.
fn chunks(reader: runtime::logs::LogReader) -> LogBytes {
    futures::stream::unfold(Some(reader), |state| async move {
        let mut reader = state?;
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let n = reader.read(&mut buf);
            (
                n.map(|n| {
                    buf.truncate(n);
                    buf
                }),
                reader,
            )
        })
        .await;
        match read {
            Ok((Ok(buf), _)) if buf.is_empty() => None,
            Ok((Ok(buf), reader)) => Some((Ok(Bytes::from(buf)), Some(reader))),
            Ok((Err(e), _)) => Some((Err(e), None)),
            Err(e) => Some((Err(io::Error::other(e.to_string())), None)),
        }
    })
    .boxed()
}

impl<R: ContainerRuntime + 'static> Agent<R> {
    /// Opens the logs of `container` in `pod` (the stored object with its status).
    pub fn open_logs(
        self: &Arc<Self>,
        pod: &serde_json::Value,
        container: &str,
        req: &LogOptions,
    ) -> Result<LogBytes, LogError> {
        let pod: Pod = serde_json::from_value(pod.clone())
            .map_err(|e| LogError::Internal(format!("decoding the pod: {e}")))?;
        let id = pick_run(&pod, container, req.previous)?;
        let (ns, name) = (
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default(),
        );
        let Some((_, run_container, restart)) = ids::parse(&id) else {
            return Ok(futures::stream::empty().boxed());
        };
        let path = self.layout.log_file(ns, name, run_container, restart);
        let opts = ReadOptions {
            tail_lines: req.tail_lines,
            since: req.since,
            limit_bytes: req.limit_bytes,
            timestamps: req.timestamps,
        };
        let missing = |e: &io::Error| e.kind() == io::ErrorKind::NotFound;
        if !req.follow {
            return match runtime::logs::read(&path, &opts) {
                Ok(reader) => Ok(chunks(reader)),
                Err(e) if missing(&e) => Ok(futures::stream::empty().boxed()),
                Err(e) => Err(LogError::Internal(format!("{}: {e}", path.display()))),
            };
        }
        let handle = self.handle(&id);
        let rt = Arc::clone(&self.rt);
        let exited = async move {
            if let Some(h) = handle {
                let _ = rt.wait(&h).await;
            }
        };
        match runtime::logs::follow(&path, &opts, exited) {
            Ok(s) => Ok(s.map(|r| r.map(Bytes::from)).boxed()),
            Err(e) if missing(&e) => Ok(futures::stream::empty().boxed()),
            Err(e) => Err(LogError::Internal(format!("{}: {e}", path.display()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(statuses: serde_json::Value) -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": "p"}, "status": {"containerStatuses": statuses}}),
        )
        .unwrap_or_default()
    }

    #[test]
    fn runs_and_messages() {
        let running = pod(
            json!([{"name": "c", "image": "", "imageID": "", "ready": true, "restartCount": 1,
            "containerID": "batchlet://u_c_1",
            "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1, "containerID": "batchlet://u_c_0"}}}]),
        );
        assert_eq!(
            pick_run(&running, "c", false).ok().as_deref(),
            Some("u_c_1")
        );
        assert_eq!(pick_run(&running, "c", true).ok().as_deref(), Some("u_c_0"));
        let waiting = pod(
            json!([{"name": "c", "image": "", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}]),
        );
        let msg = |r: Result<String, LogError>| r.err().map(|e| e.to_string());
        assert_eq!(
            msg(pick_run(&waiting, "c", false)).as_deref(),
            Some("container \"c\" in pod \"p\" is waiting to start: ContainerCreating")
        );
        assert_eq!(
            msg(pick_run(&waiting, "c", true)).as_deref(),
            Some("previous terminated container \"c\" in pod \"p\" not found")
        );
        assert_eq!(
            msg(pick_run(&waiting, "x", false)).as_deref(),
            Some("container \"x\" in pod \"p\" is not available")
        );
        let backoff = pod(
            json!([{"name": "c", "image": "", "imageID": "", "ready": false, "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "containerID": "batchlet://u_c_2"}}}]),
        );
        assert_eq!(
            pick_run(&backoff, "c", false).ok().as_deref(),
            Some("u_c_2")
        );
    }
}
