//! What the agent has observed of a pod's containers (the input of [`crate::plan`]): per
//! container, its latest run, the previous run's exit, the crash backoff, and why it could not
//! be created. Plain data, built by the shell from its in-memory state.

use std::collections::BTreeMap;

use jiff::Timestamp;
use runtime::ExitStatus;

use crate::backoff;

/// One start of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The runtime's container id (`<pod uid>_<container>_<restart>`).
    pub id: String,
    /// When the command started; `None` if it never did.
    pub started_at: Option<Timestamp>,
    /// How it ended; `None` while it runs.
    pub exit: Option<ExitStatus>,
}

/// Why a container could not be created (it waits with this reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// `CreateContainerConfigError`, `ContainerCreating` (a volume is not ready), …
    pub reason: String,
    /// The detail.
    pub message: Option<String>,
}

/// One container of the pod, as observed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerObs {
    /// The latest run's index: the container's `restartCount`.
    pub restart: u32,
    /// The latest run; `None` before the first start.
    pub current: Option<Run>,
    /// The exit of run `restart - 1` (the container's `lastState`).
    pub previous: Option<ExitStatus>,
    /// Set when the last start attempt failed before anything ran.
    pub blocked: Option<Blocked>,
    /// The crash backoff entry.
    pub backoff: Option<backoff::Entry>,
    /// Whether the BackOff event for the current run was recorded.
    pub backoff_reported: bool,
    /// Whether a stop (SIGTERM, then SIGKILL) is under way.
    pub stopping: bool,
}

impl ContainerObs {
    /// True while the latest run has started and not exited.
    pub fn running(&self) -> bool {
        self.current.as_ref().is_some_and(|r| r.exit.is_none())
    }

    /// The latest run's exit, if it has exited.
    pub fn exit(&self) -> Option<&ExitStatus> {
        self.current.as_ref().and_then(|r| r.exit.as_ref())
    }
}

/// Everything observed of one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// By container name.
    pub containers: BTreeMap<String, ContainerObs>,
    /// When the agent first saw the pod (its `startTime` if the status has none).
    pub first_seen: Timestamp,
}

impl Observed {
    /// Nothing started yet.
    pub fn new(first_seen: Timestamp) -> Self {
        Observed {
            containers: BTreeMap::new(),
            first_seen,
        }
    }

    /// The container `name`, or an empty observation.
    pub fn get(&self, name: &str) -> ContainerObs {
        self.containers.get(name).cloned().unwrap_or_default()
    }
}
