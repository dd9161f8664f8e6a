//! The launcher: one small process per [`crate::ProcessRuntime`] that forks the shims, so
//! that a start costs a `fork` of a small single-threaded process instead of an `exec` of
//! the batchlet binary (dynamic loading, relocations and allocator start-up of a large
//! executable cost about three times a `/bin/true` on the 2-core reference machine; see the
//! crate docs for the figures). It forks them *ahead* of the requests: a few spares wait on
//! the request socket themselves, so a start wakes one process that is already forked, in
//! its own session, and knows its identity, instead of waking the launcher to fork one (a
//! scheduling hop and ≈ 0.2-0.3 ms of the launcher's CPU on the start path).
//!
//! ```text
//!   server                                 launcher (`batchlet shim STATE_ROOT`, fd 0)
//!   socketpair(STREAM) = (conn, theirs)      forks SPARES spares: setsid, waiting on fd 0
//!   sendmsg(path, SCM_RIGHTS theirs) ──────► one spare's recvmsg → it is that start's shim;
//!   conn: spec → , ← one report line           it notes "taken" to the launcher, which
//!                                               forks the next spare
//! ```
//!
//! The server side never forks: it starts the launcher once with `posix_spawn`, with one end
//! of a `SOCK_SEQPACKET` socket pair as its stdin. Each request is one message holding the
//! state file's path and, as `SCM_RIGHTS`, the shim's end of a fresh stream socket on which
//! the server sends the spec and reads the shim's report, as it did on a per-shim
//! stdin/stdout. The spares see EOF when the server's end closes (the server exited or
//! dropped the runtime), tell the launcher, and all exit; the shims that took a request are
//! their own session leaders and keep running. An idle spare dies with the launcher
//! (`PR_SET_PDEATHSIG`), so that once the launcher is gone nobody holds its end of the
//! request socket, the server's next send fails and it spawns another launcher.

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
use rustix::process::Pid;

use crate::process::ShimCommand;
use crate::status::ProcessId;
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

/// How many forked shims wait for a request at any time.
const SPARES: usize = 2;

/// What a spare tells the launcher on their pipe: one record of a tag and its pid (5 bytes,
/// below `PIPE_BUF`, so records never interleave).
const TOOK_REQUEST: u8 = b't';
const SERVER_GONE: u8 = b'e';
const RECORD: usize = 5;

/// The launcher's loop, on the request socket `requests` (its stdin). It keeps [`SPARES`]
/// forked children waiting on `requests` themselves; the one that receives a request becomes
/// that start's shim: `shim(me, path, conn, taken)` runs in it (`me` is its identity, read
/// before the request came), which then exits with the code it returns. So a start pays
/// neither the launcher's wake-up nor its `fork`. The shim drops `taken` once it reported
/// (the start is done), and only then does the launcher fork the next spare: refilling
/// during the start would take the CPU from it. In a burst (another request already
/// queued when a spare takes one) the spare tells the launcher at once instead.
/// Returns when the server's end is closed.
pub(crate) fn serve(
    requests: BorrowedFd<'_>,
    shim: impl Fn(ProcessId, PathBuf, OwnedFd, Taken) -> i32,
) {
    // Close-on-exec: the containers that shims spawn must not inherit it.
    let Ok((notes_r, notes_w)) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) else {
        return;
    };
    let launcher = rustix::process::getpid();
    let mut spares: Vec<Pid> = Vec::with_capacity(SPARES);
    loop {
        while spares.len() < SPARES {
            match sys::fork() {
                Ok(sys::Forked::Child) => {
                    drop(notes_r);
                    let code = spare(launcher, requests, notes_w, &shim);
                    std::process::exit(code);
                }
                Ok(sys::Forked::Parent(pid)) => spares.push(pid),
                // Retried after the wait below.
                Err(_) => break,
            }
        }
        let mut fds = [PollFd::new(&notes_r, PollFlags::IN)];
        // Exited shims (and spares that died idle) are reaped after each note and at least
        // once a second.
        let timeout = Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => {}
            Ok(_) => {
                let mut buf = [0u8; RECORD * 64];
                let n = match rustix::io::read(&notes_r, &mut buf) {
                    Ok(n) => n,
                    Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => 0,
                    Err(_) => return,
                };
                for record in buf[..n].chunks_exact(RECORD) {
                    let pid = i32::from_ne_bytes([record[1], record[2], record[3], record[4]]);
                    match record[0] {
                        TOOK_REQUEST => spares.retain(|p| p.as_raw_nonzero().get() != pid),
                        // Spares still waiting see the same EOF, or die with the launcher.
                        _ => return,
                    }
                }
            }
            Err(_) => return,
        }
        reap(&mut spares);
    }
}

/// A spare, in a child of the launcher: waits for one request on `requests` and runs the
/// shim for it. Returns the process's exit code.
fn spare(
    launcher: Pid,
    requests: BorrowedFd<'_>,
    notes: OwnedFd,
    shim: &impl Fn(ProcessId, PathBuf, OwnedFd, Taken) -> i32,
) -> i32 {
    // An idle spare dies with the launcher, so that the server's sends fail once the
    // launcher is gone and it starts another (a shim clears this as it takes its request).
    if rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .is_err()
        || rustix::process::getppid() != Some(launcher)
    {
        return 1;
    }
    // Its own session (the launcher's child is not a group leader, so this succeeds): the
    // container outlives the launcher and the server.
    let _ = rustix::process::setsid();
    // Everything a shim needs before its request, done while idle.
    let me = sys::self_id();
    let Ok(null) = std::fs::File::open("/dev/null") else {
        return 1;
    };
    loop {
        match receive(requests) {
            Received::Request(path, conn) => {
                let _ = rustix::process::set_parent_process_death_signal(None);
                // The request socket must not outlive the launcher in its shims, or the
                // server could not tell that the launcher died.
                if rustix::stdio::dup2_stdin(null.as_fd()).is_err() {
                    return 1;
                }
                drop(null);
                let mut taken = Taken { notes: Some(notes) };
                if more_waiting(requests) {
                    // A burst: no spare was free for the next request; refill at once.
                    taken.note();
                }
                return shim(me, path, conn, taken);
            }
            Received::Nothing => continue,
            Received::Eof => {
                note(&notes, SERVER_GONE);
                return 0;
            }
        }
    }
}

/// A spare's request, held by its shim: dropping it tells the launcher to fork the next
/// spare.
pub(crate) struct Taken {
    /// Until noted.
    notes: Option<OwnedFd>,
}

impl Taken {
    fn note(&mut self) {
        if let Some(notes) = self.notes.take() {
            note(&notes, TOOK_REQUEST);
        }
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        self.note();
    }
}

/// True when another request is already queued (peeked, not taken).
fn more_waiting(requests: BorrowedFd<'_>) -> bool {
    let mut byte = [MaybeUninit::uninit(); 1];
    rustix::net::recv(requests, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT).is_ok()
}

/// Writes one record for this process on the launcher's pipe.
fn note(notes: &OwnedFd, tag: u8) {
    let mut record = [tag; RECORD];
    let pid = rustix::process::getpid().as_raw_nonzero().get();
    record[1..].copy_from_slice(&pid.to_ne_bytes());
    let _ = rustix::io::write(notes, &record);
}

/// One receive on the request socket.
enum Received {
    /// A state file's path and the shim's end of its connection.
    Request(PathBuf, OwnedFd),
    /// Interrupted, or a malformed request (dropping its descriptor tells the server the
    /// start failed).
    Nothing,
    /// The server's end is closed (or the socket failed).
    Eof,
}

fn receive(requests: BorrowedFd<'_>) -> Received {
    let mut buf = [0u8; MAX_PATH];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    // Blocking: of the spares waiting here, the kernel wakes one per request.
    let msg = match rustix::net::recvmsg(
        requests,
        &mut [IoSliceMut::new(&mut buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    ) {
        Ok(msg) => msg,
        Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => return Received::Nothing,
        Err(_) => return Received::Eof,
    };
    let conn = control.drain().find_map(|m| match m {
        RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
        _ => None,
    });
    match conn {
        _ if msg
            .flags
            .intersects(ReturnFlags::TRUNC | ReturnFlags::CTRUNC) =>
        {
            Received::Nothing
        }
        Some(conn) => Received::Request(PathBuf::from(OsStr::from_bytes(&buf[..msg.bytes])), conn),
        // No descriptor: EOF (the server is gone), or a malformed request.
        None if msg.bytes == 0 => Received::Eof,
        None => Received::Nothing,
    }
}

/// Reaps every exited child without blocking; a spare that died idle is no longer counted.
fn reap(spares: &mut Vec<Pid>) {
    while let Ok(Some((pid, _))) = rustix::process::wait(rustix::process::WaitOptions::NOHANG) {
        spares.retain(|p| *p != pid);
    }
}
