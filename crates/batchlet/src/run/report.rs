//! What `batchlet run` prints about its Jobs: the progress line, the outcome read from the
//! Job's conditions, and the final summary. Pure functions of the observed objects.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

/// How a Job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The `Complete` condition is true.
    Complete,
    /// The `Failed` condition is true, with its reason and message.
    Failed {
        /// E.g. `BackoffLimitExceeded`.
        reason: String,
        /// E.g. `Job has reached the specified backoff limit`.
        message: String,
    },
}

/// The Job's outcome once its terminal condition is set (not before: `FailureTarget` and
/// `SuccessCriteriaMet` come first, while pods still terminate).
pub fn outcome(job: &Job) -> Option<Outcome> {
    let conds = job.status.as_ref()?.conditions.as_ref()?;
    conds
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(Outcome::Complete),
            "Failed" => Some(Outcome::Failed {
                reason: c.reason.clone().unwrap_or_default(),
                message: c.message.clone().unwrap_or_default(),
            }),
            _ => None,
        })
}

/// `succeeded/completions succeeded, N failed, N active`, the Job's counts.
pub fn counts(job: &Job) -> String {
    let st = job.status.clone().unwrap_or_default();
    let completions = job
        .spec
        .as_ref()
        .and_then(|s| s.completions)
        .map_or_else(|| "-".to_owned(), |c| c.to_string());
    format!(
        "{}/{completions} succeeded, {} failed, {} active",
        st.succeeded.unwrap_or(0),
        st.failed.unwrap_or(0),
        st.active.unwrap_or(0)
    )
}

/// A duration as kubectl's AGE column shows short ones: `59s`, `2m3s`, `1h2m`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}

/// How one pod's containers ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEnd {
    /// The pod's name.
    pub pod: String,
    /// `Succeeded` or `Failed` (or the last phase seen).
    pub phase: String,
    /// The containers that exited non-zero: name, exit code, reason (and message).
    pub failed: Vec<(String, i32, String)>,
    /// From the first container start to the last exit, when known.
    pub ran: Option<Duration>,
}

/// What a pod's status says about how it ended.
pub fn pod_end(pod: &Pod) -> PodEnd {
    let st = pod.status.clone().unwrap_or_default();
    let mut failed = Vec::new();
    let mut first = None;
    let mut last = None;
    for cs in st
        .init_container_statuses
        .iter()
        .flatten()
        .chain(st.container_statuses.iter().flatten())
    {
        let Some(t) = cs.state.as_ref().and_then(|s| s.terminated.as_ref()) else {
            continue;
        };
        if t.exit_code != 0 {
            // The reason, and the first line of the message a start error carries.
            let mut why = t.reason.clone().unwrap_or_default();
            if let Some(m) = t.message.as_deref().and_then(|m| m.lines().next())
                && !m.is_empty()
            {
                why = format!("{why}: {m}");
            }
            failed.push((cs.name.clone(), t.exit_code, why));
        }
        if let Some(s) = &t.started_at {
            first = Some(first.map_or(s.0, |f: jiff::Timestamp| f.min(s.0)));
        }
        if let Some(f) = &t.finished_at {
            last = Some(last.map_or(f.0, |l: jiff::Timestamp| l.max(f.0)));
        }
    }
    let ran = match (first, last) {
        (Some(f), Some(l)) => Duration::try_from(l.duration_since(f)).ok(),
        _ => None,
    };
    PodEnd {
        pod: pod.metadata.name.clone().unwrap_or_default(),
        phase: st.phase.unwrap_or_default(),
        failed,
        ran,
    }
}

/// At most this many failed pods are listed in the summary.
const MAX_FAILED_LISTED: usize = 20;

/// The summary of one Job: its outcome, counts and duration, the range of its pods' run
/// times, and the exit codes of its failed pods.
pub fn summary(reference: &str, job: &Job, pods: &[PodEnd], took: Duration) -> Vec<String> {
    let status = match outcome(job) {
        Some(Outcome::Complete) => "Complete".to_owned(),
        Some(Outcome::Failed { reason, message }) => format!("Failed ({reason}: {message})"),
        None => "not finished".to_owned(),
    };
    let mut out = vec![format!(
        "{reference}: {status}; {}; took {}",
        counts(job),
        human(took)
    )];
    let ran: Vec<Duration> = pods.iter().filter_map(|p| p.ran).collect();
    if let (Some(min), Some(max)) = (ran.iter().min(), ran.iter().max()) {
        out.push(format!(
            "  {} pods ran for {}",
            ran.len(),
            if min == max {
                human(*min)
            } else {
                format!("{} to {}", human(*min), human(*max))
            }
        ));
    }
    let failed: Vec<&PodEnd> = pods.iter().filter(|p| !p.failed.is_empty()).collect();
    for p in failed.iter().take(MAX_FAILED_LISTED) {
        for (c, code, reason) in &p.failed {
            let reason = if reason.is_empty() {
                String::new()
            } else {
                format!(" ({reason})")
            };
            out.push(format!(
                "  pod {} container {c} exited with code {code}{reason}",
                p.pod
            ));
        }
    }
    if failed.len() > MAX_FAILED_LISTED {
        out.push(format!(
            "  ... and {} more failed pods",
            failed.len() - MAX_FAILED_LISTED
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(status: serde_json::Value) -> Job {
        serde_json::from_value(
            json!({"spec": {"completions": 4, "template": {}}, "status": status}),
        )
        .unwrap_or_default()
    }

    #[test]
    fn outcomes_from_conditions() {
        let table = [
            (json!({}), None),
            (
                json!({"conditions": [{"type": "SuccessCriteriaMet", "status": "True"}]}),
                None,
            ),
            (
                json!({"conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}),
                Some(Outcome::Complete),
            ),
            (
                json!({"conditions": [{"type": "FailureTarget", "status": "True"}]}),
                None,
            ),
            (
                json!({"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}),
                Some(Outcome::Failed {
                    reason: "BackoffLimitExceeded".into(),
                    message: "Job has reached the specified backoff limit".into(),
                }),
            ),
            (
                json!({"conditions": [{"type": "Complete", "status": "False"}]}),
                None,
            ),
        ];
        for (status, want) in table {
            assert_eq!(outcome(&job(status.clone())), want, "{status}");
        }
    }

    #[test]
    fn human_durations() {
        for (secs, want) in [
            (0, "0s"),
            (59, "59s"),
            (60, "1m0s"),
            (123, "2m3s"),
            (3720, "1h2m"),
        ] {
            assert_eq!(human(Duration::from_secs(secs)), want);
        }
    }

    #[test]
    fn a_failed_job_summary_names_the_reason_and_exit_codes() {
        let j = job(
            json!({"failed": 3, "conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}),
        );
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "fail-abcde"},
            "status": {"phase": "Failed", "containerStatuses": [{
                "name": "main", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 3, "reason": "Error",
                    "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:02Z"}}}]}
        }))
        .unwrap_or_default();
        let pods = [pod_end(&pod)];
        assert_eq!(
            summary("job.batch/fail", &j, &pods, Duration::from_secs(5)),
            [
                "job.batch/fail: Failed (BackoffLimitExceeded: Job has reached the specified backoff limit); 0/4 succeeded, 3 failed, 0 active; took 5s",
                "  1 pods ran for 2s",
                "  pod fail-abcde container main exited with code 3 (Error)",
            ]
        );
    }
}
