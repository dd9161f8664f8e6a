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
        self.0.open_logs(pod, container, o)
    }
}
