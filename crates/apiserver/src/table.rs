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
