//! Request bodies to JSON objects: media types, malformed input, kind checks and the strict
//! field check (`fieldValidation`).

use crate::error::{ApiError, ApiResult};
use crate::request::FieldValidation;
use api::resource::ResourceInfo;
use serde_json::Value;

/// A decoded body and the warnings to send back.
#[derive(Debug)]
pub struct Decoded {
    /// The object.
    pub object: Value,
    /// `Warning` header texts.
    pub warnings: Vec<String>,
}

/// Media types accepted for object bodies.
pub const ACCEPTED: &str =
    "application/json, application/yaml, application/vnd.kubernetes.protobuf";

fn media_type(content_type: Option<&str>) -> &str {
    content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or("application/json")
}

/// Parses a body as JSON, YAML or protobuf into a JSON value (no schema checks). A protobuf
/// body's `typeMeta` becomes the value's `apiVersion` and `kind`, which `decode` then checks
/// as for JSON.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> ApiResult<Value> {
    match media_type(content_type) {
        "" | "application/json" | "*/*" => serde_json::from_slice(body).map_err(|e| {
            ApiError::BadRequest(format!("couldn't get version/kind; json parse error: {e}"))
        }),
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let v: Value = serde_yaml_ng::from_slice(body).map_err(|e| {
                ApiError::BadRequest(format!("couldn't get version/kind; yaml parse error: {e}"))
            })?;
            Ok(v)
        }
        "application/vnd.kubernetes.protobuf" => {
            let (api_version, kind, mut v) =
                api::protobuf::decode(body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
            if let Value::Object(map) = &mut v {
                map.insert("apiVersion".into(), Value::String(api_version));
                map.insert("kind".into(), Value::String(kind));
            }
            Ok(v)
        }
        _ => Err(ApiError::UnsupportedMediaType(ACCEPTED.into())),
    }
}

/// The "cannot be handled as" prefix of decoding errors.
pub fn cannot_handle(r: &ResourceInfo, detail: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!(
        "{kind} in version \"{v}\" cannot be handled as a {kind}: {detail}",
        kind = r.kind,
        v = r.version
    ))
}

/// Decodes an object body for `r`: parse, kind and apiVersion checks, unknown fields.
pub fn decode(
    r: &ResourceInfo,
    content_type: Option<&str>,
    body: &[u8],
    validation: FieldValidation,
) -> ApiResult<Decoded> {
    let mut object = parse(content_type, body)?;
    let Value::Object(map) = &mut object else {
        return Err(cannot_handle(
            r,
            "json: cannot unmarshal non-object into Go value",
        ));
    };
    let api_version = r.api_version();
    match map.get("apiVersion") {
        None => {}
        Some(Value::String(v)) if *v == api_version => {}
        Some(v) => {
            return Err(ApiError::BadRequest(format!(
                "the API version in the data ({}) does not match the expected API version ({api_version})",
                v.as_str().unwrap_or_default()
            )));
        }
    }
    match map.get("kind") {
        None => {}
        Some(Value::String(k)) if k == r.kind => {}
        Some(k) => {
            return Err(ApiError::BadRequest(format!(
                "the kind in the data ({}) does not match the expected kind ({})",
                k.as_str().unwrap_or_default(),
                r.kind
            )));
        }
    }
    map.insert("apiVersion".into(), Value::String(api_version));
    map.insert("kind".into(), Value::String(r.kind.into()));
    let mut warnings = Vec::new();
    if validation != FieldValidation::Ignore {
        let unknown = api::schema::unknown_fields(r, &object);
        if !unknown.is_empty() {
            // A value of the wrong type fails the decode before the strict check, as in Go.
            if let Some(e) = api::unmarshal::type_error(r, &object) {
                return Err(cannot_handle(r, e));
            }
            let listed: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect();
            if validation == FieldValidation::Strict {
                return Err(cannot_handle(
                    r,
                    format!("strict decoding error: {}", listed.join(", ")),
                ));
            }
            warnings = listed;
        }
    }
    Ok(Decoded { object, warnings })
}
