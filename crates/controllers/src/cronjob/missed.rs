//! batchlet's `MissSchedule` events: unlike Kubernetes (whose `MissSchedule` is practically
//! unreachable, kubernetes#111223), every scheduled run that is not started is named in a
//! Warning, with why: it was more than `startingDeadlineSeconds` late, or a later run
//! superseded it (after downtime, a suspension or a `Forbid` wait only the most recent
//! missed run starts). Kubernetes' own `JobAlreadyActive` still reports each `Forbid` wait.

use super::plan::CronJobPlan;
use super::times::{self, Clock};
use crate::events::Event;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Runs named in one event at most.
const LIMIT: usize = 100;

fn list(ts: &[Timestamp], more: bool) -> String {
    let fmt = |t: &Timestamp| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let shown: Vec<String> = if ts.len() > 6 {
        let mut v: Vec<String> = ts[..3].iter().map(fmt).collect();
        v.push(format!("... {} more ...", ts.len() - 5));
        v.extend(ts[ts.len() - 2..].iter().map(fmt));
        v
    } else {
        ts.iter().map(fmt).collect()
    };
    let count = if more {
        format!("more than {}", ts.len())
    } else {
        ts.len().to_string()
    };
    let runs = if ts.len() == 1 && !more {
        "run"
    } else {
        "runs"
    };
    format!("{} ({count} {runs})", shown.join(", "))
}

/// Adds the `MissSchedule` events for the runs after `last` that are not started when
/// `started` (if any) starts at `now`.
pub fn report(
    c: &Clock<'_>,
    last: Timestamp,
    started: Option<Timestamp>,
    deadline: Option<i64>,
    now: Timestamp,
    p: &mut CronJobPlan,
) {
    let until = started.unwrap_or_else(|| {
        now.checked_add(SignedDuration::from_nanos(1))
            .unwrap_or(now)
    });
    let (runs, more) = times::between(c, last, until, LIMIT);
    let late = |t: &Timestamp| {
        deadline.is_some_and(|d| {
            t.checked_add(SignedDuration::from_secs(d))
                .is_ok_and(|end| end < now)
        })
    };
    let (expired, superseded): (Vec<Timestamp>, Vec<Timestamp>) = runs.into_iter().partition(late);
    if !expired.is_empty() {
        p.events.push(Event::warning(
            "MissSchedule",
            format!(
                "Missed scheduled time to start a job: {}: more than startingDeadlineSeconds ({}s) late",
                list(&expired, more && superseded.is_empty()),
                deadline.unwrap_or(0)
            ),
        ));
    }
    if !superseded.is_empty() {
        p.events.push(Event::warning(
            "MissSchedule",
            format!(
                "Missed scheduled time to start a job: {}: superseded, only the most recent missed run starts",
                list(&superseded, more)
            ),
        ));
    }
}
