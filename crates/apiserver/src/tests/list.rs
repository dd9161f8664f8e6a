//! List and get: JSON and Table shapes, selectors, paging.

use super::*;

const JOBS: &str = "/apis/batch/v1/namespaces/default/jobs";

#[tokio::test]
async fn list_shape() {
    let h = app().await;
    h.create_job("default", job("a")).await;
    h.create_job("default", job("b")).await;
    let l = h.get(JOBS).await.expect(200);
    assert_eq!(l["kind"], "JobList");
    assert_eq!(l["apiVersion"], "batch/v1");
    assert_eq!(l["metadata"]["resourceVersion"], h.revision().to_string());
    assert!(l["metadata"].get("continue").is_none());
    assert_eq!(names(&l), vec!["a", "b"]);
    for item in l["items"].as_array().expect("items") {
        assert_eq!(item["kind"], "Job");
        assert!(item["metadata"]["resourceVersion"].is_string());
    }
    // An empty list still has an items array.
    let l = h.get("/api/v1/namespaces/default/pods").await.expect(200);
    assert_eq!(l["kind"], "PodList");
    assert_eq!(l["items"], json!([]));
}

#[tokio::test]
async fn table_list_and_get() {
    let h = app().await;
    h.create_job("default", job("a")).await;
    let t = h.get_table(JOBS).await.expect(200);
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(t["metadata"]["resourceVersion"], h.revision().to_string());
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        cols,
        vec![
            "Name",
            "Status",
            "Completions",
            "Duration",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(t["columnDefinitions"][0]["format"], "name");
    let rows = t["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["cells"][0], "a");
    assert_eq!(
        rows[0]["cells"].as_array().expect("cells").len(),
        cols.len()
    );
    let obj = &rows[0]["object"];
    assert_eq!(obj["kind"], "PartialObjectMetadata");
    assert_eq!(obj["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(obj["metadata"]["name"], "a");
    assert!(obj.get("spec").is_none());

    let t = h
        .get_table(&format!("{JOBS}?includeObject=Object"))
        .await
        .expect(200);
    assert_eq!(t["rows"][0]["object"]["kind"], "Job");
    assert!(t["rows"][0]["object"]["spec"].is_object());
    let t = h
        .get_table(&format!("{JOBS}?includeObject=None"))
        .await
        .expect(200);
    assert!(t["rows"][0].get("object").is_none());

    // A single object is a one-row Table with its resourceVersion.
    let j = h.get(&job_path("default", "a")).await.expect(200);
    let t = h.get_table(&job_path("default", "a")).await.expect(200);
    assert_eq!(t["kind"], "Table");
    assert_eq!(
        t["metadata"]["resourceVersion"],
        j["metadata"]["resourceVersion"]
    );
    assert_eq!(t["rows"].as_array().expect("rows").len(), 1);
    // Errors stay Status objects.
    h.get_table(&job_path("default", "nope"))
        .await
        .expect_status(404, "NotFound");
}

#[tokio::test]
async fn label_selectors() {
    let h = app().await;
    for (n, labels) in [
        ("a", json!({"app": "web", "tier": "1"})),
        ("b", json!({"app": "db"})),
        ("c", json!({"app": "cache", "tier": "2"})),
        ("d", json!({})),
    ] {
        h.create_job("default", job_labeled(n, labels)).await;
    }
    let cases = [
        ("app%3Dweb", vec!["a"]),
        ("app%3D%3Dweb", vec!["a"]),
        ("app!%3Dweb", vec!["b", "c", "d"]),
        ("app%20in%20(web,db)", vec!["a", "b"]),
        ("app%20notin%20(web,db)", vec!["c", "d"]),
        ("tier", vec!["a", "c"]),
        ("!tier", vec!["b", "d"]),
        ("app,tier%3D2", vec!["c"]),
        ("", vec!["a", "b", "c", "d"]),
    ];
    for (sel, want) in cases {
        let l = h
            .get(&format!("{JOBS}?labelSelector={sel}"))
            .await
            .expect(200);
        assert_eq!(names(&l), want, "selector {sel}");
    }
    h.get(&format!("{JOBS}?labelSelector=app%20in%20web"))
        .await
        .expect_status(400, "BadRequest");
}

#[tokio::test]
async fn field_selectors() {
    let h = app().await;
    h.post(
        "/api/v1/namespaces",
        &json!({"metadata": {"name": "other"}}),
    )
    .await
    .expect(201);
    h.create_job("default", job("a")).await;
    h.create_job("default", job("b")).await;
    h.create_job("other", job("a")).await;
    let l = h
        .get(&format!("{JOBS}?fieldSelector=metadata.name%3Da"))
        .await
        .expect(200);
    assert_eq!(names(&l), vec!["a"]);
    let l = h
        .get("/apis/batch/v1/jobs?fieldSelector=metadata.namespace%3Dother")
        .await
        .expect(200);
    assert_eq!(names(&l), vec!["a"]);
    assert_eq!(l["items"][0]["metadata"]["namespace"], "other");
    let l = h
        .get("/apis/batch/v1/jobs?fieldSelector=metadata.name!%3Da")
        .await
        .expect(200);
    assert_eq!(names(&l), vec!["b"]);
    let s = h
        .get(&format!("{JOBS}?fieldSelector=spec.parallelism%3D1"))
        .await
        .expect_status(400, "BadRequest");
    assert_eq!(
        s["message"],
        "field label \"spec.parallelism\" not supported for batchv1.Job"
    );

    // Pods: status.phase.
    let pods = "/api/v1/namespaces/default/pods";
    h.post(pods, &pod("p1")).await.expect(201);
    h.post(pods, &pod("p2")).await.expect(201);
    h.patch(
        &format!("{pods}/p2/status"),
        MERGE,
        &json!({"status": {"phase": "Running"}}),
    )
    .await
    .expect(200);
    let l = h
        .get(&format!("{pods}?fieldSelector=status.phase%3DRunning"))
        .await
        .expect(200);
    assert_eq!(names(&l), vec!["p2"]);
    let l = h
        .get(&format!("{pods}?fieldSelector=status.phase%3DPending"))
        .await
        .expect(200);
    assert_eq!(names(&l), vec!["p1"]);
    let s = h
        .get(&format!("{pods}?fieldSelector=spec.foo%3Dx"))
        .await
        .expect_status(400, "BadRequest");
    assert_eq!(s["message"], "field label not supported: spec.foo");

    // Events: involvedObject.* as kubectl describe asks.
    let events = "/api/v1/namespaces/default/events";
    for (n, kind, name, uid) in [
        ("e1", "Job", "a", "u-a"),
        ("e2", "Job", "b", "u-b"),
        ("e3", "CronJob", "a", "u-c"),
    ] {
        h.post(
            events,
            &json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": n},
                "involvedObject": {"kind": kind, "name": name, "namespace": "default", "uid": uid},
                "reason": "SuccessfulCreate", "message": "Created pod: x", "type": "Normal",
                "source": {"component": "job-controller"}
            }),
        )
        .await
        .expect(201);
    }
    let l = h
        .get(&format!(
            "{events}?fieldSelector=involvedObject.name%3Da,involvedObject.namespace%3Ddefault,involvedObject.kind%3DJob,involvedObject.uid%3Du-a&limit=500"
        ))
        .await
        .expect(200);
    assert_eq!(names(&l), vec!["e1"]);
    let l = h
        .get(&format!("{events}?fieldSelector=involvedObject.name%3Da"))
        .await
        .expect(200);
    assert_eq!(names(&l), vec!["e1", "e3"]);
}

#[tokio::test]
async fn paging_is_consistent() {
    let h = app().await;
    for i in 0..7 {
        h.create_job("default", job(&format!("j{i}"))).await;
    }
    let first = h.get(&format!("{JOBS}?limit=3")).await.expect(200);
    let rv = first["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_owned();
    assert_eq!(names(&first), vec!["j0", "j1", "j2"]);
    let mut token = first["metadata"]["continue"]
        .as_str()
        .expect("continue")
        .to_owned();
    // Writes between pages do not show up in later pages.
    h.create_job("default", job("j3a")).await;
    h.delete(&job_path("default", "j5"), None).await.expect(200);
    let mut seen = names(&first);
    loop {
        let page = h
            .get(&format!("{JOBS}?limit=3&continue={token}"))
            .await
            .expect(200);
        assert_eq!(page["metadata"]["resourceVersion"], rv.as_str());
        seen.extend(names(&page));
        match page["metadata"]["continue"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_owned(),
            _ => break,
        }
    }
    assert_eq!(seen, vec!["j0", "j1", "j2", "j3", "j4", "j5", "j6"]);
    // A fresh list sees the writes.
    let now = h.get(JOBS).await.expect(200);
    assert_eq!(names(&now), vec!["j0", "j1", "j2", "j3", "j3a", "j4", "j6"]);
    // A limit equal to the size has no continue.
    let all = h.get(&format!("{JOBS}?limit=7")).await.expect(200);
    assert_eq!(names(&all).len(), 7);
    assert!(
        all["metadata"]
            .get("continue")
            .is_none_or(|c| c.as_str() == Some("")),
        "{}",
        all["metadata"]
    );
}

#[tokio::test]
async fn paging_with_selector() {
    let h = app().await;
    for i in 0..6 {
        let app_label = if i % 2 == 0 { "even" } else { "odd" };
        h.create_job(
            "default",
            job_labeled(&format!("j{i}"), json!({"app": app_label})),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut url = format!("{JOBS}?limit=2&labelSelector=app%3Deven");
    loop {
        let page = h.get(&url).await.expect(200);
        seen.extend(names(&page));
        match page["metadata"]["continue"].as_str() {
            Some(t) if !t.is_empty() => {
                url = format!("{JOBS}?limit=2&labelSelector=app%3Deven&continue={t}")
            }
            _ => break,
        }
    }
    assert_eq!(seen, vec!["j0", "j2", "j4"]);
}

#[tokio::test]
async fn invalid_continue_is_400() {
    let h = app().await;
    let s = h
        .get(&format!("{JOBS}?limit=1&continue=!!notatoken"))
        .await
        .expect_status(400, "BadRequest");
    assert!(
        s["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("invalid continue token: continue key is not valid")),
        "{s}"
    );
    // A valid token with a resourceVersion is 400 too.
    h.create_job("default", job("a")).await;
    h.create_job("default", job("b")).await;
    let first = h.get(&format!("{JOBS}?limit=1")).await.expect(200);
    let token = first["metadata"]["continue"].as_str().expect("continue");
    let s = h
        .get(&format!(
            "{JOBS}?limit=1&continue={token}&resourceVersion=1"
        ))
        .await
        .expect_status(400, "BadRequest");
    assert_eq!(
        s["message"],
        "specifying resource version is not allowed when using continue"
    );
    h.get(&format!("{JOBS}?limit=abc"))
        .await
        .expect_status(400, "BadRequest");
}

#[tokio::test]
async fn all_namespaces() {
    let h = app().await;
    h.post("/api/v1/namespaces", &json!({"metadata": {"name": "b-ns"}}))
        .await
        .expect(201);
    h.create_job("default", job("x")).await;
    h.create_job("b-ns", job("y")).await;
    let l = h.get("/apis/batch/v1/jobs").await.expect(200);
    let got: Vec<(String, String)> = l["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                i["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![("b-ns".into(), "y".into()), ("default".into(), "x".into())]
    );
    let t = h.get_table("/apis/batch/v1/jobs").await.expect(200);
    assert_eq!(t["rows"].as_array().expect("rows").len(), 2);
    // Namespaces list includes the system ones.
    let ns = h.get("/api/v1/namespaces").await.expect(200);
    for n in [
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "b-ns",
    ] {
        assert!(names(&ns).iter().any(|x| x == n), "{n}");
    }
}
