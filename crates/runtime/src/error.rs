//! The crate's error types: what can go wrong in the runtime itself (as opposed to a
//! container that fails, which is an [`ExitStatus`](crate::ExitStatus)).

use std::path::PathBuf;

/// `Result` with the runtime's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure of the runtime (not of the container).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec was rejected before anything was started.
    #[error("invalid container spec: {0}")]
    InvalidSpec(#[from] SpecError),
    /// A container with this id has state already (ids are one per start).
    #[error("container {id} already exists")]
    AlreadyExists {
        /// The container id.
        id: String,
    },
    /// No state for this container (never started, or removed).
    #[error("container {id} not found")]
    NotFound {
        /// The container id.
        id: String,
    },
    /// `remove` was called while the container still runs.
    #[error("container {id} is still running")]
    StillRunning {
        /// The container id.
        id: String,
    },
    /// Reading or writing the runtime's own files failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done ("failed to write", …).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A state file exists but cannot be parsed.
    #[error("corrupt state file {path}: {source}")]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The supervisor process could not be started.
    #[error("failed to start the shim {program}: {source}")]
    SpawnShim {
        /// The program that was executed.
        program: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The supervisor started but failed before the container ran.
    #[error("shim for container {id} failed: {message}")]
    Shim {
        /// The container id.
        id: String,
        /// What the shim reported (or that it reported nothing).
        message: String,
    },
    /// Sending a signal failed for a reason other than "no such process".
    #[error("failed to signal container {id}: {source}")]
    Signal {
        /// The container id.
        id: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A handle from another runtime (e.g. a [`FakeRuntime`](crate::FakeRuntime) handle
    /// given to a [`ProcessRuntime`](crate::ProcessRuntime)).
    #[error("handle for container {id} does not belong to this runtime")]
    ForeignHandle {
        /// The container id.
        id: String,
    },
}

impl Error {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

/// Why a [`ContainerSpec`](crate::ContainerSpec) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The id is used in paths and cgroup names, so it is restricted.
    #[error("id {0:?} must be 1-200 characters of [A-Za-z0-9._-] and not start with a dot")]
    Id(String),
    /// No command to run.
    #[error("argv must not be empty")]
    EmptyArgv,
    /// A NUL byte cannot be passed to exec.
    #[error("{0} contains a NUL byte")]
    NulByte(&'static str),
    /// Environment variable names must be non-empty and contain no `=`.
    #[error("invalid environment variable name {0:?}")]
    EnvName(String),
    /// A path that must be absolute is not.
    #[error("{what} {path:?} must be an absolute path without '..'")]
    Path {
        /// Which field.
        what: &'static str,
        /// The value.
        path: PathBuf,
    },
    /// A mount target of `/` would hide the whole system.
    #[error("mount target must not be /")]
    MountRoot,
    /// Hostnames are at most 64 bytes (HOST_NAME_MAX).
    #[error("hostname {0:?} must be 1-64 characters without NUL or '/'")]
    Hostname(String),
}
