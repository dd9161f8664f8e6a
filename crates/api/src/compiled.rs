//! The served schemas compiled: each group-version's OpenAPI v3 components resolved once
//! (lazily, at the first use of one of its resources) into positions (a property, items or
//! additional-properties node as written) that already know what they are and the shape they
//! resolve to (sorted fields, items, additional properties, defaults). Server-side apply's
//! `Ty`, [`crate::schema::drop_empty_collections`] and [`crate::schema::unknown_fields`] walk
//! it without hashing a schema key.

use crate::resource::{self, ResourceInfo};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

/// List-map key fields with a schema default, used when an item omits them
/// (`+default="TCP"` on `ContainerPort.protocol`).
const KEY_DEFAULTS: &[(&str, &str, &str)] =
    &[("io.k8s.api.core.v1.ContainerPort", "protocol", "TCP")];

/// What a position is, as kube-openapi's `schemaconv` reads the extensions.
#[derive(Clone, Copy)]
pub(crate) enum Compact {
    /// The schema does not say: deduced from the value.
    Deduced,
    Scalar,
    /// A struct or a map; `atomic` ones are leaves.
    Map {
        atomic: bool,
    },
    AtomicList,
    Set,
    /// A list-map; its keys are [`Compiled::keys`]`(i)`.
    ListMap(u32),
}

/// One property, items or additional-properties node as written, with what it resolves to.
pub(crate) struct Position {
    pub(crate) kind: Compact,
    pub(crate) shape: u32,
}

/// A resolved schema.
#[derive(Default)]
pub(crate) struct Shape {
    /// Whether it has a `properties` object (a struct, even without fields).
    pub(crate) has_properties: bool,
    /// `x-kubernetes-preserve-unknown-fields: true`: the strict field check stops here.
    pub(crate) preserve_unknown: bool,
    /// Declared properties, sorted by name, with their positions.
    pub(crate) fields: Vec<(&'static str, u32)>,
    /// `additionalProperties` when it is a schema: a map.
    pub(crate) additional: Option<u32>,
    pub(crate) items: Option<u32>,
    /// Properties' `default`s, then the [`KEY_DEFAULTS`] of this schema name.
    pub(crate) defaults: Vec<(&'static str, Value)>,
}

/// The compiled schemas of one group-version.
#[derive(Default)]
pub(crate) struct Compiled {
    positions: Vec<Position>,
    shapes: Vec<Shape>,
    /// Kind → the position of its component as it stands (apply's root).
    roots: Vec<(&'static str, u32)>,
    /// Kind → the position of its component resolved through `$ref`s and `allOf`s.
    resolved_roots: Vec<(&'static str, u32)>,
    /// Each list-map's keys.
    keys: Vec<Box<[&'static str]>>,
}

/// The served group-versions, compiled at first use.
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
    /// The compiled schemas of a served group-version.
    pub(crate) fn of(group: &str, version: &str) -> Option<&'static Compiled> {
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

    /// The position of `kind`'s component as it stands (not resolved).
    pub(crate) fn root(&self, kind: &str) -> Option<u32> {
        self.roots.iter().find(|(k, _)| *k == kind).map(|r| r.1)
    }

    /// The position of `kind`'s component, resolved.
    pub(crate) fn resolved_root(&self, kind: &str) -> Option<u32> {
        self.resolved_roots
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|r| r.1)
    }

    pub(crate) fn position(&self, pos: u32) -> &Position {
        &self.positions[pos as usize]
    }

    pub(crate) fn shape_of(&self, pos: u32) -> &Shape {
        &self.shapes[self.position(pos).shape as usize]
    }

    /// The keys of list-map `i` ([`Compact::ListMap`]).
    pub(crate) fn keys(&self, i: u32) -> &[&'static str] {
        &self.keys[i as usize]
    }

    fn new(defs: &'static Map<String, Value>, kinds: &[&ResourceInfo]) -> Compiled {
        let mut c = Compiled::default();
        let mut memo = Memo::default();
        for r in kinds {
            let name = crate::schema::schema_name(r);
            if let Some((n, node)) = defs.get_key_value(name.as_str()) {
                // Apply's root is the component itself, reached by name.
                let shape = c.compile_shape(defs, &mut memo, n.as_str(), node);
                let kind = c.kind_of(node, node);
                c.positions.push(Position { kind, shape });
                c.roots.push((r.kind, (c.positions.len() - 1) as u32));
                let resolved = c.compile_position(defs, &mut memo, node);
                c.resolved_roots.push((r.kind, resolved));
            }
        }
        c
    }

    /// The position of `outer`, a property, items or additional-properties node.
    fn compile_position(
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
        let shape = self.compile_shape(defs, memo, name, node);
        self.positions[id as usize] = Position { kind, shape };
        id
    }

    fn compile_shape(
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
        let mut shape = Shape {
            preserve_unknown: node
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                == Some(true),
            ..Shape::default()
        };
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            shape.has_properties = true;
            for (k, p) in props {
                let pos = self.compile_position(defs, memo, p);
                shape.fields.push((k.as_str(), pos));
                if let Some(d) = p.get("default") {
                    shape.defaults.push((k.as_str(), d.clone()));
                }
            }
            shape.fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        if let Some(ap) = node.get("additionalProperties").filter(|a| a.is_object()) {
            shape.additional = Some(self.compile_position(defs, memo, ap));
        }
        if let Some(i) = node.get("items") {
            shape.items = Some(self.compile_position(defs, memo, i));
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

impl Shape {
    /// The position of declared field `key`.
    pub(crate) fn field(&self, key: &str) -> Option<u32> {
        self.fields
            .binary_search_by(|(n, _)| (*n).cmp(key))
            .ok()
            .map(|i| self.fields[i].1)
    }
}
