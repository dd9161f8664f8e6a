//! Stored objects: storage keys, and the splice that puts the revision into the stored JSON
//! as `metadata.resourceVersion` without parsing it.
//!
//! Objects are stored as JSON without `metadata.resourceVersion`, because the revision is only
//! known once the store has ordered the write; every read splices the key's revision in.

use crate::error::{ApiError, ApiResult};
use api::resource::ResourceInfo;
use bytes::Bytes;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// The storage key of an object: `/batch/jobs/default/pi`, `/core/namespaces/default`.
pub fn key(r: &ResourceInfo, namespace: Option<&str>, name: &str) -> String {
    let group = if r.group.is_empty() { "core" } else { r.group };
    match namespace {
        Some(ns) if r.namespaced => format!("/{group}/{}/{ns}/{name}", r.plural),
        _ => format!("/{group}/{}/{name}", r.plural),
    }
}

/// The key prefix of a collection: one namespace, or all of them.
pub fn prefix(r: &ResourceInfo, namespace: Option<&str>) -> String {
    let group = if r.group.is_empty() { "core" } else { r.group };
    match namespace {
        Some(ns) if r.namespaced => format!("/{group}/{}/{ns}/", r.plural),
        _ => format!("/{group}/{}/", r.plural),
    }
}

/// Where an object's metadata starts in its stored JSON (written first after `apiVersion`
/// and `kind`: [`to_stored`]).
pub(crate) const META: &[u8] = b"\"metadata\":{";

/// Returns the stored JSON with `"resourceVersion":"<rev>"` first in its metadata.
pub fn with_revision(stored: &[u8], rev: u64) -> Bytes {
    let mut out = Vec::with_capacity(stored.len() + REVISION_LEN);
    append_with_revision(&mut out, stored, rev);
    Bytes::from(out)
}

/// Room for `"resourceVersion":"<u64>",` (41 bytes at most).
pub const REVISION_LEN: usize = 48;

/// Appends the stored JSON to `out` with `"resourceVersion":"<rev>"` first in its
/// metadata: written in place into a watch event's line or a list's body, without a copy
/// of each object of its own first.
pub fn append_with_revision(out: &mut Vec<u8>, stored: &[u8], rev: u64) {
    use std::io::Write as _;
    let Some(at) = stored
        .windows(META.len())
        .position(|w| w == META)
        .map(|p| p + META.len())
    else {
        out.extend_from_slice(stored);
        return;
    };
    out.extend_from_slice(&stored[..at]);
    // Writing into a Vec cannot fail.
    let _ = write!(out, "\"resourceVersion\":\"{rev}\"");
    if stored.get(at) != Some(&b'}') {
        out.push(b',');
    }
    out.extend_from_slice(&stored[at..]);
}

/// Serializes an object for storage: `apiVersion`, `kind` and `metadata` first (so that
/// [`with_revision`] finds the metadata at once), `metadata.resourceVersion` removed.
/// Written straight from `obj`, without copying it.
///
/// Serialized into a buffer kept per thread and copied out at its exact size: a `Vec`
/// grown from empty reallocates (and copies) a few KB object ten times on the way, and
/// the stored value, which the store's cache and watch history keep, would keep up to
/// twice its length.
pub fn to_stored(obj: &Value) -> ApiResult<Bytes> {
    /// The buffer a thread keeps between objects (one bigger than this is dropped after use).
    const KEPT: usize = 64 * 1024;
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let Value::Object(map) = obj else {
        return Err(ApiError::Internal("object is not a JSON object".into()));
    };
    SCRATCH.with_borrow_mut(|buf| {
        buf.clear();
        let written = serde_json::to_writer(&mut *buf, &Stored(map));
        let out = written.map(|()| Bytes::copy_from_slice(buf));
        if buf.capacity() > KEPT {
            *buf = Vec::new();
        }
        out.map_err(|e| ApiError::Internal(e.to_string()))
    })
}

/// An object in its stored order.
struct Stored<'a>(&'a Map<String, Value>);

impl Serialize for Stored<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let map = self.0;
        let mut out = s.serialize_map(None)?;
        for k in ["apiVersion", "kind"] {
            if let Some(v) = map.get(k) {
                out.serialize_entry(k, v)?;
            }
        }
        out.serialize_entry("metadata", &StoredMeta(map.get("metadata")))?;
        for (k, v) in map {
            if !matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                out.serialize_entry(k, v)?;
            }
        }
        out.end()
    }
}

/// `metadata` without `resourceVersion`, its fields in the order `Map::remove` (a swap
/// remove) leaves them: the last field takes `resourceVersion`'s place. `{}` if absent.
struct StoredMeta<'a>(Option<&'a Value>);

impl Serialize for StoredMeta<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let meta = match self.0 {
            None => return s.serialize_map(Some(0))?.end(),
            Some(Value::Object(m)) => m,
            Some(other) => return other.serialize(s),
        };
        let entries: Vec<(&String, &Value)> = meta.iter().collect();
        let rv = entries.iter().position(|(k, _)| *k == "resourceVersion");
        let mut out = s.serialize_map(None)?;
        match rv {
            None => {
                for (k, v) in &entries {
                    out.serialize_entry(k, v)?;
                }
            }
            Some(i) => {
                let last = entries.len() - 1;
                for (j, (k, v)) in entries.iter().enumerate().take(last) {
                    let (k, v) = if j == i { entries[last] } else { (*k, *v) };
                    out.serialize_entry(k, v)?;
                }
            }
        }
        out.end()
    }
}

/// Parses a stored object and sets its resourceVersion.
pub fn from_stored(stored: &[u8], rev: u64) -> ApiResult<Value> {
    let mut v: Value = serde_json::from_slice(stored)
        .map_err(|e| ApiError::Internal(format!("stored object: {e}")))?;
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("resourceVersion".into(), Value::String(rev.to_string()));
    }
    Ok(v)
}

/// `metadata.<field>` as a string.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// `metadata` as a mutable map, created if missing.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = Value::Object(Map::new());
    }
    match obj.get_mut("metadata") {
        Some(Value::Object(m)) => m,
        _ => unreachable!("metadata was just made an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn revision_is_spliced_into_metadata() {
        let obj = json!({"kind": "Job", "apiVersion": "batch/v1", "spec": {"x": 1}, "metadata": {"name": "a", "resourceVersion": "9"}});
        let stored = to_stored(&obj).expect("stored");
        assert!(
            stored.starts_with(br#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"a"}"#)
        );
        let out: Value = serde_json::from_slice(&with_revision(&stored, 42)).expect("json");
        assert_eq!(out["metadata"]["resourceVersion"], "42");
        assert_eq!(out["metadata"]["name"], "a");
        let empty = to_stored(&json!({"kind": "X"})).expect("stored");
        let out: Value = serde_json::from_slice(&with_revision(&empty, 1)).expect("json");
        assert_eq!(out["metadata"]["resourceVersion"], "1");
        let mut appended = b"[".to_vec();
        append_with_revision(&mut appended, &stored, u64::MAX);
        assert_eq!(appended[1..], with_revision(&stored, u64::MAX));
        assert!(with_revision(&stored, u64::MAX).len() <= stored.len() + REVISION_LEN);
        assert_eq!(
            from_stored(&stored, 5).expect("parse")["metadata"]["resourceVersion"],
            "5"
        );
    }

    /// Objects bigger than the buffer a thread keeps come out whole, and so do the small
    /// ones after them.
    #[test]
    fn big_and_small_objects_are_stored_whole() {
        let big = json!({"kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"x": "y".repeat(100_000)}});
        let small = json!({"kind": "ConfigMap", "metadata": {"name": "s"}});
        for obj in [&big, &small, &big, &small] {
            let stored = to_stored(obj).expect("stored");
            assert_eq!(
                serde_json::from_slice::<Value>(&stored).expect("json"),
                *obj
            );
        }
    }

    /// The stored form as it was built before: a reordered copy of the object, serialized.
    fn copied(obj: &Value) -> Vec<u8> {
        let map = obj.as_object().expect("object");
        let mut ordered = Map::new();
        for k in ["apiVersion", "kind"] {
            if let Some(v) = map.get(k) {
                ordered.insert(k.into(), v.clone());
            }
        }
        let mut meta = map
            .get("metadata")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        if let Some(m) = meta.as_object_mut() {
            m.remove("resourceVersion");
        }
        ordered.insert("metadata".into(), meta);
        for (k, v) in map {
            if !matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                ordered.insert(k.clone(), v.clone());
            }
        }
        serde_json::to_vec(&Value::Object(ordered)).expect("json")
    }

    #[test]
    fn the_stored_bytes_are_the_reordered_copys() {
        let cases = [
            json!({"kind": "Job", "apiVersion": "batch/v1", "spec": {"x": [1, {"a": null}]},
                "metadata": {"name": "a", "resourceVersion": "9", "uid": "u", "labels": {"k": "v"}}}),
            json!({"metadata": {"resourceVersion": "9"}, "kind": "X"}),
            json!({"metadata": {"name": "n", "resourceVersion": "9"}}),
            json!({"metadata": {"resourceVersion": "9", "name": "n", "namespace": "d", "generation": 1}}),
            json!({"status": {}, "metadata": {"name": "n"}, "apiVersion": "v1"}),
            json!({"metadata": "weird", "kind": "X", "x": "\u{e9}\"q\""}),
            json!({"metadata": null}),
            json!({}),
        ];
        for obj in cases {
            let got = to_stored(&obj).expect("stored");
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&copied(&obj)),
                "{obj}"
            );
        }
    }
}
