//! The SQLite file: pragmas, tables, integrity check, and the startup state (revision,
//! compaction point, tail of history for the watch ring).
//!
//! Tables:
//! - `kv(key, value, create_rev, mod_rev)`: current state. A key's value is NULL while
//!   its history row (`rev = mod_rev`) holds it (schema 3): a write stores its value once,
//!   in `history`, and `kv`'s rows stay small, so that a write in a random place of the
//!   key space rewrites a page of small rows, not one of whole objects (BENCHMARKS.md
//!   finding 45). Compaction copies the values of the rows it would delete into `kv`
//!   first (index `kv_in_history` finds them). [`KV_VALUE`] reads a row's value either way;
//!   index `history_key_changes` finds a key's updates and deletes (not its creates: a
//!   create of a new key writes no page at a random place of it, only `kv`'s);
//! - `history(rev, key, kind, value, prev_value, create_rev, prev_mod_rev)`: one row per
//!   write, contiguous revisions after the compaction point. `create_rev` is the key's
//!   create revision at that write and `prev_mod_rev` its mod revision before it, so a
//!   key's state at an older revision can be rebuilt from its first later event. The
//!   value a write replaced is not stored again (schema 2): for an update it is the value
//!   of the row at `prev_mod_rev`, for a delete the row's own `value`. Only an update
//!   whose previous row is compacted away keeps it in `prev_value` (the writer copies it
//!   there when it compacts); rows written by schema 1 hold it too;
//! - `meta(name, value)`: `revision` (last assigned) and `compacted` (history holds every
//!   revision after it).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row};

use crate::{Error, Event, EventKind, Options, Result, Revision};

/// 1: every update and delete stored its previous value in `prev_value`.
/// 2: `prev_value` is NULL unless the row at `prev_mod_rev` is compacted away. A schema 1
///    file needs no change (its rows all carry `prev_value`); a schema 1 program must not
///    open a schema 2 file, which the version number prevents.
/// 3: `kv.value` is NULL while the key's last history row holds it. An older file's `kv`
///    is rebuilt with a nullable `value` (every row keeps its value); an older program
///    must not open a schema 3 file. History's index by key (`history_key_rev` before)
///    leaves out creates.
const SCHEMA_VERSION: i64 = 3;
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Page cache of the write connection, KiB (SQLite's default is 2,000). Every write
/// descends the `kv` and `history_key_changes` b-trees at a random key; with 16 KiB pages the
/// default held 125 pages, too few for the leaves a Job's running pods live on, and the
/// writer re-read evicted ones (`pread`, ≈ 3 % of its time in a Job of 10,000 pods). Only the writer keeps its cache across
/// transactions (nobody else writes), so only it gets a bigger one; it fills as pages are
/// touched, so an idle server does not pay for it.
pub(crate) const WRITER_CACHE_KIB: i64 = 8192;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv(
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB,
    create_rev INTEGER NOT NULL,
    mod_rev INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history(
    rev INTEGER PRIMARY KEY NOT NULL,
    key TEXT NOT NULL,
    kind INTEGER NOT NULL,
    value BLOB NOT NULL,
    prev_value BLOB,
    create_rev INTEGER NOT NULL,
    prev_mod_rev INTEGER
);
DROP INDEX IF EXISTS history_key_rev;
CREATE INDEX IF NOT EXISTS history_key_changes ON history(key, rev) WHERE kind != 0;
CREATE INDEX IF NOT EXISTS kv_in_history ON kv(mod_rev) WHERE value IS NULL;
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(name, value) VALUES ('revision', 0), ('compacted', 0);
";

/// A `kv` row's value (the table is named `kv`): its own, or its history row's.
macro_rules! kv_value {
    () => {
        "COALESCE(kv.value, (SELECT h.value FROM history h WHERE h.rev = kv.mod_rev))"
    };
}
pub(crate) const KV_VALUE: &str = kv_value!();

/// A key's row (value, create and mod revision), for get and for the writer's check.
pub(crate) const GET_KV: &str = concat!(
    "SELECT ",
    kv_value!(),
    ", create_rev, mod_rev FROM kv WHERE key = ?1"
);

/// Rebuilds a schema 1 or 2 `kv` (whose `value` is `NOT NULL`) as schema 3's, every row
/// keeping its value.
const KV_TO_SCHEMA_3: &str = "
CREATE TABLE kv_3(
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB,
    create_rev INTEGER NOT NULL,
    mod_rev INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO kv_3(key, value, create_rev, mod_rev) SELECT key, value, create_rev, mod_rev FROM kv;
DROP TABLE kv;
ALTER TABLE kv_3 RENAME TO kv;
";

/// Selects events for [`event_from_row`]: history rows `h`, each with the value it
/// replaced when that is not stored in the row itself (an update's previous row `p`).
/// Conditions on the history rows go after it as `WHERE` on `h`'s columns.
pub(crate) const EVENT_SELECT: &str = "SELECT h.rev, h.key, h.kind, h.value,
    COALESCE(h.prev_value, p.value)
    FROM history h LEFT JOIN history p
    ON h.kind = 1 AND h.prev_value IS NULL AND p.rev = h.prev_mod_rev";

pub(crate) fn kind_code(kind: EventKind) -> i64 {
    match kind {
        EventKind::Created => 0,
        EventKind::Updated => 1,
        EventKind::Deleted => 2,
    }
}

/// Reads an event from a row selected with [`EVENT_SELECT`]. A delete's previous value
/// is its value.
pub(crate) fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    let kind = match row.get::<_, i64>(2)? {
        0 => EventKind::Created,
        1 => EventKind::Updated,
        2 => EventKind::Deleted,
        other => {
            return Err(rusqlite::Error::IntegralValueOutOfRange(2, other));
        }
    };
    let value = Bytes::from(row.get::<_, Vec<u8>>(3)?);
    let prev_value = match (kind, row.get::<_, Option<Vec<u8>>>(4)?) {
        (EventKind::Created, _) => None,
        (EventKind::Deleted, None) => Some(value.clone()),
        (_, prev) => prev.map(Bytes::from),
    };
    Ok(Event {
        revision: row.get(0)?,
        kind,
        key: row.get(1)?,
        value,
        prev_value,
    })
}

/// The write connection and the state read at startup.
pub(crate) struct Opened {
    pub conn: Connection,
    pub revision: Revision,
    pub compacted: Revision,
    /// The last events (at most `watch_buffer`), contiguous, ending at `revision`.
    pub tail: Vec<Arc<Event>>,
}

/// Opens or creates the store file and checks it. SQLite "corrupt" / "not a database"
/// errors anywhere during open become [`Error::Corrupt`].
pub(crate) fn open(path: &Path, opts: &Options) -> Result<Opened> {
    open_inner(path, opts).map_err(|e| match e {
        Error::Sqlite(ref se) if is_corruption(se) => corrupt(path, se),
        Error::Corrupt(detail) => corrupt(path, detail),
        other => other,
    })
}

fn corrupt(path: &Path, detail: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!(
        "store file {} is corrupted: {detail}; restore a backup or move it away to start empty",
        path.display()
    ))
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// Sets the pragmas every connection uses.
pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // 16 KiB pages hold a typical object (2-4 KiB of JSON) inline instead of in overflow
    // chains, which halves the pages a LIST reads. Only takes effect on a new file.
    conn.pragma_update(None, "page_size", 16384)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "could not switch the store to WAL journal mode");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

fn open_inner(path: &Path, opts: &Options) -> Result<Opened> {
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    let check: Vec<String> = {
        let mut stmt = conn.prepare("PRAGMA quick_check")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    if check.len() != 1 || check[0] != "ok" {
        return Err(Error::Corrupt(format!(
            "integrity check failed: {}",
            check.join("; ")
        )));
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::Corrupt(format!(
            "schema version {version} is newer than this program supports ({SCHEMA_VERSION})"
        )));
    }
    {
        let tx = conn.transaction()?;
        if (1..3).contains(&version) {
            tx.execute_batch(KV_TO_SCHEMA_3)?;
        }
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
    }
    let meta = |name: &str| -> Result<Revision> {
        conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| Error::Corrupt(format!("meta row {name:?} is missing")))
    };
    let revision = meta("revision")?;
    let compacted = meta("compacted")?;
    let max_rev: Option<Revision> =
        conn.query_row("SELECT MAX(rev) FROM history", [], |r| r.get(0))?;
    if compacted > revision || max_rev.is_some_and(|m| m > revision) {
        return Err(Error::Corrupt(format!(
            "revision {revision} is behind its history (compacted {compacted}, last event {max_rev:?})"
        )));
    }
    let from = compacted.max(revision.saturating_sub(opts.watch_buffer.max(1) as u64));
    let tail: Vec<Arc<Event>> = {
        let mut stmt = conn.prepare(&format!("{EVENT_SELECT} WHERE h.rev > ?1 ORDER BY h.rev"))?;
        stmt.query_map([from], |r| event_from_row(r).map(Arc::new))?
            .collect::<rusqlite::Result<_>>()?
    };
    let contiguous = tail
        .iter()
        .enumerate()
        .all(|(i, e)| e.revision == from + 1 + i as u64);
    if !contiguous || from + tail.len() as u64 != revision {
        return Err(Error::Corrupt(format!(
            "history between revisions {from} and {revision} has gaps"
        )));
    }
    Ok(Opened {
        conn,
        revision,
        compacted,
        tail,
    })
}

#[cfg(test)]
mod tests {
    use super::{WRITER_CACHE_KIB, open};
    use crate::Options;

    #[test]
    fn the_writer_has_its_own_cache_size() {
        let dir = tempfile::tempdir().unwrap();
        let opened = open(&dir.path().join("store.db"), &Options::default()).unwrap();
        let cache: i64 = opened
            .conn
            .query_row("PRAGMA cache_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(cache, -WRITER_CACHE_KIB);
    }
}
