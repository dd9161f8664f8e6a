//! The strategies' create-time preparation (`PrepareForCreate`) applied to an encoded
//! object: admission encodes a create once, as defaulted (what field ownership is recorded
//! on), and this puts into that encoding the few fields the preparation changed on the
//! typed object, where encoding the whole prepared object would have put them.

use crate::error::ApiResult;
use crate::registry::admission::encode;
use api::resource::ResourceInfo;
use k8s_openapi::api::{batch::v1 as batch, core::v1 as core};
use serde_json::{Map, Value};
use std::any::Any;

/// Makes `out` (the defaulted `t`'s encoding) the encoding of `t` as prepared and validated.
/// `false` if it cannot (a kind whose preparation is not known here, or an encoding of an
/// unexpected shape): the caller then encodes `t` whole.
pub(crate) fn apply<T: Any>(r: &'static ResourceInfo, t: &T, out: &mut Value) -> ApiResult<bool> {
    let t: &dyn Any = t;
    match (r.group, r.kind) {
        // Validation only: nothing changes.
        ("batch", "CronJob") | ("", "Namespace") => Ok(true),
        ("batch", "Job") => match t.downcast_ref::<batch::Job>() {
            Some(job) => job_prepared(r, job, out),
            None => Ok(false),
        },
        ("", "Pod") => match t.downcast_ref::<core::Pod>() {
            Some(pod) => pod_prepared(r, pod, out),
            None => Ok(false),
        },
        _ => Ok(false),
    }
}

/// `jobStrategy.PrepareForCreate`: no status, the uid, and (unless `manualSelector`) the
/// template's and the Job's labels and the selector.
fn job_prepared(r: &'static ResourceInfo, job: &batch::Job, out: &mut Value) -> ApiResult<bool> {
    let mut parts = batch::Job::default();
    parts.metadata.labels.clone_from(&job.metadata.labels);
    parts.metadata.uid.clone_from(&job.metadata.uid);
    let Some(spec) = &job.spec else {
        return Ok(false);
    };
    parts.spec = Some(batch::JobSpec {
        selector: spec.selector.clone(),
        template: core::PodTemplateSpec {
            metadata: spec.template.metadata.clone(),
            spec: None,
        },
        ..Default::default()
    });
    let parts = encode(r, &parts)?;
    let part = |path: &[&str]| path.iter().try_fold(&parts, |v, k| v.get(*k)).cloned();
    let Some(o) = out.as_object_mut() else {
        return Ok(false);
    };
    o.shift_remove("status");
    let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) else {
        return Ok(false);
    };
    put(meta, "labels", part(&["metadata", "labels"]));
    put(meta, "uid", part(&["metadata", "uid"]));
    let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(false);
    };
    put(spec, "selector", part(&["spec", "selector"]));
    let Some(template) = spec.get_mut("template").and_then(Value::as_object_mut) else {
        return Ok(false);
    };
    put(
        template,
        "metadata",
        part(&["spec", "template", "metadata"]),
    );
    Ok(true)
}

/// `podStrategy.PrepareForCreate`: the status is the server's.
fn pod_prepared(r: &'static ResourceInfo, pod: &core::Pod, out: &mut Value) -> ApiResult<bool> {
    let parts = encode(
        r,
        &core::Pod {
            status: pod.status.clone(),
            ..Default::default()
        },
    )?;
    let Some(o) = out.as_object_mut() else {
        return Ok(false);
    };
    put(o, "status", parts.get("status").cloned());
    Ok(true)
}

/// Sets (or, for `None`, removes) a struct field of an encoding, at its place among the
/// fields (k8s-openapi encodes a struct's fields in alphabetical order).
fn put(map: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    match (v, map.get_mut(key)) {
        (None, _) => {
            map.shift_remove(key);
        }
        (Some(v), Some(slot)) => *slot = v,
        (Some(v), None) => {
            let at = map
                .keys()
                .position(|k| k.as_str() > key)
                .unwrap_or(map.len());
            map.shift_insert(at, key.to_owned(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::put;
    use serde_json::{Map, Value, json};

    #[test]
    fn put_keeps_alphabetical_places() {
        let table: [(Value, &str, Option<Value>, &str); 5] = [
            (
                json!({"a": 1, "c": 3}),
                "b",
                Some(json!(2)),
                r#"{"a":1,"b":2,"c":3}"#,
            ),
            (
                json!({"a": 1, "c": 3}),
                "d",
                Some(json!(4)),
                r#"{"a":1,"c":3,"d":4}"#,
            ),
            (json!({"b": 1}), "a", Some(json!(0)), r#"{"a":0,"b":1}"#),
            (
                json!({"a": 1, "b": 2, "c": 3}),
                "b",
                Some(json!(9)),
                r#"{"a":1,"b":9,"c":3}"#,
            ),
            (
                json!({"a": 1, "b": 2, "c": 3}),
                "b",
                None,
                r#"{"a":1,"c":3}"#,
            ),
        ];
        for (mut v, key, put_v, want) in table {
            let m: &mut Map<String, Value> = v.as_object_mut().expect("object");
            put(m, key, put_v);
            assert_eq!(v.to_string(), want);
        }
    }
}
