//! The kubelet's crash-loop backoff (`flowcontrol.Backoff` as the kubelet configures it):
//! 10 s doubling to 300 s per container, forgotten once the container ran for more than
//! 2 × 300 s = 10 minutes before failing again.
//!
//! The first restart after a failure is immediate (no entry yet: `Next` creates one with
//! 10 s); the next failure within the window waits 10 s, then 20 s, 40 s, … 300 s.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// The initial delay.
pub const INITIAL: Duration = Duration::from_secs(10);
/// The cap.
pub const MAX: Duration = Duration::from_secs(300);

/// One container's backoff entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The current delay.
    pub delay: Duration,
    /// When the entry was last advanced (the last restart).
    pub last_update: Timestamp,
}

fn expired(event: Timestamp, last_update: Timestamp) -> bool {
    event.duration_since(last_update) > SignedDuration::try_from(MAX * 2).unwrap_or_default()
}

/// `IsInBackOffSince(finished_at)`: how long the container must still wait before a restart,
/// or `None` when it may restart now.
pub fn remaining(
    entry: Option<&Entry>,
    finished_at: Timestamp,
    now: Timestamp,
) -> Option<Duration> {
    let e = entry?;
    if expired(finished_at, e.last_update) {
        return None;
    }
    let since = now.duration_since(finished_at);
    let delay = SignedDuration::try_from(e.delay).ok()?;
    (since < delay)
        .then(|| Duration::try_from(delay - since).ok())
        .flatten()
}

/// `Next(finished_at)`: the entry after a restart at `now`.
pub fn next(entry: Option<&Entry>, finished_at: Timestamp, now: Timestamp) -> Entry {
    let delay = match entry {
        Some(e) if !expired(finished_at, e.last_update) => (e.delay * 2).min(MAX),
        _ => INITIAL,
    };
    Entry {
        delay,
        last_update: now,
    }
}

/// A duration as Go's `time.Duration.String()` prints whole seconds: `10s`, `1m20s`, `5m0s`.
pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec}s"),
        (h, m, sec) => format!("{h}h{m}m{sec}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn doubles_to_the_cap_and_resets_after_ten_minutes() {
        // Fails at 0: restarts at once.
        assert_eq!(remaining(None, t(0), t(0)), None);
        let e = next(None, t(0), t(0));
        assert_eq!(e.delay, INITIAL);
        // Fails again at 1: waits 10 s from the failure.
        assert_eq!(
            remaining(Some(&e), t(1), t(1)),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            remaining(Some(&e), t(1), t(8)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(remaining(Some(&e), t(1), t(11)), None);
        let mut e = next(Some(&e), t(1), t(11));
        let mut delays = vec![e.delay.as_secs()];
        let mut clock = 11;
        for _ in 0..6 {
            clock += 1;
            e = next(Some(&e), t(clock), t(clock));
            delays.push(e.delay.as_secs());
        }
        assert_eq!(delays, [20, 40, 80, 160, 300, 300, 300]);
        // Ran for more than 10 minutes before failing: forgotten.
        let late = t(clock + 601);
        assert_eq!(remaining(Some(&e), late, late), None);
        assert_eq!(next(Some(&e), late, late).delay, INITIAL);
        // Exactly 10 minutes is not "more than".
        let edge = t(clock + 600);
        assert!(remaining(Some(&e), edge, edge).is_some());
    }

    #[test]
    fn go_durations() {
        for (s, want) in [(10, "10s"), (80, "1m20s"), (300, "5m0s"), (3725, "1h2m5s")] {
            assert_eq!(go_duration(Duration::from_secs(s)), want);
        }
    }
}
