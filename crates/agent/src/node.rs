//! The Node object: what this machine offers (cores, memory, pods 110), who runs it
//! (`nodeInfo`), and its conditions, registered at start and refreshed every heartbeat as
//! the kubelet's node status updates do.

use std::path::Path;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use crate::status::time;

/// The kubelet version the node reports.
pub const KUBELET_VERSION: &str = "v1.33.0";
/// Pods per node, the kubelet's default `maxPods`.
pub const MAX_PODS: u32 = 110;

/// What the machine is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Logical CPUs × 1000.
    pub cpu_millis: u64,
    /// Physical memory in bytes.
    pub memory_bytes: u64,
    /// Free + used bytes of the data dir's filesystem.
    pub storage_bytes: Option<u64>,
    /// `uname -r`.
    pub kernel: String,
    /// `PRETTY_NAME` from /etc/os-release.
    pub os_image: String,
    /// `/etc/machine-id`.
    pub machine_id: String,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: String,
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

impl Machine {
    /// Reads the machine's facts from /proc and /etc (missing ones stay empty).
    pub fn detect(data_dir: &Path) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let memory_kib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .unwrap_or(0);
        let os_image = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| "Linux".into());
        let storage_bytes = rustix_statvfs(data_dir);
        Machine {
            cpu_millis: u64::try_from(cpus).unwrap_or(1) * 1000,
            memory_bytes: memory_kib * 1024,
            storage_bytes,
            kernel: read_trim("/proc/sys/kernel/osrelease"),
            os_image,
            machine_id: read_trim("/etc/machine-id"),
            boot_id: read_trim("/proc/sys/kernel/random/boot_id"),
        }
    }
}

/// The size of the data dir's filesystem (`df`'s total).
fn rustix_statvfs(dir: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    s.f_blocks.checked_mul(s.f_frsize)
}

/// The architecture as Go's `GOARCH` names it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The node's conditions, all healthy, with `now` as the heartbeat (and the transition
/// time when `since` has none).
pub fn conditions(now: Timestamp, since: &[NodeCondition]) -> Vec<NodeCondition> {
    [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        (
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        (
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        (
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
    ]
    .iter()
    .map(|(t, s, r, m)| NodeCondition {
        type_: (*t).to_owned(),
        status: (*s).to_owned(),
        reason: Some((*r).to_owned()),
        message: Some((*m).to_owned()),
        last_heartbeat_time: Some(time(now)),
        last_transition_time: Some(
            since
                .iter()
                .find(|c| c.type_ == *t && c.status == *s)
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or_else(|| time(now)),
        ),
    })
    .collect()
}

/// The Node object for this machine.
pub fn node_object(
    name: &str,
    host_ip: &str,
    m: &Machine,
    runtime_version: &str,
    now: Timestamp,
) -> Node {
    let mut capacity = std::collections::BTreeMap::new();
    capacity.insert(
        "cpu".to_owned(),
        Quantity((m.cpu_millis / 1000).to_string()),
    );
    capacity.insert(
        "memory".to_owned(),
        Quantity(format!("{}Ki", m.memory_bytes / 1024)),
    );
    capacity.insert("pods".to_owned(), Quantity(MAX_PODS.to_string()));
    if let Some(s) = m.storage_bytes {
        capacity.insert(
            "ephemeral-storage".to_owned(),
            Quantity(format!("{}Ki", s / 1024)),
        );
    }
    let labels = [
        ("beta.kubernetes.io/arch", go_arch()),
        ("beta.kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", go_arch()),
        ("kubernetes.io/hostname", name),
        ("kubernetes.io/os", "linux"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(labels),
            ..Default::default()
        },
        spec: None,
        status: Some(NodeStatus {
            addresses: Some(vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: host_ip.to_owned(),
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: name.to_owned(),
                },
            ]),
            allocatable: Some(capacity.clone()),
            capacity: Some(capacity),
            conditions: Some(conditions(now, &[])),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint { port: 10250 }),
            }),
            node_info: Some(NodeSystemInfo {
                architecture: go_arch().into(),
                boot_id: m.boot_id.clone(),
                container_runtime_version: runtime_version.to_owned(),
                kernel_version: m.kernel.clone(),
                kube_proxy_version: String::new(),
                kubelet_version: KUBELET_VERSION.into(),
                machine_id: m.machine_id.clone(),
                operating_system: "linux".into(),
                os_image: m.os_image.clone(),
                system_uuid: m.machine_id.clone(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

fn params() -> PatchParams {
    PatchParams {
        field_manager: Some("kubelet".into()),
        ..Default::default()
    }
}

/// Creates the Node, or refreshes its labels and status if it exists.
pub async fn register(client: &Client, node: &Node) -> kube::Result<()> {
    let api = Api::<Node>::all(client.clone());
    let name = node.metadata.name.clone().unwrap_or_default();
    match api.create(&PostParams::default(), node).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {
            api.patch(
                &name,
                &params(),
                &Patch::Merge(json!({"metadata": {"labels": node.metadata.labels}})),
            )
            .await?;
        }
        Err(e) => return Err(e),
    }
    // The create drops nothing, but an existing node needs its status refreshed.
    api.patch_status(
        &name,
        &params(),
        &Patch::Merge(json!({"status": node.status})),
    )
    .await?;
    Ok(())
}

/// One heartbeat: the conditions with a fresh `lastHeartbeatTime`.
pub async fn heartbeat(client: &Client, name: &str, now: Timestamp) -> kube::Result<()> {
    let api = Api::<Node>::all(client.clone());
    let old = api
        .get_status(name)
        .await?
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default();
    let patch = json!({"status": {"conditions": conditions(now, &old)}});
    api.patch_status(name, &params(), &Patch::Merge(patch))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_for_this_machine() {
        let m = Machine {
            cpu_millis: 2000,
            memory_bytes: 8 << 30,
            storage_bytes: None,
            kernel: "6.1.0".into(),
            os_image: "Debian GNU/Linux 12 (bookworm)".into(),
            machine_id: "abc".into(),
            boot_id: "b".into(),
        };
        let now = Timestamp::from_second(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let n = node_object("box", "127.0.0.1", &m, "batchlet-process://0.1.0", now);
        let v = serde_json::to_value(&n).unwrap_or_default();
        assert_eq!(
            v["status"]["capacity"],
            json!({"cpu": "2", "memory": "8388608Ki", "pods": "110"})
        );
        assert_eq!(v["status"]["allocatable"], v["status"]["capacity"]);
        assert_eq!(v["status"]["nodeInfo"]["kubeletVersion"], "v1.33.0");
        assert_eq!(v["status"]["conditions"][3]["type"], "Ready");
        assert_eq!(v["status"]["conditions"][3]["status"], "True");
        assert_eq!(
            v["status"]["addresses"][0],
            json!({"type": "InternalIP", "address": "127.0.0.1"})
        );
        assert_eq!(v["metadata"]["labels"]["kubernetes.io/hostname"], "box");
        // A later heartbeat keeps the transition time.
        let later = Timestamp::from_second(1_700_000_040).unwrap_or(now);
        let c = conditions(
            later,
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_deref())
                .unwrap_or_default(),
        );
        assert_eq!(c[3].last_transition_time, Some(time(now)));
        assert_eq!(c[3].last_heartbeat_time, Some(time(later)));
    }
}
