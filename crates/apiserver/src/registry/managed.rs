//! `metadata.managedFields` bookkeeping of the write path, on top of `api::apply`: the
//! Update entry of a create or an update (the changed fields go to the request's
//! `fieldManager` and are taken from every other manager), which entries a write starts from
//! (those the request sends, else the stored ones, as the real field manager decides), and
//! keeping the stored JSON untouched when nothing changed (so no-op writes stay no-ops).

use api::apply::{self, Entry, Request};
use api::resource::ResourceInfo;
use serde_json::Value;

/// How a write records ownership.
#[derive(Debug, Clone)]
pub enum Ownership {
    /// As an Update by the request's `fieldManager`.
    Record,
    /// These managedFields (a server-side apply's decision); `None` clears them.
    Set(Option<Value>),
}

/// Entries of `obj`'s `metadata.managedFields`; `None` if absent, empty or malformed.
pub fn entries_of(obj: &Value) -> Option<Vec<Entry>> {
    let v = obj.get("metadata")?.get("managedFields")?;
    apply::decode(Some(v)).ok().filter(|e| !e.is_empty())
}

/// The managedFields value to store for `entries`: `None` when there are none.
pub fn to_value(entries: &[Entry]) -> Option<Value> {
    (!entries.is_empty()).then(|| apply::encode(entries))
}

/// The entries a create stores: those the body carries (if valid), plus `manager`'s Update
/// entry for the fields of `defaulted` (the body as decoded and defaulted).
pub fn on_create(
    r: &'static ResourceInfo,
    body: &Value,
    defaulted: &Value,
    manager: &str,
    time: &str,
) -> Option<Value> {
    let base = entries_of(body).unwrap_or_default();
    let req = Request {
        resource: r,
        manager,
        subresource: None,
        time,
    };
    to_value(&apply::record_update(
        &req,
        &apply::empty_object(r),
        defaulted,
        &base,
    ))
}

/// The managedFields after an Update-operation write from `old` to `next` (both without
/// their managedFields: `stored_json` are the stored entries). `requested` are the entries
/// the request body carried (a client may replace them, as kubectl's client-side-apply
/// upgrade does); otherwise the stored ones are the base. The stored JSON is kept as it is
/// when nothing changed.
#[allow(clippy::too_many_arguments)]
pub fn on_update(
    r: &'static ResourceInfo,
    old: &Value,
    stored_json: Option<&Value>,
    next: &Value,
    requested: Option<&Value>,
    manager: Option<&str>,
    status: bool,
    time: &str,
) -> Option<Value> {
    let stored = stored_json
        .and_then(|v| apply::decode(Some(v)).ok())
        .unwrap_or_default();
    let from_request = if status {
        None
    } else {
        requested
            .and_then(|v| apply::decode(Some(v)).ok())
            .filter(|e| !e.is_empty())
    };
    let requested_used = from_request.is_some();
    let (base, base_json) = match from_request {
        Some(e) => (e, requested),
        None => (stored, stored_json),
    };
    let Some(manager) = manager else {
        return if requested_used {
            to_value(&base)
        } else {
            base_json
                .cloned()
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        };
    };
    let req = Request {
        resource: r,
        manager,
        subresource: status.then_some("status"),
        time,
    };
    let out = apply::record_update(&req, old, next, &base);
    if out == base && !requested_used {
        return base_json
            .cloned()
            .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()));
    }
    to_value(&out)
}
