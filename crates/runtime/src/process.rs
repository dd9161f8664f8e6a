//! [`ProcessRuntime`]: the real runtime. It owns the state root, starts one shim per
//! container start and talks to it through the spec on the shim's stdin, a one-line
//! handshake on its stdout, the state file (the `state` module), and a pidfd on the shim.
//!
//! The server side never forks: the shim is started with `std::process::Command` without
//! `pre_exec`, which glibc runs as `posix_spawn` (`clone(CLONE_VM|CLONE_VFORK)`), so the cost
//! does not grow with the server's memory. Everything that needs to run between fork and
//! exec (setsid, cgroup placement, namespaces) happens in the shim, which is small.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::cgroup::{self, CgroupSupport};
use crate::error::{Error, Result};
use crate::spec::{ContainerSpec, validate_id};
use crate::state::{self, MOUNT_SUFFIX, Report, STATE_SUFFIX, ShimInput, State, StateFile};
use crate::status::{ExitStatus, Handle, ProcessId, Signal};
use crate::{ContainerRuntime, sys};

/// How long `adopt` waits for a shim that was started just before a restart to write its
/// first state.
const STARTING_GRACE: Duration = Duration::from_secs(2);

/// How to run the shim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimCommand {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before the state file (e.g. `["shim"]` for `batchlet shim STATE_FILE`).
    pub args: Vec<OsString>,
}

impl ShimCommand {
    /// The running executable re-executed with a subcommand: what the batchlet binary uses
    /// (`ShimCommand::current_exe("shim")`).
    pub fn current_exe(subcommand: &str) -> io::Result<Self> {
        Ok(ShimCommand {
            program: std::env::current_exe()?,
            args: vec![subcommand.into()],
        })
    }

    /// A dedicated shim executable taking the state file as its only argument (the
    /// `batchlet-shim` binary of this crate).
    pub fn program(program: impl Into<PathBuf>) -> Self {
        ShimCommand {
            program: program.into(),
            args: Vec::new(),
        }
    }
}

/// Configuration of a [`ProcessRuntime`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// One state file per container start lives here (`DATA/containers` in the server).
    pub state_root: PathBuf,
    /// How to start the shim.
    pub shim: ShimCommand,
}

/// The real runtime: containers are process groups supervised by shims. See the crate docs.
#[derive(Debug)]
pub struct ProcessRuntime {
    config: Config,
    cgroups: CgroupSupport,
    /// Shims this process started and has not reaped yet, with a pidfd each.
    children: Mutex<HashMap<String, OwnChild>>,
}

#[derive(Debug)]
struct OwnChild {
    child: Child,
    pidfd: OwnedFd,
}

impl ProcessRuntime {
    /// Creates the state root and detects cgroup support (see [`Self::cgroup_support`]).
    pub fn new(config: Config) -> Result<Self> {
        std::fs::create_dir_all(&config.state_root)
            .map_err(|e| Error::io("failed to create", &config.state_root, e))?;
        Ok(ProcessRuntime {
            config,
            cgroups: cgroup::detect(),
            children: Mutex::new(HashMap::new()),
        })
    }

    /// What this machine offers for resource limits.
    pub fn cgroup_support(&self) -> &CgroupSupport {
        &self.cgroups
    }

    /// The state file of container `id` (format: the `state` module).
    pub fn state_path(&self, id: &str) -> PathBuf {
        self.config.state_root.join(format!("{id}{STATE_SUFFIX}"))
    }

    fn mount_dir(&self, id: &str) -> PathBuf {
        self.config
            .state_root
            .join(format!("{id}{STATE_SUFFIX}{MOUNT_SUFFIX}"))
    }

    fn children(&self) -> std::sync::MutexGuard<'_, HashMap<String, OwnChild>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.children
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn start_inner(&self, spec: &ContainerSpec) -> Result<Handle> {
        spec.validate()?;
        let path = self.state_path(&spec.id);
        match StateFile::create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists {
                    id: spec.id.clone(),
                });
            }
            Err(e) => return Err(Error::io("failed to create", &path, e)),
        }
        let result = self.spawn_shim(spec, &path).await;
        if result.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        result
    }

    async fn spawn_shim(&self, spec: &ContainerSpec, path: &Path) -> Result<Handle> {
        let limits_message = self.cgroups.shortfall(&spec.limits);
        let usable = !matches!(self.cgroups, CgroupSupport::Unavailable { .. });
        let input = ShimInput {
            spec: spec.clone(),
            cgroups: (usable && !spec.limits.is_empty()).then(|| self.cgroups.clone()),
            limits_message,
        };
        let shim_error = |message: String| Error::Shim {
            id: spec.id.clone(),
            message,
        };
        let input = serde_json::to_vec(&input).map_err(|e| shim_error(e.to_string()))?;

        let shim = &self.config.shim;
        let mut child = Command::new(&shim.program)
            .args(&shim.args)
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| Error::SpawnShim {
                program: shim.program.clone(),
                source,
            })?;
        let pidfd = match sys::pidfd_open(child.id()) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(shim_error(format!("pidfd_open: {e}")));
            }
        };
        let report = match (child.stdin.take(), child.stdout.take()) {
            (Some(stdin), Some(stdout)) => exchange(stdin, &input, stdout).await,
            _ => Err(io::Error::other("no stdin or stdout")),
        };
        let report = match report {
            Ok(Some(report)) => report,
            Ok(None) | Err(_) => {
                let status = reap_now(&mut child);
                return Err(shim_error(format!(
                    "exited before reporting a state ({status})"
                )));
            }
        };
        match report {
            Report::Ready(state) => {
                self.children()
                    .insert(spec.id.clone(), OwnChild { child, pidfd });
                Ok(handle_from(&spec.id, &state))
            }
            Report::Failed(message) => {
                reap_now(&mut child);
                Err(shim_error(message))
            }
        }
    }

    async fn wait_inner(&self, handle: &Handle) -> Result<ExitStatus> {
        let shim = handle.shim.ok_or_else(|| Error::ForeignHandle {
            id: handle.id.clone(),
        })?;
        let path = self.state_path(&handle.id);
        if let Some(exit) = self.read_exit(&path, &handle.id)? {
            // The shim writes the exit last; it is gone or about to be.
            self.reap(&handle.id, shim, false).await?;
            return Ok(exit);
        }
        self.reap(&handle.id, shim, true).await?;
        if let Some(exit) = self.read_exit(&path, &handle.id)? {
            return Ok(exit);
        }
        // The shim is gone without recording an exit.
        let state = state::read_state(&path)?;
        let started_at = state.as_ref().and_then(|s| s.started_at);
        let exit = ExitStatus::lost(
            format!(
                "the container's supervisor (pid {}) exited without recording how the container ended",
                shim.pid
            ),
            started_at,
            Timestamp::now(),
        );
        let mut state = state.unwrap_or_else(|| empty_state(shim));
        state.exit = Some(exit.clone());
        write_state(&path, &state)?;
        Ok(exit)
    }

    fn read_exit(&self, path: &Path, id: &str) -> Result<Option<ExitStatus>> {
        if !path.exists() {
            return Err(Error::NotFound { id: id.to_owned() });
        }
        Ok(state::read_state(path)?.and_then(|state| state.exit))
    }

    /// Waits for the shim to exit (when `block`) and reaps it if it is our child.
    async fn reap(&self, id: &str, shim: ProcessId, block: bool) -> Result<()> {
        let own = self.children().get(id).map(|c| c.pidfd.try_clone());
        let pidfd = match own {
            Some(fd) => Some(fd.map_err(|e| self.pidfd_error(id, e))?),
            None => sys::pidfd_for(shim).map_err(|e| self.pidfd_error(id, e))?,
        };
        if let Some(fd) = pidfd
            && block
        {
            sys::exited(fd).await.map_err(|e| self.pidfd_error(id, e))?;
        }
        let taken = self.children().remove(id);
        match taken {
            Some(mut own) => {
                if let Ok(None) = own.child.try_wait() {
                    // Still finishing after writing its exit: reaped on a later call.
                    self.children().insert(id.to_owned(), own);
                }
            }
            None => reap_foreign(shim),
        }
        Ok(())
    }

    fn pidfd_error(&self, id: &str, e: io::Error) -> Error {
        Error::Shim {
            id: id.to_owned(),
            message: format!("cannot watch the supervisor: {e}"),
        }
    }
}

/// Reaps `shim` if it is an exited child of this process (adopted after a re-created
/// runtime in the same process); a no-op otherwise.
fn reap_foreign(shim: ProcessId) {
    if shim.pid == 0 || !sys::alive(shim) {
        return;
    }
    if let Some(pid) = i32::try_from(shim.pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG);
    }
}

/// Writes the shim's input to its stdin (then closes it) and reads its one-line report;
/// `None` on EOF without a line.
async fn exchange(
    stdin: std::process::ChildStdin,
    input: &[u8],
    out: std::process::ChildStdout,
) -> io::Result<Option<Report>> {
    let mut sender = tokio::net::unix::pipe::Sender::from_owned_fd(OwnedFd::from(stdin))?;
    sender.write_all(input).await?;
    drop(sender);
    let pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(out))?;
    let mut reader = tokio::io::BufReader::new(pipe);
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    serde_json::from_str(&line)
        .map(Some)
        .map_err(io::Error::other)
}

/// Waits for a shim that failed; kills it first if it is somehow still running.
fn reap_now(child: &mut Child) -> String {
    if let Ok(Some(status)) = child.try_wait() {
        return status.to_string();
    }
    let _ = child.kill();
    child
        .wait()
        .map(|s| s.to_string())
        .unwrap_or_else(|e| e.to_string())
}

fn handle_from(id: &str, state: &State) -> Handle {
    Handle {
        id: id.to_owned(),
        pid: state.pid,
        started_at: state.started_at,
        limits_enforced: state.limits_enforced,
        limits_message: state.limits_message.clone(),
        shim: Some(state.shim),
    }
}

fn empty_state(shim: ProcessId) -> State {
    State {
        shim,
        pid: None,
        started_at: None,
        limits_enforced: true,
        limits_message: None,
        exit: None,
    }
}

fn write_state(path: &Path, state: &State) -> Result<()> {
    StateFile::open(path)
        .and_then(|mut f| f.append(state, true))
        .map_err(|e| Error::io("failed to write", path, e))
}

impl ContainerRuntime for ProcessRuntime {
    fn start(&self, spec: &ContainerSpec) -> impl Future<Output = Result<Handle>> + Send {
        self.start_inner(spec)
    }

    fn signal(&self, handle: &Handle, signal: Signal) -> Result<()> {
        let Some(shim) = handle.shim else {
            return Err(Error::ForeignHandle {
                id: handle.id.clone(),
            });
        };
        let Some(pid) = handle.pid else {
            return Ok(()); // never started
        };
        let path = self.state_path(&handle.id);
        if self.read_exit(&path, &handle.id)?.is_some() || !sys::alive(shim) {
            return Ok(()); // exited: the pid may belong to someone else by now
        }
        sys::kill_group(pid, signal).map_err(|source| Error::Signal {
            id: handle.id.clone(),
            source,
        })
    }

    fn wait(&self, handle: &Handle) -> impl Future<Output = Result<ExitStatus>> + Send {
        self.wait_inner(handle)
    }

    fn adopt(&self) -> Result<Vec<Handle>> {
        let root = &self.config.state_root;
        let entries = std::fs::read_dir(root).map_err(|e| Error::io("failed to read", root, e))?;
        let mut handles = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("failed to read", root, e))?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(STATE_SUFFIX)) else {
                continue;
            };
            let path = entry.path();
            if validate_id(id).is_err() || !path.is_file() {
                continue;
            }
            let state = match wait_for_first_state(&path) {
                Ok(Some(state)) => state,
                Ok(None) | Err(Error::CorruptState { .. }) => {
                    // Never reported (or unreadable): the shim is gone or never ran.
                    let mut state = empty_state(ProcessId {
                        pid: 0,
                        start_ticks: 0,
                    });
                    state.exit = Some(ExitStatus::lost(
                        "the container's supervisor exited before it recorded a state".into(),
                        None,
                        Timestamp::now(),
                    ));
                    write_state(&path, &state)?;
                    state
                }
                Err(e) => return Err(e),
            };
            handles.push(handle_from(id, &state));
        }
        handles.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(handles)
    }

    fn remove(&self, handle: &Handle) -> Result<()> {
        let path = self.state_path(&handle.id);
        if !path.exists() {
            return Ok(());
        }
        if let Some(state) = state::read_state(&path)?
            && state.exit.is_none()
            && sys::alive(state.shim)
        {
            return Err(Error::StillRunning {
                id: handle.id.clone(),
            });
        }
        let taken = self.children().remove(&handle.id);
        if let Some(mut own) = taken {
            // It has written its exit; this returns at once or within microseconds.
            let _ = own.child.wait();
        }
        cgroup::remove_leftovers(&self.cgroups, &handle.id);
        let mounts = self.mount_dir(&handle.id);
        if mounts.exists() {
            std::fs::remove_dir_all(&mounts)
                .map_err(|e| Error::io("failed to remove", &mounts, e))?;
        }
        std::fs::remove_file(&path).map_err(|e| Error::io("failed to remove", &path, e))
    }
}

/// Reads a state file, waiting a little for a shim that was spawned just before a restart
/// and has not written its first state yet.
fn wait_for_first_state(path: &Path) -> Result<Option<State>> {
    loop {
        if let Some(state) = state::read_state(path)? {
            return Ok(Some(state));
        }
        let age = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or(STARTING_GRACE);
        if age >= STARTING_GRACE {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
