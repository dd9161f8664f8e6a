//! The managedFields of a create without the general diff: the manager's Update entry owns
//! every field of the object as created, so its FieldsV1 is built in one walk of the object
//! (against the kind's tiny [`super::empty_object`]), with the same list keys, atomic
//! lists and maps as [`super::walk::compare`], the same stripped and reset fields as
//! [`super::record_update`], and the same JSON (key order included).

use super::path::{PathElement, values_equal};
use super::ty::{Kind, ListKind, Ty};
use super::walk::{key_items, list_like, map_like};
use super::{Operation, Request, empty_object};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Nesting beyond which a subtree is one leaf (as the diff's).
const MAX_DEPTH: usize = 100;

/// The fields `stripmeta.go` drops from `metadata`.
const STRIPPED_META: [&str; 9] = [
    "f:name",
    "f:namespace",
    "f:creationTimestamp",
    "f:selfLink",
    "f:uid",
    "f:clusterName",
    "f:generation",
    "f:managedFields",
    "f:resourceVersion",
];

/// The managedFields a create of `obj` by `req.manager` stores when the body brings no
/// entries: exactly `encode(&record_update(req, &empty_object(r), obj, &[]))`, or `None`
/// when the manager would own nothing.
pub fn record_create(req: &Request<'_>, obj: &Value) -> Option<Value> {
    let fields = create_fields(req, obj)?;
    let mut m = Map::new();
    m.insert("manager".into(), json!(req.manager));
    m.insert("operation".into(), json!(Operation::Update.as_str()));
    m.insert("apiVersion".into(), json!(req.resource.api_version()));
    m.insert("time".into(), json!(req.time));
    m.insert("fieldsType".into(), json!("FieldsV1"));
    m.insert("fieldsV1".into(), Value::Object(fields));
    if let Some(s) = req.subresource {
        m.insert("subresource".into(), json!(s));
    }
    Some(Value::Array(vec![Value::Object(m)]))
}

/// The FieldsV1 of the fields a create of `obj` gives `req.manager`; `None` if none.
pub fn create_fields(req: &Request<'_>, obj: &Value) -> Option<Map<String, Value>> {
    let ty = Ty::root(req.resource);
    let empty = empty_object(req.resource);
    // The root itself is never a path; its managedFields are never compared.
    let (_, mut top) = node(ty, Some(&empty), obj, 0, true)?;
    // The strategy's reset fields (`GetResetFields`).
    if req.resource.subresource("status").is_some() {
        let reset = if req.subresource == Some("status") {
            "f:spec"
        } else {
            "f:status"
        };
        top.remove(reset);
    }
    // `stripmeta.go`: apiVersion, kind, metadata itself and its server-set fields.
    strip_member(&mut top, "f:apiVersion");
    strip_member(&mut top, "f:kind");
    if let Some(Value::Object(meta)) = top.get_mut("f:metadata") {
        for k in STRIPPED_META {
            strip_member(meta, k);
        }
    }
    strip_member(&mut top, "f:metadata");
    (!top.is_empty()).then_some(top)
}

/// Takes away `key`'s own membership (its children stay); drops it if nothing is left.
fn strip_member(m: &mut Map<String, Value>, key: &str) {
    if let Some(Value::Object(n)) = m.get_mut(key) {
        n.shift_remove(".");
        if n.is_empty() {
            m.shift_remove(key);
        }
    }
}

/// The FieldsV1 value of a node: `{}` for a member leaf, `.` first for a member parent.
fn fields_value(member: bool, children: Map<String, Value>) -> Option<Value> {
    match (member, children.is_empty()) {
        (false, true) => None,
        (true, true) => Some(Value::Object(Map::new())),
        (false, false) => Some(Value::Object(children)),
        (true, false) => {
            let mut m = Map::with_capacity(children.len() + 1);
            m.insert(".".into(), Value::Object(Map::new()));
            m.extend(children);
            Some(Value::Object(m))
        }
    }
}

/// `lhs` (the empty object's part, if any) against `rhs`: whether the node is added or
/// modified, and its children's entries; `None` if nothing below changed. `root` skips
/// `metadata.managedFields` (never compared).
fn node(
    ty: Ty<'_>,
    lhs: Option<&Value>,
    rhs: &Value,
    depth: usize,
    root: bool,
) -> Option<(bool, Map<String, Value>)> {
    let leaf = || match lhs {
        None => Some((true, Map::new())),
        Some(l) if !values_equal(l, rhs) => Some((true, Map::new())),
        Some(_) => None,
    };
    if depth > MAX_DEPTH {
        return leaf();
    }
    let children = match ty.kind(Some(rhs)) {
        Kind::Map { atomic: false } => match (map_like(lhs), map_like(Some(rhs))) {
            (Some(l), Some(r)) if !(l.is_none_or(Map::is_empty) && r.is_none_or(Map::is_empty)) => {
                Some(map_children(ty, l, r, depth, root))
            }
            _ => None,
        },
        Kind::List(kind @ (ListKind::Set | ListKind::Map(_))) => {
            match (list_like(lhs), list_like(Some(rhs))) {
                (Some(l), Some(r)) if !(l.is_empty() && r.is_empty()) => {
                    list_children(ty, &kind, l, r, depth)
                }
                _ => None,
            }
        }
        _ => None,
    };
    match children {
        None => leaf(),
        Some(c) => {
            let member = lhs.is_none();
            (member || !c.is_empty()).then_some((member, c))
        }
    }
}

fn map_children(
    ty: Ty<'_>,
    l: Option<&Map<String, Value>>,
    r: Option<&Map<String, Value>>,
    depth: usize,
    root: bool,
) -> Map<String, Value> {
    let Some(r) = r else {
        return Map::new();
    };
    let mut keys: Vec<&String> = r.keys().collect();
    keys.sort_unstable();
    let mut out = Map::with_capacity(keys.len());
    for k in keys {
        let rv = &r[k.as_str()];
        let lv = l.and_then(|m| m.get(k));
        // Only the root's `metadata` is looked into for managedFields (no hash lookup in
        // every other map of the object).
        let child = if root && k == "metadata" && rv.get("managedFields").is_some() {
            let mut meta = rv.clone();
            if let Some(m) = meta.as_object_mut() {
                m.shift_remove("managedFields");
            }
            node(ty.field(k), lv, &meta, depth + 1, false)
        } else {
            node(ty.field(k), lv, rv, depth + 1, false)
        };
        if let Some(v) = child.and_then(|(member, c)| fields_value(member, c)) {
            // Not `format!`: one create builds a key for every field it sets.
            let mut key = String::with_capacity(k.len() + 2);
            key.push_str("f:");
            key.push_str(k);
            out.insert(key, v);
        }
    }
    out
}

/// A granular list's items, keyed as the diff keys them; `None` if they cannot be keyed
/// (the list is then a leaf).
fn list_children(
    ty: Ty<'_>,
    kind: &ListKind<'_>,
    l: &[Value],
    r: &[Value],
    depth: usize,
) -> Option<Map<String, Value>> {
    let item_ty = ty.items();
    let lk = key_items(kind, &item_ty, l).ok()?;
    let rk = key_items(kind, &item_ty, r).ok()?;
    let mut lv: BTreeMap<&PathElement, Vec<&Value>> = BTreeMap::new();
    for (pe, v) in &lk {
        lv.entry(pe).or_default().push(v);
    }
    let mut rv: BTreeMap<&PathElement, Vec<&Value>> = BTreeMap::new();
    for (pe, v) in &rk {
        rv.entry(pe).or_default().push(v);
    }
    let mut out = Map::with_capacity(rv.len());
    for (pe, rs) in rv {
        let ls = lv.get(pe).map(Vec::as_slice).unwrap_or_default();
        let changed = match (ls.len(), rs.len()) {
            (0..=1, 1) => node(item_ty, ls.first().copied(), rs[0], depth + 1, false),
            (2.., 2..) => {
                let same =
                    ls.len() == rs.len() && ls.iter().zip(&rs).all(|(a, b)| values_equal(a, b));
                (!same).then(|| (true, Map::new()))
            }
            (2.., _) => node(item_ty, None, rs[0], depth + 1, false),
            _ => Some((true, Map::new())),
        };
        if let Some(v) = changed.and_then(|(member, c)| fields_value(member, c)) {
            out.insert(pe.to_fields_key(), v);
        }
    }
    Some(out)
}
