//! batchlet's container runtime: it starts commands as supervised process groups on this
//! machine, limits them with cgroups, gives them private mount namespaces with bind-mounted
//! volumes, captures their output in log files, and reports how they ended.
//!
//! It knows processes, not Pods: the node agent turns a Pod's container into a
//! [`ContainerSpec`] (argv already expanded, env already resolved, volumes already provisioned
//! as host paths) and drives a [`ContainerRuntime`]. Two implementations:
//!
//! - [`ProcessRuntime`]: the real one. Each container start runs under a *shim* (the
//!   [`shim`] module) that owns the child, its log file and its exit status. Shims are forked
//!   by a *launcher* (the `launcher` module: the batchlet binary re-executed once per server
//!   with a hidden `shim` subcommand, or the `batchlet-shim` binary of this crate). Each shim
//!   is its own session leader and outlives the launcher and the server, so a restarted
//!   server [`adopt`](ContainerRuntime::adopt)s running containers and learns the exits of
//!   those that ended while it was down.
//! - [`FakeRuntime`]: in memory, with scripted exits, for the agent's tests.
//!
//! ```text
//!   server (tokio)                 launcher (one, sync)        shim (one per start, sync)
//!   ProcessRuntime::start ─request─► fork ───────────────────► setsid · cgroup · namespaces
//!        ▲  spec → , ← report line on a socket of its own ◄──── posix_spawn child (own pgrp)
//!        │                                                     pump output → log file (CRI)
//!   wait: pidfd of the shim ◄──────────────────────────────── exit appended to <id>.state
//! ```
//!
//! ## Cost of a start, and the decisions behind it
//!
//! Measured with `runtime::bench` on the 2-core reference machine (shared, load 15-20):
//! containers of `/bin/true`, 1,000 starts, 16 in flight, against `posix_spawn`+`waitpid` of
//! `/bin/true` on 2 threads in the same run.
//!
//! | version | completions | of raw | start p50 |
//! |---|---|---|---|
//! | shim exec'd per start (before) | 127-186/s | 9-16% | 2.4-8.3 ms |
//! | launcher forks the shim, state files recycled | 311-590/s | 21-52% | 1.6-4.2 ms |
//!
//! (the first figure of each range with the state root and logs on ext4, the second on
//! tmpfs). Where the time went, from `perf record` over the process tree:
//! - exec of the shim: `perf stat` gives 1.24 ms of CPU for `batchlet-shim` doing nothing
//!   and 1.37 ms for `batchlet shim` (dynamic loading, relocations, allocator start-up of a
//!   195 MB binary) against 0.41 ms for `/bin/true`. A long-lived launcher forking a small
//!   single-threaded process removes it; a per-node supervisor holding every child was the
//!   alternative, but one process then owns every container's log pump and exit (one
//!   crash loses them all) and needs a protocol for adoption; a forked shim per start keeps
//!   the isolation and the on-disk contract of the per-start shim at the cost of a `fork`.
//! - ext4 inode allocation: 35% of all CPU in `recently_deleted` (journal-less ext4 skips
//!   every inode of the group deleted in the last seconds) for the state and log files.
//!   State files are now recycled (the `state` module); the log file, one per start by
//!   contract, still pays it on ext4, which is the rest of the gap to tmpfs.
//! - kept: the exit record's `fdatasync` (0.1 ms, off the start path, and what tells a
//!   restarted server how a container ended after a host crash); no cgroup and no namespace
//!   is created for a container without limits, mounts or hostname.
//!
//! On disk, one append-only state file per container start under the runtime's state root
//! (`state` module docs); the spec travels on the shim's stdin. Log files live wherever the
//! caller says ([`ContainerSpec::log_path`]), in the CRI logging format described in
//! [`logs`].

mod cgroup;
mod error;
mod fake;
mod launcher;
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
