//! `batchlet schedule 'CRON' [--time-zone ZONE] [-n N]`: the next run times of a CronJob
//! schedule, in its zone and in UTC, as the CronJob controller computes them; warnings for
//! runs in a daylight-saving gap or overlap in the coming year. An invalid schedule or
//! zone gets the apiserver's own validation message.

use anyhow::{Context, bail};
use api::schedule::{self, Schedule};
use jiff::Timestamp;
use std::fmt::Write as _;

/// Arguments of `batchlet schedule`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The schedule, as in a CronJob's `spec.schedule` (e.g. '*/5 02 * * *', '@daily').
    schedule: String,
    /// The CronJob's `spec.timeZone` (an IANA name such as Asia/Shanghai); UTC when unset.
    #[arg(long)]
    time_zone: Option<String>,
    /// How many run times to print.
    #[arg(short = 'n', long = "count", default_value_t = 5)]
    n: usize,
    /// List the runs after this instant (RFC 3339, e.g. 2025-06-01T00:00:00Z) instead of now.
    #[arg(long)]
    after: Option<String>,
}

/// The apiserver's messages for an invalid `schedule` or `timeZone`: validation of a
/// CronJob with this schedule and zone, keeping the errors about those two fields.
fn validate(schedule: &str, zone: Option<&str>) -> Vec<String> {
    let cj = serde_json::json!({
        "metadata": {"name": "schedule", "namespace": "default"},
        "spec": {
            "schedule": schedule, "timeZone": zone, "concurrencyPolicy": "Allow",
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox"}]}}}},
        },
    });
    let Ok(mut cj) = serde_json::from_value::<k8s_openapi::api::batch::v1::CronJob>(cj) else {
        return vec!["spec.schedule: cannot be represented".into()];
    };
    api::defaults::default_cronjob(&mut cj);
    api::validation::validate_cronjob_create(&cj)
        .into_iter()
        .filter(|e| e.field == "spec.schedule" || e.field == "spec.timeZone")
        .map(|e| e.to_string())
        .collect()
}

/// Renders the run table and the warnings.
fn render(args: &Args, now: Timestamp) -> anyhow::Result<(String, Vec<String>)> {
    let zone = args.time_zone.as_deref();
    let errors = validate(&args.schedule, zone);
    if !errors.is_empty() {
        bail!("{}", errors.join(", "));
    }
    let sched = Schedule::parse(&args.schedule).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tz = schedule::time_zone(zone).map_err(|e| anyhow::anyhow!("{e}"))?;
    let name = zone.unwrap_or("UTC");
    let mut out = String::new();
    let _ = writeln!(out, "{:<32}  UTC", name.to_uppercase());
    let runs: Vec<Timestamp> = sched.iter(now, &tz).take(args.n).collect();
    for t in &runs {
        let local = t.to_zoned(tz.clone());
        let _ = writeln!(
            out,
            "{:<32}  {}",
            local.strftime("%Y-%m-%d %H:%M:%S %:z %a").to_string(),
            t.strftime("%Y-%m-%d %H:%M:%SZ")
        );
    }
    if runs.len() < args.n {
        let _ = writeln!(out, "(no further run within five years)");
    }
    let warnings = schedule::dst_warnings(&sched, name, &tz, now);
    Ok((out, warnings))
}

/// Prints the next run times; warnings go to stderr as kubectl prints the server's.
pub fn run(args: Args) -> anyhow::Result<()> {
    let now = match &args.after {
        Some(s) => s
            .parse::<Timestamp>()
            .with_context(|| format!("--after {s:?} is not an RFC 3339 time"))?,
        None => Timestamp::now(),
    };
    let (table, warnings) = render(&args, now)?;
    print!("{table}");
    for w in warnings {
        eprintln!("Warning: {w}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(schedule: &str, zone: Option<&str>, n: usize) -> Args {
        Args {
            schedule: schedule.into(),
            time_zone: zone.map(str::to_owned),
            n,
            after: None,
        }
    }

    #[test]
    fn the_seed_schedule_in_shanghai_runs_at_six_pm_utc_the_day_before() {
        let now: Timestamp = "2025-06-01T00:00:00Z".parse().expect("ts");
        let (table, warnings) =
            render(&args("*/5 02 * * *", Some("Asia/Shanghai"), 2), now).expect("renders");
        assert_eq!(
            table,
            "ASIA/SHANGHAI                     UTC\n\
             2025-06-02 02:00:00 +08:00 Mon    2025-06-01 18:00:00Z\n\
             2025-06-02 02:05:00 +08:00 Mon    2025-06-01 18:05:00Z\n"
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn invalid_input_gets_the_servers_messages() {
        let now = Timestamp::UNIX_EPOCH;
        let err = |s: &str, z: Option<&str>| {
            render(&args(s, z, 1), now)
                .expect_err("invalid")
                .to_string()
        };
        assert_eq!(
            err("* * *", None),
            "spec.schedule: Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]"
        );
        assert_eq!(
            err("TZ=UTC 0 * * * *", None),
            "spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
        );
        assert_eq!(
            err("0 * * * *", Some("Mars/Base")),
            "spec.timeZone: Invalid value: \"Mars/Base\": unknown time zone Mars/Base"
        );
    }

    #[test]
    fn dst_runs_warn() {
        let now: Timestamp = "2025-01-01T00:00:00Z".parse().expect("ts");
        let (_, warnings) =
            render(&args("30 2 * * *", Some("Europe/Berlin"), 1), now).expect("renders");
        assert_eq!(warnings.len(), 2);
    }
}
