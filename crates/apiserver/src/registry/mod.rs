//! The registry: the one write path. Every create, update, patch and delete (from kubectl or
//! from a controller) passes through here: metadata, defaulting, validation, resourceVersion
//! checks, no-op detection, finalizers and namespaces; then the store.

pub mod admission;
mod apply;
mod binding;
pub mod decode;
pub mod list;
pub mod managed;
pub mod patch;
mod prepared;

use crate::error::{ApiError, ApiResult};
use crate::object::{self, from_stored, key, meta_mut, meta_str, to_stored, with_revision};
use crate::request::FieldValidation;
use admission::Op;
use api::resource::{self, ResourceInfo};
use bytes::Bytes;
use jiff::Timestamp;
use managed::Ownership;
use rand::Rng;
use serde_json::{Value, json};
use std::sync::Arc;
use store::Store;

/// The clock: injected so tests can fix time.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Namespaces that exist from the start and cannot be deleted (the first three).
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Finalizer the garbage collector removes once it has orphaned an object's dependents.
pub const FINALIZER_ORPHAN: &str = "orphan";
/// Finalizer the garbage collector removes once an object's blocking dependents are gone.
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

/// How a delete treats the object's dependents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Delete dependents after the owner.
    Background,
    /// Delete dependents first; the owner waits with the `foregroundDeletion` finalizer.
    Foreground,
    /// Keep dependents, without their reference to the owner.
    Orphan,
}

/// The propagation of a delete: the request's policy, else the resource's default. batch/v1
/// Jobs orphan by default "for back compatibility" (the real jobStrategy's
/// DefaultGarbageCollectionPolicy); kubectl always sends a policy (Background by default).
pub fn propagation(r: &ResourceInfo, opts: &DeleteOptions) -> Propagation {
    match opts.propagation_policy.as_deref() {
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(_) => Propagation::Background,
        None if r.group == "batch" && r.kind == "Job" => Propagation::Orphan,
        None => Propagation::Background,
    }
}

/// Adds the garbage collector's finalizer for `p` (Background has none) to `obj`.
fn add_gc_finalizer(obj: &mut Value, p: Propagation) {
    let f = match p {
        Propagation::Orphan => FINALIZER_ORPHAN,
        Propagation::Foreground => FINALIZER_FOREGROUND,
        Propagation::Background => return,
    };
    let list = meta_mut(obj)
        .entry("finalizers")
        .or_insert_with(|| json!([]));
    if let Some(a) = list.as_array_mut()
        && !a.iter().any(|x| x == f)
    {
        a.push(json!(f));
    }
}

/// Options of a write request.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// `dryRun=All`: admit but do not persist.
    pub dry_run: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            dry_run: false,
            field_manager: None,
            field_validation: FieldValidation::Strict,
        }
    }
}

/// `DeleteOptions` fields the registry honours.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
    /// `propagationPolicy`.
    pub propagation_policy: Option<String>,
    /// `gracePeriodSeconds`: for pods bound to a node, how long the node agent waits
    /// between SIGTERM and SIGKILL; 0 removes the pod at once.
    pub grace_period_seconds: Option<i64>,
}

/// What a delete did.
#[derive(Debug)]
pub enum Deleted {
    /// Removed now; the last state of the object.
    Gone(Bytes),
    /// Marked for deletion (finalizers pending); the object as it is now.
    Pending(Bytes),
}

/// The grace period of deleting `pod`, when the deletion is graceful: the pod is bound to a
/// node, not terminal, and the period (the request's, else the pod's
/// `terminationGracePeriodSeconds`, else 30) is positive. `None`: delete at once.
fn pod_grace_period(pod: &Value, opts: &DeleteOptions) -> Option<i64> {
    let spec = pod.get("spec");
    let bound = spec
        .and_then(|s| s.get("nodeName"))
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let phase = pod
        .get("status")
        .and_then(|s| s.get("phase"))
        .and_then(Value::as_str);
    let terminal = matches!(phase, Some("Succeeded" | "Failed"));
    let grace = opts.grace_period_seconds.unwrap_or_else(|| {
        spec.and_then(|s| s.get("terminationGracePeriodSeconds"))
            .and_then(Value::as_i64)
            .unwrap_or(30)
    });
    // A negative period means "the minimum": 1 second, as the real server treats it.
    let grace = if grace < 0 { 1 } else { grace };
    (bound && !terminal && grace > 0).then_some(grace)
}

/// Whether a stored namespace has a `metadata.deletionTimestamp` (a string): it is being
/// terminated. Reads only that field; the rest of the object is skipped, not built.
fn namespace_terminating(stored: &[u8]) -> ApiResult<bool> {
    #[derive(serde::Deserialize)]
    struct Namespace {
        metadata: Option<Metadata>,
    }
    #[derive(serde::Deserialize)]
    struct Metadata {
        #[serde(rename = "deletionTimestamp")]
        deletion_timestamp: Option<Value>,
    }
    match serde_json::from_slice::<Namespace>(stored) {
        Ok(ns) => Ok(ns
            .metadata
            .and_then(|m| m.deletion_timestamp)
            .is_some_and(|t| t.is_string())),
        // Not the expected shape: read it the general way.
        Err(_) => Ok(meta_str(&from_stored(stored, 0)?, "deletionTimestamp").is_some()),
    }
}

/// The registry over a store.
#[derive(Clone)]
pub struct Registry {
    store: Store,
    clock: Clock,
}

/// Kubernetes' random name suffix alphabet (no vowels, no confusable digits).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Five random characters as `generateName` uses.
pub fn random_suffix() -> String {
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHANUMS[rng.random_range(0..ALPHANUMS.len())] as char)
        .collect()
}

/// A random (version 4) UUID for a new object, from the thread's CSPRNG (`rand::rng`,
/// seeded from the OS) instead of a `getrandom` system call per object.
pub fn new_uid() -> String {
    uuid::Builder::from_random_bytes(rand::rng().random())
        .into_uuid()
        .to_string()
}

/// RFC 3339 at second precision, as metav1.Time serializes.
pub fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn has_generation(r: &ResourceInfo) -> bool {
    matches!((r.group, r.kind), ("batch", "Job" | "CronJob"))
}

fn has_status(r: &ResourceInfo) -> bool {
    r.subresource("status").is_some()
}

/// Whether `a` and `b` are the same object but for `metadata.resourceVersion`, for no-op
/// detection (managedFields count: a write that only changes ownership is a write).
/// Compared in place, without copying either object.
fn same_but_revision(a: &Value, b: &Value) -> bool {
    let (Value::Object(a), Value::Object(b)) = (a, b) else {
        return a == b;
    };
    let metadata = match (a.get("metadata"), b.get("metadata")) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => equal_except(x, y, "resourceVersion"),
        (x, y) => x == y,
    };
    metadata && equal_except(a, b, "metadata")
}

/// Map equality (order aside, as `Map`'s own) ignoring the key `skip`.
fn equal_except(
    a: &serde_json::Map<String, Value>,
    b: &serde_json::Map<String, Value>,
    skip: &str,
) -> bool {
    let len = |m: &serde_json::Map<String, Value>| m.len() - usize::from(m.contains_key(skip));
    len(a) == len(b)
        && a.iter()
            .filter(|(k, _)| *k != skip)
            .all(|(k, v)| b.get(k) == Some(v))
}

fn finalizers_empty(obj: &Value) -> bool {
    obj.get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
}

/// How a DELETE's failed UID or resourceVersion precondition begins, as the real server words it.
const PRECONDITION_FAILED: &str = "Precondition failed";

impl Registry {
    /// A registry over `store`, reading time from `clock`.
    pub fn new(store: Store, clock: Clock) -> Self {
        Registry { store, clock }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Now.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Creates the system namespaces if absent.
    pub async fn bootstrap(&self) -> ApiResult<()> {
        let Some(ns) = resource::find("", "v1", "namespaces") else {
            return Err(ApiError::Internal("namespaces resource missing".into()));
        };
        for name in SYSTEM_NAMESPACES {
            if self.store.get(&key(ns, None, name))?.is_none() {
                let obj =
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
                match self.create(ns, None, obj, &WriteOptions::default()).await {
                    Ok(_) | Err(ApiError::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Reads one object: its stored bytes and revision.
    pub fn get_raw(
        &self,
        r: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
    ) -> ApiResult<store::KeyValue> {
        self.store
            .get(&key(r, ns, name))?
            .ok_or_else(|| ApiError::NotFound {
                resource: r,
                name: name.to_owned(),
            })
    }

    /// Reads one object as JSON bytes with its resourceVersion.
    pub fn get(&self, r: &'static ResourceInfo, ns: Option<&str>, name: &str) -> ApiResult<Bytes> {
        let kv = self.get_raw(r, ns, name)?;
        Ok(with_revision(&kv.value, kv.mod_revision))
    }

    /// Reads one object as a JSON value.
    pub fn get_value(
        &self,
        r: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
    ) -> ApiResult<Value> {
        let kv = self.get_raw(r, ns, name)?;
        from_stored(&kv.value, kv.mod_revision)
    }

    async fn check_namespace(
        &self,
        r: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
    ) -> ApiResult<()> {
        let (true, Some(ns)) = (r.namespaced, ns) else {
            return Ok(());
        };
        let Some(nsr) = resource::find("", "v1", "namespaces") else {
            return Ok(());
        };
        let Some(kv) = self.store.get(&key(nsr, None, ns))? else {
            return Err(ApiError::NotFound {
                resource: nsr,
                name: ns.to_owned(),
            });
        };
        if namespace_terminating(&kv.value)? {
            return Err(ApiError::Forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                r.qualified()
            )));
        }
        Ok(())
    }

    /// Creates `obj` (already decoded) in `ns`.
    pub async fn create(
        &self,
        r: &'static ResourceInfo,
        ns: Option<&str>,
        obj: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Bytes> {
        self.create_with(r, ns, obj, opts, Ownership::Record).await
    }

    /// Creates `obj`; `managed` are the managedFields to store (a server-side apply's), else
    /// the request's `fieldManager` gets an Update entry for what it set.
    pub(crate) async fn create_with(
        &self,
        r: &'static ResourceInfo,
        ns: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
        managed: Ownership,
    ) -> ApiResult<Bytes> {
        let now = self.now();
        let ts = rfc3339(now);
        {
            let m = meta_mut(&mut obj);
            match (r.namespaced, ns, m.get("namespace").and_then(Value::as_str)) {
                (true, Some(url_ns), Some(body_ns)) if !body_ns.is_empty() && body_ns != url_ns => {
                    return Err(ApiError::BadRequest(
                        "the namespace of the provided object does not match the namespace sent on the request".into(),
                    ));
                }
                (true, Some(url_ns), _) => {
                    m.insert("namespace".into(), json!(url_ns));
                }
                _ => {
                    m.remove("namespace");
                }
            }
            let name = m
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let generate = m
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if name.is_empty() && !generate.is_empty() {
                m.insert(
                    "name".into(),
                    json!(format!("{generate}{}", random_suffix())),
                );
            }
            m.insert("uid".into(), json!(new_uid()));
            m.insert("creationTimestamp".into(), json!(ts));
            m.remove("resourceVersion");
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
            if has_generation(r) {
                m.insert("generation".into(), json!(1));
            } else {
                m.remove("generation");
            }
        }
        // A create by a field manager of a kind whose defaulted form admission computes,
        // without managedFields in the body (every controller's, kubectl's): the manager's
        // entry is recorded inside admission, on its one decode and defaulting.
        let body_has_managed = obj
            .get("metadata")
            .is_some_and(|m| m.get("managedFields").is_some());
        let record_in_admission = matches!(managed, Ownership::Record)
            && opts.field_manager.is_some()
            && !body_has_managed
            && admission::records_in_admission(r);
        let entries = match (managed, &opts.field_manager) {
            _ if record_in_admission => None,
            (Ownership::Set(given), _) => given,
            (Ownership::Record, Some(manager)) => {
                let defaulted = admission::defaulted(r, &obj).unwrap_or_else(|| obj.clone());
                managed::on_create(r, &obj, &defaulted, manager, &ts)
            }
            (Ownership::Record, None) => obj
                .get("metadata")
                .and_then(|m| m.get("managedFields"))
                .filter(|_| managed::entries_of(&obj).is_some())
                .cloned(),
        };
        {
            let m = meta_mut(&mut obj);
            match entries {
                Some(e) => {
                    m.insert("managedFields".into(), e);
                }
                None => {
                    m.remove("managedFields");
                }
            }
        }
        if has_status(r)
            && r.kind != "Namespace"
            && r.kind != "Pod"
            && r.kind != "Node"
            && let Some(o) = obj.as_object_mut()
        {
            // (A Job's or CronJob's status is never owned by a create's manager: the
            // recorded entry resets it; so recording after this removal changes nothing.)
            o.remove("status");
        }
        let name = meta_str(&obj, "name").unwrap_or_default().to_owned();
        self.check_namespace(r, ns, &name).await?;
        let obj = match opts.field_manager.as_deref() {
            Some(manager) if record_in_admission => {
                admission::admit_create_recording(r, obj, &mut |defaulted: &Value| {
                    managed::on_create(r, &Value::Null, defaulted, manager, &ts)
                })?
            }
            _ => admission::admit(r, obj, Op::Create)?,
        };
        let name = meta_str(&obj, "name").unwrap_or_default().to_owned();
        if name.is_empty() {
            return Err(ApiError::Invalid {
                resource: r,
                name,
                errors: vec![api::validation::FieldError::required(
                    "metadata.name",
                    "name or generateName is required",
                )],
            });
        }
        let stored = to_stored(&obj)?;
        if opts.dry_run {
            // As the real dry-run storage: an existing key is still a conflict, and the
            // object, never stored, has no resourceVersion.
            if self.store.get(&key(r, ns, &name))?.is_some() {
                return Err(ApiError::AlreadyExists { resource: r, name });
            }
            return Ok(stored);
        }
        match self.store.create(&key(r, ns, &name), stored.clone()).await {
            Ok(kv) => Ok(with_revision(&stored, kv.mod_revision)),
            Err(store::Error::AlreadyExists { .. }) => {
                Err(ApiError::AlreadyExists { resource: r, name })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the object `name` with `new` (already decoded), through the main resource or
    /// the `status` subresource.
    pub async fn update(
        &self,
        r: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        new: Value,
        status: bool,
        opts: &WriteOptions,
    ) -> ApiResult<Bytes> {
        // The update handler's checkName: the body names the object on the URL.
        let body_name = meta_str(&new, "name").unwrap_or_default();
        if body_name != name {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if let (true, Some(url_ns), Some(body_ns)) = (r.namespaced, ns, meta_str(&new, "namespace"))
            && !body_ns.is_empty()
            && body_ns != url_ns
        {
            return Err(ApiError::BadRequest(format!(
                "the namespace of the object ({body_ns}) does not match the namespace on the URL ({url_ns})"
            )));
        }
        let kv = self.get_raw(r, ns, name)?;
        let old = from_stored(&kv.value, kv.mod_revision)?;
        if let Some(rv) = meta_str(&new, "resourceVersion").filter(|v| !v.is_empty())
            && rv != kv.mod_revision.to_string()
        {
            return Err(ApiError::Conflict {
                    resource: r,
                    name: name.to_owned(),
                    detail: "the object has been modified; please apply your changes to the latest version and try again".into(),
                });
        }
        if let (true, Some(uid)) = (true, meta_str(&new, "uid").filter(|u| !u.is_empty()))
            && Some(uid) != meta_str(&old, "uid")
        {
            return Err(ApiError::Conflict {
                resource: r,
                name: name.to_owned(),
                detail: format!(
                    "{PRECONDITION_FAILED}: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&old, "uid").unwrap_or_default()
                ),
            });
        }
        self.write_update(r, ns, name, &kv, old, new, status, opts, Ownership::Record)
            .await
    }

    /// Shared tail of update, patch and apply: merge server-owned metadata, admit, record
    /// field ownership (`managed`: a server-side apply's entries, else the request's
    /// `fieldManager` gets an Update entry), detect no-ops, write with compare-and-swap on
    /// the revision read.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn write_update(
        &self,
        r: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        kv: &store::KeyValue,
        old: Value,
        new: Value,
        status: bool,
        opts: &WriteOptions,
        managed: Ownership,
    ) -> ApiResult<Bytes> {
        let mut old = old;
        // The stored entries, set aside while admission decodes and field tracking compares
        // the object (neither reads them); put back before the no-op check.
        let old_managed = old
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .and_then(|m| m.shift_remove("managedFields"));
        let requested = new
            .get("metadata")
            .and_then(|m| m.get("managedFields"))
            .cloned();
        let mut next = if status {
            // The status strategies reset spec (and a pod's ownerReferences) to the stored
            // ones; other metadata changes stand, as on the real server.
            let mut n = new;
            match old.get("spec") {
                Some(s) => n["spec"] = s.clone(),
                None => {
                    if let Some(o) = n.as_object_mut() {
                        o.remove("spec");
                    }
                }
            }
            if r.kind == "Pod" {
                let refs = old.get("metadata").and_then(|m| m.get("ownerReferences"));
                let m = meta_mut(&mut n);
                match refs {
                    Some(v) => {
                        m.insert("ownerReferences".into(), v.clone());
                    }
                    None => {
                        m.remove("ownerReferences");
                    }
                }
            }
            n
        } else {
            let mut n = new;
            if has_status(r) {
                match old.get("status") {
                    Some(s) => n["status"] = s.clone(),
                    None => {
                        if let Some(o) = n.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            n
        };
        if let Some(o) = next.as_object_mut() {
            o.insert("apiVersion".into(), json!(r.api_version()));
            o.insert("kind".into(), json!(r.kind));
        }
        {
            let old_meta = old.get("metadata").unwrap_or(&Value::Null);
            let m = meta_mut(&mut next);
            for k in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match old_meta.get(k) {
                    Some(v) => {
                        m.insert(k.into(), v.clone());
                    }
                    None => {
                        m.remove(k);
                    }
                }
            }
            // Validation sees the revision the update is based on, as the real server does.
            m.insert("resourceVersion".into(), json!(kv.mod_revision.to_string()));
            m.remove("managedFields");
        }
        let mut next = admission::admit(
            r,
            next,
            if status {
                Op::Status { old: &old }
            } else {
                Op::Update { old: &old }
            },
        )?;
        if has_generation(r) && next.get("spec") != old.get("spec") {
            let g = old
                .get("metadata")
                .and_then(|m| m.get("generation"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta_mut(&mut next).insert("generation".into(), json!(g + 1));
        }
        let ts = rfc3339(self.now());
        let entries = match managed {
            Ownership::Set(given) => given,
            Ownership::Record => managed::on_update(
                r,
                &old,
                old_managed.as_ref(),
                &next,
                requested.as_ref(),
                opts.field_manager.as_deref(),
                status,
                &ts,
            ),
        };
        {
            let m = meta_mut(&mut next);
            match entries {
                Some(e) => {
                    m.insert("managedFields".into(), e);
                }
                None => {
                    m.remove("managedFields");
                }
            }
        }
        if let Some(v) = old_managed {
            meta_mut(&mut old).insert("managedFields".into(), v);
        }
        if same_but_revision(&next, &old) {
            return Ok(with_revision(&kv.value, kv.mod_revision));
        }
        let stored = to_stored(&next)?;
        if opts.dry_run {
            return Ok(with_revision(&stored, kv.mod_revision));
        }
        let k = key(r, ns, name);
        let graceful = old
            .get("metadata")
            .and_then(|m| m.get("deletionGracePeriodSeconds"))
            .and_then(Value::as_i64)
            .is_some_and(|g| g > 0);
        if meta_str(&next, "deletionTimestamp").is_some() && finalizers_empty(&next) && !graceful {
            // The last finalizer is gone: the deletion completes now (a graceful pod
            // deletion waits for the node agent's delete with grace 0 instead).
            return match self.store.delete(&k, Some(kv.mod_revision)).await {
                Ok(d) => Ok(with_revision(&stored, d.mod_revision)),
                Err(e) => Err(self.write_error(r, name, e)),
            };
        }
        match self
            .store
            .update(&k, stored.clone(), Some(kv.mod_revision))
            .await
        {
            Ok(new_kv) => Ok(with_revision(&stored, new_kv.mod_revision)),
            Err(e) => Err(self.write_error(r, name, e)),
        }
    }

    fn write_error(&self, r: &'static ResourceInfo, name: &str, e: store::Error) -> ApiError {
        match e {
            store::Error::Conflict { .. } => ApiError::Conflict {
                resource: r,
                name: name.to_owned(),
                detail: "the object has been modified; please apply your changes to the latest version and try again".into(),
            },
            store::Error::NotFound { .. } => ApiError::NotFound {
                resource: r,
                name: name.to_owned(),
            },
            other => other.into(),
        }
    }

    /// Deletes `name`, honouring preconditions and finalizers. A concurrent write between the
    /// read and the compare-and-swap (a controller's status update) is not the caller's
    /// conflict: as the real registry's storage delete and `GuaranteedUpdate` do, the
    /// deletion is retried on the new version; only failed preconditions reach the caller.
    pub async fn delete(
        &self,
        r: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> ApiResult<Deleted> {
        const ATTEMPTS: usize = 32;
        let mut attempt = 1;
        loop {
            match self.delete_once(r, ns, name, opts).await {
                Err(ApiError::Conflict { detail, .. })
                    if attempt < ATTEMPTS && !detail.starts_with(PRECONDITION_FAILED) =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// One attempt of [`Self::delete`] on the version read now.
    async fn delete_once(
        &self,
        r: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> ApiResult<Deleted> {
        if r.kind == "Namespace" && SYSTEM_NAMESPACES[..3].contains(&name) {
            return Err(ApiError::Forbidden(format!(
                "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
            )));
        }
        let kv = self.get_raw(r, ns, name)?;
        let mut obj = from_stored(&kv.value, kv.mod_revision)?;
        if let Some(uid) = &opts.uid
            && Some(uid.as_str()) != meta_str(&obj, "uid")
        {
            return Err(ApiError::Conflict {
                resource: r,
                name: name.to_owned(),
                detail: format!(
                    "{PRECONDITION_FAILED}: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&obj, "uid").unwrap_or_default()
                ),
            });
        }
        if let Some(rv) = &opts.resource_version
            && *rv != kv.mod_revision.to_string()
        {
            return Err(ApiError::Conflict {
                resource: r,
                name: name.to_owned(),
                detail: format!(
                    "{PRECONDITION_FAILED}: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    kv.mod_revision
                ),
            });
        }
        if opts.dry_run {
            return Ok(Deleted::Gone(with_revision(&kv.value, kv.mod_revision)));
        }
        let k = key(r, ns, name);
        if r.kind == "Namespace" {
            return self.delete_namespace(r, name, kv, obj).await;
        }
        if r.kind == "Pod"
            && let Some(grace) = pod_grace_period(&obj, opts)
        {
            return self
                .delete_pod_gracefully(r, name, &kv, obj, grace, opts)
                .await;
        }
        if meta_str(&obj, "deletionTimestamp").is_some() {
            if r.kind == "Pod" && !finalizers_empty(&obj) && opts.grace_period_seconds == Some(0) {
                // Forced while finalizers remain: the node agent kills the containers now.
                let current = obj
                    .get("metadata")
                    .and_then(|m| m.get("deletionGracePeriodSeconds"))
                    .and_then(Value::as_i64);
                if current != Some(0) {
                    let now = self.now();
                    return self.mark_deleting(r, name, &k, &kv, obj, now, 0).await;
                }
            }
            if r.kind == "Pod" && finalizers_empty(&obj) {
                // A forced (grace 0) delete of a terminating pod removes it now.
                let d = self
                    .store
                    .delete(&k, Some(kv.mod_revision))
                    .await
                    .map_err(|e| self.write_error(r, name, e))?;
                return Ok(Deleted::Gone(with_revision(&kv.value, d.mod_revision)));
            }
            return Ok(Deleted::Pending(with_revision(&kv.value, kv.mod_revision)));
        }
        // The garbage collector's finalizer for the propagation policy, as the real
        // registry adds it to every kind: Orphan and Foreground keep the object until the
        // collector has dealt with its dependents; Background deletes now and collects them
        // afterwards.
        add_gc_finalizer(&mut obj, propagation(r, opts));
        if !finalizers_empty(&obj) {
            let now = self.now();
            return self.mark_deleting(r, name, &k, &kv, obj, now, 0).await;
        }
        let d = self
            .store
            .delete(&k, Some(kv.mod_revision))
            .await
            .map_err(|e| self.write_error(r, name, e))?;
        Ok(Deleted::Gone(with_revision(&kv.value, d.mod_revision)))
    }

    /// Graceful deletion of a pod bound to a node (`podStrategy.CheckGracefulDelete`):
    /// `deletionTimestamp = now + grace` and `deletionGracePeriodSeconds = grace`, plus the
    /// propagation's finalizer; the node agent stops the containers and then deletes the pod
    /// with grace 0. A second delete may only shorten the grace period.
    async fn delete_pod_gracefully(
        &self,
        r: &'static ResourceInfo,
        name: &str,
        kv: &store::KeyValue,
        mut obj: Value,
        grace: i64,
        opts: &DeleteOptions,
    ) -> ApiResult<Deleted> {
        let current = obj
            .get("metadata")
            .and_then(|m| m.get("deletionGracePeriodSeconds"))
            .and_then(Value::as_i64);
        if current.is_some_and(|c| c <= grace) {
            return Ok(Deleted::Pending(with_revision(&kv.value, kv.mod_revision)));
        }
        if current.is_none() {
            add_gc_finalizer(&mut obj, propagation(r, opts));
        }
        let now = self.now();
        let at = now
            .checked_add(jiff::SignedDuration::from_secs(grace))
            .unwrap_or(now);
        let ns = meta_str(&obj, "namespace").map(str::to_owned);
        let k = key(r, ns.as_deref(), name);
        self.mark_deleting(r, name, &k, kv, obj, at, grace).await
    }

    /// Marks `obj` as being deleted (`deletionTimestamp` = `at`, `deletionGracePeriodSeconds`
    /// = `grace`) and writes it with compare-and-swap on the revision it was read at.
    #[allow(clippy::too_many_arguments)]
    async fn mark_deleting(
        &self,
        r: &'static ResourceInfo,
        name: &str,
        k: &str,
        kv: &store::KeyValue,
        mut obj: Value,
        at: Timestamp,
        grace: i64,
    ) -> ApiResult<Deleted> {
        let m = meta_mut(&mut obj);
        m.insert("deletionTimestamp".into(), json!(rfc3339(at)));
        m.insert("deletionGracePeriodSeconds".into(), json!(grace));
        let stored = to_stored(&obj)?;
        let new_kv = self
            .store
            .update(k, stored.clone(), Some(kv.mod_revision))
            .await
            .map_err(|e| self.write_error(r, name, e))?;
        Ok(Deleted::Pending(with_revision(
            &stored,
            new_kv.mod_revision,
        )))
    }

    /// Deletes a namespace: marks it Terminating, deletes everything in it, then removes it.
    async fn delete_namespace(
        &self,
        r: &'static ResourceInfo,
        name: &str,
        kv: store::KeyValue,
        mut obj: Value,
    ) -> ApiResult<Deleted> {
        let k = key(r, None, name);
        let mut rev = kv.mod_revision;
        if meta_str(&obj, "deletionTimestamp").is_none() {
            meta_mut(&mut obj).insert("deletionTimestamp".into(), json!(rfc3339(self.now())));
            obj["status"] = json!({"phase": "Terminating"});
            let stored = to_stored(&obj)?;
            rev = self
                .store
                .update(&k, stored, Some(rev))
                .await
                .map_err(|e| self.write_error(r, name, e))?
                .mod_revision;
        }
        let terminating = to_stored(&obj)?;
        for res in resource::RESOURCES.iter().filter(|x| x.namespaced) {
            let listed = self.store.list(
                &object::prefix(res, Some(name)),
                &store::ListOptions::default(),
            )?;
            for item in listed.items {
                match self.store.delete(&item.key, None).await {
                    Ok(_) | Err(store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        match self.store.delete(&k, None).await {
            Ok(_) | Err(store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(Deleted::Pending(with_revision(&terminating, rev)))
    }
}

#[cfg(test)]
mod tests {
    use super::same_but_revision;
    use serde_json::json;

    /// New objects' uids are random version 4 UUIDs (RFC 9562 variant), all different.
    #[test]
    fn uids_are_random_version_4_uuids() {
        let uids: std::collections::HashSet<String> = (0..1000).map(|_| super::new_uid()).collect();
        assert_eq!(uids.len(), 1000);
        for u in &uids {
            let parsed = uuid::Uuid::parse_str(u).expect("a uuid");
            assert_eq!(parsed.get_version(), Some(uuid::Version::Random), "{u}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{u}");
            assert_eq!(
                u,
                &parsed.hyphenated().to_string(),
                "lower-case, hyphenated"
            );
        }
    }

    #[test]
    fn a_namespace_is_terminating_with_a_deletion_timestamp() {
        for (stored, terminating) in [
            (
                json!({"metadata": {"name": "a", "deletionTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Terminating"}}),
                true,
            ),
            (
                json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes"]}}),
                false,
            ),
            (
                json!({"metadata": {"name": "a", "deletionTimestamp": null}}),
                false,
            ),
            (json!({"metadata": {"deletionTimestamp": 5}}), false),
            (json!({"metadata": 7}), false),
            (json!({"kind": "Namespace"}), false),
        ] {
            let bytes = serde_json::to_vec(&stored).expect("json");
            assert_eq!(
                super::namespace_terminating(&bytes).expect("parsed"),
                terminating,
                "{stored}"
            );
        }
    }

    #[test]
    fn no_op_detection_ignores_only_the_revision() {
        let base = json!({"kind": "Job", "metadata": {"name": "a", "resourceVersion": "1", "labels": {"x": "1"}}, "spec": {"a": 1}});
        for (other, same) in [
            (
                json!({"spec": {"a": 1}, "metadata": {"labels": {"x": "1"}, "name": "a", "resourceVersion": "9"}, "kind": "Job"}),
                true,
            ),
            (
                json!({"kind": "Job", "metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"a": 1}}),
                true,
            ),
            (
                json!({"kind": "Job", "metadata": {"name": "a", "resourceVersion": "1", "labels": {"x": "2"}}, "spec": {"a": 1}}),
                false,
            ),
            (
                json!({"kind": "Job", "metadata": {"name": "a", "resourceVersion": "1", "labels": {"x": "1"}}, "spec": {"a": 1}, "status": {}}),
                false,
            ),
            (
                json!({"kind": "Job", "metadata": {"name": "a", "resourceVersion": "1", "labels": {"x": "1"}, "managedFields": []}, "spec": {"a": 1}}),
                false,
            ),
            (
                json!({"kind": "Job", "metadata": {"name": "a", "resourceVersion": "1", "labels": {"x": "1"}}}),
                false,
            ),
            (json!({"kind": "Job", "spec": {"a": 1}}), false),
        ] {
            assert_eq!(same_but_revision(&base, &other), same, "{other}");
            assert_eq!(same_but_revision(&other, &base), same, "{other}");
        }
        assert!(same_but_revision(
            &json!({"metadata": {"resourceVersion": "2"}}),
            &json!({"metadata": {}})
        ));
        assert!(!same_but_revision(&json!({"metadata": {}}), &json!({})));
        assert!(same_but_revision(
            &json!({"metadata": 1}),
            &json!({"metadata": 1})
        ));
    }
}
