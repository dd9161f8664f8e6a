//! Kubernetes controllers. Each is a Kubernetes API client (kube-rs: watcher, reflector,
//! Controller) with a pure `plan` function and a thin shell that carries the plan out, so it
//! would run unchanged against a real kube-apiserver.
//!
//! Controllers never touch the store: every read and write goes through the API, and so
//! through the apiserver's one write path.

pub mod cronjob;
pub mod events;
pub mod garbage_collector;
pub mod gate;
pub mod informers;
pub mod job;
pub mod pod_gc;
pub mod scheduler;
pub mod ttl_after_finished;

/// Errors of the controllers' shells.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("kubernetes api: {0}")]
    Kube(#[from] kube::Error),
    /// An object lacked a field every served object has.
    #[error("object without {0}")]
    MissingField(&'static str),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
