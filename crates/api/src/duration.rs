//! Human-readable durations as apimachinery prints them (ages, durations).
//!
//! A port of `k8s.io/apimachinery/pkg/util/duration`: [`human_duration`] is `HumanDuration`
//! (AGE, DURATION, LAST SCHEDULE, LAST SEEN and the `N (Xm ago)` of RESTARTS in every printer
//! this crate implements) and [`short_human_duration`] is `ShortHumanDuration` (no server-side
//! printer of ours uses it; kubectl's client-side `events` and `describe` do).
//!
//! Go's `time.Duration` is a signed 64-bit count of nanoseconds and `Time.Sub` saturates, so the
//! input is first clamped to that range; the arithmetic then follows Go's integer truncation.

use jiff::SignedDuration;

const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

/// `d` as Go's `time.Duration`: nanoseconds, saturating at the `i64` bounds.
fn go_nanos(d: SignedDuration) -> i64 {
    let nanos = d.as_nanos();
    i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}

/// apimachinery's `HumanDuration`: a succinct duration with about two or three significant
/// figures, e.g. `45s`, `3m5s`, `25m`, `5h12m`, `30h`, `3d4h`, `120d`, `3y12d`, `10y`.
///
/// Up to one second in the past (clock skew) prints `0s`; further back prints `<invalid>`.
pub fn human_duration(d: SignedDuration) -> String {
    let d = go_nanos(d);
    let seconds = d / SECOND;
    if seconds < -1 {
        return "<invalid>".to_owned();
    } else if seconds < 0 {
        return "0s".to_owned();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d / MINUTE;
    if minutes < 10 {
        let s = (d / SECOND) % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d / HOUR;
    if hours < 8 {
        let m = (d / MINUTE) % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        format!("{hours}h{m}m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        format!("{}d{h}h", hours / 24)
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        format!("{}y{dy}d", hours / 24 / 365)
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// apimachinery's `ShortHumanDuration`: a single unit, e.g. `45s`, `59m`, `23h`, `364d`, `2y`.
pub fn short_human_duration(d: SignedDuration) -> String {
    let d = go_nanos(d);
    let seconds = d / SECOND;
    if seconds < -1 {
        "<invalid>".to_owned()
    } else if seconds < 0 {
        "0s".to_owned()
    } else if seconds < 60 {
        format!("{seconds}s")
    } else if d / MINUTE < 60 {
        format!("{}m", d / MINUTE)
    } else if d / HOUR < 24 {
        format!("{}h", d / HOUR)
    } else if d / HOUR < 24 * 365 {
        format!("{}d", d / HOUR / 24)
    } else {
        format!("{}y", d / HOUR / 24 / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: i64) -> SignedDuration {
        SignedDuration::from_secs(s)
    }

    #[test]
    fn human_duration_boundaries() {
        let cases: &[(SignedDuration, &str)] = &[
            (secs(-2), "<invalid>"),
            (SignedDuration::from_millis(-1999), "0s"),
            (SignedDuration::from_millis(-500), "0s"),
            (secs(-1), "0s"),
            (secs(0), "0s"),
            (SignedDuration::from_millis(999), "0s"),
            (secs(1), "1s"),
            (secs(59), "59s"),
            (secs(60), "60s"),
            (secs(119), "119s"),
            (secs(120), "2m"),
            (secs(121), "2m1s"),
            (secs(9 * 60 + 59), "9m59s"),
            (secs(10 * 60), "10m"),
            (secs(10 * 60 + 59), "10m"),
            (secs(179 * 60 + 59), "179m"),
            (secs(3 * 3600), "3h"),
            (secs(3 * 3600 + 60), "3h1m"),
            (secs(7 * 3600 + 59 * 60), "7h59m"),
            (secs(8 * 3600), "8h"),
            (secs(47 * 3600 + 3599), "47h"),
            (secs(48 * 3600), "2d"),
            (secs(49 * 3600), "2d1h"),
            (secs(8 * 86400 - 1), "7d23h"),
            (secs(8 * 86400), "8d"),
            (secs(729 * 86400), "729d"),
            (secs(730 * 86400), "2y"),
            (secs(731 * 86400), "2y1d"),
            (secs(8 * 365 * 86400 - 86400), "7y364d"),
            (secs(8 * 365 * 86400), "8y"),
            (SignedDuration::MAX, "292y"),
            (SignedDuration::MIN, "<invalid>"),
        ];
        for (d, want) in cases {
            assert_eq!(human_duration(*d), *want, "{d:?}");
        }
    }

    #[test]
    fn short_human_duration_boundaries() {
        let cases: &[(SignedDuration, &str)] = &[
            (secs(-2), "<invalid>"),
            (secs(-1), "0s"),
            (secs(59), "59s"),
            (secs(60), "1m"),
            (secs(3599), "59m"),
            (secs(3600), "1h"),
            (secs(86399), "23h"),
            (secs(86400), "1d"),
            (secs(365 * 86400 - 1), "364d"),
            (secs(365 * 86400), "1y"),
            (secs(3 * 365 * 86400), "3y"),
        ];
        for (d, want) in cases {
            assert_eq!(short_human_duration(*d), *want, "{d:?}");
        }
    }
}
