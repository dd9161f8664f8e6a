//! Resource limits with cgroups: finding a writable hierarchy (v2, else v1) at startup,
//! creating one cgroup per container under a `batchlet` parent next to the server's own
//! cgroup, writing memory and CPU limits, placing the container's process in it, counting
//! OOM kills, and cleaning up.
//!
//! Placement without `fork`: the shim moves *itself* into the container's cgroup, spawns the
//! child with `posix_spawn` (the child inherits the cgroup), and moves itself back. So the
//! child is limited from its first instruction, the shim is never a target of the
//! container's OOM killer, and no `pre_exec` hook (which forces `fork`) is needed.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::spec::Limits;
use crate::sys;

/// Name of the parent cgroup that holds the containers' cgroups.
const PARENT: &str = "batchlet";
/// CFS period for CPU limits, in microseconds (Kubernetes' default).
const CPU_PERIOD_US: u64 = 100_000;
/// The smallest CFS quota the kernel accepts, in microseconds.
const CPU_MIN_QUOTA_US: u64 = 1_000;

/// What this machine offers for resource limits, detected once by
/// [`ProcessRuntime::new`](crate::ProcessRuntime::new).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupSupport {
    /// Unified hierarchy: container cgroups are created under `parent`.
    V2 {
        /// The `batchlet` parent cgroup directory.
        parent: PathBuf,
    },
    /// Legacy hierarchies, one per controller; container cgroups are created under each
    /// parent that exists.
    V1 {
        /// The `batchlet` parent in the memory hierarchy.
        memory: Option<PathBuf>,
        /// The `batchlet` parent in the cpu hierarchy.
        cpu: Option<PathBuf>,
    },
    /// No writable hierarchy with the memory controller: containers run without limits.
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl CgroupSupport {
    /// True when memory limits can be enforced.
    pub fn enforces_memory(&self) -> bool {
        matches!(
            self,
            CgroupSupport::V2 { .. }
                | CgroupSupport::V1 {
                    memory: Some(_),
                    ..
                }
        )
    }

    /// Why `limits` cannot be (fully) enforced here, or `None` if they can.
    pub(crate) fn shortfall(&self, limits: &Limits) -> Option<String> {
        let (memory, cpu) = match self {
            CgroupSupport::V2 { .. } => (true, true),
            CgroupSupport::V1 { memory, cpu } => (memory.is_some(), cpu.is_some()),
            CgroupSupport::Unavailable { reason } => {
                return (!limits.is_empty()).then(|| format!("limits not enforced: {reason}"));
            }
        };
        let mut missing = Vec::new();
        if limits.memory_bytes.is_some() && !memory {
            missing.push("memory");
        }
        if limits.cpu_millis.is_some() && !cpu {
            missing.push("cpu");
        }
        (!missing.is_empty()).then(|| {
            format!(
                "limits not enforced: no writable cgroup controller for {}",
                missing.join(", ")
            )
        })
    }
}

/// Finds a writable cgroup hierarchy and creates the `batchlet` parent(s).
pub(crate) fn detect() -> CgroupSupport {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mounts = parse_mountinfo(&mountinfo);
    let mut reasons = Vec::new();

    if let Some(m) = mounts.iter().find(|m| m.fstype == "cgroup2")
        && let Some(path) = own_path(&own, |ctrls| ctrls.is_empty())
    {
        let dir = m.join(path);
        let controllers =
            std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
        if controllers.split_whitespace().any(|c| c == "memory") {
            match setup_v2(&dir) {
                Ok(parent) => return CgroupSupport::V2 { parent },
                Err(e) => reasons.push(format!("cgroup v2 at {}: {e}", dir.display())),
            }
        } else {
            reasons.push(format!(
                "cgroup v2 at {} has no memory controller",
                dir.display()
            ));
        }
    }

    let v1 = |controller: &str| -> Result<Option<PathBuf>, String> {
        let Some(m) = mounts
            .iter()
            .find(|m| m.fstype == "cgroup" && m.super_opts.split(',').any(|o| o == controller))
        else {
            return Ok(None);
        };
        let Some(path) = own_path(&own, |ctrls| ctrls.split(',').any(|c| c == controller)) else {
            return Ok(None);
        };
        let parent = m.join(path).join(PARENT);
        match std::fs::create_dir_all(&parent) {
            Ok(()) => Ok(Some(parent)),
            Err(e) => Err(format!(
                "cgroup v1 {controller} at {}: {e}",
                parent.display()
            )),
        }
    };
    let memory = v1("memory").unwrap_or_else(|e| {
        reasons.push(e);
        None
    });
    let cpu = v1("cpu").unwrap_or_else(|e| {
        reasons.push(e);
        None
    });
    if memory.is_some() {
        return CgroupSupport::V1 { memory, cpu };
    }
    if reasons.is_empty() {
        reasons.push("no cgroup hierarchy with the memory controller is mounted".into());
    }
    CgroupSupport::Unavailable {
        reason: reasons.join("; "),
    }
}

fn setup_v2(own: &Path) -> io::Result<PathBuf> {
    let parent = own.join(PARENT);
    std::fs::create_dir_all(&parent)?;
    // Delegate memory (required) and cpu (best effort) to the parent, then to its children.
    // Fails with EBUSY when `own` is a non-root cgroup holding processes ("no internal
    // processes" rule): then limits are reported as not enforced.
    write_file(&own.join("cgroup.subtree_control"), b"+memory")?;
    let _ = write_file(&own.join("cgroup.subtree_control"), b"+cpu");
    write_file(&parent.join("cgroup.subtree_control"), b"+memory")?;
    let _ = write_file(&parent.join("cgroup.subtree_control"), b"+cpu");
    Ok(parent)
}

struct CgMount {
    root: String,
    mountpoint: PathBuf,
    fstype: String,
    super_opts: String,
}

impl CgMount {
    /// The directory of cgroup `path` (as in /proc/self/cgroup) within this mount.
    fn join(&self, path: &str) -> PathBuf {
        let rel = if self.root == "/" {
            path
        } else {
            path.strip_prefix(self.root.as_str()).unwrap_or(path)
        };
        self.mountpoint.join(rel.trim_start_matches('/'))
    }
}

fn parse_mountinfo(text: &str) -> Vec<CgMount> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let mut post = post.split(' ');
            let fstype = post.next()?;
            let _source = post.next()?;
            let super_opts = post.next().unwrap_or("");
            Some(CgMount {
                root: unescape(pre.get(3)?),
                mountpoint: PathBuf::from(unescape(pre.get(4)?)),
                fstype: fstype.to_owned(),
                super_opts: super_opts.to_owned(),
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len() + 1
            && let Some(oct) = s.get(i + 1..i + 4)
            && let Ok(v) = u8::from_str_radix(oct, 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path of the line of /proc/self/cgroup whose controller list matches.
fn own_path(text: &str, matches: impl Fn(&str) -> bool) -> Option<&str> {
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let _id = parts.next()?;
        let ctrls = parts.next()?;
        let path = parts.next()?;
        matches(ctrls).then_some(path)
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).open(path)?;
    f.write_all(bytes)
}

/// One container's cgroup(s), owned by its shim.
pub(crate) struct ContainerCgroup {
    v2: bool,
    /// The container's directories (one for v2; memory and/or cpu for v1).
    dirs: Vec<PathBuf>,
    memory_dir: Option<PathBuf>,
    /// `cgroup.procs` of each container directory, opened before any namespace is entered.
    join: Vec<File>,
    /// `cgroup.procs` of the cgroups the shim came from, to move back after the spawn.
    home: Vec<File>,
}

impl ContainerCgroup {
    /// Creates the container's cgroup under `support` and writes `limits`.
    pub(crate) fn create(support: &CgroupSupport, id: &str, limits: &Limits) -> io::Result<Self> {
        let mut cg = ContainerCgroup {
            v2: false,
            dirs: Vec::new(),
            memory_dir: None,
            join: Vec::new(),
            home: Vec::new(),
        };
        let result = cg.create_inner(support, id, limits);
        match result {
            Ok(()) => Ok(cg),
            Err(e) => {
                cg.remove();
                Err(e)
            }
        }
    }

    fn create_inner(
        &mut self,
        support: &CgroupSupport,
        id: &str,
        limits: &Limits,
    ) -> io::Result<()> {
        let quota = limits
            .cpu_millis
            .map(|m| (m.saturating_mul(CPU_PERIOD_US) / 1000).max(CPU_MIN_QUOTA_US));
        match support {
            CgroupSupport::V2 { parent } => {
                self.v2 = true;
                let dir = self.make(parent, id)?;
                if let Some(bytes) = limits.memory_bytes {
                    write_file(&dir.join("memory.max"), bytes.to_string().as_bytes())?;
                    let _ = write_file(&dir.join("memory.swap.max"), b"0");
                    let _ = write_file(&dir.join("memory.oom.group"), b"1");
                }
                if let Some(q) = quota {
                    write_file(
                        &dir.join("cpu.max"),
                        format!("{q} {CPU_PERIOD_US}").as_bytes(),
                    )?;
                }
                self.memory_dir = Some(dir);
            }
            CgroupSupport::V1 { memory, cpu } => {
                if let (Some(parent), Some(bytes)) = (memory, limits.memory_bytes) {
                    let dir = self.make(parent, id)?;
                    write_file(
                        &dir.join("memory.limit_in_bytes"),
                        bytes.to_string().as_bytes(),
                    )?;
                    // No swap beyond the limit, where swap accounting exists.
                    let _ = write_file(
                        &dir.join("memory.memsw.limit_in_bytes"),
                        bytes.to_string().as_bytes(),
                    );
                    self.memory_dir = Some(dir);
                }
                if let (Some(parent), Some(q)) = (cpu, quota) {
                    let dir = self.make(parent, id)?;
                    write_file(
                        &dir.join("cpu.cfs_period_us"),
                        CPU_PERIOD_US.to_string().as_bytes(),
                    )?;
                    write_file(&dir.join("cpu.cfs_quota_us"), q.to_string().as_bytes())?;
                }
            }
            CgroupSupport::Unavailable { reason } => {
                return Err(io::Error::other(reason.clone()));
            }
        }
        Ok(())
    }

    /// Creates `parent/id` and opens the `cgroup.procs` files to join and to return to.
    fn make(&mut self, parent: &Path, id: &str) -> io::Result<PathBuf> {
        let dir = parent.join(id);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        self.dirs.push(dir.clone());
        self.join.push(
            OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))?,
        );
        // The shim's own cgroup is the parent of `batchlet` (inherited from the server).
        let home = parent.parent().unwrap_or(parent).join("cgroup.procs");
        self.home.push(OpenOptions::new().write(true).open(home)?);
        Ok(dir)
    }

    /// Moves the calling process into the container's cgroup(s).
    pub(crate) fn enter(&mut self) -> io::Result<()> {
        let pid = std::process::id().to_string();
        for f in &mut self.join {
            f.write_all(pid.as_bytes())?;
        }
        Ok(())
    }

    /// Moves the calling process back to where it came from.
    pub(crate) fn leave(&mut self) -> io::Result<()> {
        let pid = std::process::id().to_string();
        for f in &mut self.home {
            f.write_all(pid.as_bytes())?;
        }
        Ok(())
    }

    /// How many processes the kernel's OOM killer has killed in this cgroup.
    pub(crate) fn oom_kills(&self) -> u64 {
        let Some(dir) = &self.memory_dir else {
            return 0;
        };
        let file = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        std::fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|text| {
                text.lines().find_map(|l| {
                    l.strip_prefix("oom_kill ")
                        .and_then(|n| n.trim().parse().ok())
                })
            })
            .unwrap_or(0)
    }

    /// SIGKILLs every process left in the cgroup(s).
    pub(crate) fn kill_all(&self) {
        for dir in &self.dirs {
            if self.v2 {
                let _ = write_file(&dir.join("cgroup.kill"), b"1");
            }
            for pid in procs(dir) {
                sys::kill_pid(pid);
            }
        }
    }

    /// Removes the cgroup(s), killing what is left; gives up after about a second.
    pub(crate) fn remove(&mut self) {
        self.join.clear();
        self.home.clear();
        for _ in 0..200 {
            self.dirs.retain(|dir| match std::fs::remove_dir(dir) {
                Ok(()) => false,
                Err(e) => e.kind() != io::ErrorKind::NotFound,
            });
            if self.dirs.is_empty() {
                return;
            }
            self.kill_all();
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn procs(dir: &Path) -> Vec<u32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Removes what a shim left behind for container `id` (best effort; used by `remove`).
pub(crate) fn remove_leftovers(support: &CgroupSupport, id: &str) {
    let parents: Vec<&PathBuf> = match support {
        CgroupSupport::V2 { parent } => vec![parent],
        CgroupSupport::V1 { memory, cpu } => memory.iter().chain(cpu.iter()).collect(),
        CgroupSupport::Unavailable { .. } => Vec::new(),
    };
    for parent in parents {
        let _ = std::fs::remove_dir(parent.join(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_and_own_paths() {
        let mi = "35 24 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
                  36 24 0:31 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu,cpuacct\n\
                  37 24 0:32 /sub /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
                  38 24 0:33 / /with\\040space rw - tmpfs tmpfs rw";
        let mounts = parse_mountinfo(mi);
        assert_eq!(mounts.len(), 4);
        assert_eq!(mounts[3].mountpoint, PathBuf::from("/with space"));
        assert_eq!(mounts[1].super_opts, "rw,cpu,cpuacct");
        let own = "4:memory:/a/b\n1:cpu,cpuacct:/\n0::/sub/x";
        assert_eq!(
            own_path(own, |c| c.split(',').any(|c| c == "memory")),
            Some("/a/b")
        );
        assert_eq!(own_path(own, |c| c.is_empty()), Some("/sub/x"));
        assert_eq!(
            mounts[0].join("/a/b"),
            PathBuf::from("/sys/fs/cgroup/memory/a/b")
        );
        assert_eq!(
            mounts[2].join("/sub/x"),
            PathBuf::from("/sys/fs/cgroup/unified/x")
        );
    }

    #[test]
    fn shortfall_messages() {
        let limits = Limits {
            memory_bytes: Some(1),
            cpu_millis: Some(500),
        };
        let v1 = CgroupSupport::V1 {
            memory: Some("/m".into()),
            cpu: None,
        };
        assert_eq!(
            v1.shortfall(&limits).as_deref(),
            Some("limits not enforced: no writable cgroup controller for cpu")
        );
        assert_eq!(v1.shortfall(&Limits::default()), None);
        let none = CgroupSupport::Unavailable {
            reason: "read-only".into(),
        };
        assert_eq!(
            none.shortfall(&limits).as_deref(),
            Some("limits not enforced: read-only")
        );
        assert_eq!(none.shortfall(&Limits::default()), None);
    }
}
