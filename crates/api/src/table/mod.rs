//! Server-side printing: the Table columns and cells kubectl shows, per kind.
//!
//! A port of the handlers in kubernetes `pkg/printers/internalversion/printers.go` (v1.33) for
//! the kinds batchlet serves. The real server always generates the wide cells (kubectl hides
//! priority-1 columns unless `-o wide`), so [`row_cells`] returns one cell per column of
//! [`column_definitions`]. Cells are computed from the stored JSON without deserializing the
//! whole object, so printing long lists stays cheap.

mod cluster;
mod coordination;
mod pods;
mod storage;
mod workloads;

use jiff::Timestamp;
use serde_json::Value;

use crate::duration::human_duration;

/// One column of a Table, as `metav1.TableColumnDefinition` serializes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnDefinition {
    /// The header (kubectl upper-cases it).
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `name` for the object's name column, else empty.
    pub format: String,
    /// What the column shows.
    pub description: String,
    /// 0 for the default columns, 1 for the `-o wide` ones.
    pub priority: i32,
}

/// Column definitions for a resource plural, exactly as the real server's printers register
/// them. Unknown resources get the apiserver's default `Name` / `Created At`.
pub fn column_definitions(resource: &str) -> Vec<ColumnDefinition> {
    let cols: &[Col] = match resource {
        "jobs" => workloads::JOB_COLUMNS,
        "cronjobs" => workloads::CRONJOB_COLUMNS,
        "pods" => pods::POD_COLUMNS,
        "namespaces" => cluster::NAMESPACE_COLUMNS,
        "events" => cluster::EVENT_COLUMNS,
        "nodes" => cluster::NODE_COLUMNS,
        "persistentvolumeclaims" => storage::PVC_COLUMNS,
        "leases" => coordination::LEASE_COLUMNS,
        _ => DEFAULT_COLUMNS,
    };
    cols.iter().map(Col::definition).collect()
}

/// The cells of one row for the object (the stored JSON) at `now`, one per column.
pub fn row_cells(resource: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    match resource {
        "jobs" => workloads::job_cells(obj, now),
        "cronjobs" => workloads::cronjob_cells(obj, now),
        "pods" => pods::pod_cells(obj, now),
        "namespaces" => cluster::namespace_cells(obj, now),
        "events" => cluster::event_cells(obj, now),
        "nodes" => cluster::node_cells(obj, now),
        "persistentvolumeclaims" => storage::pvc_cells(obj, now),
        "leases" => coordination::lease_cells(obj, now),
        _ => default_cells(obj),
    }
}

/// Row conditions: pods in Succeeded or Failed get the `Completed` condition the real printer
/// sets; everything else has none.
pub fn row_conditions(resource: &str, obj: &Value) -> Option<Value> {
    match resource {
        "pods" => pods::pod_conditions(obj),
        _ => None,
    }
}

/// A column as the printers declare it.
struct Col {
    name: &'static str,
    type_: &'static str,
    format: &'static str,
    description: &'static str,
    priority: i32,
}

impl Col {
    fn definition(&self) -> ColumnDefinition {
        ColumnDefinition {
            name: self.name.to_owned(),
            type_: self.type_.to_owned(),
            format: self.format.to_owned(),
            description: self.description.to_owned(),
            priority: self.priority,
        }
    }
}

/// A default-priority string column.
const fn string(name: &'static str, description: &'static str) -> Col {
    Col {
        name,
        type_: "string",
        format: "",
        description,
        priority: 0,
    }
}

/// A wide (priority 1) string column.
const fn wide(name: &'static str, description: &'static str) -> Col {
    Col {
        priority: 1,
        ..string(name, description)
    }
}

/// The `Name` column every printer starts with.
const NAME: Col = Col {
    format: "name",
    ..string("Name", DESC_NAME)
};

/// The `Age` column.
const AGE: Col = string("Age", DESC_CREATION_TIMESTAMP);

const DESC_NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const DESC_CREATION_TIMESTAMP: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const DESC_CONTAINERS: &str = "Names of each container in the template.";
const DESC_IMAGES: &str = "Images referenced by each container in the template.";

/// The apiserver's default table (`rest.NewDefaultTableConvertor`).
const DEFAULT_COLUMNS: &[Col] = &[
    NAME,
    Col {
        type_: "date",
        ..string("Created At", DESC_CREATION_TIMESTAMP)
    },
];

fn default_cells(obj: &Value) -> Vec<Value> {
    let created = time_at(obj, &["metadata", "creationTimestamp"])
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_owned());
    vec![name(obj).into(), created.into()]
}

// --- helpers shared by the printers ---

fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.get(k))
}

/// The string at `path`, or `""`.
fn str_at<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    at(obj, path).and_then(Value::as_str).unwrap_or("")
}

/// The integer at `path`, or 0.
fn int_at(obj: &Value, path: &[&str]) -> i64 {
    at(obj, path).and_then(Value::as_i64).unwrap_or(0)
}

/// The array at `path`, or an empty slice.
fn list_at<'a>(obj: &'a Value, path: &[&str]) -> &'a [Value] {
    at(obj, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Whether an object (not null) is at `path`: Go's non-nil pointer.
fn has(obj: &Value, path: &[&str]) -> bool {
    at(obj, path).is_some_and(Value::is_object)
}

/// The timestamp at `path`; `None` when absent, unparsable or Go's zero time.
fn time_at(obj: &Value, path: &[&str]) -> Option<Timestamp> {
    let t: Timestamp = at(obj, path)?.as_str()?.parse().ok()?;
    (t != go_zero_time()).then_some(t)
}

fn go_zero_time() -> Timestamp {
    // 0001-01-01T00:00:00Z, Go's `time.Time{}`.
    Timestamp::from_second(-62_135_596_800).unwrap_or(Timestamp::MIN)
}

/// `translateTimestampSince`: `<unknown>` for a zero time, else the human age.
fn since(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        None => "<unknown>".to_owned(),
        Some(t) => human_duration(now.duration_since(t)),
    }
}

fn name(obj: &Value) -> &str {
    str_at(obj, &["metadata", "name"])
}

/// The AGE cell.
fn age(obj: &Value, now: Timestamp) -> String {
    since(time_at(obj, &["metadata", "creationTimestamp"]), now)
}

/// `layoutContainerCells`: container names and images, comma-joined.
fn containers(pod_spec: Option<&Value>) -> (String, String) {
    let list = pod_spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let field = |k: &str| {
        list.iter()
            .map(|c| c.get(k).and_then(Value::as_str).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(",")
    };
    (field("name"), field("image"))
}

/// `metav1.FormatLabelSelector` of the selector JSON at `path`.
fn selector_at(obj: &Value, path: &[&str]) -> String {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use serde::Deserialize;
    match at(obj, path) {
        None | Some(Value::Null) => crate::selector::format_label_selector(None),
        Some(v) => match LabelSelector::deserialize(v) {
            Ok(sel) => crate::selector::format_label_selector(Some(&sel)),
            Err(_) => "<error>".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests;
