//! Cron schedules with their time zone, as a CronJob carries them: `spec.schedule` (with an
//! optional `TZ=`/`CRON_TZ=` prefix) and `spec.timeZone`. Parsing, the next run times and
//! the daylight-saving warnings never crash and never loop.
//!
//! Input: the time zone name, a newline, the schedule, a newline, then eight bytes of the
//! instant to start from (seconds, little endian).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let (Some(zone), Some(spec)) = (parts.next(), parts.next()) else {
        return;
    };
    let (Ok(zone), Ok(spec)) = (std::str::from_utf8(zone), std::str::from_utf8(spec)) else {
        return;
    };
    let secs = parts
        .next()
        .and_then(|b| b.get(..8))
        .map_or(1_700_000_000, |b| {
            i64::from_le_bytes(b.try_into().expect("8 bytes"))
        });
    let Ok(from) = jiff::Timestamp::from_second(secs) else {
        return;
    };
    let Ok(schedule) = api::schedule::Schedule::parse(spec) else {
        return;
    };
    let name = (!zone.is_empty()).then_some(zone);
    let Ok(tz) = api::schedule::time_zone(name.or(schedule.zone())) else {
        return;
    };
    for t in schedule.iter(from, &tz).take(4) {
        assert!(t > from, "run time {t} is not after {from}");
    }
    let _ = api::schedule::dst_warnings(&schedule, zone, &tz, from);
});
