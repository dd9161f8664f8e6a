//! The parser of robfig/cron v3.0.1 `ParseStandard` (vendored by Kubernetes), producing bit
//! sets and returning its exact error texts; and Go's `time.ParseDuration` for `@every`.

use super::{Fields, Kind, ParseError, Schedule};
use crate::validation::go_quote;

/// A field's bounds and names.
struct Bounds {
    min: u64,
    max: u64,
    names: &'static [(&'static str, u64)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
/// Day of week 0-6: robfig rejects 7 ("above maximum").
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// robfig's `starBit`: the field was written with `*` or `?` (a step above 1 clears it).
pub(super) const STAR: u64 = 1 << 63;

/// `ParseStandard(spec)`; `load_zone` answers a `TZ=`/`CRON_TZ=` prefix (Go's
/// `time.LoadLocation` error text).
pub(super) fn parse_standard(
    spec: &str,
    load_zone: &dyn Fn(&str) -> Result<(), String>,
) -> Result<Schedule, ParseError> {
    if spec.is_empty() {
        return Err(ParseError("empty spec string".into()));
    }
    let mut spec = spec;
    let mut zone = None;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        // Go slices spec[eq+1:i]; without a space that panics in the real server, which
        // then answers an internal error. Report the bad location instead.
        let eq = spec.find('=').unwrap_or(0);
        let i = spec.find(' ').unwrap_or(spec.len());
        let name = spec.get(eq + 1..i).unwrap_or("");
        if let Err(e) = load_zone(name) {
            return Err(ParseError(format!("provided bad location {name}: {e}")));
        }
        zone = Some(name.to_owned());
        spec = spec.get(i..).unwrap_or("").trim();
    }
    let kind = if spec.starts_with('@') {
        descriptor(spec)?
    } else {
        Kind::Fields(fields(spec)?)
    };
    Ok(Schedule { kind, zone })
}

fn descriptor(spec: &str) -> Result<Kind, ParseError> {
    let standard = match spec {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => {
            let Some(d) = spec.strip_prefix("@every ") else {
                return Err(ParseError(format!("unrecognized descriptor: {spec}")));
            };
            let nanos = go_parse_duration(d)
                .map_err(|e| ParseError(format!("failed to parse duration {spec}: {e}")))?;
            // `cron.Every`: at least one second, truncated to whole seconds.
            let secs = i64::try_from((nanos / 1_000_000_000).max(1)).unwrap_or(i64::MAX);
            return Ok(Kind::Every { seconds: secs });
        }
    };
    fields(standard).map(Kind::Fields)
}

fn fields(spec: &str) -> Result<Fields, ParseError> {
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(ParseError(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        )));
    }
    let mut bits = [0u64; 5];
    for ((f, b), out) in fields
        .iter()
        .zip([&MINUTES, &HOURS, &DOM, &MONTHS, &DOW])
        .zip(bits.iter_mut())
    {
        for expr in f.split(',').filter(|e| !e.is_empty()) {
            *out |= get_range(expr, b).map_err(ParseError)?;
        }
    }
    let [minute, hour, dom, month, dow] = bits;
    Ok(Fields {
        minute,
        hour,
        dom,
        month,
        dow,
    })
}

/// `getRange`: the bits of one comma-separated expression.
fn get_range(expr: &str, r: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_high.len() == 1;
    let (start, mut end);
    let mut extra = 0;
    if low_high[0] == "*" || low_high[0] == "?" {
        start = r.min;
        end = r.max;
        extra = STAR;
    } else {
        start = parse_int_or_name(low_high[0], r)?;
        end = match low_high.len() {
            1 => start,
            2 => parse_int_or_name(low_high[1], r)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
    }
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let s = must_parse_int(range_and_step[1])?;
            if single {
                end = r.max;
            }
            if s > 1 {
                extra = 0;
            }
            s
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < r.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            r.min
        ));
    }
    if end > r.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            r.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    // `getBits`; start, end <= 59 here, so the shifts cannot overflow.
    let mut bits = 0u64;
    let mut i = start;
    while i <= end {
        bits |= 1 << i;
        i = i.saturating_add(step);
    }
    Ok(bits | extra)
}

fn parse_int_or_name(expr: &str, r: &Bounds) -> Result<u64, String> {
    let lower = expr.to_lowercase();
    if let Some((_, v)) = r.names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    must_parse_int(expr)
}

/// `mustParseInt`: Go's `strconv.Atoi` wording, then the negative check.
fn must_parse_int(expr: &str) -> Result<u64, String> {
    let num = go_atoi(expr).map_err(|e| format!("failed to parse int from {expr}: {e}"))?;
    u64::try_from(num).map_err(|_| format!("negative number ({num}) not allowed: {expr}"))
}

fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

/// Go's `time.ParseDuration`, in nanoseconds, with its error text.
pub fn go_parse_duration(s: &str) -> Result<i128, String> {
    let orig = s;
    let err_invalid = || format!("time: invalid duration {}", go_quote(orig));
    let mut s = s;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(err_invalid());
    }
    let mut total: i128 = 0;
    while !s.is_empty() {
        let int_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (int_part, rest) = s.split_at(int_end);
        let mut rest = rest;
        let mut frac_part = "";
        if let Some(r) = rest.strip_prefix('.') {
            let fe = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            frac_part = &r[..fe];
            rest = &r[fe..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(err_invalid());
        }
        let unit_end = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (unit, next) = rest.split_at(unit_end);
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(unit),
                    go_quote(orig)
                ));
            }
        };
        let v: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| err_invalid())?
        };
        let mut value = v.checked_mul(scale).ok_or_else(err_invalid)?;
        if !frac_part.is_empty() {
            let digits = &frac_part[..frac_part.len().min(30)];
            let f: i128 = digits.parse().unwrap_or(0);
            let div = 10i128.checked_pow(digits.len() as u32).unwrap_or(i128::MAX);
            value += f.saturating_mul(scale) / div;
        }
        total = total.checked_add(value).ok_or_else(err_invalid)?;
        if total > i128::from(i64::MAX) {
            return Err(err_invalid());
        }
        s = next;
    }
    Ok(if neg { -total } else { total })
}
