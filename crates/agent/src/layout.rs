//! Where the agent keeps things under the data dir (DESIGN.md section 3):
//!
//! ```text
//! DATA/pods/<namespace>/<pod>/<container>/<restart>.log   one log file per container start
//! DATA/pods/<pod uid>/volumes/<volume>                    emptyDir volumes (removed with the pod)
//! DATA/volumes/<namespace>/<claim>                        PersistentVolumeClaims (local provisioner)
//! DATA/containers/                                        the runtime's state files
//! ```

use std::path::{Path, PathBuf};

/// Paths under one data dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    data: PathBuf,
}

/// A name that is safe as one path component (API names are validated already; this is
/// the second line of defence).
pub fn safe(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

impl Layout {
    /// The layout under `data`.
    pub fn new(data: impl Into<PathBuf>) -> Self {
        Layout { data: data.into() }
    }

    /// The data dir.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// `DATA/pods`.
    pub fn pods(&self) -> PathBuf {
        self.data.join("pods")
    }

    /// The logs of one pod: `DATA/pods/<ns>/<pod>`.
    pub fn pod_logs(&self, ns: &str, pod: &str) -> PathBuf {
        self.pods().join(ns).join(pod)
    }

    /// One container start's log file.
    pub fn log_file(&self, ns: &str, pod: &str, container: &str, restart: u32) -> PathBuf {
        self.pod_logs(ns, pod)
            .join(container)
            .join(format!("{restart}.log"))
    }

    /// The pod's own directory (its emptyDir volumes): `DATA/pods/<uid>`.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.pods().join(uid)
    }

    /// One emptyDir volume.
    pub fn empty_dir(&self, uid: &str, volume: &str) -> PathBuf {
        self.pod_dir(uid).join("volumes").join(volume)
    }

    /// A claim's directory: `DATA/volumes/<ns>/<claim>`.
    pub fn claim(&self, ns: &str, claim: &str) -> PathBuf {
        self.data.join("volumes").join(ns).join(claim)
    }

    /// The runtime's state root.
    pub fn containers(&self) -> PathBuf {
        self.data.join("containers")
    }
}
