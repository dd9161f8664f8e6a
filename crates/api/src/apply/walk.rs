//! The typed walks of structured-merge-diff over JSON values: the field set of an object
//! (`ToFieldSet`), the comparison of two objects (`Compare`: added, modified, removed
//! fields), the merge of an applied configuration into an object (`Merge`, the right side
//! wins at leaves), the removal of a set of fields (`RemoveItems`) and
//! `EnsureNamedFieldsAreMembers`. Values that do not fit their schema are leaves.

use super::path::{PathElement, path_string, values_equal};
use super::set::FieldSet;
use super::ty::{Kind, ListKind, Ty};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Nesting beyond which a subtree is handled as one leaf.
const MAX_DEPTH: usize = 100;

/// What changed between two objects.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    /// Fields only on the right.
    pub added: FieldSet,
    /// Fields on both sides with different values.
    pub modified: FieldSet,
    /// Fields only on the left.
    pub removed: FieldSet,
}

/// The path element of one list item.
fn item_pe(kind: &ListKind<'_>, item_ty: &Ty<'_>, item: &Value) -> Result<PathElement, String> {
    match kind {
        ListKind::Map(keys) => {
            let m = match item {
                Value::Object(m) => m,
                Value::Null => {
                    return Err("associative list with keys may not have a null element".into());
                }
                _ => {
                    return Err("associative list with keys may not have non-map elements".into());
                }
            };
            let mut fields = Vec::with_capacity(keys.len());
            for k in keys.iter() {
                let v = match m.get(*k) {
                    Some(v) => v.clone(),
                    None => item_ty.key_default(k).ok_or_else(|| {
                        format!("associative list with keys has an element that omits key field {k:?} (and doesn't have default value)")
                    })?,
                };
                fields.push(((*k).to_owned(), v));
            }
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(PathElement::Key(fields))
        }
        ListKind::Set => match item {
            Value::Object(_) => {
                Err("associative list without keys has an element that's a map type".into())
            }
            Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
            Value::Null => {
                Err("associative list without keys has an element that's an explicit null".into())
            }
            v => Ok(PathElement::Value(v.clone())),
        },
        ListKind::Atomic => Err("invalid indexing of non-associative list".into()),
    }
}

/// The path elements of a granular list's items, or the first item that has none.
pub(super) fn key_items<'v>(
    kind: &ListKind<'_>,
    item_ty: &Ty<'_>,
    items: &'v [Value],
) -> Result<Vec<(PathElement, &'v Value)>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            item_pe(kind, item_ty, v)
                .map(|pe| (pe, v))
                .map_err(|e| format!("element {i}: {e}"))
        })
        .collect()
}

fn counts(keyed: &[(PathElement, &Value)]) -> BTreeMap<PathElement, usize> {
    let mut m = BTreeMap::new();
    for (pe, _) in keyed {
        *m.entry(pe.clone()).or_insert(0) += 1;
    }
    m
}

/// The fields present in `v`. `strict` (an applied configuration) refuses list items
/// without keys and duplicate keys; otherwise such lists count as one leaf.
pub(crate) fn field_set(ty: Ty<'_>, v: &Value, strict: bool) -> Result<FieldSet, String> {
    let mut out = FieldSet::new();
    let mut path = Vec::new();
    fs_walk(ty, v, strict, &mut path, &mut out, 0)?;
    Ok(out)
}

fn fs_walk(
    ty: Ty<'_>,
    v: &Value,
    strict: bool,
    path: &mut Vec<PathElement>,
    out: &mut FieldSet,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        out.insert(path);
        return Ok(());
    }
    match (ty.kind(Some(v)), v) {
        (Kind::Map { atomic: false }, Value::Object(m)) => {
            for (k, child) in m {
                path.push(PathElement::Field(k.clone()));
                fs_walk(ty.field(k), child, strict, path, out, depth + 1)?;
                let empty = matches!(child, Value::Object(c) if c.is_empty());
                if child.is_null() || empty || !ty.is_named_field(k) {
                    out.insert(path);
                }
                path.pop();
            }
        }
        (Kind::List(kind @ (ListKind::Set | ListKind::Map(_))), Value::Array(items)) => {
            let item_ty = ty.items();
            match key_items(&kind, &item_ty, items) {
                Ok(keyed) => {
                    let n = counts(&keyed);
                    for (pe, item) in &keyed {
                        if n.get(pe).copied().unwrap_or(0) > 1 {
                            if strict {
                                return Err(format!(
                                    "{}: duplicate entries for key {pe}",
                                    path_string(path)
                                ));
                            }
                            path.push(pe.clone());
                            out.insert(path);
                            path.pop();
                            continue;
                        }
                        path.push(pe.clone());
                        fs_walk(item_ty, item, strict, path, out, depth + 1)?;
                        out.insert(path);
                        path.pop();
                    }
                }
                Err(e) if strict => return Err(format!("{}: {e}", path_string(path))),
                Err(_) => out.insert(path),
            }
        }
        _ => out.insert(path),
    }
    Ok(())
}

pub(super) fn map_like(v: Option<&Value>) -> Option<Option<&Map<String, Value>>> {
    match v {
        None | Some(Value::Null) => Some(None),
        Some(Value::Object(m)) => Some(Some(m)),
        _ => None,
    }
}

pub(super) fn list_like(v: Option<&Value>) -> Option<&[Value]> {
    match v {
        None | Some(Value::Null) => Some(&[]),
        Some(Value::Array(a)) => Some(a),
        _ => None,
    }
}

/// Compares `lhs` (before) with `rhs` (after). `metadata.managedFields` is not compared (it
/// is never a tracked field: the field manager strips it before comparing), so callers
/// need not copy an object to drop it.
pub(crate) fn compare(ty: Ty<'_>, lhs: &Value, rhs: &Value) -> Comparison {
    let mut c = Comparison::default();
    let mut path = Vec::new();
    cmp_walk(ty, Some(lhs), Some(rhs), &mut path, &mut c, 0);
    c
}

fn cmp_leaf(lhs: Option<&Value>, rhs: Option<&Value>, path: &[PathElement], c: &mut Comparison) {
    match (lhs, rhs) {
        (None, Some(_)) => c.added.insert(path),
        (Some(_), None) => c.removed.insert(path),
        (Some(l), Some(r)) if !values_equal(l, r) => c.modified.insert(path),
        _ => {}
    }
}

fn cmp_walk(
    ty: Ty<'_>,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        cmp_leaf(lhs, rhs, path, c);
        return;
    }
    // An unchanged subtree (most of an object in an update: the whole spec in a status
    // write) has nothing to report; its walk would only build and drop paths. Not at the
    // root, which always differs somewhere.
    if depth > 0
        && let (Some(l), Some(r)) = (lhs, rhs)
        && l == r
    {
        return;
    }
    let descended = match ty.kind(rhs.or(lhs)) {
        Kind::Map { atomic: false } => match (map_like(lhs), map_like(rhs)) {
            (Some(l), Some(r)) if !(l.is_none_or(Map::is_empty) && r.is_none_or(Map::is_empty)) => {
                let mut keys: Vec<&String> = l.map(|m| m.keys().collect()).unwrap_or_default();
                for k in r.into_iter().flat_map(Map::keys) {
                    if !l.is_some_and(|m| m.contains_key(k)) {
                        keys.push(k);
                    }
                }
                for k in keys {
                    if depth == 1 && k == "managedFields" && is_metadata(path) {
                        continue;
                    }
                    path.push(PathElement::Field(k.clone()));
                    let (lv, rv) = (l.and_then(|m| m.get(k)), r.and_then(|m| m.get(k)));
                    cmp_walk(ty.field(k), lv, rv, path, c, depth + 1);
                    path.pop();
                }
                true
            }
            _ => false,
        },
        Kind::List(kind @ (ListKind::Set | ListKind::Map(_))) => {
            match (list_like(lhs), list_like(rhs)) {
                (Some(l), Some(r)) if !(l.is_empty() && r.is_empty()) => {
                    cmp_list(ty, &kind, l, r, path, c, depth)
                }
                _ => false,
            }
        }
        _ => false,
    };
    if !descended {
        cmp_leaf(lhs, rhs, path, c);
    } else if lhs.is_none() {
        c.added.insert(path);
    } else if rhs.is_none() {
        c.removed.insert(path);
    }
}

/// Whether `path` is the object's `metadata`.
fn is_metadata(path: &[PathElement]) -> bool {
    matches!(path, [PathElement::Field(f)] if f == "metadata")
}

/// Compares two granular lists item by item; `false` if their items cannot be keyed.
fn cmp_list(
    ty: Ty<'_>,
    kind: &ListKind<'_>,
    l: &[Value],
    r: &[Value],
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
    depth: usize,
) -> bool {
    let item_ty = ty.items();
    let (Ok(lk), Ok(rk)) = (key_items(kind, &item_ty, l), key_items(kind, &item_ty, r)) else {
        return false;
    };
    let mut order: Vec<&PathElement> = Vec::new();
    let mut lv: BTreeMap<&PathElement, Vec<&Value>> = BTreeMap::new();
    let mut rv: BTreeMap<&PathElement, Vec<&Value>> = BTreeMap::new();
    for (pe, v) in &lk {
        let e = lv.entry(pe).or_default();
        if e.is_empty() {
            order.push(pe);
        }
        e.push(v);
    }
    for (pe, v) in &rk {
        let e = rv.entry(pe).or_default();
        if e.is_empty() && !lv.contains_key(pe) {
            order.push(pe);
        }
        e.push(v);
    }
    for pe in order {
        let ls = lv.get(pe).map(Vec::as_slice).unwrap_or_default();
        let rs = rv.get(pe).map(Vec::as_slice).unwrap_or_default();
        path.push(pe.clone());
        match (ls.len(), rs.len()) {
            (0..=1, 0..=1) => {
                let (l1, r1) = (ls.first().copied(), rs.first().copied());
                cmp_walk(item_ty, l1, r1, path, c, depth + 1);
            }
            (2.., 2..) => {
                let same =
                    ls.len() == rs.len() && ls.iter().zip(rs).all(|(a, b)| values_equal(a, b));
                if !same {
                    c.modified.insert(path);
                }
            }
            (2.., _) => {
                if let Some(first) = rs.first() {
                    cmp_walk(item_ty, None, Some(first), path, c, depth + 1);
                }
                c.removed.insert(path);
            }
            (_, _) => {
                if let Some(first) = ls.first() {
                    cmp_walk(item_ty, Some(first), None, path, c, depth + 1);
                }
                c.added.insert(path);
            }
        }
        path.pop();
    }
    true
}

/// Merges `rhs` (an applied configuration) into `lhs` (the live object).
pub(crate) fn merge(ty: Ty<'_>, lhs: &Value, rhs: &Value) -> Value {
    merge_walk(ty, lhs, rhs, 0)
}

fn merge_walk(ty: Ty<'_>, l: &Value, r: &Value, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return r.clone();
    }
    match ty.kind(Some(r)) {
        Kind::Map { atomic: false } => match (l, r) {
            (Value::Object(lm), Value::Object(rm)) if !(lm.is_empty() && rm.is_empty()) => {
                let mut out = Map::new();
                for (k, lv) in lm {
                    let v = match rm.get(k) {
                        Some(rv) => merge_walk(ty.field(k), lv, rv, depth + 1),
                        None => lv.clone(),
                    };
                    out.insert(k.clone(), v);
                }
                for (k, rv) in rm {
                    if !lm.contains_key(k) {
                        out.insert(k.clone(), rv.clone());
                    }
                }
                Value::Object(out)
            }
            (Value::Object(lm), Value::Null) if !lm.is_empty() => l.clone(),
            _ => r.clone(),
        },
        Kind::List(kind @ (ListKind::Set | ListKind::Map(_))) => match (l, r) {
            (Value::Array(la), Value::Array(ra)) if !(la.is_empty() && ra.is_empty()) => {
                merge_list(ty, &kind, la, ra, depth).unwrap_or_else(|| r.clone())
            }
            (Value::Array(la), Value::Null) if !la.is_empty() => l.clone(),
            _ => r.clone(),
        },
        _ => r.clone(),
    }
}

/// Merges two granular lists keeping the live order and placing new items as
/// structured-merge-diff does; `None` if the items cannot be keyed.
fn merge_list(
    ty: Ty<'_>,
    kind: &ListKind<'_>,
    la: &[Value],
    ra: &[Value],
    depth: usize,
) -> Option<Value> {
    let item_ty = ty.items();
    let lk = key_items(kind, &item_ty, la).ok()?;
    let rk = key_items(kind, &item_ty, ra).ok()?;
    let mut observed_r: BTreeMap<&PathElement, &Value> = BTreeMap::new();
    for (pe, v) in &rk {
        if observed_r.insert(pe, v).is_some() {
            return None;
        }
    }
    // A live duplicate merges as null (it is replaced by the configuration's item).
    let mut observed_l: BTreeMap<&PathElement, &Value> = BTreeMap::new();
    for (pe, v) in &lk {
        if observed_l.insert(pe, v).is_some() {
            observed_l.insert(pe, &Value::Null);
        }
    }
    let mut shared = rk
        .iter()
        .map(|(pe, _)| pe)
        .filter(|pe| observed_l.contains_key(pe));
    let mut next_shared = shared.next();
    let mut merged_r: Vec<&PathElement> = Vec::new();
    let mut out = Vec::with_capacity(la.len().max(ra.len()));
    let item = |l: Option<&Value>, r: &Value| match l {
        Some(l) => merge_walk(item_ty, l, r, depth + 1),
        None => r.clone(),
    };
    let (mut li, mut ri) = (0, 0);
    while li < lk.len() || ri < rk.len() {
        if li < lk.len() && ri < rk.len() {
            let pe = &lk[li].0;
            if *pe == rk[ri].0 {
                merged_r.push(pe);
                out.push(item(observed_l.get(pe).copied(), rk[ri].1));
                li += 1;
                ri += 1;
                next_shared = shared.next();
                continue;
            }
            if observed_r.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lk.len() {
            let pe = &lk[li].0;
            if !observed_r.contains_key(pe) {
                out.push(lk[li].1.clone());
                li += 1;
                continue;
            } else if merged_r.contains(&pe) {
                li += 1;
            }
        }
        if ri < rk.len() {
            let pe = &rk[ri].0;
            merged_r.push(pe);
            out.push(item(observed_l.get(pe).copied(), rk[ri].1));
            ri += 1;
            if next_shared == Some(pe) {
                next_shared = shared.next();
            }
        }
    }
    Some(Value::Array(out))
}

/// `v` without the fields of `set` (a member removes its whole subtree).
pub(crate) fn remove_items(ty: Ty<'_>, v: &Value, set: &FieldSet) -> Value {
    remove_walk(ty, v, set, 0)
}

fn remove_walk(ty: Ty<'_>, v: &Value, set: &FieldSet, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return v.clone();
    }
    match (ty.kind(Some(v)), v) {
        (Kind::Map { atomic: false }, Value::Object(m)) if !m.is_empty() => {
            let mut out = Map::new();
            for (k, child) in m {
                let pe = PathElement::Field(k.clone());
                if set.has_member(&pe) {
                    continue;
                }
                let nv = match set.with_prefix(&pe) {
                    Some(sub) => remove_walk(ty.field(k), child, sub, depth + 1),
                    None => child.clone(),
                };
                out.insert(k.clone(), nv);
            }
            if out.is_empty() {
                Value::Null
            } else {
                Value::Object(out)
            }
        }
        (Kind::List(kind @ (ListKind::Set | ListKind::Map(_))), Value::Array(items))
            if !items.is_empty() =>
        {
            let item_ty = ty.items();
            let Ok(keyed) = key_items(&kind, &item_ty, items) else {
                return v.clone();
            };
            let mut out = Vec::new();
            for (pe, item) in keyed {
                if set.has_member(&pe) {
                    continue;
                }
                match set.with_prefix(&pe) {
                    Some(sub) => out.push(remove_walk(item_ty, item, sub, depth + 1)),
                    None => out.push(item.clone()),
                }
            }
            if out.is_empty() {
                Value::Null
            } else {
                Value::Array(out)
            }
        }
        _ => v.clone(),
    }
}

/// The set with every declared struct field that has children also a member, so that
/// removing it removes the whole struct.
pub(crate) fn ensure_named(ty: Ty<'_>, set: &FieldSet) -> FieldSet {
    ensure_walk(ty, set, 0)
}

fn ensure_walk(ty: Ty<'_>, set: &FieldSet, depth: usize) -> FieldSet {
    let mut out = FieldSet::new();
    for (pe, member, children) in set.iter() {
        let (child_ty, named) = match pe {
            PathElement::Field(n) => (ty.field(n), ty.is_named_field(n)),
            PathElement::Key(_) => (ty.items(), false),
            _ => (Ty::UNKNOWN, false),
        };
        let c = if depth > MAX_DEPTH {
            children.clone()
        } else {
            ensure_walk(child_ty, children, depth + 1)
        };
        out.insert_node(pe.clone(), member || named, c);
    }
    out
}
