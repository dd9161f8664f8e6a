//! Jobs and CronJobs (`printJob`, `printCronJob`).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    AGE, Col, DESC_CONTAINERS, DESC_IMAGES, NAME, age, at, containers, int_at, list_at, name,
    selector_at, since, str_at, string, time_at, wide,
};
use crate::duration::human_duration;

const DESC_JOB_SELECTOR: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";

pub(super) const JOB_COLUMNS: &[Col] = &[
    NAME,
    string("Status", "Status of the job."),
    string(
        "Completions",
        "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.",
    ),
    string("Duration", "Time required to complete the job."),
    AGE,
    wide("Containers", DESC_CONTAINERS),
    wide("Images", DESC_IMAGES),
    wide("Selector", DESC_JOB_SELECTOR),
];

pub(super) const CRONJOB_COLUMNS: &[Col] = &[
    NAME,
    string(
        "Schedule",
        "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
    ),
    string(
        "Timezone",
        "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones",
    ),
    Col {
        type_: "boolean",
        ..string(
            "Suspend",
            "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.",
        )
    },
    Col {
        type_: "integer",
        ..string("Active", "A list of pointers to currently running jobs.")
    },
    string(
        "Last Schedule",
        "Information when was the last time the job was successfully scheduled.",
    ),
    AGE,
    wide("Containers", DESC_CONTAINERS),
    wide("Images", DESC_IMAGES),
    wide("Selector", DESC_JOB_SELECTOR),
];

/// `hasJobCondition`: the first condition of that type decides.
fn has_condition(job: &Value, kind: &str) -> bool {
    list_at(job, &["status", "conditions"])
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"))
}

fn job_status(job: &Value) -> &'static str {
    if has_condition(job, "Complete") {
        "Complete"
    } else if has_condition(job, "Failed") {
        "Failed"
    } else if at(job, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null()) {
        "Terminating"
    } else if has_condition(job, "Suspended") {
        "Suspended"
    } else if has_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

fn completions(job: &Value) -> String {
    let succeeded = int_at(job, &["status", "succeeded"]);
    match at(job, &["spec", "completions"]).and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int_at(job, &["spec", "parallelism"]) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    }
}

fn duration(job: &Value, now: Timestamp) -> String {
    let Some(start) = time_at(job, &["status", "startTime"]) else {
        return String::new();
    };
    let end = time_at(job, &["status", "completionTime"]).unwrap_or(now);
    human_duration(end.duration_since(start))
}

pub(super) fn job_cells(job: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = containers(at(job, &["spec", "template", "spec"]));
    vec![
        json!(name(job)),
        json!(job_status(job)),
        json!(completions(job)),
        json!(duration(job, now)),
        json!(age(job, now)),
        json!(names),
        json!(images),
        json!(selector_at(job, &["spec", "selector"])),
    ]
}

pub(super) fn cronjob_cells(cj: &Value, now: Timestamp) -> Vec<Value> {
    let last_schedule = match time_at(cj, &["status", "lastScheduleTime"]) {
        None if at(cj, &["status", "lastScheduleTime"]).is_none_or(Value::is_null) => {
            "<none>".to_owned()
        }
        t => since(t, now),
    };
    let time_zone = at(cj, &["spec", "timeZone"])
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let suspend = match at(cj, &["spec", "suspend"]).and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let active = list_at(cj, &["status", "active"]).len();
    let (names, images) = containers(at(cj, &["spec", "jobTemplate", "spec", "template", "spec"]));
    vec![
        json!(name(cj)),
        json!(str_at(cj, &["spec", "schedule"])),
        json!(time_zone),
        json!(suspend),
        json!(active),
        json!(last_schedule),
        json!(age(cj, now)),
        json!(names),
        json!(images),
        json!(selector_at(
            cj,
            &["spec", "jobTemplate", "spec", "selector"]
        )),
    ]
}
