//! The kinds the collector knows: every served resource that can be deleted and watched
//! (`api::resource`'s table, without the create-only reviews), as owners and as dependents,
//! and how it reads and writes each through the dynamic API.

use api::resource::{RESOURCES, ResourceInfo};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use std::hash::{Hash, Hasher};

/// One kind the collector knows (a row of `api::resource`'s table).
#[derive(Debug, Clone, Copy)]
pub struct Kind(pub &'static ResourceInfo);

impl PartialEq for Kind {
    fn eq(&self, other: &Self) -> bool {
        (self.0.group, self.0.kind) == (other.0.group, other.0.kind)
    }
}

impl Eq for Kind {}

impl Hash for Kind {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.0.group, self.0.kind).hash(state);
    }
}

impl Kind {
    /// Every kind the collector knows.
    pub fn all() -> impl Iterator<Item = Kind> {
        RESOURCES
            .iter()
            .filter(|r| r.verbs.contains(&"delete") && r.verbs.contains(&"watch"))
            .map(Kind)
    }

    /// The kind an ownerReference's `apiVersion` and `kind` name, if it is known.
    pub fn of_reference(api_version: &str, kind: &str) -> Option<Kind> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        Kind::all().find(|k| k.0.group == group && k.0.version == version && k.0.kind == kind)
    }

    /// `Pod`, `Job.batch`.
    pub fn name(&self) -> String {
        self.0.qualified_kind()
    }

    /// Whether the server's shared caches (`controllers::informers`) hold this kind.
    pub fn shared(&self) -> bool {
        matches!(
            (self.0.group, self.0.kind),
            ("", "Pod") | ("batch", "Job") | ("batch", "CronJob")
        )
    }

    /// Whether only the objects that have owners or are being deleted are kept of this
    /// kind (Events: there can be very many, and they are almost never owners; an owner
    /// not kept is read with a GET).
    pub fn sparse(&self) -> bool {
        (self.0.group, self.0.kind) == ("", "Event")
    }

    /// The kind for the dynamic API.
    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.0.group.to_owned(),
            version: self.0.version.to_owned(),
            api_version: self.0.api_version(),
            kind: self.0.kind.to_owned(),
            plural: self.0.plural.to_owned(),
        }
    }

    /// The API of the objects in `namespace` (cluster-scoped kinds: `None`), or of all.
    pub fn api(&self, client: &Client, namespace: Option<&str>) -> Api<DynamicObject> {
        let ar = self.api_resource();
        match namespace {
            Some(ns) if self.0.namespaced => Api::namespaced_with(client.clone(), ns, &ar),
            _ => Api::all_with(client.clone(), &ar),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_deletable_kind_and_no_review() {
        let mut names: Vec<String> = Kind::all().map(|k| k.name()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "CronJob.batch",
                "Event",
                "Job.batch",
                "Lease.coordination.k8s.io",
                "Namespace",
                "Node",
                "PersistentVolumeClaim",
                "Pod"
            ]
        );
    }

    #[test]
    fn references_resolve() {
        let cases = [
            ("batch/v1", "Job", Some("Job.batch")),
            ("v1", "Node", Some("Node")),
            (
                "coordination.k8s.io/v1",
                "Lease",
                Some("Lease.coordination.k8s.io"),
            ),
            ("batch/v2", "Job", None),
            ("v1", "Job", None),
            ("apps/v1", "ReplicaSet", None),
            ("authorization.k8s.io/v1", "SelfSubjectAccessReview", None),
        ];
        for (api_version, kind, want) in cases {
            assert_eq!(
                Kind::of_reference(api_version, kind)
                    .map(|k| k.name())
                    .as_deref(),
                want,
                "{api_version} {kind}"
            );
        }
        let lease = Kind::of_reference("coordination.k8s.io/v1", "Lease").map(|k| k.api_resource());
        assert_eq!(
            lease.map(|a| (a.api_version, a.plural)),
            Some(("coordination.k8s.io/v1".to_owned(), "leases".to_owned()))
        );
    }
}
