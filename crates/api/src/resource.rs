//! The resources batchlet serves: names, kinds, scope, verbs and subresources, as the real
//! v1.33 server advertises them in discovery. One table, used by discovery, OpenAPI, storage
//! keys and error messages.

/// Verbs of a fully writable resource, in the order the real server lists them.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Verbs of a resource that is only ever created, never stored (the access reviews).
pub const CREATE_ONLY: &[&str] = &["create"];

/// A subresource advertised in discovery.
#[derive(Debug, Clone, Copy)]
pub struct Subresource {
    /// Name, e.g. `status`.
    pub name: &'static str,
    /// Kind returned, e.g. `Job` for `jobs/status`.
    pub kind: &'static str,
    /// Group of the returned kind.
    pub group: &'static str,
    /// Version of the returned kind.
    pub version: &'static str,
    /// Verbs.
    pub verbs: &'static [&'static str],
}

/// One served resource.
#[derive(Debug, Clone, Copy)]
pub struct ResourceInfo {
    /// API group (`""` for core).
    pub group: &'static str,
    /// Version, e.g. `v1`.
    pub version: &'static str,
    /// Kind, e.g. `Job`.
    pub kind: &'static str,
    /// Plural resource name, e.g. `jobs`.
    pub plural: &'static str,
    /// Singular resource name, e.g. `job`.
    pub singular: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names, e.g. `cj`.
    pub short_names: &'static [&'static str],
    /// Categories, e.g. `all`.
    pub categories: &'static [&'static str],
    /// Verbs.
    pub verbs: &'static [&'static str],
    /// Subresources.
    pub subresources: &'static [Subresource],
}

impl ResourceInfo {
    /// `batch/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The qualified resource as errors print it: `jobs.batch`, `pods`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The qualified kind as validation errors print it: `Job.batch`, `Pod`.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// Whether the resource is only created and never stored (its objects are answers, as
    /// the access reviews'), so only `POST` on its collection exists.
    pub fn create_only(&self) -> bool {
        self.verbs == CREATE_ONLY
    }

    /// The subresource named `name`, if served.
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }
}

const fn status(group: &'static str, kind: &'static str) -> Subresource {
    Subresource {
        name: "status",
        kind,
        group,
        version: "v1",
        verbs: &["get", "patch", "update"],
    }
}

/// Every resource batchlet serves, core group first, then the named groups in the real
/// server's discovery order.
pub static RESOURCES: &[ResourceInfo] = &[
    ResourceInfo {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        verbs: &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
        subresources: &[status("", "Namespace")],
    },
    ResourceInfo {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        singular: "node",
        namespaced: false,
        short_names: &["no"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[status("", "Node")],
    },
    ResourceInfo {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        namespaced: true,
        short_names: &["po"],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &[
            Subresource {
                name: "binding",
                kind: "Binding",
                group: "",
                version: "v1",
                verbs: &["create"],
            },
            Subresource {
                name: "log",
                kind: "Pod",
                group: "",
                version: "v1",
                verbs: &["get"],
            },
            status("", "Pod"),
        ],
    },
    ResourceInfo {
        group: "",
        version: "v1",
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        singular: "persistentvolumeclaim",
        namespaced: true,
        short_names: &["pvc"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[status("", "PersistentVolumeClaim")],
    },
    ResourceInfo {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
    },
    ResourceInfo {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "SelfSubjectReview",
        plural: "selfsubjectreviews",
        singular: "selfsubjectreview",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CREATE_ONLY,
        subresources: &[],
    },
    ResourceInfo {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectAccessReview",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CREATE_ONLY,
        subresources: &[],
    },
    ResourceInfo {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectRulesReview",
        plural: "selfsubjectrulesreviews",
        singular: "selfsubjectrulesreview",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CREATE_ONLY,
        subresources: &[],
    },
    ResourceInfo {
        group: "batch",
        version: "v1",
        kind: "CronJob",
        plural: "cronjobs",
        singular: "cronjob",
        namespaced: true,
        short_names: &["cj"],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &[status("batch", "CronJob")],
    },
    ResourceInfo {
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
        singular: "job",
        namespaced: true,
        short_names: &[],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &[status("batch", "Job")],
    },
    ResourceInfo {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
    },
];

/// The resource with this group, version and plural name.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource serving this group, version and kind.
pub fn find_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// The group-versions served, in discovery order: (group, version).
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}
