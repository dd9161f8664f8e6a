//! The writer thread: group commit and compaction.
//!
//! One thread owns the write connection. It takes every queued request, applies each in
//! one transaction (a failed check answers only that request; old history is deleted in
//! the same transaction now and then), commits (one fsync with `synchronous=FULL`),
//! asks the checkpointer thread (`checkpoint`) to copy a long WAL into the database file,
//! puts the new values in the current-value cache, publishes the events to watchers and
//! only then replies. The row an update or delete replaces is read from the cache when
//! it holds the key and the batch has not written the key yet (see `cache`). It stops
//! when every [`Sender`] is gone (close or last store handle dropped), after draining.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use crate::cache::Cache;
use crate::checkpoint::Checkpointer;
use crate::schema::{GET_KV, Opened, kind_code};
use crate::watch::{Notifier, Shared};
use crate::{Error, Event, EventKind, KeyValue, Options, Result, Revision};

/// Most requests applied in one transaction.
const MAX_BATCH: usize = 1024;

pub(crate) type Sender = mpsc::Sender<Request>;

pub(crate) enum Op {
    Create {
        key: String,
        value: Bytes,
    },
    Update {
        key: String,
        value: Bytes,
        precondition: Option<Revision>,
    },
    Delete {
        key: String,
        precondition: Option<Revision>,
    },
}

/// One request's answer and, when it wrote, its event.
type Applied = Result<(KeyValue, Arc<Event>)>;

pub(crate) struct Request {
    pub op: Op,
    pub reply: oneshot::Sender<Result<KeyValue>>,
}

struct Writer {
    /// Declared first, dropped first: the checkpointer thread has stopped before the
    /// store's closing is announced (`notifier`).
    checkpointer: Checkpointer,
    conn: Connection,
    rev: Revision,
    compacted: Revision,
    history_len: u64,
    shared: Arc<Shared>,
    notifier: Notifier,
    cache: Arc<Cache>,
}

pub(crate) fn spawn(
    path: &std::path::Path,
    opened: Opened,
    opts: Options,
    shared: Arc<Shared>,
    notifier: Notifier,
    cache: Arc<Cache>,
) -> Result<Sender> {
    let (tx, rx) = mpsc::channel();
    let checkpointer = Checkpointer::start(&opened.conn, path, opts.wal_checkpoint_pages)?;
    let mut writer = Writer {
        checkpointer,
        conn: opened.conn,
        rev: opened.revision,
        compacted: opened.compacted,
        history_len: opts.history_len,
        shared,
        notifier,
        cache,
    };
    std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(req) => batch.push(req),
                        Err(_) => break,
                    }
                }
                writer.commit_batch(batch);
            }
            tracing::debug!(revision = writer.rev, "store writer stopped");
        })?;
    Ok(tx)
}

/// The current row of a key.
struct Current {
    value: Bytes,
    create_rev: Revision,
    mod_rev: Revision,
}

impl Writer {
    fn commit_batch(&mut self, batch: Vec<Request>) {
        let start = self.rev;
        match self.apply_all(&batch) {
            Ok(results) => {
                let events: Vec<Arc<Event>> = results
                    .iter()
                    .filter_map(|r| r.as_ref().ok().map(|(_, ev)| ev.clone()))
                    .collect();
                if !events.is_empty() {
                    self.checkpointer.after_commit();
                    let writes = results.iter().filter_map(|r| r.as_ref().ok());
                    self.cache.apply(
                        self.rev,
                        writes.map(|(kv, ev)| {
                            let state = (ev.kind != EventKind::Deleted).then_some(kv);
                            (kv.key.as_str(), state, kv.mod_revision)
                        }),
                    );
                    self.shared.commits.fetch_add(1, Ordering::Relaxed);
                    self.shared
                        .writes
                        .fetch_add(events.len() as u64, Ordering::Relaxed);
                }
                self.shared.publish(&self.notifier, events);
                for (req, result) in batch.into_iter().zip(results) {
                    // The caller may have gone away; the write stands.
                    let _ = req.reply.send(result.map(|(kv, _)| kv));
                }
            }
            Err(e) => {
                self.rev = start;
                tracing::error!(error = %e, requests = batch.len(), "store commit failed");
                let msg = e.to_string();
                for req in batch {
                    let _ = req.reply.send(Err(Error::Storage(msg.clone())));
                }
            }
        }
    }

    /// Applies the batch in one transaction. The outer error (SQLite failure) fails the
    /// whole batch; the inner results are each request's answer.
    fn apply_all(&mut self, batch: &[Request]) -> rusqlite::Result<Vec<Applied>> {
        let start = self.rev;
        let mut rev = self.rev;
        let compaction = (self.compacted, self.history_len);
        let tx = Tx::begin(&self.conn)?;
        let mut results = Vec::with_capacity(batch.len());
        // Keys this batch has written: their current row is in the transaction, not in
        // the cache (which holds the state before the batch).
        let mut written = HashSet::new();
        for req in batch {
            let key = req.op.key();
            let cache = (!written.contains(key)).then_some(&*self.cache);
            let result = apply(&tx, &mut rev, compaction.0, cache, &req.op)?;
            if result.is_ok() {
                written.insert(key);
            }
            results.push(result);
        }
        if rev == start {
            return Ok(results); // nothing written: the transaction rolls back
        }
        tx.prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'revision'")?
            .execute([rev])?;
        let compact_to = compaction_target(compaction, rev);
        if let Some(target) = compact_to {
            keep_replaced_values(&tx, compaction.0, target)?;
            keep_current_values(&tx, target)?;
            tx.execute("DELETE FROM history WHERE rev <= ?1", [target])?;
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE name = 'compacted'",
                [target],
            )?;
        }
        tx.commit()?;
        tracing::trace!(
            requests = batch.len(),
            revision = rev,
            "store batch committed"
        );
        self.rev = rev;
        if let Some(target) = compact_to {
            tracing::debug!(compacted = target, "store history compacted");
            self.compacted = target;
            self.shared.set_oldest(target);
        }
        Ok(results)
    }
}

/// A batch's write transaction, begun and committed through cached statements; rolled back
/// if dropped before [`commit`](Self::commit). rusqlite's `Transaction` runs `BEGIN` and
/// `COMMIT` through `execute_batch`, which compiles them again for every batch: with the
/// revision's `UPDATE`, three SQL compilations per commit, and after a quiet minute the
/// first commit's compilations took milliseconds of cold code (BENCHMARKS.md finding 50).
struct Tx<'c> {
    conn: &'c Connection,
    committed: bool,
}

impl<'c> Tx<'c> {
    fn begin(conn: &'c Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Tx {
            conn,
            committed: false,
        })
    }

    fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.committed = true;
        Ok(())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        // Also after a failed COMMIT, which can leave the transaction open.
        if !self.committed
            && !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "store rollback failed");
        }
    }
}

/// Compaction happens in a batch's transaction (no extra fsync), only once the excess
/// over `history_len` reaches a tenth of it (at most 1,000 events), so it runs now and
/// then, not on every write. It keeps the last `history_len` events.
fn compaction_target((compacted, history_len): (Revision, u64), rev: Revision) -> Option<Revision> {
    let slack = (history_len / 10).clamp(1, 1000);
    (rev - compacted >= history_len.saturating_add(slack)).then(|| rev - history_len)
}

/// Before the history rows in `(compacted, target]` are deleted: an update after
/// `target` whose replaced value is one of them gets that value in its `prev_value`.
/// Each deleted row (but a delete, followed by a create) is replaced by the next row of
/// its key (an update or a delete, never a create), found by `history_key_changes`.
fn keep_replaced_values(
    tx: &Connection,
    compacted: Revision,
    target: Revision,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(KEEP_REPLACED_VALUES)?
        .execute([compacted, target])
}

/// Before the history rows up to `target` are deleted: a key whose value is its history
/// row's (see `schema`) gets it in `kv`. Index `kv_in_history` finds them.
fn keep_current_values(tx: &Connection, target: Revision) -> rusqlite::Result<usize> {
    tx.prepare_cached(KEEP_CURRENT_VALUES)?.execute([target])
}

const KEEP_CURRENT_VALUES: &str = "UPDATE kv
    SET value = (SELECT h.value FROM history h WHERE h.rev = kv.mod_rev)
    WHERE value IS NULL AND mod_rev <= ?1";

const KEEP_REPLACED_VALUES: &str = "UPDATE history
    SET prev_value = (SELECT p.value FROM history p WHERE p.rev = history.prev_mod_rev)
    WHERE rev IN (
        SELECT (SELECT MIN(n.rev) FROM history n
            WHERE n.key = d.key AND n.rev > d.rev AND n.kind != 0)
        FROM history d WHERE d.rev > ?1 AND d.rev <= ?2 AND d.kind != 2
    ) AND rev > ?2 AND kind = 1 AND prev_value IS NULL";

fn check(key: &str, current: Option<&Current>, precondition: Option<Revision>) -> Result<()> {
    let Some(cur) = current else {
        return Err(Error::NotFound {
            key: key.to_owned(),
        });
    };
    match precondition {
        Some(p) if p != cur.mod_rev => Err(Error::Conflict {
            key: key.to_owned(),
            current: cur.mod_rev,
        }),
        _ => Ok(()),
    }
}

impl Op {
    fn key(&self) -> &str {
        match self {
            Op::Create { key, .. } | Op::Update { key, .. } | Op::Delete { key, .. } => key,
        }
    }
}

/// The committed row of `key`: from `cache` when given and it holds the key, else from
/// the transaction.
fn current(tx: &Connection, cache: Option<&Cache>, key: &str) -> rusqlite::Result<Option<Current>> {
    if let Some(found) = cache.and_then(|c| c.current(key)) {
        return Ok(found.map(|kv| Current {
            value: kv.value,
            create_rev: kv.create_revision,
            mod_rev: kv.mod_revision,
        }));
    }
    tx.prepare_cached(GET_KV)?
        .query_row([key], |r| {
            Ok(Current {
                value: Bytes::from(r.get::<_, Vec<u8>>(0)?),
                create_rev: r.get(1)?,
                mod_rev: r.get(2)?,
            })
        })
        .optional()
}

/// Applies one request: `Ok(Err(_))` is a failed check (nothing written). History
/// holds every revision after `compacted`. `cache`, when given, holds the key's
/// committed state (the batch has not written it yet).
fn apply(
    tx: &Connection,
    rev: &mut Revision,
    compacted: Revision,
    cache: Option<&Cache>,
    op: &Op,
) -> rusqlite::Result<Applied> {
    let key = op.key();
    let new_rev = *rev + 1;
    let current = match op {
        // A create needs no current row: the insert itself finds out whether one exists.
        Op::Create { .. } => None,
        Op::Update { .. } | Op::Delete { .. } => current(tx, cache, key)?,
    };
    let (kind, value, prev, create_rev) = match op {
        // The value goes into the history row only; `kv`'s is NULL (see `schema`).
        Op::Create { key, value } => {
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO kv(key, value, create_rev, mod_rev) VALUES (?1, NULL, ?2, ?2)
                     ON CONFLICT(key) DO NOTHING",
                )?
                .execute(params![key, new_rev])?;
            if inserted == 0 {
                return Ok(Err(Error::AlreadyExists { key: key.clone() }));
            }
            (EventKind::Created, value.clone(), None, new_rev)
        }
        Op::Update {
            key,
            value,
            precondition,
        } => {
            if let Err(e) = check(key, current.as_ref(), *precondition) {
                return Ok(Err(e));
            }
            tx.prepare_cached("UPDATE kv SET value = NULL, mod_rev = ?2 WHERE key = ?1")?
                .execute(params![key, new_rev])?;
            (EventKind::Updated, value.clone(), current, 0)
        }
        Op::Delete { key, precondition } => {
            if let Err(e) = check(key, current.as_ref(), *precondition) {
                return Ok(Err(e));
            }
            tx.prepare_cached("DELETE FROM kv WHERE key = ?1")?
                .execute([key])?;
            let old = current.as_ref().map(|c| c.value.clone());
            (EventKind::Deleted, old.unwrap_or_default(), current, 0)
        }
    };
    let create_rev = prev.as_ref().map_or(create_rev, |p| p.create_rev);
    let prev_mod_rev = prev.as_ref().map(|p| p.mod_rev);
    let prev_value = prev.map(|p| p.value);
    // The replaced value is the row at `prev_mod_rev` (a delete's own value): stored
    // again only when that row is compacted away (see `schema`).
    let stored_prev = match (kind, prev_mod_rev) {
        (EventKind::Updated, Some(p)) if p <= compacted => prev_value.as_deref(),
        _ => None,
    };
    tx.prepare_cached(
        "INSERT INTO history(rev, key, kind, value, prev_value, create_rev, prev_mod_rev)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        new_rev,
        key,
        kind_code(kind),
        value.as_ref(),
        stored_prev,
        create_rev,
        prev_mod_rev,
    ])?;
    *rev = new_rev;
    let kv = KeyValue {
        key: key.to_owned(),
        value: value.clone(),
        create_revision: create_rev,
        mod_revision: new_rev,
    };
    let event = Event {
        revision: new_rev,
        kind,
        key: key.to_owned(),
        value,
        prev_value,
    };
    Ok(Ok((kv, Arc::new(event))))
}

#[cfg(test)]
mod tests {
    use super::{KEEP_CURRENT_VALUES, KEEP_REPLACED_VALUES};
    use crate::{Options, Store};

    fn query_plan(sql: &str, params: [i64; 2]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        drop(Store::open(&path, Options::default()).unwrap());
        let c = rusqlite::Connection::open(&path).unwrap();
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let n = stmt.parameter_count();
        stmt.query_map(rusqlite::params_from_iter(&params[..n]), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A transaction dropped before its commit is rolled back; a committed one stays.
    #[test]
    fn transactions_commit_or_roll_back() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t(x)").unwrap();
        let count = |c: &rusqlite::Connection| -> i64 {
            c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap()
        };
        {
            let tx = super::Tx::begin(&c).unwrap();
            tx.execute("INSERT INTO t VALUES (1)", []).unwrap();
            assert!(!c.is_autocommit());
        }
        assert!(c.is_autocommit());
        assert_eq!(count(&c), 0);
        for _ in 0..2 {
            let tx = super::Tx::begin(&c).unwrap();
            tx.execute("INSERT INTO t VALUES (1)", []).unwrap();
            tx.commit().unwrap();
        }
        assert!(c.is_autocommit());
        assert_eq!(count(&c), 2);
    }

    /// Compaction finds the keys whose value is in a history row it deletes through
    /// `kv_in_history`, without scanning `kv`.
    #[test]
    fn keeping_current_values_uses_the_partial_index() {
        let plan = query_plan(KEEP_CURRENT_VALUES, [1, 0]);
        let text = plan.join("\n");
        assert!(plan.iter().all(|l| !l.contains("SCAN")), "{text}");
        assert!(text.contains("kv_in_history"), "{text}");
    }

    /// Compaction finds the rows to fill through the primary key and `history_key_changes`,
    /// without scanning the whole history.
    #[test]
    fn keeping_replaced_values_uses_indexes() {
        let plan = query_plan(KEEP_REPLACED_VALUES, [1, 2]);
        let text = plan.join("\n");
        assert!(plan.iter().all(|l| !l.contains("SCAN")), "{text}");
        assert!(text.contains("history_key_changes"), "{text}");
    }
}
