//! The current-value cache seen through the store: gets stay coherent with writes under
//! concurrency, with and without eviction; a reopened store starts with an empty cache.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use store::{Error, KeyValue, Options, Revision, Store};

fn open(path: &Path, cache_bytes: usize) -> Store {
    let opts = Options {
        cache_bytes,
        ..Options::default()
    };
    Store::open(path, opts).expect("open")
}

#[tokio::test]
async fn gets_after_writes_hit_and_a_reopen_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let s = open(&path, 1 << 20);
    let c = s.create("/a", Bytes::from_static(b"1")).await.unwrap();
    assert_eq!(s.get("/a").unwrap(), Some(c));
    let u = s
        .update("/a", Bytes::from_static(b"2"), None)
        .await
        .unwrap();
    assert_eq!(s.get("/a").unwrap(), Some(u.clone()));
    // Never written: read from SQLite once, then a tombstone answers.
    assert_eq!(s.get("/none").unwrap(), None);
    assert_eq!(s.get("/none").unwrap(), None);
    let stats = s.stats();
    assert_eq!((stats.cache_hits, stats.cache_misses), (3, 1));
    s.close().await;
    drop(s);

    // Change the row behind the store's back: a reopened store reads the file.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE kv SET value = x'33' WHERE key = '/a'", [])
        .unwrap();
    drop(conn);
    let s = open(&path, 1 << 20);
    let got = s.get("/a").unwrap().unwrap();
    assert_eq!(got.value, Bytes::from_static(b"3"));
    assert_eq!(got.mod_revision, u.mod_revision);
    assert_eq!((s.stats().cache_hits, s.stats().cache_misses), (0, 1));
    s.close().await;
}

#[tokio::test]
async fn disabled_cache_reads_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir.path().join("store.db"), 0);
    let c = s.create("/a", Bytes::from_static(b"1")).await.unwrap();
    assert_eq!(s.get("/a").unwrap(), Some(c));
    let d = s.delete("/a", None).await.unwrap();
    assert_eq!(d.mod_revision, 2);
    assert_eq!(s.get("/a").unwrap(), None);
    assert_eq!((s.stats().cache_hits, s.stats().cache_misses), (0, 2));
    s.close().await;
}

/// One acknowledged write.
#[derive(Debug, Clone)]
struct Written {
    key: String,
    deleted: bool,
    value: Bytes,
    create_revision: Revision,
}

/// One get: the key, the highest revision of a write to it acknowledged before the get
/// started, and what the get returned.
type Observation = (String, Revision, Option<KeyValue>);

const KEYS: [&str; 3] = ["/k/a", "/k/b", "/k/c"];

async fn writer(
    s: Store,
    id: usize,
    ops: usize,
    log: Arc<Mutex<HashMap<Revision, Written>>>,
    acked: Arc<Vec<Mutex<Revision>>>,
) {
    for i in 0..ops {
        let k = (i + id) % KEYS.len();
        let key = KEYS[k];
        let value = Bytes::from(format!("writer {id} op {i}"));
        let result = match (i / KEYS.len() + id) % 3 {
            0 => s.create(key, value.clone()).await,
            1 => s.update(key, value.clone(), None).await,
            _ => s.delete(key, None).await,
        };
        let kv = match result {
            Ok(kv) => kv,
            Err(Error::AlreadyExists { .. } | Error::NotFound { .. }) => continue,
            Err(e) => panic!("write failed: {e}"),
        };
        let deleted = (i / KEYS.len() + id) % 3 == 2;
        if !deleted {
            assert_eq!(kv.value, value);
        }
        log.lock().unwrap().insert(
            kv.mod_revision,
            Written {
                key: key.to_owned(),
                deleted,
                value: kv.value.clone(),
                create_revision: kv.create_revision,
            },
        );
        let mut a = acked[k].lock().unwrap();
        *a = (*a).max(kv.mod_revision);
    }
}

/// Several reader threads get the same few keys while writers create, update and
/// delete them. Each get returns the last write acknowledged before it started, or a
/// later one, byte for byte with its revisions; never a deleted key's old value.
async fn coherent_under_concurrency(cache_bytes: usize) {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir.path().join("store.db"), cache_bytes);
    let log = Arc::new(Mutex::new(HashMap::new()));
    let acked: Arc<Vec<Mutex<Revision>>> = Arc::new(KEYS.iter().map(|_| Mutex::new(0)).collect());
    let done = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..4)
        .map(|r| {
            let (s, acked, done) = (s.clone(), acked.clone(), done.clone());
            std::thread::spawn(move || {
                let mut seen: Vec<Observation> = Vec::new();
                // A different key order in each reader (a small LCG), so that entries
                // stay cached for a while when the cache holds fewer than all keys.
                let mut x: u64 = r as u64 + 1;
                // At least one pass after the writers are done.
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let k = (x >> 33) as usize % KEYS.len();
                    let before = *acked[k].lock().unwrap();
                    let got = s.get(KEYS[k]).unwrap();
                    seen.push((KEYS[k].to_owned(), before, got));
                    if finished {
                        break;
                    }
                }
                seen
            })
        })
        .collect();

    let writers: Vec<_> = (0..4)
        .map(|id| tokio::spawn(writer(s.clone(), id, 300, log.clone(), acked.clone())))
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let observations: Vec<Observation> = readers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();

    let log = std::mem::take(&mut *log.lock().unwrap());
    let mut checked = 0;
    for (key, before, got) in &observations {
        match got {
            Some(kv) => {
                assert!(
                    kv.mod_revision >= *before,
                    "{key}: got revision {} after {before} was acknowledged",
                    kv.mod_revision
                );
                let w = &log[&kv.mod_revision];
                assert_eq!(&w.key, key);
                assert!(
                    !w.deleted,
                    "{key}: got the value deleted at {}",
                    kv.mod_revision
                );
                assert_eq!(w.value, kv.value);
                assert_eq!(w.create_revision, kv.create_revision);
                assert_eq!(&kv.key, key);
            }
            None => {
                // Absent: a delete of the key at or after the last acknowledged write.
                let deleted_since = *before == 0
                    || log
                        .iter()
                        .any(|(rev, w)| &w.key == key && w.deleted && *rev >= *before);
                assert!(
                    deleted_since,
                    "{key}: absent after write {before} was acknowledged"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 4 * KEYS.len());
    // The final state is each key's last write.
    for key in KEYS {
        let last = log
            .iter()
            .filter(|(_, w)| w.key == key)
            .max_by_key(|(rev, _)| **rev);
        let got = s.get(key).unwrap();
        match last {
            Some((rev, w)) if !w.deleted => assert_eq!(got.map(|kv| kv.mod_revision), Some(*rev)),
            _ => assert_eq!(got, None),
        }
    }
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coherent_under_concurrency_with_room() {
    coherent_under_concurrency(1 << 20).await;
}

/// Room for two of the three keys: the writer's entries are evicted by readers' fills
/// and the other way round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coherent_under_concurrency_with_eviction() {
    coherent_under_concurrency(2 * 120).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coherent_under_concurrency_without_cache() {
    coherent_under_concurrency(0).await;
}
