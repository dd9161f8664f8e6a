//! The on-disk state of one container start: `STATE_ROOT/<id>.state`, a file of JSON lines
//! that only grows. The server creates it empty (which also claims the id); the shim
//! appends one line when the command runs (or failed to start) and one when it exited,
//! fsyncing the latter so the outcome survives a crash; the server appends a `Lost` line if
//! the shim vanished without one. Readers take the last complete line, so a torn append is
//! harmless and no temporary file or rename is needed.
//!
//! Why one append-only file: creating files is the dominant kernel cost of a container
//! start on ext4 (inode allocation next to recently deleted inodes), so a start creates
//! exactly two: this file and the log. The spec reaches the shim on its stdin, not on disk.
//! Mount namespaces additionally use a work directory, `STATE_ROOT/<id>.state.mnt`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::cgroup::CgroupSupport;
use crate::error::{Error, Result};
use crate::spec::ContainerSpec;
use crate::status::{ExitStatus, ProcessId};

/// What the server hands the shim.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ShimInput {
    pub(crate) spec: ContainerSpec,
    /// Where to create the container's cgroup; `None` when no limits were asked for or the
    /// machine has no usable cgroups (then `limits_message` says why).
    pub(crate) cgroups: Option<CgroupSupport>,
    /// Why requested limits cannot be enforced, decided by the server.
    pub(crate) limits_message: Option<String>,
}

/// The container's state as the shim records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct State {
    /// The shim process.
    pub(crate) shim: ProcessId,
    /// The container's main process (and process group); `None` if it never started.
    pub(crate) pid: Option<u32>,
    pub(crate) started_at: Option<Timestamp>,
    pub(crate) limits_enforced: bool,
    pub(crate) limits_message: Option<String>,
    /// Set once the container has exited.
    pub(crate) exit: Option<ExitStatus>,
}

/// The shim's one-line report to the server on its stdout, once the container runs (or
/// failed to start).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Report {
    /// The state at that moment (running, or exited with a start error).
    Ready(State),
    /// The shim could not do its job at all (e.g. unreadable spec).
    Failed(String),
}

/// Suffix of state files in the state root.
pub(crate) const STATE_SUFFIX: &str = ".state";
/// Appended to the state file's path for the mount work directory.
pub(crate) const MOUNT_SUFFIX: &str = ".mnt";

/// A container's state file, opened for appending.
#[derive(Debug)]
pub(crate) struct StateFile {
    file: File,
}

impl StateFile {
    /// Creates the (empty) state file; fails with `AlreadyExists` if it exists.
    pub(crate) fn create(path: &Path) -> io::Result<()> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(path)
            .map(drop)
    }

    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(StateFile { file })
    }

    /// Appends `state` as one line; with `durable`, fsyncs it.
    pub(crate) fn append(&mut self, state: &State, durable: bool) -> io::Result<()> {
        let mut line = serde_json::to_vec(state).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        if durable {
            self.file.sync_data()?;
        }
        Ok(())
    }
}

/// The latest state in a state file: `Ok(None)` when it is still empty (the shim has not
/// reported yet), `Err` with `NotFound` when there is no such file.
pub(crate) fn read_state(path: &Path) -> Result<Option<State>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return Err(Error::io("failed to read", path, e)),
    };
    let mut last_error = None;
    for line in bytes.split(|&b| b == b'\n').rev() {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(state) => return Ok(Some(state)),
            // A torn last line: the one before it holds.
            Err(e) => last_error = Some(e),
        }
    }
    match last_error {
        Some(source) => Err(Error::CorruptState {
            path: path.to_owned(),
            source,
        }),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(pid: u32) -> State {
        State {
            shim: ProcessId {
                pid,
                start_ticks: 1,
            },
            pid: Some(pid + 1),
            started_at: None,
            limits_enforced: true,
            limits_message: None,
            exit: None,
        }
    }

    #[test]
    fn append_and_read_last_line() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c.state");
        assert!(matches!(read_state(&path), Err(Error::Io { .. })));
        StateFile::create(&path).unwrap();
        assert!(StateFile::create(&path).is_err(), "ids are claimed once");
        assert_eq!(read_state(&path).unwrap(), None);
        let mut file = StateFile::open(&path).unwrap();
        file.append(&state(1), false).unwrap();
        file.append(&state(2), true).unwrap();
        assert_eq!(read_state(&path).unwrap(), Some(state(2)));
        // A torn append leaves the previous state in force.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"shim\":")
            .unwrap();
        assert_eq!(read_state(&path).unwrap(), Some(state(2)));
        std::fs::write(&path, b"garbage\n").unwrap();
        assert!(matches!(read_state(&path), Err(Error::CorruptState { .. })));
    }
}
