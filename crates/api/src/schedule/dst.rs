//! Daylight-saving hits: wall-clock run times of a schedule that fall into a zone's gap (the
//! clocks skip them, so the run does not happen that day) or overlap (the clocks show them
//! twice, so the job runs twice). `batchlet schedule` prints them and the apiserver turns
//! them into a `Warning` header when a CronJob is created.

use super::{Kind, Schedule, ceil_minute};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Which way the clocks move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DstKind {
    /// The clocks skip forward over the wall time: it does not exist, the run is skipped.
    Gap,
    /// The clocks fall back over the wall time: it happens twice, and so does the run.
    Overlap,
}

/// One run time the schedule's fields name that a transition skips or repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DstHit {
    /// Gap or overlap.
    pub kind: DstKind,
    /// The wall-clock time the fields match.
    pub wall: DateTime,
    /// The instant of the transition.
    pub transition: Timestamp,
    /// The wall-clock range the transition skips or repeats: `[from, to)`.
    pub range: (DateTime, DateTime),
}

impl DstHit {
    /// The instants the run happens at: none in a gap, two in an overlap.
    pub fn instants(&self, tz: &TimeZone) -> Vec<Timestamp> {
        match tz.to_ambiguous_timestamp(self.wall).offset() {
            jiff::tz::AmbiguousOffset::Fold { before, after } => [before, after]
                .iter()
                .filter_map(|o| o.to_timestamp(self.wall).ok())
                .collect(),
            jiff::tz::AmbiguousOffset::Unambiguous { offset } => {
                offset.to_timestamp(self.wall).ok().into_iter().collect()
            }
            jiff::tz::AmbiguousOffset::Gap { .. } => Vec::new(),
        }
    }
}

impl Schedule {
    /// The daylight-saving hits of transitions in `(from, until]`, in order; at most
    /// `limit` of them. `@every` schedules have none (they do not follow the wall clock).
    pub fn dst_hits(
        &self,
        tz: &TimeZone,
        from: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Vec<DstHit> {
        let Kind::Fields(f) = &self.kind else {
            return Vec::new();
        };
        let mut hits = Vec::new();
        for t in tz.following(from) {
            let at = t.timestamp();
            if at > until || hits.len() >= limit {
                break;
            }
            let before = tz.to_offset(
                at.checked_sub(jiff::SignedDuration::from_nanos(1))
                    .unwrap_or(at),
            );
            let (old, new) = (before.to_datetime(at), t.offset().to_datetime(at));
            let (kind, range) = match old.cmp(&new) {
                std::cmp::Ordering::Less => (DstKind::Gap, (old, new)),
                std::cmp::Ordering::Greater => (DstKind::Overlap, (new, old)),
                std::cmp::Ordering::Equal => continue,
            };
            let limit_year = range.1.year().saturating_add(1);
            let mut cursor = ceil_minute(range.0, false);
            while let Some(c) = cursor {
                let Some(wall) = f.next_civil(c, Some(range.1), limit_year) else {
                    break;
                };
                if hits.len() >= limit {
                    break;
                }
                hits.push(DstHit {
                    kind,
                    wall,
                    transition: at,
                    range,
                });
                cursor = ceil_minute(wall, true);
            }
        }
        hits
    }
}

fn hm(dt: DateTime) -> String {
    dt.strftime("%H:%M").to_string()
}

/// One sentence per kind of daylight-saving hit in the year after `from` (the first
/// transition that hits), for `batchlet schedule` and the `Warning` header of a CronJob
/// create. `zone` is the name shown; empty when no transition hits a run.
pub fn dst_warnings(
    schedule: &Schedule,
    zone: &str,
    tz: &TimeZone,
    from: Timestamp,
) -> Vec<String> {
    let until = from
        .checked_add(jiff::SignedDuration::from_hours(24 * 366))
        .unwrap_or(Timestamp::MAX);
    let hits = schedule.dst_hits(tz, from, until, 512);
    let mut out = Vec::new();
    for kind in [DstKind::Gap, DstKind::Overlap] {
        let Some(first) = hits.iter().find(|h| h.kind == kind) else {
            continue;
        };
        let same: Vec<&DstHit> = hits
            .iter()
            .filter(|h| h.transition == first.transition)
            .collect();
        let last = same.last().map_or(first.wall, |h| h.wall);
        let runs = if same.len() == 1 {
            format!("the run at {}", hm(first.wall))
        } else {
            format!(
                "the {} runs from {} to {}",
                same.len(),
                hm(first.wall),
                hm(last)
            )
        };
        let (a, b) = first.range;
        out.push(match kind {
            DstKind::Gap => format!(
                "spec.schedule: in time zone {zone} the clocks skip from {} to {} on {}, so {runs} will not happen that day",
                hm(a),
                hm(b),
                a.date()
            ),
            DstKind::Overlap => {
                let utc: Vec<String> = first
                    .instants(tz)
                    .iter()
                    .map(|t| t.strftime("%H:%M").to_string())
                    .collect();
                let at = if same.len() == 1 && utc.len() == 2 {
                    format!(" (at {} and {} UTC)", utc[0], utc[1])
                } else {
                    String::new()
                };
                format!(
                    "spec.schedule: in time zone {zone} the clocks go back from {} to {} on {}, so {runs} will happen twice{at}",
                    hm(b),
                    hm(a),
                    a.date()
                )
            }
        });
    }
    out
}
