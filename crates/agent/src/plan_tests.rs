//! Table tests of the pod plan: starts, restarts with backoff, phases, conditions,
//! deadlines and deletion.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use runtime::{ExitReason, ExitStatus};
use serde_json::{Value, json};

use super::*;
use crate::backoff::Entry;
use crate::observed::{ContainerObs, Observed, Run};

const IP: &str = "127.0.0.1";

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn pod(policy: &str, extra: Value) -> Pod {
    let mut v = json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
        "spec": {"restartPolicy": policy, "nodeName": "n1", "terminationGracePeriodSeconds": 30,
                 "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]},
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    });
    merge(&mut v, extra);
    serde_json::from_value(v).unwrap_or_default()
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn exit(code: i32, at: i64) -> ExitStatus {
    ExitStatus {
        code,
        signal: None,
        reason: ExitReason::Exited,
        message: None,
        started_at: Some(t(at - 1)),
        finished_at: t(at),
    }
}

fn run(restart: u32, exit: Option<ExitStatus>) -> ContainerObs {
    ContainerObs {
        restart,
        current: Some(Run {
            id: format!("u1_c_{restart}"),
            started_at: Some(t(0)),
            exit,
        }),
        ..Default::default()
    }
}

fn obs(containers: &[(&str, ContainerObs)]) -> Observed {
    let mut o = Observed::new(t(0));
    for (n, c) in containers {
        o.containers.insert((*n).to_owned(), c.clone());
    }
    o
}

fn status_of(p: &Plan) -> Option<PodStatus> {
    p.actions.iter().find_map(|a| match a {
        Action::WriteStatus(s) => Some((**s).clone()),
        _ => None,
    })
}

fn json_status(p: &Plan) -> Value {
    serde_json::to_value(status_of(p)).unwrap_or_default()
}

fn kinds(p: &Plan) -> Vec<String> {
    p.actions
        .iter()
        .map(|a| match a {
            Action::Start {
                container, restart, ..
            } => format!("start {container} {restart}"),
            Action::Stop { container, grace } => format!("stop {container} {}s", grace.as_secs()),
            Action::Event(e) => format!("event {}", e.reason),
            Action::WriteStatus(_) => "status".into(),
            Action::Release => "release".into(),
            Action::DeleteObject => "delete".into(),
        })
        .collect()
}

fn cond(s: &Value, type_: &str) -> (String, String, String) {
    let c = s["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .cloned()
        .unwrap_or_default();
    let f = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
    (f("status"), f("reason"), f("message"))
}

#[test]
fn a_new_pod_starts_its_container() {
    let p = plan(&pod("Never", json!({})), &obs(&[]), IP, t(0));
    assert_eq!(kinds(&p), ["start c 0", "status"]);
    let s = json_status(&p);
    assert_eq!(s["phase"], "Pending");
    assert_eq!(
        s["containerStatuses"][0]["state"]["waiting"]["reason"],
        "ContainerCreating"
    );
    assert_eq!(
        (s["podIP"].as_str(), s["hostIP"].as_str()),
        (Some(IP), Some(IP))
    );
    assert_eq!(s["startTime"], "2023-11-14T22:13:20Z");
    assert_eq!(s["qosClass"], "BestEffort");
    let types: Vec<&str> = s["conditions"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["type"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        types,
        [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled"
        ]
    );
    assert_eq!(
        cond(&s, "Ready"),
        (
            "False".into(),
            "ContainersNotReady".into(),
            "containers with unready status: [c]".into()
        )
    );
}

#[test]
fn phases_follow_the_containers() {
    // (policy, exit code or None for running, phase, state reason, ready reason)
    for (policy, code, phase, reason, ready) in [
        ("Never", None, "Running", "", ""),
        ("Never", Some(0), "Succeeded", "Completed", "PodCompleted"),
        ("Never", Some(3), "Failed", "Error", "PodFailed"),
        (
            "OnFailure",
            Some(0),
            "Succeeded",
            "Completed",
            "PodCompleted",
        ),
    ] {
        let o = obs(&[("c", run(0, code.map(|c| exit(c, 5))))]);
        let p = plan(&pod(policy, json!({})), &o, IP, t(6));
        assert!(
            p.starts().next().is_none(),
            "{policy} {code:?}: {:?}",
            kinds(&p)
        );
        let s = json_status(&p);
        assert_eq!(s["phase"], phase, "{policy} {code:?}");
        let c = &s["containerStatuses"][0];
        match code {
            None => {
                assert_eq!(c["ready"], true);
                assert_eq!(c["state"]["running"]["startedAt"], "2023-11-14T22:13:20Z");
                assert_eq!(cond(&s, "Ready").0, "True");
            }
            Some(code) => {
                assert_eq!(c["state"]["terminated"]["exitCode"], code);
                assert_eq!(c["state"]["terminated"]["reason"], reason);
                assert_eq!(c["state"]["terminated"]["containerID"], "batchlet://u1_c_0");
                assert_eq!(
                    c["state"]["terminated"]["finishedAt"],
                    "2023-11-14T22:13:25Z"
                );
                assert_eq!(cond(&s, "Ready").1, ready);
                assert_eq!(cond(&s, "PodReadyToStartContainers").0, "False");
            }
        }
    }
}

#[test]
fn start_errors_and_oom_kills_have_their_reasons() {
    for (reason, want, code) in [
        (ExitReason::StartError, "StartError", 128),
        (ExitReason::OomKilled, "OOMKilled", 137),
        (ExitReason::Lost, "ContainerStatusUnknown", 137),
    ] {
        let e = ExitStatus {
            code,
            reason,
            message: Some("why".into()),
            ..exit(code, 5)
        };
        let p = plan(
            &pod("Never", json!({})),
            &obs(&[("c", run(0, Some(e)))]),
            IP,
            t(6),
        );
        let s = json_status(&p);
        let term = &s["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(
            (term["reason"].as_str(), term["exitCode"].as_i64()),
            (Some(want), Some(i64::from(code)))
        );
        assert_eq!(term["message"], "why");
        assert_eq!(s["phase"], "Failed");
    }
}

#[test]
fn on_failure_restarts_with_crash_backoff() {
    let pod = pod("OnFailure", json!({}));
    // First failure: restart at once, with a 10 s backoff entry for the next one.
    let p = plan(&pod, &obs(&[("c", run(0, Some(exit(1, 5))))]), IP, t(5));
    assert_eq!(
        p.actions.first(),
        Some(&Action::Start {
            container: "c".into(),
            restart: 1,
            backoff: Some(Entry {
                delay: Duration::from_secs(10),
                last_update: t(5)
            }),
        })
    );
    // Second failure 2 s later: CrashLoopBackOff for 10 s from the failure.
    let mut c = run(1, Some(exit(1, 7)));
    c.previous = Some(exit(1, 5));
    c.backoff = Some(Entry {
        delay: Duration::from_secs(10),
        last_update: t(5),
    });
    let p = plan(&pod, &obs(&[("c", c.clone())]), IP, t(8));
    assert_eq!(kinds(&p), ["event BackOff", "status"]);
    assert_eq!(p.requeue, Some(Duration::from_secs(9)));
    let s = json_status(&p);
    assert_eq!(s["phase"], "Running");
    let cs = &s["containerStatuses"][0];
    assert_eq!(cs["restartCount"], 1);
    assert_eq!(cs["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(
        cs["state"]["waiting"]["message"],
        "back-off 10s restarting failed container=c pod=p_ns(u1)"
    );
    assert_eq!(
        cs["lastState"]["terminated"]["finishedAt"],
        "2023-11-14T22:13:27Z"
    );
    assert_eq!(
        cs["lastState"]["terminated"]["containerID"],
        "batchlet://u1_c_1"
    );
    // Reported once; after the delay the container restarts with 20 s next time.
    c.backoff_reported = true;
    let p = plan(&pod, &obs(&[("c", c.clone())]), IP, t(9));
    assert_eq!(kinds(&p), ["status"]);
    let p = plan(&pod, &obs(&[("c", c)]), IP, t(17));
    assert!(matches!(
        p.actions.first(),
        Some(Action::Start { restart: 2, backoff: Some(Entry { delay, .. }), .. }) if delay.as_secs() == 20
    ));
}

#[test]
fn init_containers_run_first_in_order() {
    let extra = json!({"spec": {"initContainers": [
        {"name": "i1", "image": "x", "command": ["true"]},
        {"name": "i2", "image": "x", "command": ["true"]},
    ]}});
    let pod_ = pod("Never", extra.clone());
    let p = plan(&pod_, &obs(&[]), IP, t(0));
    assert_eq!(kinds(&p), ["start i1 0", "status"]);
    let s = json_status(&p);
    assert_eq!(s["phase"], "Pending");
    assert_eq!(
        s["containerStatuses"][0]["state"]["waiting"]["reason"],
        "PodInitializing"
    );
    assert_eq!(
        cond(&s, "Initialized"),
        (
            "False".into(),
            "ContainersNotInitialized".into(),
            "containers with incomplete status: [i1 i2]".into()
        )
    );
    let done = |n: &str| {
        let mut o = run(0, Some(exit(0, 3)));
        if let Some(r) = o.current.as_mut() {
            r.id = format!("u1_{n}_0");
        }
        o
    };
    let p = plan(&pod_, &obs(&[("i1", done("i1"))]), IP, t(4));
    assert_eq!(kinds(&p), ["start i2 0", "status"]);
    let p = plan(
        &pod_,
        &obs(&[("i1", done("i1")), ("i2", done("i2"))]),
        IP,
        t(4),
    );
    assert_eq!(kinds(&p), ["start c 0", "status"]);
    assert_eq!(cond(&json_status(&p), "Initialized").0, "True");
    // A failed init container fails a Never pod without starting the others.
    let mut failed = done("i1");
    if let Some(r) = failed.current.as_mut() {
        r.exit = Some(exit(2, 3));
    }
    let p = plan(&pod_, &obs(&[("i1", failed.clone())]), IP, t(4));
    assert_eq!(kinds(&p), ["status"]);
    assert_eq!(json_status(&p)["phase"], "Failed");
    // Under OnFailure it is restarted.
    let p = plan(&pod("OnFailure", extra), &obs(&[("i1", failed)]), IP, t(4));
    assert_eq!(kinds(&p)[0], "start i1 1");
}

#[test]
fn active_deadline_fails_the_pod() {
    let pod_ = pod(
        "Never",
        json!({"spec": {"activeDeadlineSeconds": 10}, "status": {"startTime": "2023-11-14T22:13:20Z"}}),
    );
    let running = obs(&[("c", run(0, None))]);
    let p = plan(&pod_, &running, IP, t(5));
    assert_eq!(p.requeue, Some(Duration::from_secs(5)));
    let p = plan(&pod_, &running, IP, t(10));
    assert_eq!(
        kinds(&p),
        ["stop c 30s", "event DeadlineExceeded", "status"]
    );
    assert_eq!(json_status(&p)["phase"], "Running");
    // Once stopped (SIGTERM: 143), the pod fails with the kubelet's reason.
    let mut killed = exit(143, 11);
    killed.signal = Some(15);
    let p = plan(&pod_, &obs(&[("c", run(0, Some(killed)))]), IP, t(11));
    let s = json_status(&p);
    assert_eq!(
        (
            s["phase"].as_str(),
            s["reason"].as_str(),
            s["message"].as_str()
        ),
        (
            Some("Failed"),
            Some("DeadlineExceeded"),
            Some("Pod was active on the node longer than the specified deadline")
        )
    );
    assert!(p.starts().next().is_none());
}

#[test]
fn deletion_stops_then_deletes() {
    let deleting = json!({"metadata": {"deletionTimestamp": "2023-11-14T22:13:30Z", "deletionGracePeriodSeconds": 7}});
    let pod_ = pod("OnFailure", deleting.clone());
    let p = plan(&pod_, &obs(&[("c", run(0, None))]), IP, t(1));
    assert_eq!(kinds(&p), ["stop c 7s", "status"]);
    // Already stopping: no second stop.
    let mut stopping = run(0, None);
    stopping.stopping = true;
    let p = plan(&pod_, &obs(&[("c", stopping)]), IP, t(2));
    assert!(!kinds(&p).iter().any(|k| k.starts_with("stop")));
    // Stopped: a terminal phase (no restart under OnFailure), then the object goes.
    let stopped = obs(&[("c", run(0, Some(exit(143, 3))))]);
    let p = plan(&pod_, &stopped, IP, t(3));
    assert_eq!(kinds(&p), ["status"]);
    assert_eq!(json_status(&p)["phase"], "Failed");
    let mut terminal = deleting;
    merge(&mut terminal, json!({"status": {"phase": "Failed"}}));
    let p = plan(&pod("OnFailure", terminal), &stopped, IP, t(4));
    assert_eq!(kinds(&p).last().map(String::as_str), Some("delete"));
    // A pod deleted before its container started reports it as unknown.
    let p = plan(
        &pod(
            "Never",
            json!({"metadata": {"deletionTimestamp": "2023-11-14T22:13:30Z"}}),
        ),
        &obs(&[]),
        IP,
        t(1),
    );
    let s = json_status(&p);
    assert_eq!(s["phase"], "Failed");
    assert_eq!(
        s["containerStatuses"][0]["state"]["terminated"]["reason"],
        "ContainerStatusUnknown"
    );
}

#[test]
fn a_finished_pod_keeps_its_terminated_status_when_the_runtime_forgot_it() {
    // The runtime's state of a finished pod is removed; after an agent restart the pod is
    // observed with no container at all. Its status stays what it was (kubelet behaviour),
    // not ContainerStatusUnknown.
    let done = obs(&[("c", run(0, Some(exit(0, 3))))]);
    let mut stored = pod("Never", json!({}));
    stored.status = status_of(&plan(&stored, &done, IP, t(4)));
    assert_eq!(
        stored.status.as_ref().unwrap().phase.as_deref(),
        Some("Succeeded")
    );
    let p = plan(&stored, &obs(&[]), IP, t(100));
    assert!(!kinds(&p).contains(&"status".to_owned()), "{:?}", kinds(&p));
    let s = status_of(&p).or(stored.status.clone()).unwrap();
    let c = &s.container_statuses.unwrap()[0];
    let term = c.state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(
        (term.exit_code, term.reason.as_deref()),
        (0, Some("Completed"))
    );
}

#[test]
fn terminal_pods_are_released_and_unchanged_status_is_not_written() {
    let done = obs(&[("c", run(0, Some(exit(0, 3))))]);
    let p = plan(&pod("Never", json!({})), &done, IP, t(4));
    let written = status_of(&p);
    let mut stored = pod("Never", json!({}));
    stored.status = written;
    let p = plan(&stored, &done, IP, t(100));
    assert_eq!(kinds(&p), ["release"]);
}
