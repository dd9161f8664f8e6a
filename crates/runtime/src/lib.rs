//! batchlet's container runtime: it starts commands as supervised process groups on this
//! machine, limits them with cgroups, gives them private mount namespaces with bind-mounted
//! volumes, captures their output in log files, and reports how they ended.
//!
//! It knows processes, not Pods: the node agent turns a Pod's container into a
//! [`ContainerSpec`] (argv already expanded, env already resolved, volumes already provisioned
//! as host paths) and drives a [`ContainerRuntime`]. Two implementations:
//!
//! - [`ProcessRuntime`]: the real one. Each container start runs under a *shim* (the
//!   [`shim`] module: the batchlet binary re-executed with a hidden `shim` subcommand, or the
//!   `batchlet-shim` binary of this crate) that owns the child, its log file and its exit
//!   status. The shim is its own session leader and outlives the server, so a restarted server
//!   [`adopt`](ContainerRuntime::adopt)s running containers and learns the exits of those that
//!   ended while it was down.
//! - [`FakeRuntime`]: in memory, with scripted exits, for the agent's tests.
//!
//! ```text
//!   server (tokio)                       shim (one per container start, sync, tiny)
//!   ProcessRuntime::start ──posix_spawn──► setsid · cgroup · namespaces · mounts
//!        ▲   handshake line on a pipe ◄─── posix_spawn child (own process group)
//!        │                                 pump stdout/stderr → log file (CRI format)
//!   wait: pidfd of the shim ◄──────────── exit appended to STATE_ROOT/<id>.state (fsync)
//! ```
//!
//! On disk, one append-only state file per container start under the runtime's state root
//! (`state` module docs); the spec travels on the shim's stdin. Log files live wherever the
//! caller says ([`ContainerSpec::log_path`]), in the CRI logging format described in
//! [`logs`].

mod cgroup;
mod error;
mod fake;
pub mod logs;
mod mounts;
mod process;
pub mod shim;
mod spec;
mod state;
mod status;
mod sys;

pub mod bench;

use std::future::Future;
use std::time::Duration;

pub use cgroup::CgroupSupport;
pub use error::{Error, Result, SpecError};
pub use fake::{FakeCall, FakeRuntime, Script};
pub use process::{Config, ProcessRuntime, ShimCommand};
pub use spec::{ContainerSpec, DEFAULT_PATH, Limits, Mount};
pub use status::{ExitReason, ExitStatus, Handle, Signal};

/// What the node agent needs from a container runtime. Implemented by [`ProcessRuntime`] and
/// [`FakeRuntime`].
///
/// Lifecycle of one container start: [`start`](Self::start) → (optionally
/// [`signal`](Self::signal)/[`stop`](Self::stop)) → [`wait`](Self::wait) →
/// [`remove`](Self::remove). A command that cannot start (missing executable, missing
/// working directory, mounts impossible) is **not** an error of `start`: `start` returns a
/// handle and `wait` reports [`ExitReason::StartError`] with the runtime's message, so the
/// exit is recorded durably like any other. `start` fails only when the runtime itself
/// cannot work (bad spec, state file, supervisor failed).
pub trait ContainerRuntime: Send + Sync {
    /// Starts one container. Returns once the command runs (or has failed to start).
    fn start(&self, spec: &ContainerSpec) -> impl Future<Output = Result<Handle>> + Send;

    /// Sends `signal` to the container's whole process group. Signalling a container that
    /// has already exited is a no-op.
    fn signal(&self, handle: &Handle, signal: Signal) -> Result<()>;

    /// Waits until the container has exited and returns how. May be called any number of
    /// times, concurrently, and after a restart (on an adopted handle).
    fn wait(&self, handle: &Handle) -> impl Future<Output = Result<ExitStatus>> + Send;

    /// Finds every container start that has not been removed: running ones (to wait on)
    /// and those that ended while nobody watched (their `wait` returns at once).
    fn adopt(&self) -> Result<Vec<Handle>>;

    /// Forgets an exited container: removes its state and cgroup. The log file stays (the
    /// caller owns it). Fails with [`Error::StillRunning`] while it runs.
    fn remove(&self, handle: &Handle) -> Result<()>;

    /// SIGTERM to the process group, then SIGKILL if it still runs after `grace`, then
    /// waits for the exit. The grace period is a property of the stop request, not of the
    /// spec, because a deletion may shorten it (Kubernetes' `gracePeriodSeconds`).
    fn stop(
        &self,
        handle: &Handle,
        grace: Duration,
    ) -> impl Future<Output = Result<ExitStatus>> + Send {
        async move {
            self.signal(handle, Signal::Term)?;
            match tokio::time::timeout(grace, self.wait(handle)).await {
                Ok(status) => status,
                Err(_elapsed) => {
                    self.signal(handle, Signal::Kill)?;
                    self.wait(handle).await
                }
            }
        }
    }
}
