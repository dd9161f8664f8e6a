//! The container's private namespaces, set up by the shim before it spawns the command:
//! a mount namespace with the spec's bind mounts (and a UTS namespace for the hostname).
//!
//! # How targets that do not exist on the host are made
//!
//! Nothing may be created on the host outside the data dir, yet a volume's `mountPath`
//! (say `/data`) usually does not exist. The shim builds the container's view of the file
//! system in `STATE_ROOT/<id>.state.mnt/root`, inside its new mount namespace (propagation
//! `rslave`, so nothing leaks to the host):
//!
//! 1. That `root` gets a recursive bind of the host's `/`: the container sees the host.
//! 2. For each mount (parents first) the shim walks the target's path. When a component is
//!    missing, the directory that should hold it is *mirrored*: a tmpfs is mounted over it
//!    and every entry of the original is recreated on the tmpfs as a stub and bind-mounted
//!    back from the original (symlinks are copied). The directory looks the same, but new
//!    entries go to the tmpfs, so the missing mount point is created there, not on the host.
//!    Mirroring happens only where needed: a target whose parent exists costs one mirror of
//!    that parent; an existing target costs nothing.
//! 3. The source is bind-mounted (recursively) at the target, then remounted read-only if
//!    asked. A target *inside* an earlier volume is created in that volume, as Kubernetes
//!    does (the volume is under the data dir).
//! 4. `pivot_root` into `root` and detach the old root.
//!
//! An overlay over `/` would also work, but it diverts *every* write to the root file system
//! into the overlay, which changes what a process on the host-process runtime sees; the
//! mirror keeps the host's directories writable as they are, only adding mount points.
//!
//! As root this uses the initial user namespace; otherwise a user namespace mapping the
//! caller's uid and gid to themselves (untested here: this machine runs as root). Where no
//! mount namespace can be made, the start fails with a message saying so.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Component, Path, PathBuf};

use rustix::fs::StatVfsMountFlags;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

use crate::spec::Mount;
use crate::sys::{self, Namespaces};

/// Enters new namespaces as the spec needs: nothing when there are no mounts and no
/// hostname. `work` is the container's mount work directory (in the state root), which holds
/// the new root and a staging mount point. On error, the message is the start error.
pub(crate) fn enter(work: &Path, mounts: &[Mount], hostname: Option<&str>) -> Result<(), String> {
    if mounts.is_empty() && hostname.is_none() {
        return Ok(());
    }
    let root_user = rustix::process::geteuid().is_root();
    let ns = Namespaces {
        mount: !mounts.is_empty(),
        uts: hostname.is_some(),
        user: !root_user,
    };
    let (uid, gid) = (rustix::process::getuid(), rustix::process::getgid());
    sys::unshare(ns).map_err(|e| {
        format!("cannot create a private mount namespace for the container's volumes: {e}")
    })?;
    if ns.user {
        let maps = [
            ("/proc/self/setgroups", "deny".to_owned()),
            ("/proc/self/uid_map", format!("{0} {0} 1", uid.as_raw())),
            ("/proc/self/gid_map", format!("{0} {0} 1", gid.as_raw())),
        ];
        for (file, text) in maps {
            fs::write(file, text)
                .map_err(|e| format!("cannot set up the user namespace ({file}): {e}"))?;
        }
    }
    if let Some(name) = hostname {
        rustix::system::sethostname(name.as_bytes())
            .map_err(|e| format!("cannot set hostname {name:?}: {e}"))?;
    }
    if mounts.is_empty() {
        return Ok(());
    }
    build_root(work, mounts, !ns.user).map_err(|e| e.0)
}

struct Failed(String);

fn fail(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Failed {
    Failed(format!("{what}: {e}"))
}

fn build_root(work: &Path, mounts: &[Mount], keep_owner: bool) -> Result<(), Failed> {
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .map_err(|e| fail("cannot make / a slave mount", e))?;
    let root = work.join("root");
    let stage = work.join("stage");
    for dir in [&root, &stage] {
        fs::create_dir_all(dir)
            .map_err(|e| fail(format_args!("cannot create {}", dir.display()), e))?;
    }
    rustix::mount::mount_bind_recursive("/", &root)
        .map_err(|e| fail("cannot bind / for the container's root", e))?;

    let mut sorted: Vec<&Mount> = mounts.iter().collect();
    sorted.sort_by_key(|m| m.target.components().count());
    // Container paths under which new entries may be created (tmpfs mirrors, and volumes).
    let mut writable: HashSet<PathBuf> = HashSet::new();
    let mut mirrors = Mirrors {
        root: &root,
        stage: &stage,
        keep_owner,
    };
    for m in sorted {
        let source_is_dir = fs::metadata(&m.source)
            .map_err(|e| fail(format_args!("mount source {}", m.source.display()), e))?
            .is_dir();
        let target = prepare_target(&mut mirrors, &m.target, source_is_dir, &mut writable)?;
        rustix::mount::mount_bind_recursive(&m.source, &target).map_err(|e| {
            fail(
                format_args!(
                    "cannot bind {} at {}",
                    m.source.display(),
                    m.target.display()
                ),
                e,
            )
        })?;
        if m.read_only {
            remount_read_only(&target).map_err(|e| {
                fail(
                    format_args!("cannot make {} read-only", m.target.display()),
                    e,
                )
            })?;
        }
        writable.insert(m.target.clone());
    }

    std::env::set_current_dir(&root).map_err(|e| fail("cannot enter the new root", e))?;
    rustix::process::pivot_root(".", ".").map_err(|e| fail("pivot_root", e))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH)
        .map_err(|e| fail("cannot detach the old root", e))?;
    std::env::set_current_dir("/").map_err(|e| fail("chdir /", e))?;
    Ok(())
}

struct Mirrors<'a> {
    root: &'a Path,
    stage: &'a Path,
    keep_owner: bool,
}

impl Mirrors<'_> {
    fn host(&self, container_path: &Path) -> PathBuf {
        self.root
            .join(container_path.strip_prefix("/").unwrap_or(container_path))
    }

    /// Replaces container directory `dir` by a tmpfs holding the same entries (bound back).
    fn mirror(&mut self, dir: &Path) -> Result<(), Failed> {
        let at = self.host(dir);
        let what = |s: &str| format!("cannot prepare {} for a mount point ({s})", dir.display());
        rustix::mount::mount_bind_recursive(&at, self.stage).map_err(|e| fail(what("stage"), e))?;
        let result = self.populate(dir, &at);
        let _ = rustix::mount::unmount(self.stage, UnmountFlags::DETACH);
        result
    }

    fn populate(&mut self, dir: &Path, at: &Path) -> Result<(), Failed> {
        let what = |s: &str| format!("cannot prepare {} for a mount point ({s})", dir.display());
        let md = fs::metadata(self.stage).map_err(|e| fail(what("stat"), e))?;
        let mut data = format!("mode={:o}", md.mode() & 0o7777);
        if self.keep_owner {
            data.push_str(&format!(",uid={},gid={}", md.uid(), md.gid()));
        }
        let data = std::ffi::CString::new(data).map_err(|e| fail(what("options"), e))?;
        rustix::mount::mount(
            "tmpfs",
            at,
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
            data.as_c_str(),
        )
        .map_err(|e| fail(what("tmpfs"), e))?;
        let entries = fs::read_dir(self.stage).map_err(|e| fail(what("read"), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| fail(what("read"), e))?;
            let name = entry.file_name();
            let src = self.stage.join(&name);
            let dst = at.join(&name);
            let ft = entry.file_type().map_err(|e| fail(what("stat"), e))?;
            // An entry removed on the host since it was listed (a busy /tmp) is left out,
            // as if it had been removed just before.
            if ft.is_symlink() {
                let link = match fs::read_link(&src) {
                    Ok(link) => link,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(fail(what("readlink"), e)),
                };
                symlink(link, &dst).map_err(|e| fail(what("symlink"), e))?;
                continue;
            }
            if ft.is_dir() {
                fs::create_dir(&dst).map_err(|e| fail(what("mkdir"), e))?;
            } else {
                File::create(&dst).map_err(|e| fail(what("create"), e))?;
            }
            match rustix::mount::mount_bind_recursive(&src, &dst) {
                Ok(()) => {}
                Err(rustix::io::Errno::NOENT) if !src.exists() => {
                    let _ = if ft.is_dir() {
                        fs::remove_dir(&dst)
                    } else {
                        fs::remove_file(&dst)
                    };
                }
                Err(e) => {
                    return Err(fail(
                        what(&format!("bind {}", Path::new(&name).display())),
                        e,
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Makes sure `target` exists in the new root (creating it only on a tmpfs mirror or in a
/// volume), and returns its path on the staging side.
fn prepare_target(
    mirrors: &mut Mirrors<'_>,
    target: &Path,
    is_dir: bool,
    writable: &mut HashSet<PathBuf>,
) -> Result<PathBuf, Failed> {
    let names: Vec<_> = target
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let mut cur = PathBuf::from("/");
    for (i, name) in names.iter().enumerate() {
        let last = i + 1 == names.len();
        let next = cur.join(name);
        let at = mirrors.host(&next);
        match fs::symlink_metadata(&at) {
            Ok(md) if md.file_type().is_symlink() => {
                return Err(Failed(format!(
                    "mount target {}: {} is a symbolic link",
                    target.display(),
                    next.display()
                )));
            }
            Ok(md) if !last && !md.is_dir() => {
                return Err(Failed(format!(
                    "mount target {}: {} is not a directory",
                    target.display(),
                    next.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !writable.contains(&cur) {
                    mirrors.mirror(&cur)?;
                    writable.insert(cur.clone());
                }
                let made = if last && !is_dir {
                    File::create(&at).map(drop)
                } else {
                    fs::create_dir(&at)
                };
                made.map_err(|e| {
                    fail(
                        format_args!("cannot create mount point {}", next.display()),
                        e,
                    )
                })?;
                writable.insert(next.clone());
            }
            Err(e) => return Err(fail(format_args!("mount target {}", next.display()), e)),
        }
        cur = next;
    }
    Ok(mirrors.host(target))
}

/// Remounts a bind mount read-only, keeping the flags a user namespace may not drop.
fn remount_read_only(path: &Path) -> io::Result<()> {
    let have = rustix::fs::statvfs(path)?.f_flag;
    let mut flags = MountFlags::BIND | MountFlags::RDONLY;
    for (st, ms) in [
        (StatVfsMountFlags::NOSUID, MountFlags::NOSUID),
        (StatVfsMountFlags::NODEV, MountFlags::NODEV),
        (StatVfsMountFlags::NOEXEC, MountFlags::NOEXEC),
        (StatVfsMountFlags::NOATIME, MountFlags::NOATIME),
        (StatVfsMountFlags::NODIRATIME, MountFlags::NODIRATIME),
        (StatVfsMountFlags::RELATIME, MountFlags::RELATIME),
    ] {
        if have.contains(st) {
            flags |= ms;
        }
    }
    rustix::mount::mount_remount(path, flags, "")?;
    Ok(())
}
