//! Thin wrappers over the few Linux calls the runtime needs beyond `std`: process identity
//! from `/proc`, pidfds, signals to process groups, `fork` for the launcher and `unshare`
//! (the crate's only `unsafe`).

use std::io;
use std::os::fd::OwnedFd;

use rustix::process::{Pid, PidfdFlags};

use crate::status::{ProcessId, Signal};

/// The start time (clock ticks since boot) of a process, from `/proc/<pid>/stat`.
pub(crate) fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces and ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ')': field 3 is the state; starttime is field 22, i.e. index 19 here.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// This process's identity.
pub(crate) fn self_id() -> ProcessId {
    let pid = std::process::id();
    ProcessId {
        pid,
        start_ticks: start_ticks(pid).unwrap_or(0),
    }
}

/// Opens a pidfd for `pid`. A pidfd becomes readable when the process exits, and stays so.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = to_pid(pid)?;
    Ok(rustix::process::pidfd_open(pid, PidfdFlags::empty())?)
}

/// A pidfd for `id`, or `None` when that process no longer exists (exited and reaped, or
/// its pid now names another process).
pub(crate) fn pidfd_for(id: ProcessId) -> io::Result<Option<OwnedFd>> {
    match pidfd_open(id.pid) {
        Ok(fd) => {
            // Checked after opening: the fd pins the process, so a match means it is ours.
            if start_ticks(id.pid) == Some(id.start_ticks) {
                Ok(Some(fd))
            } else {
                Ok(None)
            }
        }
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// True when the process `id` still exists (possibly as a zombie).
pub(crate) fn alive(id: ProcessId) -> bool {
    start_ticks(id.pid) == Some(id.start_ticks)
}

/// Sends `signal` to process group `pgid`. "No such process" is success: the group is gone.
pub(crate) fn kill_group(pgid: u32, signal: Signal) -> io::Result<()> {
    kill_group_raw(pgid, signal.number())
}

pub(crate) fn kill_group_raw(pgid: u32, signal: i32) -> io::Result<()> {
    let pid = to_pid(pgid)?;
    let Some(sig) = rustix::process::Signal::from_named_raw(signal) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "unknown signal",
        ));
    };
    match rustix::process::kill_process_group(pid, sig) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sends SIGKILL to one process; "no such process" is success.
pub(crate) fn kill_pid(pid: u32) {
    if let Ok(pid) = to_pid(pid) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

fn to_pid(pid: u32) -> io::Result<Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid pid"))
}

/// Waits until `pidfd` is readable, i.e. its process has exited. Must be polled inside a
/// tokio runtime (it registers with the reactor).
#[allow(unsafe_code)]
pub(crate) async fn exited(pidfd: OwnedFd) -> io::Result<()> {
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;
    // SAFETY: `pidfd` is an `OwnedFd` moved into the `AsyncFd`, so it stays open and refers
    // to the same pidfd until the `AsyncFd` is dropped, and `OwnedFd::as_raw_fd` always
    // returns that same descriptor.
    let fd = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }?;
    let _ready = fd.readable().await?;
    Ok(())
}

/// Which side of a [`fork`] this is.
pub(crate) enum Forked {
    /// The child's pid.
    Parent(Pid),
    Child,
}

/// `fork(2)`. Only for the launcher, which is single-threaded: after a fork only the calling
/// thread exists in the child, so a process with other threads (the server) must never fork.
#[allow(unsafe_code)]
pub(crate) fn fork() -> io::Result<Forked> {
    // SAFETY: the launcher calls this from its only thread (it runs before any async runtime
    // or logging starts, see `shim::main`), so no lock held by another thread can be
    // inherited locked by the child, and the child may go on using std and the allocator.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Pid::from_raw(pid)
            .map(Forked::Parent)
            .ok_or_else(|| io::Error::other("fork returned a negative pid")),
    }
}

/// Which namespaces [`unshare`] creates.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Namespaces {
    pub(crate) mount: bool,
    pub(crate) uts: bool,
    pub(crate) user: bool,
}

/// `unshare(2)` for the mount, UTS and user namespaces of the calling (single-threaded
/// shim) process.
#[allow(unsafe_code)]
pub(crate) fn unshare(ns: Namespaces) -> io::Result<()> {
    use rustix::thread::UnshareFlags;
    let mut flags = UnshareFlags::empty();
    if ns.mount {
        flags |= UnshareFlags::NEWNS;
    }
    if ns.uts {
        flags |= UnshareFlags::NEWUTS;
    }
    if ns.user {
        flags |= UnshareFlags::NEWUSER;
    }
    // SAFETY: the only hazard of `unshare_unsafe` is `CLONE_FILES`, which would let threads
    // observe file descriptors from an unshared table; `flags` is built above from
    // NEWNS/NEWUTS/NEWUSER only and never contains FILES.
    unsafe { rustix::thread::unshare_unsafe(flags) }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_ticks() {
        let me = self_id();
        assert!(me.start_ticks > 0);
        assert!(alive(me));
        assert!(!alive(ProcessId {
            pid: me.pid,
            start_ticks: me.start_ticks + 1
        }));
    }
}
