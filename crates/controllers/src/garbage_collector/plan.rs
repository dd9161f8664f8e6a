//! The garbage collector's decisions, as pure functions of an object and what its owners and
//! dependents look like. They follow kube-controller-manager's `attemptToDeleteItem`,
//! `processDeletingDependentsItem` and `orphanDependents`, and its graph builder's choice of
//! what a change wakes ([`wake`]).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// Finalizer that keeps an owner until its blocking dependents are gone (Foreground).
pub const FOREGROUND: &str = "foregroundDeletion";
/// Finalizer that keeps an owner until its dependents no longer reference it (Orphan).
pub const ORPHAN: &str = "orphan";

/// What the collector keeps of an object (its graph node): enough to judge it as an owner
/// and as a dependent, nothing else.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Meta {
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.ownerReferences`.
    pub owners: Vec<OwnerReference>,
    /// It has a `deletionTimestamp`.
    pub deleting: bool,
    /// It has the `orphan` finalizer.
    pub orphan: bool,
    /// It has the `foregroundDeletion` finalizer.
    pub foreground: bool,
}

impl Meta {
    /// The collector's view of `meta`.
    pub fn of(meta: &ObjectMeta) -> Meta {
        let has = |f: &str| meta.finalizers.iter().flatten().any(|x| x == f);
        Meta {
            uid: meta.uid.clone().unwrap_or_default(),
            owners: meta.owner_references.clone().unwrap_or_default(),
            deleting: meta.deletion_timestamp.is_some(),
            orphan: has(ORPHAN),
            foreground: has(FOREGROUND),
        }
    }

    /// The collector's finalizers it has, `orphan` first.
    pub fn finalizers(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.orphan {
            out.push(ORPHAN.to_owned());
        }
        if self.foreground {
            out.push(FOREGROUND.to_owned());
        }
        out
    }

    /// Being deleted and waiting for the collector (a finalizer of its own to remove).
    pub fn finalizing(&self) -> bool {
        self.deleting && (self.orphan || self.foreground)
    }

    /// What this object is as the owner `uid` names (`Absent` if its uid differs: the
    /// name was taken again by a new object).
    pub fn as_owner(&self, uid: &str) -> OwnerState {
        if self.uid != uid {
            OwnerState::Absent
        } else if self.deleting && self.foreground {
            OwnerState::WaitingForDependents
        } else {
            OwnerState::Solid
        }
    }

    /// Whether its reference to `uid` blocks that owner's foreground deletion (`None`: it
    /// does not reference `uid`).
    pub fn blocks(&self, uid: &str) -> Option<bool> {
        self.owners
            .iter()
            .find(|r| r.uid == uid)
            .map(|r| r.block_owner_deletion == Some(true))
    }
}

/// What a change of an object wakes, besides the object's dependents when it is gone
/// (those the shell finds by scanning only if `referenced`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wake {
    /// The object itself: as a dependent (it has owners), as an owner that waits for the
    /// collector (`finalizing`), or, deleted or being deleted, to wake its dependents.
    pub itself: bool,
    /// Its owners that wait for their dependents (the shell adds those it finds
    /// finalizing): a dependent changed or went, so an owner may be done.
    pub owners: bool,
}

/// What the change of an object that now looks like `meta` (`deleted`: it is gone) wakes;
/// `referenced`: something was seen referencing it as an owner; `owners_stand`: each of its
/// owners is cached with its uid and not waiting for its dependents (asked only of an
/// owned object that is neither deleted nor being deleted).
///
/// Such an object has nothing to do as a dependent, as in Go's graph builder, which queues
/// a dependent only for an owner it has not observed (a virtual node) or one being
/// deleted: the owners' own changes wake it later (one gone, or deleted in the
/// foreground). In a crowded minute this spares a sync per new Job of a CronJob.
pub fn wake(
    meta: &Meta,
    deleted: bool,
    referenced: bool,
    owners_stand: impl FnOnce() -> bool,
) -> Wake {
    let owned = !meta.owners.is_empty();
    Wake {
        itself: if deleted {
            referenced
        } else if meta.deleting || meta.finalizing() {
            owned || meta.finalizing() || referenced
        } else {
            owned && !owners_stand()
        },
        owners: owned,
    }
}

/// Where an owner reference points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerPlace<'a> {
    /// A namespaced owner: in its dependent's namespace.
    Namespace(&'a str),
    /// A cluster-scoped owner.
    Cluster,
    /// A namespaced owner of a cluster-scoped dependent: it cannot resolve (absent).
    Nowhere,
}

/// Where the owner of a dependent in `dependent_namespace` is.
pub fn owner_place(dependent_namespace: Option<&str>, owner_namespaced: bool) -> OwnerPlace<'_> {
    match (owner_namespaced, dependent_namespace) {
        (false, _) => OwnerPlace::Cluster,
        (true, Some(ns)) => OwnerPlace::Namespace(ns),
        (true, None) => OwnerPlace::Nowhere,
    }
}

/// What one ownerReference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// No object with that name and uid: the reference dangles.
    Absent,
    /// The owner exists and is not waiting for its dependents.
    Solid,
    /// The owner is being deleted in the foreground: it waits for its dependents.
    WaitingForDependents,
}

/// How a dependent is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Delete now; collect its own dependents afterwards.
    Background,
    /// Keep it until its own blocking dependents are gone.
    Foreground,
    /// Delete it and strip the references of its own dependents.
    Orphan,
}

impl Propagation {
    /// The `propagationPolicy` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Background => "Background",
            Propagation::Foreground => "Foreground",
            Propagation::Orphan => "Orphan",
        }
    }
}

/// What to do with an object as a dependent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependentAction {
    /// Nothing to collect.
    Nothing,
    /// Remove the ownerReferences with these uids (other owners still hold it).
    RemoveOwnerRefs(Vec<String>),
    /// Delete it.
    Delete(Propagation),
}

/// One ownerReference of a dependent and the state of its owner.
#[derive(Debug, Clone)]
pub struct OwnerRef {
    /// The owner's uid.
    pub uid: String,
    /// What the owner looks like now.
    pub state: OwnerState,
}

/// Decides what happens to an object given its owners (`attemptToDeleteItem`).
///
/// `being_deleted`: it already has a deletionTimestamp. `has_dependents`: whether something
/// references it as owner (asked only when the answer matters: finding out costs a scan).
/// `finalizers`: its own finalizers, which choose the propagation of its deletion.
pub fn plan_dependent(
    owners: &[OwnerRef],
    being_deleted: bool,
    has_dependents: impl FnOnce() -> bool,
    finalizers: &[String],
) -> DependentAction {
    if being_deleted || owners.is_empty() {
        return DependentAction::Nothing;
    }
    let solid = owners.iter().any(|o| o.state == OwnerState::Solid);
    let gone: Vec<String> = owners
        .iter()
        .filter(|o| o.state != OwnerState::Solid)
        .map(|o| o.uid.clone())
        .collect();
    let waiting = owners
        .iter()
        .any(|o| o.state == OwnerState::WaitingForDependents);
    if solid {
        return if gone.is_empty() {
            DependentAction::Nothing
        } else {
            DependentAction::RemoveOwnerRefs(gone)
        };
    }
    if waiting && has_dependents() {
        return DependentAction::Delete(Propagation::Foreground);
    }
    let has = |f: &str| finalizers.iter().any(|x| x == f);
    DependentAction::Delete(if has(ORPHAN) {
        Propagation::Orphan
    } else if has(FOREGROUND) {
        Propagation::Foreground
    } else {
        Propagation::Background
    })
}

/// A dependent of an owner being deleted.
#[derive(Debug, Clone)]
pub struct Dependent {
    /// Its reference to the owner has `blockOwnerDeletion: true`.
    pub blocks: bool,
}

/// What to do with an owner being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerAction {
    /// Nothing (not being deleted, or still waiting).
    Nothing,
    /// Strip the references to it from these dependents (indexes into the dependents given),
    /// then remove the `orphan` finalizer.
    Orphan(Vec<usize>),
    /// Remove this finalizer: its work is done.
    RemoveFinalizer(&'static str),
}

/// Decides what happens to an owner being deleted (`orphanDependents`,
/// `processDeletingDependentsItem`). Orphaning comes first, as in Kubernetes.
pub fn plan_owner(
    being_deleted: bool,
    finalizers: &[String],
    dependents: &[Dependent],
) -> OwnerAction {
    if !being_deleted {
        return OwnerAction::Nothing;
    }
    let has = |f: &str| finalizers.iter().any(|x| x == f);
    if has(ORPHAN) {
        return if dependents.is_empty() {
            OwnerAction::RemoveFinalizer(ORPHAN)
        } else {
            OwnerAction::Orphan((0..dependents.len()).collect())
        };
    }
    if has(FOREGROUND) && !dependents.iter().any(|d| d.blocks) {
        return OwnerAction::RemoveFinalizer(FOREGROUND);
    }
    OwnerAction::Nothing
}

#[cfg(test)]
mod tests {
    use super::*;
    use DependentAction as D;
    use OwnerState::*;

    fn refs(states: &[OwnerState]) -> Vec<OwnerRef> {
        states
            .iter()
            .enumerate()
            .map(|(i, s)| OwnerRef {
                uid: format!("u{i}"),
                state: *s,
            })
            .collect()
    }

    type Case<'a> = (&'a [OwnerState], bool, bool, &'a [String], DependentAction);

    #[test]
    fn dependents() {
        let none: &[String] = &[];
        let orphan = [ORPHAN.to_owned()];
        let cases: &[Case] = &[
            (&[], false, false, none, D::Nothing),
            (&[Solid], false, false, none, D::Nothing),
            (&[Absent], true, false, none, D::Nothing),
            (
                &[Absent],
                false,
                false,
                none,
                D::Delete(Propagation::Background),
            ),
            (
                &[Absent],
                false,
                true,
                &orphan,
                D::Delete(Propagation::Orphan),
            ),
            (
                &[Solid, Absent],
                false,
                false,
                none,
                D::RemoveOwnerRefs(vec!["u1".into()]),
            ),
            (
                &[WaitingForDependents, Solid],
                false,
                false,
                none,
                D::RemoveOwnerRefs(vec!["u0".into()]),
            ),
            (
                &[WaitingForDependents],
                false,
                true,
                none,
                D::Delete(Propagation::Foreground),
            ),
            (
                &[WaitingForDependents],
                false,
                false,
                none,
                D::Delete(Propagation::Background),
            ),
            (
                &[WaitingForDependents, Absent],
                false,
                false,
                none,
                D::Delete(Propagation::Background),
            ),
        ];
        for (states, deleting, has_deps, fin, want) in cases {
            assert_eq!(
                &plan_dependent(&refs(states), *deleting, || *has_deps, fin),
                want,
                "{states:?} deleting={deleting} deps={has_deps}"
            );
        }
    }

    fn meta(owners: usize, deleting: bool, orphan: bool, foreground: bool) -> Meta {
        Meta {
            uid: "me".into(),
            owners: (0..owners)
                .map(|i| OwnerReference {
                    uid: format!("o{i}"),
                    ..Default::default()
                })
                .collect(),
            deleting,
            orphan,
            foreground,
        }
    }

    #[test]
    fn wakes() {
        // (case, meta, deleted, referenced, itself, owners)
        let cases = [
            (
                "a plain object",
                meta(0, false, false, false),
                false,
                false,
                false,
                false,
            ),
            (
                "an owned object",
                meta(1, false, false, false),
                false,
                false,
                true,
                true,
            ),
            (
                "an owned object whose owners stand",
                meta(1, false, false, false),
                false,
                false,
                false,
                true,
            ),
            (
                "an owned object being deleted",
                meta(1, true, false, false),
                false,
                false,
                true,
                true,
            ),
            (
                "a referenced owner changes",
                meta(0, false, false, false),
                false,
                true,
                false,
                false,
            ),
            (
                "a referenced owner starts deleting",
                meta(0, true, false, false),
                false,
                true,
                true,
                false,
            ),
            (
                "deleting, nothing references it",
                meta(0, true, false, false),
                false,
                false,
                false,
                false,
            ),
            (
                "foreground deletion waits for us",
                meta(0, true, false, true),
                false,
                false,
                true,
                false,
            ),
            (
                "orphan deletion waits for us",
                meta(0, true, true, false),
                false,
                false,
                true,
                false,
            ),
            (
                "a finalizer before the deletion",
                meta(0, false, true, false),
                false,
                false,
                false,
                false,
            ),
            (
                "a referenced owner is gone",
                meta(0, true, false, false),
                true,
                true,
                true,
                false,
            ),
            (
                "an unreferenced object is gone",
                meta(0, false, false, false),
                true,
                false,
                false,
                false,
            ),
            (
                "a dependent is gone",
                meta(2, false, false, false),
                true,
                false,
                false,
                true,
            ),
        ];
        for (case, m, deleted, referenced, itself, owners) in cases {
            // Only where the case says so do its owners all stand (or has it any).
            let stand = case.ends_with("whose owners stand");
            assert_eq!(
                wake(&m, deleted, referenced, || stand),
                Wake { itself, owners },
                "{case}"
            );
        }
    }

    #[test]
    fn metas() {
        let mut m = ObjectMeta {
            uid: Some("u".into()),
            finalizers: Some(vec!["example.com/x".into(), FOREGROUND.into()]),
            ..Default::default()
        };
        let solid = Meta::of(&m);
        assert_eq!(solid.finalizers(), vec![FOREGROUND.to_owned()]);
        assert!(!solid.finalizing());
        // A finalizer without a deletion is not waited for yet.
        assert_eq!(solid.as_owner("u"), Solid);
        m.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
        let waiting = Meta::of(&m);
        assert!(waiting.finalizing());
        assert_eq!(waiting.as_owner("u"), WaitingForDependents);
        assert_eq!(
            waiting.as_owner("other"),
            Absent,
            "a new object of the same name"
        );
        m.finalizers = Some(vec![ORPHAN.into()]);
        let orphaning = Meta::of(&m);
        assert_eq!(orphaning.as_owner("u"), Solid, "orphaning keeps dependents");
        assert_eq!(orphaning.finalizers(), vec![ORPHAN.to_owned()]);

        let mut dep = meta(2, false, false, false);
        dep.owners[1].block_owner_deletion = Some(true);
        assert_eq!(dep.blocks("o0"), Some(false));
        assert_eq!(dep.blocks("o1"), Some(true));
        assert_eq!(dep.blocks("o2"), None);
    }

    #[test]
    fn owner_namespaces() {
        use OwnerPlace::*;
        assert_eq!(owner_place(Some("ns"), true), Namespace("ns"));
        assert_eq!(owner_place(Some("ns"), false), Cluster);
        assert_eq!(owner_place(None, false), Cluster);
        assert_eq!(owner_place(None, true), Nowhere);
    }

    #[test]
    fn owners() {
        let fg = [FOREGROUND.to_owned()];
        let or = [ORPHAN.to_owned(), FOREGROUND.to_owned()];
        let blocking = [Dependent { blocks: true }, Dependent { blocks: false }];
        let loose = [Dependent { blocks: false }];
        assert_eq!(plan_owner(false, &fg, &[]), OwnerAction::Nothing);
        assert_eq!(plan_owner(true, &fg, &blocking), OwnerAction::Nothing);
        assert_eq!(
            plan_owner(true, &fg, &loose),
            OwnerAction::RemoveFinalizer(FOREGROUND)
        );
        assert_eq!(
            plan_owner(true, &fg, &[]),
            OwnerAction::RemoveFinalizer(FOREGROUND)
        );
        assert_eq!(
            plan_owner(true, &or, &blocking),
            OwnerAction::Orphan(vec![0, 1])
        );
        assert_eq!(
            plan_owner(true, &or, &[]),
            OwnerAction::RemoveFinalizer(ORPHAN)
        );
        assert_eq!(plan_owner(true, &[], &blocking), OwnerAction::Nothing);
    }
}
