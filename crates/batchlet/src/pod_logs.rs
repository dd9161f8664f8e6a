//! Glue: the apiserver's log endpoint reads container logs through the node agent. The
//! apiserver defines what it needs ([`apiserver::logs::PodLogs`]) and the agent what it
//! offers ([`agent::Agent::open_logs`]); neither knows the other.

use std::sync::Arc;

use apiserver::logs::{LogError, LogOptions, LogStream, PodLogs};
use runtime::ProcessRuntime;
use serde_json::Value;

/// The agent as the apiserver's log provider.
pub struct AgentLogs(pub Arc<agent::Agent<ProcessRuntime>>);

impl PodLogs for AgentLogs {
    fn open(&self, pod: &Value, container: &str, o: &LogOptions) -> Result<LogStream, LogError> {
        let req = agent::logs::LogRequest {
            previous: o.previous,
            follow: o.follow,
            tail_lines: o.tail_lines,
            since: o.since,
            limit_bytes: o.limit_bytes,
            timestamps: o.timestamps,
        };
        self.0.open_logs(pod, container, &req).map_err(|e| match e {
            agent::logs::LogsError::BadRequest(m) => LogError::BadRequest(m),
            agent::logs::LogsError::Internal(m) => LogError::Internal(m),
        })
    }
}
