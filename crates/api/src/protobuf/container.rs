//! core/v1 containers: ports, env and envFrom, resources, mounts, probes (Go inlines
//! `ProbeHandler`), lifecycle hooks, security contexts, and ephemeral containers.

use super::conv::convert;
use k8s_openapi::api::core::v1 as oa;
use k8s_pb::api::core::v1 as pb;

convert!(pb::Container => oa::Container {
    name: req, image: omit, command: list, args: list, working_dir: omit, ports: list,
    env_from: list, env: list, resources: opt, resize_policy: list, restart_policy: opt,
    volume_mounts: list, volume_devices: list, liveness_probe: opt, readiness_probe: opt,
    startup_probe: opt, lifecycle: opt, termination_message_path: omit,
    termination_message_policy: omit, image_pull_policy: omit, security_context: opt, stdin: omit,
    stdin_once: omit, tty: omit
});
convert!(pb::ContainerPort => oa::ContainerPort {
    name: omit, host_port: omit, container_port: req, protocol: omit, host_ip: omit
});
convert!(pb::EnvFromSource => oa::EnvFromSource {
    prefix: omit, config_map_ref: opt, secret_ref: opt
});
convert!(pb::ConfigMapEnvSource => oa::ConfigMapEnvSource {
    optional: opt
    ; inline local_object_reference { name: req }
});
convert!(pb::SecretEnvSource => oa::SecretEnvSource {
    optional: opt
    ; inline local_object_reference { name: req }
});
convert!(pb::EnvVar => oa::EnvVar { name: req, value: omit, value_from: opt });
convert!(pb::EnvVarSource => oa::EnvVarSource {
    field_ref: opt, resource_field_ref: opt, config_map_key_ref: opt, secret_key_ref: opt
});
convert!(pb::ConfigMapKeySelector => oa::ConfigMapKeySelector {
    key: req, optional: opt
    ; inline local_object_reference { name: req }
});
convert!(pb::SecretKeySelector => oa::SecretKeySelector {
    key: req, optional: opt
    ; inline local_object_reference { name: req }
});
convert!(pb::ResourceRequirements => oa::ResourceRequirements {
    limits: map, requests: map, claims: list
});
convert!(pb::ResourceClaim => oa::ResourceClaim { name: req, request: omit });
convert!(pb::ContainerResizePolicy => oa::ContainerResizePolicy {
    resource_name: req, restart_policy: req
});
convert!(pb::VolumeMount => oa::VolumeMount {
    name: req, read_only: omit, recursive_read_only: opt, mount_path: req, sub_path: omit,
    mount_propagation: opt, sub_path_expr: omit
});
convert!(pb::VolumeDevice => oa::VolumeDevice { name: req, device_path: req });
convert!(pb::Probe => oa::Probe {
    initial_delay_seconds: omit, timeout_seconds: omit, period_seconds: omit,
    success_threshold: omit, failure_threshold: omit, termination_grace_period_seconds: opt
    ; inline handler { exec: opt, http_get: opt, tcp_socket: opt, grpc: opt }
});
convert!(pb::ExecAction => oa::ExecAction { command: list });
convert!(pb::HttpGetAction => oa::HTTPGetAction {
    path: omit, port: req, host: omit, scheme: omit, http_headers: list
});
convert!(pb::HttpHeader => oa::HTTPHeader { name: req, value: req });
convert!(pb::TcpSocketAction => oa::TCPSocketAction { port: req, host: omit });
convert!(pb::GrpcAction => oa::GRPCAction { port: req, service: opt });
convert!(pb::Lifecycle => oa::Lifecycle { post_start: opt, pre_stop: opt, stop_signal: opt });
convert!(pb::LifecycleHandler => oa::LifecycleHandler {
    exec: opt, http_get: opt, tcp_socket: opt, sleep: opt
});
convert!(pb::SleepAction => oa::SleepAction { seconds: req });
convert!(pb::SecurityContext => oa::SecurityContext {
    capabilities: opt, privileged: opt, se_linux_options: opt, windows_options: opt,
    run_as_user: opt, run_as_group: opt, run_as_non_root: opt, read_only_root_filesystem: opt,
    allow_privilege_escalation: opt, proc_mount: opt, seccomp_profile: opt, app_armor_profile: opt
});
convert!(pb::Capabilities => oa::Capabilities { add: list, drop: list });
convert!(pb::SeLinuxOptions => oa::SELinuxOptions {
    user: omit, role: omit, level: omit
    ; rename { type_ = omit(r#type) }
});
convert!(pb::WindowsSecurityContextOptions => oa::WindowsSecurityContextOptions {
    gmsa_credential_spec_name: opt, gmsa_credential_spec: opt, run_as_user_name: opt,
    host_process: opt
});
convert!(pb::SeccompProfile => oa::SeccompProfile {
    localhost_profile: opt
    ; rename { type_ = req(r#type) }
});
convert!(pb::AppArmorProfile => oa::AppArmorProfile {
    localhost_profile: opt
    ; rename { type_ = req(r#type) }
});
convert!(pb::EphemeralContainer => oa::EphemeralContainer {
    target_container_name: omit
    ; inline ephemeral_container_common {
        name: req, image: omit, command: list, args: list, working_dir: omit, ports: list,
        env_from: list, env: list, resources: opt, resize_policy: list, restart_policy: opt,
        volume_mounts: list, volume_devices: list, liveness_probe: opt, readiness_probe: opt,
        startup_probe: opt, lifecycle: opt, termination_message_path: omit,
        termination_message_policy: omit, image_pull_policy: omit, security_context: opt,
        stdin: omit, stdin_once: omit, tty: omit
    }
});
