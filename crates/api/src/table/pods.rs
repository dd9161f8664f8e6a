//! Pods (`printPod`): READY, the STATUS reason, RESTARTS with the last restart's age.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{AGE, Col, NAME, age, at, has, list_at, name, since, str_at, string, time_at, wide};
use crate::fields::pod_ip;

pub(super) const POD_COLUMNS: &[Col] = &[
    NAME,
    string(
        "Ready",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    string(
        "Status",
        "The aggregate status of the containers in this pod.",
    ),
    string(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    wide(
        "IP",
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
    ),
    wide(
        "Node",
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
    ),
    wide(
        "Nominated Node",
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
    ),
    wide(
        "Readiness Gates",
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
    ),
];

/// The `Completed` row condition of a pod in a terminal phase.
pub(super) fn pod_conditions(pod: &Value) -> Option<Value> {
    let (reason, message) = match str_at(pod, &["status", "phase"]) {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    str_at(v, path)
}

fn int(v: &Value, path: &[&str]) -> i64 {
    at(v, path).and_then(Value::as_i64).unwrap_or(0)
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The first condition of `kind` decides (`isPodInitializedConditionTrue`).
fn first_condition_true(pod: &Value, kind: &str) -> bool {
    list_at(pod, &["status", "conditions"])
        .iter()
        .find(|c| s(c, &["type"]) == kind)
        .is_some_and(|c| s(c, &["status"]) == "True")
}

/// Any condition of `kind` is true (`hasPodReadyCondition`).
fn any_condition_true(pod: &Value, kind: &str) -> bool {
    list_at(pod, &["status", "conditions"])
        .iter()
        .any(|c| s(c, &["type"]) == kind && s(c, &["status"]) == "True")
}

/// Keeps the later of the last restart seen and this container's last termination.
fn note_restart(latest: &mut Option<Timestamp>, status: &Value) {
    if !has(status, &["lastState", "terminated"]) {
        return;
    }
    if let Some(t) = time_at(status, &["lastState", "terminated", "finishedAt"])
        && latest.is_none_or(|l| l < t)
    {
        *latest = Some(t);
    }
}

/// `Signal:N` or `ExitCode:N` for a termination without a reason.
fn exit_reason(terminated: &Value) -> String {
    match int(terminated, &["signal"]) {
        0 => format!("ExitCode:{}", int(terminated, &["exitCode"])),
        sig => format!("Signal:{sig}"),
    }
}

/// The READY, STATUS and RESTARTS cells.
fn summary(pod: &Value, now: Timestamp) -> (String, String, String) {
    let init_specs = list_at(pod, &["spec", "initContainers"]);
    let restartable = |name: &str| {
        init_specs
            .iter()
            .any(|c| s(c, &["name"]) == name && s(c, &["restartPolicy"]) == "Always")
    };
    let total = list_at(pod, &["spec", "containers"]).len()
        + init_specs
            .iter()
            .filter(|c| s(c, &["restartPolicy"]) == "Always")
            .count();
    let mut ready = 0usize;
    let (mut restarts, mut sidecar_restarts) = (0i64, 0i64);
    let (mut last_restart, mut sidecar_last_restart) = (None, None);

    let phase = s(pod, &["status", "phase"]);
    let mut reason = match s(pod, &["status", "reason"]) {
        "" => phase.to_owned(),
        r => r.to_owned(),
    };
    for c in list_at(pod, &["status", "conditions"]) {
        if s(c, &["type"]) == "PodScheduled" && s(c, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".to_owned();
        }
    }

    let mut initializing = false;
    for (i, c) in list_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let count = int(c, &["restartCount"]);
        restarts += count;
        note_restart(&mut last_restart, c);
        let sidecar = restartable(s(c, &["name"]));
        if sidecar {
            sidecar_restarts += count;
            note_restart(&mut sidecar_last_restart, c);
        }
        let terminated = at(c, &["state", "terminated"]).filter(|t| t.is_object());
        let waiting_reason = match at(c, &["state", "waiting"]).filter(|w| w.is_object()) {
            Some(w) => s(w, &["reason"]),
            None => "",
        };
        if terminated.is_some_and(|t| int(t, &["exitCode"]) == 0) {
            continue;
        }
        if sidecar && flag(c, "started") {
            if flag(c, "ready") {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            match s(t, &["reason"]) {
                "" => format!("Init:{}", exit_reason(t)),
                r => format!("Init:{r}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || first_condition_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = sidecar_last_restart;
        let mut has_running = false;
        for c in list_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int(c, &["restartCount"]);
            note_restart(&mut last_restart, c);
            let waiting = at(c, &["state", "waiting"]).filter(|w| w.is_object());
            let terminated = at(c, &["state", "terminated"]).filter(|t| t.is_object());
            if let Some(w) = waiting.filter(|w| !s(w, &["reason"]).is_empty()) {
                reason = s(w, &["reason"]).to_owned();
            } else if let Some(t) = terminated {
                reason = match s(t, &["reason"]) {
                    "" => exit_reason(t),
                    r => r.to_owned(),
                };
            } else if flag(c, "ready") && has(c, &["state", "running"]) {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if any_condition_true(pod, "Ready") {
                "Running".to_owned()
            } else {
                "NotReady".to_owned()
            };
        }
    }

    let deleting = at(pod, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null());
    if deleting && s(pod, &["status", "reason"]) == "NodeLost" {
        reason = "Unknown".to_owned();
    } else if deleting && !matches!(phase, "Succeeded" | "Failed") {
        reason = "Terminating".to_owned();
    }

    let restarts = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };
    (format!("{ready}/{total}"), reason, restarts)
}

/// `<none>` for an empty string.
fn or_none(v: &str) -> &str {
    if v.is_empty() { "<none>" } else { v }
}

fn readiness_gates(pod: &Value) -> String {
    let gates = list_at(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_owned();
    }
    let conditions = list_at(pod, &["status", "conditions"]);
    let true_count = gates
        .iter()
        .filter(|g| {
            let kind = s(g, &["conditionType"]);
            conditions
                .iter()
                .find(|c| s(c, &["type"]) == kind)
                .is_some_and(|c| s(c, &["status"]) == "True")
        })
        .count();
    format!("{true_count}/{}", gates.len())
}

pub(super) fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let (ready, status, restarts) = summary(pod, now);
    vec![
        json!(name(pod)),
        json!(ready),
        json!(status),
        json!(restarts),
        json!(age(pod, now)),
        json!(or_none(pod_ip(pod))),
        json!(or_none(s(pod, &["spec", "nodeName"]))),
        json!(or_none(s(pod, &["status", "nominatedNodeName"]))),
        json!(readiness_gates(pod)),
    ]
}
