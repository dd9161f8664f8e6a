//! The value a write replaced (`Event::prev_value`, lists at an older revision) when it
//! comes from the history table rather than the writer's memory: after a restart, behind
//! the in-memory ring, across compaction, and in files written by schema 1.

use std::path::Path;

use bytes::Bytes;
use store::{Error, Event, EventKind, ListOptions, Options, Store};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// A store whose watchers read everything but the last event from SQLite.
fn open_small(dir: &Path, history_len: u64) -> Store {
    let opts = Options {
        history_len,
        watch_buffer: 1,
        ..Options::default()
    };
    Store::open(&dir.join("store.db"), opts).expect("open")
}

type Seen = (u64, EventKind, String, Bytes, Option<Bytes>);

fn seen(ev: &Event) -> Seen {
    (
        ev.revision,
        ev.kind,
        ev.key.clone(),
        ev.value.clone(),
        ev.prev_value.clone(),
    )
}

async fn events(s: &Store, after: u64, n: usize) -> Vec<Seen> {
    let mut w = s.watch("", after).unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(seen(&w.next().await.unwrap()));
    }
    out
}

fn at(s: &Store, rev: u64) -> Vec<(String, Bytes, u64, u64)> {
    let opts = ListOptions {
        revision: Some(rev),
        ..Default::default()
    };
    let list = s.list("", &opts).unwrap();
    list.items
        .into_iter()
        .map(|kv| (kv.key, kv.value, kv.create_revision, kv.mod_revision))
        .collect()
}

fn ev(rev: u64, kind: EventKind, key: &str, value: &str, prev: Option<&str>) -> Seen {
    (rev, kind, key.to_owned(), b(value), prev.map(b))
}

/// A pod's labels change so that a label selector stops matching: the watch replayed
/// from disk after a restart still carries the labels it had before.
#[tokio::test]
async fn replay_after_restart_has_prev_values() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_small(dir.path(), 1000);
    let (v1, v2, v3) = (r#"{"app":"a"}"#, r#"{"app":"b"}"#, r#"{"app":"c"}"#);
    s.create("/pods/p", b(v1)).await.unwrap();
    s.create("/pods/q", b("q")).await.unwrap();
    s.update("/pods/p", b(v2), None).await.unwrap();
    s.update("/pods/p", b(v3), None).await.unwrap();
    s.delete("/pods/p", None).await.unwrap();
    s.update("/pods/q", b("q2"), None).await.unwrap();
    let expected = vec![
        ev(1, EventKind::Created, "/pods/p", v1, None),
        ev(2, EventKind::Created, "/pods/q", "q", None),
        ev(3, EventKind::Updated, "/pods/p", v2, Some(v1)),
        ev(4, EventKind::Updated, "/pods/p", v3, Some(v2)),
        ev(5, EventKind::Deleted, "/pods/p", v3, Some(v3)),
        ev(6, EventKind::Updated, "/pods/q", "q2", Some("q")),
    ];
    // From the writer's memory, then from SQLite (the ring holds one event).
    assert_eq!(events(&s, 0, 6).await, expected);
    s.close().await;
    drop(s);
    let s = open_small(dir.path(), 1000);
    assert_eq!(events(&s, 0, 6).await, expected);
    assert_eq!(events(&s, 3, 3).await, expected[3..]);
    // Lists at older revisions rebuild the replaced values the same way.
    assert_eq!(
        at(&s, 3),
        vec![
            ("/pods/p".into(), b(v2), 1, 3),
            ("/pods/q".into(), b("q"), 2, 2)
        ]
    );
    assert_eq!(
        at(&s, 4),
        vec![
            ("/pods/p".into(), b(v3), 1, 4),
            ("/pods/q".into(), b("q"), 2, 2)
        ]
    );
    assert_eq!(at(&s, 5), vec![("/pods/q".into(), b("q"), 2, 2)]);
    s.close().await;
}

/// Updates whose previous row is compacted away, before they are written (a key left
/// alone for a long time) and after (compaction in between), keep their previous value.
#[tokio::test]
async fn prev_values_survive_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_small(dir.path(), 5);
    s.create("old", b("o1")).await.unwrap(); // 1
    s.create("pair", b("p1")).await.unwrap(); // 2
    s.update("pair", b("p2"), None).await.unwrap(); // 3
    for i in 4..=12 {
        s.update("pair", b(&format!("p{i}")), None).await.unwrap();
    }
    // Revision 1 is long compacted when "old" changes; "pair" then changes once more.
    let oldest = s.oldest_revision();
    assert!(oldest >= 1, "history was never compacted");
    s.update("old", b("o2"), None).await.unwrap(); // 13
    s.create("late", b("l1")).await.unwrap(); // 14
    // 13 is read from SQLite: its previous row was compacted before it was written.
    assert_eq!(
        events(&s, 12, 1).await,
        vec![ev(13, EventKind::Updated, "old", "o2", Some("o1"))]
    );
    s.update("late", b("l2"), None).await.unwrap(); // 15
    // Enough writes to other keys that revision 14 ("late"'s create) is compacted while
    // revision 15 stays.
    for i in 0..4 {
        s.create(&format!("x{i}"), b("x")).await.unwrap(); // 16..=19
    }
    let oldest = s.oldest_revision();
    assert_eq!(oldest, 14, "the test needs revision 14 just compacted");
    let from_disk = events(&s, oldest, 5).await;
    assert_eq!(
        from_disk,
        vec![
            ev(15, EventKind::Updated, "late", "l2", Some("l1")),
            ev(16, EventKind::Created, "x0", "x", None),
            ev(17, EventKind::Created, "x1", "x", None),
            ev(18, EventKind::Created, "x2", "x", None),
            ev(19, EventKind::Created, "x3", "x", None),
        ]
    );
    assert!(at(&s, 14).contains(&("late".into(), b("l1"), 14, 14)));
    s.close().await;
    drop(s);
    // "old"'s update (13) is compacted now too; a bigger history keeps it from here on.
    let s = open_small(dir.path(), 1000);
    assert!(matches!(s.watch("", 12), Err(Error::Expired { .. })));
    s.update("old", b("o3"), None).await.unwrap(); // 20
    s.close().await;
    drop(s);
    let s = open_small(dir.path(), 1000);
    assert_eq!(
        events(&s, 19, 1).await,
        vec![ev(20, EventKind::Updated, "old", "o3", Some("o2"))]
    );
    s.close().await;
}

/// A file written by schema 1 (every update and delete stores its previous value) opens,
/// replays and lists as before, and new writes continue it.
#[tokio::test]
async fn schema_1_file_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "PRAGMA page_size = 16384;
             PRAGMA journal_mode = WAL;
             CREATE TABLE kv(key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL,
                 create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE history(rev INTEGER PRIMARY KEY NOT NULL, key TEXT NOT NULL,
                 kind INTEGER NOT NULL, value BLOB NOT NULL, prev_value BLOB,
                 create_rev INTEGER NOT NULL, prev_mod_rev INTEGER);
             CREATE INDEX history_key_rev ON history(key, rev);
             CREATE TABLE meta(name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)
                 WITHOUT ROWID;
             INSERT INTO meta VALUES ('revision', 4), ('compacted', 0);
             INSERT INTO history VALUES
                 (1, 'a', 0, CAST('a1' AS BLOB), NULL, 1, NULL),
                 (2, 'b', 0, CAST('b1' AS BLOB), NULL, 2, NULL),
                 (3, 'a', 1, CAST('a2' AS BLOB), CAST('a1' AS BLOB), 1, 1),
                 (4, 'b', 2, CAST('b1' AS BLOB), CAST('b1' AS BLOB), 2, 2);
             INSERT INTO kv VALUES ('a', CAST('a2' AS BLOB), 1, 3);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let s = open_small(dir.path(), 1000);
    let expected = vec![
        ev(1, EventKind::Created, "a", "a1", None),
        ev(2, EventKind::Created, "b", "b1", None),
        ev(3, EventKind::Updated, "a", "a2", Some("a1")),
        ev(4, EventKind::Deleted, "b", "b1", Some("b1")),
    ];
    assert_eq!(events(&s, 0, 4).await, expected);
    assert_eq!(
        at(&s, 2),
        vec![("a".into(), b("a1"), 1, 1), ("b".into(), b("b1"), 2, 2)]
    );
    s.update("a", b("a3"), None).await.unwrap();
    s.close().await;
    drop(s);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
    let s = open_small(dir.path(), 1000);
    assert_eq!(
        events(&s, 3, 2).await,
        vec![
            expected[3].clone(),
            ev(5, EventKind::Updated, "a", "a3", Some("a2"))
        ]
    );
    assert_eq!(at(&s, 4), vec![("a".into(), b("a2"), 1, 3)]);
    s.close().await;
}

/// A key's value lives in its last history row until compaction would delete that row:
/// then `kv` keeps it. Reads from SQLite (no cache) see every key's value throughout,
/// before and after compaction, at the current and an older revision, and after a restart.
#[tokio::test]
async fn current_values_survive_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let opts = Options {
            history_len: 10,
            watch_buffer: 1,
            cache_bytes: 0,
            ..Options::default()
        };
        Store::open(&dir.path().join("store.db"), opts).expect("open")
    };
    let s = open();
    s.create("cold", b("c1")).await.unwrap(); // 1: compacted away below
    s.create("warm", b("w1")).await.unwrap(); // 2
    s.update("warm", b("w2"), None).await.unwrap(); // 3
    s.create("gone", b("g1")).await.unwrap(); // 4
    s.delete("gone", None).await.unwrap(); // 5
    let current = |s: &Store| {
        s.list("", &ListOptions::default())
            .unwrap()
            .items
            .into_iter()
            .filter(|kv| !kv.key.starts_with("hot"))
            .map(|kv| (kv.key, kv.value, kv.create_revision, kv.mod_revision))
            .collect::<Vec<_>>()
    };
    let want = vec![
        ("cold".into(), b("c1"), 1, 1),
        ("warm".into(), b("w2"), 2, 3),
    ];
    assert_eq!(current(&s), want);
    for i in 0..30 {
        s.create(&format!("hot{i}"), b("h")).await.unwrap(); // 6..=35
    }
    // History now starts after revision 5 at least: "cold" and "warm" are in `kv` only.
    assert!(matches!(s.watch("", 1), Err(Error::Expired { .. })));
    assert_eq!(current(&s), want);
    assert_eq!(s.get("cold").unwrap().unwrap().value, b("c1"));
    assert_eq!(s.get("warm").unwrap().unwrap().value, b("w2"));
    assert_eq!(s.get("gone").unwrap(), None);
    s.update("warm", b("w3"), None).await.unwrap(); // 36: in history again
    let older = at(&s, 35);
    assert!(older.contains(&("warm".into(), b("w2"), 2, 3)), "{older:?}");
    assert!(older.contains(&("cold".into(), b("c1"), 1, 1)), "{older:?}");
    s.close().await;
    drop(s);
    let s = open();
    assert_eq!(
        current(&s),
        vec![
            ("cold".into(), b("c1"), 1, 1),
            ("warm".into(), b("w3"), 2, 36)
        ]
    );
    assert_eq!(s.get("warm").unwrap().unwrap().value, b("w3"));
    s.close().await;
}
