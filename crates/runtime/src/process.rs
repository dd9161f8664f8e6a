//! [`ProcessRuntime`]: the real runtime. It owns the state root, has the launcher fork one
//! shim per container start and talks to it through the spec and a one-line report on a
//! socket of its own, the state file (the `state` module), and a pidfd on the shim.
//!
//! The server side never forks: the launcher is started with `std::process::Command`
//! without `pre_exec`, which glibc runs as `posix_spawn` (`clone(CLONE_VM|CLONE_VFORK)`), so
//! the cost does not grow with the server's memory. Everything that needs to run between
//! fork and exec (setsid, cgroup placement, namespaces) happens in the shim, which is small.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::cgroup::{self, CgroupSupport};
use crate::error::{Error, Result};
use crate::launcher::Launcher;
use crate::spec::{ContainerSpec, validate_id};
use crate::state::{self, MOUNT_SUFFIX, Pool, Report, STATE_SUFFIX, ShimInput, State, StateFile};
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
    /// Arguments before the state root (e.g. `["shim"]` for `batchlet shim STATE_ROOT`,
    /// which starts the launcher).
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

    /// A dedicated shim executable taking the state root as its only argument (the
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
    /// Emptied state files for reuse.
    pool: Pool,
    /// The launcher that forks the shims, started at the first start.
    launcher: Mutex<Option<Launcher>>,
}

impl ProcessRuntime {
    /// Creates the state root and detects cgroup support (see [`Self::cgroup_support`]).
    pub fn new(config: Config) -> Result<Self> {
        std::fs::create_dir_all(&config.state_root)
            .map_err(|e| Error::io("failed to create", &config.state_root, e))?;
        let pool = Pool::open(&config.state_root)
            .map_err(|e| Error::io("failed to create", &config.state_root, e))?;
        Ok(ProcessRuntime {
            pool,
            config,
            cgroups: cgroup::detect(),
            launcher: Mutex::new(None),
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

    /// Hands `conn` to a new shim for the state file `path`, through the launcher; starts
    /// the launcher first if there is none or it died.
    fn launch(&self, path: &Path, conn: BorrowedFd<'_>) -> Result<()> {
        // A panic while holding this lock cannot leave the launcher inconsistent.
        let mut launcher = self
            .launcher
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(l) = launcher.as_ref()
            && l.launch(path, conn).is_ok()
        {
            return Ok(());
        }
        // Never started, or gone (its end of the socket closed): start another, once.
        *launcher = None;
        let shim = &self.config.shim;
        let spawn_error = |source| Error::SpawnShim {
            program: shim.program.clone(),
            source,
        };
        let l = Launcher::spawn(shim, &self.config.state_root).map_err(spawn_error)?;
        let sent = l.launch(path, conn);
        *launcher = Some(l);
        sent.map_err(spawn_error)
    }

    async fn start_inner(&self, spec: &ContainerSpec) -> Result<Handle> {
        spec.validate()?;
        let path = self.state_path(&spec.id);
        match self.pool.create(&path) {
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
            let _ = self.pool.retire(&path);
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

        let (conn, theirs) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| shim_error(format!("socketpair: {e}")))?;
        let conn = std::os::unix::net::UnixStream::from(conn);
        // The spec goes into the connection before the request: the spare that takes the
        // request reads it at once instead of sleeping until the server writes it (a
        // second wake-up, ≈ 0.3-0.5 ms on a busy machine: BENCHMARKS.md finding 58).
        let sent = send_ahead(&conn, &input).map_err(|e| shim_error(format!("spec: {e}")))?;
        self.launch(path, theirs.as_fd())?;
        // The shim now holds the only other end: EOF means it is gone.
        drop(theirs);
        let report = exchange(conn, &input[sent..])
            .await
            .map_err(|e| shim_error(format!("no report: {e}")))?;
        match report {
            Some(Report::Ready(state)) => Ok(handle_from(&spec.id, &state)),
            Some(Report::Failed(message)) => Err(shim_error(message)),
            None => Err(shim_error("exited before reporting a state".into())),
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

    /// Waits for the shim to exit (when `block`). Shims are children of the launcher, which
    /// reaps them.
    async fn reap(&self, id: &str, shim: ProcessId, block: bool) -> Result<()> {
        if shim.pid == 0 {
            // `adopt`'s placeholder for a shim that never recorded a state: nothing to watch
            // (pidfd_open(0) is EINVAL, which left such a pod Running for ever).
            return Ok(());
        }
        let pidfd = sys::pidfd_for(shim).map_err(|e| self.pidfd_error(id, e))?;
        if let Some(fd) = pidfd
            && block
        {
            sys::exited(fd).await.map_err(|e| self.pidfd_error(id, e))?;
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

/// Writes as much of `input` on `conn` as its buffer takes without blocking (a usual spec
/// whole, as nobody reads yet), shutting down that direction when all of it went;
/// returns how many bytes went. Leaves `conn` non-blocking.
fn send_ahead(conn: &std::os::unix::net::UnixStream, input: &[u8]) -> io::Result<usize> {
    use std::io::Write;
    conn.set_nonblocking(true)?;
    let mut sent = 0;
    let mut writer = conn;
    while sent < input.len() {
        match writer.write(&input[sent..]) {
            Ok(0) => break,
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    if sent == input.len() {
        conn.shutdown(std::net::Shutdown::Write)?;
    }
    Ok(sent)
}

/// Writes the rest of the shim's input on `conn` (non-blocking; `rest` empty when
/// [`send_ahead`] sent it all and shut that direction down), then reads the shim's
/// one-line report; `None` on EOF without a line.
async fn exchange(conn: std::os::unix::net::UnixStream, rest: &[u8]) -> io::Result<Option<Report>> {
    let mut conn = tokio::net::UnixStream::from_std(conn)?;
    if !rest.is_empty() {
        conn.write_all(rest).await?;
        conn.shutdown().await?;
    }
    let mut reader = tokio::io::BufReader::new(conn);
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    serde_json::from_str(&line)
        .map(Some)
        .map_err(io::Error::other)
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
        cgroup::remove_leftovers(&self.cgroups, &handle.id);
        let mounts = self.mount_dir(&handle.id);
        if mounts.exists() {
            std::fs::remove_dir_all(&mounts)
                .map_err(|e| Error::io("failed to remove", &mounts, e))?;
        }
        self.pool
            .retire(&path)
            .map_err(|e| Error::io("failed to remove", &path, e))
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
