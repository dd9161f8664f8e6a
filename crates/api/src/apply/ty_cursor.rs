//! The reference for [`super::ty`]'s compiled schema (tests only): the cursor over the
//! OpenAPI v3 components that apply used before, which asks the JSON schemas at every node;
//! `ty`'s tests check that the compiled answers equal its answers on every reachable node.

use crate::resource::ResourceInfo;
use serde_json::{Map, Value};

/// List-map key fields with a schema default, used when an item omits them
/// (`+default="TCP"` on `ContainerPort.protocol`).
const KEY_DEFAULTS: &[(&str, &str, &str)] =
    &[("io.k8s.api.core.v1.ContainerPort", "protocol", "TCP")];

/// A position in the schemas.
#[derive(Clone, Copy)]
pub(crate) struct Cursor<'a> {
    defs: Option<&'a Map<String, Value>>,
    /// The property or items node as written (may carry list or map extensions).
    outer: Option<&'a Value>,
    /// `outer` with `$ref`s and single `allOf`s resolved.
    node: Option<&'a Value>,
    name: &'a str,
}

/// How a list's items are identified.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ListKind<'a> {
    /// Replaced as a whole.
    Atomic,
    /// Scalars identified by value.
    Set,
    /// Maps identified by these key fields.
    Map(Vec<&'a str>),
}

/// What a node is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind<'a> {
    /// A leaf.
    Scalar,
    /// A struct or a map; `atomic` ones are leaves.
    Map { atomic: bool },
    /// A list.
    List(ListKind<'a>),
}

fn ext<'v>(n: Option<&'v Value>, k: &str) -> Option<&'v str> {
    n.and_then(|n| n.get(k)).and_then(Value::as_str)
}

impl<'a> Cursor<'a> {
    /// No schema: everything is deduced.
    pub(crate) const UNKNOWN: Cursor<'static> = Cursor {
        defs: None,
        outer: None,
        node: None,
        name: "",
    };

    /// The schema of `r`'s kind.
    pub(crate) fn root(r: &ResourceInfo) -> Cursor<'static> {
        let Some(defs) = crate::schema::components(r) else {
            return Cursor::UNKNOWN;
        };
        let name = crate::schema::schema_name(r);
        match defs.get_key_value(name.as_str()) {
            Some((n, node)) => Cursor {
                defs: Some(defs),
                outer: Some(node),
                node: Some(node),
                name: n.as_str(),
            },
            None => Cursor::UNKNOWN,
        }
    }

    fn at(&self, outer: &'a Value) -> Cursor<'a> {
        let (name, s) = crate::schema::resolve_named(self.defs, outer);
        Cursor {
            defs: self.defs,
            outer: Some(outer),
            node: Some(s),
            name,
        }
    }

    /// What this node is, deducing from `v` where the schema says nothing.
    pub(crate) fn kind(&self, v: Option<&Value>) -> Kind<'a> {
        let Some(node) = self.node else {
            return deduced(v);
        };
        if node.get("x-kubernetes-int-or-string").is_some() {
            return Kind::Scalar;
        }
        let atomic_map = ext(self.outer, "x-kubernetes-map-type") == Some("atomic")
            || ext(Some(node), "x-kubernetes-map-type") == Some("atomic");
        if node.get("properties").is_some() || node.get("additionalProperties").is_some() {
            return Kind::Map { atomic: atomic_map };
        }
        match node.get("type").and_then(Value::as_str) {
            Some("array") => Kind::List(self.list_kind(node)),
            Some("string" | "integer" | "number" | "boolean") => Kind::Scalar,
            _ => deduced(v),
        }
    }

    fn list_kind(&self, node: &'a Value) -> ListKind<'a> {
        let outer = self.outer.unwrap_or(node);
        match ext(Some(outer), "x-kubernetes-list-type") {
            Some("set") => return ListKind::Set,
            Some("map") => {
                let keys: Vec<&str> = outer
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                return if keys.is_empty() {
                    ListKind::Atomic
                } else {
                    ListKind::Map(keys)
                };
            }
            Some(_) => return ListKind::Atomic,
            None => {}
        }
        let strategy = ext(Some(outer), "x-kubernetes-patch-strategy").unwrap_or("");
        if strategy.split(',').any(|s| s == "merge") {
            return match ext(Some(outer), "x-kubernetes-patch-merge-key") {
                Some(k) => ListKind::Map(vec![k]),
                None => ListKind::Set,
            };
        }
        ListKind::Atomic
    }

    /// The schema of field or map entry `key`.
    pub(crate) fn field(&self, key: &str) -> Cursor<'a> {
        let Some(node) = self.node else {
            return Cursor::UNKNOWN;
        };
        if let Some(p) = node.get("properties").and_then(|p| p.get(key)) {
            return self.at(p);
        }
        match node.get("additionalProperties").filter(|a| a.is_object()) {
            Some(ap) => self.at(ap),
            None => Cursor::UNKNOWN,
        }
    }

    /// Whether `key` is a declared struct field (not a map entry).
    pub(crate) fn is_named_field(&self, key: &str) -> bool {
        self.node
            .and_then(|n| n.get("properties"))
            .and_then(|p| p.get(key))
            .is_some()
    }

    /// The schema of the list's items.
    pub(crate) fn items(&self) -> Cursor<'a> {
        match self.node.and_then(|n| n.get("items")) {
            Some(i) => self.at(i),
            None => Cursor::UNKNOWN,
        }
    }

    /// The default of key field `key` of this (item) schema, if it has one.
    pub(crate) fn key_default(&self, key: &str) -> Option<Value> {
        if let Some(d) = self
            .node
            .and_then(|n| n.get("properties"))
            .and_then(|p| p.get(key))
            .and_then(|p| p.get("default"))
        {
            return Some(d.clone());
        }
        KEY_DEFAULTS
            .iter()
            .find(|(s, f, _)| *s == self.name && *f == key)
            .map(|(_, _, d)| Value::String((*d).to_owned()))
    }
}

/// The deduced kind of an untyped value.
fn deduced<'a>(v: Option<&Value>) -> Kind<'a> {
    match v {
        Some(Value::Object(_)) => Kind::Map { atomic: false },
        Some(Value::Array(_)) => Kind::List(ListKind::Atomic),
        _ => Kind::Scalar,
    }
}

#[cfg(test)]
mod tests {
    use super::Cursor;
    use crate::apply::ty::Ty;
    use crate::resource::RESOURCES;
    use serde_json::{Value, json};
    use std::collections::HashSet;

    /// The compiled schema answers every question as the cursor over the JSON schemas does,
    /// on every node reachable from every served resource's root.
    #[test]
    fn the_compiled_schema_answers_as_the_json_schemas() {
        let samples = [json!({}), json!([]), json!("s"), json!(1), Value::Null];
        let mut visited = HashSet::new();
        let mut checked = 0usize;
        for r in RESOURCES {
            let mut stack = vec![(Ty::root(r), Cursor::root(r), r.kind.to_owned())];
            while let Some((ty, cur, path)) = stack.pop() {
                let mut probes = vec![None];
                probes.extend(samples.iter().map(Some));
                for v in probes {
                    assert_eq!(
                        format!("{:?}", ty.kind(v)),
                        format!("{:?}", cur.kind(v)),
                        "{path}: kind of {v:?}"
                    );
                }
                let props: Vec<&str> = cur
                    .node
                    .and_then(|n| n.get("properties"))
                    .and_then(Value::as_object)
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let mut want = props.clone();
                want.sort_unstable();
                assert_eq!(ty.field_names(), want, "{path}: fields");
                checked += 1;
                // Only nodes not seen before are descended into (schemas are recursive).
                let fresh = cur
                    .outer
                    .is_some_and(|o| visited.insert((std::ptr::from_ref(o), r.group, r.version)));
                if !fresh {
                    continue;
                }
                for k in props.iter().copied().chain(["no-such-field", "protocol"]) {
                    assert_eq!(
                        ty.is_named_field(k),
                        cur.is_named_field(k),
                        "{path}.{k}: named"
                    );
                    assert_eq!(ty.key_default(k), cur.key_default(k), "{path}.{k}: default");
                    stack.push((ty.field(k), cur.field(k), format!("{path}.{k}")));
                }
                stack.push((ty.items(), cur.items(), format!("{path}[]")));
            }
        }
        assert!(checked > 1000, "only {checked} nodes checked");
    }
}
