//! Behaviour tests for every store operation and error.

use std::collections::HashSet;
use std::path::Path;

use bytes::Bytes;
use store::{Error, EventKind, ListOptions, Options, Store};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn open(dir: &Path) -> Store {
    Store::open(&dir.join("store.db"), Options::default()).expect("open")
}

fn open_with(dir: &Path, history_len: u64, watch_buffer: usize) -> Store {
    let opts = Options {
        history_len,
        watch_buffer,
        ..Options::default()
    };
    Store::open(&dir.join("store.db"), opts).expect("open")
}

fn keys(store: &Store, prefix: &str) -> Vec<String> {
    let list = store.list(prefix, &ListOptions::default()).unwrap();
    list.items.into_iter().map(|kv| kv.key).collect()
}

#[tokio::test]
async fn empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    assert_eq!(s.current_revision(), 0);
    assert_eq!(s.oldest_revision(), 0);
    assert_eq!(s.get("a").unwrap(), None);
    let list = s.list("", &ListOptions::default()).unwrap();
    assert!(list.items.is_empty());
    assert_eq!(list.revision, 0);
    assert!(!list.more);
    s.close().await;
}

#[tokio::test]
async fn create_get_update_delete() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let c = s.create("/a", b("1")).await.unwrap();
    assert_eq!((c.create_revision, c.mod_revision), (1, 1));
    assert_eq!(c.value, b("1"));
    assert_eq!(s.get("/a").unwrap(), Some(c.clone()));
    let u = s.update("/a", b("2"), None).await.unwrap();
    assert_eq!((u.create_revision, u.mod_revision), (1, 2));
    assert_eq!(s.get("/a").unwrap().unwrap().value, b("2"));
    let u = s.update("/a", b("3"), Some(2)).await.unwrap();
    assert_eq!(u.mod_revision, 3);
    let d = s.delete("/a", None).await.unwrap();
    assert_eq!(d.key, "/a");
    assert_eq!(d.value, b("3"));
    assert_eq!((d.create_revision, d.mod_revision), (1, 4));
    assert_eq!(s.get("/a").unwrap(), None);
    assert_eq!(s.current_revision(), 4);
    // Re-creating gets a new create revision.
    let c = s.create("/a", b("x")).await.unwrap();
    assert_eq!((c.create_revision, c.mod_revision), (5, 5));
    s.close().await;
}

#[tokio::test]
async fn errors_do_not_consume_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create("k", b("v")).await.unwrap();
    assert!(matches!(
        s.create("k", b("w")).await,
        Err(Error::AlreadyExists { key }) if key == "k"
    ));
    assert!(matches!(
        s.update("missing", b("w"), None).await,
        Err(Error::NotFound { key }) if key == "missing"
    ));
    assert!(matches!(
        s.delete("missing", None).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        s.delete("missing", Some(1)).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(s.current_revision(), 1);
    assert_eq!(s.get("k").unwrap().unwrap().value, b("v"));
    assert_eq!(s.stats().writes, 1);
    s.close().await;
}

#[tokio::test]
async fn preconditions() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create("k", b("1")).await.unwrap();
    s.update("k", b("2"), Some(1)).await.unwrap();
    assert!(matches!(
        s.update("k", b("3"), Some(1)).await,
        Err(Error::Conflict { key, current: 2 }) if key == "k"
    ));
    assert!(matches!(
        s.update("k", b("3"), Some(3)).await,
        Err(Error::Conflict { current: 2, .. })
    ));
    assert!(matches!(
        s.delete("k", Some(1)).await,
        Err(Error::Conflict { current: 2, .. })
    ));
    assert_eq!(s.get("k").unwrap().unwrap().value, b("2"));
    let d = s.delete("k", Some(2)).await.unwrap();
    assert_eq!(d.mod_revision, 3);
    assert_eq!(s.get("k").unwrap(), None);
    s.close().await;
}

#[tokio::test]
async fn opaque_keys_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let odd = ["", "\0", "a\0b", "ключ", "🦀/x", "\u{10FFFF}", "a%_*"];
    for k in odd {
        s.create(k, Bytes::new()).await.unwrap();
    }
    let binary = Bytes::from(vec![0u8, 255, 1, 0, 128]);
    s.update("a\0b", binary.clone(), None).await.unwrap();
    assert_eq!(s.get("a\0b").unwrap().unwrap().value, binary);
    assert_eq!(s.get("").unwrap().unwrap().value, Bytes::new());
    let mut sorted: Vec<String> = odd.iter().map(|k| k.to_string()).collect();
    sorted.sort();
    assert_eq!(keys(&s, ""), sorted);
    // `%` and `_` are not wildcards.
    assert_eq!(keys(&s, "a%"), vec!["a%_*"]);
    assert_eq!(keys(&s, "a_"), Vec::<String>::new());
    assert_eq!(keys(&s, "\u{10FFFF}"), vec!["\u{10FFFF}"]);
    s.close().await;
}

#[tokio::test]
async fn list_prefix_is_a_range() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    for k in [
        "a", "a/", "a/b", "a/b/c", "a0", "a\u{7f}", "a\u{80}", "b", "/jobs/x",
    ] {
        s.create(k, b(k)).await.unwrap();
    }
    assert_eq!(keys(&s, "a/"), vec!["a/", "a/b", "a/b/c"]);
    assert_eq!(
        keys(&s, "a"),
        vec!["a", "a/", "a/b", "a/b/c", "a0", "a\u{7f}", "a\u{80}"]
    );
    assert_eq!(keys(&s, "a\u{7f}"), vec!["a\u{7f}"]);
    assert_eq!(keys(&s, "/jobs/"), vec!["/jobs/x"]);
    assert_eq!(keys(&s, "c"), Vec::<String>::new());
    assert_eq!(keys(&s, "").len(), 9);
    s.close().await;
}

#[tokio::test]
async fn paginated_list_keeps_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    for i in 0..10 {
        s.create(&format!("/p/{i}"), b(&format!("v{i}")))
            .await
            .unwrap();
    }
    s.create("/q/outside", b("x")).await.unwrap();
    let all = s.list("/p/", &ListOptions::default()).unwrap();
    let rev = all.revision;
    let mut opts = ListOptions {
        limit: Some(3),
        ..Default::default()
    };
    let page = s.list("/p/", &opts).unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(page.more);
    assert_eq!(page.revision, rev);
    let mut seen = page.items.clone();
    // Writes in between: update, delete, create, delete+recreate.
    s.update("/p/4", b("new"), None).await.unwrap();
    s.delete("/p/5", None).await.unwrap();
    s.create("/p/55", b("new")).await.unwrap();
    s.delete("/p/6", None).await.unwrap();
    s.create("/p/6", b("again")).await.unwrap();
    s.update("/p/0", b("new"), None).await.unwrap();
    opts.revision = Some(page.revision);
    let mut last = page.items.last().unwrap().key.clone();
    loop {
        opts.start_after = Some(last);
        let page = s.list("/p/", &opts).unwrap();
        assert_eq!(page.revision, rev);
        seen.extend(page.items.iter().cloned());
        last = page.items.last().unwrap().key.clone();
        if !page.more {
            break;
        }
        assert_eq!(page.items.len(), 3);
    }
    assert_eq!(seen, all.items);
    // The current list sees the new state.
    let now = s.list("/p/", &ListOptions::default()).unwrap();
    assert_eq!(now.revision, s.current_revision());
    assert_eq!(now.items.len(), 10);
    assert!(now.items.iter().any(|kv| kv.key == "/p/55"));
    s.close().await;
}

#[tokio::test]
async fn list_limit_exact_fit_has_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    for k in ["a", "b", "c"] {
        s.create(k, b(k)).await.unwrap();
    }
    let opts = ListOptions {
        limit: Some(3),
        ..Default::default()
    };
    let l = s.list("", &opts).unwrap();
    assert_eq!(l.items.len(), 3);
    assert!(!l.more);
    let opts = ListOptions {
        limit: Some(0),
        ..Default::default()
    };
    assert_eq!(s.list("", &opts).unwrap().items.len(), 3);
    s.close().await;
}

#[tokio::test]
async fn list_future_revision() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create("a", b("1")).await.unwrap();
    let opts = ListOptions {
        revision: Some(2),
        ..Default::default()
    };
    assert!(matches!(
        s.list("", &opts),
        Err(Error::FutureRevision {
            requested: 2,
            current: 1
        })
    ));
    s.close().await;
}

#[tokio::test]
async fn compaction_expires_old_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_with(dir.path(), 5, 100);
    s.create("k", b("0")).await.unwrap();
    for i in 1..30 {
        s.update("k", b(&i.to_string()), None).await.unwrap();
    }
    let oldest = s.oldest_revision();
    assert!(oldest > 0, "history was never compacted");
    assert!(s.current_revision() - oldest <= 6);
    let at = |r| ListOptions {
        revision: Some(r),
        ..Default::default()
    };
    assert!(matches!(
        s.list("", &at(1)),
        Err(Error::Expired { requested: 1, oldest: o }) if o == oldest
    ));
    assert!(matches!(s.watch("", 0), Err(Error::Expired { .. })));
    let l = s.list("", &at(oldest)).unwrap();
    assert_eq!(l.items[0].value, b(&(oldest - 1).to_string()));
    let mut w = s.watch("", oldest).unwrap();
    assert_eq!(w.next().await.unwrap().revision, oldest + 1);
    s.close().await;
    // The compaction point survives a restart.
    let s = open_with(dir.path(), 5, 100);
    assert_eq!(s.oldest_revision(), oldest);
    assert!(matches!(s.list("", &at(1)), Err(Error::Expired { .. })));
    s.close().await;
}

#[tokio::test]
async fn reopen_keeps_data_and_revision() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create("a", b("1")).await.unwrap();
    s.create("b", b("2")).await.unwrap();
    s.delete("b", None).await.unwrap();
    s.close().await;
    drop(s);
    let s = open(dir.path());
    assert_eq!(s.current_revision(), 3);
    assert_eq!(s.get("a").unwrap().unwrap().value, b("1"));
    assert_eq!(s.get("b").unwrap(), None);
    // Revisions never go backwards, even when the newest key was deleted.
    assert_eq!(s.create("c", b("3")).await.unwrap().mod_revision, 4);
    s.close().await;
}

#[tokio::test]
async fn watch_from_before_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    for i in 1..=5 {
        s.create(&format!("k{i}"), b("v")).await.unwrap();
    }
    s.close().await;
    drop(s);
    let s = open(dir.path());
    let mut w = s.watch("", 2).unwrap();
    for rev in 3..=5 {
        let ev = w.next().await.unwrap();
        assert_eq!(ev.revision, rev);
        assert_eq!(ev.key, format!("k{rev}"));
    }
    s.update("k1", b("w"), None).await.unwrap();
    let ev = w.next().await.unwrap();
    assert_eq!((ev.revision, ev.kind), (6, EventKind::Updated));
    s.close().await;
}

#[tokio::test]
async fn watch_events_and_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let mut all = s.watch("", 0).unwrap();
    let mut jobs = s.watch("/jobs/", 0).unwrap();
    s.create("/jobs/a", b("1")).await.unwrap();
    s.create("/pods/a", b("p")).await.unwrap();
    s.update("/jobs/a", b("2"), None).await.unwrap();
    s.delete("/jobs/a", None).await.unwrap();
    let ev = jobs.next().await.unwrap();
    assert_eq!(
        (
            ev.revision,
            ev.kind,
            ev.value.clone(),
            ev.prev_value.clone()
        ),
        (1, EventKind::Created, b("1"), None)
    );
    let ev = jobs.next().await.unwrap();
    assert_eq!(
        (
            ev.revision,
            ev.kind,
            ev.value.clone(),
            ev.prev_value.clone()
        ),
        (3, EventKind::Updated, b("2"), Some(b("1")))
    );
    let ev = jobs.next().await.unwrap();
    assert_eq!(
        (
            ev.revision,
            ev.kind,
            ev.value.clone(),
            ev.prev_value.clone()
        ),
        (4, EventKind::Deleted, b("2"), Some(b("2")))
    );
    for rev in 1..=4 {
        assert_eq!(all.next().await.unwrap().revision, rev);
    }
    s.close().await;
}

#[tokio::test]
async fn watch_is_cancel_safe() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let mut w = s.watch("", 0).unwrap();
    for round in 0..3 {
        // Poll next() once (nothing there yet), then drop it.
        tokio::select! {
            biased;
            _ = w.next() => panic!("no event expected yet"),
            _ = std::future::ready(()) => {}
        }
        let kv = s.create(&format!("k{round}"), b("v")).await.unwrap();
        let ev = w.next().await.unwrap();
        assert_eq!(ev.revision, kv.mod_revision);
    }
    s.close().await;
}

#[tokio::test]
async fn watch_from_future_revision_waits() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create("a", b("1")).await.unwrap();
    let mut w = s.watch("", 2).unwrap();
    s.create("b", b("1")).await.unwrap();
    s.create("c", b("1")).await.unwrap();
    assert_eq!(w.next().await.unwrap().revision, 3);
    s.close().await;
}

#[tokio::test]
async fn watcher_catches_up_from_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_with(dir.path(), 10_000, 4);
    let mut early = s.watch("", 0).unwrap();
    for i in 0..1500 {
        s.create(&format!("k{i:04}"), b("v")).await.unwrap();
    }
    for rev in 1..=1500 {
        assert_eq!(early.next().await.unwrap().revision, rev);
    }
    let mut late = s.watch("k1", 100).unwrap();
    for rev in 1001..=1500 {
        assert_eq!(late.next().await.unwrap().revision, rev);
    }
    s.close().await;
}

#[tokio::test]
async fn slow_watcher_expires_instead_of_skipping() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_with(dir.path(), 5, 2);
    let mut w = s.watch("", 0).unwrap();
    s.create("k", b("0")).await.unwrap();
    for i in 1..30 {
        s.update("k", b(&i.to_string()), None).await.unwrap();
    }
    assert!(matches!(
        w.next().await,
        Err(Error::Expired { requested: 0, .. })
    ));
    s.close().await;
}

#[tokio::test]
async fn close_stops_writes_and_watchers() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let mut w = s.watch("", 0).unwrap();
    s.create("a", b("1")).await.unwrap();
    s.close().await;
    s.close().await;
    assert!(matches!(s.create("b", b("2")).await, Err(Error::Closed)));
    assert!(matches!(s.delete("a", None).await, Err(Error::Closed)));
    // Events committed before close are still delivered, then Closed.
    assert_eq!(w.next().await.unwrap().revision, 1);
    assert!(matches!(w.next().await, Err(Error::Closed)));
    assert!(matches!(s.watch("", 1), Err(Error::Closed)));
    // Reads keep working.
    assert_eq!(s.get("a").unwrap().unwrap().value, b("1"));
}

#[tokio::test]
async fn dropping_last_handle_stops_writer() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let s2 = s.clone();
    let mut w = s.watch("", 0).unwrap();
    s2.create("a", b("1")).await.unwrap();
    drop(s);
    drop(s2);
    assert_eq!(w.next().await.unwrap().revision, 1);
    assert!(matches!(w.next().await, Err(Error::Closed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_are_group_committed() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut revs = Vec::new();
                for i in 0..500 {
                    let kv = s.create(&format!("/t{t}/{i}"), b("v")).await.unwrap();
                    revs.push(kv.mod_revision);
                }
                revs
            })
        })
        .collect();
    let mut all = HashSet::new();
    for t in tasks {
        for rev in t.await.unwrap() {
            assert!(all.insert(rev), "revision {rev} assigned twice");
        }
    }
    assert_eq!(all.len(), 8000);
    assert_eq!(s.current_revision(), 8000);
    assert_eq!(all.iter().max(), Some(&8000));
    let stats = s.stats();
    assert_eq!(stats.writes, 8000);
    assert!(
        stats.commits < stats.writes,
        "no batching: {stats:?} (group commit did not share fsyncs)"
    );
    assert_eq!(keys(&s, "").len(), 8000);
    s.close().await;
}

fn write_garbage(path: &Path, offset: u64, len: usize) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    let garbage: Vec<u8> = (0..len).map(|i| (i * 7 + 13) as u8).collect();
    f.write_all(&garbage).unwrap();
    f.sync_all().unwrap();
}

async fn filled_store(dir: &Path) -> std::path::PathBuf {
    let s = open(dir);
    for i in 0..300 {
        s.create(&format!("/k/{i:05}"), Bytes::from(vec![b'x'; 200]))
            .await
            .unwrap();
    }
    s.close().await;
    drop(s);
    let path = dir.join("store.db");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("store.db{suffix}")));
    }
    path
}

fn assert_corrupt(path: &Path) {
    match Store::open(path, Options::default()) {
        Err(Error::Corrupt(msg)) => {
            assert!(msg.contains("is corrupted"), "{msg}");
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains("restore a backup"), "{msg}");
        }
        Err(e) => panic!("expected Corrupt, got {e:?}"),
        Ok(_) => panic!("expected Corrupt, the store opened"),
    }
}

#[tokio::test]
async fn corrupted_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path()).await;
    write_garbage(&path, 0, 4096);
    assert_corrupt(&path);
}

#[tokio::test]
async fn corrupted_pages_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path()).await;
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 8 * 4096);
    // Keep the header page, smash the rest.
    write_garbage(&path, 4096, (len - 4096) as usize);
    assert_corrupt(&path);
}

#[test]
fn non_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    std::fs::write(
        &path,
        "this is not a database, just some text\n".repeat(200),
    )
    .unwrap();
    assert_corrupt(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_functions_run() {
    let dir = tempfile::tempdir().unwrap();
    let single = store::bench::fsync_single_writer(dir.path(), 50).await;
    let group = store::bench::group_commit(dir.path(), 8, 50).await;
    eprintln!("single writer: {single:.0} writes/s, group commit: {group:.0} writes/s");
    assert!(single > 0.0 && group > 0.0);
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync + Clone>() {}
    fn send<T: Send>() {}
    send_sync::<Store>();
    send::<store::Watcher>();
    send::<Error>();
}
