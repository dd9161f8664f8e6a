//! core/v1 cluster objects: Namespace, Event (with ObjectReference, EventSource, EventSeries)
//! and Node with its spec and status.

use super::conv::convert;
use k8s_openapi::api::core::v1 as oa;
use k8s_pb::api::core::v1 as pb;

convert!(pb::ObjectReference => oa::ObjectReference {
    kind: omit, namespace: omit, name: omit, uid: omit, api_version: omit, resource_version: omit,
    field_path: omit
});
convert!(pb::Namespace => oa::Namespace { metadata: req, spec: opt, status: opt });
convert!(pb::NamespaceSpec => oa::NamespaceSpec { finalizers: list });
convert!(pb::NamespaceStatus => oa::NamespaceStatus { phase: omit, conditions: list });
convert!(pb::NamespaceCondition => oa::NamespaceCondition {
    status: req, last_transition_time: time, reason: omit, message: omit
    ; rename { type_ = req(r#type) }
});
convert!(pb::Event => oa::Event {
    metadata: req, involved_object: req, reason: omit, message: omit, source: opt,
    first_timestamp: time, last_timestamp: time, count: omit, event_time: time, series: opt,
    action: omit, related: opt, reporting_component: opt, reporting_instance: opt
    ; rename { type_ = omit(r#type) }
});
convert!(pb::EventSource => oa::EventSource { component: omit, host: omit });
convert!(pb::EventSeries => oa::EventSeries { count: omit, last_observed_time: time });
convert!(pb::Node => oa::Node { metadata: req, spec: opt, status: opt });
convert!(pb::NodeSpec => oa::NodeSpec {
    pod_cidr: omit, provider_id: omit, unschedulable: omit, taints: list, config_source: opt,
    external_id: omit
    ; rename { pod_cidrs = list(pod_cid_rs) }
});
convert!(pb::Taint => oa::Taint { key: req, value: omit, effect: req, time_added: time });
convert!(pb::NodeConfigSource => oa::NodeConfigSource { config_map: opt });
convert!(pb::ConfigMapNodeConfigSource => oa::ConfigMapNodeConfigSource {
    namespace: req, name: req, uid: omit, resource_version: omit, kubelet_config_key: req
});
convert!(pb::NodeStatus => oa::NodeStatus {
    capacity: map, allocatable: map, phase: omit, conditions: list, addresses: list,
    daemon_endpoints: opt, node_info: opt, images: list, volumes_in_use: list,
    volumes_attached: list, config: opt, runtime_handlers: list, features: opt
});
convert!(pb::NodeCondition => oa::NodeCondition {
    status: req, last_heartbeat_time: time, last_transition_time: time, reason: omit, message: omit
    ; rename { type_ = req(r#type) }
});
convert!(pb::NodeAddress => oa::NodeAddress { address: req; rename { type_ = req(r#type) } });
convert!(pb::NodeDaemonEndpoints => oa::NodeDaemonEndpoints { kubelet_endpoint: opt });
convert!(pb::DaemonEndpoint => oa::DaemonEndpoint { port: req });
convert!(pb::NodeSystemInfo => oa::NodeSystemInfo {
    machine_id: req, system_uuid: req, boot_id: req, kernel_version: req, os_image: req,
    container_runtime_version: req, kubelet_version: req, kube_proxy_version: req,
    operating_system: req, architecture: req, swap: opt
});
convert!(pb::NodeSwapStatus => oa::NodeSwapStatus { capacity: opt });
convert!(pb::ContainerImage => oa::ContainerImage { names: list, size_bytes: omit });
convert!(pb::AttachedVolume => oa::AttachedVolume { name: req, device_path: req });
convert!(pb::NodeConfigStatus => oa::NodeConfigStatus {
    assigned: opt, active: opt, last_known_good: opt, error: omit
});
convert!(pb::NodeRuntimeHandler => oa::NodeRuntimeHandler { name: opt, features: opt });
convert!(pb::NodeRuntimeHandlerFeatures => oa::NodeRuntimeHandlerFeatures {
    recursive_read_only_mounts: opt, user_namespaces: opt
});
convert!(pb::NodeFeatures => oa::NodeFeatures { supplemental_groups_policy: opt });
