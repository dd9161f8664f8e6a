//! The shim: the small supervisor that runs one container start.
//!
//! The [`crate::launcher`] (`batchlet shim STATE_ROOT`, or `batchlet-shim STATE_ROOT`) forks
//! it ahead of its start, as a spare that takes one request; the server writes the spec
//! (JSON) on the connection it handed over with the request. The shim, single-threaded and
//! without tokio:
//!
//! 1. became a session leader (`setsid`) while it waited: no controlling terminal, its own
//!    process group, so neither the server's death nor a Ctrl-C in the server's terminal
//!    reaches it;
//! 2. reads the spec, opens the state file and the log file (append), creates the cgroup,
//!    enters private namespaces and builds the mounts (the `mounts` module);
//! 3. spawns the command with `posix_spawn` in a new process group, stdout and stderr on
//!    pipes, inside the cgroup (the `cgroup` module explains how without `fork`);
//! 4. appends the running state to the state file and reports it on the connection, one
//!    JSON line, to the server waiting in `start` (a start error is reported the same way);
//! 5. copies the output into the log file as timestamped records ([`crate::logs`]) until the
//!    command exits; then SIGKILLs what is left of the process group and cgroup (as a
//!    container's processes die with its main process), drains the pipes, removes the
//!    cgroup, appends the exit to the state file with fsync, and exits.
//!
//! The server learns of the exit through a pidfd on the shim (readable once it exited),
//! and from the state file after a restart.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rustix::event::{PollFd, PollFlags, Timespec};

use crate::cgroup::ContainerCgroup;
use crate::logs::{LineSplitter, LogStream, format_time};
use crate::spec::DEFAULT_PATH;
use crate::state::{MOUNT_SUFFIX, Report, ShimInput, State, StateFile};
use crate::status::{ExitReason, ExitStatus, ProcessId};
use crate::{launcher, mounts, sys};

/// How long the shim keeps reading the pipes after the command exited, for output still
/// buffered in them (processes that escaped the kill may hold them open).
const DRAIN: Duration = Duration::from_secs(1);

/// Entry point of the launcher (`batchlet shim STATE_ROOT`, the [`crate::launcher`] module);
/// `args` are the arguments after the subcommand. Forks one shim per request on its stdin
/// and returns when the server has gone.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    // The state root is not read: it names the launcher and its shims in `ps` (and lets a
    // test find a server's shims by their command line).
    if args.into_iter().next().is_none() {
        eprintln!("usage: shim STATE_ROOT  (requests on stdin, from the batchlet server)");
        return ExitCode::from(2);
    }
    // Fails only when already a process group leader, which a freshly spawned launcher is
    // not. Its own session: a Ctrl-C in the server's terminal does not reach it.
    let _ = rustix::process::setsid();
    launcher::serve(io::stdin().as_fd(), shim);
    ExitCode::SUCCESS
}

/// One shim, in a child of the launcher that is already its own session leader (so the
/// container outlives the launcher and the server) and whose identity is `me`: the state
/// file `path`; the spec comes on `conn`, where the report goes. Returns the exit code: 0
/// when it recorded an exit, 1 when it could not work.
fn shim(me: ProcessId, path: PathBuf, conn: OwnedFd, taken: launcher::Taken) -> i32 {
    let mut reporter = Reporter {
        conn: Some(UnixStream::from(conn)),
        taken: Some(taken),
    };
    match run(me, &path, &mut reporter) {
        Ok(()) => 0,
        Err(message) => {
            reporter.send(&Report::Failed(message));
            1
        }
    }
}

/// The shim's connection to the server: the spec comes in, one report line goes out.
struct Reporter {
    conn: Option<UnixStream>,
    /// Dropped after the report (the start is done): the launcher then forks a new spare.
    taken: Option<launcher::Taken>,
}

impl Reporter {
    /// The spec: everything the server writes before shutting down its side.
    fn input(&self) -> io::Result<Vec<u8>> {
        // Room for a usual spec, so that it comes in one or two reads.
        let mut bytes = Vec::with_capacity(16 * 1024);
        if let Some(conn) = &self.conn {
            let mut conn: &UnixStream = conn;
            conn.read_to_end(&mut bytes)?;
        }
        Ok(bytes)
    }

    /// Sends the report, at most once, and closes the connection.
    fn send(&mut self, report: &Report) {
        if let Some(mut conn) = self.conn.take()
            && let Ok(mut line) = serde_json::to_vec(report)
        {
            line.push(b'\n');
            // The server may be gone (adoption later reads the state file instead).
            let _ = conn.write_all(&line);
        }
        self.taken = None;
    }
}

fn run(me: ProcessId, path: &Path, reporter: &mut Reporter) -> Result<(), String> {
    let mut state_file =
        StateFile::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let bytes = reporter
        .input()
        .map_err(|e| format!("cannot read the spec: {e}"))?;
    let input: ShimInput = serde_json::from_slice(&bytes)
        .map_err(|e| format!("cannot parse the spec from stdin: {e}"))?;
    let mut work = path.as_os_str().to_owned();
    work.push(MOUNT_SUFFIX);
    let spec = &input.spec;
    spec.validate().map_err(|e| format!("invalid spec: {e}"))?;
    let mut state = State {
        shim: me,
        pid: None,
        started_at: None,
        limits_enforced: input.limits_message.is_none(),
        limits_message: input.limits_message.clone(),
        exit: None,
    };

    if let Some(parent) = spec.log_path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(&spec.log_path)
        .map_err(|e| format!("cannot open log file {}: {e}", spec.log_path.display()))?;

    let mut cgroup = match &input.cgroups {
        Some(support) if !spec.limits.is_empty() => {
            match ContainerCgroup::create(support, &spec.id, &spec.limits) {
                Ok(cg) => Some(cg),
                Err(e) => {
                    state.limits_enforced = false;
                    state.limits_message =
                        Some(format!("limits not enforced: cannot create a cgroup: {e}"));
                    None
                }
            }
        }
        _ => None,
    };

    let spawned = mounts::enter(Path::new(&work), &spec.mounts, spec.hostname.as_deref())
        .and_then(|()| spawn(&input, cgroup.as_mut(), &mut state));
    let (child, out, err) = match spawned {
        Ok(spawned) => spawned,
        Err(message) => {
            if let Some(cg) = &mut cgroup {
                cg.remove();
            }
            state.exit = Some(ExitStatus::start_error(message, Timestamp::now()));
            state_file
                .append(&state, true)
                .map_err(|e| format!("cannot write state: {e}"))?;
            reporter.send(&Report::Ready(state));
            return Ok(());
        }
    };
    state.pid = Some(child.id());
    state.started_at = Some(Timestamp::now());
    state_file
        .append(&state, false)
        .map_err(|e| format!("cannot write state: {e}"))?;
    reporter.send(&Report::Ready(state.clone()));

    let status = supervise(child, out, err, log, cgroup.as_ref());
    let oom = cgroup.as_ref().is_some_and(|cg| cg.oom_kills() > 0);
    if let Some(cg) = &mut cgroup {
        cg.remove();
    }
    let (code, signal) = match (status.code(), status.signal()) {
        (Some(code), _) => (code, None),
        (None, Some(sig)) => (128 + sig, Some(sig)),
        (None, None) => (255, None),
    };
    state.exit = Some(ExitStatus {
        code,
        signal,
        reason: if oom {
            ExitReason::OomKilled
        } else {
            ExitReason::Exited
        },
        message: None,
        started_at: state.started_at,
        finished_at: Timestamp::now(),
    });
    // Durable: this is how a restarted server learns the outcome.
    state_file
        .append(&state, true)
        .map_err(|e| format!("cannot write state: {e}"))
}

/// Starts the command inside the cgroup; returns the child and the read ends of its
/// stdout and stderr. Errors are start errors, worded like the usual runtime messages.
fn spawn(
    input: &ShimInput,
    cgroup: Option<&mut ContainerCgroup>,
    state: &mut State,
) -> Result<(Child, OwnedFd, OwnedFd), String> {
    let spec = &input.spec;
    let dir = spec.working_dir.as_deref().unwrap_or(Path::new("/"));
    match std::fs::metadata(dir) {
        Ok(md) if md.is_dir() => {}
        Ok(_) => {
            return Err(format!(
                "cannot change to working directory {:?}: not a directory",
                dir.display()
            ));
        }
        Err(e) => {
            return Err(format!(
                "cannot change to working directory {:?}: {}",
                dir.display(),
                describe(&e)
            ));
        }
    }
    let (out_r, out_w) = io::pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
    let (err_r, err_w) = io::pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
    let mut cmd = Command::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..])
        .env_clear()
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out_w)
        .stderr(err_w)
        .process_group(0);
    if !spec.env.iter().any(|(k, _)| k == "PATH") {
        cmd.env("PATH", DEFAULT_PATH);
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));

    let mut joined = None;
    if let Some(cg) = cgroup {
        match cg.enter() {
            Ok(()) => joined = Some(cg),
            Err(e) => {
                let _ = cg.leave();
                state.limits_enforced = false;
                state.limits_message =
                    Some(format!("limits not enforced: cannot join the cgroup: {e}"));
            }
        }
    }
    let spawned = cmd.spawn();
    if let Some(cg) = joined {
        // If this failed the shim would be limited with the container; it cannot fail for
        // root, who could create the cgroup, and the spawn is already done.
        let _ = cg.leave();
    }
    // The Command holds the pipes' write ends: close them so EOF means "child closed".
    drop(cmd);
    let child = spawned.map_err(|e| exec_message(&spec.argv[0], &e))?;
    Ok((child, out_r.into(), err_r.into()))
}

/// The start error for a failed exec, in the words container runtimes use.
fn exec_message(program: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound if !program.contains('/') => {
            format!("exec: {program:?}: executable file not found in $PATH")
        }
        _ => format!("exec: {program:?}: {}", describe(e)),
    }
}

/// An io::Error without the "(os error N)" suffix, lower-case as Go prints errno.
fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Copies the child's output into the log until it exited, then kills the rest of the
/// container and drains the pipes. Returns the child's exit status.
fn supervise(
    mut child: Child,
    out: OwnedFd,
    err: OwnedFd,
    mut log: File,
    cgroup: Option<&ContainerCgroup>,
) -> std::process::ExitStatus {
    let pid = child.id();
    let pidfd = sys::pidfd_open(pid).ok();
    let mut pipes = [
        (Some(File::from(out)), LineSplitter::new(LogStream::Stdout)),
        (Some(File::from(err)), LineSplitter::new(LogStream::Stderr)),
    ];
    let mut exited_at: Option<Instant> = None;
    let mut buf = vec![0u8; 64 * 1024];
    let mut records = Vec::with_capacity(64 * 1024);
    loop {
        let deadline = exited_at.map(|t| t + DRAIN);
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let mut fds = Vec::with_capacity(3);
        let mut which = Vec::with_capacity(3);
        for (i, (pipe, _)) in pipes.iter().enumerate() {
            if let Some(pipe) = pipe {
                fds.push(PollFd::new(pipe, PollFlags::IN));
                which.push(Some(i));
            }
        }
        if exited_at.is_none() {
            match &pidfd {
                Some(fd) => {
                    fds.push(PollFd::from_borrowed_fd(fd.as_fd(), PollFlags::IN));
                    which.push(None);
                }
                // No pidfd (old kernel): the exit is noticed when the pipes close.
                None if fds.is_empty() => exited_at = Some(Instant::now()),
                None => {}
            }
        }
        if fds.is_empty() {
            break;
        }
        let timeout = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            }
        });
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
        let ready: Vec<(Option<usize>, bool)> = fds
            .iter()
            .zip(&which)
            .map(|(fd, w)| (*w, !fd.revents().is_empty()))
            .collect();
        drop(fds);
        let time = format_time(Timestamp::now());
        for (w, is_ready) in ready {
            if !is_ready {
                continue;
            }
            match w {
                Some(i) => {
                    let (pipe, splitter) = &mut pipes[i];
                    let n = match pipe.as_mut().map(|p| p.read(&mut buf)) {
                        Some(Ok(n)) => n,
                        Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                        _ => 0,
                    };
                    if n == 0 {
                        *pipe = None;
                    } else {
                        splitter.feed(&buf[..n], &time, &mut records);
                    }
                }
                None => {
                    // The main process exited (a zombie until reaped, so its pid, which is
                    // the group id, cannot be reused yet): the rest of the container goes.
                    exited_at = Some(Instant::now());
                    let _ = sys::kill_group_raw(pid, 9);
                    if let Some(cg) = cgroup {
                        cg.kill_all();
                    }
                }
            }
        }
        if !records.is_empty() {
            let _ = log.write_all(&records);
            records.clear();
        }
    }
    let time = format_time(Timestamp::now());
    for (_, splitter) in &mut pipes {
        splitter.finish(&time, &mut records);
    }
    let _ = log.write_all(&records);
    loop {
        match child.wait() {
            Ok(status) => return status,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Cannot happen for our own child; report "killed" rather than inventing success.
            Err(_) => return std::process::ExitStatus::from_raw(9),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let nf = io::Error::from_raw_os_error(2);
        assert_eq!(
            exec_message("nope", &nf),
            "exec: \"nope\": executable file not found in $PATH"
        );
        assert_eq!(
            exec_message("/x/nope", &nf),
            "exec: \"/x/nope\": no such file or directory"
        );
        let perm = io::Error::from_raw_os_error(13);
        assert_eq!(
            exec_message("/etc", &perm),
            "exec: \"/etc\": permission denied"
        );
    }
}
