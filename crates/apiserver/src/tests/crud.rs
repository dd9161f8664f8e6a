//! Create, get, update and delete.

use super::*;

const JOBS: &str = "/apis/batch/v1/namespaces/default/jobs";

#[tokio::test]
async fn create_sets_server_fields() {
    let h = app().await;
    let before = h.revision();
    let r = h.post(JOBS, &job("pi")).await;
    let j = r.expect(201);
    assert_eq!(
        r.headers.get("content-type").expect("content-type"),
        "application/json"
    );
    let m = &j["metadata"];
    assert_eq!(m["name"], "pi");
    assert_eq!(m["namespace"], "default");
    assert_eq!(m["uid"].as_str().expect("uid").len(), 36);
    assert_eq!(m["creationTimestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(m["generation"], 1);
    let rv: u64 = m["resourceVersion"]
        .as_str()
        .expect("rv")
        .parse()
        .expect("numeric rv");
    assert!(rv > before);
    assert_eq!(j["kind"], "Job");
    assert_eq!(j["apiVersion"], "batch/v1");
    // Defaulting ran: the generated selector and the job labels.
    assert_eq!(
        j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        m["uid"]
    );
    assert_eq!(m["labels"]["job-name"], "pi");
    // GET returns exactly what create answered.
    let g = h.get(&job_path("default", "pi")).await;
    assert_eq!(g.expect(200), j);
    // A second create is 409 AlreadyExists.
    let s = h
        .post(JOBS, &job("pi"))
        .await
        .expect_status(409, "AlreadyExists");
    assert_eq!(s["message"], "jobs.batch \"pi\" already exists");
    assert_eq!(
        s["details"],
        json!({"name": "pi", "group": "batch", "kind": "jobs"})
    );
}

#[tokio::test]
async fn generate_name() {
    let h = app().await;
    let mut j = job("");
    j["metadata"] = json!({"generateName": "pi-"});
    let out = h.create_job("default", j).await;
    let name = out["metadata"]["name"].as_str().expect("name");
    let suffix = name.strip_prefix("pi-").expect("prefix");
    assert_eq!(suffix.len(), 5, "{name}");
    assert!(
        suffix
            .chars()
            .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
        "{name}"
    );
    assert_eq!(out["metadata"]["generateName"], "pi-");
    h.get(&job_path("default", name)).await.expect(200);
}

#[tokio::test]
async fn create_namespace_checks() {
    let h = app().await;
    let mut j = job("pi");
    j["metadata"]["namespace"] = json!("kube-system");
    let s = h.post(JOBS, &j).await.expect_status(400, "BadRequest");
    assert_eq!(
        s["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
    let s = h
        .post("/apis/batch/v1/namespaces/x/jobs", &job("pi"))
        .await
        .expect_status(404, "NotFound");
    assert_eq!(s["message"], "namespaces \"x\" not found");
    assert_eq!(
        s["details"],
        json!({"name": "x", "group": "", "kind": "namespaces"})
    );
}

#[tokio::test]
async fn create_dry_run_stores_nothing() {
    let h = app().await;
    let before = h.revision();
    let out = h
        .post(&format!("{JOBS}?dryRun=All"), &job("dry"))
        .await
        .expect(201);
    assert_eq!(out["metadata"]["name"], "dry");
    assert!(out["metadata"]["uid"].is_string());
    assert_eq!(out["spec"]["backoffLimit"], 6, "defaulted");
    // As the real server (the object never reached storage): no resourceVersion.
    assert!(out["metadata"].get("resourceVersion").is_none(), "{out}");
    h.get(&job_path("default", "dry"))
        .await
        .expect_status(404, "NotFound");
    let list = h.get(JOBS).await.expect(200);
    assert_eq!(list["metadata"]["resourceVersion"], before.to_string());
    assert_eq!(h.revision(), before);
    // A dry-run create of an existing object is still 409.
    h.create_job("default", job("real")).await;
    h.post(&format!("{JOBS}?dryRun=All"), &job("real"))
        .await
        .expect_status(409, "AlreadyExists");
    // An unknown dryRun value is 400.
    h.post(&format!("{JOBS}?dryRun=Some"), &job("x"))
        .await
        .expect_status(400, "BadRequest");
}

#[tokio::test]
async fn field_validation() {
    let h = app().await;
    let mut j = job("warn");
    j["spec"]["x"] = json!(1);
    let r = h.post(&format!("{JOBS}?fieldValidation=Warn"), &j).await;
    let out = r.expect(201);
    assert_eq!(r.warnings(), vec![r#"299 - "unknown field \"spec.x\"""#]);
    assert!(out["spec"].get("x").is_none());
    // The default is Warn.
    j["metadata"]["name"] = json!("default-warn");
    let r = h.post(JOBS, &j).await;
    r.expect(201);
    assert_eq!(r.warnings().len(), 1);

    j["metadata"]["name"] = json!("strict");
    j["spec"]["template"]["spec"]["containers"][0]["bogus"] = json!(true);
    let s = h
        .post(&format!("{JOBS}?fieldValidation=Strict"), &j)
        .await
        .expect_status(400, "BadRequest");
    assert_eq!(
        s["message"],
        "Job in version \"v1\" cannot be handled as a Job: strict decoding error: unknown field \"spec.template.spec.containers[0].bogus\", unknown field \"spec.x\""
    );
    h.get(&job_path("default", "strict"))
        .await
        .expect_status(404, "NotFound");

    j["metadata"]["name"] = json!("ignore");
    let r = h.post(&format!("{JOBS}?fieldValidation=Ignore"), &j).await;
    let out = r.expect(201);
    assert!(r.warnings().is_empty());
    assert!(out["spec"].get("x").is_none());
    assert!(
        out["spec"]["template"]["spec"]["containers"][0]
            .get("bogus")
            .is_none()
    );
}

#[tokio::test]
async fn validation_error_is_422_with_causes() {
    let h = app().await;
    let mut j = job("bad");
    j["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    let s = h.post(JOBS, &j).await.expect_status(422, "Invalid");
    assert_eq!(s["details"]["name"], "bad");
    assert_eq!(s["details"]["group"], "batch");
    assert_eq!(s["details"]["kind"], "Job");
    let causes = s["details"]["causes"].as_array().expect("causes");
    assert!(
        causes
            .iter()
            .any(|c| c["field"] == "spec.template.spec.restartPolicy"
                && c["reason"] == "FieldValueRequired"),
        "{s}"
    );
    assert_eq!(
        s["message"],
        "Job.batch \"bad\" is invalid: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
    );
}

#[tokio::test]
async fn pod_status_is_the_servers_on_create() {
    let h = app().await;
    let pods = "/api/v1/namespaces/default/pods";
    let mut p = pod("p");
    p["status"] = json!({"phase": "Running", "podIP": "10.0.0.1"});
    let out = h.post(pods, &p).await.expect(201);
    assert_eq!(
        out["status"],
        json!({"phase": "Pending", "qosClass": "BestEffort"})
    );
    let mut p = pod("g");
    p["spec"]["containers"][0]["resources"] = json!({"limits": {"cpu": "500m", "memory": "64Mi"}});
    let out = h.post(pods, &p).await.expect(201);
    assert_eq!(out["status"]["qosClass"], "Guaranteed");
    let mut p = pod("b");
    p["spec"]["containers"][0]["resources"] = json!({"requests": {"cpu": "100m"}});
    let out = h.post(pods, &p).await.expect(201);
    assert_eq!(out["status"]["qosClass"], "Burstable");
}

#[tokio::test]
async fn update_conflict_and_noop() {
    let h = app().await;
    let created = h.create_job("default", job("pi")).await;
    let path = job_path("default", "pi");
    let raw = h.get(&path).await;
    // A no-op PUT returns the stored bytes and does not write.
    let rev = h.revision();
    let r = h.put(&path, &created).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, raw.body, "no-op PUT must be byte-identical");
    assert_eq!(h.revision(), rev);

    // A label change writes, without bumping generation.
    let mut changed = created.clone();
    changed["metadata"]["labels"]["team"] = json!("a");
    let v2 = h.put(&path, &changed).await.expect(200);
    assert_eq!(v2["metadata"]["labels"]["team"], "a");
    assert_eq!(v2["metadata"]["generation"], 1);
    assert_ne!(
        v2["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );

    // The old resourceVersion is now stale.
    let s = h.put(&path, &changed).await.expect_status(409, "Conflict");
    assert_eq!(
        s["message"],
        "Operation cannot be fulfilled on jobs.batch \"pi\": the object has been modified; please apply your changes to the latest version and try again"
    );
    assert_eq!(
        s["details"],
        json!({"name": "pi", "group": "batch", "kind": "jobs"})
    );

    // A spec change bumps generation; status sent to the main resource is ignored.
    let mut spec = v2.clone();
    spec["spec"]["parallelism"] = json!(2);
    spec["status"] = json!({"active": 5});
    let v3 = h.put(&path, &spec).await.expect(200);
    assert_eq!(v3["spec"]["parallelism"], 2);
    assert_eq!(v3["metadata"]["generation"], 2);
    assert!(
        v3.get("status").is_none_or(|s| s.get("active").is_none()),
        "{v3}"
    );

    // Without a resourceVersion the update is unconditional.
    let mut unconditional = v3.clone();
    unconditional["metadata"]
        .as_object_mut()
        .expect("meta")
        .remove("resourceVersion");
    unconditional["metadata"]["labels"]["team"] = json!("b");
    h.put(&path, &unconditional).await.expect(200);

    // Name mismatch.
    let mut other = v3.clone();
    other["metadata"]["name"] = json!("other");
    other["metadata"]
        .as_object_mut()
        .expect("meta")
        .remove("resourceVersion");
    let s = h.put(&path, &other).await.expect_status(400, "BadRequest");
    assert_eq!(
        s["message"],
        "the name of the object (other) does not match the name on the URL (pi)"
    );
    // Missing object.
    h.put(&job_path("default", "nope"), &job("nope"))
        .await
        .expect_status(404, "NotFound");
    // The name is required, and checked before the object is looked up.
    let mut anonymous = job("x");
    anonymous["metadata"] = json!({});
    let s = h
        .put(&job_path("default", "nope"), &anonymous)
        .await
        .expect_status(400, "BadRequest");
    assert_eq!(
        s["message"],
        "the name of the object () does not match the name on the URL (nope)"
    );
    // Namespace mismatch.
    let mut moved = v3.clone();
    moved["metadata"]["namespace"] = json!("kube-system");
    let s = h.put(&path, &moved).await.expect_status(400, "BadRequest");
    assert_eq!(
        s["message"],
        "the namespace of the object (kube-system) does not match the namespace on the URL (default)"
    );
    // A different uid is a failed precondition.
    let mut other_uid = h.get(&path).await.expect(200);
    other_uid["metadata"]["uid"] = json!("00000000-0000-0000-0000-000000000000");
    let s = h
        .put(&path, &other_uid)
        .await
        .expect_status(409, "Conflict");
    assert!(
        s["message"]
            .as_str()
            .is_some_and(|m| m.contains("Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, UID in object meta: ")),
        "{s}"
    );
}

#[tokio::test]
async fn status_subresource() {
    let h = app().await;
    let created = h.create_job("default", job("pi")).await;
    let path = job_path("default", "pi");
    let mut body = created.clone();
    body["spec"]["parallelism"] = json!(3);
    body["status"] = json!({"active": 1});
    body["metadata"]["labels"]["via"] = json!("status");
    let out = h.put(&format!("{path}/status"), &body).await.expect(200);
    assert_eq!(out["status"]["active"], 1);
    assert_eq!(out["spec"]["parallelism"], 1, "status ignores spec");
    assert_eq!(out["metadata"]["generation"], 1);
    // jobStatusStrategy resets only spec: metadata changes stand, as on the real server.
    assert_eq!(out["metadata"]["labels"]["via"], "status");
    let got = h.get(&path).await.expect(200);
    assert_eq!(got, out);
    // GET of the status subresource returns the whole object.
    assert_eq!(h.get(&format!("{path}/status")).await.expect(200), got);
    // A merge patch to status.
    let out = h
        .patch(
            &format!("{path}/status"),
            MERGE,
            &json!({"status": {"ready": 1}}),
        )
        .await
        .expect(200);
    assert_eq!(out["status"]["ready"], 1);
    assert_eq!(out["status"]["active"], 1);
}

#[tokio::test]
async fn delete_job_returns_status() {
    let h = app().await;
    let created = h.create_job("default", job("pi")).await;
    let path = job_path("default", "pi");
    let s = h
        .delete(&path, Some(&json!({"propagationPolicy": "Background"})))
        .await
        .expect(200);
    assert_eq!(
        s,
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": "pi", "group": "batch", "kind": "jobs", "uid": created["metadata"]["uid"]}
        })
    );
    let s = h.get(&path).await.expect_status(404, "NotFound");
    assert_eq!(s["message"], "jobs.batch \"pi\" not found");
    h.delete(&path, None).await.expect_status(404, "NotFound");
}

#[tokio::test]
async fn propagation_policies_add_the_collectors_finalizers() {
    let h = app().await;
    // A batch/v1 Job deleted without a policy orphans its dependents (the real default).
    h.create_job("default", job("raw")).await;
    let out = h.delete_raw(&job_path("default", "raw")).await.expect(200);
    assert_eq!(out["metadata"]["finalizers"], json!(["orphan"]));
    assert!(out["metadata"]["deletionTimestamp"].is_string());
    // Foreground keeps the owner with foregroundDeletion.
    h.create_job("default", job("fg")).await;
    let out = h
        .delete(
            &job_path("default", "fg"),
            Some(&json!({"propagationPolicy": "Foreground"})),
        )
        .await
        .expect(200);
    assert_eq!(out["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    // Explicit Orphan, through the query parameter.
    h.create_job("default", job("or")).await;
    let out = h
        .req(
            "DELETE",
            &format!("{}?propagationPolicy=Orphan", job_path("default", "or")),
            &[],
            String::new(),
        )
        .await
        .expect(200);
    assert_eq!(out["metadata"]["finalizers"], json!(["orphan"]));
    // Removing the finalizer (as the collector does) completes the deletion.
    h.req(
        "PATCH",
        &job_path("default", "or"),
        &[("content-type", "application/merge-patch+json")],
        json!({"metadata": {"finalizers": null}}).to_string(),
    )
    .await
    .expect(200);
    h.get(&job_path("default", "or"))
        .await
        .expect_status(404, "NotFound");
}

/// Every kind gets the collector's finalizer for a Foreground or Orphan delete, as from
/// kube-apiserver (the garbage collector removes it); Background deletes at once.
#[tokio::test]
async fn every_kind_waits_for_the_collector_on_foreground_and_orphan_deletes() {
    let h = app().await;
    let events = "/api/v1/namespaces/default/events";
    let cases = [
        ("e1", "Foreground", Some("foregroundDeletion")),
        ("e2", "Orphan", Some("orphan")),
        ("e3", "Background", None),
    ];
    for (name, policy, finalizer) in cases {
        let ev = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Test", "message": "m", "type": "Normal"});
        h.post(events, &ev).await.expect(201);
        let path = format!("{events}/{name}");
        let out = h
            .delete(&path, Some(&json!({"propagationPolicy": policy})))
            .await
            .expect(200);
        match finalizer {
            Some(f) => {
                assert_eq!(out["metadata"]["finalizers"], json!([f]), "{policy}");
                assert!(out["metadata"]["deletionTimestamp"].is_string(), "{policy}");
                h.get(&path).await.expect(200);
            }
            None => {
                h.get(&path).await.expect_status(404, "NotFound");
            }
        }
    }
}

#[tokio::test]
async fn delete_pod_returns_object() {
    let h = app().await;
    let pods = "/api/v1/namespaces/default/pods";
    let created = h.post(pods, &pod("p")).await.expect(201);
    let out = h.delete(&format!("{pods}/p"), None).await.expect(200);
    assert_eq!(out["kind"], "Pod");
    assert_eq!(out["metadata"]["uid"], created["metadata"]["uid"]);
    h.get(&format!("{pods}/p"))
        .await
        .expect_status(404, "NotFound");
}

#[tokio::test]
async fn delete_preconditions() {
    let h = app().await;
    let created = h.create_job("default", job("pi")).await;
    let path = job_path("default", "pi");
    let s = h
        .delete(&path, Some(&json!({"preconditions": {"uid": "nope"}})))
        .await
        .expect_status(409, "Conflict");
    assert_eq!(
        s["message"],
        format!(
            "Operation cannot be fulfilled on jobs.batch \"pi\": Precondition failed: UID in precondition: nope, UID in object meta: {}",
            created["metadata"]["uid"].as_str().expect("uid")
        )
    );
    let rv = created["metadata"]["resourceVersion"].as_str().expect("rv");
    let s = h
        .delete(
            &path,
            Some(&json!({"preconditions": {"resourceVersion": "1"}})),
        )
        .await
        .expect_status(409, "Conflict");
    assert_eq!(
        s["message"],
        format!(
            "Operation cannot be fulfilled on jobs.batch \"pi\": Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: {rv}"
        )
    );
    h.get(&path).await.expect(200);
    h.delete(
        &path,
        Some(&json!({
            "propagationPolicy": "Background",
            "preconditions": {"uid": created["metadata"]["uid"], "resourceVersion": rv}
        })),
    )
    .await
    .expect(200);
    h.get(&path).await.expect_status(404, "NotFound");
}

#[tokio::test]
async fn delete_dry_run_keeps_object() {
    let h = app().await;
    h.create_job("default", job("pi")).await;
    let rev = h.revision();
    h.delete(&format!("{}?dryRun=All", job_path("default", "pi")), None)
        .await
        .expect(200);
    h.get(&job_path("default", "pi")).await.expect(200);
    assert_eq!(h.revision(), rev);
}

#[tokio::test]
async fn finalizers_hold_deletion() {
    let h = app().await;
    let mut j = job("held");
    j["metadata"]["finalizers"] = json!(["example.com/block"]);
    h.create_job("default", j).await;
    let path = job_path("default", "held");
    let list = h.get(JOBS).await.expect(200);
    let mut events = h
        .watch(
            &format!(
                "{JOBS}?watch=true&resourceVersion={}",
                list["metadata"]["resourceVersion"].as_str().expect("rv")
            ),
            "application/json",
        )
        .await;

    h.advance(10);
    let pending = h.delete(&path, None).await.expect(200);
    assert_eq!(pending["kind"], "Job", "the object, not a Status");
    assert_eq!(
        pending["metadata"]["deletionTimestamp"],
        "2023-11-14T22:13:30Z"
    );
    assert_eq!(pending["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(
        events.next_kind_name().await,
        ("MODIFIED".into(), "held".into())
    );
    // Still there; a second delete changes nothing.
    let got = h.get(&path).await.expect(200);
    assert_eq!(got, pending);
    let again = h.delete(&path, None).await.expect(200);
    assert_eq!(again, pending);
    // An update may not clear deletionTimestamp.
    let mut relabel = got.clone();
    relabel["metadata"]["labels"]["x"] = json!("y");
    relabel["metadata"]
        .as_object_mut()
        .expect("meta")
        .remove("deletionTimestamp");
    let v = h.put(&path, &relabel).await.expect(200);
    assert_eq!(v["metadata"]["deletionTimestamp"], "2023-11-14T22:13:30Z");
    assert_eq!(
        events.next_kind_name().await,
        ("MODIFIED".into(), "held".into())
    );
    // Removing the last finalizer completes the deletion.
    h.patch(&path, MERGE, &json!({"metadata": {"finalizers": null}}))
        .await
        .expect(200);
    h.get(&path).await.expect_status(404, "NotFound");
    let ev = events.expect_next().await;
    assert_eq!(ev["type"], "DELETED");
    assert_eq!(ev["object"]["metadata"]["name"], "held");
}

#[tokio::test]
async fn delete_collection_with_selector() {
    let h = app().await;
    for (n, app_label) in [("a", "x"), ("b", "x"), ("c", "y")] {
        h.create_job("default", job_labeled(n, json!({"app": app_label})))
            .await;
    }
    let out = h
        .delete(&format!("{JOBS}?labelSelector=app%3Dx"), None)
        .await
        .expect(200);
    assert_eq!(out["kind"], "JobList");
    assert_eq!(names(&out), vec!["a", "b"]);
    let list = h.get(JOBS).await.expect(200);
    assert_eq!(names(&list), vec!["c"]);
}

#[tokio::test]
async fn namespaces() {
    let h = app().await;
    let s = h
        .delete("/api/v1/namespaces/default", None)
        .await
        .expect_status(403, "Forbidden");
    assert_eq!(
        s["message"],
        "namespaces \"default\" is forbidden: this namespace may not be deleted"
    );
    h.post(
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
    )
    .await
    .expect(201);
    h.create_job("team", job("pi")).await;
    h.post("/api/v1/namespaces/team/pods", &pod("p"))
        .await
        .expect(201);
    let out = h.delete("/api/v1/namespaces/team", None).await.expect(200);
    assert_eq!(out["kind"], "Namespace");
    assert_eq!(out["status"]["phase"], "Terminating");
    assert!(out["metadata"]["deletionTimestamp"].is_string());
    h.get(&job_path("team", "pi"))
        .await
        .expect_status(404, "NotFound");
    h.get("/api/v1/namespaces/team/pods/p")
        .await
        .expect_status(404, "NotFound");
    h.get("/api/v1/namespaces/team")
        .await
        .expect_status(404, "NotFound");
    // Nothing of it is left in all-namespace lists.
    assert!(names(&h.get("/apis/batch/v1/jobs").await.expect(200)).is_empty());
}

/// A DELETE racing a controller's writes to the same object is not refused with a Conflict
/// (the real registry retries its compare-and-swap on the new version): only a failed
/// precondition is the caller's conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_racing_other_writes_is_retried_not_refused() {
    let h = Arc::new(app().await);
    for i in 0..20 {
        let name = format!("raced-{i}");
        h.create_job("default", job(&name)).await;
        let path = job_path("default", &name);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (h, path, stop) = (h.clone(), path.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = h
                        .patch(
                            &path,
                            "application/merge-patch+json",
                            &json!({"metadata": {"labels": {"n": n.to_string()}}}),
                        )
                        .await;
                    if r.status != StatusCode::OK {
                        break;
                    }
                    n += 1;
                    tokio::task::yield_now().await;
                }
                n
            })
        };
        // Foreground: the deletion is a compare-and-swap write of deletionTimestamp.
        let r = h
            .delete(&path, Some(&json!({"propagationPolicy": "Foreground"})))
            .await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.await.expect("writer");
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let got = h.get(&path).await.expect(200);
        assert!(got["metadata"]["deletionTimestamp"].is_string(), "{got}");
    }
}
