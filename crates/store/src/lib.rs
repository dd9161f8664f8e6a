//! Revisioned, durable key/value store: batchlet's replacement for etcd.
//!
//! The store owns:
//! - a key/value map where every write gets the next value of one global, persisted
//!   revision counter (it never goes backwards, even across restarts and compaction);
//! - compare-and-swap writes (a precondition on a key's `mod_revision`);
//! - consistent lists, at the current revision or at an older one still in history;
//! - watches from a revision (every event after it, in order, or [`Error::Expired`]);
//! - history compaction (about [`Options::history_len`] events are kept);
//! - group commit: one writer thread applies all queued writes in one SQLite transaction,
//!   so one fsync covers many writes. A write is acknowledged only once it is durable.
//!
//! It must not know Kubernetes kinds: keys are opaque strings (only prefix matching is
//! used) and values are opaque bytes, returned exactly as given.
//!
//! Modules: `schema` opens the file and defines the tables, `writer` is the group-commit
//! thread (and compaction), `checkpoint` the thread that copies the WAL into the database
//! file beside it, `read` serves get/list from a pool of read connections,
//! `cache` holds current values in front of get, kept coherent by the writer,
//! `watch` holds the in-memory event ring and [`Watcher`], [`bench`](mod@bench) has throughput
//! benchmarks.
//!
//! Writes are not cancelled by dropping their future: once sent, a write is applied.

pub mod bench;
mod cache;
mod checkpoint;
mod read;
mod schema;
mod watch;
mod writer;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::oneshot;

pub use watch::Watcher;

/// A position in the store's global write order. 0 means "nothing written yet".
pub type Revision = u64;

/// Result with the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A key with its value and revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created the key.
    pub create_revision: Revision,
    /// Revision of the last write to the key (for a deleted key: the delete).
    pub mod_revision: Revision,
}

/// What a write did to its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Updated,
    Deleted,
}

/// One write, as seen by watchers.
#[derive(Debug, Clone)]
pub struct Event {
    /// The revision of this write.
    pub revision: Revision,
    pub kind: EventKind,
    pub key: String,
    /// New value; for [`EventKind::Deleted`], the value the key had when deleted.
    pub value: Bytes,
    /// Value before this write (`None` for [`EventKind::Created`]).
    pub prev_value: Option<Bytes>,
}

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Create of a key that exists.
    #[error("key {key:?} already exists")]
    AlreadyExists { key: String },
    /// Update or delete of a missing key.
    #[error("key {key:?} not found")]
    NotFound { key: String },
    /// The precondition revision does not match the key's `mod_revision`.
    #[error("conflict on key {key:?}: its current revision is {current}")]
    Conflict { key: String, current: Revision },
    /// Watch/list from a revision older than the history window (HTTP 410).
    #[error("revision {requested} has been compacted; the oldest available is {oldest}")]
    Expired {
        requested: Revision,
        oldest: Revision,
    },
    /// List at a revision newer than the current one.
    #[error("revision {requested} is in the future; the current revision is {current}")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    /// The store file failed its integrity check: refuse to serve.
    #[error("{0}")]
    Corrupt(String),
    /// The store has been shut down.
    #[error("store is closed")]
    Closed,
    /// A batch of writes could not be committed (the detail is the SQLite error); none
    /// of its writes happened.
    #[error("store write failed: {0}")]
    Storage(String),
    #[error("sqlite: {0}")]
    Sqlite(#[source] rusqlite::Error),
    #[error("io: {0}")]
    Io(#[source] std::io::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sqlite(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// Store tuning.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events kept in SQLite for watch and list-at-revision (default 100,000).
    pub history_len: u64,
    /// Recent events kept in memory for watchers (default 1,000, ten times kube-apiserver's
    /// `--default-watch-cache-size`; at least 1 is kept). A watcher further behind reads
    /// the same events from the history table. 10,000 cost ≈ 10 MiB of resident memory
    /// (heaptrack, 10,000 CronJobs); the server's own watchers keep up with far fewer.
    pub watch_buffer: usize,
    /// Budget of the current-value cache in front of [`Store::get`], bytes (default
    /// 4 MiB; 0 disables it). Each entry counts its key, its value and about 100 bytes of
    /// bookkeeping; the heap it holds stays within about this budget, less what its
    /// values share with the watch ring. Recently written and recently read keys are
    /// then read without SQLite, whose readers lose their page cache on every write.
    pub cache_bytes: usize,
    /// WAL pages after which the checkpointer thread copies them into the database file
    /// (default 4,000, 64 MiB with 16 KiB pages; 0: never while the store is open). SQLite's
    /// default is 1,000, but a checkpoint copies each page once however often the WAL
    /// rewrote it, and the hot pages (the `kv` leaves of running pods, the end of
    /// `history`) are rewritten by almost every commit: in a Job of 10,000 pods 1,000 made
    /// checkpoints 13 % of the writer's time. The WAL is on disk, not in memory.
    pub wal_checkpoint_pages: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            history_len: 100_000,
            watch_buffer: 1_000,
            cache_bytes: 4 << 20,
            wal_checkpoint_pages: 4_000,
        }
    }
}

/// Options for [`Store::list`].
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Revision to list at; `None` = current.
    pub revision: Option<Revision>,
    /// Maximum number of items; `None` or `Some(0)` = no limit.
    pub limit: Option<usize>,
    /// Only keys strictly greater than this one (to continue a paginated list).
    pub start_after: Option<String>,
}

/// The answer of [`Store::list`].
#[derive(Debug, Clone)]
pub struct ListResult {
    /// Sorted by key (byte order).
    pub items: Vec<KeyValue>,
    /// The revision this list reflects.
    pub revision: Revision,
    /// True when `limit` cut the list.
    pub more: bool,
}

/// Counters since open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Transactions committed by the writer (each one fsync).
    pub commits: u64,
    /// Successful writes (revisions assigned).
    pub writes: u64,
    /// [`Store::get`]s answered by the current-value cache.
    pub cache_hits: u64,
    /// [`Store::get`]s that read SQLite.
    pub cache_misses: u64,
}

/// Handle to an open store. Cheap to clone; the writer thread stops on [`Store::close`]
/// or when the last handle is dropped.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` once closed. Dropping it (close or last handle) stops the writer thread.
    sender: Mutex<Option<writer::Sender>>,
    shared: Arc<watch::Shared>,
    pool: Arc<read::Pool>,
    cache: Arc<cache::Cache>,
}

impl Store {
    /// Opens (or creates) the store file at `path`, checks its integrity and starts the
    /// writer thread. A damaged or non-SQLite file gives [`Error::Corrupt`].
    pub fn open(path: &Path, opts: Options) -> Result<Store> {
        let mut opened = schema::open(path, &opts)?;
        let tail = std::mem::take(&mut opened.tail);
        let (shared, notifier) = watch::Shared::new(&opts, opened.revision, opened.compacted, tail);
        let shared = Arc::new(shared);
        let cache = Arc::new(cache::Cache::new(opts.cache_bytes));
        let sender = writer::spawn(path, opened, opts, shared.clone(), notifier, cache.clone())?;
        tracing::info!(
            path = %path.display(),
            revision = shared.current(),
            oldest = shared.oldest(),
            "store opened"
        );
        Ok(Store {
            inner: Arc::new(Inner {
                sender: Mutex::new(Some(sender)),
                shared,
                pool: Arc::new(read::Pool::new(path)),
                cache,
            }),
        })
    }

    async fn write(&self, op: writer::Op) -> Result<KeyValue> {
        let (tx, rx) = oneshot::channel();
        {
            let guard = lock(&self.inner.sender);
            let sender = guard.as_ref().ok_or(Error::Closed)?;
            sender
                .send(writer::Request { op, reply: tx })
                .map_err(|_| Error::Closed)?;
        }
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Creates `key`; [`Error::AlreadyExists`] if it exists.
    pub async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.write(writer::Op::Create {
            key: key.to_owned(),
            value,
        })
        .await
    }

    /// Replaces the value of `key`; with `Some(rev)`, only if its `mod_revision` is `rev`
    /// ([`Error::Conflict`] otherwise). [`Error::NotFound`] if it does not exist.
    pub async fn update(
        &self,
        key: &str,
        value: Bytes,
        precondition: Option<Revision>,
    ) -> Result<KeyValue> {
        self.write(writer::Op::Update {
            key: key.to_owned(),
            value,
            precondition,
        })
        .await
    }

    /// Deletes `key` (with a precondition like [`Store::update`]). Returns the deleted
    /// key/value with `mod_revision` = the revision of the delete.
    pub async fn delete(&self, key: &str, precondition: Option<Revision>) -> Result<KeyValue> {
        self.write(writer::Op::Delete {
            key: key.to_owned(),
            precondition,
        })
        .await
    }

    /// The current value of `key`: after a write has been acknowledged, that write or a
    /// later one. From the current-value cache when it holds the key.
    pub fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        match self.inner.cache.lookup(key) {
            cache::Lookup::Hit(found) => Ok(found),
            cache::Lookup::Miss(ticket) => {
                let found = self.inner.pool.get(key)?;
                self.inner.cache.fill(ticket, key, found.as_ref());
                Ok(found)
            }
        }
    }

    /// Keys starting with `prefix`, sorted, at the current or a past revision.
    pub fn list(&self, prefix: &str, opts: &ListOptions) -> Result<ListResult> {
        self.inner.pool.list(prefix, opts)
    }

    /// Every event with revision > `after` whose key starts with `prefix`, in order.
    /// [`Error::Expired`] if `after` is older than [`Store::oldest_revision`].
    pub fn watch(&self, prefix: &str, after: Revision) -> Result<Watcher> {
        Watcher::new(
            self.inner.shared.clone(),
            self.inner.pool.clone(),
            prefix,
            after,
        )
    }

    /// The revision of the last acknowledged write.
    pub fn current_revision(&self) -> Revision {
        self.inner.shared.current()
    }

    /// The oldest revision from which watch and list-at-revision still work.
    pub fn oldest_revision(&self) -> Revision {
        self.inner.shared.oldest()
    }

    /// Commit counters (to observe group commit).
    pub fn stats(&self) -> Stats {
        Stats {
            commits: self.inner.shared.commits.load(Ordering::Relaxed),
            writes: self.inner.shared.writes.load(Ordering::Relaxed),
            cache_hits: self.inner.cache.hits.load(Ordering::Relaxed),
            cache_misses: self.inner.cache.misses.load(Ordering::Relaxed),
        }
    }

    /// Stops the writer thread after it has committed the queued writes. Later writes
    /// get [`Error::Closed`]; watchers get it after their remaining events. Reads keep
    /// working.
    pub async fn close(&self) {
        drop(lock(&self.inner.sender).take());
        self.inner.shared.wait_closed().await;
    }
}

/// Locks a mutex, ignoring poisoning (the protected data stays consistent: every
/// critical section is a few non-panicking statements).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
