//! Server-side apply and field ownership, as structured-merge-diff v4 and the apiserver's
//! field manager (`k8s.io/apimachinery/pkg/util/managedfields`) define them: which manager
//! owns which fields of an object (`metadata.managedFields`), how an applied configuration
//! merges into the live object, which fields an applier's new configuration drops, and when
//! an apply conflicts with other managers.
//!
//! Pure functions over JSON values and the OpenAPI schemas of [`crate::schema`]; the time
//! to stamp on entries is a parameter. The apiserver's registry calls [`apply`] for
//! `application/apply-patch+yaml` and [`record_update`] for every other write.

mod create;
mod entry;
mod lastapplied;
mod path;
mod set;
mod ty;
#[cfg(test)]
mod ty_cursor;
mod walk;

#[cfg(test)]
mod tests;

pub use create::{create_fields, record_create};
pub use entry::{Entry, Operation, decode, encode};
pub use lastapplied::LAST_APPLIED;
pub use path::{PathElement, path_string};
pub use set::FieldSet;

use crate::resource::ResourceInfo;
use serde_json::{Value, json};
use std::borrow::Cow;
use ty::Ty;

/// Who writes, through which resource, and when.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The resource written (its schema and apiVersion).
    pub resource: &'a ResourceInfo,
    /// `fieldManager`.
    pub manager: &'a str,
    /// `status` for the status subresource.
    pub subresource: Option<&'a str>,
    /// Now, RFC 3339.
    pub time: &'a str,
}

/// One field another manager owns that an apply would change.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The manager as the real server prints it: `"kubectl-client-side-apply" using batch/v1`.
    pub manager: String,
    /// The field: `.spec.backoffLimit`.
    pub field: String,
}

impl Conflict {
    /// The `details.causes[].message`.
    pub fn message(&self) -> String {
        format!("conflict with {}", self.manager)
    }
}

/// Why an apply failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change.
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The configuration does not fit the schema (list items without keys, duplicates).
    #[error("{0}")]
    Invalid(String),
}

/// `getConflictMessage`: the top-level message of a conflict `Status`.
fn conflicts_message(c: &[Conflict]) -> String {
    if let [one] = c {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager, one.field
        );
    }
    let mut managers: Vec<&str> = c.iter().map(|x| x.manager.as_str()).collect();
    managers.sort_unstable();
    managers.dedup();
    let mut lines = Vec::new();
    for m in managers {
        lines.push(format!("conflicts with {m}:"));
        for x in c.iter().filter(|x| x.manager == m) {
            lines.push(format!("- {}", x.field));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        c.len(),
        lines.join("\n")
    )
}

/// The result of an apply.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The new object (the live one, unchanged, if nothing changed), without managedFields.
    pub object: Value,
    /// The new managedFields entries.
    pub managed: Vec<Entry>,
    /// Whether the object (apart from managedFields) changed.
    pub changed: bool,
}

/// Fields the field manager never records (`stripmeta.go`).
fn strip_set() -> FieldSet {
    let mut s = FieldSet::new();
    let f = |n: &str| PathElement::Field(n.to_owned());
    s.insert(&[f("apiVersion")]);
    s.insert(&[f("kind")]);
    s.insert(&[f("metadata")]);
    for n in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        s.insert(&[f("metadata"), f(n)]);
    }
    s
}

/// Drops the fields the write's strategy resets (`GetResetFields`): status through the
/// main resource, spec through `status`.
fn reset_filter(req: &Request<'_>, set: &mut FieldSet) {
    if req.resource.subresource("status").is_none() {
        return;
    }
    let reset = if req.subresource == Some("status") {
        "spec"
    } else {
        "status"
    };
    set.remove_subtree(&PathElement::Field(reset.to_owned()));
}

fn without_managed_fields(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    v
}

/// The object a create starts from for field tracking: the kind's Go zero value, whose
/// non-pointer structs exist (empty) before the first write.
pub fn empty_object(r: &ResourceInfo) -> Value {
    let meta = json!({"creationTimestamp": null});
    match (r.group, r.kind) {
        ("batch", "Job") => {
            json!({"metadata": meta, "spec": {"template": {"metadata": meta, "spec": {"containers": null}}}, "status": {}})
        }
        ("batch", "CronJob") => {
            json!({"metadata": meta, "spec": {"schedule": "", "jobTemplate": {"metadata": meta,
            "spec": {"template": {"metadata": meta, "spec": {"containers": null}}}}}, "status": {}})
        }
        ("", "Pod") => json!({"metadata": meta, "spec": {"containers": null}, "status": {}}),
        ("", "Event") => {
            json!({"metadata": meta, "involvedObject": {}, "source": {}, "firstTimestamp": null,
            "lastTimestamp": null, "eventTime": null, "reportingComponent": "", "reportingInstance": ""})
        }
        ("coordination.k8s.io", "Lease") => json!({"metadata": meta, "spec": {}}),
        _ => json!({"metadata": meta, "spec": {}, "status": {}}),
    }
}

/// Records an Update-operation write (create, update, patch) by `req.manager`: the fields
/// that changed between `before` and `after` become its own and are taken from every other
/// manager; fields that disappeared are taken from everyone. For a create, `before` is
/// [`empty_object`].
pub fn record_update(
    req: &Request<'_>,
    before: &Value,
    after: &Value,
    managed: &[Entry],
) -> Vec<Entry> {
    let ty = Ty::root(req.resource);
    // `compare` skips managedFields: neither side is copied without them.
    let mut before = Cow::Borrowed(before);
    // Top-level structs (spec, status) always exist in Go, if only empty.
    if let Value::Object(zero) = empty_object(req.resource) {
        let missing = |b: &Value| {
            b.as_object().is_some_and(|b| {
                zero.iter()
                    .any(|(k, v)| v.is_object() && !b.contains_key(k))
            })
        };
        if missing(&before)
            && let Some(b) = before.to_mut().as_object_mut()
        {
            for (k, v) in &zero {
                if v.is_object() && !b.contains_key(k) {
                    b.insert(k.clone(), json!({}));
                }
            }
        }
    }
    let c = walk::compare(ty, &before, after);
    let mut changed = c.modified.union(&c.added);
    reset_filter(req, &mut changed);
    let mut removed = c.removed;
    reset_filter(req, &mut removed);
    let mut out: Vec<Entry> = managed.to_vec();
    for e in &mut out {
        e.fields = e.fields.difference(&changed).difference(&removed);
    }
    let mine = changed.difference(&strip_set());
    let me = Entry {
        manager: req.manager.to_owned(),
        operation: Operation::Update,
        api_version: req.resource.api_version(),
        time: Some(req.time.to_owned()),
        subresource: req.subresource.map(str::to_owned),
        fields: mine,
    };
    if !me.fields.is_empty() {
        match out.iter_mut().find(|e| e.same_manager(&me)) {
            Some(e) => {
                e.fields.extend(&me.fields);
                e.time = me.time;
            }
            None => out.push(me),
        }
    }
    out.retain(|e| !e.fields.is_empty());
    if out == managed {
        return managed.to_vec();
    }
    out
}

/// Applies `applied` (the configuration, as sent) for `req.manager` to `live` (the stored
/// object; `{}` when it does not exist yet). `managed` are `live`'s decoded entries.
pub fn apply(
    req: &Request<'_>,
    live: &Value,
    applied: &Value,
    managed: &[Entry],
    force: bool,
) -> Result<Applied, ApplyError> {
    match apply_once(req, live, applied, managed, force) {
        Err(ApplyError::Conflicts(conflicts)) if !force && req.manager == "kubectl" => {
            // The client-side-apply upgrade (`lastAppliedManager`): conflicts on fields whose
            // live value still is the one in the last-applied annotation are forced.
            let ty = Ty::root(req.resource);
            let Some(allowed) = lastapplied::allowed_conflicts(ty, live) else {
                return Err(ApplyError::Conflicts(conflicts));
            };
            let rest: Vec<Conflict> = conflicts
                .into_iter()
                .filter(|c| !allowed.contains(&c.field))
                .collect();
            if !rest.is_empty() {
                return Err(ApplyError::Conflicts(rest));
            }
            apply_once(req, live, applied, managed, true)
        }
        other => other,
    }
}

fn apply_once(
    req: &Request<'_>,
    live_in: &Value,
    applied: &Value,
    managed: &[Entry],
    force: bool,
) -> Result<Applied, ApplyError> {
    let ty = Ty::root(req.resource);
    let live = without_managed_fields(live_in);
    let mut set = walk::field_set(ty, applied, true).map_err(ApplyError::Invalid)?;
    reset_filter(req, &mut set);
    let merged = walk::merge(ty, &live, applied);
    let me = Entry {
        manager: req.manager.to_owned(),
        operation: Operation::Apply,
        api_version: req.resource.api_version(),
        time: None,
        subresource: req.subresource.map(str::to_owned),
        fields: set,
    };
    let mut managers: Vec<Entry> = managed.to_vec();
    let last = match managers.iter_mut().find(|e| e.same_manager(&me)) {
        Some(e) => {
            let last = std::mem::replace(&mut e.fields, me.fields.clone());
            e.api_version.clone_from(&me.api_version);
            Some(last)
        }
        None => {
            managers.push(me.clone());
            None
        }
    };
    let new = match &last {
        Some(last) if !last.is_empty() => prune(ty, &merged, &managers, last),
        _ => merged,
    };
    update(req, ty, &live, &new, &mut managers, &me, force)?;
    let mut new = new;
    lastapplied::update_annotation(req.manager, &mut new, applied);
    let changed = !path::values_equal(&live, &new);
    let strip = strip_set();
    for e in &mut managers {
        if e.same_manager(&me) {
            e.fields = e.fields.difference(&strip);
            if changed || last.as_ref() != Some(&e.fields) {
                e.time = Some(req.time.to_owned());
            }
        }
    }
    managers.retain(|e| !e.fields.is_empty());
    Ok(Applied {
        object: if changed { new } else { live },
        managed: managers,
        changed,
    })
}

/// `Updater.update`: takes the fields that changed between `old` and `new` from every
/// manager but `me`, failing on conflicts unless forced.
fn update(
    req: &Request<'_>,
    ty: Ty<'_>,
    old: &Value,
    new: &Value,
    managers: &mut [Entry],
    me: &Entry,
    force: bool,
) -> Result<(), ApplyError> {
    let c = walk::compare(ty, old, new);
    let mut changed = c.modified.union(&c.added);
    reset_filter(req, &mut changed);
    let mut removed = c.removed;
    reset_filter(req, &mut removed);
    let mut conflicts: Vec<(String, String, Vec<PathElement>)> = Vec::new();
    for e in managers.iter() {
        if e.same_manager(me) {
            continue;
        }
        for p in e.fields.intersection(&changed).paths() {
            conflicts.push((e.manager.clone(), e.display(), p));
        }
    }
    if !force && !conflicts.is_empty() {
        conflicts.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        return Err(ApplyError::Conflicts(
            conflicts
                .into_iter()
                .map(|(_, manager, p)| Conflict {
                    manager,
                    field: path_string(&p),
                })
                .collect(),
        ));
    }
    for e in managers.iter_mut() {
        if !e.same_manager(me) {
            e.fields = e.fields.difference(&changed).difference(&removed);
        }
    }
    Ok(())
}

/// `Updater.prune`: removes what `last` (the applier's previous set) had and nobody owns
/// any more.
fn prune(ty: Ty<'_>, merged: &Value, managers: &[Entry], last: &FieldSet) -> Value {
    let last = walk::ensure_named(ty, last);
    let pruned = walk::remove_items(ty, merged, &last);
    // addBackOwnedItems: put back whatever any manager (the applier's new set included) owns.
    let mut owned = FieldSet::new();
    for e in managers {
        owned.extend(&e.fields);
    }
    let owned = walk::ensure_named(ty, &owned);
    let merged_set = named_set(ty, merged);
    let pruned_set = named_set(ty, &pruned);
    let pruned = walk::remove_items(
        ty,
        merged,
        &merged_set.difference(&pruned_set.union(&owned)),
    );
    // addBackDanglingItems: only what `last` had may go.
    let pruned_set = named_set(ty, &pruned);
    walk::remove_items(
        ty,
        merged,
        &merged_set.difference(&pruned_set).intersection(&last),
    )
}

fn named_set(ty: Ty<'_>, v: &Value) -> FieldSet {
    let set = walk::field_set(ty, v, false).unwrap_or_default();
    walk::ensure_named(ty, &set)
}
