//! The checkpointer thread: copies the WAL's pages into the database file beside the
//! writer, so that commits go on during a checkpoint.
//!
//! SQLite's automatic checkpoint runs inside the `COMMIT` that crosses its threshold: the
//! writer thread stopped for tens of milliseconds while it copied 64 MiB of WAL, and every
//! write queued behind it waited (BENCHMARKS.md finding 56). Here the writer's connection
//! has no automatic checkpoint; its WAL hook counts the pages in the WAL after each commit
//! ([`wal_pages`]), and past the threshold the writer asks this thread, which owns a
//! connection of its own, for a `PASSIVE` checkpoint: it never takes the write lock, so
//! the writer appends to the WAL while the checkpoint copies what was committed before.
//! The next write transaction after a complete checkpoint starts the WAL over, as
//! SQLite's own checkpoint leaves it.
//!
//! Durability does not depend on checkpoints: a commit is durable once its WAL frames are
//! synced. A checkpoint cut short by a crash is finished by the next one.

use std::cell::Cell;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::schema::configure;

thread_local! {
    /// The WAL's size in pages after the last commit of this thread's connection (its WAL
    /// hook's report).
    static WAL_PAGES: Cell<i32> = const { Cell::new(0) };
}

/// The writer connection's WAL hook: records the WAL's size (the hook runs in the thread
/// that commits). Installing it turns SQLite's automatic checkpoint off.
fn record_pages(_: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_PAGES.set(pages);
    Ok(())
}

/// The pages in the WAL after the calling thread's last commit.
fn wal_pages() -> i32 {
    WAL_PAGES.get()
}

/// The writer's handle on the checkpointer thread. Dropping it stops the thread after the
/// checkpoint it is running, and waits for it.
pub(crate) struct Checkpointer {
    /// At most one request waits: a checkpoint asked for while one runs covers the pages
    /// committed since.
    wake: Option<mpsc::SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    threshold: i32,
}

impl Checkpointer {
    /// Turns `writer`'s automatic checkpoint off and starts the thread that checkpoints
    /// `path` once the WAL holds `threshold` pages (0: never).
    pub(crate) fn start(writer: &Connection, path: &Path, threshold: u32) -> crate::Result<Self> {
        writer.wal_hook(Some(record_pages));
        let conn = Connection::open(path)?;
        configure(&conn)?;
        let (wake, asked) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                while asked.recv().is_ok() {
                    checkpoint(&conn);
                }
            })?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
            threshold: i32::try_from(threshold).unwrap_or(i32::MAX),
        })
    }

    /// Called by the writer thread after a commit: asks for a checkpoint when its WAL has
    /// reached the threshold (a no-op while one is already asked for).
    pub(crate) fn after_commit(&self) {
        if self.threshold > 0
            && wal_pages() >= self.threshold
            && let Some(wake) = &self.wake
        {
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("store checkpoint thread panicked");
        }
    }
}

/// One passive checkpoint: copies the committed pages no reader still needs from the WAL.
fn checkpoint(conn: &Connection) {
    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    });
    match done {
        Ok((busy, log, copied)) => {
            tracing::debug!(busy, log, copied, "store WAL checkpointed");
        }
        Err(e) => tracing::warn!(error = %e, "store WAL checkpoint failed"),
    }
}

#[cfg(test)]
mod tests {
    use crate::{Options, Store};
    use bytes::Bytes;

    fn file_len(p: &std::path::Path) -> u64 {
        std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
    }

    /// Past the threshold the WAL's pages reach the database file without a checkpoint
    /// on the writer's connection, and closing the store stops the thread.
    #[tokio::test]
    async fn pages_past_the_threshold_reach_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let opts = Options {
            wal_checkpoint_pages: 64,
            ..Options::default()
        };
        let store = Store::open(&path, opts).unwrap();
        let before = file_len(&path);
        let value = Bytes::from(vec![b'x'; 40_000]);
        for i in 0..100 {
            store
                .create(&format!("/k/{i}"), value.clone())
                .await
                .unwrap();
        }
        // 100 values of 40 KB: about 250 pages of 16 KiB, past 64 several times.
        let mut waited = 0;
        while file_len(&path) < before + 1_000_000 {
            assert!(waited < 3_000, "no checkpoint: {} bytes", file_len(&path));
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            waited += 1;
        }
        store.close().await;
        let reopened = Store::open(&path, Options::default()).unwrap();
        let got = reopened.get("/k/99").unwrap().unwrap();
        assert_eq!(got.value, value);
    }

    /// The writer's connection has no automatic checkpoint once the thread is started.
    #[test]
    fn the_writer_connection_does_not_checkpoint_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let opened = crate::schema::open(&path, &Options::default()).unwrap();
        let auto = |c: &rusqlite::Connection| -> i64 {
            c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(auto(&opened.conn), 1000, "SQLite's default before");
        let started = super::Checkpointer::start(&opened.conn, &path, 4_000).unwrap();
        assert_eq!(auto(&opened.conn), 0);
        drop(started);
    }
}
