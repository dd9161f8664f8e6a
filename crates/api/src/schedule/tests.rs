//! Schedule tests: daylight-saving tables, and properties against a brute-force
//! minute-by-minute reference in zones with hour and half-hour changes.

use super::*;
use proptest::prelude::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn tz(name: &str) -> TimeZone {
    time_zone(Some(name)).expect("zone")
}

fn runs(spec: &str, zone: &str, after: &str, n: usize) -> Vec<String> {
    let s = Schedule::parse(spec).expect("schedule");
    let z = tz(zone);
    s.iter(ts(after), &z)
        .take(n)
        .map(|t| t.to_string())
        .collect()
}

#[test]
fn daylight_saving_tables() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        // Europe/Berlin spring: 02:30 does not exist on 2025-03-30, that day does not run.
        (
            "30 2 * * *",
            "Europe/Berlin",
            "2025-03-28T12:00:00Z",
            &["2025-03-29T01:30:00Z", "2025-03-31T00:30:00Z"],
        ),
        // Europe/Berlin autumn: 02:30 happens twice on 2025-10-26 (CEST, then CET).
        (
            "30 2 * * *",
            "Europe/Berlin",
            "2025-10-25T12:00:00Z",
            &[
                "2025-10-26T00:30:00Z",
                "2025-10-26T01:30:00Z",
                "2025-10-27T01:30:00Z",
            ],
        ),
        // Hourly through the repeated hour: 02:00 CEST, 02:00 CET, 03:00 CET.
        (
            "0 * * * *",
            "Europe/Berlin",
            "2025-10-25T23:30:00Z",
            &[
                "2025-10-26T00:00:00Z",
                "2025-10-26T01:00:00Z",
                "2025-10-26T02:00:00Z",
            ],
        ),
        // Hourly through the skipped hour: 01:00 CET, then 03:00 CEST.
        (
            "0 * * * *",
            "Europe/Berlin",
            "2025-03-29T23:30:00Z",
            &["2025-03-30T00:00:00Z", "2025-03-30T01:00:00Z"],
        ),
        // America/New_York spring: 02:30 is skipped on 2025-03-09.
        (
            "30 2 * * *",
            "America/New_York",
            "2025-03-08T12:00:00Z",
            &["2025-03-10T06:30:00Z"],
        ),
        // America/New_York autumn: 01:30 runs at EDT and at EST on 2025-11-02.
        (
            "30 1 * * *",
            "America/New_York",
            "2025-11-01T12:00:00Z",
            &[
                "2025-11-02T05:30:00Z",
                "2025-11-02T06:30:00Z",
                "2025-11-03T06:30:00Z",
            ],
        ),
        // Australia/Lord_Howe's half-hour spring change (02:00 -> 02:30 on 2025-10-05):
        // 05:00 runs (robfig would skip it, see the module docs), 02:15 does not.
        (
            "0 5 * * *",
            "Australia/Lord_Howe",
            "2025-10-04T00:00:00Z",
            &["2025-10-04T18:00:00Z"],
        ),
        (
            "15 2 * * *",
            "Australia/Lord_Howe",
            "2025-10-03T00:00:00Z",
            &["2025-10-03T15:45:00Z", "2025-10-05T15:15:00Z"],
        ),
        // The seed's schedule: 02:00-02:55 in Shanghai is 18:00-18:55 UTC the day before.
        (
            "*/5 02 * * *",
            "Asia/Shanghai",
            "2025-06-01T00:00:00Z",
            &[
                "2025-06-01T18:00:00Z",
                "2025-06-01T18:05:00Z",
                "2025-06-01T18:10:00Z",
            ],
        ),
        // Day of month OR day of week when both are restricted: the 13th or a Friday.
        (
            "0 0 13 * 5",
            "UTC",
            "2025-06-01T00:00:00Z",
            &[
                "2025-06-06T00:00:00Z",
                "2025-06-13T00:00:00Z",
                "2025-06-20T00:00:00Z",
            ],
        ),
        // AND when one of them is a star; `?` is a star; `*/2` is not.
        (
            "0 0 ? * 5",
            "UTC",
            "2025-06-01T00:00:00Z",
            &["2025-06-06T00:00:00Z"],
        ),
        (
            "0 0 */2 * 5",
            "UTC",
            "2025-06-01T00:00:00Z",
            &[
                "2025-06-03T00:00:00Z",
                "2025-06-05T00:00:00Z",
                "2025-06-06T00:00:00Z",
            ],
        ),
        (
            "@every 2s",
            "Europe/Berlin",
            "2025-06-01T00:00:00.7Z",
            &["2025-06-01T00:00:02Z", "2025-06-01T00:00:04Z"],
        ),
        (
            "@weekly",
            "UTC",
            "2025-06-01T00:00:00Z",
            &["2025-06-08T00:00:00Z"],
        ),
        (
            "0 0 1 jan-mar mon-fri",
            "UTC",
            "2025-01-01T00:00:00Z",
            &["2025-01-02T00:00:00Z"],
        ),
    ];
    for (spec, zone, after, want) in cases {
        assert_eq!(
            runs(spec, zone, after, want.len()),
            *want,
            "{spec} in {zone}"
        );
    }
}

#[test]
fn impossible_dates_find_nothing() {
    let s = Schedule::parse("0 0 30 2 *").expect("parses");
    assert_eq!(s.next(ts("2025-01-01T00:00:00Z"), &TimeZone::UTC), None);
    let s = Schedule::parse("0 0 29 2 *").expect("parses");
    assert_eq!(
        s.next(ts("2025-01-01T00:00:00Z"), &TimeZone::UTC),
        Some(ts("2028-02-29T00:00:00Z"))
    );
    // The ends of time do not panic.
    for t in [Timestamp::MIN, Timestamp::MAX] {
        for spec in ["* * * * *", "@every 1h", "0 0 29 2 *"] {
            let s = Schedule::parse(spec).expect("parses");
            let _ = s.next(t, &tz("Europe/Berlin"));
            let _ = s.dst_hits(&tz("Europe/Berlin"), t, Timestamp::MAX, 10);
        }
    }
}

#[test]
fn dst_hits_name_gaps_and_overlaps() {
    let s = Schedule::parse("30 2 * * *").expect("parses");
    let z = tz("Europe/Berlin");
    let hits = s.dst_hits(
        &z,
        ts("2025-01-01T00:00:00Z"),
        ts("2026-01-01T00:00:00Z"),
        10,
    );
    let got: Vec<(DstKind, String, usize)> = hits
        .iter()
        .map(|h| (h.kind, h.wall.to_string(), h.instants(&z).len()))
        .collect();
    assert_eq!(
        got,
        vec![
            (DstKind::Gap, "2025-03-30T02:30:00".into(), 0),
            (DstKind::Overlap, "2025-10-26T02:30:00".into(), 2),
        ]
    );
    let hourly = Schedule::parse("0 3 * * *").expect("parses");
    assert!(
        hourly
            .dst_hits(
                &z,
                ts("2025-01-01T00:00:00Z"),
                ts("2026-01-01T00:00:00Z"),
                10
            )
            .is_empty()
    );
    assert!(
        Schedule::parse("@every 1m")
            .expect("parses")
            .dst_hits(
                &z,
                ts("2025-01-01T00:00:00Z"),
                ts("2026-01-01T00:00:00Z"),
                10
            )
            .is_empty()
    );
}

#[test]
fn dst_warnings_read_well() {
    let w = |spec: &str, zone: &str| {
        let s = Schedule::parse(spec).expect("parses");
        dst_warnings(&s, zone, &tz(zone), ts("2025-01-01T00:00:00Z"))
    };
    assert_eq!(
        w("30 2 * * *", "Europe/Berlin"),
        [
            "spec.schedule: in time zone Europe/Berlin the clocks skip from 02:00 to 03:00 on \
             2025-03-30, so the run at 02:30 will not happen that day",
            "spec.schedule: in time zone Europe/Berlin the clocks go back from 03:00 to 02:00 on \
             2025-10-26, so the run at 02:30 will happen twice (at 00:30 and 01:30 UTC)",
        ]
    );
    assert_eq!(
        w("*/15 * * * *", "America/New_York"),
        [
            "spec.schedule: in time zone America/New_York the clocks skip from 02:00 to 03:00 on \
             2025-03-09, so the 4 runs from 02:00 to 02:45 will not happen that day",
            "spec.schedule: in time zone America/New_York the clocks go back from 02:00 to 01:00 on \
             2025-11-02, so the 4 runs from 01:00 to 01:45 will happen twice",
        ]
    );
    assert!(w("*/5 02 * * *", "Asia/Shanghai").is_empty());
    assert!(w("0 12 * * *", "Europe/Berlin").is_empty());
}

#[test]
fn parse_rejects_what_robfig_rejects() {
    for (bad, want) in [
        ("* * * * 7", "end of range (7) above maximum (6): 7"),
        (
            "* * * * * *",
            "expected exactly 5 fields, found 6: [* * * * * *]",
        ),
        ("", "empty spec string"),
        ("@every", "unrecognized descriptor: @every"),
    ] {
        assert_eq!(Schedule::parse(bad), Err(ParseError(want.into())), "{bad}");
    }
    let legacy = Schedule::parse("TZ=Europe/Berlin 0 3 * * *").expect("parses");
    assert_eq!(legacy.zone(), Some("Europe/Berlin"));
}

/// One term of a generated field, rendered and evaluated independently of the parser.
#[derive(Debug, Clone)]
enum Term {
    Star(u8),
    Value(u8),
    Range(u8, u8, u8),
}

fn field(min: u8, max: u8) -> impl Strategy<Value = Vec<Term>> {
    let term = prop_oneof![
        3 => (1u8..4).prop_map(Term::Star),
        3 => (min..=max).prop_map(Term::Value),
        2 => (min..=max, min..=max, 1u8..5).prop_map(|(a, b, s)| Term::Range(a.min(b), a.max(b), s)),
    ];
    prop::collection::vec(term, 1..3)
}

fn render(terms: &[Term]) -> String {
    let parts: Vec<String> = terms
        .iter()
        .map(|t| match t {
            Term::Star(1) => "*".into(),
            Term::Star(s) => format!("*/{s}"),
            Term::Value(v) => v.to_string(),
            Term::Range(a, b, 1) => format!("{a}-{b}"),
            Term::Range(a, b, s) => format!("{a}-{b}/{s}"),
        })
        .collect();
    parts.join(",")
}

/// The values a field matches and whether it counts as a star (robfig's `starBit`).
fn eval(terms: &[Term], min: u8, max: u8) -> (Vec<bool>, bool) {
    let mut set = vec![false; 64];
    let mut star = false;
    for t in terms {
        let (a, b, s) = match *t {
            Term::Star(s) => {
                star |= s == 1;
                (min, max, s)
            }
            Term::Value(v) => (v, v, 1),
            Term::Range(a, b, s) => (a, b, s),
        };
        let mut i = a;
        while i <= b {
            set[usize::from(i)] = true;
            i += s;
        }
    }
    (set, star)
}

struct Reference {
    f: [(Vec<bool>, bool); 5],
}

impl Reference {
    fn matches(&self, dt: DateTime) -> bool {
        let [mi, h, dom, mo, dow] = &self.f;
        let day = |x: i8| usize::try_from(x).unwrap_or(0);
        let dm = dom.0[day(dt.day())];
        let wm = dow.0[day(dt.weekday().to_sunday_zero_offset())];
        let days = if dom.1 || dow.1 { dm && wm } else { dm || wm };
        dt.second() == 0
            && mi.0[day(dt.minute())]
            && h.0[day(dt.hour())]
            && mo.0[day(dt.month())]
            && days
    }
}

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Shanghai",
    "Australia/Lord_Howe",
];
/// Minutes the reference looks ahead.
const WINDOW: i64 = 3 * 24 * 60;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn next_agrees_with_a_minute_by_minute_search(
        minute in field(0, 59),
        hour in field(0, 23),
        dom in field(1, 31),
        month in prop_oneof![4 => Just(vec![Term::Star(1)]), 1 => field(1, 12)],
        dow in field(0, 6),
        zone in 0..ZONES.len(),
        year in 2000i16..2035,
        transition in 0usize..2,
        shift in -2 * 24 * 3600i64..2 * 24 * 3600,
    ) {
        let spec = [&minute, &hour, &dom, &month, &dow].map(|f| render(f)).join(" ");
        let schedule = Schedule::parse(&spec).expect("generated schedules parse");
        let reference = Reference {
            f: [eval(&minute, 0, 59), eval(&hour, 0, 23), eval(&dom, 1, 31), eval(&month, 1, 12), eval(&dow, 0, 6)],
        };
        let z = tz(ZONES[zone]);
        // Start near one of the year's transitions (or mid-year where there are none).
        let jan = Date::new(year, 1, 1).expect("date").to_zoned(z.clone()).expect("zoned").timestamp();
        let base = z.following(jan).nth(transition).map_or(jan, |t| t.timestamp());
        let after = base.checked_add(jiff::SignedDuration::from_secs(shift)).expect("in range");
        let mut t = after;
        for _ in 0..3 {
            let got = schedule.next(t, &z);
            let start = t.as_second().div_euclid(60) + 1;
            let want = (start..start + WINDOW)
                .map(|m| Timestamp::from_second(m * 60).expect("in range"))
                .find(|c| reference.matches(z.to_datetime(*c)));
            match want {
                Some(w) => prop_assert_eq!(got, Some(w), "{} in {} after {}", spec, ZONES[zone], t),
                None => prop_assert!(got.is_none_or(|g| g.as_second() >= (start + WINDOW) * 60)),
            }
            match got {
                Some(g) => t = g,
                None => break,
            }
        }
    }

    #[test]
    fn parsing_never_panics(s in "\\PC{0,40}") {
        let _ = Schedule::parse(&s);
    }

    #[test]
    fn parsing_cron_like_text_never_panics(s in "(TZ=[A-Za-z/]{0,8} )?[0-9*?/,a-z@ -]{0,30}") {
        if let Ok(sc) = Schedule::parse(&s) {
            let _ = sc.next(Timestamp::UNIX_EPOCH, &TimeZone::UTC);
        }
    }
}
