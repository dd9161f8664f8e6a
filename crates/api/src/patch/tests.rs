//! Table tests: RFC 7386 and RFC 6902 appendix examples, the apiserver's error texts and
//! statuses, and strategic merge patches as kubectl sends them.

use super::*;
use serde_json::json;

fn v(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("bad test JSON {s}: {e}"))
}

/// Order-sensitive comparison: the serialized forms must be identical.
#[track_caller]
fn assert_json(actual: &Value, expected: &str) {
    let expected = v(expected);
    assert_eq!(
        serde_json::to_string(actual).unwrap_or_default(),
        serde_json::to_string(&expected).unwrap_or_default()
    );
}

// ------------------------------------------------------------------------------------------
// JSON merge patch
// ------------------------------------------------------------------------------------------

#[test]
fn merge_patch_rfc7386_appendix_a() {
    // (original, patch, result); the apiserver's library agrees with RFC 7386 on all of these.
    let cases = [
        (r#"{"a":"b"}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
        (r#"{"a":"b"}"#, r#"{"b":"c"}"#, r#"{"a":"b","b":"c"}"#),
        (r#"{"a":"b"}"#, r#"{"a":null}"#, r#"{}"#),
        (r#"{"a":"b","b":"c"}"#, r#"{"a":null}"#, r#"{"b":"c"}"#),
        (r#"{"a":["b"]}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
        (r#"{"a":"c"}"#, r#"{"a":["b"]}"#, r#"{"a":["b"]}"#),
        (
            r#"{"a":{"b":"c"}}"#,
            r#"{"a":{"b":"d","c":null}}"#,
            r#"{"a":{"b":"d"}}"#,
        ),
        (r#"{"a":[{"b":"c"}]}"#, r#"{"a":[1]}"#, r#"{"a":[1]}"#),
        (r#"["a","b"]"#, r#"["c","d"]"#, r#"["c","d"]"#),
        (r#"{"a":"b"}"#, r#"["c"]"#, r#"["c"]"#),
        (r#"{"e":null}"#, r#"{"a":1}"#, r#"{"e":null,"a":1}"#),
        (r#"[1,2]"#, r#"{"a":"b","c":null}"#, r#"{"a":"b"}"#),
        (
            r#"{}"#,
            r#"{"a":{"bb":{"ccc":null}}}"#,
            r#"{"a":{"bb":{}}}"#,
        ),
    ];
    for (original, patch, result) in cases {
        let got =
            json_merge_patch(&v(original), &v(patch)).unwrap_or_else(|e| panic!("{patch}: {e}"));
        assert_json(&got, result);
    }
}

#[test]
fn merge_patch_rfc7386_section_3_example() {
    let original = r#"{"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},
        "tags":["example","sample"],"content":"This will be unchanged"}"#;
    let patch = r#"{"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]}"#;
    let got = json_merge_patch(&v(original), &v(patch)).expect("merge");
    assert_json(
        &got,
        r#"{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],
            "content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}"#,
    );
}

#[test]
fn merge_patch_null_or_scalar_patch_is_bad_request() {
    // RFC 7386 would return the patch itself; evanphx/json-patch (and so the apiserver) says 400.
    for patch in ["null", r#""bar""#, "1", "true"] {
        let err = json_merge_patch(&v(r#"{"a":"foo"}"#), &v(patch)).expect_err(patch);
        assert_eq!(err, PatchError::BadRequest("Invalid JSON Patch".to_owned()));
        assert_eq!((err.http_status(), err.reason()), (400, "BadRequest"));
    }
}

#[test]
fn merge_patch_kubectl_suspend_and_unchanged() {
    let cj = v(r#"{"metadata":{"name":"nightly"},"spec":{"schedule":"@daily","suspend":false}}"#);
    let got = json_merge_patch(&cj, &v(r#"{"spec":{"suspend":true}}"#)).expect("merge");
    assert_json(
        &got,
        r#"{"metadata":{"name":"nightly"},"spec":{"schedule":"@daily","suspend":true}}"#,
    );
    let same = json_merge_patch(&cj, &v(r#"{"spec":{"suspend":false}}"#)).expect("merge");
    assert_json(&same, &serde_json::to_string(&cj).unwrap_or_default());
}

// ------------------------------------------------------------------------------------------
// JSON patch
// ------------------------------------------------------------------------------------------

#[test]
fn json_patch_rfc6902_appendix_a() {
    // (section, document, patch, result)
    let cases = [
        (
            "A.1",
            r#"{"foo":"bar"}"#,
            r#"[{"op":"add","path":"/baz","value":"qux"}]"#,
            r#"{"foo":"bar","baz":"qux"}"#,
        ),
        (
            "A.2",
            r#"{"foo":["bar","baz"]}"#,
            r#"[{"op":"add","path":"/foo/1","value":"qux"}]"#,
            r#"{"foo":["bar","qux","baz"]}"#,
        ),
        (
            "A.3",
            r#"{"baz":"qux","foo":"bar"}"#,
            r#"[{"op":"remove","path":"/baz"}]"#,
            r#"{"foo":"bar"}"#,
        ),
        (
            "A.4",
            r#"{"foo":["bar","qux","baz"]}"#,
            r#"[{"op":"remove","path":"/foo/1"}]"#,
            r#"{"foo":["bar","baz"]}"#,
        ),
        (
            "A.5",
            r#"{"baz":"qux","foo":"bar"}"#,
            r#"[{"op":"replace","path":"/baz","value":"boo"}]"#,
            r#"{"baz":"boo","foo":"bar"}"#,
        ),
        (
            "A.6",
            r#"{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}"#,
            r#"[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]"#,
            r#"{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}"#,
        ),
        (
            "A.7",
            r#"{"foo":["all","grass","cows","eat"]}"#,
            r#"[{"op":"move","from":"/foo/1","path":"/foo/3"}]"#,
            r#"{"foo":["all","cows","eat","grass"]}"#,
        ),
        (
            "A.8",
            r#"{"baz":"qux","foo":["a",2,"c"]}"#,
            r#"[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]"#,
            r#"{"baz":"qux","foo":["a",2,"c"]}"#,
        ),
        (
            "A.10",
            r#"{"foo":"bar"}"#,
            r#"[{"op":"add","path":"/child","value":{"grandchild":{}}}]"#,
            r#"{"foo":"bar","child":{"grandchild":{}}}"#,
        ),
        (
            "A.11",
            r#"{"foo":"bar"}"#,
            r#"[{"op":"add","path":"/baz","value":"qux","xyz":123}]"#,
            r#"{"foo":"bar","baz":"qux"}"#,
        ),
        (
            "A.14",
            r#"{"/":9,"~1":10}"#,
            r#"[{"op":"test","path":"/~01","value":10}]"#,
            r#"{"/":9,"~1":10}"#,
        ),
        (
            "A.16",
            r#"{"foo":["bar"]}"#,
            r#"[{"op":"add","path":"/foo/-","value":["abc","def"]}]"#,
            r#"{"foo":["bar",["abc","def"]]}"#,
        ),
        // Beyond the appendix: escaping, copy, evanphx quirks the apiserver inherits.
        (
            "~1 escape",
            r#"{"metadata":{"annotations":{}}}"#,
            r#"[{"op":"add","path":"/metadata/annotations/example.com~1owner","value":"me"}]"#,
            r#"{"metadata":{"annotations":{"example.com/owner":"me"}}}"#,
        ),
        (
            "copy",
            r#"{"a":{"b":1}}"#,
            r#"[{"op":"copy","from":"/a","path":"/c"}]"#,
            r#"{"a":{"b":1},"c":{"b":1}}"#,
        ),
        (
            "negative index",
            r#"{"a":[1,2,3]}"#,
            r#"[{"op":"remove","path":"/a/-1"}]"#,
            r#"{"a":[1,2]}"#,
        ),
        (
            "replace of a missing member adds it",
            r#"{"a":1}"#,
            r#"[{"op":"replace","path":"/b","value":2}]"#,
            r#"{"a":1,"b":2}"#,
        ),
        (
            "test of a missing member against null",
            r#"{"a":1}"#,
            r#"[{"op":"test","path":"/b","value":null}]"#,
            r#"{"a":1}"#,
        ),
        ("null patch", r#"{"a":1}"#, "null", r#"{"a":1}"#),
        (
            "replace the whole document",
            r#"{"a":1}"#,
            r#"[{"op":"replace","path":"","value":{"b":2}}]"#,
            r#"{"b":2}"#,
        ),
    ];
    for (section, doc, patch, result) in cases {
        let got = json_patch(&v(doc), &v(patch)).unwrap_or_else(|e| panic!("{section}: {e}"));
        assert_json(&got, result);
    }
}

#[test]
fn json_patch_failures_are_422_with_evanphx_texts() {
    let cases = [
        (
            "A.9 failed test",
            r#"{"baz":"qux"}"#,
            r#"[{"op":"test","path":"/baz","value":"bar"}]"#,
            "testing value /baz failed: test failed",
        ),
        (
            "A.12 add to a nonexistent target",
            r#"{"foo":"bar"}"#,
            r#"[{"op":"add","path":"/baz/bat","value":"qux"}]"#,
            r#"add operation does not apply: doc is missing path: "/baz/bat": missing value"#,
        ),
        (
            "A.15 strings are not numbers",
            r#"{"/":9,"~1":10}"#,
            r#"[{"op":"test","path":"/~01","value":"10"}]"#,
            "testing value /~01 failed: test failed",
        ),
        (
            "remove a missing member",
            r#"{"a":1}"#,
            r#"[{"op":"remove","path":"/nope"}]"#,
            "error in remove for path: '/nope': Unable to remove nonexistent key: nope: missing value",
        ),
        (
            "remove below a missing member",
            r#"{"a":1}"#,
            r#"[{"op":"remove","path":"/x/y"}]"#,
            r#"remove operation does not apply: doc is missing path: "/x/y": missing value"#,
        ),
        (
            "index out of range",
            r#"{"a":[1]}"#,
            r#"[{"op":"add","path":"/a/5","value":2}]"#,
            "error in add for path: '/a/5': Unable to access invalid index: 5: invalid index referenced",
        ),
        (
            "not an index",
            r#"{"a":[1]}"#,
            r#"[{"op":"add","path":"/a/x","value":2}]"#,
            r#"error in add for path: '/a/x': value was not a proper array index: 'x': strconv.Atoi: parsing "x": invalid syntax"#,
        ),
        (
            "replace beyond the end",
            r#"{"a":[1]}"#,
            r#"[{"op":"replace","path":"/a/1","value":2}]"#,
            "replace operation does not apply: doc is missing key: /a/1: missing value",
        ),
        (
            "move from a missing member",
            r#"{"a":1}"#,
            r#"[{"op":"move","from":"/b","path":"/c"}]"#,
            "error in move for path: 'b': Unable to remove nonexistent key: b: missing value",
        ),
        (
            "missing path field",
            r#"{"a":1}"#,
            r#"[{"op":"replace","value":2}]"#,
            "replace operation failed to decode path: operation missing path field: missing value",
        ),
        (
            "unknown op",
            r#"{"a":1}"#,
            r#"[{"op":"frobnicate","path":"/a"}]"#,
            "Unexpected kind: frobnicate",
        ),
        (
            "missing op",
            r#"{"a":1}"#,
            r#"[{"path":"/a"}]"#,
            "Unexpected kind: unknown",
        ),
        (
            "second op fails, nothing applies",
            r#"{"metadata":{"resourceVersion":"7"}}"#,
            r#"[{"op":"replace","path":"/metadata/resourceVersion","value":"8"},{"op":"test","path":"/metadata/resourceVersion","value":"7"}]"#,
            "testing value /metadata/resourceVersion failed: test failed",
        ),
    ];
    for (name, doc, patch, message) in cases {
        let err = json_patch(&v(doc), &v(patch)).expect_err(name);
        assert_eq!(err, PatchError::Invalid(message.to_owned()), "{name}");
        assert_eq!(
            (err.http_status(), err.reason()),
            (422, "Invalid"),
            "{name}"
        );
        assert_eq!(
            err.status_message(),
            "the server rejected our request due to an error in our request"
        );
    }
}

#[test]
fn json_patch_kubectl_managed_fields_upgrade() {
    // What `kubectl apply --server-side` sends to move field ownership (compat doc §8).
    let doc = v(
        r#"{"metadata":{"name":"pi","resourceVersion":"42","managedFields":[{"manager":"kubectl-client-side-apply","operation":"Update"}]}}"#,
    );
    let patch = v(
        r#"[{"op":"test","path":"/metadata/resourceVersion","value":"42"},
        {"op":"replace","path":"/metadata/managedFields","value":[{"manager":"kubectl","operation":"Apply"}]}]"#,
    );
    let got = json_patch(&doc, &patch).expect("upgrade");
    assert_json(
        &got,
        r#"{"metadata":{"name":"pi","resourceVersion":"42","managedFields":[{"manager":"kubectl","operation":"Apply"}]}}"#,
    );
    let stale = v(r#"[{"op":"test","path":"/metadata/resourceVersion","value":"41"}]"#);
    assert_eq!(
        json_patch(&doc, &stale).map_err(|e| e.http_status()),
        Err(422)
    );
}

#[test]
fn json_patch_malformed_bodies() {
    let doc = v(r#"{"a":1}"#);
    let err = json_patch(&doc, &v(r#"{"op":"add"}"#)).expect_err("object");
    assert_eq!(
        err,
        PatchError::BadRequest(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch".to_owned()
        )
    );
    let err = json_patch(&doc, &v("[1]")).expect_err("number op");
    assert_eq!(
        err,
        PatchError::BadRequest(
            "json: cannot unmarshal number into Go value of type jsonpatch.Operation".to_owned()
        )
    );
    let many = Value::Array(vec![
        json!({"op": "test", "path": "/a", "value": 1});
        10_001
    ]);
    let err = json_patch(&doc, &many).expect_err("too many");
    assert_eq!(
        (err.http_status(), err.reason()),
        (413, "RequestEntityTooLarge")
    );
    assert_eq!(
        err.status_message(),
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    );
    let ok = Value::Array(vec![
        json!({"op": "test", "path": "/a", "value": 1});
        10_000
    ]);
    assert_eq!(json_patch(&doc, &ok).ok(), Some(doc.clone()));
}

#[test]
fn json_patch_copy_is_size_limited_and_depth_bounded() {
    // Doubling by copy stops at the 3 MiB accumulated-copy limit instead of eating memory.
    let mut ops = vec![json!({"op": "add", "path": "/a", "value": "x".repeat(1000)})];
    ops.push(json!({"op": "add", "path": "/l", "value": []}));
    for _ in 0..5000 {
        ops.push(json!({"op": "copy", "from": "/a", "path": "/l/-"}));
    }
    let err = json_patch(&json!({}), &Value::Array(ops)).expect_err("limit");
    assert!(
        err.to_string().starts_with("Unable to complete the copy"),
        "{err}"
    );
    // Nesting a value into itself again and again is refused before it gets too deep.
    let mut ops = vec![json!({"op": "add", "path": "/a", "value": {}})];
    for _ in 0..400 {
        ops.push(json!({"op": "add", "path": "/b", "value": {}}));
        ops.push(json!({"op": "move", "from": "/a", "path": "/b/a"}));
        ops.push(json!({"op": "move", "from": "/b", "path": "/a"}));
    }
    let err = json_patch(&json!({}), &Value::Array(ops)).expect_err("depth");
    assert_eq!(err.http_status(), 422);
}

// ------------------------------------------------------------------------------------------
// Strategic merge patch
// ------------------------------------------------------------------------------------------

fn jobs() -> &'static ResourceInfo {
    crate::resource::find("batch", "v1", "jobs").expect("jobs")
}

const JOB: &str = r#"{"apiVersion":"batch/v1","kind":"Job",
 "metadata":{"name":"pi","namespace":"default","labels":{"app":"y"},
   "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"old\":1}\n","team":"z"},
   "finalizers":["a","b","c"]},
 "spec":{"backoffLimit":4,"template":{"spec":{
   "containers":[{"name":"pi","image":"perl:5.34","args":["x","y"],"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
                 {"name":"side","image":"busybox"}],
   "restartPolicy":"Never",
   "securityContext":{"runAsUser":1,"fsGroup":2},
   "volumes":[{"name":"data","hostPath":{"path":"/x"}}]}}}}"#;

#[track_caller]
fn smp(patch: &str) -> Value {
    strategic_merge_patch(jobs(), &v(JOB), &v(patch)).unwrap_or_else(|e| panic!("{patch}: {e}"))
}

#[track_caller]
fn smp_err(patch: &str) -> PatchError {
    strategic_merge_patch(jobs(), &v(JOB), &v(patch)).expect_err(patch)
}

/// The job's pod spec after the patch.
fn pod_spec(job: &Value) -> &Value {
    &job["spec"]["template"]["spec"]
}

#[test]
fn smp_kubectl_apply_label_change_full_object() {
    let got = smp(
        r#"{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"new\":1}\n"},"labels":{"app":"x"}}}"#,
    );
    let expected = JOB
        .replace(r#""labels":{"app":"y"}"#, r#""labels":{"app":"x"}"#)
        .replace(r#"{\"old\":1}"#, r#"{\"new\":1}"#);
    assert_json(&got, &expected);
}

#[test]
fn smp_kubectl_apply_image_change_with_set_element_order() {
    let got = smp(
        r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"pi"},{"name":"side"}],
            "containers":[{"image":"busybox:1.36","name":"side"}]}}}}"#,
    );
    let expected = JOB.replace(r#""image":"busybox""#, r#""image":"busybox:1.36""#);
    assert_json(&got, &expected);
}

#[test]
fn smp_set_element_order_reorders_and_places_new_items() {
    // Reorder only: no list in the patch.
    let got = smp(
        r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"side"},{"name":"pi"}]}}}}"#,
    );
    let names: Vec<&str> = pod_spec(&got)["containers"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["side", "pi"]);
    // kubectl apply adding a container in the middle.
    let got = smp(
        r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"pi"},{"name":"new"},{"name":"side"}],
            "containers":[{"name":"new","image":"nginx"}]}}}}"#,
    );
    assert_json(
        &pod_spec(&got)["containers"],
        r#"[{"name":"pi","image":"perl:5.34","args":["x","y"],"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
            {"name":"new","image":"nginx"},{"name":"side","image":"busybox"}]"#,
    );
}

#[test]
fn smp_env_merges_by_name() {
    // Without $setElementOrder: changed items keep their place, new ones follow the patch.
    let got = smp(
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"pi","env":[{"name":"B","value":"3"},{"name":"C","value":"4"}]}]}}}}"#,
    );
    assert_json(
        &pod_spec(&got)["containers"][0]["env"],
        r#"[{"name":"A","value":"1"},{"name":"B","value":"3"},{"name":"C","value":"4"}]"#,
    );
    // A lone new item is compared first and lands in front (normalizeElementOrder).
    let got = smp(
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"pi","env":[{"name":"C","value":"4"}]}]}}}}"#,
    );
    assert_json(
        &pod_spec(&got)["containers"][0]["env"],
        r#"[{"name":"C","value":"4"},{"name":"A","value":"1"},{"name":"B","value":"2"}]"#,
    );
    // kubectl apply: $setElementOrder/env decides, and a removed entry carries $patch: delete.
    let got = smp(
        r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"pi"},{"name":"side"}],
            "containers":[{"$setElementOrder/env":[{"name":"C"},{"name":"A"}],"name":"pi",
                           "env":[{"name":"C","value":"4"},{"$patch":"delete","name":"B"}]}]}}}}"#,
    );
    assert_json(
        &pod_spec(&got)["containers"][0]["env"],
        r#"[{"name":"C","value":"4"},{"name":"A","value":"1"}]"#,
    );
    // Merging into an element keeps the element's other fields.
    assert_json(&pod_spec(&got)["containers"][0]["args"], r#"["x","y"]"#);
}

#[test]
fn smp_patch_delete_directives() {
    let got =
        smp(r#"{"spec":{"template":{"spec":{"containers":[{"$patch":"delete","name":"pi"}]}}}}"#);
    assert_json(
        &pod_spec(&got)["containers"],
        r#"[{"name":"side","image":"busybox"}]"#,
    );
    // On a map: the map becomes empty.
    let got = smp(r#"{"spec":{"template":{"spec":{"securityContext":{"$patch":"delete"}}}}}"#);
    assert_json(&pod_spec(&got)["securityContext"], "{}");
    // Deleting an element needs its merge key.
    let err = smp_err(
        r#"{"spec":{"template":{"spec":{"containers":[{"$patch":"delete","image":"x"}]}}}}"#,
    );
    assert_eq!(
        err,
        PatchError::Internal(
            "map: map[$patch:delete image:x] does not contain declared merge key: name".to_owned()
        )
    );
    assert_eq!(err.http_status(), 500);
}

#[test]
fn smp_patch_replace_directives() {
    let got = smp(
        r#"{"spec":{"template":{"spec":{"securityContext":{"$patch":"replace","runAsUser":3}}}}}"#,
    );
    assert_json(&pod_spec(&got)["securityContext"], r#"{"runAsUser":3}"#);
    let got = smp(
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"i"},{"$patch":"replace"}]}}}}"#,
    );
    assert_json(
        &pod_spec(&got)["containers"],
        r#"[{"name":"c","image":"i"}]"#,
    );
    // `$patch: merge` on a map is the default behaviour; in a list it is refused.
    let err = smp_err(r#"{"spec":{"template":{"spec":{"containers":[{"$patch":"merge"}]}}}}"#);
    assert_eq!(
        err,
        PatchError::Internal("merging lists cannot yet be specified in the patch".to_owned())
    );
}

#[test]
fn smp_unknown_directive_is_the_real_error() {
    let err = smp_err(
        r#"{"spec":{"template":{"spec":{"securityContext":{"$patch":"foo","runAsUser":3}}}}}"#,
    );
    assert_eq!(
        err,
        PatchError::Internal(
            "unknown patch type: foo in map: map[$patch:foo runAsUser:3]".to_owned()
        )
    );
    assert_eq!(
        (
            err.http_status(),
            err.reason(),
            err.status_message().as_str()
        ),
        (500, "", err.to_string().as_str())
    );
    let err =
        smp_err(r#"{"spec":{"template":{"spec":{"containers":[{"$patch":"bar","name":"pi"}]}}}}"#);
    assert_eq!(
        err,
        PatchError::Internal("unknown patch type: bar in map: map[$patch:bar name:pi]".to_owned())
    );
}

#[test]
fn smp_retain_keys_on_volumes() {
    // kubectl apply switching a volume from hostPath to emptyDir.
    let got = smp(
        r#"{"spec":{"template":{"spec":{"$setElementOrder/volumes":[{"name":"data"}],
            "volumes":[{"$retainKeys":["emptyDir","name"],"emptyDir":{},"name":"data"}]}}}}"#,
    );
    assert_json(
        &pod_spec(&got)["volumes"],
        r#"[{"name":"data","emptyDir":{}}]"#,
    );
    let err = smp_err(
        r#"{"spec":{"template":{"spec":{"volumes":[{"$retainKeys":["name"],"emptyDir":{},"name":"data"}]}}}}"#,
    );
    assert_eq!(
        err,
        PatchError::BadRequest("invalid patch format of retainKeys".to_owned())
    );
    let err = smp_err(
        r#"{"spec":{"template":{"spec":{"volumes":[{"$retainKeys":"name","name":"data"}]}}}}"#,
    );
    assert_eq!(err.http_status(), 400);
}

#[test]
fn smp_finalizers_are_a_primitive_set() {
    let got = smp(r#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]}}"#);
    assert_json(&got["metadata"]["finalizers"], r#"["a","c"]"#);
    // Set-merge: duplicates dropped; items ordered as normalizeElementOrder does.
    let got = smp(r#"{"metadata":{"finalizers":["d","a"]}}"#);
    assert_json(&got["metadata"]["finalizers"], r#"["d","a","b","c"]"#);
    let got = smp(
        r#"{"metadata":{"$setElementOrder/finalizers":["a","c","d"],"finalizers":["d"],"$deleteFromPrimitiveList/finalizers":["b"]}}"#,
    );
    assert_json(&got["metadata"]["finalizers"], r#"["a","c","d"]"#);
    let err = smp_err(r#"{"metadata":{"$deleteFromPrimitiveListX/finalizers":["b"]}}"#);
    assert_eq!(
        err,
        PatchError::BadRequest("invalid patch format of primitive list".to_owned())
    );
}

#[test]
fn smp_lists_without_merge_key_are_replaced() {
    let got = smp(r#"{"spec":{"template":{"spec":{"containers":[{"name":"pi","args":["z"]}]}}}}"#);
    assert_json(&pod_spec(&got)["containers"][0]["args"], r#"["z"]"#);
    // A deletion list applies to any list (apimachinery 1.25+).
    let got = smp(
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"pi","$deleteFromPrimitiveList/args":["x"]}]}}}}"#,
    );
    assert_json(&pod_spec(&got)["containers"][0]["args"], r#"["y"]"#);
}

#[test]
fn smp_no_change_equals_target() {
    let target = v(JOB);
    for patch in [
        "{}",
        "null",
        r#"{"metadata":{"labels":{"app":"y"}}}"#,
        r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"pi"},{"name":"side"}],"containers":[{"name":"pi","image":"perl:5.34"}]}}}}"#,
        r#"{"metadata":{"finalizers":["a"],"$deleteFromPrimitiveList/finalizers":["zzz"]}}"#,
        r#"{"metadata":{"nope":null}}"#,
    ] {
        let got = strategic_merge_patch(jobs(), &target, &v(patch))
            .unwrap_or_else(|e| panic!("{patch}: {e}"));
        assert_json(&got, JOB);
    }
}

#[test]
fn smp_maps_merge_and_null_deletes() {
    let got = smp(
        r#"{"metadata":{"labels":{"tier":"batch"},"annotations":{"team":null}},"spec":{"backoffLimit":null}}"#,
    );
    assert_json(&got["metadata"]["labels"], r#"{"app":"y","tier":"batch"}"#);
    assert_json(
        &got["metadata"]["annotations"],
        r#"{"kubectl.kubernetes.io/last-applied-configuration":"{\"old\":1}\n"}"#,
    );
    assert!(got["spec"].get("backoffLimit").is_none());
    // A new map has its nulls and directives dropped.
    let got = smp(
        r#"{"spec":{"template":{"spec":{"nodeSelector":{"disk":"ssd","gpu":null,"$retainKeys":["disk"]}}}}}"#,
    );
    assert_json(&pod_spec(&got)["nodeSelector"], r#"{"disk":"ssd"}"#);
    // A new list is taken as-is, minus elements that are directives.
    let got = smp(
        r#"{"spec":{"template":{"spec":{"tolerations":[{"key":"k","operator":"Exists"},{"$patch":"delete","key":"x"}]}}}}"#,
    );
    assert_json(
        &pod_spec(&got)["tolerations"],
        r#"[{"key":"k","operator":"Exists"}]"#,
    );
}

#[test]
fn smp_other_merge_keys() {
    let pods = crate::resource::find("", "v1", "pods").expect("pods");
    let pod = v(
        r#"{"metadata":{"name":"p","ownerReferences":[{"uid":"u1","kind":"Job","name":"a"}]},
        "spec":{"containers":[{"name":"c","ports":[{"containerPort":80,"protocol":"TCP"}],
                               "volumeMounts":[{"name":"d","mountPath":"/d"}]}]},
        "status":{"phase":"Running","conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}}"#,
    );
    let got = strategic_merge_patch(
        pods,
        &pod,
        &v(r#"{"metadata":{"ownerReferences":[{"uid":"u1","controller":true}]},
              "spec":{"containers":[{"name":"c","ports":[{"containerPort":80,"name":"http"}],"volumeMounts":[{"mountPath":"/d","readOnly":true}]}]},
              "status":{"conditions":[{"type":"Ready","status":"True"}]}}"#),
    )
    .expect("pod patch");
    assert_json(
        &got,
        r#"{"metadata":{"name":"p","ownerReferences":[{"uid":"u1","kind":"Job","name":"a","controller":true}]},
            "spec":{"containers":[{"name":"c","ports":[{"containerPort":80,"protocol":"TCP","name":"http"}],
                                   "volumeMounts":[{"name":"d","mountPath":"/d","readOnly":true}]}]},
            "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"},{"type":"PodScheduled","status":"True"}]}}"#,
    );
    // Job status conditions merge by type (what a status-subresource patch sends).
    let got = smp(r#"{"status":{"conditions":[{"type":"Complete","status":"True"}]}}"#);
    assert_json(
        &got["status"],
        r#"{"conditions":[{"type":"Complete","status":"True"}]}"#,
    );
}

#[test]
fn smp_errors_and_statuses() {
    // (patch, error)
    let cases = [
        (
            "[1]",
            PatchError::BadRequest("json: cannot unmarshal array into Go value of type map[string]interface {}".to_owned()),
        ),
        (
            r#"{"spec":{"template":{"spec":{"$setElementOrder":[]}}}}"#,
            PatchError::BadRequest("invalid patch format of setElementOrder list".to_owned()),
        ),
        (
            r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"side"}],"containers":[{"name":"pi","image":"x"}]}}}}"#,
            PatchError::Internal(
                "The order in patch list:\n[map[image:x name:pi]]\n doesn't match $setElementOrder list:\n[map[name:side]]\n"
                    .to_owned(),
            ),
        ),
        (
            r#"{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}"#,
            PatchError::Internal("map: map[image:x] does not contain declared merge key: name".to_owned()),
        ),
        (
            r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":"pi"}}}}"#,
            PatchError::Internal("expected a []interface {}, but received a string".to_owned()),
        ),
        (
            r#"{"metadata":{"finalizers":[["x"]]}}"#,
            PatchError::Internal("list element types are not identical: [[a b c] [[x]]]".to_owned()),
        ),
        (
            r#"{"metadata":{"finalizers":[1]}}"#,
            PatchError::Internal("list element types are not identical: [[a b c] [1]]".to_owned()),
        ),
    ];
    for (patch, want) in cases {
        assert_eq!(smp_err(patch), want, "{patch}");
    }
    assert_eq!(smp_err("[1]").http_status(), 400);
    // A list of lists is 422 (ErrNoListOfLists) when its first element is a list.
    let err = strategic_merge_patch(
        jobs(),
        &json!({"metadata": {"finalizers": []}}),
        &v(r#"{"metadata":{"finalizers":[["x"]]}}"#),
    )
    .expect_err("list of lists");
    assert_eq!(
        err,
        PatchError::Invalid("lists of lists are not supported".to_owned())
    );
    assert_eq!(err.http_status(), 422);
}

#[test]
fn smp_without_schema_merges_maps_and_replaces_lists() {
    let events = crate::resource::find("", "v1", "events").expect("events");
    let got = strategic_merge_patch(
        events,
        &v(r#"{"count":1,"source":{"component":"a"},"unknown":[1,2]}"#),
        &v(r#"{"count":2,"source":{"host":"h"},"unknown":[3]}"#),
    )
    .expect("event patch");
    assert_json(
        &got,
        r#"{"count":2,"source":{"component":"a","host":"h"},"unknown":[3]}"#,
    );
}

#[test]
fn deep_inputs_are_refused_without_overflow() {
    let mut deep = json!("leaf");
    for _ in 0..(MAX_DEPTH + 5) {
        deep = json!({ "a": deep });
    }
    let target = v(JOB);
    assert_eq!(
        json_merge_patch(&target, &deep).map_err(|e| e.http_status()),
        Err(400)
    );
    assert_eq!(
        strategic_merge_patch(jobs(), &target, &deep).map_err(|e| e.http_status()),
        Err(400)
    );
    let ops = json!([{ "op": "add", "path": "/x", "value": deep }]);
    assert_eq!(
        json_patch(&target, &ops).map_err(|e| e.http_status()),
        Err(400)
    );
}

#[test]
fn go_value_formatting() {
    assert_eq!(
        go_fmt(&json!({"b": [1, 2.5, null], "a": true}), false),
        "map[a:true b:[1 2.5 <nil>]]"
    );
    assert_eq!(go_fmt(&json!(1e6), false), "1e+06");
    assert_eq!(go_fmt(&json!(123456.0), false), "123456");
    assert_eq!(go_fmt(&json!(1), true), "%!s(int64=1)");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn key() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "a",
            "name",
            "image",
            "containers",
            "env",
            "finalizers",
            "$patch",
            "$retainKeys",
            "$setElementOrder/containers",
            "$setElementOrder/env",
            "$deleteFromPrimitiveList/finalizers",
            "$deleteFromPrimitiveList/containers",
            "spec",
            "template",
            "metadata",
            "volumes",
            "replace",
            "delete",
            "merge",
            "op",
            "path",
            "from",
            "value",
        ])
        .prop_map(str::to_owned)
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..3).prop_map(|n| json!(n)),
            Just(json!(1.5)),
            prop::sample::select(vec![
                "replace", "delete", "merge", "add", "remove", "move", "copy", "test", "/a",
                "/a/0", "/-", "", "x"
            ])
            .prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(5, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]
        #[test]
        fn never_panics(target in json_value(), patch in json_value()) {
            let _ = json_merge_patch(&target, &patch);
            let _ = json_patch(&target, &patch);
            let _ = strategic_merge_patch(jobs(), &target, &patch);
            let wrapped = json!({"spec": {"template": {"spec": {"containers": [target.clone()]}}}, "metadata": {"finalizers": [patch.clone()]}});
            let _ = strategic_merge_patch(jobs(), &v(JOB), &wrapped);
            let _ = strategic_merge_patch(jobs(), &wrapped, &patch);
        }
    }
}
