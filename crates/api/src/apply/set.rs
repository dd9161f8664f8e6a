//! Field sets (structured-merge-diff's `fieldpath.Set`): a trie of path elements where each
//! node may itself be a member (a path in the set) and may have children. Owns the set
//! algebra (union, difference, intersection) and the FieldsV1 encoding, where `.` marks a
//! node that is both a member and a parent.

use super::path::PathElement;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Nesting beyond which FieldsV1 input is refused (real objects are far shallower).
const MAX_DEPTH: usize = 100;

/// A set of field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    nodes: BTreeMap<PathElement, Node>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    member: bool,
    children: FieldSet,
}

impl Node {
    fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        FieldSet::default()
    }

    /// Whether the set has no paths.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Adds `path` (the empty path, the whole object, is never tracked).
    pub fn insert(&mut self, path: &[PathElement]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let node = self.nodes.entry(first.clone()).or_default();
        if rest.is_empty() {
            node.member = true;
        } else {
            node.children.insert(rest);
        }
    }

    /// Whether `path` is a member.
    pub fn has(&self, path: &[PathElement]) -> bool {
        let Some((first, rest)) = path.split_first() else {
            return false;
        };
        match self.nodes.get(first) {
            Some(n) if rest.is_empty() => n.member,
            Some(n) => n.children.has(rest),
            None => false,
        }
    }

    /// The paths below `pe` (relative to it).
    pub fn with_prefix(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.nodes
            .get(pe)
            .map(|n| &n.children)
            .filter(|c| !c.is_empty())
    }

    /// Whether `pe` is a member (a one-element path).
    pub fn has_member(&self, pe: &PathElement) -> bool {
        self.nodes.get(pe).is_some_and(|n| n.member)
    }

    /// Adds a node with its member flag and children (nothing if both are empty).
    pub(crate) fn insert_node(&mut self, pe: PathElement, member: bool, children: FieldSet) {
        let node = Node { member, children };
        if !node.is_empty() {
            self.nodes.insert(pe, node);
        }
    }

    /// `self ∪ other`.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.extend(other);
        out
    }

    /// Adds every path of `other`.
    pub fn extend(&mut self, other: &FieldSet) {
        for (pe, on) in &other.nodes {
            let n = self.nodes.entry(pe.clone()).or_default();
            n.member |= on.member;
            n.children.extend(&on.children);
        }
    }

    /// `self − other`: the paths of `self` that are not paths of `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (pe, n) in &self.nodes {
            let node = match other.nodes.get(pe) {
                Some(on) => Node {
                    member: n.member && !on.member,
                    children: n.children.difference(&on.children),
                },
                None => n.clone(),
            };
            if !node.is_empty() {
                out.nodes.insert(pe.clone(), node);
            }
        }
        out
    }

    /// `self ∩ other`.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (pe, n) in &self.nodes {
            if let Some(on) = other.nodes.get(pe) {
                let node = Node {
                    member: n.member && on.member,
                    children: n.children.intersection(&on.children),
                };
                if !node.is_empty() {
                    out.nodes.insert(pe.clone(), node);
                }
            }
        }
        out
    }

    /// Removes `pe` and everything below it.
    pub fn remove_subtree(&mut self, pe: &PathElement) {
        self.nodes.remove(pe);
    }

    /// Every member path, in order.
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect(&mut prefix, &mut out);
        out
    }

    /// Members of a node first, then the children's paths (as `Set.Iterate`).
    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for (pe, n) in &self.nodes {
            if n.member {
                let mut p = prefix.clone();
                p.push(pe.clone());
                out.push(p);
            }
        }
        for (pe, n) in &self.nodes {
            prefix.push(pe.clone());
            n.children.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Iterates the top-level nodes: element, member flag, children.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&PathElement, bool, &FieldSet)> {
        self.nodes.iter().map(|(pe, n)| (pe, n.member, &n.children))
    }

    /// The FieldsV1 object.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit(false))
    }

    fn emit(&self, include_self: bool) -> Map<String, Value> {
        let mut m = Map::new();
        if include_self && !self.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (pe, n) in &self.nodes {
            m.insert(pe.to_fields_key(), Value::Object(n.children.emit(n.member)));
        }
        m
    }

    /// Parses a FieldsV1 object.
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, String> {
        Self::parse(v, 0)
    }

    fn parse(v: &Value, depth: usize) -> Result<FieldSet, String> {
        if depth > MAX_DEPTH {
            return Err("fieldsV1 nested too deeply".into());
        }
        let Value::Object(m) = v else {
            return Err("fieldsV1 must be an object".into());
        };
        let mut out = FieldSet::new();
        for (k, child) in m {
            if k == "." {
                continue;
            }
            let pe = PathElement::parse(k)?;
            let Value::Object(cm) = child else {
                return Err(format!("fieldsV1 entry {k:?} must be an object"));
            };
            let children = Self::parse(child, depth + 1)?;
            let member = cm.is_empty() || cm.contains_key(".");
            out.nodes.insert(pe, Node { member, children });
        }
        Ok(out)
    }
}
