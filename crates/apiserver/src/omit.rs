//! `metadata.managedFields` left out of a stored object's JSON without parsing it, for the
//! in-process router's watches and lists (`AppState::omit_managed_fields`): the controllers'
//! caches drop the field (`informer::Strip`), so decoding it (a `FieldsV1` tree per
//! manager, most of a Pod's metadata) was work thrown away on every watch event.
//!
//! A scan of the metadata object's members, skipping each value by its brackets and
//! strings: linear in the metadata's bytes, and anything it does not understand leaves the
//! object whole.

use crate::object::META;
use std::borrow::Cow;
use std::ops::Range;

const MANAGED_FIELDS: &[u8] = b"managedFields";

/// The stored object without `metadata.managedFields` (borrowed when it has none).
pub fn without_managed_fields(stored: &[u8]) -> Cow<'_, [u8]> {
    match managed_fields_range(stored) {
        Some(r) => {
            let mut out = Vec::with_capacity(stored.len() - r.len());
            out.extend_from_slice(&stored[..r.start]);
            out.extend_from_slice(&stored[r.end..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(stored),
    }
}

/// The bytes of the `managedFields` member of the first `"metadata":{` object, with one
/// comma beside it when it has a neighbour, so that removing them leaves valid JSON.
pub fn managed_fields_range(s: &[u8]) -> Option<Range<usize>> {
    let mut at = s.windows(META.len()).position(|w| w == META)? + META.len();
    let mut prev_end: Option<usize> = None; // end of the previous member's value
    loop {
        at = skip_ws(s, at);
        if s.get(at) != Some(&b'"') {
            return None; // `}` of an object without it, or not what we write
        }
        let key_start = at;
        let key_end = skip_string(s, at)?;
        let key = &s[key_start + 1..key_end - 1];
        at = skip_ws(s, key_end);
        if s.get(at) != Some(&b':') {
            return None;
        }
        let value_end = skip_value(s, skip_ws(s, at + 1))?;
        let after = skip_ws(s, value_end);
        if key == MANAGED_FIELDS {
            return match (s.get(after), prev_end) {
                (Some(b','), _) => Some(key_start..after + 1),
                (Some(b'}'), Some(p)) => Some(p..value_end),
                (Some(b'}'), None) => Some(key_start..value_end),
                _ => None,
            };
        }
        match s.get(after) {
            Some(b',') => {
                prev_end = Some(value_end);
                at = after + 1;
            }
            _ => return None,
        }
    }
}

fn skip_ws(s: &[u8], mut at: usize) -> usize {
    while s.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
        at += 1;
    }
    at
}

/// The end (exclusive) of the string starting at `at` (its opening quote).
fn skip_string(s: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match s.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// The end (exclusive) of the JSON value starting at `at`.
fn skip_value(s: &[u8], at: usize) -> Option<usize> {
    match s.get(at)? {
        b'"' => skip_string(s, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match s.get(i)? {
                    b'"' => {
                        i = skip_string(s, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = at;
            while s
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                i += 1;
            }
            (i > at).then_some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn stripped(v: &Value) -> Value {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
        }
        v
    }

    #[test]
    fn managed_fields_leave_and_nothing_else_does() {
        let mf = json!([{"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:a\"]}": {}}}}}]);
        // (case, object as stored: members in this order)
        let cases: Vec<(&str, Value)> = vec![
            (
                "first of several",
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"managedFields": mf, "name": "a", "uid": "u"}}),
            ),
            (
                "in the middle",
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "managedFields": mf, "uid": "u"}}),
            ),
            (
                "last",
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "generation": 3, "managedFields": mf}, "spec": {}}),
            ),
            (
                "alone",
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"managedFields": mf}, "status": {"phase": "Running"}}),
            ),
            (
                "absent",
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "spec": {"managedFields": [1]}}),
            ),
            (
                "named in strings only",
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
                "annotations": {"x": "\"managedFields\":[{]}\\", "managedFields": "not metadata's"},
                "labels": {"k": "v"}, "deletionGracePeriodSeconds": 30, "finalizers": ["f"],
                "ownerReferences": [{"controller": true, "uid": "j"}], "managedFields": mf, "name": "b"}}),
            ),
            (
                "empty metadata",
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {}}),
            ),
        ];
        for (case, obj) in cases {
            let stored = serde_json::to_vec(&obj).expect("json");
            let out = without_managed_fields(&stored);
            let got: Value = serde_json::from_slice(&out)
                .unwrap_or_else(|e| panic!("{case}: {e}: {}", String::from_utf8_lossy(&out)));
            assert_eq!(got, stripped(&obj), "{case}");
            assert_eq!(
                matches!(out, Cow::Borrowed(_)),
                obj["metadata"].get("managedFields").is_none(),
                "{case}: copied only when there was something to leave out"
            );
        }
    }

    #[test]
    fn what_the_scan_does_not_understand_stays_whole() {
        for s in [
            &br#"{"metadata":{"name":"a","managedFields":[{"x":1}"#[..],
            br#"{"metadata":{"name":"a" "managedFields":[]}}"#,
            br#"{"metadata":{"name":"a","managedFields":"#,
            br#"{"metadata":{"name":"a","managedFields":[]"#,
            b"not json",
        ] {
            assert_eq!(
                managed_fields_range(s),
                None,
                "{}",
                String::from_utf8_lossy(s)
            );
            assert_eq!(&*without_managed_fields(s), s);
        }
    }
}
