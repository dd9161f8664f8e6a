//! Server-side printing: `meta.k8s.io/v1` Table responses built from the `api` crate's
//! columns and cells, for lists, single objects and watch events.

use crate::error::ApiResult;
use crate::request::IncludeObject;
use api::resource::ResourceInfo;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// One Table row for `obj`.
pub fn row(r: &ResourceInfo, obj: &Value, now: Timestamp, include: IncludeObject) -> Value {
    let mut row = Map::new();
    row.insert(
        "cells".into(),
        Value::Array(api::table::row_cells(r.plural, obj, now)),
    );
    if let Some(c) = api::table::row_conditions(r.plural, obj) {
        row.insert("conditions".into(), c);
    }
    match include {
        IncludeObject::Object => {
            row.insert("object".into(), obj.clone());
        }
        IncludeObject::Metadata => {
            row.insert(
                "object".into(),
                json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
                }),
            );
        }
        IncludeObject::None => {}
    }
    Value::Object(row)
}

/// A Table of `objs`, with column definitions unless `headers` is false (watch events after
/// the first carry none, as the real server sends them).
pub fn table(
    r: &ResourceInfo,
    objs: &[Value],
    now: Timestamp,
    include: IncludeObject,
    metadata: Value,
    headers: bool,
) -> ApiResult<Value> {
    let columns = if headers {
        serde_json::to_value(api::table::column_definitions(r.plural))
            .map_err(|e| crate::error::ApiError::Internal(e.to_string()))?
    } else {
        Value::Null
    };
    Ok(json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": objs.iter().map(|o| row(r, o, now, include)).collect::<Vec<_>>(),
    }))
}

/// The metadata fields the printers read; the rest of `metadata` is copied into the row's
/// object without being parsed.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrintedMeta {
    name: Option<Value>,
    creation_timestamp: Option<Value>,
    deletion_timestamp: Option<Value>,
    labels: Option<Value>,
}

/// Parses a stored object for printing: every top-level field but `metadata` as a value,
/// `metadata` only for the fields the printers read, plus its raw text.
fn parse_for_printing(
    stored: &[u8],
) -> serde_json::Result<(Value, Option<&serde_json::value::RawValue>)> {
    let top: Vec<(String, &serde_json::value::RawValue)> = serde_json::from_slice::<
        std::collections::BTreeMap<String, &serde_json::value::RawValue>,
    >(stored)?
    .into_iter()
    .collect();
    let mut obj = Map::new();
    let mut raw_meta = None;
    for (k, raw) in top {
        if k == "metadata" {
            let m: PrintedMeta = serde_json::from_str(raw.get())?;
            let mut light = Map::new();
            for (name, v) in [
                ("name", m.name),
                ("creationTimestamp", m.creation_timestamp),
                ("deletionTimestamp", m.deletion_timestamp),
                ("labels", m.labels),
            ] {
                if let Some(v) = v {
                    light.insert(name.into(), v);
                }
            }
            obj.insert(k, Value::Object(light));
            raw_meta = Some(raw);
        } else {
            obj.insert(k, serde_json::from_str(raw.get())?);
        }
    }
    Ok((Value::Object(obj), raw_meta))
}

/// Below this many rows a list Table is written on one thread.
const PARALLEL_ROWS: usize = 1024;

/// Writes a list Table for stored objects straight into `out`, one row at a time, so that a
/// LIST of thousands of objects never holds them all parsed at once, and parses of each
/// object only what the printers read. Large lists are split across the machine's cores
/// (BENCHMARKS.md). Blocking: call it off the async workers.
pub fn write_list(
    out: &mut Vec<u8>,
    r: &ResourceInfo,
    items: &[store::KeyValue],
    now: Timestamp,
    include: IncludeObject,
    metadata: &Value,
) -> ApiResult<()> {
    let err = |e: serde_json::Error| crate::error::ApiError::Internal(e.to_string());
    out.extend_from_slice(b"{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":");
    serde_json::to_writer(&mut *out, metadata).map_err(err)?;
    out.extend_from_slice(b",\"columnDefinitions\":");
    serde_json::to_writer(&mut *out, &api::table::column_definitions(r.plural)).map_err(err)?;
    out.extend_from_slice(b",\"rows\":[");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if items.len() < PARALLEL_ROWS || threads < 2 {
        write_rows(out, r, items, now, include)?;
    } else {
        let chunk = items.len().div_ceil(threads);
        let parts: Vec<ApiResult<Vec<u8>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = items
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        let mut buf = Vec::with_capacity(part.len() * 1024);
                        write_rows(&mut buf, r, part, now, include).map(|()| buf)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(crate::error::ApiError::Internal(
                            "table row writer panicked".into(),
                        ))
                    })
                })
                .collect()
        });
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&part?);
        }
    }
    out.extend_from_slice(b"]}");
    Ok(())
}

/// Writes the rows of `items`, comma-separated.
fn write_rows(
    out: &mut Vec<u8>,
    r: &ResourceInfo,
    items: &[store::KeyValue],
    now: Timestamp,
    include: IncludeObject,
) -> ApiResult<()> {
    let err = |e: serde_json::Error| crate::error::ApiError::Internal(e.to_string());
    for (i, kv) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (obj, raw_meta) = parse_for_printing(&kv.value).map_err(err)?;
        out.extend_from_slice(b"{\"cells\":");
        serde_json::to_writer(&mut *out, &api::table::row_cells(r.plural, &obj, now))
            .map_err(err)?;
        if let Some(c) = api::table::row_conditions(r.plural, &obj) {
            out.extend_from_slice(b",\"conditions\":");
            serde_json::to_writer(&mut *out, &c).map_err(err)?;
        }
        match include {
            IncludeObject::Object => {
                out.extend_from_slice(b",\"object\":");
                out.extend_from_slice(&crate::object::with_revision(&kv.value, kv.mod_revision));
            }
            IncludeObject::Metadata => {
                out.extend_from_slice(
                    b",\"object\":{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",",
                );
                // `"metadata":{...}` with the revision spliced in, as for a full object.
                let raw = raw_meta.map_or("{}", |m| m.get());
                let mut wrapped = Vec::with_capacity(raw.len() + 12);
                wrapped.extend_from_slice(b"\"metadata\":");
                wrapped.extend_from_slice(raw.as_bytes());
                out.extend_from_slice(&crate::object::with_revision(&wrapped, kv.mod_revision));
                out.push(b'}');
            }
            IncludeObject::None => {}
        }
        out.push(b'}');
    }
    Ok(())
}
