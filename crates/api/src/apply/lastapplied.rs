//! The bridge between client-side apply and server-side apply for the manager `kubectl`
//! (`lastappliedmanager.go`, `lastappliedupdater.go`): conflicts on fields whose live value
//! is still what the `kubectl.kubernetes.io/last-applied-configuration` annotation says are
//! forced, and a server-side apply keeps an existing annotation up to date.

use super::path::{go_json, path_string, values_equal};
use super::ty::Ty;
use super::walk;
use serde_json::Value;
use std::collections::HashSet;

/// The client-side apply annotation.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The manager whose applies maintain the annotation.
const KUBECTL: &str = "kubectl";

/// Total annotation size limit (`TotalAnnotationSizeLimitB`).
const ANNOTATIONS_LIMIT: usize = 256 * 1024;

fn annotation(obj: &Value) -> Option<&str> {
    obj.get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// The fields (as paths) whose conflicts the annotation allows: those it sets to the value
/// they still have.
pub(crate) fn allowed_conflicts(ty: Ty<'_>, live: &Value) -> Option<HashSet<String>> {
    let last: Value = serde_json::from_str(annotation(live)?).ok()?;
    if !last.is_object() {
        return None;
    }
    let set = walk::field_set(ty, &last, false).ok()?;
    let modified = walk::compare(ty, &last, live).modified;
    Some(
        set.difference(&modified)
            .paths()
            .iter()
            .map(|p| path_string(p))
            .collect(),
    )
}

/// After an apply by `kubectl`: an existing annotation becomes the applied configuration
/// (without the annotation itself), compact JSON with sorted keys and a newline.
pub(crate) fn update_annotation(manager: &str, obj: &mut Value, applied: &Value) {
    if manager != KUBECTL || annotation(obj).is_none() {
        return;
    }
    let mut config = applied.clone();
    if let Some(a) = config
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        a.remove(LAST_APPLIED);
    }
    let mut text = String::new();
    go_json(&config, &mut text);
    text.push('\n');
    let Some(annotations) = obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let others: usize = annotations
        .iter()
        .filter(|(k, _)| k.as_str() != LAST_APPLIED)
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if others + LAST_APPLIED.len() + text.len() > ANNOTATIONS_LIMIT {
        annotations.remove(LAST_APPLIED);
    } else if !annotations
        .get(LAST_APPLIED)
        .is_some_and(|v| values_equal(v, &Value::String(text.clone())))
    {
        annotations.insert(LAST_APPLIED.into(), Value::String(text));
    }
}
