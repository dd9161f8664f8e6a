//! Table tests of field sets, apply and update ownership, with expectations taken from what
//! a real v1.33 server records.

use super::*;
use crate::resource;
use serde_json::{Value, json};

fn jobs() -> &'static ResourceInfo {
    resource::find("batch", "v1", "jobs").expect("jobs")
}

fn pods() -> &'static ResourceInfo {
    resource::find("", "v1", "pods").expect("pods")
}

fn req<'a>(r: &'a ResourceInfo, manager: &'a str, time: &'a str) -> Request<'a> {
    Request {
        resource: r,
        manager,
        subresource: None,
        time,
    }
}

fn fields_of(r: &ResourceInfo, v: &Value) -> Value {
    walk::field_set(Ty::root(r), v, true)
        .expect("field set")
        .difference(&strip_set())
        .to_fields_v1()
}

fn job(backoff: i64) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default", "labels": {"app": "pi"}},
        "spec": {"backoffLimit": backoff, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}})
}

fn entry_fields(entries: &[Entry], manager: &str, op: Operation) -> Option<Value> {
    entries
        .iter()
        .find(|e| e.manager == manager && e.operation == op)
        .map(|e| e.fields.to_fields_v1())
}

#[test]
fn fields_v1_of_a_job() {
    let f = fields_of(jobs(), &job(3));
    assert_eq!(
        f,
        json!({"f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:backoffLimit": {}, "f:template": {"f:spec": {
                "f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:command": {}, "f:image": {}, "f:name": {}}},
                "f:restartPolicy": {}}}}})
    );
    // Round trip through the wire form.
    let set = FieldSet::from_fields_v1(&f).expect("parse");
    assert_eq!(set.to_fields_v1(), f);
}

#[test]
fn fields_v1_of_a_pod() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["a/b"]},
        "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "web", "image": "nginx",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
            "resources": {}, "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "data", "emptyDir": {}}]}});
    let f = fields_of(pods(), &pod);
    let c = &f["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
    assert_eq!(
        c["f:env"],
        json!({"k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}},
               "k:{\"name\":\"B\"}": {".": {}, "f:name": {}, "f:valueFrom": {"f:fieldRef": {}}}})
    );
    assert_eq!(
        c["f:ports"],
        json!({"k:{\"containerPort\":53,\"protocol\":\"UDP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}},
               "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}})
    );
    assert_eq!(c["f:resources"], json!({}));
    assert_eq!(
        c["f:volumeMounts"],
        json!({"k:{\"mountPath\":\"/data\"}": {".": {}, "f:mountPath": {}, "f:name": {}}})
    );
    assert_eq!(
        f["f:spec"]["f:volumes"],
        json!({"k:{\"name\":\"data\"}": {".": {}, "f:emptyDir": {}, "f:name": {}}})
    );
    assert_eq!(f["f:spec"]["f:nodeSelector"], json!({}), "atomic map");
    assert_eq!(f["f:metadata"]["f:finalizers"], json!({"v:\"a/b\"": {}}));
}

#[test]
fn keyless_items_and_duplicates_are_invalid_in_a_configuration() {
    let bad = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
    let err = walk::field_set(Ty::root(jobs()), &bad, true).expect_err("no key");
    assert_eq!(
        err,
        ".spec.template.spec.containers: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)"
    );
    let dup =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}});
    let err = walk::field_set(Ty::root(jobs()), &dup, true).expect_err("dup");
    assert_eq!(
        err,
        ".spec.template.spec.containers: duplicate entries for key [name=\"a\"]"
    );
}

#[test]
fn path_elements_parse_and_print() {
    for (key, shown) in [
        ("f:spec", ".spec"),
        (
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}",
            "[containerPort=80,protocol=\"TCP\"]",
        ),
        ("v:\"a/b\"", "[=\"a/b\"]"),
        ("i:3", "[3]"),
    ] {
        let pe = PathElement::parse(key).expect(key);
        assert_eq!(pe.to_fields_key(), key);
        assert_eq!(pe.to_string(), shown);
    }
    assert!(PathElement::parse("x:1").is_err());
    assert!(PathElement::parse("k:[1]").is_err());
    assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
}

#[test]
fn apply_creates_with_one_apply_entry() {
    let r = req(jobs(), "kubectl", "t1");
    let out = apply(&r, &json!({}), &job(3), &[], false).expect("apply");
    assert!(out.changed);
    assert_eq!(out.object["spec"]["backoffLimit"], 3);
    assert_eq!(out.managed.len(), 1);
    let e = &out.managed[0];
    assert_eq!(
        (e.operation, e.time.as_deref()),
        (Operation::Apply, Some("t1"))
    );
    assert_eq!(e.fields.to_fields_v1(), fields_of(jobs(), &job(3)));
    assert_eq!(
        encode(&out.managed)[0]["fieldsType"],
        "FieldsV1",
        "wire form"
    );
}

#[test]
fn apply_updates_merges_and_keeps_other_fields() {
    let r = req(jobs(), "kubectl", "t1");
    let created = apply(&r, &json!({}), &job(3), &[], false).expect("create");
    let mut live = created.object.clone();
    live["spec"]["completions"] = json!(1); // a default nobody applied
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
    let mut cfg = job(4);
    cfg["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(json!({"name": "d", "image": "x"}));
    let r2 = req(jobs(), "kubectl", "t2");
    let out = apply(&r2, &live, &cfg, &created.managed, false).expect("apply");
    assert_eq!(out.object["spec"]["backoffLimit"], 4);
    assert_eq!(out.object["spec"]["completions"], 1);
    let cs = &out.object["spec"]["template"]["spec"]["containers"];
    assert_eq!(cs[0]["imagePullPolicy"], "Always");
    assert_eq!(cs[1]["name"], "d");
    assert_eq!(out.managed[0].time.as_deref(), Some("t2"));
}

#[test]
fn apply_removes_fields_the_manager_no_longer_applies() {
    let r = req(jobs(), "kubectl", "t1");
    let created = apply(&r, &json!({}), &job(3), &[], false).expect("create");
    let mut cfg = job(3);
    cfg["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("backoffLimit");
    cfg["metadata"]
        .as_object_mut()
        .expect("meta")
        .remove("labels");
    let out = apply(&r, &created.object, &cfg, &created.managed, false).expect("apply");
    assert!(
        out.object["spec"].get("backoffLimit").is_none(),
        "{}",
        out.object
    );
    assert!(
        out.object["metadata"]
            .get("labels")
            .is_none_or(Value::is_null),
        "{}",
        out.object
    );
    assert_eq!(
        out.object["spec"]["template"]["spec"]["restartPolicy"],
        "Never"
    );
    // Another manager's field stays even if the applier drops it.
    let mut live = created.object.clone();
    live["spec"]["backoffLimit"] = json!(3);
    let shared = Entry {
        manager: "other".into(),
        operation: Operation::Apply,
        api_version: "batch/v1".into(),
        time: None,
        subresource: None,
        fields: FieldSet::from_fields_v1(&json!({"f:spec": {"f:backoffLimit": {}}})).expect("set"),
    };
    let mut managed = created.managed.clone();
    managed.push(shared);
    let out = apply(&r, &live, &cfg, &managed, false).expect("apply");
    assert_eq!(out.object["spec"]["backoffLimit"], 3);
}

fn update_entry(manager: &str, fields: Value) -> Entry {
    Entry {
        manager: manager.into(),
        operation: Operation::Update,
        api_version: "batch/v1".into(),
        time: Some("t0".into()),
        subresource: None,
        fields: FieldSet::from_fields_v1(&fields).expect("set"),
    }
}

#[test]
fn apply_conflicts_with_an_update_manager_unless_forced() {
    let live = job(5);
    let managed = vec![update_entry(
        "kubectl-patch",
        json!({"f:spec": {"f:backoffLimit": {}}}),
    )];
    let r = req(jobs(), "ssa", "t1");
    let err = apply(&r, &live, &job(3), &managed, false).expect_err("conflict");
    assert_eq!(
        err,
        ApplyError::Conflicts(vec![Conflict {
            manager: "\"kubectl-patch\" using batch/v1".into(),
            field: ".spec.backoffLimit".into()
        }])
    );
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-patch\" using batch/v1: .spec.backoffLimit"
    );
    // Same value: no conflict, shared ownership.
    let out = apply(&r, &live, &job(5), &managed, false).expect("shared");
    assert!(entry_fields(&out.managed, "kubectl-patch", Operation::Update).is_some());
    // Forced: ownership moves, the patcher's entry (now empty) goes.
    let out = apply(&r, &live, &job(3), &managed, true).expect("forced");
    assert_eq!(out.object["spec"]["backoffLimit"], 3);
    assert!(entry_fields(&out.managed, "kubectl-patch", Operation::Update).is_none());
}

#[test]
fn several_conflicts_are_grouped_by_manager() {
    let live = job(5);
    let managed = vec![
        update_entry("b", json!({"f:spec": {"f:backoffLimit": {}}})),
        update_entry("a", json!({"f:metadata": {"f:labels": {"f:app": {}}}})),
    ];
    let mut cfg = job(3);
    cfg["metadata"]["labels"]["app"] = json!("x");
    let err = apply(&req(jobs(), "m", "t"), &live, &cfg, &managed, false).expect_err("c");
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"a\" using batch/v1:\n- .metadata.labels.app\nconflicts with \"b\" using batch/v1:\n- .spec.backoffLimit"
    );
}

#[test]
fn two_appliers_share_a_field() {
    let a = req(jobs(), "a", "t1");
    let created = apply(&a, &json!({}), &job(3), &[], false).expect("a");
    let b = req(jobs(), "b", "t2");
    let cfg_b = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"}, "spec": {"backoffLimit": 3}});
    let out = apply(&b, &created.object, &cfg_b, &created.managed, false).expect("b");
    assert!(!out.changed);
    assert_eq!(out.managed.len(), 2);
    // a stops applying it: b still owns it, it stays.
    let mut cfg_a = job(3);
    cfg_a["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("backoffLimit");
    let out = apply(&a, &out.object, &cfg_a, &out.managed, false).expect("a again");
    assert_eq!(out.object["spec"]["backoffLimit"], 3);
    // b changing it now conflicts with nobody.
    let cfg_b = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"}, "spec": {"backoffLimit": 7}});
    let out = apply(&b, &out.object, &cfg_b, &out.managed, false).expect("b again");
    assert_eq!(out.object["spec"]["backoffLimit"], 7);
}

#[test]
fn a_noop_apply_changes_nothing() {
    let r = req(jobs(), "kubectl", "t1");
    let created = apply(&r, &json!({}), &job(3), &[], false).expect("create");
    let r2 = req(jobs(), "kubectl", "t2");
    let out = apply(&r2, &created.object, &job(3), &created.managed, false).expect("again");
    assert!(!out.changed);
    assert_eq!(out.object, created.object);
    assert_eq!(out.managed, created.managed, "timestamps unchanged");
}

#[test]
fn update_entries_take_changed_fields() {
    let r = req(jobs(), "kubectl-create", "t1");
    let created = record_update(&r, &empty_object(jobs()), &job(3), &[]);
    assert_eq!(created.len(), 1);
    let f = created[0].fields.to_fields_v1();
    assert_eq!(
        f["f:metadata"],
        json!({"f:labels": {".": {}, "f:app": {}}}),
        "a new map is a member"
    );
    assert!(
        f["f:spec"].get(".").is_none(),
        "spec existed (Go zero value)"
    );
    let r2 = req(jobs(), "kubectl-patch", "t2");
    let after = job(5);
    let out = record_update(&r2, &job(3), &after, &created);
    assert_eq!(
        entry_fields(&out, "kubectl-patch", Operation::Update),
        Some(json!({"f:spec": {"f:backoffLimit": {}}}))
    );
    let create_fields = entry_fields(&out, "kubectl-create", Operation::Update).expect("kept");
    assert!(create_fields["f:spec"].get("f:backoffLimit").is_none());
    // Nothing changed: the same entries, timestamps untouched.
    let r3 = req(jobs(), "kubectl-patch", "t3");
    assert_eq!(record_update(&r3, &after, &after, &out), out);
}

/// A status write as the kubelet sends it: both sides carry managedFields (never compared,
/// never owned), the spec is unchanged (skipped whole), and a change deep in a keyed list
/// is still found.
#[test]
fn status_updates_compare_neither_managed_fields_nor_unchanged_subtrees() {
    let pod = |image: &str, phase: &str, managers: Value| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "managedFields": managers},
            "spec": {"restartPolicy": "Never", "containers": [
                {"name": "a", "image": "busybox", "env": [{"name": "X", "value": "1"}]},
                {"name": "b", "image": image}]},
            "status": {"phase": phase}})
    };
    let r = req(pods(), "job-controller", "t1");
    let created = record_update(
        &r,
        &empty_object(pods()),
        &pod("x", "Pending", json!([])),
        &[],
    );
    let stored = encode(&created);
    let mut kubelet = req(pods(), "kubelet", "t2");
    kubelet.subresource = Some("status");
    let before = pod("x", "Pending", stored.clone());
    let after = pod("x", "Running", json!([{"manager": "someone-else"}]));
    let out = record_update(&kubelet, &before, &after, &created);
    assert_eq!(
        entry_fields(&out, "kubelet", Operation::Update),
        Some(json!({"f:status": {"f:phase": {}}})),
        "{out:?}"
    );
    assert_eq!(
        entry_fields(&out, "job-controller", Operation::Update),
        entry_fields(&created, "job-controller", Operation::Update)
    );
    let r3 = req(pods(), "editor", "t3");
    let out = record_update(&r3, &after, &pod("y", "Running", stored), &out);
    assert_eq!(
        entry_fields(&out, "editor", Operation::Update),
        Some(json!({"f:spec": {"f:containers": {"k:{\"name\":\"b\"}": {"f:image": {}}}}}))
    );
    let creator = entry_fields(&out, "job-controller", Operation::Update).expect("kept");
    assert!(
        creator["f:spec"]["f:containers"]["k:{\"name\":\"b\"}"]
            .get("f:image")
            .is_none(),
        "{creator}"
    );
}

/// kubectl-compat §8: client-side apply creates, then `kubectl apply --server-side` with the
/// same manifest, the `kubectl-last-applied` save, the managedFields upgrade kubectl sends
/// as a JSON patch, and the re-apply, which can then drop a field.
#[test]
fn client_side_apply_migrates_to_server_side_apply() {
    let manifest = job(3);
    let mut last = manifest.clone();
    last["metadata"]["annotations"] = json!({});
    let mut ann = String::new();
    path::go_json(&last, &mut ann);
    ann.push('\n');
    let mut created = manifest.clone();
    created["metadata"]["annotations"] = json!({ LAST_APPLIED: ann });
    let csa = req(jobs(), "kubectl-client-side-apply", "t1");
    let managed = record_update(&csa, &empty_object(jobs()), &created, &[]);
    // Server-side apply with the same manifest: no conflict (the annotation allows it),
    // and the server rewrites the annotation to the applied configuration.
    let ssa = req(jobs(), "kubectl", "t2");
    let out = apply(&ssa, &created, &manifest, &managed, false).expect("ssa");
    let new_ann = out.object["metadata"]["annotations"][LAST_APPLIED]
        .as_str()
        .expect("annotation");
    assert!(!new_ann.contains("\"annotations\""), "{new_ann}");
    // A changed value the annotation still matches is forced too.
    let out2 = apply(&ssa, &created, &job(4), &managed, false).expect("changed ssa");
    assert_eq!(out2.object["spec"]["backoffLimit"], 4);
    // kubectl's upgrade: the CSA entry's fields merge into the kubectl Apply entry.
    let mut upgraded: Vec<Entry> = out.managed.clone();
    let csa_fields = upgraded
        .iter()
        .find(|e| e.manager == "kubectl-client-side-apply")
        .map(|e| e.fields.clone())
        .expect("csa entry");
    upgraded.retain(|e| e.manager != "kubectl-client-side-apply");
    for e in &mut upgraded {
        if e.manager == "kubectl" {
            e.fields.extend(&csa_fields);
        }
    }
    // The re-apply of a manifest without backoffLimit now removes it.
    let mut dropped = manifest.clone();
    dropped["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("backoffLimit");
    let out3 = apply(&ssa, &out.object, &dropped, &upgraded, false).expect("reapply");
    assert!(
        out3.object["spec"].get("backoffLimit").is_none(),
        "{}",
        out3.object
    );
    // A field changed since (live differs from the annotation) still conflicts.
    let mut patched = created.clone();
    patched["spec"]["backoffLimit"] = json!(9);
    let managed2 = record_update(
        &req(jobs(), "kubectl-edit", "t3"),
        &created,
        &patched,
        &managed,
    );
    let err = apply(&ssa, &patched, &job(4), &managed2, false).expect_err("conflict");
    assert!(err.to_string().contains("kubectl-edit"), "{err}");
}

#[test]
fn status_is_not_owned_through_the_main_resource() {
    let mut cfg = job(3);
    cfg["status"] = json!({"active": 1});
    let out = apply(&req(jobs(), "kubectl", "t"), &json!({}), &cfg, &[], false).expect("apply");
    assert!(
        out.managed[0]
            .fields
            .to_fields_v1()
            .get("f:status")
            .is_none()
    );
}

#[test]
fn garbage_never_panics() {
    let r = req(jobs(), "m", "t");
    for cfg in [
        json!(null),
        json!([1, 2]),
        json!({"spec": "x"}),
        json!({"spec": {"template": {"spec": {"containers": "x"}}}}),
        json!({"spec": {"template": {"spec": {"containers": [1, null]}}}}),
        json!({"metadata": {"finalizers": [{"a": 1}]}}),
    ] {
        let _ = apply(&r, &job(3), &cfg, &[], false);
        let _ = apply(&r, &cfg, &job(3), &[], true);
        let _ = record_update(&r, &cfg, &job(3), &[]);
        let _ = record_update(&r, &job(3), &cfg, &[]);
    }
    for bad in [
        json!(1),
        json!([{"operation": "Apply"}]),
        json!([{"operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:a": {"x:": {}}}}]),
    ] {
        assert!(decode(Some(&bad)).is_err());
    }
}

/// What the general diff records for a create: `record_update` from the empty object.
fn via_diff(r: &ResourceInfo, obj: &Value) -> Option<String> {
    let e = record_update(&req(r, "m", "T"), &empty_object(r), obj, &[]);
    (!e.is_empty()).then(|| serde_json::to_string(&encode(&e)).expect("json"))
}

fn direct(r: &ResourceInfo, obj: &Value) -> Option<String> {
    record_create(&req(r, "m", "T"), obj).map(|v| serde_json::to_string(&v).expect("json"))
}

#[test]
fn a_creates_fields_are_built_in_one_walk() {
    let cronjobs = resource::find("batch", "v1", "cronjobs").expect("cronjobs");
    let events = resource::find("", "v1", "events").expect("events");
    let namespaces = resource::find("", "v1", "namespaces").expect("namespaces");
    let cases: Vec<(&ResourceInfo, Value, Option<Value>)> = vec![
        // Only stripped metadata: the manager owns nothing.
        (
            jobs(),
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x", "uid": "u"}}),
            None,
        ),
        // Labels are a map (member with `.`), spec exists in the empty object (no `.`),
        // containers keyed by name, command atomic; status is reset.
        (
            jobs(),
            json!({"metadata": {"name": "x", "labels": {"a": "b"}}, "spec": {"backoffLimit": 6,
            "template": {"spec": {"containers": [{"name": "c", "image": "i", "command": ["true"],
            "ports": [{"containerPort": 80}]}]}}}, "status": {"active": 1}}),
            Some(
                json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}, "f:spec": {"f:backoffLimit": {},
            "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:command": {},
            "f:image": {}, "f:name": {}, "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}":
            {".": {}, "f:containerPort": {}}}}}}}}}),
            ),
        ),
        // Duplicate keys: the item is one member; keyless items make the list a leaf.
        (
            pods(),
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}, {"name": "c", "image": "i"}],
            "volumes": [{"emptyDir": {}}]}}),
            Some(json!({"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {}}, "f:volumes": {}}})),
        ),
        // A value equal to the empty object's is not owned (`schedule: ""`).
        (
            cronjobs,
            json!({"metadata": {"name": "c"}, "spec": {"schedule": "", "suspend": false}}),
            Some(json!({"f:spec": {"f:suspend": {}}})),
        ),
        (
            events,
            json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Job"}, "reason": "R",
            "reportingComponent": ""}),
            // (ObjectReference is an atomic map.)
            Some(json!({"f:involvedObject": {}, "f:reason": {}})),
        ),
        // Namespaces reset status too; their spec's finalizers are an atomic list.
        (
            namespaces,
            json!({"metadata": {"name": "n"}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
            Some(json!({"f:spec": {"f:finalizers": {}}})),
        ),
    ];
    for (r, obj, want) in cases {
        let got = create_fields(&req(r, "m", "T"), &obj).map(Value::Object);
        assert_eq!(got, want, "{obj}");
        assert_eq!(direct(r, &obj), via_diff(r, &obj), "{obj}");
    }
}

#[test]
fn a_creates_entry_is_the_diffs_byte_for_byte() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d",
        "labels": {"z": "1", "a": "2"}, "annotations": {"k": "v"}, "ownerReferences": [{"apiVersion": "batch/v1",
        "kind": "Job", "name": "j", "uid": "u", "controller": true}], "finalizers": ["f"],
        "managedFields": [{"manager": "x"}]},
        "spec": {"containers": [{"name": "b", "image": "i", "env": [{"name": "Z", "value": "1"}, {"name": "A",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}], "ports": [{"containerPort": 8080,
        "protocol": "UDP"}, {"containerPort": 80}], "volumeMounts": [{"name": "v", "mountPath": "/v"}],
        "resources": {"limits": {"cpu": "1"}}}, {"name": "a", "image": "i"}],
        "volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "configMap": {"name": "cm"}}],
        "nodeSelector": {"k": "v"}, "tolerations": [{"key": "k"}], "restartPolicy": "Never"},
        "status": {"phase": "Pending"}});
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "generateName": "g-"},
        "spec": {"completionMode": "Indexed", "completions": 5, "parallelism": 2, "backoffLimitPerIndex": 1,
        "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]},
        "selector": {"matchLabels": {"a": "b"}, "matchExpressions": [{"key": "k", "operator": "Exists"}]},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"restartPolicy": "Never",
        "containers": [{"name": "c", "image": "i", "args": ["a", "b"]}]}}}});
    assert!(direct(pods(), &pod).is_some());
    assert_eq!(direct(pods(), &pod), via_diff(pods(), &pod));
    assert_eq!(direct(jobs(), &job), via_diff(jobs(), &job));
}
