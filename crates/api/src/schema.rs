//! OpenAPI v3 documents generated from the Kubernetes types, and strict field checking.
//!
//! The schemas (with the upstream field descriptions) come from `k8s-openapi`'s `schemars`
//! implementations for v1.33; this module adds what the real server's documents carry and
//! kubectl reads: `x-kubernetes-group-version-kind` on each kind, the patch merge keys and
//! strategies on list fields, and `paths` whose PATCH operations accept `fieldValidation`.
//! The same schemas drive strict decoding: [`unknown_fields`] names every field a body has
//! that its kind does not, in the form the real server's strict decoder prints.

use crate::compiled::Compiled;
use crate::resource::{self, ResourceInfo};
use k8s_openapi::api::{
    authentication::v1 as authentication, authorization::v1 as authorization, batch::v1 as batch,
    coordination::v1 as coordination, core::v1 as core,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};
use std::fmt::Write as _;
use std::sync::OnceLock;

/// A generated OpenAPI v3 document for one group-version.
#[derive(Debug)]
pub struct GroupVersionDoc {
    /// `api/v1` or `apis/batch/v1`: the key in the root document.
    pub path: String,
    /// The serialized document.
    pub json: Vec<u8>,
    /// A hash of the document, used in `serverRelativeURL` as the real server does.
    pub hash: String,
    /// `components.schemas` of the document, for strict checking.
    schemas: Map<String, Value>,
}

/// Merge keys and strategies of list fields, as the upstream OpenAPI extensions declare them:
/// (schema, property, merge key, patch strategy, list-map keys).
const PATCH_META: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "io.k8s.api.core.v1.PodSpec",
        "containers",
        "name",
        "merge",
        &["name"],
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "initContainers",
        "name",
        "merge",
        &["name"],
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "ephemeralContainers",
        "name",
        "merge",
        &["name"],
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "volumes",
        "name",
        "merge,retainKeys",
        &["name"],
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "imagePullSecrets",
        "name",
        "merge",
        &["name"],
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "hostAliases",
        "ip",
        "merge",
        &["ip"],
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "resourceClaims",
        "name",
        "merge,retainKeys",
        &["name"],
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "schedulingGates",
        "name",
        "merge",
        &["name"],
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        "topologyKey",
        "merge",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    (
        "io.k8s.api.core.v1.Container",
        "env",
        "name",
        "merge",
        &["name"],
    ),
    (
        "io.k8s.api.core.v1.Container",
        "ports",
        "containerPort",
        "merge",
        &["containerPort", "protocol"],
    ),
    (
        "io.k8s.api.core.v1.Container",
        "volumeMounts",
        "mountPath",
        "merge",
        &["mountPath"],
    ),
    (
        "io.k8s.api.core.v1.Container",
        "volumeDevices",
        "devicePath",
        "merge",
        &["devicePath"],
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "conditions",
        "type",
        "merge",
        &["type"],
    ),
    (
        "io.k8s.api.batch.v1.JobStatus",
        "conditions",
        "type",
        "merge",
        &[],
    ),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "conditions",
        "type",
        "merge",
        &["type"],
    ),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "addresses",
        "type",
        "merge",
        &["type"],
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        "uid",
        "merge",
        &["uid"],
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "finalizers",
        "",
        "merge",
        &[],
    ),
];

/// List types that the merge metadata above does not imply (`+listType=atomic` on a list
/// that has a patch merge key): (schema, property, list type).
const LIST_TYPES: &[(&str, &str, &str)] =
    &[("io.k8s.api.batch.v1.JobStatus", "conditions", "atomic")];

/// Maps that server-side apply replaces as a whole (`+mapType=atomic`): (schema, property).
const ATOMIC_MAPS: &[(&str, &str)] = &[("io.k8s.api.core.v1.PodSpec", "nodeSelector")];

/// Structs that server-side apply replaces as a whole (`+structType=atomic`).
const ATOMIC_STRUCTS: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ResourceFieldSelector",
];

fn add_apply_extensions(schemas: &mut Map<String, Value>) {
    for (schema, prop, list_type) in LIST_TYPES {
        if let Some(p) = schemas
            .get_mut(*schema)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(*prop))
            .and_then(Value::as_object_mut)
        {
            p.insert("x-kubernetes-list-type".into(), json!(list_type));
        }
    }
    for (schema, prop) in ATOMIC_MAPS {
        if let Some(p) = schemas
            .get_mut(*schema)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(*prop))
            .and_then(Value::as_object_mut)
        {
            p.insert("x-kubernetes-map-type".into(), json!("atomic"));
        }
    }
    for schema in ATOMIC_STRUCTS {
        if let Some(s) = schemas.get_mut(*schema).and_then(Value::as_object_mut) {
            s.insert("x-kubernetes-map-type".into(), json!("atomic"));
        }
    }
}

fn generate(group: &str, version: &str) -> Map<String, Value> {
    let mut generator = SchemaSettings::openapi3().into_generator();
    for r in resource::RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        match (r.group, r.kind) {
            ("batch", "Job") => {
                generator.subschema_for::<batch::Job>();
            }
            ("batch", "CronJob") => {
                generator.subschema_for::<batch::CronJob>();
            }
            ("", "Pod") => {
                generator.subschema_for::<core::Pod>();
            }
            ("", "Namespace") => {
                generator.subschema_for::<core::Namespace>();
            }
            ("", "Event") => {
                generator.subschema_for::<core::Event>();
            }
            ("", "Node") => {
                generator.subschema_for::<core::Node>();
            }
            ("", "PersistentVolumeClaim") => {
                generator.subschema_for::<core::PersistentVolumeClaim>();
            }
            ("coordination.k8s.io", "Lease") => {
                generator.subschema_for::<coordination::Lease>();
            }
            ("authentication.k8s.io", "SelfSubjectReview") => {
                generator.subschema_for::<authentication::SelfSubjectReview>();
            }
            ("authorization.k8s.io", "SelfSubjectAccessReview") => {
                generator.subschema_for::<authorization::SelfSubjectAccessReview>();
            }
            ("authorization.k8s.io", "SelfSubjectRulesReview") => {
                generator.subschema_for::<authorization::SelfSubjectRulesReview>();
            }
            _ => {}
        }
    }
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::DeleteOptions>();
    generator.subschema_for::<meta::Patch>();
    let mut schemas = generator.take_definitions(true);
    for r in resource::RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let gvk = json!([{"group": r.group, "kind": r.kind, "version": r.version}]);
        if let Some(Value::Object(s)) = schemas.get_mut(&schema_name(r)) {
            s.insert("x-kubernetes-group-version-kind".into(), gvk);
            // k8s-openapi requires `metadata` (its field is not optional); Kubernetes'
            // schemas do only where the Go field has no `omitempty`: of our kinds, core/v1
            // Event. kubectl explain prints `-required-`, and kubectl validates the reviews'
            // manifests client-side.
            if !(r.group.is_empty() && r.kind == "Event")
                && let Some(Value::Array(req)) = s.get_mut("required")
            {
                req.retain(|f| f != "metadata");
                if req.is_empty() {
                    s.remove("required");
                }
            }
        }
    }
    for (schema, prop, key, strategy, map_keys) in PATCH_META {
        let Some(p) = schemas
            .get_mut(*schema)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(*prop))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        if !key.is_empty() {
            p.insert("x-kubernetes-patch-merge-key".into(), json!(key));
        }
        p.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
        if map_keys.is_empty() {
            if key.is_empty() {
                p.insert("x-kubernetes-list-type".into(), json!("set"));
            }
        } else {
            p.insert("x-kubernetes-list-type".into(), json!("map"));
            p.insert("x-kubernetes-list-map-keys".into(), json!(map_keys));
        }
    }
    add_apply_extensions(&mut schemas);
    schemas
}

/// The `components.schemas` name of a resource's kind, e.g. `io.k8s.api.batch.v1.Job`.
pub fn schema_name(r: &ResourceInfo) -> String {
    // The Go package's name: `authorization.k8s.io` is package `authorization`.
    let group = match r.group.split('.').next() {
        None | Some("") => "core",
        Some(g) => g,
    };
    format!("io.k8s.api.{group}.{}.{}", r.version, r.kind)
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": schema, "uniqueItems": true})
}

fn common_params() -> Map<String, Value> {
    let mut m = Map::new();
    let s = json!({"type": "string"});
    let b = json!({"type": "boolean"});
    m.insert("dryRun".into(), query_param("dryRun", "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed", s.clone()));
    m.insert("fieldManager".into(), query_param("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.", s.clone()));
    m.insert("fieldValidation".into(), query_param("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.", s.clone()));
    m.insert("force".into(), query_param("force", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.", b.clone()));
    m.insert("pretty".into(), query_param("pretty", "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).", s.clone()));
    m.insert("labelSelector".into(), query_param("labelSelector", "A selector to restrict the list of returned objects by their labels. Defaults to everything.", s.clone()));
    m.insert("fieldSelector".into(), query_param("fieldSelector", "A selector to restrict the list of returned objects by their fields. Defaults to everything.", s.clone()));
    m.insert("resourceVersion".into(), query_param("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.", s.clone()));
    m.insert(
        "limit".into(),
        query_param(
            "limit",
            "limit is a maximum number of responses to return for a list call.",
            json!({"type": "integer"}),
        ),
    );
    m.insert(
        "continue".into(),
        query_param(
            "continue",
            "The continue option should be set when retrieving more results from the server.",
            s.clone(),
        ),
    );
    m.insert("watch".into(), query_param("watch", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.", b.clone()));
    m.insert("timeoutSeconds".into(), query_param("timeoutSeconds", "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.", json!({"type": "integer"})));
    m.insert(
        "allowWatchBookmarks".into(),
        query_param(
            "allowWatchBookmarks",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
            b,
        ),
    );
    m.insert(
        "gracePeriodSeconds".into(),
        query_param(
            "gracePeriodSeconds",
            "The duration in seconds before the object should be deleted.",
            json!({"type": "integer"}),
        ),
    );
    m.insert("propagationPolicy".into(), query_param("propagationPolicy", "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'.", s));
    m
}

/// Parameters inline, as kubectl's query-parameter verifier reads them (it does not follow
/// `$ref`s into `components.parameters`).
fn params(names: &[&str]) -> Value {
    let all = common_params();
    Value::Array(names.iter().filter_map(|n| all.get(*n).cloned()).collect())
}

fn op(
    r: &ResourceInfo,
    action: &str,
    id: &str,
    param_names: &[&str],
    body: Option<Value>,
    resp: &str,
) -> Value {
    let mut o = json!({
        "operationId": id,
        "tags": [if r.group.is_empty() { "core_v1".to_owned() } else { format!("{}_{}", r.group, r.version) }],
        "parameters": params(param_names),
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref(resp)}}},
                       "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
    });
    if let Some(b) = body {
        o["requestBody"] = b;
    }
    o
}

fn paths(r: &ResourceInfo) -> Map<String, Value> {
    let base = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    let coll = if r.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{base}/{}", r.plural)
    };
    let kind_ref = schema_name(r);
    let body =
        |name: &str| json!({"content": {"*/*": {"schema": schema_ref(name)}}, "required": true});
    let patch_body = json!({"content": {
        "application/apply-patch+yaml": {"schema": schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")},
        "application/json-patch+json": {"schema": schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")},
        "application/merge-patch+json": {"schema": schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")},
        "application/strategic-merge-patch+json": {"schema": schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")}},
        "required": true});
    let k = r.kind;
    let ns = if r.namespaced { "Namespaced" } else { "" };
    let mut out = Map::new();
    if r.create_only() {
        // The access reviews: a POST on the collection is all the real server documents.
        out.insert(
            coll,
            json!({
                "post": op(r, "post", &format!("create{ns}{k}"), &["dryRun", "fieldManager", "fieldValidation", "pretty"], Some(body(&kind_ref)), &kind_ref),
            }),
        );
        return out;
    }
    out.insert(
        coll.clone(),
        json!({
            "get": op(r, "list", &format!("list{ns}{k}"), &["labelSelector", "fieldSelector", "resourceVersion", "limit", "continue", "watch", "timeoutSeconds", "allowWatchBookmarks", "pretty"], None, &kind_ref),
            "post": op(r, "post", &format!("create{ns}{k}"), &["dryRun", "fieldManager", "fieldValidation", "pretty"], Some(body(&kind_ref)), &kind_ref),
            "delete": op(r, "deletecollection", &format!("deleteCollection{ns}{k}"), &["dryRun", "gracePeriodSeconds", "propagationPolicy", "labelSelector", "fieldSelector"], Some(body("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")), "io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
            "parameters": [{"name": "namespace", "in": "path", "required": true, "schema": {"type": "string"}}],
        }),
    );
    let mut item_paths = vec![(format!("{coll}/{{name}}"), String::new())];
    for s in r.subresources.iter().filter(|s| s.name == "status") {
        item_paths.push((format!("{coll}/{{name}}/{}", s.name), "Status".to_owned()));
    }
    for (path, suffix) in item_paths {
        out.insert(
            path,
            json!({
                "get": op(r, "get", &format!("read{ns}{k}{suffix}"), &["pretty"], None, &kind_ref),
                "put": op(r, "put", &format!("replace{ns}{k}{suffix}"), &["dryRun", "fieldManager", "fieldValidation", "pretty"], Some(body(&kind_ref)), &kind_ref),
                "patch": op(r, "patch", &format!("patch{ns}{k}{suffix}"), &["dryRun", "fieldManager", "fieldValidation", "force", "pretty"], Some(patch_body.clone()), &kind_ref),
                "delete": op(r, "delete", &format!("delete{ns}{k}{suffix}"), &["dryRun", "gracePeriodSeconds", "propagationPolicy"], Some(body("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")), "io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
                "parameters": [
                    {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "namespace", "in": "path", "required": true, "schema": {"type": "string"}},
                ],
            }),
        );
    }
    out
}

fn build(group: &'static str, version: &'static str) -> GroupVersionDoc {
    let schemas = generate(group, version);
    let mut all_paths = Map::new();
    for r in resource::RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        all_paths.extend(paths(r));
    }
    let doc = json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": all_paths,
        "components": {
            "schemas": schemas,
            "parameters": common_params(),
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}},
        },
        "security": [{"BearerToken": []}],
    });
    let json = serde_json::to_vec(&doc).unwrap_or_default();
    let path = if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    };
    GroupVersionDoc {
        path,
        hash: fnv_hex(&json),
        json,
        schemas,
    }
}

fn fnv_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

impl GroupVersionDoc {
    /// `components.schemas` of the document (with the extensions added above).
    pub fn schemas(&self) -> &Map<String, Value> {
        &self.schemas
    }
}

/// Every group-version document, built once.
pub fn documents() -> &'static [GroupVersionDoc] {
    static DOCS: OnceLock<Vec<GroupVersionDoc>> = OnceLock::new();
    DOCS.get_or_init(|| {
        resource::group_versions()
            .into_iter()
            .map(|(g, v)| build(g, v))
            .collect()
    })
}

/// The document for `api/v1` or `apis/batch/v1`.
pub fn document(path: &str) -> Option<&'static GroupVersionDoc> {
    documents().iter().find(|d| d.path == path)
}

/// The `/openapi/v3` root: each group-version's `serverRelativeURL`.
pub fn root() -> Value {
    let mut paths = Map::new();
    for d in documents() {
        paths.insert(
            d.path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{}?hash={}", d.path, d.hash)}),
        );
    }
    json!({ "paths": paths })
}

/// Fields of `obj` that the schema of `r`'s kind does not define, as the strict decoder names
/// them: `spec.failedJobHistoryLimit`, `spec.template.spec.containers[0].bogusField`.
pub fn unknown_fields(r: &ResourceInfo, obj: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(c) = Compiled::of(r.group, r.version) else {
        return out;
    };
    if let Some(root) = c.resolved_root(r.kind) {
        walk(c, root, obj, &mut String::new(), &mut out, 0);
    }
    out
}

/// `components.schemas` of the document serving `r` (with the extensions added above).
pub fn components(r: &ResourceInfo) -> Option<&'static Map<String, Value>> {
    let group_path = if r.group.is_empty() {
        format!("api/{}", r.version)
    } else {
        format!("apis/{}/{}", r.group, r.version)
    };
    document(&group_path).map(|d| &d.schemas)
}

/// Follows `$ref`s into `schemas` and single-element `allOf` wrappers; returns the name of the
/// last schema passed through (`""` if none) and the schema reached.
pub fn resolve_named<'a>(
    schemas: Option<&'a Map<String, Value>>,
    mut s: &'a Value,
) -> (&'a str, &'a Value) {
    let mut name = "";
    for _ in 0..8 {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let target = r.strip_prefix("#/components/schemas/");
            match target.and_then(|n| schemas.and_then(|d| d.get_key_value(n))) {
                Some((n, t)) => {
                    name = n.as_str();
                    s = t;
                }
                None => break,
            }
        } else if let Some([one]) = s.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
            s = one;
        } else {
            break;
        }
    }
    (name, s)
}

/// The strict field check's walk over the compiled schemas. `path` is the field path so far,
/// extended and truncated in place (no string is allocated for a known field).
fn walk(c: &Compiled, pos: u32, v: &Value, path: &mut String, out: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    let shape = c.shape_of(pos);
    if shape.preserve_unknown {
        return;
    }
    match v {
        Value::Object(map) => {
            if !shape.has_properties && shape.additional.is_none() {
                return;
            }
            for (k, child) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                if shape.has_properties {
                    match shape.field(k) {
                        Some(p) => walk(c, p, child, path, out, depth + 1),
                        None => out.push(path.clone()),
                    }
                } else if let Some(ap) = shape.additional {
                    walk(c, ap, child, path, out, depth + 1);
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            if let Some(is) = shape.items {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    let _ = write!(path, "[{i}]");
                    walk(c, is, item, path, out, depth + 1);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}

/// Removes empty lists and empty maps from `obj`, as Go's `omitempty` does when the real
/// server serializes an object (k8s-openapi keeps `Some(vec![])` as `[]`). Empty structs stay
/// (`securityContext: {}`, `emptyDir: {}`), as in Go, where `omitempty` does not apply to them.
/// Walks the compiled schemas ([`crate::compiled`]).
pub fn drop_empty_collections(r: &ResourceInfo, obj: &mut Value) {
    let Some(c) = Compiled::of(r.group, r.version) else {
        return;
    };
    if let Some(root) = c.resolved_root(r.kind) {
        prune(c, root, obj, 0);
    }
}

fn prune(c: &Compiled, pos: u32, v: &mut Value, depth: usize) {
    if depth > 64 {
        return;
    }
    let shape = c.shape_of(pos);
    match v {
        Value::Object(map) => {
            if shape.has_properties {
                map.retain(|k, child| {
                    let Some(p) = shape.field(k) else { return true };
                    prune(c, p, child, depth + 1);
                    let is_map = c.shape_of(p).additional.is_some();
                    match child {
                        Value::Array(a) => !a.is_empty(),
                        Value::Object(o) if is_map => !o.is_empty(),
                        _ => true,
                    }
                });
            } else if let Some(ap) = shape.additional {
                for child in map.values_mut() {
                    prune(c, ap, child, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = shape.items {
                for item in items {
                    prune(c, is, item, depth + 1);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> &'static ResourceInfo {
        resource::find("batch", "v1", "jobs").expect("jobs")
    }

    #[test]
    fn empty_lists_and_maps_are_dropped_but_empty_structs_stay() {
        let mut obj = json!({"metadata": {"name": "x", "ownerReferences": [], "labels": {}, "finalizers": []},
            "spec": {"template": {"spec": {"securityContext": {}, "containers": [{"name": "c", "args": [], "resources": {}}],
                     "volumes": [{"name": "v", "emptyDir": {}}], "nodeSelector": {}}}}});
        drop_empty_collections(job(), &mut obj);
        assert_eq!(
            obj,
            json!({"metadata": {"name": "x"},
            "spec": {"template": {"spec": {"securityContext": {}, "containers": [{"name": "c", "resources": {}}],
                     "volumes": [{"name": "v", "emptyDir": {}}]}}}})
        );
    }

    /// Follows `$ref` and single-element `allOf` wrappers to the schema they name.
    fn resolve<'a>(schemas: &'a Map<String, Value>, s: &'a Value) -> &'a Value {
        resolve_named(Some(schemas), s).1
    }

    /// [`unknown_fields`]' walk as it was, on the JSON schemas: the reference for the
    /// compiled walk.
    fn walk_json(
        schemas: &Map<String, Value>,
        schema: &Value,
        v: &Value,
        path: &mut String,
        out: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        let schema = resolve(schemas, schema);
        if schema
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            == Some(true)
        {
            return;
        }
        match v {
            Value::Object(map) => {
                let (props, additional) = match schema.get("properties").and_then(Value::as_object)
                {
                    Some(p) => (Some(p), None),
                    None => (
                        None,
                        schema.get("additionalProperties").filter(|a| a.is_object()),
                    ),
                };
                if props.is_none() && additional.is_none() {
                    return;
                }
                for (k, child) in map {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    match (props, additional) {
                        (Some(props), _) => match props.get(k) {
                            Some(ps) => walk_json(schemas, ps, child, path, out, depth + 1),
                            None => out.push(path.clone()),
                        },
                        (None, Some(ap)) => walk_json(schemas, ap, child, path, out, depth + 1),
                        (None, None) => {}
                    }
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                if let Some(is) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        let len = path.len();
                        let _ = write!(path, "[{i}]");
                        walk_json(schemas, is, item, path, out, depth + 1);
                        path.truncate(len);
                    }
                }
            }
            _ => {}
        }
    }

    /// [`drop_empty_collections`] as it was, on the JSON schemas: the reference for the
    /// compiled walk.
    fn prune_json(schemas: &Map<String, Value>, schema: &Value, v: &mut Value, depth: usize) {
        if depth > 64 {
            return;
        }
        let schema = resolve(schemas, schema);
        match v {
            Value::Object(map) => {
                if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                    map.retain(|k, child| {
                        let Some(ps) = props.get(k) else { return true };
                        prune_json(schemas, ps, child, depth + 1);
                        let ps = resolve(schemas, ps);
                        let is_map = ps.get("additionalProperties").is_some_and(Value::is_object);
                        match child {
                            Value::Array(a) => !a.is_empty(),
                            Value::Object(o) if is_map => !o.is_empty(),
                            _ => true,
                        }
                    });
                } else if let Some(ap) =
                    schema.get("additionalProperties").filter(|a| a.is_object())
                {
                    for child in map.values_mut() {
                        prune_json(schemas, ap, child, depth + 1);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(is) = schema.get("items") {
                    for item in items {
                        prune_json(schemas, is, item, depth + 1);
                    }
                }
            }
            _ => {}
        }
    }

    /// An object shaped by `schema`, with empty and non-empty lists, maps and structs, and
    /// some values of the wrong type, chosen by the counter `n`.
    fn sample(schemas: &Map<String, Value>, schema: &Value, depth: usize, n: &mut u64) -> Value {
        *n = n
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let pick = (*n >> 33) % 12;
        if depth > 9 || pick == 11 {
            return json!("x");
        }
        if pick == 10 {
            return json!([]);
        }
        if pick == 9 {
            return json!({});
        }
        let s = resolve(schemas, schema);
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            let mut m = Map::new();
            for (k, p) in props {
                if !(*n >> 40).is_multiple_of(3) || depth < 3 {
                    m.insert(k.clone(), sample(schemas, p, depth + 1, n));
                }
            }
            m.insert("notAField".into(), json!([]));
            return Value::Object(m);
        }
        if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
            return match pick % 3 {
                0 => json!({}),
                1 => json!({"k": sample(schemas, ap, depth + 1, n)}),
                _ => json!({"k": [], "j": {}, "i": sample(schemas, ap, depth + 1, n)}),
            };
        }
        match s.get("type").and_then(Value::as_str) {
            Some("array") => {
                let items = s.get("items").cloned().unwrap_or(Value::Null);
                match pick % 3 {
                    0 => json!([]),
                    1 => json!([sample(schemas, &items, depth + 1, n)]),
                    _ => json!([sample(schemas, &items, depth + 1, n), [], {}]),
                }
            }
            Some("object") => json!({"a": [], "b": {}}),
            _ => json!("x"),
        }
    }

    /// Calls `check` with 40 generated objects of every served kind, with the kind's schemas
    /// and component.
    fn for_samples(mut check: impl FnMut(&ResourceInfo, &Map<String, Value>, &Value, Value)) {
        for r in resource::RESOURCES {
            let Some(defs) = components(r) else { continue };
            let Some(schema) = defs.get(&schema_name(r)) else {
                continue;
            };
            for seed in 0..40u64 {
                let mut n = seed;
                let obj = sample(defs, schema, 0, &mut n);
                check(r, defs, schema, obj);
            }
        }
    }

    #[test]
    fn the_compiled_walk_drops_what_the_json_schemas_walk_drops() {
        let mut changed = 0;
        for_samples(|r, defs, schema, obj| {
            let mut want = obj.clone();
            prune_json(defs, schema, &mut want, 0);
            let mut got = obj.clone();
            drop_empty_collections(r, &mut got);
            assert_eq!(got.to_string(), want.to_string(), "{} {obj}", r.kind);
            changed += usize::from(got != obj);
        });
        assert!(
            changed > 100,
            "only {changed} samples had something to drop"
        );
    }

    #[test]
    fn the_compiled_field_check_finds_what_the_json_schemas_walk_finds() {
        let mut unknown = 0;
        for_samples(|r, defs, schema, obj| {
            let mut want = Vec::new();
            walk_json(defs, schema, &obj, &mut String::new(), &mut want, 0);
            let got = unknown_fields(r, &obj);
            assert_eq!(got, want, "{} {obj}", r.kind);
            unknown += got.len();
        });
        assert!(unknown > 1000, "only {unknown} unknown fields found");
    }

    #[test]
    fn job_schema_has_descriptions_and_gvk() {
        let doc = document("apis/batch/v1").expect("batch doc");
        let job = &doc.schemas["io.k8s.api.batch.v1.Job"];
        assert_eq!(job["x-kubernetes-group-version-kind"][0]["kind"], "Job");
        let spec = resolve(&doc.schemas, &job["properties"]["spec"]);
        let backoff = &spec["properties"]["backoffLimit"]["description"];
        assert!(backoff.as_str().unwrap_or("").contains("number of retries"));
        let containers = &doc.schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    }

    #[test]
    fn metadata_is_required_only_where_kubernetes_requires_it() {
        let batch = document("apis/batch/v1").expect("batch doc");
        for kind in ["Job", "CronJob"] {
            let s = &batch.schemas[&format!("io.k8s.api.batch.v1.{kind}")];
            assert!(s.get("required").is_none(), "{kind}: {s}");
        }
        let core = document("api/v1").expect("core doc");
        for kind in ["Pod", "Namespace", "Node", "PersistentVolumeClaim"] {
            let s = &core.schemas[&format!("io.k8s.api.core.v1.{kind}")];
            assert!(s.get("required").is_none(), "{kind}: {}", s["required"]);
        }
        let event = &core.schemas["io.k8s.api.core.v1.Event"]["required"];
        assert_eq!(event, &json!(["involvedObject", "metadata"]));
    }

    #[test]
    fn patch_operations_accept_field_validation() {
        let doc: Value =
            serde_json::from_slice(&document("apis/batch/v1").expect("doc").json).expect("json");
        let p = &doc["paths"]["/apis/batch/v1/namespaces/{namespace}/jobs/{name}"]["patch"];
        assert_eq!(p["x-kubernetes-group-version-kind"]["kind"], "Job");
        let params = p["parameters"].as_array().expect("params");
        assert!(
            params
                .iter()
                .any(|x| x["name"] == "fieldValidation" && x["in"] == "query")
        );
    }

    #[test]
    fn unknown_fields_are_named_with_their_paths() {
        let obj = json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x", "labels": {"a": "b"}},
            "spec": {"schedule": "* * * * *", "failedJobHistoryLimit": 3,
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "bogusField": 1}]}}}}}
        });
        let cj = resource::find("batch", "v1", "cronjobs").expect("cronjobs");
        assert_eq!(
            unknown_fields(cj, &obj),
            vec![
                "spec.failedJobHistoryLimit".to_owned(),
                "spec.jobTemplate.spec.template.spec.containers[0].bogusField".to_owned()
            ]
        );
        let ok = json!({"metadata": {"name": "pi", "annotations": {"x": "y"}}, "spec": {"template": {"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1"}}}]}}}});
        assert!(unknown_fields(job(), &ok).is_empty());
    }
}
