//! The schema seen by server-side apply: a handle on a position of the compiled schemas
//! ([`crate::compiled`]) that answers what a node is (scalar, granular or atomic map or
//! struct, atomic list, set, or list-map with its keys), as kube-openapi's `schemaconv` turns
//! the same extensions into structured-merge-diff types. Unknown nodes are "deduced" from the
//! value: maps are granular, lists atomic.

use crate::compiled::{Compact, Compiled, Shape};
use crate::resource::ResourceInfo;
use serde_json::Value;

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

/// A position in the compiled schemas.
#[derive(Clone, Copy)]
pub(crate) struct Ty<'a> {
    schema: Option<&'a Compiled>,
    pos: u32,
}

impl<'a> Ty<'a> {
    /// No schema: everything is deduced.
    pub(crate) const UNKNOWN: Ty<'static> = Ty {
        schema: None,
        pos: 0,
    };

    /// The schema of `r`'s kind.
    pub(crate) fn root(r: &ResourceInfo) -> Ty<'static> {
        let Some(c) = Compiled::of(r.group, r.version) else {
            return Ty::UNKNOWN;
        };
        match c.root(r.kind) {
            Some(pos) => Ty {
                schema: Some(c),
                pos,
            },
            None => Ty::UNKNOWN,
        }
    }

    fn shape(&self) -> Option<(&'a Compiled, &'a Shape)> {
        self.schema.map(|c| (c, c.shape_of(self.pos)))
    }

    fn at(c: &'a Compiled, pos: u32) -> Ty<'a> {
        Ty {
            schema: Some(c),
            pos,
        }
    }

    /// What this node is, deducing from `v` where the schema says nothing.
    pub(crate) fn kind(&self, v: Option<&Value>) -> Kind<'a> {
        let Some(c) = self.schema else {
            return deduced(v);
        };
        match c.position(self.pos).kind {
            Compact::Deduced => deduced(v),
            Compact::Scalar => Kind::Scalar,
            Compact::Map { atomic } => Kind::Map { atomic },
            Compact::AtomicList => Kind::List(ListKind::Atomic),
            Compact::Set => Kind::List(ListKind::Set),
            Compact::ListMap(i) => Kind::List(ListKind::Map(c.keys(i))),
        }
    }

    /// The schema of field or map entry `key`.
    pub(crate) fn field(&self, key: &str) -> Ty<'a> {
        let Some((c, s)) = self.shape() else {
            return Ty::UNKNOWN;
        };
        match s.field(key).or(s.additional) {
            Some(pos) => Ty::at(c, pos),
            None => Ty::UNKNOWN,
        }
    }

    /// Whether `key` is a declared struct field (not a map entry).
    pub(crate) fn is_named_field(&self, key: &str) -> bool {
        self.shape().is_some_and(|(_, s)| s.field(key).is_some())
    }

    /// The schema of the list's items.
    pub(crate) fn items(&self) -> Ty<'a> {
        match self.shape() {
            Some((c, Shape { items: Some(i), .. })) => Ty::at(c, *i),
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
