//! The pod sync decision (the kubelet's `SyncPod` / `SyncTerminatingPod` as a pure
//! function): given the pod, what the agent has observed of its containers, and the time,
//! which containers to start or stop, which status to write, and whether the pod object can
//! go. The shell ([`crate::sync`]) carries the plan out and calls it again.
//!
//! Rules: init containers run one at a time in order, then all containers at once. A failed
//! container restarts in place unless `restartPolicy` is `Never` (a successful one only under
//! `Always`), after the crash backoff ([`crate::backoff`]). A terminal phase is final. A
//! deletion or a passed `activeDeadlineSeconds` stops every container (SIGTERM, SIGKILL after
//! the grace period) and makes the phase terminal; a deleted pod's object is removed once its
//! terminal status is written.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Pod, PodStatus};

use crate::backoff;
use crate::observed::Observed;
use crate::status::{self, Ending, Waiting};

/// The grace period when neither the deletion nor the spec has one.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// One step for the shell.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start run `restart` of `container` (after storing `backoff` for it).
    Start {
        /// Container name.
        container: String,
        /// The run index (the container's restartCount once started).
        restart: u32,
        /// The crash backoff entry to keep for the container.
        backoff: Option<backoff::Entry>,
    },
    /// Stop the running container: SIGTERM, SIGKILL after `grace`.
    Stop {
        /// Container name.
        container: String,
        /// The grace period.
        grace: Duration,
    },
    /// Record an Event on the pod.
    Event(Event),
    /// Write this status (it differs from the stored one).
    WriteStatus(Box<PodStatus>),
    /// The pod is terminal and nothing runs: forget its runtime state and emptyDir volumes.
    Release,
    /// The deleted pod has stopped: remove the object (grace 0), then everything of it.
    DeleteObject,
}

/// An Event to record on the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `Warning` rather than `Normal`.
    pub warning: bool,
    /// E.g. `BackOff`.
    pub reason: &'static str,
    /// The message.
    pub message: String,
    /// The container it is about (`involvedObject.fieldPath`), if one.
    pub container: Option<String>,
}

/// What to do now, and when to look again without a change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// In order.
    pub actions: Vec<Action>,
    /// Look again after this long (a backoff or a deadline ends).
    pub requeue: Option<Duration>,
}

impl Plan {
    fn after(&mut self, d: Duration) {
        self.requeue = Some(self.requeue.map_or(d, |r| r.min(d)));
    }

    /// The containers this plan starts.
    pub fn starts(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().filter_map(|a| match a {
            Action::Start { container, .. } => Some(container.as_str()),
            _ => None,
        })
    }
}

/// `format.Pod`: `name_namespace(uid)`, as kubelet messages name a pod.
pub fn pod_ref(pod: &Pod) -> String {
    let m = &pod.metadata;
    format!(
        "{}_{}({})",
        m.name.as_deref().unwrap_or_default(),
        m.namespace.as_deref().unwrap_or_default(),
        m.uid.as_deref().unwrap_or_default()
    )
}

fn secs(s: i64) -> Duration {
    Duration::from_secs(u64::try_from(s).unwrap_or(0))
}

/// Decides what to do with `pod` given `obs` at `now`. `host_ip` is the node's (and the
/// pod's) IP.
pub fn plan(pod: &Pod, obs: &Observed, host_ip: &str, now: Timestamp) -> Plan {
    let mut p = Plan::default();
    let spec = pod.spec.clone().unwrap_or_default();
    let policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let api_terminal = matches!(phase, Some("Succeeded" | "Failed"));
    let deleting = pod.metadata.deletion_timestamp.is_some();
    let start_time = pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map_or(obs.first_seen, |t| t.0);
    let deadline = spec
        .active_deadline_seconds
        .filter(|s| *s > 0)
        .and_then(|s| start_time.checked_add(SignedDuration::from_secs(s)).ok());
    let deadline_passed = deadline.is_some_and(|d| d <= now);
    let grace = if deleting {
        pod.metadata
            .deletion_grace_period_seconds
            .map_or(DEFAULT_GRACE, secs)
    } else {
        spec.termination_grace_period_seconds
            .map_or(DEFAULT_GRACE, secs)
    };
    let running: Vec<&String> = obs
        .containers
        .iter()
        .filter(|(_, o)| o.running())
        .map(|(n, _)| n)
        .collect();
    let mut imposed = BTreeMap::new();

    if api_terminal || deleting || deadline_passed {
        let mut stopping_now = false;
        for name in &running {
            if !obs.get(name).stopping {
                stopping_now = true;
                p.actions.push(Action::Stop {
                    container: (*name).clone(),
                    grace,
                });
            }
        }
        let ending = match (api_terminal, deleting, running.is_empty()) {
            (true, _, _) | (false, _, false) => Ending::Active,
            (false, true, true) => Ending::Deleted,
            (false, false, true) => Ending::Deadline,
        };
        if deadline_passed && !deleting && !api_terminal && (stopping_now || running.is_empty()) {
            p.actions.push(Action::Event(Event {
                warning: false,
                reason: status::DEADLINE_REASON,
                message: status::DEADLINE_MESSAGE.into(),
                container: None,
            }));
        }
        write_status(&mut p, pod, obs, &imposed, ending, host_ip, now);
        if api_terminal && running.is_empty() {
            p.actions.push(if deleting {
                Action::DeleteObject
            } else {
                Action::Release
            });
        }
        return p;
    }
    if let Some(d) = deadline {
        p.after(Duration::try_from(d.duration_since(now)).unwrap_or_default());
    }

    let restart = |p: &mut Plan, imposed: &mut BTreeMap<String, Waiting>, name: &str| {
        let o = obs.get(name);
        let Some(exit) = o.exit() else { return };
        match backoff::remaining(o.backoff.as_ref(), exit.finished_at, now) {
            Some(left) => {
                let delay = o.backoff.map_or(backoff::INITIAL, |b| b.delay);
                imposed.insert(
                    name.to_owned(),
                    Waiting {
                        reason: "CrashLoopBackOff".into(),
                        message: format!(
                            "back-off {} restarting failed container={name} pod={}",
                            backoff::go_duration(delay),
                            pod_ref(pod)
                        ),
                    },
                );
                if !o.backoff_reported {
                    p.actions.push(Action::Event(Event {
                        warning: true,
                        reason: "BackOff",
                        message: format!(
                            "Back-off restarting failed container {name} in pod {}",
                            pod_ref(pod)
                        ),
                        container: Some(name.to_owned()),
                    }));
                }
                p.after(left);
            }
            None => p.actions.push(Action::Start {
                container: name.to_owned(),
                restart: o.restart + 1,
                backoff: Some(backoff::next(o.backoff.as_ref(), exit.finished_at, now)),
            }),
        }
    };
    let start_new = |p: &mut Plan, name: &str| {
        p.actions.push(Action::Start {
            container: name.to_owned(),
            restart: 0,
            backoff: None,
        });
    };

    let mut init_done = true;
    for c in spec.init_containers.iter().flatten() {
        let o = obs.get(&c.name);
        match (&o.current, o.exit()) {
            (None, _) => {
                start_new(&mut p, &c.name);
                init_done = false;
                break;
            }
            (Some(_), None) => {
                init_done = false;
                break;
            }
            (Some(_), Some(e)) if e.success() => {}
            (Some(_), Some(_)) => {
                init_done = false;
                if policy != "Never" {
                    restart(&mut p, &mut imposed, &c.name);
                }
                break;
            }
        }
    }
    if init_done {
        for c in &spec.containers {
            let o = obs.get(&c.name);
            match (&o.current, o.exit()) {
                (None, _) => start_new(&mut p, &c.name),
                (Some(_), None) => {}
                (Some(_), Some(e)) => {
                    let again = match policy {
                        "Never" => false,
                        "OnFailure" => !e.success(),
                        _ => true,
                    };
                    if again {
                        restart(&mut p, &mut imposed, &c.name);
                    }
                }
            }
        }
    }
    if p.starts().any(|c| obs.get(c).blocked.is_some()) {
        // Retry a container that could not be created.
        p.after(Duration::from_secs(10));
    }
    write_status(&mut p, pod, obs, &imposed, Ending::Active, host_ip, now);
    p
}

fn write_status(
    p: &mut Plan,
    pod: &Pod,
    obs: &Observed,
    imposed: &BTreeMap<String, Waiting>,
    ending: Ending,
    host_ip: &str,
    now: Timestamp,
) {
    let status = status::pod_status(pod, obs, imposed, ending, host_ip, now);
    if pod.status.as_ref() != Some(&status) {
        p.actions.push(Action::WriteStatus(Box::new(status)));
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
