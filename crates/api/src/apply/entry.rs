//! `metadata.managedFields` entries: decoding from and encoding to the wire form
//! (`ManagedFieldsEntry` with FieldsV1), manager identity (`BuildManagerIdentifier`: name,
//! operation, subresource, and the apiVersion for Update entries) and the order the real
//! server writes them in (Apply before Update, then by time, manager, apiVersion,
//! subresource).

use super::set::FieldSet;
use serde_json::{Map, Value, json};

/// The operation an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write (create, update, patch).
    Update,
}

impl Operation {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One managedFields entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `manager`.
    pub manager: String,
    /// `operation`.
    pub operation: Operation,
    /// `apiVersion`.
    pub api_version: String,
    /// `time` (RFC 3339), absent on entries that never changed the object.
    pub time: Option<String>,
    /// `subresource`, e.g. `status`.
    pub subresource: Option<String>,
    /// The owned fields.
    pub fields: FieldSet,
}

impl Entry {
    /// Whether `other` is the same manager (the real server's manager identifier).
    pub fn same_manager(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == Operation::Apply || self.api_version == other.api_version)
    }

    /// Decodes one entry, as `DecodeManagedFields` validates it.
    pub fn from_json(v: &Value) -> Result<Entry, String> {
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        let operation = match s("operation") {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            _ => return Err("operation must be `Apply` or `Update`".into()),
        };
        let api_version = s("apiVersion").unwrap_or_default();
        if api_version.is_empty() {
            return Err("apiVersion must not be empty".into());
        }
        match s("fieldsType") {
            Some("FieldsV1") => {}
            Some(t) => return Err(format!("invalid fieldsType {t:?}")),
            None => return Err("missing fieldsType".into()),
        }
        let fields = match v.get("fieldsV1") {
            Some(f) => FieldSet::from_fields_v1(f)?,
            None => FieldSet::new(),
        };
        Ok(Entry {
            manager: s("manager").unwrap_or_default().to_owned(),
            operation,
            api_version: api_version.to_owned(),
            time: s("time").map(str::to_owned),
            subresource: s("subresource")
                .filter(|x| !x.is_empty())
                .map(str::to_owned),
            fields,
        })
    }

    /// The wire form.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation.as_str()));
        m.insert("apiVersion".into(), json!(self.api_version));
        if let Some(t) = &self.time {
            m.insert("time".into(), json!(t));
        }
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(s) = &self.subresource {
            m.insert("subresource".into(), json!(s));
        }
        Value::Object(m)
    }

    /// How the real server names this manager in conflict messages (`printManager`).
    pub fn display(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            s = format!("{s} with subresource {sub:?}");
        }
        if self.operation == Operation::Update {
            s = format!("{s} using {}", self.api_version);
        }
        s
    }
}

/// Decodes `metadata.managedFields` (absent or null: no entries).
pub fn decode(v: Option<&Value>) -> Result<Vec<Entry>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(Entry::from_json).collect(),
        Some(_) => Err("managedFields must be a list".into()),
    }
}

/// Encodes entries in the real server's order.
pub fn encode(entries: &[Entry]) -> Value {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|p, q| {
        p.operation
            .cmp(&q.operation)
            .then_with(|| p.time.cmp(&q.time))
            .then_with(|| p.manager.cmp(&q.manager))
            .then_with(|| p.api_version.cmp(&q.api_version))
            .then_with(|| p.subresource.cmp(&q.subresource))
    });
    Value::Array(sorted.into_iter().map(Entry::to_json).collect())
}
