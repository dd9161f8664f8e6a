//! core/v1 pods: Pod, PodTemplateSpec and PodSpec with its pod-level settings (security
//! context, affinity, tolerations, DNS, topology spread, scheduling gates, resource claims).

use super::conv::convert;
use k8s_openapi::api::core::v1 as oa;
use k8s_pb::api::core::v1 as pb;

convert!(pb::PodTemplateSpec => oa::PodTemplateSpec { metadata: opt, spec: opt });
convert!(pb::PodSpec => oa::PodSpec {
    volumes: list, init_containers: list, containers: list_req, ephemeral_containers: list,
    restart_policy: omit, termination_grace_period_seconds: opt, active_deadline_seconds: opt,
    dns_policy: omit, node_selector: map, service_account_name: omit, service_account: omit,
    automount_service_account_token: opt, node_name: omit, host_network: omit, host_pid: omit,
    host_ipc: omit, share_process_namespace: opt, security_context: opt, image_pull_secrets: list,
    hostname: omit, subdomain: omit, affinity: opt, scheduler_name: omit, tolerations: list,
    host_aliases: list, priority_class_name: omit, priority: opt, dns_config: opt,
    readiness_gates: list, runtime_class_name: opt, enable_service_links: opt,
    preemption_policy: opt, overhead: map, topology_spread_constraints: list,
    set_hostname_as_fqdn: opt, os: opt, host_users: opt, scheduling_gates: list,
    resource_claims: list, resources: opt
});
convert!(pb::PodSecurityContext => oa::PodSecurityContext {
    se_linux_options: opt, windows_options: opt, run_as_user: opt, run_as_group: opt,
    run_as_non_root: opt, supplemental_groups: list, supplemental_groups_policy: opt, fs_group: opt,
    sysctls: list, fs_group_change_policy: opt, seccomp_profile: opt, app_armor_profile: opt,
    se_linux_change_policy: opt
});
convert!(pb::Sysctl => oa::Sysctl { name: req, value: req });
convert!(pb::Affinity => oa::Affinity {
    node_affinity: opt, pod_affinity: opt, pod_anti_affinity: opt
});
convert!(pb::NodeAffinity => oa::NodeAffinity {
    required_during_scheduling_ignored_during_execution: opt,
    preferred_during_scheduling_ignored_during_execution: list
});
convert!(pb::NodeSelector => oa::NodeSelector { node_selector_terms: list_req });
convert!(pb::NodeSelectorTerm => oa::NodeSelectorTerm {
    match_expressions: list, match_fields: list
});
convert!(pb::NodeSelectorRequirement => oa::NodeSelectorRequirement {
    key: req, operator: req, values: list
});
convert!(pb::PreferredSchedulingTerm => oa::PreferredSchedulingTerm {
    weight: req, preference: req
});
convert!(pb::PodAffinity => oa::PodAffinity {
    required_during_scheduling_ignored_during_execution: list,
    preferred_during_scheduling_ignored_during_execution: list
});
convert!(pb::PodAffinityTerm => oa::PodAffinityTerm {
    label_selector: opt, namespaces: list, topology_key: req, namespace_selector: opt,
    match_label_keys: list, mismatch_label_keys: list
});
convert!(pb::WeightedPodAffinityTerm => oa::WeightedPodAffinityTerm {
    weight: req, pod_affinity_term: req
});
convert!(pb::PodAntiAffinity => oa::PodAntiAffinity {
    required_during_scheduling_ignored_during_execution: list,
    preferred_during_scheduling_ignored_during_execution: list
});
convert!(pb::Toleration => oa::Toleration {
    key: omit, operator: omit, value: omit, effect: omit, toleration_seconds: opt
});
convert!(pb::HostAlias => oa::HostAlias { ip: req, hostnames: list });
convert!(pb::PodDnsConfig => oa::PodDNSConfig { nameservers: list, searches: list, options: list });
convert!(pb::PodDnsConfigOption => oa::PodDNSConfigOption { name: omit, value: opt });
convert!(pb::PodReadinessGate => oa::PodReadinessGate { condition_type: req });
convert!(pb::TopologySpreadConstraint => oa::TopologySpreadConstraint {
    max_skew: req, topology_key: req, when_unsatisfiable: req, label_selector: opt,
    min_domains: opt, node_affinity_policy: opt, node_taints_policy: opt, match_label_keys: list
});
convert!(pb::PodOs => oa::PodOS { name: req });
convert!(pb::PodSchedulingGate => oa::PodSchedulingGate { name: req });
convert!(pb::PodResourceClaim => oa::PodResourceClaim {
    name: req, resource_claim_name: opt, resource_claim_template_name: opt
});
convert!(pb::Pod => oa::Pod { metadata: req, spec: opt, status: opt });
