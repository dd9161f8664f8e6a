//! Admission: each kind's defaulting and validation (from the `api` crate), run on the typed
//! Kubernetes object, so that what is stored is what a real server would store.

use crate::error::{ApiError, ApiResult};
use crate::registry::decode::cannot_handle;
use crate::registry::prepared;
use api::defaults;
use api::resource::ResourceInfo;
use api::validation::{self, FieldError};
use k8s_openapi::Metadata;
use k8s_openapi::api::{batch::v1 as batch, coordination::v1 as coordination, core::v1 as core};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// What is being admitted.
#[derive(Debug, Clone, Copy)]
pub enum Op<'a> {
    /// A new object.
    Create,
    /// A change to the main resource.
    Update {
        /// The stored object.
        old: &'a Value,
    },
    /// A change through the `status` subresource.
    Status {
        /// The stored object.
        old: &'a Value,
    },
}

impl Op<'_> {
    fn old(&self) -> Option<&Value> {
        match self {
            Op::Create => None,
            Op::Update { old } | Op::Status { old } => Some(old),
        }
    }
}

/// Records the field ownership of a create from the object as decoded and defaulted (before
/// the strategy's preparation and validation): returns the managedFields to store.
pub type Recorder<'a> = &'a mut dyn FnMut(&Value) -> Option<Value>;

/// Decodes `obj` as `T`, defaults it, lets `record` (a create's field ownership) see the
/// defaulted object, prepares and validates it (`check`), and encodes the result. One decode
/// and one defaulting per write.
fn typed<T: DeserializeOwned + Serialize + Metadata<Ty = ObjectMeta> + 'static>(
    r: &'static ResourceInfo,
    obj: Value,
    op: Op<'_>,
    record: Option<Recorder<'_>>,
    default: fn(&mut T),
    check: impl FnOnce(&mut T, Option<&T>, Op<'_>) -> Vec<FieldError>,
) -> ApiResult<Value> {
    let name = obj
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // Decoded from a reference so that, on failure, the body is still there to name the
    // mismatched field in Go's words (serde's own message is the fallback).
    let mut t = match T::deserialize(&obj) {
        Ok(t) => t,
        Err(e) => {
            return Err(match api::unmarshal::type_error(r, &obj) {
                Some(go) => cannot_handle(r, go),
                None => cannot_handle(r, e),
            });
        }
    };
    drop(obj);
    let old: Option<T> = match op.old() {
        Some(o) => {
            Some(T::deserialize(o).map_err(|e| ApiError::Internal(format!("stored object: {e}")))?)
        }
        None => None,
    };
    default(&mut t);
    // A create's recorder sees the defaulted object's encoding, which then becomes the
    // stored one with the preparation's few changes applied: one encode per write.
    let recorded = match record {
        Some(record) => {
            t.metadata_mut().managed_fields = None;
            let defaulted = encode(r, &t)?;
            let managed = record(&defaulted);
            Some((defaulted, managed))
        }
        None => None,
    };
    let errors = check(&mut t, old.as_ref(), op);
    if !errors.is_empty() {
        return Err(ApiError::Invalid {
            resource: r,
            name,
            errors,
        });
    }
    let Some((mut out, managed)) = recorded else {
        return encode(r, &t);
    };
    if prepared::apply(r, &t, &mut out)? {
        #[cfg(debug_assertions)]
        {
            let full = encode(r, &t)?.to_string();
            debug_assert_eq!(out.to_string(), full, "the prepared encoding of {}", r.kind);
        }
    } else {
        out = encode(r, &t)?;
    }
    if let Some(managed) = managed {
        insert_managed_fields(&mut out, managed);
    }
    Ok(out)
}

/// Puts recorded managedFields into an encoded object's `metadata` as encoding them in
/// `ObjectMeta` would: at `managedFields`' place among its (alphabetical) fields, each
/// entry's fields in `ManagedFieldsEntry`'s (alphabetical) order.
fn insert_managed_fields(obj: &mut Value, mut managed: Value) {
    if let Value::Array(entries) = &mut managed {
        for e in entries.iter_mut().filter_map(Value::as_object_mut) {
            e.sort_keys();
        }
    }
    let Some(obj) = obj.as_object_mut() else {
        return;
    };
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if let Some(meta) = meta.as_object_mut() {
        let at = meta
            .keys()
            .position(|k| k.as_str() > "managedFields")
            .unwrap_or(meta.len());
        meta.shift_insert(at, "managedFields".to_owned(), managed);
    }
}

/// `t` as JSON, with Go's `omitempty` on lists and maps.
pub(crate) fn encode<T: Serialize>(r: &'static ResourceInfo, t: &T) -> ApiResult<Value> {
    let mut out = serde_json::to_value(t).map_err(|e| ApiError::Internal(e.to_string()))?;
    api::schema::drop_empty_collections(r, &mut out);
    Ok(out)
}

fn no_defaults<T>(_: &mut T) {}

fn uid_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.uid.clone().unwrap_or_default()
}

/// A compute resource's positive quantity in `list`, if any.
fn positive(
    list: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >,
    name: &str,
) -> Option<validation::Quantity> {
    let q = validation::Quantity::parse(&list?.get(name)?.0)?;
    (q.cmp_value(&validation::Quantity::parse("0")?) == std::cmp::Ordering::Greater).then_some(q)
}

/// The pod's QoS class (`qos.ComputePodQOS`): BestEffort without cpu or memory requests and
/// limits; Guaranteed when every container limits both and requests equal limits.
fn qos_class(spec: Option<&core::PodSpec>) -> &'static str {
    let (mut any, mut guaranteed) = (false, true);
    let containers = spec.into_iter().flat_map(|s| {
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
    });
    for c in containers {
        let res = c.resources.as_ref();
        for name in ["cpu", "memory"] {
            let req = positive(res.and_then(|r| r.requests.as_ref()), name);
            let lim = positive(res.and_then(|r| r.limits.as_ref()), name);
            any |= req.is_some() || lim.is_some();
            let equal = matches!((&req, &lim), (Some(a), Some(b)) if a.cmp_value(b).is_eq());
            guaranteed &= equal;
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

fn default_only<T: DeserializeOwned + Serialize>(
    r: &ResourceInfo,
    obj: &Value,
    f: impl FnOnce(&mut T),
) -> Option<Value> {
    let mut t: T = serde_json::from_value(obj.clone()).ok()?;
    f(&mut t);
    let mut out = serde_json::to_value(&t).ok()?;
    api::schema::drop_empty_collections(r, &mut out);
    Some(out)
}

/// `obj` as the real server's decoder leaves it: defaulted, but before the strategy's
/// create-time preparation and the admission plugins. Field ownership of a create is
/// computed on this. `None` if `obj` does not decode (admission then reports why).
pub fn defaulted(r: &'static ResourceInfo, obj: &Value) -> Option<Value> {
    match (r.group, r.kind) {
        ("batch", "Job") => default_only::<batch::Job>(r, obj, defaults::default_job),
        ("batch", "CronJob") => default_only::<batch::CronJob>(r, obj, defaults::default_cronjob),
        ("", "Pod") => default_only::<core::Pod>(r, obj, defaults::default_pod),
        ("", "Namespace") => default_only::<core::Namespace>(r, obj, defaults::default_namespace),
        _ => Some(obj.clone()),
    }
}

/// Defaults and validates `obj` for `op`; returns the object to store.
pub fn admit(r: &'static ResourceInfo, obj: Value, op: Op<'_>) -> ApiResult<Value> {
    admit_recording(r, obj, op, None)
}

/// Whether [`admit_create_recording`] serves `r`: the kinds whose decoded, defaulted form
/// [`defaulted`] computes.
pub fn records_in_admission(r: &ResourceInfo) -> bool {
    matches!(
        (r.group, r.kind),
        ("batch", "Job" | "CronJob") | ("", "Pod" | "Namespace")
    )
}

/// Admits a create of `obj` (which carries no managedFields) and stores as its managedFields
/// what `record` returns for the object as decoded and defaulted, as [`defaulted`] would
/// give it: the same result as `record(defaulted(obj))` put into `obj` before [`admit`],
/// with one decode and one defaulting instead of two. Only for kinds where
/// [`records_in_admission`] holds.
pub fn admit_create_recording(
    r: &'static ResourceInfo,
    obj: Value,
    record: Recorder<'_>,
) -> ApiResult<Value> {
    admit_recording(r, obj, Op::Create, Some(record))
}

fn admit_recording(
    r: &'static ResourceInfo,
    obj: Value,
    op: Op<'_>,
    record: Option<Recorder<'_>>,
) -> ApiResult<Value> {
    match (r.group, r.kind) {
        ("batch", "Job") => typed::<batch::Job>(
            r,
            obj,
            op,
            record,
            defaults::default_job,
            |job, old, op| match (op, old) {
                (Op::Create, _) => {
                    let uid = uid_of(&job.metadata);
                    defaults::prepare_job_for_create(job, &uid);
                    validation::validate_job_create(job)
                }
                (Op::Update { .. }, Some(old)) => validation::validate_job_update(job, old),
                (Op::Status { .. }, Some(old)) => validation::validate_job_status_update(job, old),
                _ => Vec::new(),
            },
        ),
        ("batch", "CronJob") => typed::<batch::CronJob>(
            r,
            obj,
            op,
            record,
            defaults::default_cronjob,
            |cj, old, op| match (op, old) {
                (Op::Create, _) => validation::validate_cronjob_create(cj),
                (Op::Update { .. }, Some(old)) => validation::validate_cronjob_update(cj, old),
                _ => Vec::new(),
            },
        ),
        ("", "Pod") => typed::<core::Pod>(
            r,
            obj,
            op,
            record,
            defaults::default_pod,
            |pod, old, op| match (op, old) {
                (Op::Create, _) => {
                    // podStrategy.PrepareForCreate: the status is the server's.
                    pod.status = Some(core::PodStatus {
                        phase: Some("Pending".into()),
                        qos_class: Some(qos_class(pod.spec.as_ref()).into()),
                        ..Default::default()
                    });
                    validation::validate_pod_create(pod)
                }
                (Op::Update { .. }, Some(old)) => validation::validate_pod_update(pod, old),
                _ => Vec::new(),
            },
        ),
        ("", "Namespace") => typed::<core::Namespace>(
            r,
            obj,
            op,
            record,
            defaults::default_namespace,
            |ns, _, _| validation::validate_namespace(ns),
        ),
        ("", "Event") => typed::<core::Event>(r, obj, op, record, no_defaults, |ev, _, _| {
            validation::validate_event(ev)
        }),
        ("", "Node") => typed::<core::Node>(r, obj, op, record, no_defaults, |node, _, _| {
            validation::validate_node(node)
        }),
        ("", "PersistentVolumeClaim") => typed::<core::PersistentVolumeClaim>(
            r,
            obj,
            op,
            record,
            defaults::default_pvc,
            |pvc, old, op| match (op, old) {
                (Op::Create, _) => validation::validate_pvc_create(pvc),
                (Op::Update { .. }, Some(old)) => validation::validate_pvc_update(pvc, old),
                _ => Vec::new(),
            },
        ),
        ("coordination.k8s.io", "Lease") => {
            typed::<coordination::Lease>(r, obj, op, record, no_defaults, |lease, old, op| {
                defaults::prepare_lease(lease, old);
                match (op, old) {
                    (Op::Update { .. }, Some(old)) => validation::validate_lease_update(lease, old),
                    _ => validation::validate_lease_create(lease),
                }
            })
        }
        _ => Ok(obj),
    }
}

/// batchlet's `Warning` headers for a create: a CronJob whose schedule has runs in a
/// daylight-saving gap (skipped) or overlap (run twice) in the coming year. Objects that do
/// not validate get none here (admission rejects them).
pub fn create_warnings(r: &ResourceInfo, obj: &Value, now: jiff::Timestamp) -> Vec<String> {
    if (r.group, r.kind) != ("batch", "CronJob") {
        return Vec::new();
    }
    let spec = obj.get("spec");
    let field = |k: &str| spec.and_then(|s| s.get(k)).and_then(Value::as_str);
    let Some(Ok(schedule)) = field("schedule").map(api::schedule::Schedule::parse) else {
        return Vec::new();
    };
    let zone = field("timeZone");
    match api::schedule::time_zone(zone) {
        Ok(tz) => api::schedule::dst_warnings(&schedule, zone.unwrap_or("UTC"), &tz, now),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    //! Recording a create's managedFields inside admission stores the same bytes as putting
    //! them into the body and admitting it (the typed `ManagedFieldsEntry` round trip).

    use super::*;
    use crate::registry::managed;
    use serde_json::json;

    fn stored_both_ways(r: &'static ResourceInfo, obj: Value) -> (String, String) {
        let record = |d: &Value| {
            managed::on_create(r, &Value::Null, d, "kubectl-create", "2026-11-27T18:00:00Z")
        };
        let recorded =
            admit_create_recording(r, obj.clone(), &mut |d: &Value| record(d)).expect("admitted");
        let mut body = obj.clone();
        let m = record(&defaulted(r, &obj).expect("defaulted")).expect("fields");
        body["metadata"]["managedFields"] = m;
        let typed = admit(r, body, Op::Create).expect("admitted");
        (recorded.to_string(), typed.to_string())
    }

    #[test]
    fn recorded_managed_fields_are_stored_as_the_typed_round_trip_would() {
        let find = |p: &str| {
            let g = if matches!(p, "pods" | "namespaces") {
                ("", "v1")
            } else {
                ("batch", "v1")
            };
            api::resource::find(g.0, g.1, p).expect("resource")
        };
        let meta = |name: &str| {
            json!({"name": name, "namespace": "default", "uid": "0b0e4a4e-3c44-4b7e-9d3e-1a2b3c4d5e6f",
                "creationTimestamp": "2026-11-27T18:00:00Z", "generation": 1,
                "labels": {"app": "x"}, "annotations": {"a": "b"}, "finalizers": ["f/g"],
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "c", "uid": "u", "controller": true}]})
        };
        let template = json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "c",
            "image": "busybox", "command": ["true"], "ports": [{"containerPort": 80}],
            "env": [{"name": "A", "value": "1"}]}]}});
        let cases = [
            (
                find("jobs"),
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("j"),
                "spec": {"completions": 2, "template": template}}),
            ),
            (
                find("pods"),
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta("p"),
                "spec": template["spec"]}),
            ),
            (
                find("cronjobs"),
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("c"),
                "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}),
            ),
            // No labels anywhere; template labels only; a manual selector; a Pod with a status.
            (
                find("jobs"),
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "bare", "namespace": "d", "uid": "u1"},
                "spec": {"template": {"spec": template["spec"]}}}),
            ),
            (
                find("jobs"),
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "tl", "namespace": "d", "uid": "u2"},
                "spec": {"template": {"metadata": {"labels": {"t": "1"}}, "spec": template["spec"]}}}),
            ),
            (
                find("jobs"),
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "ms", "namespace": "d", "uid": "u3"},
                "spec": {"manualSelector": true, "selector": {"matchLabels": {"t": "1"}},
                "template": {"metadata": {"labels": {"t": "1"}}, "spec": template["spec"]}}}),
            ),
            (
                find("pods"),
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "s", "namespace": "d", "uid": "u4"},
                "spec": template["spec"], "status": {"phase": "Running", "podIP": "1.2.3.4"}}),
            ),
            (
                find("namespaces"),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
            ),
        ];
        for (r, obj) in cases {
            let (recorded, typed) = stored_both_ways(r, obj);
            assert!(
                recorded.contains("\"managedFields\":[{\"apiVersion\""),
                "{recorded}"
            );
            assert_eq!(recorded, typed);
        }
    }
}
