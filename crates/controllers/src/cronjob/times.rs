//! Which scheduled time is due: kube-controller-manager's `mostRecentScheduleTime`,
//! `nextScheduleTime` and `nextScheduleTimeDuration` (k8s-semantics §3.5, §3.7), and the
//! list of runs that were not started, for batchlet's `MissSchedule` events.

use api::schedule::Schedule;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::time::Duration;

/// The longest wake-up: tokio's delay queue (under kube-runtime's scheduler) panics past
/// about two years, and `0 0 29 2 *` can be four years away. Waking early is harmless.
pub const MAX_REQUEUE: Duration = Duration::from_secs(24 * 3600);

/// The schedule in its zone: one value so the functions below stay short.
pub struct Clock<'a> {
    /// The parsed schedule.
    pub schedule: &'a Schedule,
    /// The zone its wall-clock times are in.
    pub tz: &'a TimeZone,
}

impl Clock<'_> {
    fn next(&self, t: Timestamp) -> Option<Timestamp> {
        self.schedule.next(t, self.tz)
    }
}

/// What `mostRecentScheduleTime` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recent {
    /// Where the search started (last schedule time, creation, or `now − deadline`).
    pub earliest: Timestamp,
    /// The latest schedule time `<= now` after `earliest`, if any.
    pub most_recent: Option<Timestamp>,
    /// The estimated number of schedule times between `earliest` and `now` (0: none).
    pub missed: i64,
}

fn add_secs(t: Timestamp, secs: i64) -> Option<Timestamp> {
    t.checked_add(SignedDuration::from_secs(secs)).ok()
}

/// `mostRecentScheduleTime`. `Err` is Kubernetes' `InvalidSchedule` text.
pub fn most_recent(
    c: &Clock<'_>,
    earliest: Timestamp,
    deadline: Option<i64>,
    now: Timestamp,
) -> Result<Recent, String> {
    let mut earliest = earliest;
    if let Some(d) = deadline {
        let limit = add_secs(now, -d.max(0)).unwrap_or(Timestamp::MIN);
        earliest = earliest.max(limit);
    }
    let invalid = || "time difference between two schedules is less than 1 second".to_owned();
    let recent = |most_recent, missed| Recent {
        earliest,
        most_recent,
        missed,
    };
    let t1 = c.next(earliest).ok_or_else(invalid)?;
    if now < t1 {
        return Ok(recent(None, 0));
    }
    let t2 = c.next(t1).ok_or_else(invalid)?;
    if now < t2 {
        return Ok(recent(Some(t1), 0));
    }
    // Go rounds the interval to whole seconds and truncates the elapsed time.
    let interval = (t2.as_millisecond() - t1.as_millisecond() + 500).div_euclid(1000);
    if interval < 1 {
        return Err(invalid());
    }
    let elapsed = (now.as_millisecond() - t1.as_millisecond()) / 1000;
    let missed = elapsed / interval + 1;
    let start = add_secs(t1, (missed - 2).saturating_mul(interval)).unwrap_or(t1);
    let mut most_recent = None;
    let mut t = c.next(start);
    // Bounded: from `t1 + (missed − 2)·interval` a handful of steps reach `now`, unless the
    // schedule is irregular (`30 6-16/4 * * 1-5`); never loop for ever.
    for _ in 0..100_000 {
        match t {
            Some(x) if x <= now => {
                most_recent = Some(x);
                t = c.next(x);
            }
            _ => break,
        }
    }
    Ok(recent(most_recent, missed))
}

/// `nextScheduleTime`: the time to start a Job for now, and whether more than 100 times
/// were missed (`TooManyMissedTimes`).
pub fn due(
    c: &Clock<'_>,
    earliest: Timestamp,
    deadline: Option<i64>,
    now: Timestamp,
) -> Result<(Option<Timestamp>, bool), String> {
    let r = most_recent(c, earliest, deadline, now)?;
    match r.most_recent {
        Some(t) if t <= now => Ok((Some(t), r.missed > 100)),
        _ => Ok((None, false)),
    }
}

/// `nextScheduleTimeDuration`: how long until the next sync, from the last schedule time
/// (or creation) `earliest`; `None` when the schedule has no next time. Exact to the
/// nanosecond and without Kubernetes' 100 ms padding (`nextScheduleDelta`): the wake-up is
/// a monotonic timer, which never fires early, so the first Job of a minute is created as
/// the minute begins; a wake-up that still comes early (the wall clock stepped) finds
/// nothing due and sleeps the rest.
pub fn requeue_after(c: &Clock<'_>, earliest: Timestamp, now: Timestamp) -> Option<Duration> {
    let from = match most_recent(c, earliest, None, now) {
        Err(_) => now,
        Ok(Recent {
            most_recent: Some(t),
            ..
        }) => t,
        Ok(Recent {
            most_recent: None,
            missed: 0,
            earliest,
        }) => earliest,
        Ok(_) => now,
    };
    let next = c.next(from)?;
    let ns = next.as_nanosecond().saturating_sub(now.as_nanosecond());
    let d = Duration::from_nanos(u64::try_from(ns.max(0)).unwrap_or(u64::MAX));
    Some(d.min(MAX_REQUEUE))
}

/// The schedule times in `(from, until)` (both exclusive), at most `limit`; the flag says
/// there were more.
pub fn between(
    c: &Clock<'_>,
    from: Timestamp,
    until: Timestamp,
    limit: usize,
) -> (Vec<Timestamp>, bool) {
    let mut out = Vec::new();
    let mut t = c.next(from);
    while let Some(x) = t.filter(|x| *x < until) {
        if out.len() == limit {
            return (out, true);
        }
        out.push(x);
        t = c.next(x);
    }
    (out, false)
}
