//! Watch streams: newline-delimited `{"type","object"}` events from a revision, synthetic
//! ADDED events for `resourceVersion` "" or "0", selector transitions (an object that stops
//! matching is DELETED), bookmarks, `timeoutSeconds`, 410 Expired as an ERROR event, and
//! one-row Tables when the client asked for Table.

use crate::error::{ApiError, ApiResult};
use crate::object::{REVISION_LEN, append_with_revision, from_stored};
use crate::registry::Registry;
use crate::registry::list::Filter;
use crate::request::{Format, IncludeObject, Query};
use crate::table;
use api::resource::ResourceInfo;
use bytes::Bytes;
use futures::Stream;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often bookmarks are sent when allowed.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
/// Watch length when the client gives no timeoutSeconds (the real server picks 30-60 min).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Parameters of one watch.
pub struct WatchRequest {
    /// The resource.
    pub resource: &'static ResourceInfo,
    /// Namespace, or all.
    pub namespace: Option<String>,
    /// Selectors.
    pub filter: Filter,
    /// JSON or Table.
    pub format: Format,
    /// Table row objects.
    pub include: IncludeObject,
    /// Leave out `metadata.managedFields` (`AppState::omit_managed_fields`).
    pub omit_managed_fields: bool,
}

struct State {
    reg: Registry,
    req: WatchRequest,
    watcher: Option<store::Watcher>,
    queued: VecDeque<Bytes>,
    headers_sent: bool,
    bookmarks: bool,
    next_bookmark: Instant,
    deadline: Instant,
    last_rev: u64,
    shutdown: CancellationToken,
}

/// A watch event's line around the object that `write` appends (`object_len` bytes at
/// most): one buffer per event.
fn line_with(kind: &str, object_len: usize, write: impl FnOnce(&mut Vec<u8>)) -> Bytes {
    let mut out = Vec::with_capacity(object_len + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    write(&mut out);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

fn line(kind: &str, object: &[u8]) -> Bytes {
    line_with(kind, object.len(), |out| out.extend_from_slice(object))
}

/// The line of a stored object at revision `rev`, without its managedFields if `omit`.
fn stored_line(kind: &str, stored: &[u8], rev: u64, omit: bool) -> Bytes {
    let stored = if omit {
        crate::omit::without_managed_fields(stored)
    } else {
        std::borrow::Cow::Borrowed(stored)
    };
    line_with(kind, stored.len() + REVISION_LEN, |out| {
        append_with_revision(out, &stored, rev);
    })
}

fn error_line(e: &ApiError) -> Bytes {
    line("ERROR", e.status().to_string().as_bytes())
}

impl State {
    fn encode(
        &mut self,
        kind: &str,
        stored: &[u8],
        rev: u64,
        parsed: Option<&Value>,
    ) -> ApiResult<Bytes> {
        match self.req.format {
            Format::Json => Ok(stored_line(kind, stored, rev, self.req.omit_managed_fields)),
            Format::Table => {
                let obj = match parsed {
                    Some(v) => {
                        let mut v = v.clone();
                        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                            m.insert("resourceVersion".into(), json!(rev.to_string()));
                        }
                        v
                    }
                    None => from_stored(stored, rev)?,
                };
                let t = table::table(
                    self.req.resource,
                    std::slice::from_ref(&obj),
                    self.reg.now(),
                    self.req.include,
                    json!({"resourceVersion": rev.to_string()}),
                    !self.headers_sent,
                )?;
                self.headers_sent = true;
                Ok(line(kind, t.to_string().as_bytes()))
            }
        }
    }

    fn bookmark(&self, initial_end: bool) -> Bytes {
        let r = self.req.resource;
        let mut meta =
            json!({"resourceVersion": self.last_rev.to_string(), "creationTimestamp": null});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = match self.req.format {
            Format::Json => {
                json!({"kind": r.kind, "apiVersion": r.api_version(), "metadata": meta})
            }
            Format::Table => {
                json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": null, "rows": null})
            }
        };
        line("BOOKMARK", obj.to_string().as_bytes())
    }

    /// The line for a store event, or None when the filter hides it.
    fn event(&mut self, ev: &store::Event) -> ApiResult<Option<Bytes>> {
        let r = self.req.resource;
        if self.req.filter.is_everything() {
            let kind = match ev.kind {
                store::EventKind::Created => "ADDED",
                store::EventKind::Updated => "MODIFIED",
                store::EventKind::Deleted => "DELETED",
            };
            return self.encode(kind, &ev.value, ev.revision, None).map(Some);
        }
        let cur = from_stored(&ev.value, ev.revision)?;
        let now_matches = self.req.filter.matches(r, &cur);
        let before = match &ev.prev_value {
            Some(p) if ev.kind == store::EventKind::Updated => {
                self.req.filter.matches(r, &from_stored(p, 0)?)
            }
            _ => false,
        };
        let kind = match (ev.kind, before, now_matches) {
            (store::EventKind::Created, _, true) => "ADDED",
            (store::EventKind::Updated, true, true) => "MODIFIED",
            (store::EventKind::Updated, false, true) => "ADDED",
            (store::EventKind::Updated, true, false) => {
                // As the real cacher: the last state that matched, at this event's revision.
                let prev = ev.prev_value.as_deref().unwrap_or(&ev.value);
                return self.encode("DELETED", prev, ev.revision, None).map(Some);
            }
            (store::EventKind::Deleted, _, true) => "DELETED",
            _ => return Ok(None),
        };
        self.encode(kind, &ev.value, ev.revision, Some(&cur))
            .map(Some)
    }

    async fn next(&mut self) -> Option<Bytes> {
        if let Some(b) = self.queued.pop_front() {
            return Some(b);
        }
        loop {
            let watcher = self.watcher.as_mut()?;
            tokio::select! {
                _ = self.shutdown.cancelled() => return None,
                _ = tokio::time::sleep_until(self.deadline) => return None,
                _ = tokio::time::sleep_until(self.next_bookmark), if self.bookmarks => {
                    self.next_bookmark = Instant::now() + BOOKMARK_EVERY;
                    return Some(self.bookmark(false));
                }
                ev = watcher.next() => match ev {
                    Ok(ev) => {
                        self.last_rev = ev.revision;
                        match self.event(&ev) {
                            Ok(Some(b)) => return Some(b),
                            Ok(None) => continue,
                            Err(e) => {
                                self.watcher = None;
                                return Some(error_line(&e));
                            }
                        }
                    }
                    Err(store::Error::Closed) => return None,
                    Err(e) => {
                        self.watcher = None;
                        return Some(error_line(&ApiError::from(e)));
                    }
                }
            }
        }
    }
}

/// Starts a watch for `req` as the query asks; the stream ends on timeout or shutdown.
pub fn start(
    reg: Registry,
    req: WatchRequest,
    q: &Query,
    shutdown: CancellationToken,
) -> ApiResult<impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static> {
    let timeout = q
        .int("timeoutSeconds")?
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64))
        .unwrap_or(DEFAULT_TIMEOUT);
    let bookmarks = q.flag("allowWatchBookmarks");
    let rv = q.get("resourceVersion").unwrap_or_default().to_owned();
    let send_initial = q.flag("sendInitialEvents");
    let mut state = State {
        reg: reg.clone(),
        req,
        watcher: None,
        queued: VecDeque::new(),
        headers_sent: false,
        bookmarks,
        next_bookmark: Instant::now() + BOOKMARK_EVERY,
        deadline: Instant::now() + timeout,
        last_rev: 0,
        shutdown,
    };
    let prefix = crate::object::prefix(state.req.resource, state.req.namespace.as_deref());
    let from = if rv.is_empty() || rv == "0" || send_initial {
        // Synthetic ADDED events for the current state, then changes after it.
        let mut page_q = q.clone_without_paging();
        page_q.remove("resourceVersion");
        let page = reg.list(
            state.req.resource,
            state.req.namespace.as_deref(),
            &page_q,
            &state.req.filter,
        )?;
        for kv in &page.items {
            let b = state.encode("ADDED", &kv.value, kv.mod_revision, None)?;
            state.queued.push_back(b);
        }
        state.last_rev = page.revision;
        if send_initial && bookmarks {
            let b = state.bookmark(true);
            state.queued.push_back(b);
        }
        page.revision
    } else {
        rv.parse::<u64>()
            .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))?
    };
    state.last_rev = state.last_rev.max(from);
    match reg.store().watch(&prefix, from) {
        Ok(w) => state.watcher = Some(w),
        Err(e) => state.queued.push_back(error_line(&ApiError::from(e))),
    }
    Ok(futures::stream::unfold(state, |mut s| async move {
        s.next().await.map(|b| (Ok(b), s))
    }))
}
