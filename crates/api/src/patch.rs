//! The three non-apply PATCH types as pure functions on JSON values, with the semantics, quirks
//! and error texts of the real v1.33 kube-apiserver:
//!
//! * [`json_merge_patch`]: `application/merge-patch+json` (RFC 7386), as `evanphx/json-patch`
//!   v4.12 `MergePatch` implements it (the library the apiserver calls);
//! * [`json_patch`]: `application/json-patch+json` (RFC 6902), as `evanphx/json-patch` v4.12
//!   `Patch.Apply` implements it, including its quirks (negative array indices, `replace` of a
//!   missing object member adds it, `copy` from a missing member copies `null`);
//! * [`strategic_merge_patch`]: `application/strategic-merge-patch+json`, as apimachinery's
//!   `strategicpatch.StrategicMergeMapPatch` applies it server-side: merge keys and strategies
//!   come from the Go struct tags (mirrored in [`GO_PATCH_TAGS`]) or, failing that, from the
//!   `x-kubernetes-patch-*` extensions of the OpenAPI schemas in [`crate::schema`].
//!
//! This module owns only the transformation and the error each failure maps to
//! ([`PatchError::http_status`], [`PatchError::reason`], [`PatchError::status_message`]);
//! decoding the result into a typed object, unknown-field checks and storage are the caller's.
//! No input panics: recursion is bounded by [`MAX_DEPTH`].

use crate::resource::ResourceInfo;
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// Why a patch could not be applied. Each variant is one of the Status errors the real
/// apiserver answers with (see `k8s.io/apiserver/pkg/endpoints/handlers/patch.go`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch body is not valid for its type: `errors.NewBadRequest`, HTTP 400, reason
    /// `BadRequest`, the message as the real server words it.
    #[error("{0}")]
    BadRequest(String),
    /// A JSON-patch operation did not apply (failed `test`, missing path, bad index), or a
    /// strategic patch hit `ErrNoListOfLists`: the real server answers
    /// `errors.NewGenericServerResponse(422, …)`, HTTP 422, reason `Invalid`, whose message is the
    /// generic "the server rejected our request due to an error in our request" (the detail
    /// carried here is dropped from the Status by the real server; log it).
    #[error("{0}")]
    Invalid(String),
    /// More than 10000 JSON-patch operations: `errors.NewRequestEntityTooLargeError`, HTTP 413.
    #[error("{0}")]
    TooLarge(String),
    /// Any other strategic-merge failure (missing merge key, unknown `$patch` value, mismatched
    /// `$setElementOrder`): the real server returns the bare Go error, which
    /// `responsewriters.ErrorToAPIStatus` turns into HTTP 500 with an empty reason and the error
    /// text as message.
    #[error("{0}")]
    Internal(String),
}

impl PatchError {
    /// The HTTP status code of the Status the real apiserver answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Invalid(_) => 422,
            PatchError::TooLarge(_) => 413,
            PatchError::Internal(_) => 500,
        }
    }

    /// The Status `reason` (`""` is `StatusReasonUnknown`).
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::BadRequest(_) => "BadRequest",
            PatchError::Invalid(_) => "Invalid",
            PatchError::TooLarge(_) => "RequestEntityTooLarge",
            PatchError::Internal(_) => "",
        }
    }

    /// The Status `message`, exactly as the real apiserver sends it.
    pub fn status_message(&self) -> String {
        match self {
            PatchError::BadRequest(m) | PatchError::Internal(m) => m.clone(),
            PatchError::Invalid(_) => {
                "the server rejected our request due to an error in our request".to_owned()
            }
            PatchError::TooLarge(m) => format!("Request entity too large: {m}"),
        }
    }
}

/// Deepest nesting of target or patch accepted (serde_json itself stops parsing at 128).
pub const MAX_DEPTH: usize = 200;

/// `maxJSONPatchOperations` of the apiserver's patch handler.
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// `--json-patch-max-copy-bytes` default (`jsonpatch.AccumulatedCopySizeLimit`).
const JSON_PATCH_MAX_COPY_BYTES: usize = 3 * 1024 * 1024;

fn too_deep() -> PatchError {
    PatchError::BadRequest(format!(
        "patch exceeds the maximum nesting depth of {MAX_DEPTH}"
    ))
}

/// Nesting depth of `v` (a scalar is 0), computed without recursion; stops counting past `limit`.
fn depth(v: &Value, limit: usize) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Object(m) => Box::new(m.values()),
            Value::Array(a) => Box::new(a.iter()),
            _ => continue,
        };
        let d = d + 1;
        max = max.max(d);
        if d > limit {
            return d;
        }
        stack.extend(children.map(|c| (c, d)));
    }
    max
}

fn check_depth(values: &[&Value]) -> Result<(), PatchError> {
    if values.iter().any(|v| depth(v, MAX_DEPTH) > MAX_DEPTH) {
        return Err(too_deep());
    }
    Ok(())
}

/// The JSON type name Go's `encoding/json` uses in "cannot unmarshal X into …".
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

// ------------------------------------------------------------------------------------------
// JSON merge patch (RFC 7386)
// ------------------------------------------------------------------------------------------

/// Applies a JSON merge patch (RFC 7386) as `jsonpatch.MergePatch` (evanphx v4.12) does for the
/// apiserver: objects merge recursively, `null` deletes a member, anything else replaces.
/// Nulls inside newly added objects are pruned. A patch that is `null` or a scalar is
/// `BadRequest("Invalid JSON Patch")` (where RFC 7386 would return it as the document); an array
/// patch becomes the document.
pub fn json_merge_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    check_depth(&[target, patch])?;
    match patch {
        Value::Object(p) => match target {
            Value::Object(t) => {
                let mut doc = t.clone();
                merge_docs(&mut doc, p);
                Ok(Value::Object(doc))
            }
            // ErrBadJSONDoc is not translated by the handler: a bare error, HTTP 500.
            Value::Null => Err(PatchError::Internal("Invalid JSON Document".to_owned())),
            _ => {
                let mut v = patch.clone();
                prune_nulls(&mut v);
                Ok(v)
            }
        },
        Value::Array(_) => {
            let mut v = patch.clone();
            prune_nulls(&mut v);
            Ok(v)
        }
        _ => Err(PatchError::BadRequest("Invalid JSON Patch".to_owned())),
    }
}

fn merge_docs(doc: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            doc.shift_remove(k);
            continue;
        }
        match doc.get_mut(k) {
            Some(cur) if !cur.is_null() => merge_value(cur, v),
            _ => {
                let mut v = v.clone();
                prune_nulls(&mut v);
                doc.insert(k.clone(), v);
            }
        }
    }
}

fn merge_value(cur: &mut Value, patch: &Value) {
    match (&mut *cur, patch) {
        (Value::Object(c), Value::Object(p)) => merge_docs(c, p),
        (Value::Object(_), _) => *cur = patch.clone(),
        _ => {
            let mut v = patch.clone();
            prune_nulls(&mut v);
            *cur = v;
        }
    }
}

/// evanphx `pruneNulls`: drops null members of objects, recursively; null array elements stay.
fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(prune_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

// ------------------------------------------------------------------------------------------
// JSON patch (RFC 6902)
// ------------------------------------------------------------------------------------------

/// Applies a JSON patch (RFC 6902: add, remove, replace, move, copy, test; JSON pointers with
/// `~0`/`~1` escapes; `-` appends) as `jsonpatch.Patch.Apply` (evanphx v4.12) does for the
/// apiserver, with its error texts. Operations apply in order and the first failure aborts
/// the whole patch.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = match patch {
        Value::Array(ops) => ops.as_slice(),
        Value::Null => &[],
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                json_kind(other)
            )));
        }
    };
    if let Some(bad) = ops.iter().find(|op| !(op.is_object() || op.is_null())) {
        return Err(PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
            json_kind(bad)
        )));
    }
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooLarge(format!(
            "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
            ops.len()
        )));
    }
    check_depth(&[target, patch])?;
    if !(target.is_object() || target.is_array()) {
        return Err(PatchError::Internal(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.partialDoc",
            json_kind(target)
        )));
    }
    let mut doc = target.clone();
    let mut copied = 0usize;
    let empty = Map::new();
    for op in ops {
        let op = op.as_object().unwrap_or(&empty);
        apply_op(&mut doc, op, &mut copied)?;
    }
    Ok(doc)
}

const MISSING: &str = "missing value";
const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

fn invalid(msg: String) -> PatchError {
    PatchError::Invalid(msg)
}

/// `Operation.Kind()`: the `op` string, or `unknown`.
fn op_kind(op: &Map<String, Value>) -> &str {
    op.get("op").and_then(Value::as_str).unwrap_or("unknown")
}

/// `Operation.Path()` / `From()`: the string, or the error text.
fn op_string(op: &Map<String, Value>, field: &str, missing: &str) -> Result<String, String> {
    match op.get(field) {
        None | Some(Value::Null) => Err(format!("{missing}: {MISSING}")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go value of type string",
            json_kind(other)
        )),
    }
}

fn op_path(op: &Map<String, Value>) -> Result<String, String> {
    op_string(op, "path", "operation missing path field")
}

fn op_from(op: &Map<String, Value>) -> Result<String, String> {
    op_string(op, "from", "operation, missing from field")
}

/// RFC 6901 token decoding, one left-to-right pass (`strings.NewReplacer("~1", "/", "~0", "~")`).
fn decode_token(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.peek() {
                Some('1') => {
                    chars.next();
                    out.push('/');
                    continue;
                }
                Some('0') => {
                    chars.next();
                    out.push('~');
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
    }
    out
}

/// `findObject`'s split: the parent tokens and the last token. Like evanphx, the text before
/// the first `/` is ignored and a pointer without `/` (including `""`) has no parent.
fn split_pointer(path: &str) -> Option<(Vec<String>, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() < 2 {
        return None;
    }
    let key = decode_token(parts[parts.len() - 1]);
    let parents = parts[1..parts.len() - 1]
        .iter()
        .map(|p| decode_token(p))
        .collect();
    Some((parents, key))
}

/// Go's `strconv.Atoi`, with its error text.
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

/// Go's `%q` of a string (close enough: JSON string escaping).
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn invalid_index(idx: i64) -> String {
    format!("Unable to access invalid index: {idx}: invalid index referenced")
}

fn len_i64(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

/// `partialArray.get`'s index check.
fn get_index(key: &str, len: usize) -> Result<usize, String> {
    let mut idx = go_atoi(key)?;
    let n = len_i64(len);
    if idx < 0 {
        if idx < -n {
            return Err(invalid_index(idx));
        }
        idx += n;
    }
    if idx >= n {
        return Err(invalid_index(idx));
    }
    usize::try_from(idx).map_err(|_| invalid_index(idx))
}

/// The container a pointer's parent tokens lead to; `None` is "doc is missing path".
fn container_mut<'a>(doc: &'a mut Value, parents: &[String]) -> Option<&'a mut Value> {
    let mut cur = doc;
    for part in parents {
        let next = match cur {
            Value::Object(m) => m.get_mut(part.as_str())?,
            Value::Array(a) => {
                let i = get_index(part, a.len()).ok()?;
                a.get_mut(i)?
            }
            _ => return None,
        };
        if !(next.is_object() || next.is_array()) {
            return None;
        }
        cur = next;
    }
    Some(cur)
}

fn container<'a>(doc: &'a Value, parents: &[String]) -> Option<&'a Value> {
    let mut cur = doc;
    for part in parents {
        let next = match cur {
            Value::Object(m) => m.get(part.as_str())?,
            Value::Array(a) => a.get(get_index(part, a.len()).ok()?)?,
            _ => return None,
        };
        if !(next.is_object() || next.is_array()) {
            return None;
        }
        cur = next;
    }
    Some(cur)
}

/// `container.get`: `Ok(None)` for a missing or null member.
fn con_get<'a>(con: &'a Value, key: &str) -> Result<Option<&'a Value>, String> {
    let v = match con {
        Value::Object(m) => m.get(key),
        Value::Array(a) => a.get(get_index(key, a.len())?),
        _ => None,
    };
    Ok(v.filter(|v| !v.is_null()))
}

fn con_add(con: &mut Value, key: &str, val: Value) -> Result<(), String> {
    match con {
        Value::Object(m) => {
            m.insert(key.to_owned(), val);
            Ok(())
        }
        Value::Array(a) => {
            if key == "-" {
                a.push(val);
                return Ok(());
            }
            let mut idx = go_atoi(key)
                .map_err(|e| format!("value was not a proper array index: '{key}': {e}"))?;
            let sz = len_i64(a.len()) + 1;
            if idx >= sz {
                return Err(invalid_index(idx));
            }
            if idx < 0 {
                if idx < -sz {
                    return Err(invalid_index(idx));
                }
                idx += sz;
            }
            let i = usize::try_from(idx).map_err(|_| invalid_index(idx))?;
            a.insert(i.min(a.len()), val);
            Ok(())
        }
        _ => Err(MISSING.to_owned()),
    }
}

fn con_remove(con: &mut Value, key: &str) -> Result<(), String> {
    match con {
        Value::Object(m) => match m.shift_remove(key) {
            Some(_) => Ok(()),
            None => Err(format!(
                "Unable to remove nonexistent key: {key}: {MISSING}"
            )),
        },
        Value::Array(a) => {
            let mut idx = go_atoi(key)?;
            let n = len_i64(a.len());
            if idx >= n {
                return Err(invalid_index(idx));
            }
            if idx < 0 {
                if idx < -n {
                    return Err(invalid_index(idx));
                }
                idx += n;
            }
            let i = usize::try_from(idx).map_err(|_| invalid_index(idx))?;
            a.remove(i);
            Ok(())
        }
        _ => Err(MISSING.to_owned()),
    }
}

fn con_set(con: &mut Value, key: &str, val: Value) -> Result<(), String> {
    match con {
        Value::Object(m) => {
            m.insert(key.to_owned(), val);
            Ok(())
        }
        Value::Array(a) => {
            let mut idx = go_atoi(key)?;
            let n = len_i64(a.len());
            if idx < 0 {
                if idx < -n {
                    return Err(invalid_index(idx));
                }
                idx += n;
            }
            let slot = usize::try_from(idx)
                .ok()
                .and_then(|i| a.get_mut(i))
                .ok_or_else(|| invalid_index(idx))?;
            *slot = val;
            Ok(())
        }
        _ => Err(MISSING.to_owned()),
    }
}

/// Refuses an insertion that would make the document deeper than [`MAX_DEPTH`] (moves and
/// copies could otherwise nest a document arbitrarily deep).
fn check_insert_depth(parents: &[String], val: &Value) -> Result<(), PatchError> {
    if parents.len() + 1 + depth(val, MAX_DEPTH) > MAX_DEPTH {
        return Err(invalid(format!(
            "the patched document exceeds the maximum nesting depth of {MAX_DEPTH}"
        )));
    }
    Ok(())
}

fn apply_op(
    doc: &mut Value,
    op: &Map<String, Value>,
    copied: &mut usize,
) -> Result<(), PatchError> {
    match op_kind(op) {
        "add" => {
            let path = op_path(op)
                .map_err(|_| invalid(format!("add operation failed to decode path: {MISSING}")))?;
            let missing = || {
                invalid(format!(
                    "add operation does not apply: doc is missing path: \"{path}\": {MISSING}"
                ))
            };
            let (parents, key) = split_pointer(&path).ok_or_else(missing)?;
            let val = op.get("value").cloned().unwrap_or(Value::Null);
            let con = container_mut(doc, &parents).ok_or_else(missing)?;
            check_insert_depth(&parents, &val)?;
            con_add(con, &key, val)
                .map_err(|e| invalid(format!("error in add for path: '{path}': {e}")))
        }
        "remove" => {
            let path = op_path(op).map_err(|_| {
                invalid(format!("remove operation failed to decode path: {MISSING}"))
            })?;
            let missing = || {
                invalid(format!(
                    "remove operation does not apply: doc is missing path: \"{path}\": {MISSING}"
                ))
            };
            let (parents, key) = split_pointer(&path).ok_or_else(missing)?;
            let con = container_mut(doc, &parents).ok_or_else(missing)?;
            con_remove(con, &key)
                .map_err(|e| invalid(format!("error in remove for path: '{path}': {e}")))
        }
        "replace" => {
            let path = op_path(op)
                .map_err(|e| invalid(format!("replace operation failed to decode path: {e}")))?;
            if path.is_empty() {
                // The whole document: only an object or array replaces it; evanphx silently
                // ignores other values, and dereferences nil when `value` is absent.
                return match op.get("value") {
                    None => Err(PatchError::Internal(NIL_DEREF.to_owned())),
                    Some(v @ (Value::Object(_) | Value::Array(_))) => {
                        *doc = v.clone();
                        Ok(())
                    }
                    Some(_) => Ok(()),
                };
            }
            let missing = || {
                invalid(format!(
                    "replace operation does not apply: doc is missing path: {path}: {MISSING}"
                ))
            };
            let (parents, key) = split_pointer(&path).ok_or_else(missing)?;
            let val = op.get("value").cloned().unwrap_or(Value::Null);
            let con = container_mut(doc, &parents).ok_or_else(missing)?;
            check_insert_depth(&parents, &val)?;
            if con_get(con, &key).is_err() {
                return Err(invalid(format!(
                    "replace operation does not apply: doc is missing key: {path}: {MISSING}"
                )));
            }
            con_set(con, &key, val)
                .map_err(|e| invalid(format!("error in remove for path: '{path}': {e}")))
        }
        "move" => {
            let from = op_from(op)
                .map_err(|e| invalid(format!("move operation failed to decode from: {e}")))?;
            let missing_from = || {
                invalid(format!(
                    "move operation does not apply: doc is missing from path: {from}: {MISSING}"
                ))
            };
            let (from_parents, from_key) = split_pointer(&from).ok_or_else(missing_from)?;
            let con = container_mut(doc, &from_parents).ok_or_else(missing_from)?;
            let val = con_get(con, &from_key)
                .map_err(|e| invalid(format!("error in move for path: '{from_key}': {e}")))?
                .cloned()
                .unwrap_or(Value::Null);
            con_remove(con, &from_key)
                .map_err(|e| invalid(format!("error in move for path: '{from_key}': {e}")))?;
            let path = op_path(op)
                .map_err(|e| invalid(format!("move operation failed to decode path: {e}")))?;
            let missing = || {
                invalid(format!(
                    "move operation does not apply: doc is missing destination path: {path}: {MISSING}"
                ))
            };
            let (parents, key) = split_pointer(&path).ok_or_else(missing)?;
            let con = container_mut(doc, &parents).ok_or_else(missing)?;
            check_insert_depth(&parents, &val)?;
            con_add(con, &key, val)
                .map_err(|e| invalid(format!("error in move for path: '{path}': {e}")))
        }
        "test" => {
            let path = op_path(op)
                .map_err(|e| invalid(format!("test operation failed to decode path: {e}")))?;
            let failed = || invalid(format!("testing value {path} failed: test failed"));
            let expected = op.get("value");
            if path.is_empty() {
                return match expected {
                    None => Err(PatchError::Internal(NIL_DEREF.to_owned())),
                    Some(v) if v == doc => Ok(()),
                    Some(_) => Err(failed()),
                };
            }
            let missing = || {
                invalid(format!(
                    "test operation does not apply: is missing path: {path}: {MISSING}"
                ))
            };
            let (parents, key) = split_pointer(&path).ok_or_else(missing)?;
            let con = container(doc, &parents).ok_or_else(missing)?;
            let actual = con_get(con, &key)
                .map_err(|e| invalid(format!("error in test for path: '{path}': {e}")))?;
            match (actual, expected) {
                // A missing or null member equals a null value (and panics without one).
                (None, Some(Value::Null)) => Ok(()),
                (None, None) => Err(PatchError::Internal(NIL_DEREF.to_owned())),
                (Some(a), Some(e)) if a == e => Ok(()),
                _ => Err(failed()),
            }
        }
        "copy" => {
            let from = op_from(op)
                .map_err(|e| invalid(format!("copy operation failed to decode from: {e}")))?;
            let missing_from = || {
                invalid(format!(
                    "copy operation does not apply: doc is missing from path: {from}: {MISSING}"
                ))
            };
            let (from_parents, from_key) = split_pointer(&from).ok_or_else(missing_from)?;
            let con = container(doc, &from_parents).ok_or_else(missing_from)?;
            let val = con_get(con, &from_key)
                .map_err(|e| invalid(format!("error in copy for from: '{from}': {e}")))?
                .cloned();
            let path = op_path(op)
                .map_err(|_| invalid(format!("copy operation failed to decode path: {MISSING}")))?;
            let missing = || {
                invalid(format!(
                    "copy operation does not apply: doc is missing destination path: {path}: {MISSING}"
                ))
            };
            let (parents, key) = split_pointer(&path).ok_or_else(missing)?;
            if container(doc, &parents).is_none() {
                return Err(missing());
            }
            let size = val
                .as_ref()
                .map_or(0, |v| serde_json::to_vec(v).map_or(0, |b| b.len()));
            *copied = copied.saturating_add(size);
            if *copied > JSON_PATCH_MAX_COPY_BYTES {
                return Err(invalid(format!(
                    "Unable to complete the copy, the accumulated size increase of copy is {copied}, exceeding the limit {JSON_PATCH_MAX_COPY_BYTES}"
                )));
            }
            let val = val.unwrap_or(Value::Null);
            let con = container_mut(doc, &parents).ok_or_else(missing)?;
            check_insert_depth(&parents, &val)?;
            con_add(con, &key, val)
                .map_err(|e| invalid(format!("error while adding value during copy: {e}")))
        }
        kind => Err(invalid(format!("Unexpected kind: {kind}"))),
    }
}

// ------------------------------------------------------------------------------------------
// Strategic merge patch
// ------------------------------------------------------------------------------------------

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// The `patchStrategy`/`patchMergeKey` struct tags of the v1.33 Go types batchlet serves:
/// (OpenAPI schema name, JSON field, strategy, merge key). The apiserver reads these tags, not
/// the OpenAPI extensions; the schema extensions are only the fallback.
pub const GO_PATCH_TAGS: &[(&str, &str, &str, &str)] = &[
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        "merge",
        "uid",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "finalizers",
        "merge",
        "",
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "volumes",
        "merge,retainKeys",
        "name",
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "initContainers",
        "merge",
        "name",
    ),
    ("io.k8s.api.core.v1.PodSpec", "containers", "merge", "name"),
    (
        "io.k8s.api.core.v1.PodSpec",
        "ephemeralContainers",
        "merge",
        "name",
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "imagePullSecrets",
        "merge",
        "name",
    ),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", "merge", "ip"),
    (
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        "merge",
        "topologyKey",
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "schedulingGates",
        "merge",
        "name",
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "resourceClaims",
        "merge,retainKeys",
        "name",
    ),
    (
        "io.k8s.api.core.v1.Container",
        "ports",
        "merge",
        "containerPort",
    ),
    ("io.k8s.api.core.v1.Container", "env", "merge", "name"),
    (
        "io.k8s.api.core.v1.Container",
        "volumeMounts",
        "merge",
        "mountPath",
    ),
    (
        "io.k8s.api.core.v1.Container",
        "volumeDevices",
        "merge",
        "devicePath",
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "ports",
        "merge",
        "containerPort",
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "env",
        "merge",
        "name",
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeMounts",
        "merge",
        "mountPath",
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeDevices",
        "merge",
        "devicePath",
    ),
    (
        "io.k8s.api.core.v1.ContainerStatus",
        "volumeMounts",
        "merge",
        "mountPath",
    ),
    (
        "io.k8s.api.core.v1.ContainerStatus",
        "allocatedResourcesStatus",
        "merge",
        "name",
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "conditions",
        "merge",
        "type",
    ),
    ("io.k8s.api.core.v1.PodStatus", "hostIPs", "merge", "ip"),
    ("io.k8s.api.core.v1.PodStatus", "podIPs", "merge", "ip"),
    (
        "io.k8s.api.core.v1.PodStatus",
        "resourceClaimStatuses",
        "merge,retainKeys",
        "name",
    ),
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", "merge", ""),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "conditions",
        "merge",
        "type",
    ),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "addresses",
        "merge",
        "type",
    ),
    (
        "io.k8s.api.core.v1.NamespaceStatus",
        "conditions",
        "merge",
        "type",
    ),
    (
        "io.k8s.api.batch.v1.JobStatus",
        "conditions",
        "merge",
        "type",
    ),
];

/// A position in the OpenAPI schemas (the `LookupPatchMeta` of apimachinery). An unknown
/// schema gives no patch metadata: maps merge and lists are replaced.
#[derive(Clone, Copy)]
struct Schema<'a> {
    defs: Option<&'a Map<String, Value>>,
    node: Option<&'a Value>,
    name: &'a str,
}

/// Patch metadata of one field: the strategy without `retainKeys`, and the merge key.
struct Meta<'a> {
    strategy: &'a str,
    merge_key: &'a str,
}

const NO_META: Meta<'static> = Meta {
    strategy: "",
    merge_key: "",
};

impl<'a> Schema<'a> {
    const UNKNOWN: Schema<'static> = Schema {
        defs: None,
        node: None,
        name: "",
    };

    fn root(r: &ResourceInfo) -> Schema<'static> {
        let Some(defs) = components(r) else {
            return Schema::UNKNOWN;
        };
        let name = crate::schema::schema_name(r);
        match defs.get_key_value(name.as_str()) {
            Some((name, node)) => Schema {
                defs: Some(defs),
                node: Some(node),
                name: name.as_str(),
            },
            None => Schema::UNKNOWN,
        }
    }

    /// Follows `$ref`s and single-element `allOf`s, remembering the last schema name.
    fn resolve(&self, s: &'a Value) -> Schema<'a> {
        let (name, s) = crate::schema::resolve_named(self.defs, s);
        Schema {
            defs: self.defs,
            node: Some(s),
            name,
        }
    }

    /// `LookupPatchMetadataForStruct(key)`: the field's schema and patch metadata.
    fn field(&self, key: &str) -> Result<(Schema<'a>, Meta<'a>), PatchError> {
        let Some(node) = self.node else {
            return Ok((Schema::UNKNOWN, NO_META));
        };
        if let Some(prop) = node.get("properties").and_then(|p| p.get(key)) {
            let (strategy, merge_key) = GO_PATCH_TAGS
                .iter()
                .find(|(s, f, _, _)| *s == self.name && *f == key)
                .map(|(_, _, s, k)| (*s, *k))
                .unwrap_or_else(|| {
                    let ext = |k: &str| prop.get(k).and_then(Value::as_str).unwrap_or("");
                    (
                        ext("x-kubernetes-patch-strategy"),
                        ext("x-kubernetes-patch-merge-key"),
                    )
                });
            let meta = Meta {
                strategy: main_strategy(strategy)?,
                merge_key,
            };
            return Ok((self.resolve(prop), meta));
        }
        match node.get("additionalProperties").filter(|a| a.is_object()) {
            Some(ap) => Ok((self.resolve(ap), NO_META)),
            None => Ok((Schema::UNKNOWN, NO_META)),
        }
    }

    /// `LookupPatchMetadataForSlice(key)`: the element schema and the list's patch metadata.
    fn slice_field(&self, key: &str) -> Result<(Schema<'a>, Meta<'a>), PatchError> {
        let (list, meta) = self.field(key)?;
        let items = list.node.and_then(|n| n.get("items"));
        Ok((items.map_or(Schema::UNKNOWN, |i| list.resolve(i)), meta))
    }
}

/// `components.schemas` of the OpenAPI document serving `r`, parsed once from
/// [`crate::schema::documents`].
fn components(r: &ResourceInfo) -> Option<&'static Map<String, Value>> {
    static PARSED: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        crate::schema::documents()
            .iter()
            .filter_map(|d| {
                let mut doc: Value = serde_json::from_slice(&d.json).ok()?;
                let schemas = doc.get_mut("components")?.get_mut("schemas")?.take();
                Some((d.path.clone(), schemas))
            })
            .collect()
    });
    let path = if r.group.is_empty() {
        format!("api/{}", r.version)
    } else {
        format!("apis/{}/{}", r.group, r.version)
    };
    parsed
        .iter()
        .find(|(p, _)| *p == path)
        .and_then(|(_, s)| s.as_object())
}

/// `extractRetainKeysPatchStrategy`: the strategy other than `retainKeys`.
fn main_strategy(s: &str) -> Result<&str, PatchError> {
    let parts: Vec<&str> = s.split(',').collect();
    match parts.as_slice() {
        [one] => Ok(if *one == "retainKeys" { "" } else { one }),
        ["retainKeys", other] | [other, "retainKeys"] => Ok(other),
        _ => Err(PatchError::Internal(format!(
            "unexpected patch strategy: [{}]",
            parts.join(" ")
        ))),
    }
}

/// Applies a strategic merge patch to `target`, an object of kind `resource`, as the apiserver's
/// `strategicpatch.StrategicMergeMapPatch` does: maps merge recursively and `null` deletes;
/// lists with strategy `merge` merge by their merge key (primitive lists as sets, new elements
/// placed by the order rules of `normalizeElementOrder`), other lists are replaced; the
/// directives `$patch` (`replace`, `delete`, `merge`), `$setElementOrder/<list>`,
/// `$deleteFromPrimitiveList/<list>` and `$retainKeys` are honoured and never appear in the
/// result. A `null` patch changes nothing.
pub fn strategic_merge_patch(
    resource: &ResourceInfo,
    target: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    check_depth(&[target, patch])?;
    let patch = match patch {
        Value::Object(p) => p,
        Value::Null => return Ok(target.clone()),
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(other)
            )));
        }
    };
    let Value::Object(original) = target else {
        return Err(PatchError::Internal(bad_arg_type(
            "map[string]interface {}",
            target,
        )));
    };
    let merged = merge_map(original.clone(), patch.clone(), Schema::root(resource))?;
    Ok(Value::Object(merged))
}

/// `reflect.TypeOf(v)` of the value Go decodes (ints are `int64` with PreserveInts).
fn go_type(v: &Value) -> Option<&'static str> {
    match v {
        Value::Null => None,
        Value::Bool(_) => Some("bool"),
        Value::Number(n) if n.is_f64() => Some("float64"),
        Value::Number(_) => Some("int64"),
        Value::String(_) => Some("string"),
        Value::Array(_) => Some("[]interface {}"),
        Value::Object(_) => Some("map[string]interface {}"),
    }
}

/// `mergepatch.ErrBadArgType`.
fn bad_arg_type(expected: &str, actual: &Value) -> String {
    format!(
        "expected a {expected}, but received a {}",
        go_type(actual).unwrap_or("%!s(<nil>)")
    )
}

/// `mergepatch.ErrNoMergeKey`.
fn no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::Internal(format!(
        "map: {} does not contain declared merge key: {key}",
        go_fmt_map(m, false)
    ))
}

/// `mergepatch.ErrBadPatchType`.
fn bad_patch_type(t: &Value, m: &Map<String, Value>) -> PatchError {
    PatchError::Internal(format!(
        "unknown patch type: {} in map: {}",
        go_fmt(t, true),
        go_fmt_map(m, false)
    ))
}

/// Go's `%v` (or `%s` when `s`) of a decoded JSON value.
fn go_fmt(v: &Value, s: bool) -> String {
    let scalar = |ty: &str, text: String| if s { format!("%!s({ty}={text})") } else { text };
    match v {
        Value::Null if s => "%!s(<nil>)".to_owned(),
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => scalar("bool", b.to_string()),
        Value::Number(n) => match n.as_f64().filter(|_| n.is_f64()) {
            Some(f) => scalar("float64", go_float(f)),
            None => scalar("int64", n.to_string()),
        },
        Value::String(t) => t.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(|e| go_fmt(e, s)).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => go_fmt_map(m, s),
    }
}

/// Go's `%v` of a `map[string]interface{}`: keys sorted.
fn go_fmt_map(m: &Map<String, Value>, s: bool) -> String {
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let parts: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{k}:{}", go_fmt(v, s)))
        .collect();
    format!("map[{}]", parts.join(" "))
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)` with the exponent threshold 6).
fn go_float(f: f64) -> String {
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        return f.to_string();
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
}

fn is_directive_key(k: &str) -> bool {
    k == DIRECTIVE
        || k == RETAIN_KEYS
        || k.starts_with(SET_ELEMENT_ORDER)
        || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

/// Cleans a value taken from the patch as-is. `drop_directive_maps` is apimachinery's
/// `removeDirectives` (a map carrying `$patch` disappears), used for values new to the object;
/// otherwise (replaced values) only the directive keys go, as the typed decoding drops them.
/// Null members are discarded (`discardNullValuesFromPatch`; decoding would zero them).
/// Returns `None` when the value itself must disappear.
fn clean(v: Value, drop_directive_maps: bool) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if drop_directive_maps && m.contains_key(DIRECTIVE) {
                return None;
            }
            let m = m
                .into_iter()
                .filter(|(k, v)| !v.is_null() && !is_directive_key(k))
                .filter_map(|(k, v)| clean(v, drop_directive_maps).map(|v| (k, v)))
                .collect();
            Some(Value::Object(m))
        }
        Value::Array(a) => Some(Value::Array(
            a.into_iter()
                .filter_map(|e| clean(e, drop_directive_maps))
                .collect(),
        )),
        other => Some(other),
    }
}

fn clean_list(list: Vec<Value>, drop_directive_maps: bool) -> Vec<Value> {
    list.into_iter()
        .filter_map(|e| clean(e, drop_directive_maps))
        .collect()
}

/// `extractKey`: the list name after `<prefix>/`.
fn extract_key(key: &str, prefix: &str) -> Result<String, PatchError> {
    match key.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest.to_owned()),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => Err(PatchError::BadRequest(
            "invalid patch format of primitive list".to_owned(),
        )),
        _ => Err(PatchError::BadRequest(
            "invalid patch format of setElementOrder list".to_owned(),
        )),
    }
}

/// Go's `reflect.Kind` of list elements that matters here.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ElemKind {
    Map,
    Scalar,
}

/// `sliceElementType`: every element of every list must have the same Go type.
fn slice_element_type(lists: &[&[Value]]) -> Result<ElemKind, PatchError> {
    let mut first: Option<Option<&str>> = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        let t = go_type(v);
        match first {
            None => {
                match t {
                    None => return Err(PatchError::Internal(NIL_DEREF.to_owned())),
                    Some("[]interface {}") => {
                        return Err(PatchError::Invalid(
                            "lists of lists are not supported".to_owned(),
                        ));
                    }
                    _ => {}
                }
                first = Some(t);
            }
            Some(f) if f != t => {
                let all: Vec<String> = lists
                    .iter()
                    .map(|l| go_fmt(&Value::Array(l.to_vec()), false))
                    .collect();
                return Err(PatchError::Internal(format!(
                    "list element types are not identical: [{}]",
                    all.join(" ")
                )));
            }
            Some(_) => {}
        }
    }
    match first {
        None => Err(PatchError::Internal(
            "no elements in any of the given slices".to_owned(),
        )),
        Some(Some("map[string]interface {}")) => Ok(ElemKind::Map),
        Some(_) => Ok(ElemKind::Scalar),
    }
}

/// What `index()` compares: the merge-key value for maps (`None` when absent), else the item.
fn order_key<'v>(v: &'v Value, merge_key: &str, kind: ElemKind) -> Option<&'v Value> {
    match kind {
        ElemKind::Map => v.as_object().and_then(|m| m.get(merge_key)),
        ElemKind::Scalar => Some(v),
    }
}

fn index_in(list: &[Value], v: &Value, merge_key: &str, kind: ElemKind) -> Option<usize> {
    let key = order_key(v, merge_key, kind);
    list.iter()
        .position(|e| order_key(e, merge_key, kind) == key)
}

/// `mergeKeyValueEqual`.
fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let l = left
        .as_object()
        .ok_or_else(|| PatchError::Internal(bad_arg_type("map[string]interface {}", left)))?;
    let r = right
        .as_object()
        .ok_or_else(|| PatchError::Internal(bad_arg_type("map[string]interface {}", right)))?;
    let lv = l.get(merge_key).ok_or_else(|| no_merge_key(l, merge_key))?;
    let rv = r.get(merge_key).ok_or_else(|| no_merge_key(r, merge_key))?;
    Ok(lv == rv)
}

fn is_delete_item(v: &Value) -> bool {
    v.get(DIRECTIVE).and_then(Value::as_str) == Some("delete")
}

/// `extractToDeleteItems`: (kept, to delete); every item must be a map.
fn extract_to_delete_items(list: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    if let Some(bad) = list.iter().find(|v| !v.is_object()) {
        return Err(PatchError::Internal(bad_arg_type(
            "map[string]interface {}",
            bad,
        )));
    }
    Ok(list.into_iter().partition(|v| !is_delete_item(v)))
}

/// `validatePatchWithSetOrderList`: the patch items must appear in the `$setElementOrder` list,
/// in the same relative order.
fn validate_patch_with_set_order_list(
    patch: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<Value> = if merge_key.is_empty() {
        patch.to_vec()
    } else {
        extract_to_delete_items(patch.to_vec())?.0
    };
    let (mut p, mut s) = (0, 0);
    while p < non_delete.len() && s < order.len() {
        if non_delete[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if merge_key_value_equal(&non_delete[p], &order[s], merge_key)? {
            p += 1;
        }
        s += 1;
    }
    if p < non_delete.len() && s >= order.len() {
        return Err(PatchError::Internal(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            go_fmt(&Value::Array(patch.to_vec()), false),
            go_fmt(&Value::Array(order.to_vec()), false)
        )));
    }
    Ok(())
}

/// `findMapInSliceBasedOnKeyValue`: the index of the first map whose merge key equals `value`.
fn find_by_key(list: &[Value], key: &str, value: &Value) -> Result<Option<usize>, PatchError> {
    for (i, v) in list.iter().enumerate() {
        let m = v
            .as_object()
            .ok_or_else(|| PatchError::Internal(format!("value for key {i} is not a map")))?;
        if m.get(key) == Some(value) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// `partitionMapsByPresentInList` / `partitionPrimitivesByPresentInList`: (in `by`, not in `by`).
fn partition(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let (mut present, mut server_only) = (Vec::new(), Vec::new());
    for v in merged {
        let found = if merge_key.is_empty() {
            by.contains(&v)
        } else {
            let m = v
                .as_object()
                .ok_or_else(|| PatchError::Internal(bad_arg_type("map[string]interface {}", &v)))?;
            let key_value = m.get(merge_key).ok_or_else(|| no_merge_key(m, merge_key))?;
            find_by_key(by, merge_key, key_value)?.is_some()
        };
        if found {
            present.push(v);
        } else {
            server_only.push(v);
        }
    }
    Ok((present, server_only))
}

/// `normalizeSliceOrder`: sorts `items` by their position in `order` (Go's stable sort with
/// its "not found sorts first" comparator), `$patch: delete` items last.
fn normalize_slice_order(
    items: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: ElemKind,
) -> Result<Vec<Value>, PatchError> {
    let (items, to_delete) = if kind == ElemKind::Map {
        for v in items.iter().chain(order) {
            let m = v
                .as_object()
                .ok_or_else(|| PatchError::Internal(bad_arg_type("map[string]interface {}", v)))?;
            if !m.contains_key(merge_key) {
                return Err(no_merge_key(m, merge_key));
            }
        }
        extract_to_delete_items(items)?
    } else {
        (items, Vec::new())
    };
    let mut keyed: Vec<(Option<usize>, Value)> = items
        .into_iter()
        .map(|v| (index_in(order, &v, merge_key, kind), v))
        .collect();
    // sort.SliceStable is an insertion sort up to 20 elements; with its comparator
    // (less(i, j) = both found && i before j, else true) an item not in `order` moves to the
    // front. Longer lists only ever hold found items here, where a stable sort is identical.
    let less = |a: Option<usize>, b: Option<usize>| match (a, b) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    };
    if keyed.len() <= 20 {
        for i in 1..keyed.len() {
            let mut j = i;
            while j > 0 && less(keyed[j].0, keyed[j - 1].0) {
                keyed.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        keyed.sort_by_key(|(i, _)| i.map_or(0, |i| i + 1));
    }
    let mut out: Vec<Value> = keyed.into_iter().map(|(_, v)| v).collect();
    out.extend(to_delete);
    Ok(out)
}

/// `normalizeElementOrder` + `mergeSortedSlice`: patch items in `patch_order` order,
/// server-only items in `server_order` order, interleaved by their positions in `server_order`
/// (an item not in `server_order`, i.e. new, is taken as soon as it is compared).
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: ElemKind,
) -> Result<Vec<Value>, PatchError> {
    let right = normalize_slice_order(patch_items, patch_order, merge_key, kind)?;
    let left = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    let li: Vec<Option<usize>> = left
        .iter()
        .map(|v| index_in(server_order, v, merge_key, kind))
        .collect();
    let ri: Vec<Option<usize>> = right
        .iter()
        .map(|v| index_in(server_order, v, merge_key, kind))
        .collect();
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut left, mut right) = (
        left.into_iter().zip(li).peekable(),
        right.into_iter().zip(ri).peekable(),
    );
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((_, l)), Some((_, r))) => matches!((l, r), (Some(l), Some(r)) if l < r),
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some((v, _)) = next {
            out.push(v);
        }
    }
    Ok(out)
}

/// `mergeMap`.
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Schema<'_>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                match clean(Value::Object(patch), false) {
                    Some(Value::Object(m)) => Ok(m),
                    _ => Ok(Map::new()),
                }
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_patch_type(directive, &patch)),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_patch_into_original(&mut original, &mut patch, schema)?;

    for (key, patch_v) in patch {
        let (key, is_delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            (extract_key(&key, DELETE_FROM_PRIMITIVE_LIST)?, true)
        } else {
            (key, false)
        };
        if patch_v.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let same_type = original.get(&key).map(|o| go_kind_eq(o, &patch_v));
        match same_type {
            // Absent, or of another type: the patch value as-is (a deletion list is dropped).
            None | Some(false) => {
                if !is_delete_list {
                    match clean(patch_v, true) {
                        Some(v) => {
                            original.insert(key, v);
                        }
                        None => {
                            original.shift_remove(&key);
                        }
                    }
                }
            }
            Some(true) => {
                let Some(orig_v) = original.get_mut(&key) else {
                    continue;
                };
                match (orig_v, patch_v) {
                    (Value::Object(o), Value::Object(p)) => {
                        let (sub, meta) = schema.field(&key)?;
                        let o = std::mem::take(o);
                        let merged = if meta.strategy == "replace" {
                            match clean(Value::Object(p), false) {
                                Some(Value::Object(m)) => m,
                                _ => Map::new(),
                            }
                        } else {
                            merge_map(o, p, sub)?
                        };
                        original.insert(key, Value::Object(merged));
                    }
                    (Value::Array(o), Value::Array(p)) => {
                        let (elem, meta) = schema.slice_field(&key)?;
                        let o = std::mem::take(o);
                        let merged = merge_slice_handler(o, p, elem, &meta, is_delete_list)?;
                        original.insert(key, Value::Array(merged));
                    }
                    (slot, p) => *slot = p,
                }
            }
        }
    }
    Ok(original)
}

/// Whether Go would see the same `reflect.Type` kind class (map, slice, scalar).
fn go_kind_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(_), Value::Object(_)) | (Value::Array(_), Value::Array(_)) => true,
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => false,
        _ => true,
    }
}

/// `applyRetainKeysDirective`.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let bad = || PatchError::BadRequest("invalid patch format of retainKeys".to_owned());
    let Value::Array(list) = retain else {
        return Err(bad());
    };
    let keep: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !keep.contains(&k.as_str()) {
            return Err(bad());
        }
    }
    original.retain(|k, _| keep.contains(&k.as_str()));
    Ok(())
}

fn take_list(v: Option<&Value>) -> Result<Option<Vec<Value>>, PatchError> {
    match v {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a.clone())),
        Some(other) => Err(PatchError::Internal(bad_arg_type("[]interface {}", other))),
    }
}

/// `mergePatchIntoOriginal`: merges each list that has a `$setElementOrder/<list>` and orders it.
fn merge_patch_into_original(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: Schema<'_>,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.shift_remove(&key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(PatchError::Internal(bad_arg_type("[]interface {}", &order)));
        };
        let list_key = extract_key(&key, SET_ELEMENT_ORDER)?;
        let orig_list = take_list(original.get(&list_key).filter(|v| !v.is_null()))?;
        let patch_list = take_list(patch.get(&list_key))?;
        let (elem, meta) = schema.slice_field(&list_key)?;
        validate_patch_with_set_order_list(
            patch_list.as_deref().unwrap_or(&[]),
            &order,
            meta.merge_key,
        )?;
        let merged = match (&orig_list, &patch_list) {
            (Some(o), None) => o.clone(),
            (None, Some(p)) => clean_list(p.clone(), true),
            (Some(o), Some(p)) => merge_slice_handler(o.clone(), p.clone(), elem, &meta, false)?,
            (None, None) => continue,
        };
        let (patch_items, server_only) = partition(merged, &order, meta.merge_key)?;
        let orig_list = orig_list.unwrap_or_default();
        let kind = slice_element_type(&[&orig_list, patch_list.as_deref().unwrap_or(&[])])?;
        let both = normalize_element_order(
            patch_items,
            server_only,
            &order,
            &orig_list,
            meta.merge_key,
            kind,
        )?;
        original.insert(list_key.clone(), Value::Array(both));
        patch.shift_remove(&list_key);
    }
    Ok(())
}

/// `mergeSliceHandler`: lists with strategy `merge` (and deletion lists) merge, others are
/// replaced by the patch list.
fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    elem: Schema<'_>,
    meta: &Meta<'_>,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if meta.strategy == "merge" || is_delete_list {
        merge_slice(original, patch, elem, meta.merge_key, is_delete_list)
    } else {
        Ok(clean_list(patch, false))
    }
}

/// `mergeSlice`.
fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    elem: Schema<'_>,
    merge_key: &str,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = slice_element_type(&[&original, &patch])?;
    let (merged, patch_order, server_order) = if kind == ElemKind::Scalar {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(&patch) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        (merged, patch, original)
    } else {
        if merge_key.is_empty() {
            return Err(PatchError::Internal(
                "cannot merge lists without merge key for struct".to_owned(),
            ));
        }
        let (original, patch) = merge_slice_with_special_elements(original, patch, merge_key)?;
        let merged =
            merge_slice_without_special_elements(original.clone(), &patch, merge_key, elem)?;
        (merged, patch, original)
    };
    let (patch_items, server_only) = partition(merged, &patch_order, merge_key)?;
    normalize_element_order(
        patch_items,
        server_only,
        &patch_order,
        &server_order,
        merge_key,
        kind,
    )
}

/// `mergeSliceWithSpecialElements`: applies `$patch: delete` / `replace` list elements.
/// Returns the new original and the patch without special elements.
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut rest = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(PatchError::Internal(bad_arg_type(
                "map[string]interface {}",
                &v,
            )));
        };
        let Some(directive) = m.get(DIRECTIVE) else {
            rest.push(v);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let value = m.get(merge_key).ok_or_else(|| no_merge_key(m, merge_key))?;
                if let Some(bad) = original.iter().position(|o| !o.is_object()) {
                    return Err(PatchError::Internal(format!(
                        "value for key {bad} is not a map"
                    )));
                }
                original.retain(|o| o.get(merge_key) != Some(value));
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(PatchError::Internal(
                    "merging lists cannot yet be specified in the patch".to_owned(),
                ));
            }
            _ => return Err(bad_patch_type(directive, m)),
        }
    }
    if replace {
        Ok((clean_list(rest, false), Vec::new()))
    } else {
        Ok((original, rest))
    }
}

/// `mergeSliceWithoutSpecialElements`: merges each patch element into the original element with
/// the same merge key, or appends it.
fn merge_slice_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    elem: Schema<'_>,
) -> Result<Vec<Value>, PatchError> {
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(PatchError::Internal(bad_arg_type(
                "map[string]interface {}",
                v,
            )));
        };
        let value = m.get(merge_key).ok_or_else(|| no_merge_key(m, merge_key))?;
        match find_by_key(&original, merge_key, value)? {
            Some(i) => {
                let Value::Object(o) = std::mem::take(&mut original[i]) else {
                    continue;
                };
                original[i] = Value::Object(merge_map(o, m.clone(), elem)?);
            }
            None => {
                if let Some(v) = clean(v.clone(), true) {
                    original.push(v);
                }
            }
        }
    }
    Ok(original)
}

#[cfg(test)]
mod tests;
