//! The pod status the kubelet reports (`generateAPIPodStatus`): container statuses from the
//! observed runs, the phase (`getPhase`, verbatim in its rules), and the conditions
//! (`PodReadyToStartContainers`, `Initialized`, `Ready`, `ContainersReady`, `PodScheduled`)
//! with their upstream reasons and messages. Pure: the plan decides; this renders.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use runtime::{ExitReason, ExitStatus};

use crate::observed::{ContainerObs, Observed};

/// `status.reason` and `status.message` of a pod failed by its active deadline.
pub const DEADLINE_REASON: &str = "DeadlineExceeded";
/// The kubelet's message for [`DEADLINE_REASON`].
pub const DEADLINE_MESSAGE: &str = "Pod was active on the node longer than the specified deadline";

/// A container state the plan imposes (crash-loop backoff).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// E.g. `CrashLoopBackOff`.
    pub reason: String,
    /// E.g. `back-off 10s restarting failed container=c pod=p_ns(uid)`.
    pub message: String,
}

/// How the pod ends, when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Still active: the phase follows the containers.
    Active,
    /// Deleted: every container has stopped; the phase is terminal.
    Deleted,
    /// `activeDeadlineSeconds` passed: Failed with `DeadlineExceeded`.
    Deadline,
}

/// Truncated to the second, as `metav1.Time` serializes.
pub fn time(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

fn terminated(exit: &ExitStatus, id: Option<&str>) -> ContainerStateTerminated {
    let reason = match exit.reason {
        ExitReason::Exited if exit.code == 0 => "Completed",
        ExitReason::Exited => "Error",
        ExitReason::OomKilled => "OOMKilled",
        ExitReason::StartError => "StartError",
        ExitReason::Lost => "ContainerStatusUnknown",
    };
    ContainerStateTerminated {
        exit_code: exit.code,
        signal: exit.signal,
        reason: Some(reason.to_owned()),
        message: exit.message.clone(),
        started_at: exit.started_at.map(time),
        finished_at: Some(time(exit.finished_at)),
        container_id: id.map(container_id),
    }
}

/// The `containerID` of a run: `batchlet://<runtime id>`.
pub fn container_id(id: &str) -> String {
    format!("batchlet://{id}")
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_owned()),
            message,
        }),
        ..Default::default()
    }
}

/// The status of container `c` (`convertToAPIContainerStatuses`). `old` is the status last
/// written for it: a terminal pod whose container the runtime no longer knows (its state
/// is removed once the pod finished, e.g. before a restart of the agent) keeps its
/// terminated status, as the kubelet does, instead of turning ContainerStatusUnknown.
fn container_status(
    c: &Container,
    o: &ContainerObs,
    old: Option<&ContainerStatus>,
    default_waiting: &str,
    imposed: Option<&Waiting>,
    terminal: bool,
) -> ContainerStatus {
    if terminal
        && o.current.is_none()
        && let Some(old) =
            old.filter(|s| s.state.as_ref().is_some_and(|st| st.terminated.is_some()))
    {
        return old.clone();
    }
    let id = o.current.as_ref().map(|r| r.id.as_str());
    let previous = |exit: Option<&ExitStatus>| ContainerState {
        terminated: exit.map(|e| terminated(e, None)),
        ..Default::default()
    };
    let mut last_state = previous(o.previous.as_ref());
    if let (Some(t), Some(prev)) = (
        last_state.terminated.as_mut(),
        id.and_then(crate::ids::previous),
    ) {
        t.container_id = Some(container_id(&prev));
    }
    let mut running = false;
    let state = match (imposed, &o.current, &o.blocked) {
        (Some(w), Some(run), _) => {
            last_state = previous(run.exit.as_ref());
            if let Some(t) = last_state.terminated.as_mut() {
                t.container_id = Some(container_id(&run.id));
            }
            waiting(&w.reason, Some(w.message.clone()))
        }
        (_, Some(run), Some(b)) if run.exit.is_some() => {
            last_state = previous(run.exit.as_ref());
            waiting(&b.reason, b.message.clone())
        }
        (_, None, Some(b)) if !terminal => waiting(&b.reason, b.message.clone()),
        (_, None, _) if terminal => ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: 137,
                reason: Some("ContainerStatusUnknown".into()),
                message: Some(
                    "The container could not be located when the pod was terminated".into(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        },
        (_, None, _) => waiting(default_waiting, None),
        (_, Some(run), _) => match &run.exit {
            None => {
                running = true;
                ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: run.started_at.map(time),
                    }),
                    ..Default::default()
                }
            }
            Some(exit) => ContainerState {
                terminated: Some(terminated(exit, Some(&run.id))),
                ..Default::default()
            },
        },
    };
    ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        image_id: String::new(),
        container_id: id.map(container_id),
        ready: running,
        started: Some(running),
        restart_count: i32::try_from(o.restart).unwrap_or(i32::MAX),
        state: Some(state),
        last_state: Some(last_state),
        ..Default::default()
    }
}

enum Seen {
    Running,
    Terminated(i32),
    WaitingAfter(i32),
    Waiting,
}

fn seen(s: &ContainerStatus) -> Seen {
    let st = s.state.as_ref();
    let last = s
        .last_state
        .as_ref()
        .and_then(|l| l.terminated.as_ref())
        .map(|t| t.exit_code);
    if st.is_some_and(|s| s.running.is_some()) {
        Seen::Running
    } else if let Some(t) = st.and_then(|s| s.terminated.as_ref()) {
        Seen::Terminated(t.exit_code)
    } else if let Some(code) = last {
        Seen::WaitingAfter(code)
    } else {
        Seen::Waiting
    }
}

/// `getPhase`: the phase from the container statuses, with the restart policy.
pub fn phase(
    policy: &str,
    init: &[ContainerStatus],
    main: &[ContainerStatus],
    pod_is_terminal: bool,
) -> &'static str {
    let (mut pending_init, mut failed_init) = (0, 0);
    for s in init {
        match seen(s) {
            Seen::Running | Seen::Waiting => pending_init += 1,
            Seen::Terminated(code) | Seen::WaitingAfter(code) if code != 0 => failed_init += 1,
            Seen::Terminated(_) => {}
            Seen::WaitingAfter(_) => pending_init += 1,
        }
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for s in main {
        match seen(s) {
            Seen::Running => running += 1,
            Seen::Terminated(code) => {
                stopped += 1;
                if code == 0 {
                    succeeded += 1;
                }
            }
            Seen::WaitingAfter(_) => stopped += 1,
            Seen::Waiting => waiting += 1,
        }
    }
    if failed_init > 0 && policy == "Never" {
        return "Failed";
    }
    if (pending_init > 0 && !pod_is_terminal) || waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped > 0 {
        if pod_is_terminal {
            return if stopped == succeeded {
                "Succeeded"
            } else {
                "Failed"
            };
        }
        if policy == "Always" {
            return "Running";
        }
        if stopped == succeeded {
            return "Succeeded";
        }
        if policy == "Never" {
            return "Failed";
        }
        return "Running";
    }
    "Pending"
}

fn condition(
    old: &[PodCondition],
    type_: &str,
    ok: bool,
    reason: Option<&str>,
    message: Option<String>,
    now: Timestamp,
) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    let since = old
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| time(now));
    PodCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.map(str::to_owned),
        message,
        last_transition_time: Some(since),
        ..Default::default()
    }
}

fn old_status<'a>(old: Option<&'a [ContainerStatus]>, name: &str) -> Option<&'a ContainerStatus> {
    old.unwrap_or_default().iter().find(|s| s.name == name)
}

/// The whole status the agent reports for `pod`.
pub fn pod_status(
    pod: &Pod,
    obs: &Observed,
    imposed: &BTreeMap<String, Waiting>,
    ending: Ending,
    host_ip: &str,
    now: Timestamp,
) -> PodStatus {
    let old = pod.status.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let api_terminal = matches!(old.phase.as_deref(), Some("Succeeded" | "Failed"));
    let terminal = ending != Ending::Active || api_terminal;
    let inits = spec.init_containers.as_deref().unwrap_or_default();
    let init: Vec<ContainerStatus> = inits
        .iter()
        .map(|c| {
            let o = obs.get(&c.name);
            let was = old_status(old.init_container_statuses.as_deref(), &c.name);
            container_status(
                c,
                &o,
                was,
                "PodInitializing",
                imposed.get(&c.name),
                terminal,
            )
        })
        .collect();
    let init_done = init.iter().all(|s| matches!(seen(s), Seen::Terminated(0)));
    let default_waiting = if init_done {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let mut main: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|c| {
            let o = obs.get(&c.name);
            let was = old_status(old.container_statuses.as_deref(), &c.name);
            container_status(c, &o, was, default_waiting, imposed.get(&c.name), terminal)
        })
        .collect();
    main.sort_by(|a, b| a.name.cmp(&b.name));

    let (mut phase_now, mut reason, mut message) = (
        phase(policy, &init, &main, ending == Ending::Deleted),
        old.reason.clone(),
        old.message.clone(),
    );
    match ending {
        Ending::Deadline => {
            phase_now = "Failed";
            reason = Some(DEADLINE_REASON.into());
            message = Some(DEADLINE_MESSAGE.into());
        }
        Ending::Deleted if !matches!(phase_now, "Succeeded" | "Failed") => phase_now = "Failed",
        _ => {}
    }
    let phase_now = match old.phase.as_deref() {
        Some(p @ ("Succeeded" | "Failed")) => p.to_owned(),
        _ => phase_now.to_owned(),
    };
    let old_conds = old.conditions.clone().unwrap_or_default();
    let regular_started = main
        .iter()
        .any(|s| matches!(seen(s), Seen::Running | Seen::Terminated(_)));
    let incomplete: Vec<&str> = init
        .iter()
        .filter(|s| !matches!(seen(s), Seen::Terminated(0)))
        .map(|s| s.name.as_str())
        .collect();
    let initialized = if regular_started || incomplete.is_empty() {
        let completed = !regular_started && phase_now == "Succeeded";
        condition(
            &old_conds,
            "Initialized",
            true,
            completed.then_some("PodCompleted"),
            None,
            now,
        )
    } else {
        condition(
            &old_conds,
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                incomplete.join(" ")
            )),
            now,
        )
    };
    let unready: Vec<&str> = spec
        .containers
        .iter()
        .filter(|c| !main.iter().any(|s| s.name == c.name && s.ready))
        .map(|c| c.name.as_str())
        .collect();
    let (ready, ready_reason, ready_message) = match phase_now.as_str() {
        "Succeeded" => (false, Some("PodCompleted"), None),
        "Failed" => (false, Some("PodFailed"), None),
        _ if unready.is_empty() => (true, None, None),
        _ => (
            false,
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        ),
    };
    let scheduled = old_conds
        .iter()
        .find(|c| c.type_ == "PodScheduled")
        .cloned()
        .unwrap_or_else(|| condition(&[], "PodScheduled", true, None, None, now));
    let conditions = vec![
        condition(
            &old_conds,
            "PodReadyToStartContainers",
            !matches!(phase_now.as_str(), "Succeeded" | "Failed"),
            None,
            None,
            now,
        ),
        initialized,
        condition(
            &old_conds,
            "Ready",
            ready,
            ready_reason,
            ready_message.clone(),
            now,
        ),
        condition(
            &old_conds,
            "ContainersReady",
            ready,
            ready_reason,
            ready_message,
            now,
        ),
        scheduled,
    ];
    PodStatus {
        phase: Some(phase_now),
        reason,
        message,
        conditions: Some(conditions),
        host_ip: Some(host_ip.to_owned()),
        host_ips: Some(vec![HostIP {
            ip: host_ip.to_owned(),
        }]),
        pod_ip: Some(host_ip.to_owned()),
        pod_ips: Some(vec![PodIP {
            ip: host_ip.to_owned(),
        }]),
        start_time: Some(
            old.start_time
                .clone()
                .unwrap_or_else(|| time(obs.first_seen)),
        ),
        init_container_statuses: (!init.is_empty()).then_some(init),
        container_statuses: Some(main),
        qos_class: old.qos_class.clone(),
        nominated_node_name: old.nominated_node_name.clone(),
        ..Default::default()
    }
}
