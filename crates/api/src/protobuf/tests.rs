//! Round trips: prost messages built here, wrapped in the `k8s\0` + `runtime.Unknown` envelope
//! as kubectl sends them, decoded and compared with the JSON the real apiserver would store.

use super::{ProtobufError, decode};
use k8s_pb::api::batch::v1 as batch;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use proptest::prelude::*;
use prost::Message;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The body kubectl sends: magic, then `runtime.Unknown` around the object's bytes.
fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s(api_version),
            kind: s(kind),
        }),
        raw: Some(raw),
        content_encoding: s(""),
        content_type: s(""),
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

fn roundtrip(api_version: &str, kind: &str, m: impl Message) -> Value {
    let (v, k, object) = decode(&envelope(api_version, kind, m.encode_to_vec())).unwrap();
    assert_eq!((v.as_str(), k.as_str()), (api_version, kind));
    object
}

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|x| x.to_string()).collect()
}

fn quantities(xs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    xs.iter()
        .map(|(k, v)| (k.to_string(), Quantity { string: s(v) }))
        .collect()
}

pub(super) fn meta_named(name: &str) -> meta::ObjectMeta {
    // Go writes every non-pointer field; the zero Time is an empty message.
    meta::ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(""),
        self_link: s(""),
        uid: s(""),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(meta::Time::default()),
        ..Default::default()
    }
}

/// A container as Go writes it: every non-pointer scalar present, most of them empty.
fn container(name: &str, image: &str, command: &[&str]) -> core::Container {
    core::Container {
        name: s(name),
        image: s(image),
        command: strings(command),
        working_dir: s(""),
        resources: Some(core::ResourceRequirements::default()),
        termination_message_path: s(""),
        termination_message_policy: s(""),
        image_pull_policy: s(""),
        stdin: Some(false),
        stdin_once: Some(false),
        tty: Some(false),
        ..Default::default()
    }
}

fn pod_spec(containers: Vec<core::Container>, restart: &str) -> core::PodSpec {
    core::PodSpec {
        containers,
        restart_policy: s(restart),
        dns_policy: s(""),
        service_account_name: s(""),
        service_account: s(""),
        node_name: s(""),
        host_network: Some(false),
        host_pid: Some(false),
        host_ipc: Some(false),
        hostname: s(""),
        subdomain: s(""),
        scheduler_name: s(""),
        priority_class_name: s(""),
        ..Default::default()
    }
}

fn full_container() -> core::Container {
    let env = vec![
        core::EnvVar {
            name: s("GREETING"),
            value: s("hello"),
            value_from: None,
        },
        core::EnvVar {
            name: s("POD_NAME"),
            value: s(""),
            value_from: Some(core::EnvVarSource {
                field_ref: Some(core::ObjectFieldSelector {
                    api_version: s("v1"),
                    field_path: s("metadata.name"),
                }),
                ..Default::default()
            }),
        },
        core::EnvVar {
            name: s("PASSWORD"),
            value: s(""),
            value_from: Some(core::EnvVarSource {
                secret_key_ref: Some(core::SecretKeySelector {
                    local_object_reference: Some(core::LocalObjectReference { name: s("db") }),
                    key: s("password"),
                    optional: Some(false),
                }),
                ..Default::default()
            }),
        },
    ];
    let liveness = core::Probe {
        handler: Some(core::ProbeHandler {
            http_get: Some(core::HttpGetAction {
                path: s("/healthz"),
                port: Some(IntOrString {
                    r#type: Some(0),
                    int_val: Some(8080),
                    str_val: s(""),
                }),
                host: s(""),
                scheme: s("HTTP"),
                http_headers: vec![],
            }),
            ..Default::default()
        }),
        initial_delay_seconds: Some(0),
        timeout_seconds: Some(1),
        period_seconds: Some(10),
        success_threshold: Some(1),
        failure_threshold: Some(3),
        termination_grace_period_seconds: None,
    };
    let readiness = core::Probe {
        handler: Some(core::ProbeHandler {
            tcp_socket: Some(core::TcpSocketAction {
                port: Some(IntOrString {
                    r#type: Some(1),
                    int_val: Some(0),
                    str_val: s("http"),
                }),
                host: s(""),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    core::Container {
        args: strings(&["-Mbignum=bpi", "-wle", "print bpi(2000)"]),
        ports: vec![core::ContainerPort {
            name: s("http"),
            host_port: Some(0),
            container_port: Some(8080),
            protocol: s("TCP"),
            host_ip: s(""),
        }],
        env,
        resources: Some(core::ResourceRequirements {
            limits: quantities(&[("cpu", "500m"), ("memory", "128Mi")]),
            requests: quantities(&[("cpu", "250m")]),
            claims: vec![],
        }),
        volume_mounts: vec![core::VolumeMount {
            name: s("data"),
            read_only: Some(false),
            mount_path: s("/data"),
            sub_path: s(""),
            sub_path_expr: s(""),
            ..Default::default()
        }],
        liveness_probe: Some(liveness),
        readiness_probe: Some(readiness),
        security_context: Some(core::SecurityContext {
            capabilities: Some(core::Capabilities {
                add: vec![],
                drop: strings(&["ALL"]),
            }),
            run_as_user: Some(1000),
            run_as_non_root: Some(true),
            read_only_root_filesystem: Some(false),
            allow_privilege_escalation: Some(false),
            seccomp_profile: Some(core::SeccompProfile {
                r#type: s("RuntimeDefault"),
                localhost_profile: None,
            }),
            ..Default::default()
        }),
        ..container("pi", "perl:5.34", &["perl"])
    }
}

fn full_job() -> batch::Job {
    let volumes = vec![
        core::Volume {
            name: s("data"),
            volume_source: Some(core::VolumeSource {
                empty_dir: Some(core::EmptyDirVolumeSource {
                    medium: s(""),
                    size_limit: Some(Quantity { string: s("1Gi") }),
                }),
                ..Default::default()
            }),
        },
        core::Volume {
            name: s("settings"),
            volume_source: Some(core::VolumeSource {
                config_map: Some(core::ConfigMapVolumeSource {
                    local_object_reference: Some(core::LocalObjectReference { name: s("cfg") }),
                    items: vec![core::KeyToPath {
                        key: s("app.conf"),
                        path: s("app.conf"),
                        mode: None,
                    }],
                    default_mode: Some(0o644),
                    optional: None,
                }),
                ..Default::default()
            }),
        },
    ];
    let mut template_meta = meta_named("");
    template_meta.labels = [("app".to_string(), "pi".to_string())].into();
    let mut job_meta = meta_named("pi");
    job_meta.namespace = s("default");
    job_meta.annotations = [("note".to_string(), "x".to_string())].into();
    batch::Job {
        metadata: Some(job_meta),
        spec: Some(batch::JobSpec {
            parallelism: Some(0),
            backoff_limit: Some(4),
            completion_mode: s("NonIndexed"),
            template: Some(core::PodTemplateSpec {
                metadata: Some(template_meta),
                spec: Some(core::PodSpec {
                    volumes,
                    security_context: Some(core::PodSecurityContext {
                        fs_group: Some(2000),
                        ..Default::default()
                    }),
                    ..pod_spec(vec![full_container()], "Never")
                }),
            }),
            ..Default::default()
        }),
        status: Some(batch::JobStatus {
            active: Some(0),
            succeeded: Some(0),
            failed: Some(0),
            completed_indexes: s(""),
            ..Default::default()
        }),
    }
}

#[test]
fn job_with_full_pod_template() {
    let expected = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default", "annotations": {"note": "x"}},
        "spec": {
            "parallelism": 0,
            "backoffLimit": 4,
            "completionMode": "NonIndexed",
            "template": {
                "metadata": {"labels": {"app": "pi"}},
                "spec": {
                    "volumes": [
                        {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
                        {"name": "settings", "configMap": {
                            "name": "cfg",
                            "items": [{"key": "app.conf", "path": "app.conf"}],
                            "defaultMode": 420
                        }}
                    ],
                    "containers": [{
                        "name": "pi",
                        "image": "perl:5.34",
                        "command": ["perl"],
                        "args": ["-Mbignum=bpi", "-wle", "print bpi(2000)"],
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "env": [
                            {"name": "GREETING", "value": "hello"},
                            {"name": "POD_NAME", "valueFrom": {"fieldRef": {
                                "apiVersion": "v1", "fieldPath": "metadata.name"}}},
                            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {
                                "name": "db", "key": "password", "optional": false}}}
                        ],
                        "resources": {
                            "limits": {"cpu": "500m", "memory": "128Mi"},
                            "requests": {"cpu": "250m"}
                        },
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        "livenessProbe": {
                            "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                            "timeoutSeconds": 1,
                            "periodSeconds": 10,
                            "successThreshold": 1,
                            "failureThreshold": 3
                        },
                        "readinessProbe": {"tcpSocket": {"port": "http"}},
                        "securityContext": {
                            "capabilities": {"drop": ["ALL"]},
                            "runAsUser": 1000,
                            "runAsNonRoot": true,
                            "readOnlyRootFilesystem": false,
                            "allowPrivilegeEscalation": false,
                            "seccompProfile": {"type": "RuntimeDefault"}
                        }
                    }],
                    "restartPolicy": "Never",
                    "hostNetwork": null,
                    "securityContext": {"fsGroup": 2000}
                }
            }
        },
        "status": {}
    });
    let mut expected = expected;
    // `hostNetwork: false` is omitempty in Go: it must not appear at all.
    expected["spec"]["template"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("hostNetwork");
    assert_eq!(roundtrip("batch/v1", "Job", full_job()), expected);
}

#[test]
fn cronjob_as_kubectl_create_cronjob_sends_it() {
    let cronjob = batch::CronJob {
        metadata: Some(meta_named("every5")),
        spec: Some(batch::CronJobSpec {
            schedule: s("*/5 * * * *"),
            concurrency_policy: s(""),
            job_template: Some(batch::JobTemplateSpec {
                metadata: Some(meta_named("every5")),
                spec: Some(batch::JobSpec {
                    template: Some(core::PodTemplateSpec {
                        metadata: Some(meta_named("")),
                        spec: Some(pod_spec(
                            vec![container("every5", "busybox", &["date"])],
                            "OnFailure",
                        )),
                    }),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
        status: Some(batch::CronJobStatus {
            last_schedule_time: Some(meta::Time {
                seconds: Some(1_700_000_000),
                nanos: Some(999),
            }),
            ..Default::default()
        }),
    };
    let expected = json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "every5"},
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {
                "metadata": {"name": "every5"},
                "spec": {"template": {
                    "metadata": {},
                    "spec": {
                        "containers": [{
                            "name": "every5", "image": "busybox", "command": ["date"],
                            "resources": {}
                        }],
                        "restartPolicy": "OnFailure"
                    }
                }}
            }
        },
        // Time keeps whole seconds, as Go's Time.Unmarshal does.
        "status": {"lastScheduleTime": "2023-11-14T22:13:20Z"}
    });
    assert_eq!(roundtrip("batch/v1", "CronJob", cronjob), expected);
}

#[test]
fn pod_with_status() {
    let mut pod_meta = meta_named("web");
    pod_meta.namespace = s("default");
    pod_meta.owner_references = vec![meta::OwnerReference {
        api_version: s("batch/v1"),
        kind: s("Job"),
        name: s("pi"),
        uid: s("1234"),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }];
    let pod = core::Pod {
        metadata: Some(pod_meta),
        spec: Some(core::PodSpec {
            tolerations: vec![core::Toleration {
                key: s("node.kubernetes.io/not-ready"),
                operator: s("Exists"),
                value: s(""),
                effect: s("NoExecute"),
                toleration_seconds: Some(300),
            }],
            ..pod_spec(vec![container("web", "nginx", &[])], "Always")
        }),
        status: Some(core::PodStatus {
            phase: s("Running"),
            conditions: vec![core::PodCondition {
                r#type: s("Ready"),
                status: s("True"),
                last_probe_time: Some(meta::Time::default()),
                last_transition_time: Some(meta::Time {
                    seconds: Some(1_700_000_000),
                    nanos: None,
                }),
                reason: s(""),
                message: s(""),
                observed_generation: Some(0),
            }],
            pod_ip: s("10.0.0.7"),
            pod_ips: vec![core::PodIp { ip: s("10.0.0.7") }],
            container_statuses: vec![core::ContainerStatus {
                name: s("web"),
                state: Some(core::ContainerState {
                    running: Some(core::ContainerStateRunning {
                        started_at: Some(meta::Time {
                            seconds: Some(1_700_000_001),
                            nanos: None,
                        }),
                    }),
                    ..Default::default()
                }),
                ready: Some(true),
                restart_count: Some(0),
                image: s("nginx"),
                image_id: s(""),
                container_id: s(""),
                ..Default::default()
            }],
            ..Default::default()
        }),
    };
    let expected = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web", "namespace": "default",
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "Job", "name": "pi", "uid": "1234",
                "controller": true, "blockOwnerDeletion": true
            }]
        },
        "spec": {
            "containers": [{"name": "web", "image": "nginx", "resources": {}}],
            "restartPolicy": "Always",
            "tolerations": [{
                "key": "node.kubernetes.io/not-ready", "operator": "Exists",
                "effect": "NoExecute", "tolerationSeconds": 300
            }]
        },
        "status": {
            "phase": "Running",
            "conditions": [{
                "type": "Ready", "status": "True",
                "lastTransitionTime": "2023-11-14T22:13:20Z"
            }],
            "podIP": "10.0.0.7",
            "podIPs": [{"ip": "10.0.0.7"}],
            "containerStatuses": [{
                "name": "web",
                "state": {"running": {"startedAt": "2023-11-14T22:13:21Z"}},
                "ready": true, "restartCount": 0, "image": "nginx", "imageID": ""
            }]
        }
    });
    assert_eq!(roundtrip("v1", "Pod", pod), expected);
}

#[test]
fn event_with_micro_time() {
    let mut event_meta = meta_named("web.17");
    event_meta.namespace = s("default");
    let event = core::Event {
        metadata: Some(event_meta),
        involved_object: Some(core::ObjectReference {
            kind: s("Pod"),
            namespace: s("default"),
            name: s("web"),
            uid: s(""),
            api_version: s("v1"),
            resource_version: s(""),
            field_path: s(""),
        }),
        reason: s("Started"),
        message: s("Started container web"),
        source: Some(core::EventSource {
            component: s("kubelet"),
            host: s(""),
        }),
        first_timestamp: Some(meta::Time::default()),
        last_timestamp: Some(meta::Time::default()),
        count: Some(0),
        r#type: s("Normal"),
        event_time: Some(meta::MicroTime {
            seconds: Some(1_700_000_000),
            nanos: Some(123_456_789),
        }),
        series: None,
        action: s("Started"),
        related: None,
        reporting_component: s("kubelet"),
        reporting_instance: s(""),
    };
    let expected = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.17", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web", "apiVersion": "v1"},
        "reason": "Started",
        "message": "Started container web",
        "source": {"component": "kubelet"},
        "type": "Normal",
        "eventTime": "2023-11-14T22:13:20.123456Z",
        "action": "Started",
        "reportingComponent": "kubelet",
        "reportingInstance": ""
    });
    assert_eq!(roundtrip("v1", "Event", event), expected);
}

#[test]
fn namespace_and_node() {
    let ns = core::Namespace {
        metadata: Some(meta_named("team-a")),
        spec: Some(core::NamespaceSpec {
            finalizers: strings(&["kubernetes"]),
        }),
        status: Some(core::NamespaceStatus {
            phase: s("Active"),
            conditions: vec![],
        }),
    };
    assert_eq!(
        roundtrip("v1", "Namespace", ns),
        json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}
        })
    );
    let node = core::Node {
        metadata: Some(meta_named("node-1")),
        spec: Some(core::NodeSpec {
            pod_cidr: s(""),
            unschedulable: Some(false),
            taints: vec![core::Taint {
                key: s("dedicated"),
                value: s("batch"),
                effect: s("NoSchedule"),
                time_added: None,
            }],
            ..Default::default()
        }),
        status: Some(core::NodeStatus {
            capacity: quantities(&[("cpu", "2"), ("pods", "110")]),
            addresses: vec![core::NodeAddress {
                r#type: s("InternalIP"),
                address: s("127.0.0.1"),
            }],
            ..Default::default()
        }),
    };
    assert_eq!(
        roundtrip("v1", "Node", node),
        json!({
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
            "spec": {"taints": [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]},
            "status": {
                "capacity": {"cpu": "2", "pods": "110"},
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]
            }
        })
    );
}

#[test]
fn lease_with_micro_times() {
    use k8s_pb::api::coordination::v1 as coordination;
    let mut lease_meta = meta_named("vm");
    lease_meta.namespace = s("kube-node-lease");
    let lease = coordination::Lease {
        metadata: Some(lease_meta),
        spec: Some(coordination::LeaseSpec {
            holder_identity: s("vm"),
            lease_duration_seconds: Some(40),
            acquire_time: None,
            renew_time: Some(meta::MicroTime {
                seconds: Some(1_700_000_000),
                nanos: Some(5_000),
            }),
            lease_transitions: Some(0),
            strategy: None,
            preferred_holder: None,
        }),
    };
    assert_eq!(
        roundtrip("coordination.k8s.io/v1", "Lease", lease),
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "vm", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "vm", "leaseDurationSeconds": 40,
                     "renewTime": "2023-11-14T22:13:20.000005Z", "leaseTransitions": 0}
        })
    );
}

#[test]
fn bad_envelopes_are_errors() {
    assert_eq!(decode(b""), Err(ProtobufError::Magic));
    assert_eq!(decode(b"k8s"), Err(ProtobufError::Magic));
    assert_eq!(decode(b"{\"kind\":\"Job\"}"), Err(ProtobufError::Magic));
    assert_eq!(decode(b"k9s\0\x0a\x00"), Err(ProtobufError::Magic));
    assert!(matches!(
        decode(b"k8s\0\xff\xff\xff"),
        Err(ProtobufError::Envelope(_))
    ));
    assert_eq!(
        decode(&envelope("v1", "", vec![])),
        Err(ProtobufError::MissingKind)
    );
    assert_eq!(
        decode(&envelope("apps/v1", "Deployment", vec![])).map_err(|e| e.to_string()),
        Err(
            "no kind \"Deployment\" is registered for version \"apps/v1\" in scheme \
             \"pkg/api/legacyscheme/scheme.go:30\""
                .into()
        )
    );
    assert!(matches!(
        decode(&envelope("v1", "Job", vec![])),
        Err(ProtobufError::NotRegistered { .. })
    ));
}

#[test]
fn bad_objects_are_errors() {
    let garbage = decode(&envelope("batch/v1", "Job", vec![0x0a, 0x05, 0x01]));
    let message = garbage.unwrap_err().to_string();
    assert!(
        message.starts_with("Job in version \"v1\" cannot be handled as a Job: "),
        "{message}"
    );
    let bad_port = core::Pod {
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                liveness_probe: Some(core::Probe {
                    handler: Some(core::ProbeHandler {
                        tcp_socket: Some(core::TcpSocketAction {
                            port: Some(IntOrString {
                                r#type: Some(7),
                                ..Default::default()
                            }),
                            host: None,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        decode(&envelope("v1", "Pod", bad_port.encode_to_vec())).map_err(|e| e.to_string()),
        Err("Pod in version \"v1\" cannot be handled as a Pod: impossible IntOrString.Type".into())
    );
    for seconds in [i64::MIN, i64::MAX, -62_167_219_201, 253_402_300_800] {
        let job = batch::Job {
            status: Some(batch::JobStatus {
                start_time: Some(meta::Time {
                    seconds: Some(seconds),
                    nanos: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let body = envelope("batch/v1", "Job", job.encode_to_vec());
        assert!(
            matches!(decode(&body), Err(ProtobufError::Object { detail, .. }) if detail.contains("year outside")),
            "{seconds}"
        );
    }
    let mut managed = meta_named("m");
    managed.managed_fields = vec![meta::ManagedFieldsEntry {
        fields_v1: Some(meta::FieldsV1 {
            raw: Some(b"{not json".to_vec()),
        }),
        ..Default::default()
    }];
    let ns = core::Namespace {
        metadata: Some(managed),
        ..Default::default()
    };
    assert!(decode(&envelope("v1", "Namespace", ns.encode_to_vec())).is_err());
}

#[test]
fn every_truncation_of_a_real_body_is_handled() {
    let body = envelope("batch/v1", "Job", full_job().encode_to_vec());
    assert!(decode(&body).is_ok());
    for end in 0..body.len() {
        let _ = decode(&body[..end]);
    }
    for i in 4..body.len() {
        let mut flipped = body.clone();
        flipped[i] ^= 0xff;
        let _ = decode(&flipped);
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
        let mut body = b"k8s\0".to_vec();
        body.extend(&bytes);
        let _ = decode(&body);
    }

    #[test]
    fn random_objects_never_panic(
        kind in prop::sample::select(vec![
            ("batch/v1", "Job"), ("batch/v1", "CronJob"), ("v1", "Pod"),
            ("v1", "Namespace"), ("v1", "Event"), ("v1", "Node"),
            ("coordination.k8s.io/v1", "Lease"),
        ]),
        raw in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = decode(&envelope(kind.0, kind.1, raw));
    }
}
