//! `metadata.managedFields` for Update operations: which manager last set which fields, in
//! FieldsV1 form (`f:<field>` per map key; lists are recorded whole). Server-side apply's
//! per-field ownership builds on this later.

use serde_json::{Map, Value, json};

/// Fields of `obj` as a FieldsV1 trie, skipping the server-owned metadata.
pub fn fields_of(obj: &Value) -> Value {
    let mut out = trie(obj, 0);
    if let Some(Value::Object(m)) = out.get_mut("f:metadata") {
        for k in [
            "f:name",
            "f:namespace",
            "f:uid",
            "f:resourceVersion",
            "f:generation",
            "f:creationTimestamp",
            "f:managedFields",
            "f:deletionTimestamp",
            "f:deletionGracePeriodSeconds",
        ] {
            m.remove(k);
        }
    }
    if let Value::Object(m) = &mut out {
        m.remove("f:apiVersion");
        m.remove("f:kind");
        if m.get("f:metadata")
            .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
        {
            m.remove("f:metadata");
        }
    }
    out
}

fn trie(v: &Value, depth: usize) -> Value {
    match v {
        Value::Object(map) if depth < 32 => {
            let mut out = Map::new();
            for (k, child) in map {
                out.insert(format!("f:{k}"), trie(child, depth + 1));
            }
            Value::Object(out)
        }
        _ => json!({}),
    }
}

/// The fields that differ between `old` and `new`, as a trie of `new`'s side.
pub fn changed(old: &Value, new: &Value) -> Value {
    diff(old, new, 0).unwrap_or_else(|| json!({}))
}

fn diff(old: &Value, new: &Value, depth: usize) -> Option<Value> {
    if old == new {
        return None;
    }
    match (old, new) {
        (Value::Object(o), Value::Object(n)) if depth < 32 => {
            let mut out = Map::new();
            for (k, nv) in n {
                let d = match o.get(k) {
                    Some(ov) => diff(ov, nv, depth + 1),
                    None => Some(trie(nv, depth + 1)),
                };
                if let Some(d) = d {
                    out.insert(format!("f:{k}"), d);
                }
            }
            Some(Value::Object(out))
        }
        _ => Some(trie(new, depth + 1)),
    }
}

/// Merges trie `b` into trie `a`.
pub fn merge(a: &mut Value, b: &Value) {
    if let (Value::Object(am), Value::Object(bm)) = (a, b) {
        for (k, bv) in bm {
            match am.get_mut(k) {
                Some(av) => merge(av, bv),
                None => {
                    am.insert(k.clone(), bv.clone());
                }
            }
        }
    }
}

/// Records that `manager` updated `fields` (through `subresource`, if any) at `time`.
pub fn record_update(
    entries: &mut Vec<Value>,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
    time: &str,
    fields: &Value,
) {
    if fields.as_object().is_some_and(Map::is_empty) {
        return;
    }
    let same = |e: &Value| {
        e["manager"] == manager
            && e["operation"] == "Update"
            && e.get("subresource").and_then(Value::as_str) == subresource
    };
    if let Some(e) = entries.iter_mut().find(|e| same(e)) {
        let mut f = e.get("fieldsV1").cloned().unwrap_or_else(|| json!({}));
        merge(&mut f, fields);
        e["fieldsV1"] = f;
        e["time"] = json!(time);
        e["apiVersion"] = json!(api_version);
        return;
    }
    let mut e = json!({
        "manager": manager,
        "operation": "Update",
        "apiVersion": api_version,
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    });
    if let Some(s) = subresource {
        e["subresource"] = json!(s);
    }
    entries.push(e);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_changes() {
        let obj = json!({"apiVersion": "batch/v1", "metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}});
        let f = fields_of(&obj);
        assert_eq!(
            f,
            json!({"f:metadata": {"f:labels": {"f:x": {}}}, "f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}})
        );
        let mut new = obj.clone();
        new["metadata"]["labels"]["x"] = json!("2");
        assert_eq!(
            changed(&obj, &new),
            json!({"f:metadata": {"f:labels": {"f:x": {}}}})
        );
    }
}
