//! The schema seen by server-side apply, compiled: each group-version's OpenAPI v3 components
//! are resolved once (lazily, at the first use of one of its resources) into positions that
//! already know what they are (scalar, granular or atomic map or struct, atomic list, set, or
//! list-map with its keys), as kube-openapi's `schemaconv` turns the same extensions into
//! structured-merge-diff types, with their fields in a sorted slice, their items, additional
//! properties and key defaults. [`Ty`] is a cheap handle into it; no walk hashes or formats a
//! schema key. Unknown nodes are "deduced" from the value: maps are granular, lists atomic.

use crate::resource::{self, ResourceInfo};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

/// List-map key fields with a schema default, used when an item omits them
/// (`+default="TCP"` on `ContainerPort.protocol`).
const KEY_DEFAULTS: &[(&str, &str, &str)] =
    &[("io.k8s.api.core.v1.ContainerPort", "protocol", "TCP")];

/// How a list's items are identified.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ListKind<'a> {
    /// Replaced as a whole.
    Atomic,
    /// Scalars identified by value.
    Set,
    /// Maps identified by these key fields.
    Map(&'a [&'a str]),
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind<'a> {
    /// A leaf.
    Scalar,
    /// A struct or a map; `atomic` ones are leaves.
    Map { atomic: bool },
    /// A list.
    List(ListKind<'a>),
}

/// What a position is, compiled: [`Kind`] with list-map keys by index.
#[derive(Clone, Copy)]
enum Compact {
    /// The schema does not say: deduced from the value.
    Deduced,
    Scalar,
    Map {
        atomic: bool,
    },
    AtomicList,
    Set,
    /// A list-map; its keys are `Compiled::keys[i]`.
    ListMap(u32),
}

/// One property, items or additional-properties node as written, with what it resolves to.
struct Position {
    kind: Compact,
    shape: u32,
}

/// A resolved schema: its fields, items, additional properties and defaults.
#[derive(Default)]
struct Shape {
    /// Declared properties, sorted by name, with their positions.
    fields: Vec<(&'static str, u32)>,
    /// `additionalProperties` when it is a schema.
    additional: Option<u32>,
    items: Option<u32>,
    /// Properties' `default`s, then the [`KEY_DEFAULTS`] of this schema name.
    defaults: Vec<(&'static str, Value)>,
}

/// The compiled schemas of one group-version.
#[derive(Default)]
pub(crate) struct Compiled {
    positions: Vec<Position>,
    shapes: Vec<Shape>,
    /// Kind → the position of its schema.
    roots: Vec<(&'static str, u32)>,
    /// Each list-map's keys.
    keys: Vec<Box<[&'static str]>>,
}

/// A position in the compiled schemas.
#[derive(Clone, Copy)]
pub(crate) struct Ty<'a> {
    schema: Option<&'a Compiled>,
    pos: u32,
}

/// The served group-versions with their components, compiled at first use.
struct Doc {
    group: &'static str,
    version: &'static str,
    compiled: OnceLock<Compiled>,
}

static DOCS: LazyLock<Vec<Doc>> = LazyLock::new(|| {
    resource::group_versions()
        .into_iter()
        .map(|(group, version)| Doc {
            group,
            version,
            compiled: OnceLock::new(),
        })
        .collect()
});

fn compiled(group: &str, version: &str) -> Option<&'static Compiled> {
    let doc = DOCS
        .iter()
        .find(|d| d.group == group && d.version == version)?;
    Some(doc.compiled.get_or_init(|| {
        let kinds: Vec<&ResourceInfo> = resource::RESOURCES
            .iter()
            .filter(|r| r.group == group && r.version == version)
            .collect();
        match kinds.first().and_then(|r| crate::schema::components(r)) {
            Some(defs) => Compiled::new(defs, &kinds),
            None => Compiled::default(),
        }
    }))
}

impl<'a> Ty<'a> {
    /// No schema: everything is deduced.
    pub(crate) const UNKNOWN: Ty<'static> = Ty {
        schema: None,
        pos: 0,
    };

    /// The schema of `r`'s kind.
    pub(crate) fn root(r: &ResourceInfo) -> Ty<'static> {
        let Some(c) = compiled(r.group, r.version) else {
            return Ty::UNKNOWN;
        };
        match c.roots.iter().find(|(k, _)| *k == r.kind) {
            Some(&(_, pos)) => Ty {
                schema: Some(c),
                pos,
            },
            None => Ty::UNKNOWN,
        }
    }

    fn position(&self) -> Option<(&'a Compiled, &'a Position)> {
        self.schema.map(|c| (c, &c.positions[self.pos as usize]))
    }

    fn shape(&self) -> Option<(&'a Compiled, &'a Shape)> {
        self.position()
            .map(|(c, p)| (c, &c.shapes[p.shape as usize]))
    }

    fn at(&self, c: &'a Compiled, pos: u32) -> Ty<'a> {
        Ty {
            schema: Some(c),
            pos,
        }
    }

    /// What this node is, deducing from `v` where the schema says nothing.
    pub(crate) fn kind(&self, v: Option<&Value>) -> Kind<'a> {
        let Some((c, p)) = self.position() else {
            return deduced(v);
        };
        match p.kind {
            Compact::Deduced => deduced(v),
            Compact::Scalar => Kind::Scalar,
            Compact::Map { atomic } => Kind::Map { atomic },
            Compact::AtomicList => Kind::List(ListKind::Atomic),
            Compact::Set => Kind::List(ListKind::Set),
            Compact::ListMap(i) => Kind::List(ListKind::Map(&c.keys[i as usize])),
        }
    }

    /// The schema of field or map entry `key`.
    pub(crate) fn field(&self, key: &str) -> Ty<'a> {
        let Some((c, s)) = self.shape() else {
            return Ty::UNKNOWN;
        };
        if let Ok(i) = s.fields.binary_search_by(|(n, _)| (*n).cmp(key)) {
            return self.at(c, s.fields[i].1);
        }
        match s.additional {
            Some(ap) => self.at(c, ap),
            None => Ty::UNKNOWN,
        }
    }

    /// Whether `key` is a declared struct field (not a map entry).
    pub(crate) fn is_named_field(&self, key: &str) -> bool {
        self.shape()
            .is_some_and(|(_, s)| s.fields.binary_search_by(|(n, _)| (*n).cmp(key)).is_ok())
    }

    /// The schema of the list's items.
    pub(crate) fn items(&self) -> Ty<'a> {
        match self.shape() {
            Some((c, Shape { items: Some(i), .. })) => self.at(c, *i),
            _ => Ty::UNKNOWN,
        }
    }

    /// The declared fields, sorted (for the tests against the JSON schemas).
    #[cfg(test)]
    pub(crate) fn field_names(&self) -> Vec<&'a str> {
        self.shape()
            .map(|(_, s)| s.fields.iter().map(|(n, _)| *n).collect())
            .unwrap_or_default()
    }

    /// The default of key field `key` of this (item) schema, if it has one.
    pub(crate) fn key_default(&self, key: &str) -> Option<Value> {
        let (_, s) = self.shape()?;
        s.defaults
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, d)| d.clone())
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

fn ext<'v>(n: &'v Value, k: &str) -> Option<&'v str> {
    n.get(k).and_then(Value::as_str)
}

/// The compiler's memo: positions by the node as written, shapes by the node resolved
/// (and the schema name it was reached through), so shared components compile once and
/// recursive ones end.
#[derive(Default)]
struct Memo {
    positions: HashMap<*const Value, u32>,
    shapes: HashMap<(*const Value, *const u8), u32>,
}

impl Compiled {
    fn new(defs: &'static Map<String, Value>, kinds: &[&ResourceInfo]) -> Compiled {
        let mut c = Compiled::default();
        let mut memo = Memo::default();
        for r in kinds {
            let name = crate::schema::schema_name(r);
            if let Some((n, node)) = defs.get_key_value(name.as_str()) {
                // The root is its component, reached by name.
                let shape = c.shape(defs, &mut memo, n.as_str(), node);
                let kind = c.kind_of(node, node);
                c.positions.push(Position { kind, shape });
                c.roots.push((r.kind, (c.positions.len() - 1) as u32));
            }
        }
        c
    }

    /// The position of `outer`, a property, items or additional-properties node.
    fn position(
        &mut self,
        defs: &'static Map<String, Value>,
        memo: &mut Memo,
        outer: &'static Value,
    ) -> u32 {
        if let Some(&p) = memo.positions.get(&std::ptr::from_ref(outer)) {
            return p;
        }
        let id = self.positions.len() as u32;
        self.positions.push(Position {
            kind: Compact::Deduced,
            shape: 0,
        });
        memo.positions.insert(std::ptr::from_ref(outer), id);
        let (name, node) = crate::schema::resolve_named(Some(defs), outer);
        let kind = self.kind_of(outer, node);
        let shape = self.shape(defs, memo, name, node);
        self.positions[id as usize] = Position { kind, shape };
        id
    }

    fn shape(
        &mut self,
        defs: &'static Map<String, Value>,
        memo: &mut Memo,
        name: &'static str,
        node: &'static Value,
    ) -> u32 {
        let key = (std::ptr::from_ref(node), name.as_ptr());
        if let Some(&s) = memo.shapes.get(&key) {
            return s;
        }
        let id = self.shapes.len() as u32;
        self.shapes.push(Shape::default());
        memo.shapes.insert(key, id);
        let mut shape = Shape::default();
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                let pos = self.position(defs, memo, p);
                shape.fields.push((k.as_str(), pos));
                if let Some(d) = p.get("default") {
                    shape.defaults.push((k.as_str(), d.clone()));
                }
            }
            shape.fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        if let Some(ap) = node.get("additionalProperties").filter(|a| a.is_object()) {
            shape.additional = Some(self.position(defs, memo, ap));
        }
        if let Some(i) = node.get("items") {
            shape.items = Some(self.position(defs, memo, i));
        }
        for (s, f, d) in KEY_DEFAULTS {
            if *s == name {
                shape.defaults.push((f, Value::String((*d).to_owned())));
            }
        }
        self.shapes[id as usize] = shape;
        id
    }

    /// What a node is, as written (`outer`) and resolved (`node`).
    fn kind_of(&mut self, outer: &'static Value, node: &'static Value) -> Compact {
        if node.get("x-kubernetes-int-or-string").is_some() {
            return Compact::Scalar;
        }
        let atomic = ext(outer, "x-kubernetes-map-type") == Some("atomic")
            || ext(node, "x-kubernetes-map-type") == Some("atomic");
        if node.get("properties").is_some() || node.get("additionalProperties").is_some() {
            return Compact::Map { atomic };
        }
        match node.get("type").and_then(Value::as_str) {
            Some("array") => self.list_kind(outer),
            Some("string" | "integer" | "number" | "boolean") => Compact::Scalar,
            _ => Compact::Deduced,
        }
    }

    fn list_kind(&mut self, outer: &'static Value) -> Compact {
        match ext(outer, "x-kubernetes-list-type") {
            Some("set") => return Compact::Set,
            Some("map") => {
                let keys: Vec<&'static str> = outer
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                return if keys.is_empty() {
                    Compact::AtomicList
                } else {
                    self.list_map(keys)
                };
            }
            Some(_) => return Compact::AtomicList,
            None => {}
        }
        let strategy = ext(outer, "x-kubernetes-patch-strategy").unwrap_or("");
        if strategy.split(',').any(|s| s == "merge") {
            return match ext(outer, "x-kubernetes-patch-merge-key") {
                Some(k) => self.list_map(vec![k]),
                None => Compact::Set,
            };
        }
        Compact::AtomicList
    }

    fn list_map(&mut self, keys: Vec<&'static str>) -> Compact {
        self.keys.push(keys.into_boxed_slice());
        Compact::ListMap((self.keys.len() - 1) as u32)
    }
}
