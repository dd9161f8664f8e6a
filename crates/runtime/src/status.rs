//! The runtime's vocabulary for a started container: [`Handle`], [`Signal`], and how it
//! ended, [`ExitStatus`].

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A started container, as returned by `start` and `adopt`. Plain data: cloning it is cheap
/// and a clone works like the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle {
    /// The spec's id.
    pub id: String,
    /// Pid of the container's main process, which is also its process group id. `None`
    /// when the command never started.
    pub pid: Option<u32>,
    /// When the command started (after its exec succeeded).
    pub started_at: Option<Timestamp>,
    /// False when the spec asked for limits that this machine could not enforce (no
    /// writable cgroups); the container runs anyway. True when every requested limit is in
    /// place, or none was requested.
    pub limits_enforced: bool,
    /// Why limits were not enforced, when they were not.
    pub limits_message: Option<String>,
    /// The supervisor's identity (ProcessRuntime only).
    pub(crate) shim: Option<ProcessId>,
}

/// A process identified by pid *and* start time, so a reused pid is never mistaken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProcessId {
    pub(crate) pid: u32,
    /// Field 22 of `/proc/<pid>/stat` (clock ticks since boot).
    pub(crate) start_ticks: u64,
}

/// Signals the agent sends to containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: please stop.
    Term,
    /// SIGKILL: stop now.
    Kill,
    /// SIGINT.
    Int,
    /// SIGHUP.
    Hup,
    /// SIGQUIT.
    Quit,
    /// SIGUSR1.
    Usr1,
    /// SIGUSR2.
    Usr2,
}

impl Signal {
    /// The signal number on Linux.
    pub fn number(self) -> i32 {
        match self {
            Signal::Hup => 1,
            Signal::Int => 2,
            Signal::Quit => 3,
            Signal::Kill => 9,
            Signal::Usr1 => 10,
            Signal::Usr2 => 12,
            Signal::Term => 15,
        }
    }
}

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// The exit code as Kubernetes reports it: the process's exit code, or 128 + the signal
    /// number when a signal killed it (137 for SIGKILL and for an OOM kill), or 128 when the
    /// command could not start.
    pub code: i32,
    /// The signal that killed the process, if one did.
    pub signal: Option<i32>,
    /// Why it ended; see [`ExitReason`].
    pub reason: ExitReason,
    /// A human-readable message: the start error, or what was lost.
    pub message: Option<String>,
    /// When the command started; `None` if it never did.
    pub started_at: Option<Timestamp>,
    /// When the exit was observed.
    pub finished_at: Timestamp,
}

/// Why a container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitReason {
    /// The process exited (any code) or was killed by a signal that was not an OOM kill.
    Exited,
    /// The kernel killed a process of the container because it reached its memory limit.
    OomKilled,
    /// The command could not be started (missing executable, working directory or mount
    /// source); `message` says why.
    StartError,
    /// The supervisor died without recording an exit (e.g. it was killed, or the machine
    /// rebooted); the outcome is unknown.
    Lost,
}

impl ExitStatus {
    /// True when the process exited with code 0.
    pub fn success(&self) -> bool {
        self.reason == ExitReason::Exited && self.code == 0 && self.signal.is_none()
    }

    /// True when the container was OOM-killed.
    pub fn oom_killed(&self) -> bool {
        self.reason == ExitReason::OomKilled
    }

    pub(crate) fn start_error(message: String, finished_at: Timestamp) -> Self {
        ExitStatus {
            code: 128,
            signal: None,
            reason: ExitReason::StartError,
            message: Some(message),
            started_at: None,
            finished_at,
        }
    }

    pub(crate) fn lost(
        message: String,
        started_at: Option<Timestamp>,
        finished_at: Timestamp,
    ) -> Self {
        ExitStatus {
            code: 137,
            signal: None,
            reason: ExitReason::Lost,
            message: Some(message),
            started_at,
            finished_at,
        }
    }
}
