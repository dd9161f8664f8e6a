//! A container's volume mounts as bind mounts for the runtime: `emptyDir` (a directory of the
//! pod under the data dir), `hostPath` (with the kubelet's type checks), and
//! `persistentVolumeClaim` (the claim's directory from the local provisioner, [`crate::pvc`]).
//! `subPath` selects (and creates) a directory inside the volume; `readOnly` is honoured.

use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, HostPathVolumeSource, Pod, Volume};
use runtime::Mount;

use crate::layout::{Layout, safe};

/// Why a volume cannot be mounted (the kubelet's `FailedMount`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VolumeError(pub String);

fn relative_ok(p: &str) -> bool {
    let path = Path::new(p);
    !path.is_absolute() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

fn host_path(v: &HostPathVolumeSource, name: &str) -> Result<PathBuf, VolumeError> {
    let path = PathBuf::from(&v.path);
    let kind = v.type_.as_deref().unwrap_or("");
    let meta = std::fs::metadata(&path);
    let fail = |what: &str| {
        Err(VolumeError(format!(
            "MountVolume.SetUp failed for volume \"{name}\" : hostPath type check failed: {} is not a {what}",
            v.path
        )))
    };
    match kind {
        "" => {}
        "DirectoryOrCreate" if meta.is_err() => {
            std::fs::create_dir_all(&path).map_err(|e| {
                VolumeError(format!(
                    "MountVolume.SetUp failed for volume \"{name}\" : {e}"
                ))
            })?;
        }
        "FileOrCreate" if meta.is_err() => {
            if let Some(parent) = path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            std::fs::File::create(&path).map_err(|e| {
                VolumeError(format!(
                    "MountVolume.SetUp failed for volume \"{name}\" : {e}"
                ))
            })?;
        }
        "Directory" if !meta.as_ref().is_ok_and(|m| m.is_dir()) => return fail("directory"),
        "File" if !meta.as_ref().is_ok_and(|m| m.is_file()) => return fail("file"),
        "Socket" | "CharDevice" | "BlockDevice" if meta.is_err() => return fail(kind),
        _ => {}
    }
    if !path.exists() {
        return Err(VolumeError(format!(
            "MountVolume.SetUp failed for volume \"{name}\" : hostPath {} does not exist",
            v.path
        )));
    }
    Ok(path)
}

/// The host directory of volume `v` of `pod`, created when the agent owns it.
fn source(pod: &Pod, v: &Volume, layout: &Layout) -> Result<(PathBuf, bool), VolumeError> {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    if !safe(uid) || !safe(ns) || !safe(&v.name) {
        return Err(VolumeError(format!("invalid volume {:?}", v.name)));
    }
    if v.empty_dir.is_some() {
        let dir = layout.empty_dir(uid, &v.name);
        std::fs::create_dir_all(&dir).map_err(|e| {
            VolumeError(format!(
                "MountVolume.SetUp failed for volume \"{}\" : {e}",
                v.name
            ))
        })?;
        return Ok((dir, false));
    }
    if let Some(h) = &v.host_path {
        return Ok((host_path(h, &v.name)?, false));
    }
    if let Some(c) = &v.persistent_volume_claim {
        let dir = layout.claim(ns, &c.claim_name);
        if !safe(&c.claim_name) || !dir.is_dir() {
            return Err(VolumeError(format!(
                "persistentvolumeclaim \"{}\" not found or not bound yet",
                c.claim_name
            )));
        }
        return Ok((dir, c.read_only == Some(true)));
    }
    Err(VolumeError(format!(
        "MountVolume.SetUp failed for volume \"{}\" : the process runtime supports emptyDir, hostPath and persistentVolumeClaim volumes only",
        v.name
    )))
}

/// The bind mounts of container `c`, in the order of its `volumeMounts`.
pub fn mounts(pod: &Pod, c: &Container, layout: &Layout) -> Result<Vec<Mount>, VolumeError> {
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default();
    let mut out = Vec::new();
    for vm in c.volume_mounts.iter().flatten() {
        let Some(v) = volumes.iter().find(|v| v.name == vm.name) else {
            return Err(VolumeError(format!(
                "volume \"{}\" not found in pod spec",
                vm.name
            )));
        };
        let (mut src, claim_ro) = source(pod, v, layout)?;
        if let Some(sub) = vm.sub_path.as_deref().filter(|s| !s.is_empty()) {
            if !relative_ok(sub) {
                return Err(VolumeError(format!(
                    "subPath {sub:?} must be a relative path without '..'"
                )));
            }
            src = src.join(sub);
            if !src.exists() {
                std::fs::create_dir_all(&src).map_err(|e| {
                    VolumeError(format!("failed to create subPath directory {sub:?}: {e}"))
                })?;
            }
        }
        out.push(Mount {
            source: src,
            target: PathBuf::from(&vm.mount_path),
            read_only: vm.read_only == Some(true) || claim_ro,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_dir_host_path_claims_and_sub_paths() {
        let tmp = tempfile::tempdir().ok();
        let Some(tmp) = tmp else { return };
        let layout = Layout::new(tmp.path());
        let host = tmp.path().join("host");
        std::fs::create_dir_all(&host).ok();
        std::fs::create_dir_all(layout.claim("ns", "data")).ok();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"containers": [{"name": "c", "volumeMounts": [
                {"name": "scratch", "mountPath": "/scratch"},
                {"name": "h", "mountPath": "/h", "readOnly": true},
                {"name": "claim", "mountPath": "/backup", "subPath": "daily"},
            ]}], "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "h", "hostPath": {"path": host.to_string_lossy(), "type": "Directory"}},
                {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}},
            ]}
        }))
        .unwrap_or_default();
        let c = pod
            .spec
            .as_ref()
            .map(|s| s.containers[0].clone())
            .unwrap_or_default();
        let m = mounts(&pod, &c, &layout).unwrap_or_default();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].source, layout.empty_dir("u1", "scratch"));
        assert!(m[0].source.is_dir());
        assert_eq!((m[1].source.clone(), m[1].read_only), (host.clone(), true));
        assert_eq!(m[2].source, layout.claim("ns", "data").join("daily"));
        assert!(m[2].source.is_dir());
        assert_eq!(m[2].target, PathBuf::from("/backup"));

        let mut missing = pod.clone();
        if let Some(s) = missing.spec.as_mut()
            && let Some(v) = s.volumes.as_mut()
            && let Some(c) = v[2].persistent_volume_claim.as_mut()
        {
            c.claim_name = "other".into();
        }
        assert_eq!(
            mounts(&missing, &c, &layout),
            Err(VolumeError(
                "persistentvolumeclaim \"other\" not found or not bound yet".into()
            ))
        );
        let mut escape = c.clone();
        if let Some(v) = escape.volume_mounts.as_mut() {
            v[2].sub_path = Some("../x".into());
        }
        assert!(mounts(&pod, &escape, &layout).is_err());
    }
}
