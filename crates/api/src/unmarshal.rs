//! The error Go's `encoding/json` (as the real server's decoder, `sigs.k8s.io/json`) gives when
//! a value in a body has the wrong JSON type for its field:
//! `json: cannot unmarshal string into Go struct field JobSpec.spec.parallelism of type int32`.
//!
//! Go reports the first such value in document order, naming the innermost struct type, the
//! path of JSON field names from the root (no array indexes or map keys) and the Go type the
//! field decodes into. The Go types are derived from the OpenAPI schemas: formats give the
//! integer widths, a schema's name its package-qualified type (`v1.JobSpec`). Types with their
//! own unmarshalers (quantities, int-or-string, times, raw fields) are left to the typed
//! decoder, as their errors are not `UnmarshalTypeError`s.

use crate::resource::ResourceInfo;
use crate::schema;
use serde_json::{Map, Value};

/// Schemas whose Go types unmarshal themselves (their errors have other words).
const SELF_UNMARSHALLING: &[&str] = &[
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
];

/// The first value of `obj` whose JSON type its field cannot take, in Go's words; `None` when
/// every value fits (or the kind has no schema).
pub fn type_error(r: &ResourceInfo, obj: &Value) -> Option<String> {
    let schemas = schema::components(r)?;
    let root = schemas.get(&schema::schema_name(r))?;
    let mut path = Vec::new();
    check(schemas, root, obj, r.kind, &mut path, 0)
}

fn check<'a>(
    schemas: &'a Map<String, Value>,
    schema: &'a Value,
    v: &'a Value,
    owner: &str,
    path: &mut Vec<&'a str>,
    depth: usize,
) -> Option<String> {
    if depth > 64 || v.is_null() {
        return None;
    }
    let (name, s) = schema::resolve_named(Some(schemas), schema);
    if SELF_UNMARSHALLING.contains(&name) {
        return None;
    }
    let mismatch = |value: String| {
        Some(format!(
            "json: cannot unmarshal {value} into Go struct field {owner}.{} of type {}",
            path.join("."),
            go_type(schemas, schema, 0)
        ))
    };
    match s.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Value::Object(map) = v else {
                return mismatch(json_kind(v));
            };
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                // The root schema is reached without a reference: its name is the kind.
                let this = if name.is_empty() {
                    owner
                } else {
                    short_name(name)
                };
                for (k, child) in map {
                    if let Some(p) = props.get(k) {
                        path.push(k);
                        let found = check(schemas, p, child, this, path, depth + 1);
                        path.pop();
                        if found.is_some() {
                            return found;
                        }
                    }
                }
            } else if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
                for child in map.values() {
                    if let Some(e) = check(schemas, ap, child, owner, path, depth + 1) {
                        return Some(e);
                    }
                }
            }
            None
        }
        Some("array") => {
            let Value::Array(items) = v else {
                return mismatch(json_kind(v));
            };
            let is = s.get("items")?;
            items
                .iter()
                .find_map(|item| check(schemas, is, item, owner, path, depth + 1))
        }
        Some("integer") => match v {
            Value::Number(n) if fits(n, s.get("format").and_then(Value::as_str)) => None,
            Value::Number(n) => mismatch(format!("number {n}")),
            _ => mismatch(json_kind(v)),
        },
        Some("number") => match v {
            Value::Number(_) => None,
            _ => mismatch(json_kind(v)),
        },
        Some("boolean") => match v {
            Value::Bool(_) => None,
            _ => mismatch(json_kind(v)),
        },
        Some("string") => match v {
            Value::String(_) => None,
            _ => mismatch(json_kind(v)),
        },
        _ => None,
    }
}

/// Whether an integer field of this format holds `n` (Go refuses fractions and overflow).
fn fits(n: &serde_json::Number, format: Option<&str>) -> bool {
    match format {
        Some("int32") => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
        _ => n.as_i64().is_some(),
    }
}

/// The JSON type of a value as Go's decoder names it.
fn json_kind(v: &Value) -> String {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
    .to_owned()
}

/// `io.k8s.api.batch.v1.JobSpec` → `JobSpec`.
fn short_name(schema_name: &str) -> &str {
    schema_name.rsplit('.').next().unwrap_or(schema_name)
}

/// The Go type a schema decodes into, as `reflect.Type.String()` prints it.
fn go_type(schemas: &Map<String, Value>, schema: &Value, depth: usize) -> String {
    let (name, s) = schema::resolve_named(Some(schemas), schema);
    if depth > 8 {
        return "interface {}".into();
    }
    let qualified = |name: &str| {
        let mut parts = name.rsplit('.');
        let ty = parts.next().unwrap_or(name);
        let package = parts.next().unwrap_or_default();
        format!("{package}.{ty}")
    };
    if s.get("properties").is_some() || SELF_UNMARSHALLING.contains(&name) {
        return qualified(name);
    }
    match s.get("type").and_then(Value::as_str) {
        Some("object") => match s.get("additionalProperties").filter(|a| a.is_object()) {
            Some(ap) => {
                let (value_name, _) = schema::resolve_named(Some(schemas), ap);
                if value_name == "io.k8s.apimachinery.pkg.api.resource.Quantity" {
                    // The one named map type of these kinds: `type ResourceList map[...]`.
                    "v1.ResourceList".into()
                } else {
                    format!("map[string]{}", go_type(schemas, ap, depth + 1))
                }
            }
            None if !name.is_empty() => qualified(name),
            None => "map[string]interface {}".into(),
        },
        Some("array") => match s.get("items") {
            Some(is) => format!("[]{}", go_type(schemas, is, depth + 1)),
            None => "[]interface {}".into(),
        },
        Some("integer") => match s.get("format").and_then(Value::as_str) {
            Some("int32") => "int32".into(),
            _ => "int64".into(),
        },
        Some("number") => "float64".into(),
        Some("boolean") => "bool".into(),
        Some("string") => match s.get("format").and_then(Value::as_str) {
            Some("byte") => "[]uint8".into(),
            _ => "string".into(),
        },
        _ => "interface {}".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job() -> &'static ResourceInfo {
        crate::resource::RESOURCES
            .iter()
            .find(|r| r.kind == "Job")
            .expect("jobs")
    }

    fn with_spec(spec: Value) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": spec})
    }

    #[test]
    fn go_words_for_each_mismatch() {
        let container = |c: Value| {
            with_spec(
                json!({"template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "ok", "image": "busybox", "command": ["true"]}, c]}}}),
            )
        };
        let table = [
            (
                with_spec(json!({"parallelism": "2"})),
                "json: cannot unmarshal string into Go struct field JobSpec.spec.parallelism of type int32",
            ),
            (
                with_spec(json!({"completions": 1.5})),
                "json: cannot unmarshal number 1.5 into Go struct field JobSpec.spec.completions of type int32",
            ),
            (
                with_spec(json!({"backoffLimit": 3_000_000_000_i64})),
                "json: cannot unmarshal number 3000000000 into Go struct field JobSpec.spec.backoffLimit of type int32",
            ),
            (
                with_spec(json!({"suspend": "yes"})),
                "json: cannot unmarshal string into Go struct field JobSpec.spec.suspend of type bool",
            ),
            (
                with_spec(json!({"template": "pod"})),
                "json: cannot unmarshal string into Go struct field JobSpec.spec.template of type v1.PodTemplateSpec",
            ),
            (
                container(json!({"name": "c", "command": "echo hi"})),
                "json: cannot unmarshal string into Go struct field Container.spec.template.spec.containers.command of type []string",
            ),
            (
                container(json!({"name": "c", "env": {"A": "1"}})),
                "json: cannot unmarshal object into Go struct field Container.spec.template.spec.containers.env of type []v1.EnvVar",
            ),
            (
                container(json!({"name": "c", "env": [{"name": "A", "value": 1}]})),
                "json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value of type string",
            ),
            (
                container(json!({"name": "c", "resources": {"limits": ["1"]}})),
                "json: cannot unmarshal array into Go struct field ResourceRequirements.spec.template.spec.containers.resources.limits of type v1.ResourceList",
            ),
            (
                json!({"metadata": {"name": "j", "labels": {"tier": 1}}}),
                "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
            ),
            (
                json!({"spec": []}),
                "json: cannot unmarshal array into Go struct field Job.spec of type v1.JobSpec",
            ),
        ];
        for (body, want) in table {
            assert_eq!(type_error(job(), &body).as_deref(), Some(want), "{body}");
        }
    }

    #[test]
    fn values_of_the_right_type_and_self_unmarshalling_types_pass() {
        let body = with_spec(json!({
            "parallelism": 2, "suspend": null, "activeDeadlineSeconds": 100,
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "true"],
                    "resources": {"limits": {"memory": 64, "cpu": "500m"}},
                    "ports": [{"containerPort": 80}],
                    "livenessProbe": {"httpGet": {"port": "http"}}}]}}
        }));
        assert_eq!(type_error(job(), &body), None);
    }

    #[test]
    fn the_first_mismatch_in_document_order_is_named() {
        let body = with_spec(json!({"suspend": 1, "parallelism": "x"}));
        assert_eq!(
            type_error(job(), &body).as_deref(),
            Some(
                "json: cannot unmarshal number into Go struct field JobSpec.spec.suspend of type bool"
            )
        );
    }
}
