//! Row cells and column definitions for representative objects at a fixed `now`.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::*;

fn now() -> Timestamp {
    "2025-06-01T12:00:00Z".parse().unwrap()
}

fn cells(resource: &str, obj: &Value) -> Vec<Value> {
    let got = row_cells(resource, obj, now());
    assert_eq!(got.len(), column_definitions(resource).len(), "{resource}");
    got
}

/// The cells as display strings (integers printed), for compact expectations.
fn shown(resource: &str, obj: &Value) -> Vec<String> {
    cells(resource, obj)
        .into_iter()
        .map(|c| match c {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .collect()
}

fn headers(resource: &str) -> Vec<(String, String, i32)> {
    column_definitions(resource)
        .into_iter()
        .map(|c| (c.name, c.type_, c.priority))
        .collect()
}

fn h(cols: &[(&str, &str, i32)]) -> Vec<(String, String, i32)> {
    cols.iter()
        .map(|(n, t, p)| (n.to_string(), t.to_string(), *p))
        .collect()
}

#[test]
fn column_definitions_match_the_printers() {
    assert_eq!(
        headers("jobs"),
        h(&[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Completions", "string", 0),
            ("Duration", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ])
    );
    assert_eq!(
        headers("cronjobs"),
        h(&[
            ("Name", "string", 0),
            ("Schedule", "string", 0),
            ("Timezone", "string", 0),
            ("Suspend", "boolean", 0),
            ("Active", "integer", 0),
            ("Last Schedule", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ])
    );
    assert_eq!(
        headers("pods"),
        h(&[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ])
    );
    assert_eq!(
        headers("events"),
        h(&[
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ])
    );
    assert_eq!(
        headers("namespaces"),
        h(&[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Age", "string", 0)
        ])
    );
    assert_eq!(
        headers("nodes"),
        h(&[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ])
    );
    assert_eq!(
        headers("widgets"),
        h(&[("Name", "string", 0), ("Created At", "date", 0)])
    );
    for r in ["jobs", "cronjobs", "pods", "namespaces", "nodes", "widgets"] {
        let cols = column_definitions(r);
        assert_eq!(cols[0].format, "name", "{r}");
        assert!(cols[1..].iter().all(|c| c.format.is_empty()), "{r}");
    }
    let events = column_definitions("events");
    assert_eq!(events[9].format, "name");
    assert_eq!(
        events[6].description,
        "A human-readable description of the status of this operation."
    );
    let json = serde_json::to_value(&column_definitions("namespaces")[1]).unwrap();
    assert_eq!(
        json,
        json!({"name": "Status", "type": "string", "format": "", "description": "The status of the namespace", "priority": 0})
    );
}

fn job(extra: Value) -> Value {
    let mut j = json!({
        "metadata": {"name": "pi", "namespace": "default", "creationTimestamp": "2025-06-01T11:55:00Z"},
        "spec": {
            "parallelism": 1, "completions": 1,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}},
            "template": {"spec": {"containers": [
                {"name": "pi", "image": "perl:5.34"},
                {"name": "side", "image": "busybox"}
            ]}}
        },
        "status": {}
    });
    merge(&mut j, extra);
    j
}

/// A JSON merge patch, enough to vary fixtures.
fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    merge(t.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p,
    }
}

#[test]
fn job_rows() {
    let running = job(json!({"status": {"startTime": "2025-06-01T11:55:00Z", "active": 1}}));
    assert_eq!(
        shown("jobs", &running),
        [
            "pi",
            "Running",
            "0/1",
            "5m",
            "5m",
            "pi,side",
            "perl:5.34,busybox",
            "batch.kubernetes.io/controller-uid=abc"
        ]
    );

    let complete = job(json!({
        "metadata": {"creationTimestamp": "2025-06-01T10:00:00Z"},
        "status": {
            "startTime": "2025-06-01T10:00:00Z", "completionTime": "2025-06-01T10:00:42Z",
            "succeeded": 1,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True"},
                {"type": "Complete", "status": "True"}
            ]
        }
    }));
    assert_eq!(
        shown("jobs", &complete)[..5],
        ["pi", "Complete", "1/1", "42s", "120m"]
    );

    let failed = job(json!({
        "metadata": {"creationTimestamp": "2025-06-01T11:00:00Z"},
        "spec": {"completions": null, "parallelism": 3},
        "status": {
            "startTime": "2025-06-01T11:00:00Z", "completionTime": "2025-06-01T11:02:30Z",
            "failed": 7,
            "conditions": [
                {"type": "FailureTarget", "status": "True"},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}
            ]
        }
    }));
    assert_eq!(
        shown("jobs", &failed)[..5],
        ["pi", "Failed", "0/1 of 3", "2m30s", "60m"]
    );

    let failing = job(json!({
        "spec": {"completions": null, "parallelism": null},
        "status": {"startTime": "2025-06-01T11:59:00Z",
                   "conditions": [{"type": "FailureTarget", "status": "True"}]}
    }));
    assert_eq!(
        shown("jobs", &failing)[1..4],
        ["FailureTarget", "0/1", "60s"]
    );

    let suspended = job(json!({
        "metadata": {"creationTimestamp": "2025-05-30T12:00:00Z"},
        "spec": {"suspend": true, "completions": 5},
        "status": {"succeeded": 2, "conditions": [
            {"type": "Complete", "status": "False"},
            {"type": "Suspended", "status": "True", "reason": "JobSuspended"}
        ]}
    }));
    assert_eq!(
        shown("jobs", &suspended)[..5],
        ["pi", "Suspended", "2/5", "", "2d"]
    );

    let terminating = job(json!({
        "metadata": {"deletionTimestamp": "2025-06-01T11:59:59Z"},
        "status": {"conditions": [{"type": "Suspended", "status": "True"}]}
    }));
    assert_eq!(shown("jobs", &terminating)[1], "Terminating");

    let bare = json!({"metadata": {"name": "x"}, "spec": {"template": {"spec": {}}}});
    assert_eq!(
        shown("jobs", &bare),
        ["x", "Running", "0/1", "", "<unknown>", "", "", "<none>"]
    );
}

#[test]
fn cronjob_rows() {
    let with_schedule = json!({
        "metadata": {"name": "hello", "creationTimestamp": "2025-05-01T12:00:00Z"},
        "spec": {
            "schedule": "*/1 * * * *", "timeZone": "Europe/Paris", "suspend": false,
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [
                {"name": "hello", "image": "busybox:1.28"}
            ]}}}}
        },
        "status": {
            "active": [{"kind": "Job", "name": "hello-29145119"}],
            "lastScheduleTime": "2025-06-01T11:59:00Z"
        }
    });
    let got = cells("cronjobs", &with_schedule);
    assert_eq!(
        got,
        vec![
            json!("hello"),
            json!("*/1 * * * *"),
            json!("Europe/Paris"),
            json!("False"),
            json!(1),
            json!("60s"),
            json!("31d"),
            json!("hello"),
            json!("busybox:1.28"),
            json!("<none>"),
        ]
    );

    let fresh = json!({
        "metadata": {"name": "nightly", "creationTimestamp": "2025-06-01T11:59:58Z"},
        "spec": {"schedule": "0 3 * * *", "suspend": true, "jobTemplate": {"spec": {
            "selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
            "template": {"spec": {"containers": []}}
        }}},
        "status": {}
    });
    assert_eq!(
        cells("cronjobs", &fresh),
        vec![
            json!("nightly"),
            json!("0 3 * * *"),
            json!("<none>"),
            json!("True"),
            json!(0),
            json!("<none>"),
            json!("2s"),
            json!(""),
            json!(""),
            json!("app"),
        ]
    );
    let unset = json!({"metadata": {"name": "u"}, "spec": {"schedule": "@hourly"}});
    assert_eq!(shown("cronjobs", &unset)[3], "<unset>");
}

fn pod(extra: Value) -> Value {
    let mut p = json!({
        "metadata": {"name": "pi-abcde", "namespace": "default", "creationTimestamp": "2025-06-01T11:59:50Z"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "pi", "image": "perl:5.34"}]},
        "status": {"phase": "Pending"}
    });
    merge(&mut p, extra);
    p
}

fn status(resource: &str, obj: &Value) -> Vec<String> {
    shown(resource, obj)[1..4].to_vec()
}

#[test]
fn pod_rows_basic_phases() {
    let unscheduled = pod(json!({"spec": {"nodeName": null}}));
    assert_eq!(
        shown("pods", &unscheduled),
        [
            "pi-abcde", "0/1", "Pending", "0", "10s", "<none>", "<none>", "<none>", "<none>"
        ]
    );
    assert_eq!(row_conditions("pods", &unscheduled), None);

    let creating = pod(json!({"status": {"containerStatuses": [
        {"name": "pi", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
    ]}}));
    assert_eq!(status("pods", &creating), ["0/1", "ContainerCreating", "0"]);

    let running = pod(json!({"status": {
        "phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [
            {"name": "pi", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2025-06-01T11:59:55Z"}}}
        ]
    }}));
    assert_eq!(
        shown("pods", &running),
        [
            "pi-abcde", "1/1", "Running", "0", "10s", "10.0.0.5", "node-1", "<none>", "<none>"
        ]
    );

    let succeeded = pod(json!({"status": {
        "phase": "Succeeded", "podIPs": [{"ip": "10.0.0.6"}],
        "containerStatuses": [{"name": "pi", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]
    }}));
    assert_eq!(status("pods", &succeeded), ["0/1", "Completed", "0"]);
    assert_eq!(shown("pods", &succeeded)[5], "10.0.0.6");
    assert_eq!(
        row_conditions("pods", &succeeded),
        Some(
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded",
                     "message": "The pod has completed successfully."}])
        )
    );

    let failed = pod(json!({"status": {
        "phase": "Failed",
        "containerStatuses": [{"name": "pi", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]
    }}));
    assert_eq!(status("pods", &failed), ["0/1", "Error", "0"]);
    assert_eq!(
        row_conditions("pods", &failed),
        Some(
            json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}])
        )
    );

    let exit_code = pod(json!({"status": {"phase": "Failed", "containerStatuses": [
        {"name": "pi", "state": {"terminated": {"exitCode": 2}}}
    ]}}));
    assert_eq!(status("pods", &exit_code), ["0/1", "ExitCode:2", "0"]);
    let signal = pod(json!({"status": {"phase": "Failed", "containerStatuses": [
        {"name": "pi", "state": {"terminated": {"exitCode": 137, "signal": 9}}}
    ]}}));
    assert_eq!(status("pods", &signal), ["0/1", "Signal:9", "0"]);

    let evicted = pod(json!({"status": {"phase": "Failed", "reason": "Evicted"}}));
    assert_eq!(status("pods", &evicted), ["0/1", "Evicted", "0"]);

    let gated = pod(
        json!({"spec": {"nodeName": null}, "status": {"conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
        ]}}),
    );
    assert_eq!(status("pods", &gated), ["0/1", "SchedulingGated", "0"]);
}

#[test]
fn pod_rows_restarts_and_crash_loops() {
    let crash = pod(json!({
        "metadata": {"creationTimestamp": "2025-06-01T11:00:00Z"},
        "status": {
            "phase": "Running",
            "containerStatuses": [{"name": "pi", "ready": false, "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                             "finishedAt": "2025-06-01T11:57:00Z"}}}]
        }
    }));
    assert_eq!(
        shown("pods", &crash)[1..5],
        ["0/1", "CrashLoopBackOff", "4 (3m ago)", "60m"]
    );

    let no_date = pod(json!({"status": {"phase": "Running", "containerStatuses": [
        {"name": "pi", "ready": true, "restartCount": 2, "state": {"running": {}}}
    ]}}));
    assert_eq!(status("pods", &no_date), ["1/1", "Running", "2"]);

    let two = pod(json!({
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
            {"name": "b", "ready": false, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]}
    }));
    assert_eq!(status("pods", &two), ["1/2", "NotReady", "0"]);
    let two_ready = {
        let mut p = two.clone();
        merge(
            &mut p,
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        p
    };
    assert_eq!(status("pods", &two_ready), ["1/2", "Running", "0"]);
}

#[test]
fn pod_rows_init_containers() {
    let init_spec = json!({"spec": {"initContainers": [{"name": "init1"}, {"name": "init2"}]}});
    let with = |statuses: Value| {
        let mut p = pod(init_spec.clone());
        merge(
            &mut p,
            json!({"status": {"initContainerStatuses": statuses}}),
        );
        p
    };
    let second_running = with(json!([
        {"name": "init1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "init2", "restartCount": 2, "state": {"running": {}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-06-01T11:50:00Z"}}}
    ]));
    assert_eq!(
        status("pods", &second_running),
        ["0/1", "Init:1/2", "2 (10m ago)"]
    );

    let pulling = with(json!([
        {"name": "init1", "state": {"waiting": {"reason": "ImagePullBackOff"}}}
    ]));
    assert_eq!(
        status("pods", &pulling),
        ["0/1", "Init:ImagePullBackOff", "0"]
    );

    let waiting_to_init = with(json!([
        {"name": "init1", "state": {"waiting": {"reason": "PodInitializing"}}}
    ]));
    assert_eq!(status("pods", &waiting_to_init), ["0/1", "Init:0/2", "0"]);

    let init_failed = with(json!([
        {"name": "init1", "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}
    ]));
    assert_eq!(status("pods", &init_failed), ["0/1", "Init:Error", "0"]);
    let init_exit = with(json!([
        {"name": "init1", "state": {"terminated": {"exitCode": 3}}}
    ]));
    assert_eq!(status("pods", &init_exit), ["0/1", "Init:ExitCode:3", "0"]);

    let sidecar = pod(json!({
        "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 1,
                "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-06-01T11:59:00Z"}}}],
            "containerStatuses": [{"name": "pi", "ready": true, "restartCount": 0, "state": {"running": {}}}]
        }
    }));
    assert_eq!(status("pods", &sidecar), ["2/2", "Running", "1 (60s ago)"]);
}

#[test]
fn pod_rows_terminating_and_wide() {
    let terminating = pod(json!({
        "metadata": {"deletionTimestamp": "2025-06-01T12:00:30Z"},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "pi", "ready": true, "restartCount": 0, "state": {"running": {}}}
        ]}
    }));
    assert_eq!(status("pods", &terminating), ["1/1", "Terminating", "0"]);

    let done_and_deleted = pod(json!({
        "metadata": {"deletionTimestamp": "2025-06-01T12:00:30Z"},
        "status": {"phase": "Succeeded", "containerStatuses": [
            {"name": "pi", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]}
    }));
    assert_eq!(status("pods", &done_and_deleted), ["0/1", "Completed", "0"]);

    let node_lost = pod(json!({
        "metadata": {"deletionTimestamp": "2025-06-01T12:00:30Z"},
        "status": {"phase": "Running", "reason": "NodeLost"}
    }));
    assert_eq!(status("pods", &node_lost), ["0/1", "Unknown", "0"]);

    let gated = pod(json!({
        "spec": {"readinessGates": [{"conditionType": "example.com/a"}, {"conditionType": "example.com/b"}]},
        "status": {"phase": "Running", "nominatedNodeName": "node-2", "podIP": "10.0.0.9",
            "conditions": [{"type": "example.com/a", "status": "True"}, {"type": "example.com/b", "status": "False"}]}
    }));
    assert_eq!(
        shown("pods", &gated)[5..],
        ["10.0.0.9", "node-1", "node-2", "1/2"]
    );
}

#[test]
fn event_rows() {
    let classic = json!({
        "metadata": {"name": "pi.17d", "namespace": "default", "creationTimestamp": "2025-06-01T11:50:00Z"},
        "involvedObject": {"kind": "Job", "namespace": "default", "name": "pi"},
        "reason": "SuccessfulCreate", "message": "Created pod: pi-abcde\n", "type": "Normal",
        "source": {"component": "job-controller"},
        "firstTimestamp": "2025-06-01T11:50:00Z", "lastTimestamp": "2025-06-01T11:58:00Z", "count": 3
    });
    assert_eq!(
        cells("events", &classic),
        vec![
            json!("2m"),
            json!("Normal"),
            json!("SuccessfulCreate"),
            json!("job/pi"),
            json!(""),
            json!("job-controller"),
            json!("Created pod: pi-abcde"),
            json!("10m"),
            json!(3),
            json!("pi.17d"),
        ]
    );

    let new_api = json!({
        "metadata": {"name": "pi-abcde.18a"},
        "involvedObject": {"kind": "Pod", "name": "pi-abcde", "fieldPath": "spec.containers{pi}"},
        "reason": "Pulled", "message": "ok", "type": "Normal",
        "eventTime": "2025-06-01T11:59:30.123456Z",
        "reportingComponent": "kubelet", "reportingInstance": "node-1"
    });
    assert_eq!(
        shown("events", &new_api),
        [
            "29s",
            "Normal",
            "Pulled",
            "pod/pi-abcde",
            "spec.containers{pi}",
            "kubelet, node-1",
            "ok",
            "29s",
            "1",
            "pi-abcde.18a"
        ]
    );

    let series = json!({
        "metadata": {"name": "n.1"},
        "involvedObject": {"kind": "Node"},
        "type": "Warning", "reason": "Rebooted",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2025-06-01T10:00:00Z",
        "count": 2,
        "series": {"count": 5, "lastObservedTime": "2025-06-01T11:59:00.000000Z"}
    });
    assert_eq!(
        shown("events", &series),
        [
            "60s",
            "Warning",
            "Rebooted",
            "node",
            "",
            "kubelet, node-1",
            "",
            "120m",
            "5",
            "n.1"
        ]
    );

    let unknown = json!({"metadata": {"name": "e"}});
    assert_eq!(
        shown("events", &unknown),
        ["<unknown>", "", "", "", "", "", "", "<unknown>", "1", "e"]
    );
}

#[test]
fn namespace_node_and_default_rows() {
    let ns = json!({"metadata": {"name": "default", "creationTimestamp": "2025-05-01T12:00:00Z"},
                    "status": {"phase": "Active"}});
    assert_eq!(shown("namespaces", &ns), ["default", "Active", "31d"]);

    let node = json!({
        "metadata": {"name": "node-1", "creationTimestamp": "2025-05-25T12:00:00Z",
            "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker",
                       "node-role.kubernetes.io/": "x"}},
        "spec": {"unschedulable": true},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "Hostname", "address": "node-1"}, {"type": "InternalIP", "address": "192.168.1.10"}],
            "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Ubuntu 24.04 LTS", "containerRuntimeVersion": "batchlet://0.1.0"}
        }
    });
    assert_eq!(
        shown("nodes", &node),
        [
            "node-1",
            "Ready,SchedulingDisabled",
            "control-plane,worker",
            "7d",
            "v1.33.0",
            "192.168.1.10",
            "<none>",
            "Ubuntu 24.04 LTS",
            "<unknown>",
            "batchlet://0.1.0"
        ]
    );
    let not_ready = json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
    assert_eq!(shown("nodes", &not_ready)[1..3], ["NotReady", "<none>"]);
    let bare = json!({"metadata": {"name": "n"}});
    assert_eq!(shown("nodes", &bare)[1], "Unknown");

    let other = json!({"metadata": {"name": "x", "creationTimestamp": "2025-06-01T11:00:00Z"}});
    assert_eq!(shown("widgets", &other), ["x", "2025-06-01T11:00:00Z"]);
    assert_eq!(shown("widgets", &json!({})), ["", "0001-01-01T00:00:00Z"]);
}

#[test]
fn no_panics_on_odd_input() {
    let odd = [
        json!(null),
        json!(42),
        json!({"metadata": "x", "spec": [], "status": {"conditions": "no", "containerStatuses": [1, null]}}),
        json!({"metadata": {"creationTimestamp": "not a time", "deletionTimestamp": null}}),
        json!({"status": {"initContainerStatuses": [{"state": {"terminated": null}}], "startTime": 5}}),
    ];
    for resource in [
        "jobs",
        "cronjobs",
        "pods",
        "namespaces",
        "events",
        "nodes",
        "leases",
        "x",
    ] {
        for obj in &odd {
            let got = row_cells(resource, obj, now());
            assert_eq!(got.len(), column_definitions(resource).len());
            let _ = row_conditions(resource, obj);
        }
    }
}

#[test]
fn lease_rows() {
    assert_eq!(
        headers("leases"),
        h(&[
            ("Name", "string", 0),
            ("Holder", "string", 0),
            ("Age", "string", 0)
        ])
    );
    let lease = json!({"metadata": {"name": "vm", "namespace": "kube-node-lease",
        "creationTimestamp": "2025-06-01T11:58:00Z"},
        "spec": {"holderIdentity": "vm", "leaseDurationSeconds": 40}});
    assert_eq!(shown("leases", &lease), ["vm", "vm", "2m"]);
    let unheld =
        json!({"metadata": {"name": "l", "creationTimestamp": "2025-06-01T11:59:30Z"}, "spec": {}});
    assert_eq!(shown("leases", &unheld), ["l", "", "30s"]);
}
