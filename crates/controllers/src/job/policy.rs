//! The rules that judge pods: the pod failure policy (`matchPodFailurePolicy`), the success
//! policy (`matchSuccessPolicy`) and the pod-failure backoff (`backoff_utils.go`).

use super::indexes::IndexSet;
use super::pods;
use k8s_openapi::api::batch::v1::{Job, PodFailurePolicy, SuccessPolicy};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;
use std::time::Duration;

/// The first delay before a replacement pod (`DefaultJobPodFailureBackOff`).
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// The cap on that delay (`MaxJobPodFailureBackOff`: 10 minutes in the code; the docs
/// still say 6).
pub const BACKOFF_MAX: Duration = Duration::from_secs(600);

/// The action of the rule a failed pod matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Fail the whole Job; carries the condition message.
    FailJob(String),
    /// Fail the pod's index (backoffLimitPerIndex).
    FailIndex,
    /// Do not count the failure.
    Ignore,
    /// Count it (the default).
    Count,
}

impl Action {
    /// Whether the failure counts towards `status.failed` and the limits.
    pub fn counts(&self) -> bool {
        *self != Action::Ignore
    }
}

/// The action for a failed pod: the first matching rule's, or None (counted).
pub fn match_failure_policy(policy: Option<&PodFailurePolicy>, pod: &Pod) -> Option<Action> {
    let policy = policy?;
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    let name = pods::name(pod);
    for (i, rule) in policy.rules.iter().enumerate() {
        let matched = if let Some(codes) = &rule.on_exit_codes {
            match_exit_codes(pod, codes).map(|c| {
                let code = c
                    .state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .map_or(0, |t| t.exit_code);
                format!(
                    "Container {} for pod {ns}/{name} failed with exit code {code} matching {} rule at index {i}",
                    c.name, rule.action
                )
            })
        } else if let Some(patterns) = &rule.on_pod_conditions {
            let conds = pod.status.as_ref().and_then(|s| s.conditions.as_deref());
            conds.unwrap_or_default().iter().find_map(|c| {
                patterns
                    .iter()
                    .any(|p| p.type_ == c.type_ && p.status == c.status)
                    .then(|| {
                        format!(
                            "Pod {ns}/{name} has condition {} matching {} rule at index {i}",
                            c.type_, rule.action
                        )
                    })
            })
        } else {
            None
        };
        let Some(message) = matched else { continue };
        match rule.action.as_str() {
            "FailJob" => return Some(Action::FailJob(message)),
            "FailIndex" => return Some(Action::FailIndex),
            "Ignore" => return Some(Action::Ignore),
            "Count" => return Some(Action::Count),
            // An unknown action skips the rule.
            _ => continue,
        }
    }
    None
}

fn match_exit_codes<'a>(
    pod: &'a Pod,
    req: &k8s_openapi::api::batch::v1::PodFailurePolicyOnExitCodesRequirement,
) -> Option<&'a ContainerStatus> {
    let st = pod.status.as_ref()?;
    st.container_statuses
        .iter()
        .flatten()
        .chain(st.init_container_statuses.iter().flatten())
        .find(|c| {
            let Some(t) = c.state.as_ref().and_then(|s| s.terminated.as_ref()) else {
                return false;
            };
            if t.exit_code == 0 {
                return false;
            }
            if req.container_name.as_deref().is_some_and(|n| n != c.name) {
                return false;
            }
            let listed = req.values.contains(&t.exit_code);
            match req.operator.as_str() {
                "In" => listed,
                "NotIn" => !listed,
                _ => false,
            }
        })
}

/// `isPodFailed`: phase Failed, or (unless only failed pods are replaced) deleted and not
/// Succeeded.
pub fn is_pod_failed(pod: &Pod, job: &Job) -> bool {
    if pods::phase(pod) == "Failed" {
        return true;
    }
    if only_replace_failed(job) {
        return false;
    }
    pod.metadata.deletion_timestamp.is_some() && pods::phase(pod) != "Succeeded"
}

/// `onlyReplaceFailedPods`: podReplacementPolicy Failed, or a pod failure policy.
pub fn only_replace_failed(job: &Job) -> bool {
    let spec = job.spec.as_ref();
    spec.and_then(|s| s.pod_replacement_policy.as_deref()) == Some("Failed")
        || spec.is_some_and(|s| s.pod_failure_policy.is_some())
}

/// Whether a failed pod's failure is counted (not ignored by the pod failure policy).
pub fn failure_counts(job: &Job, pod: &Pod) -> bool {
    let policy = job
        .spec
        .as_ref()
        .and_then(|s| s.pod_failure_policy.as_ref());
    match_failure_policy(policy, pod).is_none_or(|a| a.counts())
}

/// `matchSuccessPolicy`: the message of the first rule the succeeded indexes satisfy.
pub fn match_success_policy(
    policy: Option<&SuccessPolicy>,
    completions: i32,
    succeeded: &IndexSet,
) -> Option<String> {
    let policy = policy?;
    if succeeded.is_empty() {
        return None;
    }
    for (i, rule) in policy.rules.iter().enumerate() {
        let matched = if let Some(s) = &rule.succeeded_indexes {
            let required = IndexSet::parse(s, completions);
            if required.is_empty() {
                continue;
            }
            let contains = succeeded.overlap(&required);
            contains == required.len()
                || rule
                    .succeeded_count
                    .is_some_and(|c| contains >= usize::try_from(c).unwrap_or(0))
        } else if let Some(c) = rule.succeeded_count {
            succeeded.len() >= usize::try_from(c).unwrap_or(0)
        } else {
            false
        };
        if matched {
            return Some(format!("Matched rules at index {i}"));
        }
    }
    None
}

/// The Job's pod-failure backoff record (`backoffRecord`): kept in memory per Job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackoffRecord {
    /// Failures since the last success.
    pub failures_after_last_success: i32,
    /// When the newest of them finished.
    pub last_failure_time: Option<Timestamp>,
}

impl BackoffRecord {
    /// `newBackoffRecord`: the record after this sync's newly finished pods.
    pub fn update(self, new_succeeded: &[&Pod], new_failed: &[&Pod]) -> BackoffRecord {
        let mut failed: Vec<Timestamp> =
            new_failed.iter().map(|p| pods::finished_time(p)).collect();
        failed.sort();
        let last_success = new_succeeded.iter().map(|p| pods::finished_time(p)).max();
        match last_success {
            None if failed.is_empty() => self,
            None => BackoffRecord {
                failures_after_last_success: self
                    .failures_after_last_success
                    .saturating_add(i32::try_from(failed.len()).unwrap_or(i32::MAX)),
                last_failure_time: failed.last().copied(),
            },
            Some(s) => {
                let after: Vec<Timestamp> = failed.into_iter().filter(|t| *t > s).collect();
                BackoffRecord {
                    failures_after_last_success: i32::try_from(after.len()).unwrap_or(i32::MAX),
                    last_failure_time: after.last().copied(),
                }
            }
        }
    }

    /// How long creation of new pods must still wait.
    pub fn remaining(&self, now: Timestamp) -> Duration {
        remaining_for(
            self.failures_after_last_success,
            self.last_failure_time,
            now,
        )
    }
}

/// `getRemainingTimeForFailuresCount`: `10 s × 2^(n−1)` capped at 10 minutes, minus the
/// time since the last failure.
pub fn remaining_for(failures: i32, last: Option<Timestamp>, now: Timestamp) -> Duration {
    let Some(last) = last.filter(|_| failures > 0) else {
        return Duration::ZERO;
    };
    let mut d = BACKOFF_BASE;
    for _ in 1..failures {
        d = d.saturating_mul(2);
        if d >= BACKOFF_MAX {
            d = BACKOFF_MAX;
            break;
        }
    }
    let elapsed = now
        .duration_since(last)
        .try_into()
        .unwrap_or(Duration::ZERO);
    d.saturating_sub(elapsed)
}
