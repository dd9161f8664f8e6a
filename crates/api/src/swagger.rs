//! The OpenAPI v2 (swagger) document: the v3 documents' schemas as `definitions`, in JSON and
//! in gnostic's protobuf form, which is what kubectl's client-side validation reads.
//!
//! kubectl 1.27+ reads OpenAPI v3 for everything but one case: a `kind: List` (what
//! `kubectl get -o yaml` prints) is validated client-side against `/openapi/v2`, requested as
//! `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`. Without this document
//! `kubectl create -f` of a List fails with "the server could not find the requested resource".
//! The document carries `definitions` only (no `paths`): kubectl's v2 readers that look at
//! paths (the field-validation verifier) are fallbacks used only when v3 is absent.

use crate::schema;
use prost::Message;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// The media type kubectl asks for, and the one the real server answers with.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The document, serialized both ways.
#[derive(Debug)]
pub struct SwaggerDoc {
    /// Swagger 2.0 JSON.
    pub json: Vec<u8>,
    /// gnostic `openapi.v2.Document` protobuf.
    pub protobuf: Vec<u8>,
    /// A hash of the JSON form, served as the ETag.
    pub etag: String,
}

/// The document, built once from the v3 documents.
pub fn document() -> &'static SwaggerDoc {
    static DOC: OnceLock<SwaggerDoc> = OnceLock::new();
    DOC.get_or_init(|| {
        let definitions = definitions();
        let json = serde_json::to_vec(&json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": {},
            "definitions": definitions,
        }))
        .unwrap_or_default();
        let proto = pb::Document {
            swagger: "2.0".into(),
            info: Some(pb::Info {
                title: "Kubernetes".into(),
                version: "v1.33.0".into(),
            }),
            definitions: Some(pb::Definitions {
                additional_properties: definitions
                    .iter()
                    .map(|(name, s)| pb::NamedSchema {
                        name: name.clone(),
                        value: Some(to_proto(s)),
                    })
                    .collect(),
            }),
        };
        SwaggerDoc {
            etag: format!("\"{:016X}\"", fnv(&json)),
            json,
            protobuf: proto.encode_to_vec(),
        }
    })
}

/// Every schema of every group-version, with `$ref`s pointing into `#/definitions/`.
fn definitions() -> Map<String, Value> {
    let mut out = Map::new();
    for doc in schema::documents() {
        for (name, s) in doc.schemas() {
            out.entry(name.clone()).or_insert_with(|| v2_refs(s));
        }
    }
    out
}

/// `s` with its `$ref`s rewritten from v3's `#/components/schemas/X` to v2's `#/definitions/X`,
/// v3-only keywords (`nullable`) dropped, and a single-element `allOf: [{$ref}]` (v3's way to
/// give a reference a description) written as v2 does: a `$ref` beside the description, since
/// kubectl's v2 parser does not read `allOf` and would take such a field for an arbitrary value.
fn v2_refs(s: &Value) -> Value {
    match s {
        Value::Object(m) if single_ref(m).is_some() => {
            let mut out: Map<String, Value> = m
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "allOf" | "nullable"))
                .map(|(k, v)| (k.clone(), v2_refs(v)))
                .collect();
            if let Some(r) = single_ref(m) {
                out.insert(
                    "$ref".into(),
                    Value::String(r.replace("#/components/schemas/", "#/definitions/")),
                );
            }
            Value::Object(out)
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "nullable")
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => {
                            Value::String(r.replace("#/components/schemas/", "#/definitions/"))
                        }
                        ("properties", Value::Object(props)) => Value::Object(
                            props.iter().map(|(n, p)| (n.clone(), v2_refs(p))).collect(),
                        ),
                        _ => v2_refs(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(v2_refs).collect()),
        other => other.clone(),
    }
}

/// The reference of a schema `{allOf: [{$ref: R}], ...}`.
fn single_ref(m: &Map<String, Value>) -> Option<&str> {
    match m.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
        Some([one]) => one.get("$ref").and_then(Value::as_str),
        _ => None,
    }
}

/// A JSON schema (already in v2 form) as gnostic's `Schema` message.
fn to_proto(s: &Value) -> pb::Schema {
    let str_of = |k: &str| {
        s.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut out = pb::Schema {
        r#ref: str_of("$ref"),
        format: str_of("format"),
        description: str_of("description"),
        ..Default::default()
    };
    if let Some(t) = s.get("type") {
        let value = match t {
            Value::String(t) => vec![t.clone()],
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        out.r#type = Some(pb::TypeItem { value });
    }
    if let Some(req) = s.get("required").and_then(Value::as_array) {
        out.required = req
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            out.additional_properties = Some(Box::new(pb::AdditionalPropertiesItem {
                schema: None,
                boolean: Some(*b),
            }));
        }
        Some(a @ Value::Object(_)) => {
            out.additional_properties = Some(Box::new(pb::AdditionalPropertiesItem {
                schema: Some(Box::new(to_proto(a))),
                boolean: None,
            }));
        }
        _ => {}
    }
    match s.get("items") {
        Some(Value::Array(items)) => {
            out.items = Some(pb::ItemsItem {
                schema: items.iter().map(to_proto).collect(),
            });
        }
        Some(i @ Value::Object(_)) => {
            out.items = Some(pb::ItemsItem {
                schema: vec![to_proto(i)],
            });
        }
        _ => {}
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        out.all_of = all.iter().map(to_proto).collect();
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        out.properties = Some(pb::Properties {
            additional_properties: props
                .iter()
                .map(|(name, p)| pb::NamedSchema {
                    name: name.clone(),
                    value: Some(to_proto(p)),
                })
                .collect(),
        });
    }
    if let Some(m) = s.as_object() {
        out.vendor_extension = m
            .iter()
            .filter(|(k, _)| k.starts_with("x-"))
            .map(|(k, v)| pb::NamedAny {
                name: k.clone(),
                // JSON is YAML: gnostic keeps an extension's value as YAML text.
                value: Some(pb::Any {
                    yaml: v.to_string(),
                }),
            })
            .collect();
    }
    out
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h: u64, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The subset of gnostic's `openapiv2/OpenAPIv2.proto` (package `openapi.v2`) this document
/// fills, with the upstream field numbers. `AdditionalPropertiesItem`'s oneof is written as
/// two optional fields, which is the same encoding.
pub mod pb {
    /// `openapi.v2.Document`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Document {
        /// The Swagger version: "2.0".
        #[prost(string, tag = "1")]
        pub swagger: String,
        /// Title and version.
        #[prost(message, optional, tag = "2")]
        pub info: Option<Info>,
        /// The schemas, by name.
        #[prost(message, optional, tag = "9")]
        pub definitions: Option<Definitions>,
    }
    /// `openapi.v2.Info`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Info {
        /// The API's title.
        #[prost(string, tag = "1")]
        pub title: String,
        /// The API's version.
        #[prost(string, tag = "2")]
        pub version: String,
    }
    /// `openapi.v2.Definitions`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Definitions {
        /// The named schemas, in order.
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }
    /// `openapi.v2.NamedSchema`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedSchema {
        /// The key.
        #[prost(string, tag = "1")]
        pub name: String,
        /// The schema.
        #[prost(message, optional, tag = "2")]
        pub value: Option<Schema>,
    }
    /// `openapi.v2.Schema` (the fields used).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Schema {
        /// `$ref`.
        #[prost(string, tag = "1")]
        pub r#ref: String,
        /// `format`.
        #[prost(string, tag = "2")]
        pub format: String,
        /// `description`.
        #[prost(string, tag = "4")]
        pub description: String,
        /// `required`.
        #[prost(string, repeated, tag = "19")]
        pub required: Vec<String>,
        /// `additionalProperties`.
        #[prost(message, optional, boxed, tag = "21")]
        pub additional_properties: Option<Box<AdditionalPropertiesItem>>,
        /// `type`.
        #[prost(message, optional, tag = "22")]
        pub r#type: Option<TypeItem>,
        /// `items`.
        #[prost(message, optional, tag = "23")]
        pub items: Option<ItemsItem>,
        /// `allOf`.
        #[prost(message, repeated, tag = "24")]
        pub all_of: Vec<Schema>,
        /// `properties`.
        #[prost(message, optional, tag = "25")]
        pub properties: Option<Properties>,
        /// `x-…` extensions.
        #[prost(message, repeated, tag = "31")]
        pub vendor_extension: Vec<NamedAny>,
    }
    /// `openapi.v2.AdditionalPropertiesItem` (a oneof of a schema or a boolean).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AdditionalPropertiesItem {
        /// The schema of the values.
        #[prost(message, optional, boxed, tag = "1")]
        pub schema: Option<Box<Schema>>,
        /// Or a boolean.
        #[prost(bool, optional, tag = "2")]
        pub boolean: Option<bool>,
    }
    /// `openapi.v2.TypeItem`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TypeItem {
        /// The type names.
        #[prost(string, repeated, tag = "1")]
        pub value: Vec<String>,
    }
    /// `openapi.v2.ItemsItem`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ItemsItem {
        /// The item schemas.
        #[prost(message, repeated, tag = "1")]
        pub schema: Vec<Schema>,
    }
    /// `openapi.v2.Properties`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Properties {
        /// The named property schemas, in order.
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }
    /// `openapi.v2.NamedAny`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedAny {
        /// The extension's name.
        #[prost(string, tag = "1")]
        pub name: String,
        /// Its value.
        #[prost(message, optional, tag = "2")]
        pub value: Option<Any>,
    }
    /// `openapi.v2.Any` (only its YAML text).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        /// The value as YAML.
        #[prost(string, tag = "2")]
        pub yaml: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves_in_definitions() {
        let doc: Value = serde_json::from_slice(&document().json).unwrap();
        let defs = doc["definitions"].as_object().unwrap();
        let mut refs = Vec::new();
        fn collect(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|x| collect(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
                _ => {}
            }
        }
        collect(&doc, &mut refs);
        assert!(refs.len() > 100);
        for r in refs {
            let name = r
                .strip_prefix("#/definitions/")
                .unwrap_or_else(|| panic!("{r}"));
            assert!(defs.contains_key(name), "{r} is not defined");
        }
        assert!(!document().json.windows(11).any(|w| w == b"\"nullable\":"));
        assert!(!document().json.windows(8).any(|w| w == b"\"allOf\":"));
    }

    #[test]
    fn protobuf_round_trips_with_kinds_and_extensions() {
        let doc = pb::Document::decode(document().protobuf.as_slice()).unwrap();
        assert_eq!(doc.swagger, "2.0");
        let defs = doc.definitions.unwrap().additional_properties;
        let job = defs
            .iter()
            .find(|d| d.name == "io.k8s.api.batch.v1.Job")
            .and_then(|d| d.value.as_ref())
            .unwrap();
        let gvk = job
            .vendor_extension
            .iter()
            .find(|e| e.name == "x-kubernetes-group-version-kind")
            .and_then(|e| e.value.as_ref())
            .unwrap();
        let gvk: Value = serde_json::from_str(&gvk.yaml).unwrap();
        assert_eq!(gvk[0]["kind"], "Job");
        assert_eq!(gvk[0]["group"], "batch");
        let spec = job
            .properties
            .as_ref()
            .unwrap()
            .additional_properties
            .iter()
            .find(|p| p.name == "spec")
            .and_then(|p| p.value.as_ref())
            .unwrap();
        assert_eq!(spec.r#ref, "#/definitions/io.k8s.api.batch.v1.JobSpec");
        assert!(!spec.description.is_empty());
        for d in &defs {
            let s = d.value.as_ref().unwrap();
            assert!(
                s.r#type.is_some()
                    || !s.r#ref.is_empty()
                    || !s.all_of.is_empty()
                    || s.properties.is_some()
                    || s.vendor_extension
                        .iter()
                        .any(|e| e.name == "x-kubernetes-int-or-string"),
                "{} has neither type nor reference",
                d.name
            );
        }
    }
}
