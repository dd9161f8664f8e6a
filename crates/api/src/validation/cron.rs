//! Schedule checking as robfig/cron v3.0.1 `ParseStandard` does it (the parser the
//! apiserver vendors), returning its exact error text. The parser is [`crate::schedule`]'s,
//! so validation and the CronJob controller read schedules the same way.

use crate::schedule::Schedule;
pub use crate::schedule::go_parse_duration;

/// `cron.ParseStandard(spec)`: `Err(message)` exactly as the parser words it.
/// `load_zone` answers `TZ=`/`CRON_TZ=` prefixes (Go's `time.LoadLocation` error text).
pub fn parse_standard(
    spec: &str,
    load_zone: &dyn Fn(&str) -> Result<(), String>,
) -> Result<(), String> {
    Schedule::parse_standard(spec, load_zone)
        .map(drop)
        .map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<(), String> {
        parse_standard(s, &|z| {
            if z == "UTC" {
                Ok(())
            } else {
                Err(format!("unknown time zone {z}"))
            }
        })
    }

    #[test]
    fn robfig_messages() {
        for ok in [
            "*/1 * * * *",
            "01 16 * * *",
            "01 18 * * 5",
            "*/5 02 * * *",
            "0 0 1 jan-mar mon-fri",
            "@hourly",
            "@every 1h30m",
            "TZ=UTC 0 * * * *",
        ] {
            assert_eq!(parse(ok), Ok(()), "{ok}");
        }
        for (bad, want) in [
            ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
            ("60 * * * *", "end of range (60) above maximum (59): 60"),
            ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
            (
                "5-1 * * * *",
                "beginning of range (5) beyond end of range (1): 5-1",
            ),
            (
                "*/0 * * * *",
                "step of range should be a positive number: */0",
            ),
            (
                "x * * * *",
                "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
            ),
            ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
            ("1/2/3 * * * *", "too many slashes: 1/2/3"),
            ("@daly", "unrecognized descriptor: @daly"),
            (
                "@every 1x",
                "failed to parse duration @every 1x: time: unknown unit \"x\" in duration \"1x\"",
            ),
            (
                "@every 10",
                "failed to parse duration @every 10: time: missing unit in duration \"10\"",
            ),
            (
                "TZ=Mars/Base * * * * *",
                "provided bad location Mars/Base: unknown time zone Mars/Base",
            ),
        ] {
            assert_eq!(parse(bad), Err(want.to_string()), "{bad}");
        }
    }
}
