//! The on-disk state of one container start: `STATE_ROOT/<id>.state`, a file of JSON lines
//! that only grows. The server creates it empty, or takes a recycled one that holds a
//! newline (either claims the id; readers skip blank lines); the shim
//! appends one line when the command runs (or failed to start) and one when it exited,
//! fsyncing the latter so the outcome survives a crash; the server appends a `Lost` line if
//! the shim vanished without one. Readers take the last complete line, so a torn append is
//! harmless and no temporary file or rename is needed.
//!
//! Why one append-only file: creating files is the dominant kernel cost of a container
//! start on ext4 (inode allocation next to recently deleted inodes), so a start creates
//! at most two: this file and the log. The spec reaches the shim on its connection, not on
//! disk. Mount namespaces additionally use a work directory, `STATE_ROOT/<id>.state.mnt`.
//!
//! And why state files are recycled ([`Pool`]): on ext4 without a journal, allocating an
//! inode skips every inode of the group deleted in the last seconds, one block lookup each
//! (`recently_deleted`), so at hundreds of starts a second each creation paid for the
//! thousands of state files removed just before: in a profile of `/bin/true` containers, 35%
//! of all CPU time was spent there. A removed state file is emptied and renamed into
//! `STATE_ROOT/free/`; a start renames one back (`RENAME_NOREPLACE`, which also claims the
//! id), so the steady state allocates and frees no inode for state at all.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use jiff::Timestamp;
use rustix::fs::RenameFlags;
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
/// The pool of emptied state files, in the state root.
const FREE_DIR: &str = "free";
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

/// Emptied state files waiting for reuse, in `STATE_ROOT/free/` (see the module docs).
#[derive(Debug)]
pub(crate) struct Pool {
    dir: PathBuf,
    free: Mutex<Vec<PathBuf>>,
}

/// At most this many emptied state files are kept.
const POOL_MAX: usize = 4096;

impl Pool {
    /// The pool of the state root `root` (created if missing), with the files already there.
    pub(crate) fn open(root: &Path) -> io::Result<Pool> {
        let dir = root.join(FREE_DIR);
        std::fs::create_dir_all(&dir)?;
        let mut free = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            free.push(entry?.path());
        }
        Ok(Pool {
            dir,
            free: Mutex::new(free),
        })
    }

    fn free(&self) -> std::sync::MutexGuard<'_, Vec<PathBuf>> {
        // Pushes and pops only: a panic cannot leave the list inconsistent.
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates the (empty) state file `path`, from the pool when it has a file; fails with
    /// `AlreadyExists` if `path` exists.
    pub(crate) fn create(&self, path: &Path) -> io::Result<()> {
        loop {
            let Some(spare) = self.free().pop() else {
                return StateFile::create(path);
            };
            let cwd = rustix::fs::CWD;
            match rustix::fs::renameat_with(cwd, &spare, cwd, path, RenameFlags::NOREPLACE) {
                Ok(()) => return Ok(()),
                Err(rustix::io::Errno::EXIST) => {
                    self.free().push(spare);
                    return Err(io::ErrorKind::AlreadyExists.into());
                }
                // Gone (or renaming unsupported): try the next one, or create.
                Err(rustix::io::Errno::NOENT) => continue,
                Err(_) => {
                    let _ = std::fs::remove_file(&spare);
                    return StateFile::create(path);
                }
            }
        }
    }

    /// Disposes of the state file `path` (its container is done): emptied into the pool, or
    /// deleted when the pool is full.
    pub(crate) fn retire(&self, path: &Path) -> io::Result<()> {
        let name = path.file_name().map(|n| self.dir.join(n));
        if let Some(spare) = name
            && self.free().len() < POOL_MAX
            && OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| empty_keeping_block(&f))
                .is_ok()
            && std::fs::rename(path, &spare).is_ok()
        {
            self.free().push(spare);
            return Ok(());
        }
        std::fs::remove_file(path)
    }
}

/// Empties a state file for reuse without freeing its block: it is left holding one
/// newline (which readers skip, as an empty file). Truncating to 0 freed the block, and
/// on a filesystem mounted with `discard` each free also sent the device a discard
/// (BENCHMARKS.md finding 60).
fn empty_keeping_block(f: &File) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"\n", 0)?;
    f.set_len(1)
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

    #[test]
    fn pool_recycles_emptied_files() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path()).unwrap();
        let a = tmp.path().join("a.state");
        pool.create(&a).unwrap();
        let mut file = StateFile::open(&a).unwrap();
        file.append(&state(1), true).unwrap();
        pool.retire(&a).unwrap();
        assert!(!a.exists());
        // A new pool over the same root finds the emptied file and reuses it.
        let pool = Pool::open(tmp.path()).unwrap();
        let b = tmp.path().join("b.state");
        pool.create(&b).unwrap();
        assert_eq!(read_state(&b).unwrap(), None, "recycled files start empty");
        // Emptied without freeing its block (one newline), it then holds the new start's
        // lines only.
        assert_eq!(std::fs::metadata(&b).unwrap().len(), 1);
        StateFile::open(&b)
            .unwrap()
            .append(&state(2), false)
            .unwrap();
        assert_eq!(read_state(&b).unwrap(), Some(state(2)));
        pool.retire(&b).unwrap();
        let b = tmp.path().join("b2.state");
        pool.create(&b).unwrap();
        assert!(
            std::fs::read_dir(tmp.path().join(FREE_DIR))
                .unwrap()
                .next()
                .is_none()
        );
        // Claiming an id twice fails, with or without a spare file.
        assert_eq!(
            pool.create(&b).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        pool.create(&a).unwrap();
        pool.retire(&a).unwrap();
        assert_eq!(
            pool.create(&b).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(pool.free().len(), 1, "the spare stays in the pool");
    }
}
