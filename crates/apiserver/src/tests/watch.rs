//! Watch: initial events, resuming from a revision, selector transitions, bookmarks,
//! timeouts, 410 Expired and Table events.

use super::*;

const JOBS: &str = "/apis/batch/v1/namespaces/default/jobs";
const JSON: &str = "application/json";

async fn list_rv(h: &Harness) -> String {
    h.get(JOBS).await.expect(200)["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_owned()
}

#[tokio::test]
async fn initial_events_for_rv_unset_and_zero() {
    let h = app().await;
    h.create_job("default", job("a")).await;
    h.create_job("default", job("b")).await;
    for (q, new) in [
        ("watch=true", "c"),
        (
            "watch=true&resourceVersion=0&fieldSelector=metadata.name!%3Dc",
            "d",
        ),
    ] {
        let mut ev = h.watch(&format!("{JOBS}?{q}"), JSON).await;
        assert_eq!(
            ev.next_kind_name().await,
            ("ADDED".into(), "a".into()),
            "{q}"
        );
        assert_eq!(
            ev.next_kind_name().await,
            ("ADDED".into(), "b".into()),
            "{q}"
        );
        h.create_job("default", job(new)).await;
        assert_eq!(
            ev.next_kind_name().await,
            ("ADDED".into(), new.into()),
            "{q}"
        );
    }
    // kubectl get job X -w: a field selector and resourceVersion=0.
    let mut ev = h
        .watch(
            &format!("{JOBS}?fieldSelector=metadata.name%3Db&resourceVersion=0&watch=true"),
            JSON,
        )
        .await;
    assert_eq!(ev.next_kind_name().await, ("ADDED".into(), "b".into()));
    h.patch(
        &job_path("default", "a"),
        MERGE,
        &json!({"metadata": {"labels": {"x": "1"}}}),
    )
    .await
    .expect(200);
    h.patch(
        &job_path("default", "b"),
        MERGE,
        &json!({"metadata": {"labels": {"x": "1"}}}),
    )
    .await
    .expect(200);
    assert_eq!(ev.next_kind_name().await, ("MODIFIED".into(), "b".into()));
}

#[tokio::test]
async fn from_list_revision_only_later_changes() {
    let h = app().await;
    h.create_job("default", job("old")).await;
    let rv = list_rv(&h).await;
    let mut ev = h
        .watch(&format!("{JOBS}?watch=true&resourceVersion={rv}"), JSON)
        .await;
    h.create_job("default", job("new")).await;
    let patched = h
        .patch(
            &job_path("default", "old"),
            MERGE,
            &json!({"metadata": {"labels": {"x": "1"}}}),
        )
        .await
        .expect(200);
    h.delete(&job_path("default", "new"), None)
        .await
        .expect(200);
    let e1 = ev.expect_next().await;
    assert_eq!(e1["type"], "ADDED");
    assert_eq!(e1["object"]["metadata"]["name"], "new");
    assert_eq!(e1["object"]["kind"], "Job");
    let e2 = ev.expect_next().await;
    assert_eq!(e2["type"], "MODIFIED");
    assert_eq!(e2["object"], patched, "the event carries the stored object");
    let e3 = ev.expect_next().await;
    assert_eq!(e3["type"], "DELETED");
    assert_eq!(e3["object"]["metadata"]["name"], "new");
    // Revisions increase.
    let rvs: Vec<u64> = [&e1, &e2, &e3]
        .iter()
        .map(|e| {
            e["object"]["metadata"]["resourceVersion"]
                .as_str()
                .expect("rv")
                .parse()
                .expect("num")
        })
        .collect();
    assert!(rvs.windows(2).all(|w| w[0] < w[1]), "{rvs:?}");
    assert!(rvs[0] > rv.parse::<u64>().expect("num"));
}

#[tokio::test]
async fn noop_update_emits_no_event() {
    let h = app().await;
    let created = h.create_job("default", job("a")).await;
    let rv = list_rv(&h).await;
    let mut ev = h
        .watch(&format!("{JOBS}?watch=true&resourceVersion={rv}"), JSON)
        .await;
    h.put(&job_path("default", "a"), &created).await.expect(200);
    h.patch(
        &job_path("default", "a"),
        MERGE,
        &json!({"spec": {"parallelism": 1}}),
    )
    .await
    .expect(200);
    h.create_job("default", job("marker")).await;
    // The first event is the marker's: the no-ops wrote nothing.
    assert_eq!(ev.next_kind_name().await, ("ADDED".into(), "marker".into()));
}

#[tokio::test]
async fn label_selector_transitions() {
    let h = app().await;
    h.create_job("default", job_labeled("a", json!({"app": "x"})))
        .await;
    let rv = list_rv(&h).await;
    let mut ev = h
        .watch(
            &format!("{JOBS}?watch=true&labelSelector=app%3Dx&resourceVersion={rv}"),
            JSON,
        )
        .await;
    let path = job_path("default", "a");
    // Stops matching: DELETED, carrying the last state that matched (as the real cacher).
    let moved = h
        .patch(&path, MERGE, &json!({"metadata": {"labels": {"app": "y"}}}))
        .await
        .expect(200);
    let e = ev.expect_next().await;
    assert_eq!(e["type"], "DELETED");
    assert_eq!(e["object"]["metadata"]["labels"]["app"], "x");
    assert_eq!(
        e["object"]["metadata"]["resourceVersion"],
        moved["metadata"]["resourceVersion"]
    );
    // Changes while not matching are invisible.
    h.patch(
        &path,
        MERGE,
        &json!({"metadata": {"labels": {"other": "1"}}}),
    )
    .await
    .expect(200);
    // Starts matching again: ADDED.
    h.patch(&path, MERGE, &json!({"metadata": {"labels": {"app": "x"}}}))
        .await
        .expect(200);
    let e = ev.expect_next().await;
    assert_eq!(e["type"], "ADDED");
    assert_eq!(e["object"]["metadata"]["labels"]["app"], "x");
    // Still matching: MODIFIED; then deleted: DELETED.
    h.patch(
        &path,
        MERGE,
        &json!({"metadata": {"labels": {"other": "2"}}}),
    )
    .await
    .expect(200);
    assert_eq!(ev.next_kind_name().await, ("MODIFIED".into(), "a".into()));
    h.delete(&path, None).await.expect(200);
    assert_eq!(ev.next_kind_name().await, ("DELETED".into(), "a".into()));
    // Objects that never match are never seen.
    h.create_job("default", job_labeled("b", json!({"app": "z"})))
        .await;
    h.create_job("default", job_labeled("c", json!({"app": "x"})))
        .await;
    assert_eq!(ev.next_kind_name().await, ("ADDED".into(), "c".into()));
}

#[tokio::test(start_paused = true)]
async fn bookmarks() {
    let h = app().await;
    h.create_job("default", job("a")).await;
    let rv = list_rv(&h).await;
    let mut ev = h
        .watch(
            &format!("{JOBS}?watch=true&allowWatchBookmarks=true&resourceVersion={rv}"),
            JSON,
        )
        .await;
    // Paused time: the runtime advances the clock to the bookmark timer once idle.
    let b = ev.next().await.expect("event");
    assert_eq!(b["type"], "BOOKMARK");
    assert_eq!(b["object"]["kind"], "Job");
    assert_eq!(b["object"]["apiVersion"], "batch/v1");
    assert_eq!(b["object"]["metadata"]["resourceVersion"], rv.as_str());
    // Without allowWatchBookmarks there are none: the stream just ends at its timeout.
    let mut ev = h
        .watch(
            &format!("{JOBS}?watch=true&resourceVersion={rv}&timeoutSeconds=600"),
            JSON,
        )
        .await;
    assert!(ev.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn timeout_ends_the_stream() {
    let h = app().await;
    h.create_job("default", job("a")).await;
    let mut ev = h
        .watch(&format!("{JOBS}?watch=true&timeoutSeconds=5"), JSON)
        .await;
    assert_eq!(ev.next().await.expect("initial")["type"], "ADDED");
    assert!(ev.next().await.is_none(), "the stream ends at the timeout");
}

#[tokio::test]
async fn shutdown_ends_the_stream() {
    let h = app().await;
    let mut ev = h.watch(&format!("{JOBS}?watch=true"), JSON).await;
    h.shutdown.cancel();
    assert!(ev.next().await.is_none());
}

#[tokio::test]
async fn expired_revision_is_an_error_event() {
    let h = app_with(
        store::Options {
            history_len: 4,
            watch_buffer: 4,
            ..Default::default()
        },
        None,
    )
    .await;
    for i in 0..12 {
        h.create_job("default", job(&format!("j{i}"))).await;
    }
    let oldest = h.registry.store().oldest_revision();
    assert!(oldest > 2, "history was compacted (oldest {oldest})");
    let mut ev = h
        .watch(&format!("{JOBS}?watch=true&resourceVersion=1"), JSON)
        .await;
    let e = ev.expect_next().await;
    assert_eq!(e["type"], "ERROR");
    assert_status(&e["object"], 410, "Expired");
    assert_eq!(
        e["object"]["message"],
        format!("too old resource version: 1 ({oldest})")
    );
    assert!(ev.next().await.is_none(), "the stream ends after the error");
    // A list at a compacted revision is 410 too.
    h.get(&format!(
        "{JOBS}?resourceVersion=1&resourceVersionMatch=Exact"
    ))
    .await
    .expect_status(410, "Expired");
}

#[tokio::test]
async fn table_watch() {
    let h = app().await;
    let rv = list_rv(&h).await;
    let mut ev = h
        .watch(&format!("{JOBS}?watch=true&resourceVersion={rv}"), TABLE)
        .await;
    h.create_job("default", job("a")).await;
    h.create_job("default", job("b")).await;
    let e1 = ev.expect_next().await;
    assert_eq!(e1["type"], "ADDED");
    assert_eq!(e1["object"]["kind"], "Table");
    assert!(
        e1["object"]["columnDefinitions"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
    assert_eq!(e1["object"]["rows"][0]["cells"][0], "a");
    assert_eq!(
        e1["object"]["rows"][0]["object"]["kind"],
        "PartialObjectMetadata"
    );
    let e2 = ev.expect_next().await;
    assert_eq!(e2["object"]["kind"], "Table");
    assert!(e2["object"]["columnDefinitions"].is_null());
    assert_eq!(e2["object"]["rows"][0]["cells"][0], "b");
}

#[tokio::test]
async fn the_in_process_router_leaves_managed_fields_out_of_watches_and_lists() {
    let mut h = app().await;
    async fn create(h: &Harness, name: &str) {
        h.post(&format!("{JOBS}?fieldManager=test"), &job(name))
            .await
            .expect(201);
    }
    create(&h, "a").await;
    let managed = |v: &Value| v["metadata"].get("managedFields").is_some();
    for omit in [false, true] {
        if omit {
            h.set_omit_managed_fields();
        }
        let list = h.get(JOBS).await.expect(200);
        let mut ev = h.watch(&format!("{JOBS}?watch=true"), JSON).await;
        let added = ev.expect_next().await;
        create(&h, if omit { "c" } else { "b" }).await;
        let next = ev.expect_next().await;
        for (what, v) in [
            ("list item", &list["items"][0]),
            ("initial event", &added["object"]),
            ("event", &next["object"]),
        ] {
            let name = v["metadata"]["name"].as_str().unwrap_or_default();
            let mut got = h.get(&format!("{JOBS}/{name}")).await.expect(200);
            assert!(managed(&got), "a GET is whole either way");
            if omit {
                got["metadata"]
                    .as_object_mut()
                    .map(|m| m.remove("managedFields"));
            }
            assert_eq!(v, &got, "{what}, omit {omit}");
        }
    }
}
