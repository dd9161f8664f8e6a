//! The launcher: one small process per [`crate::ProcessRuntime`] that forks a shim for each
//! container start, so that a start costs a `fork` of a small single-threaded process
//! instead of an `exec` of the batchlet binary (dynamic loading, relocations and allocator
//! start-up of a large executable cost about three times a `/bin/true` on the 2-core
//! reference machine; see the crate docs for the figures).
//!
//! ```text
//!   server                                 launcher (`batchlet shim STATE_ROOT`, fd 0)
//!   socketpair(STREAM) = (conn, theirs)
//!   sendmsg(path, SCM_RIGHTS theirs) ──────► recvmsg → fork ──► shim (child): setsid, reads
//!   conn: spec → , ← one report line                              the spec from `theirs`
//! ```
//!
//! The server side never forks: it starts the launcher once with `posix_spawn`, with one end
//! of a `SOCK_SEQPACKET` socket pair as its stdin. Each request is one message holding the
//! state file's path and, as `SCM_RIGHTS`, the shim's end of a fresh stream socket on which
//! the server sends the spec and reads the shim's report, as it did on a per-shim
//! stdin/stdout. The launcher exits when the server's end closes (the server exited or
//! dropped the runtime); the shims it forked are their own session leaders and keep running.
//! If the launcher dies, the next start spawns another.

use std::ffi::OsStr;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, Shutdown, SocketFlags, SocketType,
};

use crate::process::ShimCommand;
use crate::sys;

/// The longest state file path a request carries.
const MAX_PATH: usize = 4096;

/// The server's handle on a running launcher.
#[derive(Debug)]
pub(crate) struct Launcher {
    sock: OwnedFd,
    child: Child,
}

impl Launcher {
    /// Starts a launcher (`shim.program shim.args… state_root`).
    pub(crate) fn spawn(shim: &ShimCommand, state_root: &Path) -> io::Result<Launcher> {
        let (sock, theirs) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )?;
        let child = Command::new(&shim.program)
            .args(&shim.args)
            .arg(state_root)
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Launcher { sock, child })
    }

    /// Asks for a shim for the state file `path`, which talks to the server on `conn`.
    pub(crate) fn launch(&self, path: &Path, conn: BorrowedFd<'_>) -> io::Result<()> {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        let fds = [conn];
        if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
            return Err(io::Error::other("control buffer too small"));
        }
        let bytes = path.as_os_str().as_bytes();
        let sent = rustix::net::sendmsg(
            &self.sock,
            &[IoSlice::new(bytes)],
            &mut control,
            SendFlags::NOSIGNAL,
        )?;
        if sent != bytes.len() {
            return Err(io::Error::other("short send to the launcher"));
        }
        Ok(())
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        // The launcher sees EOF and exits at once; its shims keep running.
        let _ = rustix::net::shutdown(&self.sock, Shutdown::Both);
        let _ = self.child.wait();
    }
}

/// The launcher's loop, on the request socket `requests` (its stdin). For every request it
/// forks and runs `shim(path, conn)` in the child, which then exits with the code it returns. Returns when the
/// server's end is closed.
pub(crate) fn serve(requests: BorrowedFd<'_>, shim: impl Fn(PathBuf, OwnedFd) -> i32) {
    loop {
        let mut fds = [PollFd::from_borrowed_fd(requests, PollFlags::IN)];
        // Exited shims are reaped after each request and at least once a second.
        let timeout = Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => {
                reap();
                continue;
            }
            Ok(_) => {}
            Err(_) => return,
        }
        let mut buf = [0u8; MAX_PATH];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let msg = match rustix::net::recvmsg(
            requests,
            &mut [IoSliceMut::new(&mut buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(msg) => msg,
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => continue,
            Err(_) => return,
        };
        let conn = control.drain().find_map(|m| match m {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        });
        let conn = match conn {
            Some(conn) => conn,
            // No descriptor: EOF (the server is gone), or a malformed request.
            None if msg.bytes == 0 => return,
            None => continue,
        };
        if msg
            .flags
            .intersects(ReturnFlags::TRUNC | ReturnFlags::CTRUNC)
        {
            // Dropping `conn` tells the server the start failed.
            continue;
        }
        let path = PathBuf::from(OsStr::from_bytes(&buf[..msg.bytes]));
        match sys::fork() {
            Ok(sys::Forked::Child) => {
                // The request socket must not outlive the launcher in its children, or the
                // server could not tell that the launcher died.
                let detached = std::fs::File::open("/dev/null")
                    .and_then(|null| Ok(rustix::stdio::dup2_stdin(null.as_fd())?));
                let code = match detached {
                    Ok(()) => shim(path, conn),
                    Err(_) => 1,
                };
                std::process::exit(code);
            }
            // Dropping `conn` in the parent leaves the child the only holder.
            Ok(sys::Forked::Parent) | Err(_) => {}
        }
        reap();
    }
}

/// Reaps every exited child without blocking.
fn reap() {
    while let Ok(Some(_)) = rustix::process::wait(rustix::process::WaitOptions::NOHANG) {}
}
