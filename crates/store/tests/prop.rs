//! Property tests: the watch history and lists at every revision agree with a model,
//! and compare-and-swap never lets a stale write win.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use store::{Error, EventKind, KeyValue, ListOptions, Options, Store};

const KEYS: [&str; 6] = ["a", "a/b", "a/c", "b", "b/a", "c"];
const PREFIXES: [&str; 6] = ["", "a", "a/", "b", "b/", "z"];

#[derive(Debug, Clone)]
enum Op {
    Create(usize, u8),
    Update(usize, u8),
    Delete(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..KEYS.len(), any::<u8>()).prop_map(|(k, v)| Op::Create(k, v)),
        (0..KEYS.len(), any::<u8>()).prop_map(|(k, v)| Op::Update(k, v)),
        (0..KEYS.len()).prop_map(Op::Delete),
    ]
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

type Model = BTreeMap<String, KeyValue>;

fn filtered(model: &Model, prefix: &str) -> Vec<KeyValue> {
    model
        .values()
        .filter(|kv| kv.key.starts_with(prefix))
        .cloned()
        .collect()
}

fn paginate(store: &Store, prefix: &str, rev: u64, limit: usize) -> Vec<KeyValue> {
    let mut opts = ListOptions {
        revision: Some(rev),
        limit: Some(limit),
        start_after: None,
    };
    let mut out = Vec::new();
    loop {
        let page = store.list(prefix, &opts).unwrap();
        assert_eq!(page.revision, rev);
        assert!(page.items.len() <= limit);
        out.extend(page.items.iter().cloned());
        if !page.more {
            return out;
        }
        opts.start_after = Some(page.items.last().unwrap().key.clone());
    }
}

/// With `small`, history keeps about 5 events and the ring 1, and the store is reopened
/// before it is read: replays and old lists then come from compacted SQLite history.
async fn run_ops(ops: Vec<Op>, prefix_idx: usize, limit: usize, small: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let opts = if small {
        // A cache of a few entries: eviction and refills on almost every write.
        Options {
            history_len: 5,
            watch_buffer: 1,
            cache_bytes: 3 * 120,
            // A checkpoint after every commit, beside the reads and writes.
            wal_checkpoint_pages: 1,
        }
    } else {
        Options::default()
    };
    let mut store = Store::open(&path, opts.clone()).unwrap();
    let mut model = Model::new();
    // snapshots[r] = the model at revision r.
    let mut snapshots = vec![model.clone()];
    for op in ops {
        let (key, result) = match op {
            Op::Create(k, v) => (KEYS[k], store.create(KEYS[k], Bytes::from(vec![v])).await),
            Op::Update(k, v) => (
                KEYS[k],
                store.update(KEYS[k], Bytes::from(vec![v]), None).await,
            ),
            Op::Delete(k) => (KEYS[k], store.delete(KEYS[k], None).await),
        };
        let rev = snapshots.len() as u64;
        match (&op, result, model.get(key).cloned()) {
            (Op::Create(..), Ok(kv), None) | (Op::Update(..), Ok(kv), Some(_)) => {
                assert_eq!(kv.mod_revision, rev);
                model.insert(key.to_owned(), kv);
            }
            (Op::Delete(_), Ok(kv), Some(old)) => {
                assert_eq!(kv.mod_revision, rev);
                assert_eq!(
                    (kv.value, kv.create_revision),
                    (old.value, old.create_revision)
                );
                model.remove(key);
            }
            (Op::Create(..), Err(Error::AlreadyExists { .. }), Some(_)) => continue,
            (Op::Update(..) | Op::Delete(_), Err(Error::NotFound { .. }), None) => continue,
            (op, result, before) => panic!("{op:?} on {before:?} gave {result:?}"),
        }
        snapshots.push(model.clone());
    }
    if small {
        store.close().await;
        drop(store);
        store = Store::open(&path, opts).unwrap();
    }
    let current = store.current_revision();
    assert_eq!(current as usize, snapshots.len() - 1);
    let oldest = store.oldest_revision();

    // Replaying the watch from the oldest revision reproduces list().
    let mut replay = snapshots[oldest as usize].clone();
    let mut watcher = store.watch("", oldest).unwrap();
    let mut expected_rev = oldest + 1;
    while expected_rev <= current {
        let ev = watcher.next().await.unwrap();
        assert_eq!(ev.revision, expected_rev);
        expected_rev += 1;
        let prev = replay.get(&ev.key).map(|kv| kv.value.clone());
        assert_eq!(ev.prev_value, prev);
        match ev.kind {
            EventKind::Created | EventKind::Updated => {
                let create_revision = match ev.kind {
                    EventKind::Created => ev.revision,
                    _ => replay[&ev.key].create_revision,
                };
                replay.insert(
                    ev.key.clone(),
                    KeyValue {
                        key: ev.key.clone(),
                        value: ev.value.clone(),
                        create_revision,
                        mod_revision: ev.revision,
                    },
                );
            }
            EventKind::Deleted => {
                assert_eq!(Some(ev.value.clone()), prev);
                replay.remove(&ev.key);
            }
        }
    }
    let list = store.list("", &ListOptions::default()).unwrap();
    assert_eq!(list.revision, current);
    assert_eq!(list.items, replay.values().cloned().collect::<Vec<_>>());
    assert_eq!(list.items, filtered(&model, ""));

    // A prefixed watch sees exactly the matching events.
    let prefix = PREFIXES[prefix_idx];
    let mut pw = store.watch(prefix, oldest).unwrap();
    let mut pw_keys = Vec::new();
    let matching = (oldest + 1..=current)
        .filter(|&r| {
            let (before, after) = (&snapshots[r as usize - 1], &snapshots[r as usize]);
            KEYS.iter()
                .any(|k| k.starts_with(prefix) && before.get(*k) != after.get(*k))
        })
        .count();
    for _ in 0..matching {
        let ev = pw.next().await.unwrap();
        assert!(ev.key.starts_with(prefix));
        pw_keys.push(ev.revision);
    }
    assert!(pw_keys.windows(2).all(|w| w[0] < w[1]));

    // list at every revision equals the model at that revision.
    for (rev, snapshot) in snapshots.iter().enumerate() {
        let rev = rev as u64;
        let opts = ListOptions {
            revision: Some(rev),
            ..Default::default()
        };
        if rev < oldest {
            assert!(matches!(store.list("", &opts), Err(Error::Expired { .. })));
            continue;
        }
        let l = store.list("", &opts).unwrap();
        assert_eq!(l.revision, rev);
        assert_eq!(l.items, filtered(snapshot, ""), "list at {rev}");
        let l = store.list(prefix, &opts).unwrap();
        assert_eq!(
            l.items,
            filtered(snapshot, prefix),
            "list {prefix:?} at {rev}"
        );
        assert_eq!(
            paginate(&store, prefix, rev, limit),
            filtered(snapshot, prefix)
        );
    }
    store.close().await;
}

async fn stale_updates(choices: Vec<(bool, u64)>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.db"), Options::default()).unwrap();
    let mut cur = store.create("k", Bytes::from_static(b"0")).await.unwrap();
    for (i, (fresh, pick)) in choices.into_iter().enumerate() {
        // Either the current mod_revision or any other revision (older or newer).
        let pre = if fresh {
            cur.mod_revision
        } else {
            let other = pick % (store.current_revision() + 2);
            if other == cur.mod_revision {
                other + 1
            } else {
                other
            }
        };
        let value = Bytes::from(i.to_string());
        match store.update("k", value.clone(), Some(pre)).await {
            Ok(kv) => {
                assert!(fresh, "stale precondition {pre} won over {cur:?}");
                cur = kv;
            }
            Err(Error::Conflict { current, .. }) => {
                assert!(!fresh);
                assert_eq!(current, cur.mod_revision);
            }
            Err(e) => panic!("{e:?}"),
        }
        assert_eq!(store.get("k").unwrap(), Some(cur.clone()));
    }
    store.close().await;
}

/// Tasks increment a counter with read-modify-write + CAS; no increment may be lost.
async fn concurrent_cas(tasks: usize, per_task: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.db"), Options::default()).unwrap();
    store.create("n", Bytes::from_static(b"0")).await.unwrap();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let (mut ok, mut conflicts) = (0, 0);
                while ok < per_task {
                    let kv = store.get("n").unwrap().unwrap();
                    let n: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
                    let next = Bytes::from((n + 1).to_string());
                    match store.update("n", next, Some(kv.mod_revision)).await {
                        Ok(_) => ok += 1,
                        Err(Error::Conflict { .. }) => conflicts += 1,
                        Err(e) => panic!("{e:?}"),
                    }
                }
                (ok, conflicts)
            })
        })
        .collect();
    let mut successes = 0;
    for h in handles {
        successes += h.await.unwrap().0;
    }
    let kv = store.get("n").unwrap().unwrap();
    assert_eq!(kv.value, Bytes::from(successes.to_string()));
    assert_eq!(successes, tasks * per_task);
    // The update events count up by one each: no lost update, no duplicate.
    let mut w = store.watch("n", 1).unwrap();
    for i in 1..=successes {
        let ev = w.next().await.unwrap();
        assert_eq!(ev.value, Bytes::from(i.to_string()));
    }
    store.close().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn watch_replay_and_lists_match_model(
        ops in prop::collection::vec(op(), 0..40),
        prefix_idx in 0..PREFIXES.len(),
        limit in 1usize..4,
    ) {
        rt().block_on(run_ops(ops, prefix_idx, limit, false));
    }

    #[test]
    fn compacted_replay_after_restart_matches_model(
        ops in prop::collection::vec(op(), 0..40),
        prefix_idx in 0..PREFIXES.len(),
        limit in 1usize..4,
    ) {
        rt().block_on(run_ops(ops, prefix_idx, limit, true));
    }

    #[test]
    fn stale_update_never_wins(choices in prop::collection::vec((any::<bool>(), any::<u64>()), 1..30)) {
        rt().block_on(stale_updates(choices));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn concurrent_cas_loses_no_update(tasks in 2usize..6, per_task in 1usize..15) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(concurrent_cas(tasks, per_task));
    }
}

#[test]
fn events_are_shared_not_copied() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db"), Options::default()).unwrap();
        let mut w1 = store.watch("", 0).unwrap();
        let mut w2 = store.watch("", 0).unwrap();
        store.create("x", Bytes::from_static(b"1")).await.unwrap();
        let (e1, e2) = (w1.next().await.unwrap(), w2.next().await.unwrap());
        assert!(Arc::ptr_eq(&e1, &e2));
        store.close().await;
    });
}
