//! core/v1 pod status: conditions, IPs, container statuses and states, resource claims.

use super::conv::convert;
use k8s_openapi::api::core::v1 as oa;
use k8s_pb::api::core::v1 as pb;

convert!(pb::PodStatus => oa::PodStatus {
    observed_generation: omit, phase: omit, conditions: list, message: omit, reason: omit,
    nominated_node_name: omit, host_ip: omit, host_ips: list, pod_ip: omit, pod_ips: list,
    start_time: time, init_container_statuses: list, container_statuses: list, qos_class: omit,
    ephemeral_container_statuses: list, resize: omit, resource_claim_statuses: list
});
convert!(pb::PodCondition => oa::PodCondition {
    observed_generation: omit, status: req, last_probe_time: time, last_transition_time: time,
    reason: omit, message: omit
    ; rename { type_ = req(r#type) }
});
convert!(pb::HostIp => oa::HostIP { ip: req });
convert!(pb::PodIp => oa::PodIP { ip: req });
convert!(pb::ContainerStatus => oa::ContainerStatus {
    name: req, state: opt, last_state: opt, ready: req, restart_count: req, image: req,
    image_id: req, container_id: omit, started: opt, allocated_resources: map, resources: opt,
    volume_mounts: list, user: opt, allocated_resources_status: list, stop_signal: opt
});
convert!(pb::ContainerState => oa::ContainerState { waiting: opt, running: opt, terminated: opt });
convert!(pb::ContainerStateWaiting => oa::ContainerStateWaiting { reason: omit, message: omit });
convert!(pb::ContainerStateRunning => oa::ContainerStateRunning { started_at: time });
convert!(pb::ContainerStateTerminated => oa::ContainerStateTerminated {
    exit_code: req, signal: omit, reason: omit, message: omit, started_at: time, finished_at: time,
    container_id: omit
});
convert!(pb::VolumeMountStatus => oa::VolumeMountStatus {
    name: req, mount_path: req, read_only: omit, recursive_read_only: opt
});
convert!(pb::ContainerUser => oa::ContainerUser { linux: opt });
convert!(pb::LinuxContainerUser => oa::LinuxContainerUser {
    uid: req, gid: req, supplemental_groups: list
});
convert!(pb::ResourceStatus => oa::ResourceStatus { name: req, resources: list });
convert!(pb::ResourceHealth => oa::ResourceHealth { resource_id: req, health: omit });
convert!(pb::PodResourceClaimStatus => oa::PodResourceClaimStatus {
    name: req, resource_claim_name: opt
});
