//! Cron schedules as Kubernetes' CronJob controller reads them: robfig/cron v3.0.1
//! `ParseStandard` syntax (five fields with ranges, steps, lists, month and weekday names, `?`,
//! day of week 0-6; the `@yearly`…`@hourly` macros; `@every <duration>`), and the run times
//! in a time zone.
//!
//! **Semantics of [`Schedule::next`].** A five-field schedule runs at every instant whose
//! wall-clock time in the zone (with seconds 0) matches the fields. At a daylight-saving
//! change this means what robfig's wall-clock stepping does in Europe/Berlin and
//! America/New_York: a time inside the skipped hour does not run that day, and a time
//! inside the repeated hour runs twice, once per occurrence (kubernetes#121594; traced
//! through robfig v3's `SpecSchedule.Next`, whose minute loop steps in absolute minutes and
//! so visits the repeated wall-clock hour twice). Where robfig's stepping is wrong we do
//! not follow it: in zones whose change is not a whole hour at an hour boundary
//! (Australia/Lord_Howe's 30 minutes) robfig's absolute hour steps land on `:30` wall
//! times for the rest of the day and skip, e.g., `0 5 * * *` on the day of the change; here
//! it runs. Like robfig, a search finds nothing past five years (`0 0 30 2 *`).
//!
//! `@every d` is robfig's `ConstantDelaySchedule`: the previous time truncated to the
//! second plus `d` (at least 1 s, truncated to whole seconds); the zone does not matter.
//!
//! A schedule without a zone runs in UTC (kube-controller-manager uses its process's local
//! zone, which is UTC in the usual images).

mod dst;
pub(crate) mod parse;
#[cfg(test)]
mod tests;

pub use dst::{DstHit, DstKind, dst_warnings};
pub use parse::go_parse_duration;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// A schedule that does not parse: robfig's error text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    kind: Kind,
    zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Five fields (`SpecSchedule`).
    Fields(Fields),
    /// `@every` (`ConstantDelaySchedule`), in whole seconds, at least 1.
    Every { seconds: i64 },
}

/// The bit sets of robfig's `SpecSchedule` (bit 63: written as `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
}

fn has(bits: u64, i: i8) -> bool {
    (0..63).contains(&i) && bits & (1 << i) != 0
}

/// The lowest set bit `>= from` below 60, if any.
fn next_bit(bits: u64, from: i8) -> Option<i8> {
    (from.max(0)..60).find(|i| has(bits, *i))
}

impl Fields {
    /// `dayMatches`: both day fields must match if either was written with `*`; otherwise
    /// either may (classic cron's OR).
    fn day_matches(&self, d: Date) -> bool {
        let dom = has(self.dom, d.day());
        let dow = has(self.dow, d.weekday().to_sunday_zero_offset());
        if self.dom & parse::STAR != 0 || self.dow & parse::STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first wall-clock minute `>= from` (a whole minute) that matches, before `end`
    /// and in a year up to `limit_year`.
    fn next_civil(
        &self,
        from: DateTime,
        end: Option<DateTime>,
        limit_year: i16,
    ) -> Option<DateTime> {
        let (mut date, mut h, mut m) = (from.date(), from.hour(), from.minute());
        loop {
            let at = date.to_datetime(Time::new(h, m, 0, 0).ok()?);
            if date.year() > limit_year || end.is_some_and(|e| at >= e) {
                return None;
            }
            if !has(self.month, date.month()) {
                let first = date.first_of_month();
                date = first.checked_add(1.month()).ok()?;
                (h, m) = (0, 0);
                continue;
            }
            if !self.day_matches(date) {
                date = date.tomorrow().ok()?;
                (h, m) = (0, 0);
                continue;
            }
            match next_bit(self.hour, h).filter(|nh| *nh < 24) {
                None => {
                    date = date.tomorrow().ok()?;
                    (h, m) = (0, 0);
                    continue;
                }
                Some(nh) if nh != h => (h, m) = (nh, 0),
                Some(_) => {}
            }
            match next_bit(self.minute, m) {
                None => {
                    (h, m) = (h + 1, 0);
                    if h == 24 {
                        date = date.tomorrow().ok()?;
                        h = 0;
                    }
                }
                Some(nm) => {
                    let at = date.to_datetime(Time::new(h, nm, 0, 0).ok()?);
                    return end.is_none_or(|e| at < e).then_some(at);
                }
            }
        }
    }
}

/// `dt` rounded up to a whole minute; `strict` also moves a whole minute one on.
fn ceil_minute(dt: DateTime, strict: bool) -> Option<DateTime> {
    let floor = dt.with().second(0).subsec_nanosecond(0).build().ok()?;
    if floor == dt && !strict {
        Some(floor)
    } else {
        floor.checked_add(1.minute()).ok()
    }
}

impl Schedule {
    /// `cron.ParseStandard(spec)`, with robfig's error texts. `load_zone` answers a
    /// `TZ=`/`CRON_TZ=` prefix (Go's `time.LoadLocation` error text).
    pub fn parse_standard(
        spec: &str,
        load_zone: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<Schedule, ParseError> {
        parse::parse_standard(spec, load_zone)
    }

    /// [`Schedule::parse_standard`] with zones from the tz database
    /// ([`crate::validation::load_location`]).
    pub fn parse(spec: &str) -> Result<Schedule, ParseError> {
        parse::parse_standard(spec, &crate::validation::load_location)
    }

    /// The zone of a `TZ=`/`CRON_TZ=` prefix, if the schedule had one.
    pub fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }

    /// The interval of an `@every` schedule, in whole seconds (a constant delay, no
    /// wall-clock times); `None` for five-field schedules.
    pub fn every_seconds(&self) -> Option<i64> {
        match self.kind {
            Kind::Every { seconds } => Some(seconds),
            Kind::Fields(_) => None,
        }
    }

    /// The first run time strictly after `after` in `tz` (see the module docs), or `None`
    /// when there is none within five years.
    pub fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let f = match &self.kind {
            Kind::Every { seconds } => {
                let floor = after.as_second() - i64::from(after.subsec_nanosecond() < 0);
                return Timestamp::from_second(floor.checked_add(*seconds)?).ok();
            }
            Kind::Fields(f) => f,
        };
        let limit_year = tz.to_datetime(after).year().checked_add(5)?;
        // The time line after `after` splits at the zone's transitions into segments of
        // one offset each, where wall-clock time grows with time: the answer is the first
        // match in the first segment that has one.
        let mut start = after;
        let mut transitions = tz.following(after);
        for _ in 0..10_000 {
            let offset = tz.to_offset(start);
            let next = transitions.next().map(|t| t.timestamp());
            let from = ceil_minute(offset.to_datetime(start), start == after)?;
            let end = next.map(|t| offset.to_datetime(t));
            if let Some(w) = f.next_civil(from, end, limit_year) {
                return offset.to_timestamp(w).ok();
            }
            start = next?;
            if tz.to_datetime(start).year() > limit_year {
                return None;
            }
        }
        None
    }

    /// The run times after `after` in `tz`, lazily.
    pub fn iter<'a>(
        &'a self,
        after: Timestamp,
        tz: &'a TimeZone,
    ) -> impl Iterator<Item = Timestamp> + 'a {
        std::iter::successors(self.next(after, tz), move |t| self.next(*t, tz))
    }
}

/// The zone a CronJob's schedule runs in: `timeZone` (IANA name) or UTC when unset; `Err`
/// with Go's `time.LoadLocation` text for an unknown name.
pub fn time_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        None | Some("" | "UTC" | "Local") => Ok(TimeZone::UTC),
        Some(n) => {
            crate::validation::load_location(n)?;
            jiff::tz::db()
                .get(n)
                .map_err(|_| format!("unknown time zone {n}"))
        }
    }
}
