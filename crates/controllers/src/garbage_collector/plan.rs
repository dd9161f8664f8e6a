//! The garbage collector's decisions, as pure functions of an object and what its owners and
//! dependents look like. They follow kube-controller-manager's `attemptToDeleteItem`,
//! `processDeletingDependentsItem` and `orphanDependents`.

/// Finalizer that keeps an owner until its blocking dependents are gone (Foreground).
pub const FOREGROUND: &str = "foregroundDeletion";
/// Finalizer that keeps an owner until its dependents no longer reference it (Orphan).
pub const ORPHAN: &str = "orphan";

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
