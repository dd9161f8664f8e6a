//! What `kubectl logs` asks for and why it can be refused: shared by the apiserver (which
//! parses and validates `PodLogOptions`) and the node agent (which reads the bytes), so that
//! neither knows the other.

use jiff::Timestamp;

/// `PodLogOptions`, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// `previous`: the container's previous run.
    pub previous: bool,
    /// `follow`: stream until the container exits.
    pub follow: bool,
    /// `tailLines`: only the last N lines.
    pub tail_lines: Option<u64>,
    /// `sinceSeconds` / `sinceTime`, as an instant.
    pub since: Option<Timestamp>,
    /// `limitBytes`: stop after this many bytes.
    pub limit_bytes: Option<u64>,
    /// `timestamps`: prefix each line with its RFC 3339 time.
    pub timestamps: bool,
}

/// Why logs cannot be served; the message is the node's (the kubelet's) own.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// 400: the container has no logs in this state (waiting, no previous run, …).
    #[error("{0}")]
    BadRequest(String),
    /// 500: reading the logs failed.
    #[error("{0}")]
    Internal(String),
}
