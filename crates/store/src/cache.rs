//! The current-value cache: a bounded LRU map of key → the key's current value, or a
//! tombstone ("absent as of revision R"), in front of [`Store::get`](crate::Store::get)
//! and of the writer's read of the row an update or delete replaces.
//!
//! Why: SQLite drops a WAL reader connection's whole page cache whenever the database
//! changed since that connection's last read, so under write load every point read
//! costs a few `pread`s of whole pages. Recently written (and recently read) keys are
//! served from here instead.
//!
//! Bounded by bytes: each entry counts its key, its value and [`ENTRY_OVERHEAD`]; the
//! least recently used entries go first. Values are `Bytes`, so an entry written by the
//! writer shares its memory with the event ring and the caller's buffer.
//!
//! # Coherence
//!
//! Invariant: every entry equals the key's committed state as of [`State::applied`], the
//! revision of the last batch the writer put here (or a newer committed state that the
//! writer is about to put here too). Two rules keep it:
//!
//! 1. **Write-through** ([`Cache::apply`]): after a batch's transaction has committed,
//!    and before its events are published and its requests answered, the writer puts the
//!    new state of every key the batch wrote (value or tombstone) and sets `applied` to
//!    the batch's revision, under one lock. Entries are overwritten whether or not the
//!    key was cached, so no entry older than the batch survives it. A failed batch
//!    touches nothing (nothing was committed).
//! 2. **Fill only from a snapshot at least as new as `applied`** ([`Cache::lookup`],
//!    [`Cache::fill`]): a miss notes `applied` (the [`Ticket`]) *before* its SQLite read
//!    transaction begins, and fills only if `applied` has not moved since. Then the
//!    snapshot includes every batch applied here: the writer sets `applied` only after
//!    its commit, and the mutex orders "commit, set `applied`" before "note `applied`,
//!    begin read". A batch that committed but is not yet applied may or may not be in
//!    the snapshot; either way its `apply` overwrites the filled entry afterwards.
//!
//! Races this rules out: a reader whose snapshot predates batch B reads a key's old
//! value (or its value before B deleted it) and fills after B was applied — `applied`
//! moved, the fill is dropped. This holds whether B's entry is still here or was
//! evicted in between, since the rule looks at `applied`, not at the entry. The cost is
//! a dropped fill whenever a batch lands during a miss; the next miss fills.
//!
//! The writer may read its own replaced rows from here: it is the only mutator, and
//! while it applies batch N+1 every batch up to N has been applied here, so an entry is
//! the committed state before N+1. Keys written earlier in the same batch are read from
//! its transaction instead (see `writer`).
//!
//! A new store handle starts empty: nothing survives a reopen.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use hashlink::LruCache;

use crate::{KeyValue, Revision, lock};

/// Bytes counted for each entry besides its key and value: the map's node, links and
/// hash slot, the key's and value's headers (an estimate of the heap used).
pub(crate) const ENTRY_OVERHEAD: usize = 96;

/// What the cache knows of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Present {
        value: Bytes,
        create_revision: Revision,
        mod_revision: Revision,
    },
    /// The key does not exist, as of this revision.
    Absent { revision: Revision },
}

impl Entry {
    fn from_state(state: Option<&KeyValue>, revision: Revision) -> Entry {
        match state {
            Some(kv) => Entry::Present {
                value: kv.value.clone(),
                create_revision: kv.create_revision,
                mod_revision: kv.mod_revision,
            },
            None => Entry::Absent { revision },
        }
    }

    fn to_state(&self, key: &str) -> Option<KeyValue> {
        match self {
            Entry::Present {
                value,
                create_revision,
                mod_revision,
            } => Some(KeyValue {
                key: key.to_owned(),
                value: value.clone(),
                create_revision: *create_revision,
                mod_revision: *mod_revision,
            }),
            Entry::Absent { .. } => None,
        }
    }

    fn bytes(&self, key_len: usize) -> usize {
        let value = match self {
            Entry::Present { value, .. } => value.len(),
            Entry::Absent { .. } => 0,
        };
        key_len + value + ENTRY_OVERHEAD
    }
}

struct State {
    map: LruCache<String, Entry>,
    /// Sum of [`Entry::bytes`] over `map`.
    bytes: usize,
    /// Revision of the last batch put here by the writer.
    applied: Revision,
}

impl State {
    /// Puts `entry` as the most recently used one; an entry larger than the whole budget
    /// only removes the key's old entry (rather than evicting everything else first).
    fn put(&mut self, key: String, entry: Entry, capacity: usize) {
        let key_len = key.len();
        let new_bytes = entry.bytes(key_len);
        let old = if new_bytes > capacity {
            self.map.remove(key.as_str())
        } else {
            self.bytes += new_bytes;
            // At the back of the LRU order, an existing key's too.
            self.map.insert(key, entry)
        };
        if let Some(old) = old {
            self.bytes -= old.bytes(key_len);
        }
    }

    fn evict(&mut self, capacity: usize) {
        while self.bytes > capacity {
            let Some((key, entry)) = self.map.remove_lru() else {
                break;
            };
            self.bytes -= entry.bytes(key.len());
        }
    }
}

/// The answer of [`Cache::lookup`].
#[derive(Debug)]
pub(crate) enum Lookup {
    /// The key's current state (`None`: absent).
    Hit(Option<KeyValue>),
    /// Not cached: read SQLite, then [`Cache::fill`] with this ticket.
    Miss(Ticket),
}

/// `applied` as a miss saw it, before its SQLite read began.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    applied: Option<Revision>,
}

pub(crate) struct Cache {
    /// Budget in bytes; 0 disables the cache.
    capacity: usize,
    state: Mutex<State>,
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
}

impl Cache {
    pub(crate) fn new(capacity: usize) -> Cache {
        Cache {
            capacity,
            state: Mutex::new(State {
                map: LruCache::new_unbounded(),
                bytes: 0,
                applied: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The cached state of `key` (marked recently used), or a ticket to fill it.
    pub(crate) fn lookup(&self, key: &str) -> Lookup {
        if self.capacity == 0 {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Lookup::Miss(Ticket { applied: None });
        }
        let mut state = lock(&self.state);
        if let Some(entry) = state.map.get(key) {
            let found = entry.to_state(key);
            drop(state);
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Lookup::Hit(found);
        }
        let applied = state.applied;
        drop(state);
        self.misses.fetch_add(1, Ordering::Relaxed);
        Lookup::Miss(Ticket {
            applied: Some(applied),
        })
    }

    /// The writer's read of a key's committed state: `None` when not cached. Not counted
    /// in the hit/miss counters (those count [`Store::get`](crate::Store::get)).
    pub(crate) fn current(&self, key: &str) -> Option<Option<KeyValue>> {
        if self.capacity == 0 {
            return None;
        }
        lock(&self.state).map.get(key).map(|e| e.to_state(key))
    }

    /// Puts what a read found for `key` in a snapshot that began after `ticket` was
    /// taken, unless a batch was applied since (see the module docs).
    pub(crate) fn fill(&self, ticket: Ticket, key: &str, found: Option<&KeyValue>) {
        let Some(seen) = ticket.applied else {
            return;
        };
        let mut state = lock(&self.state);
        if state.applied != seen {
            return;
        }
        state.put(
            key.to_owned(),
            Entry::from_state(found, seen),
            self.capacity,
        );
        state.evict(self.capacity);
    }

    /// The writer's write-through: the new state of each key a committed batch wrote, in
    /// write order (a later state of a key replaces an earlier one), and the batch's
    /// revision. `None` is a delete at `revision`.
    pub(crate) fn apply<'a>(
        &self,
        revision: Revision,
        writes: impl IntoIterator<Item = (&'a str, Option<&'a KeyValue>, Revision)>,
    ) {
        if self.capacity == 0 {
            return;
        }
        let mut state = lock(&self.state);
        for (key, kv, rev) in writes {
            state.put(key.to_owned(), Entry::from_state(kv, rev), self.capacity);
        }
        state.applied = revision;
        state.evict(self.capacity);
    }

    #[cfg(test)]
    fn snapshot(&self) -> (Vec<(String, Entry)>, usize, Revision) {
        let state = lock(&self.state);
        let entries = state
            .map
            .iter()
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        (entries, state.bytes, state.applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &str, create: Revision, modified: Revision) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Bytes::copy_from_slice(value.as_bytes()),
            create_revision: create,
            mod_revision: modified,
        }
    }

    fn hit(c: &Cache, key: &str) -> Option<Option<KeyValue>> {
        match c.lookup(key) {
            Lookup::Hit(found) => Some(found),
            Lookup::Miss(_) => None,
        }
    }

    fn keys(c: &Cache) -> Vec<String> {
        c.snapshot().0.into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn write_through_and_tombstones() {
        let c = Cache::new(1 << 20);
        assert_eq!(hit(&c, "/a"), None);
        let a = kv("/a", "1", 1, 1);
        c.apply(1, [("/a", Some(&a), 1)]);
        assert_eq!(hit(&c, "/a"), Some(Some(a.clone())));
        // A delete leaves a tombstone: a hit that says "absent".
        c.apply(2, [("/a", None, 2)]);
        assert_eq!(hit(&c, "/a"), Some(None));
        let (entries, _, applied) = c.snapshot();
        assert_eq!(applied, 2);
        assert_eq!(entries, vec![("/a".into(), Entry::Absent { revision: 2 })]);
        // Within a batch, the last state of a key wins.
        let b1 = kv("/b", "1", 3, 3);
        let b2 = kv("/b", "2", 3, 4);
        c.apply(
            5,
            [("/b", Some(&b1), 3), ("/b", Some(&b2), 4), ("/a", None, 5)],
        );
        assert_eq!(hit(&c, "/b"), Some(Some(b2)));
        assert_eq!(c.snapshot().2, 5);
    }

    #[test]
    fn eviction_by_bytes_least_recently_used_first() {
        let one = "/k0".len() + 100 + ENTRY_OVERHEAD;
        let c = Cache::new(3 * one);
        let value = "x".repeat(100);
        let kvs: Vec<KeyValue> = (0..4)
            .map(|i| kv(&format!("/k{i}"), &value, 1, 1))
            .collect();
        c.apply(1, kvs[..3].iter().map(|kv| (kv.key.as_str(), Some(kv), 1)));
        assert_eq!(c.snapshot().1, 3 * one);
        // Reading /k0 makes /k1 the least recently used.
        assert!(hit(&c, "/k0").is_some());
        c.apply(2, [("/k3", Some(&kvs[3]), 2)]);
        assert_eq!(keys(&c), ["/k2", "/k0", "/k3"]);
        assert_eq!(c.snapshot().1, 3 * one);
        // Overwriting a key moves it to the back and counts its new size only.
        let small = kv("/k2", "", 1, 3);
        c.apply(3, [("/k2", Some(&small), 3)]);
        assert_eq!(keys(&c), ["/k0", "/k3", "/k2"]);
        assert_eq!(c.snapshot().1, 2 * one + "/k2".len() + ENTRY_OVERHEAD);
        // A value larger than the whole budget is not kept, and replaces the old entry.
        let big = kv("/k0", &"y".repeat(4 * one), 1, 4);
        c.apply(4, [("/k0", Some(&big), 4)]);
        assert_eq!(hit(&c, "/k0"), None);
        assert_eq!(keys(&c), ["/k3", "/k2"]);
    }

    #[test]
    fn tombstones_count_against_the_budget() {
        let c = Cache::new(2 * ("/t0".len() + ENTRY_OVERHEAD));
        c.apply(
            1,
            (0..5).map(|i| (["/t0", "/t1", "/t2", "/t3", "/t4"][i], None, 1)),
        );
        assert_eq!(keys(&c), ["/t3", "/t4"]);
    }

    #[test]
    fn fill_only_when_no_batch_was_applied_since_the_ticket() {
        let c = Cache::new(1 << 20);
        let old = kv("/a", "old", 1, 1);
        let Lookup::Miss(ticket) = c.lookup("/a") else {
            panic!("empty cache hit")
        };
        // Nothing applied in between: the fill stands.
        c.fill(ticket, "/a", Some(&old));
        assert_eq!(hit(&c, "/a"), Some(Some(old.clone())));

        // A reader misses /b, a batch deletes it and its tombstone is evicted, then the
        // reader (whose snapshot predates the delete) fills: dropped.
        let Lookup::Miss(ticket) = c.lookup("/b") else {
            panic!("/b is not cached")
        };
        c.apply(2, [("/b", None, 2)]);
        lock(&c.state).map.remove("/b");
        c.fill(ticket, "/b", Some(&kv("/b", "stale", 1, 1)));
        assert_eq!(hit(&c, "/b"), None);

        // The same for an update, and for an absent key created meanwhile.
        let Lookup::Miss(ticket) = c.lookup("/c") else {
            panic!("/c is not cached")
        };
        let c3 = kv("/c", "new", 3, 3);
        c.apply(3, [("/c", Some(&c3), 3)]);
        c.fill(ticket, "/c", None);
        assert_eq!(hit(&c, "/c"), Some(Some(c3)));

        // A read that found nothing fills a tombstone as of `applied`.
        let Lookup::Miss(ticket) = c.lookup("/d") else {
            panic!("/d is not cached")
        };
        c.fill(ticket, "/d", None);
        assert_eq!(hit(&c, "/d"), Some(None));
        let (entries, _, _) = c.snapshot();
        assert!(entries.contains(&("/d".into(), Entry::Absent { revision: 3 })));
    }

    #[test]
    fn fill_then_write_through_overwrites() {
        // A batch committed (its value possibly not in the reader's snapshot) but not yet
        // applied: the fill stands, and the batch's apply replaces it.
        let c = Cache::new(1 << 20);
        let Lookup::Miss(ticket) = c.lookup("/a") else {
            panic!("empty cache hit")
        };
        c.fill(ticket, "/a", Some(&kv("/a", "old", 1, 1)));
        let new = kv("/a", "new", 1, 2);
        c.apply(2, [("/a", Some(&new), 2)]);
        assert_eq!(hit(&c, "/a"), Some(Some(new)));
    }

    #[test]
    fn zero_capacity_disables() {
        let c = Cache::new(0);
        let a = kv("/a", "1", 1, 1);
        c.apply(1, [("/a", Some(&a), 1)]);
        let Lookup::Miss(ticket) = c.lookup("/a") else {
            panic!("a disabled cache hit")
        };
        c.fill(ticket, "/a", Some(&a));
        assert!(matches!(c.lookup("/a"), Lookup::Miss(_)));
        assert_eq!(c.snapshot().0, vec![]);
    }
}
