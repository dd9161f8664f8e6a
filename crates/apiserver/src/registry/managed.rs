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
    if base.is_empty() {
        // The manager owns every field: one walk instead of the general diff.
        return apply::record_create(&req, defaulted);
    }
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

#[cfg(test)]
mod tests {
    //! A create's entry built in one walk is the general diff's, byte for byte, over the
    //! seed's manifests and objects of every kind the registry admits.

    use super::*;
    use crate::registry::admission;
    use serde_json::json;

    const EXAMPLES: [&str; 10] = [
        include_str!("../../../../examples/cronjob-fixed.yaml"),
        include_str!("../../../../examples/cronjob-restart-fixed.yaml"),
        include_str!("../../../../examples/cronjob-restart.yaml"),
        include_str!("../../../../examples/cronjob-timezone-fixed.yaml"),
        include_str!("../../../../examples/cronjob-timezone.yaml"),
        include_str!("../../../../examples/cronjob.yaml"),
        include_str!("../../../../examples/job-restart-always.yaml"),
        include_str!("../../../../examples/job.yaml"),
        include_str!("../../../../examples/mysql-backup-fixed.yaml"),
        include_str!("../../../../examples/mysql-backup.yaml"),
    ];

    fn objects() -> Vec<Value> {
        let mut out: Vec<Value> = EXAMPLES
            .iter()
            .flat_map(|y| y.split("\n---"))
            .filter_map(|doc| serde_yaml_ng::from_str::<Value>(doc).ok())
            .filter(Value::is_object)
            .collect();
        out.extend([
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "idx", "labels": {"a": "b"}},
                "spec": {"completionMode": "Indexed", "completions": 3, "parallelism": 3, "backoffLimitPerIndex": 1,
                "maxFailedIndexes": 1, "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes":
                {"containerName": "c", "operator": "In", "values": [1, 2]}}, {"action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]},
                "successPolicy": {"rules": [{"succeededIndexes": "0-1"}]}, "ttlSecondsAfterFinished": 10,
                "template": {"metadata": {"annotations": {"x": "y"}}, "spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "i", "command": ["sh", "-c", "exit $JOB_COMPLETION_INDEX"]}]}}}}),
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "manual"},
                "spec": {"manualSelector": true, "selector": {"matchLabels": {"k": "v"}},
                "template": {"metadata": {"labels": {"k": "v"}}, "spec": {"restartPolicy": "OnFailure",
                "containers": [{"name": "c", "image": "i"}]}}}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d",
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "u",
                "controller": true, "blockOwnerDeletion": true}], "finalizers": ["batch.kubernetes.io/job-tracking"]},
                "spec": {"restartPolicy": "Never", "hostname": "h", "subdomain": "s",
                "initContainers": [{"name": "init", "image": "i", "restartPolicy": "Always"}],
                "containers": [{"name": "c", "image": "i", "workingDir": "/w",
                    "env": [{"name": "B", "value": "1"}, {"name": "A", "valueFrom": {"fieldRef": {"fieldPath":
                    "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}],
                    "envFrom": [{"configMapRef": {"name": "cm"}}],
                    "ports": [{"containerPort": 80}, {"containerPort": 80, "protocol": "UDP"}, {"name": "h", "containerPort": 8080}],
                    "volumeMounts": [{"name": "v", "mountPath": "/v"}, {"name": "w", "mountPath": "/w", "readOnly": true}],
                    "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"cpu": "1"}}}],
                "volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "hostPath": {"path": "/tmp"}},
                    {"name": "s", "secret": {"secretName": "x", "items": [{"key": "a", "path": "b"}]}}],
                "tolerations": [{"key": "k", "operator": "Exists"}], "nodeSelector": {"n": "1"}}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dup"},
                "spec": {"containers": [{"name": "c", "image": "i"}, {"name": "c", "image": "j"}]}}),
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj", "annotations": {"a": "b"}},
                "spec": {"schedule": "*/5 02 * * *", "timeZone": "Asia/Shanghai", "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 30, "suspend": true, "jobTemplate": {"metadata": {"labels": {"l": "v"}},
                "spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "i"}]}}}}}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "labels": {"a": "b"}}}),
            json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e.1", "namespace": "d"},
                "involvedObject": {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "namespace": "d", "uid": "u"},
                "reason": "SuccessfulCreate", "message": "Created pod: p", "type": "Normal", "count": 1,
                "source": {"component": "job-controller"}, "firstTimestamp": "2026-01-01T00:00:00Z",
                "lastTimestamp": "2026-01-01T00:00:00Z", "reportingComponent": "job-controller"}),
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l", "namespace": "d"},
                "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15, "renewTime": "2026-01-01T00:00:00.000000Z"}}),
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c", "namespace": "d"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": "standard"}}),
        ]);
        out
    }

    fn resource_of(obj: &Value) -> &'static ResourceInfo {
        let av = obj["apiVersion"].as_str().expect("apiVersion");
        let (group, version) = av.split_once('/').unwrap_or(("", av));
        let kind = obj["kind"].as_str().expect("kind");
        api::resource::find_kind(group, version, kind).expect("resource")
    }

    #[test]
    fn a_creates_entry_is_the_general_diffs() {
        let objs = objects();
        assert!(objs.len() >= 19, "{} objects", objs.len());
        for obj in objs {
            let r = resource_of(&obj);
            let defaulted = admission::defaulted(r, &obj).unwrap_or_else(|| obj.clone());
            let req = Request {
                resource: r,
                manager: "kubectl-create",
                subresource: None,
                time: "2026-11-27T18:00:00Z",
            };
            let diff = to_value(&apply::record_update(
                &req,
                &apply::empty_object(r),
                &defaulted,
                &[],
            ));
            let direct = on_create(r, &obj, &defaulted, req.manager, req.time);
            assert!(direct.is_some(), "{obj}");
            assert_eq!(
                direct.map(|v| v.to_string()),
                diff.map(|v| v.to_string()),
                "{obj}"
            );
        }
    }

    /// Not a check: prints the time of a create's and an update's managedFields for the
    /// example Jobs (`cargo test --release -p apiserver --lib managed::tests::timing --
    /// --ignored --nocapture`), the median of 9 rounds.
    #[test]
    #[ignore = "a measurement, run by hand in release mode"]
    fn timing() {
        use std::hint::black_box;
        use std::time::Instant;
        const N: u32 = 2000;
        let jobs: Vec<(&'static ResourceInfo, Value)> = objects()
            .into_iter()
            .filter(|o| o["kind"] == "Job" || o["kind"] == "CronJob")
            .map(|o| {
                let r = resource_of(&o);
                (r, admission::defaulted(r, &o).unwrap_or(o))
            })
            .collect();
        let median = |f: &dyn Fn()| {
            let mut rounds: Vec<u128> = (0..9)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..N {
                        f();
                    }
                    t.elapsed().as_nanos() / u128::from(N)
                })
                .collect();
            rounds.sort_unstable();
            rounds[4]
        };
        let time = "2026-11-27T18:00:00Z";
        let create = median(&|| {
            for (r, o) in &jobs {
                black_box(on_create(r, o, o, "kubectl-create", time));
            }
        });
        // An update: the controller's status write after the create.
        let updates: Vec<_> = jobs
            .iter()
            .map(|(r, o)| {
                let stored = on_create(r, o, o, "kubectl-create", time);
                let mut next = o.clone();
                next["status"] = json!({"active": 1, "startTime": time,
                    "uncountedTerminatedPods": {}, "ready": 0, "terminating": 0});
                next["metadata"]["annotations"] =
                    json!({"batch.kubernetes.io/cronjob-scheduled-timestamp": time});
                (*r, o.clone(), stored, next)
            })
            .collect();
        let update = median(&|| {
            for (r, old, stored, next) in &updates {
                black_box(on_update(
                    r,
                    old,
                    stored.as_ref(),
                    next,
                    None,
                    Some("job-controller"),
                    true,
                    time,
                ));
            }
        });
        let n = jobs.len() as u128;
        println!(
            "{n} Jobs and CronJobs: record_create {} ns, on_update (status) {} ns per object",
            create / n,
            update / n
        );
    }
}
