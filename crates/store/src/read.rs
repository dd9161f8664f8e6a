//! Reads: get, list (at the current or an older revision) and history ranges for
//! watchers, on a small pool of read connections. WAL gives each read transaction a
//! consistent snapshot, independent of the writer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params_from_iter};

use crate::schema::{self, EVENT_SELECT, GET_KV, KV_VALUE, event_from_row};
use crate::{Error, Event, KeyValue, ListOptions, ListResult, Result, Revision, lock};

/// Idle read connections kept open.
const MAX_IDLE: usize = 4;
/// Page cache of each read connection, KiB (SQLite's `cache_size` in its negative form).
/// Readers do not map the file: each connection's map counted every store page it had
/// touched in the server's resident memory (once per connection), growing with the store.
/// A `pread` per page into this cache keeps a reader's memory bounded; the cache is reset
/// whenever another connection has written, so it serves one read (a LIST's b-tree
/// interior pages) rather than hot objects, and needs not be large.
const CACHE_KIB: i64 = 2048;

pub(crate) struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// The smallest string greater than every string starting with `prefix`, or `None` if
/// there is none (empty prefix, or only `char::MAX`). Strings compare by UTF-8 bytes,
/// which is code point order, so bumping the last code point that can be bumped works.
pub(crate) fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(c) = chars.pop() {
        let next = match c {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(c as u32 + 1),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// `WHERE` conditions selecting keys (column `col`) with `prefix` (and after
/// `start_after`), using the numbered parameters ?1 (prefix), ?2 (successor) and ?3
/// (start_after).
fn key_conditions(col: &str, prefix: &str, start_after: Option<&str>) -> (String, [Value; 3]) {
    let mut sql = format!("{col} >= ?1");
    let succ = prefix_successor(prefix);
    if succ.is_some() {
        sql.push_str(&format!(" AND {col} < ?2"));
    }
    if start_after.is_some() {
        sql.push_str(&format!(" AND {col} > ?3"));
    }
    let text = |s: Option<String>| s.map_or(Value::Null, Value::Text);
    let params = [
        Value::Text(prefix.to_owned()),
        text(succ),
        text(start_after.map(str::to_owned)),
    ];
    (sql, params)
}

fn meta(tx: &Transaction<'_>, name: &str) -> Result<Revision> {
    tx.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| Error::Corrupt(format!("meta row {name:?} is missing")))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A list at an older revision: the keys unchanged since `rev`, plus the state at `rev` of
/// keys changed after it, from the first later event `f` of the key's life that was going
/// on at `rev` (an update or delete whose `create_rev` is not after `rev`: index
/// `history_key_changes`): the value it replaced, stored in the row, or the deleted value
/// for a delete, or the value of the previous row `p` for an update. A key created after
/// `rev` has none. SQLite takes the bare columns from the row where MIN(rev) is found.
/// `cond` selects the keys (see [`key_conditions`]); ?4 is the revision, ?5 the limit.
fn list_at_sql(cond: &str) -> String {
    format!(
        "SELECT key, {KV_VALUE}, create_rev, mod_rev FROM kv WHERE {cond} AND mod_rev <= ?4
         UNION ALL
         SELECT f.key,
           COALESCE(f.prev_value, CASE f.kind WHEN 2 THEN f.value ELSE p.value END),
           f.create_rev, f.prev_mod_rev
         FROM (
           SELECT key, MIN(rev), kind, value, prev_value, create_rev, prev_mod_rev
           FROM history WHERE {cond} AND rev > ?4 AND kind != 0 AND create_rev <= ?4
           GROUP BY key
         ) f LEFT JOIN history p
           ON f.kind = 1 AND f.prev_value IS NULL AND p.rev = f.prev_mod_rev
         ORDER BY 1 LIMIT ?5"
    )
}

impl Pool {
    pub(crate) fn new(path: &Path) -> Pool {
        Pool {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let idle = lock(&self.idle).pop();
        let mut conn = match idle {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(schema::BUSY_TIMEOUT)?;
                c.pragma_update(None, "query_only", true)?;
                c.pragma_update(None, "mmap_size", 0)?;
                c.pragma_update(None, "cache_size", -CACHE_KIB)?;
                c
            }
        };
        let result = f(&mut conn);
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
        result
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(GET_KV)?;
            let kv = stmt
                .query_row([key], |r| {
                    Ok(KeyValue {
                        key: key.to_owned(),
                        value: Bytes::from(r.get::<_, Vec<u8>>(0)?),
                        create_revision: r.get(1)?,
                        mod_revision: r.get(2)?,
                    })
                })
                .optional()?;
            Ok(kv)
        })
    }

    pub(crate) fn list(&self, prefix: &str, opts: &ListOptions) -> Result<ListResult> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let current = meta(&tx, "revision")?;
            let compacted = meta(&tx, "compacted")?;
            let rev = opts.revision.unwrap_or(current);
            if rev > current {
                return Err(Error::FutureRevision {
                    requested: rev,
                    current,
                });
            }
            if rev < compacted {
                return Err(Error::Expired {
                    requested: rev,
                    oldest: compacted,
                });
            }
            let limit = opts.limit.filter(|&l| l > 0);
            let (cond, [p1, p2, p3]) = key_conditions("key", prefix, opts.start_after.as_deref());
            let sql = if rev == current {
                format!(
                    "SELECT key, {KV_VALUE}, create_rev, mod_rev FROM kv WHERE {cond}
                     ORDER BY key LIMIT ?5"
                )
            } else {
                list_at_sql(&cond)
            };
            let sql_limit = limit.map_or(-1, |l| to_i64(l as u64).saturating_add(1));
            let params = [
                p1,
                p2,
                p3,
                Value::Integer(to_i64(rev)),
                Value::Integer(sql_limit),
            ];
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut items = stmt
                .query_map(params_from_iter(params), |r| {
                    Ok(KeyValue {
                        key: r.get(0)?,
                        value: Bytes::from(r.get::<_, Vec<u8>>(1)?),
                        create_revision: r.get(2)?,
                        mod_revision: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let more = limit.is_some_and(|l| items.len() > l);
            if let Some(l) = limit {
                items.truncate(l);
            }
            Ok(ListResult {
                items,
                revision: rev,
                more,
            })
        })
    }

    /// Events with `from <= rev < until` and a key starting with `prefix`, at most
    /// `limit` of them, and the revision to continue from. [`Error::Expired`] if
    /// revisions from `from` on are no longer all in history.
    pub(crate) fn history(
        &self,
        prefix: &str,
        from: Revision,
        until: Revision,
        limit: usize,
    ) -> Result<(Vec<Arc<Event>>, Revision)> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let compacted = meta(&tx, "compacted")?;
            let after = from.saturating_sub(1);
            if after < compacted {
                return Err(Error::Expired {
                    requested: after,
                    oldest: compacted,
                });
            }
            let (cond, [p1, p2, p3]) = key_conditions("h.key", prefix, None);
            let sql = format!(
                "{EVENT_SELECT}
                 WHERE {cond} AND h.rev >= ?4 AND h.rev < ?5 ORDER BY h.rev LIMIT ?6"
            );
            let params = [
                p1,
                p2,
                p3,
                Value::Integer(to_i64(from)),
                Value::Integer(to_i64(until)),
                Value::Integer(to_i64(limit as u64)),
            ];
            let mut stmt = tx.prepare_cached(&sql)?;
            let events = stmt
                .query_map(params_from_iter(params), |r| {
                    event_from_row(r).map(Arc::new)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let next = match events.last() {
                Some(last) if events.len() >= limit => last.revision + 1,
                _ => until,
            };
            Ok((events, next))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{CACHE_KIB, Connection, Pool, key_conditions, list_at_sql, prefix_successor};

    #[test]
    fn readers_do_not_map_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x);")
            .unwrap();
        let pool = Pool::new(&path);
        let (mmap, cache): (i64, i64) = pool
            .with(|c| {
                let mmap = c.query_row("PRAGMA mmap_size", [], |r| r.get(0))?;
                let cache = c.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
                Ok((mmap, cache))
            })
            .unwrap();
        assert_eq!((mmap, cache), (0, -CACHE_KIB));
    }

    /// A list at an older revision finds the keys' later events through
    /// `history_key_changes`, without scanning history.
    #[test]
    fn lists_at_a_revision_use_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        drop(crate::Store::open(&path, crate::Options::default()).unwrap());
        let c = Connection::open(&path).unwrap();
        let (cond, _) = key_conditions("key", "/jobs/", Some("/jobs/a"));
        let mut stmt = c
            .prepare(&format!("EXPLAIN QUERY PLAN {}", list_at_sql(&cond)))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(["/jobs/", "/jobs0", "/jobs/a", "5", "10"], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let text = plan.join("\n");
        assert!(text.contains("history_key_changes"), "{text}");
        assert!(
            plan.iter()
                .all(|l| !l.contains("SCAN history") && !l.contains("SCAN h ")),
            "{text}"
        );
    }

    #[test]
    fn successor() {
        assert_eq!(prefix_successor(""), None);
        assert_eq!(prefix_successor("a"), Some("b".into()));
        assert_eq!(prefix_successor("/jobs/"), Some("/jobs0".into()));
        assert_eq!(prefix_successor("a\u{7f}"), Some("a\u{80}".into()));
        assert_eq!(prefix_successor("a\u{D7FF}"), Some("a\u{E000}".into()));
        assert_eq!(prefix_successor("a\u{10FFFF}"), Some("b".into()));
        assert_eq!(prefix_successor("\u{10FFFF}\u{10FFFF}"), None);
        for p in ["a", "a\u{7f}", "x\u{10FFFF}", "\u{ffff}"] {
            let s = prefix_successor(p).unwrap();
            assert!(s.as_str() > p);
            assert!(s.as_str() > format!("{p}\u{10FFFF}\u{10FFFF}").as_str());
        }
    }
}
