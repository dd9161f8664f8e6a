//! [`ContainerSpec`]: the plain-data description of one container start, and its validation.
//! It is also the shim's input on disk (`spec.json`), hence the serde derives.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::SpecError;

/// `PATH` given to a container whose environment has none, so that a bare command name
/// resolves as it would in a typical image.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything needed to start one container process. Plain data: the caller resolves
/// Kubernetes concepts (command/args expansion, `valueFrom`, volumes) before building it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Unique per container *start* (the agent uses e.g. `<pod uid>-<container>-<restart>`).
    /// Names the state file and the cgroup: `[A-Za-z0-9._-]{1,200}`, no leading dot.
    pub id: String,
    /// The command and its arguments. `argv[0]` without a `/` is looked up in the
    /// container's `PATH` (or [`DEFAULT_PATH`]).
    pub argv: Vec<String>,
    /// The whole environment of the process (nothing is inherited from the server), in
    /// order; a later duplicate wins.
    pub env: Vec<(String, String)>,
    /// Working directory (inside the mount namespace when there are mounts). Missing →
    /// the start fails with a message; it is never created. `None`: `/`.
    pub working_dir: Option<PathBuf>,
    /// Where stdout and stderr go, appended in the CRI log format (see [`crate::logs`]).
    /// The parent directory is created if missing. One file per start.
    pub log_path: PathBuf,
    /// Resource limits, enforced with cgroups where the machine allows.
    pub limits: Limits,
    /// Bind mounts into a private mount namespace. Empty: no namespace at all.
    pub mounts: Vec<Mount>,
    /// Hostname in a private UTS namespace. `None`: the host's hostname, no namespace.
    pub hostname: Option<String>,
}

/// Resource limits of one container. `None` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Memory limit in bytes (cgroup `memory.max` / `memory.limit_in_bytes`). Exceeding it
    /// gets the container OOM-killed.
    pub memory_bytes: Option<u64>,
    /// CPU limit in millicores (1000 = one core), as a CFS quota over a 100 ms period.
    pub cpu_millis: Option<u64>,
}

impl Limits {
    /// True when no limit is set (and so no cgroup is needed).
    pub fn is_empty(&self) -> bool {
        self.memory_bytes.is_none() && self.cpu_millis.is_none()
    }
}

/// One bind mount: `source` on the host appears at `target` inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// A host directory or file (must exist).
    pub source: PathBuf,
    /// Absolute path inside the container; it need not exist on the host, and is not
    /// created there.
    pub target: PathBuf,
    /// Mount read-only.
    pub read_only: bool,
}

impl ContainerSpec {
    /// A spec with the given id, argv and log path, and everything else empty.
    pub fn new(id: impl Into<String>, argv: Vec<String>, log_path: impl Into<PathBuf>) -> Self {
        ContainerSpec {
            id: id.into(),
            argv,
            env: Vec::new(),
            working_dir: None,
            log_path: log_path.into(),
            limits: Limits::default(),
            mounts: Vec::new(),
            hostname: None,
        }
    }

    /// Checks what the runtime relies on: a path-safe id, a non-empty argv, exec-able
    /// strings, absolute paths.
    pub fn validate(&self) -> Result<(), SpecError> {
        validate_id(&self.id)?;
        if self.argv.is_empty() {
            return Err(SpecError::EmptyArgv);
        }
        if self.argv.iter().any(|a| a.contains('\0')) {
            return Err(SpecError::NulByte("argv"));
        }
        for (k, v) in &self.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(SpecError::EnvName(k.clone()));
            }
            if v.contains('\0') {
                return Err(SpecError::NulByte("env"));
            }
        }
        if let Some(dir) = &self.working_dir {
            check_abs("working_dir", dir)?;
        }
        check_abs("log_path", &self.log_path)?;
        for m in &self.mounts {
            check_abs("mount source", &m.source)?;
            check_abs("mount target", &m.target)?;
            if m.target.components().count() < 2 {
                return Err(SpecError::MountRoot);
            }
        }
        if let Some(h) = &self.hostname
            && (h.is_empty() || h.len() > 64 || h.contains('\0') || h.contains('/'))
        {
            return Err(SpecError::Hostname(h.clone()));
        }
        Ok(())
    }
}

pub(crate) fn validate_id(id: &str) -> Result<(), SpecError> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(SpecError::Id(id.to_owned()))
    }
}

fn check_abs(what: &'static str, path: &Path) -> Result<(), SpecError> {
    let bad = !path.is_absolute()
        || path.components().any(|c| matches!(c, Component::ParentDir))
        || path.as_os_str().as_encoded_bytes().contains(&0);
    if bad {
        Err(SpecError::Path {
            what,
            path: path.to_owned(),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ContainerSpec {
        ContainerSpec::new("a-1", vec!["true".into()], "/tmp/x.log")
    }

    #[test]
    fn validation() {
        assert_eq!(spec().validate(), Ok(()));
        for id in ["", ".x", "a/b", "..", "a b", &"x".repeat(201)] {
            let mut s = spec();
            s.id = id.into();
            assert_eq!(s.validate(), Err(SpecError::Id(id.into())), "{id:?}");
        }
        let mut s = spec();
        s.argv.clear();
        assert_eq!(s.validate(), Err(SpecError::EmptyArgv));
        let mut s = spec();
        s.env.push(("A=B".into(), "x".into()));
        assert!(matches!(s.validate(), Err(SpecError::EnvName(_))));
        let mut s = spec();
        s.log_path = "rel.log".into();
        assert!(matches!(s.validate(), Err(SpecError::Path { .. })));
        let mut s = spec();
        s.mounts.push(Mount {
            source: "/tmp".into(),
            target: "/data/../etc".into(),
            read_only: false,
        });
        assert!(matches!(s.validate(), Err(SpecError::Path { .. })));
        s.mounts[0].target = "/".into();
        assert_eq!(s.validate(), Err(SpecError::MountRoot));
    }
}
