//! PATCH: the patch options (`force`, `fieldManager`), then JSON merge, JSON patch and
//! strategic merge patch applied to the stored object and the update path (admission, no-op
//! detection, compare-and-swap), retried on conflicts; server-side apply goes to `apply`.

use super::managed::Ownership;
use super::{Registry, WriteOptions, decode};
use crate::error::{ApiError, ApiResult};
use crate::object::{from_stored, meta_str};
use crate::request::FieldValidation;
use api::patch::{self as p, PatchError};
use api::resource::ResourceInfo;
use api::validation::FieldError;
use bytes::Bytes;
use serde_json::Value;

/// Conflicts retried before giving up, as the real server's patcher does.
const MAX_RETRIES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatchType {
    Merge,
    Json,
    Strategic,
    Apply,
}

/// The longest `fieldManager` (`FieldManagerMaxLength`).
const FIELD_MANAGER_MAX: usize = 128;

/// What a patch did.
#[derive(Debug)]
pub struct Patched {
    /// The object.
    pub object: Bytes,
    /// `Warning` header texts.
    pub warnings: Vec<String>,
    /// A server-side apply created it (201).
    pub created: bool,
}

/// `ValidatePatchOptions`: `force` only with apply, `fieldManager` required for apply,
/// short and printable.
fn validate_options(kind: PatchType, opts: &WriteOptions, force: Option<bool>) -> ApiResult<()> {
    let mut errors = Vec::new();
    let manager = opts.field_manager.as_deref().unwrap_or("");
    if kind != PatchType::Apply {
        if force.is_some() {
            errors.push(FieldError::forbidden(
                "force",
                "may not be specified for non-apply patch",
            ));
        }
    } else if manager.is_empty() {
        errors.push(FieldError::required(
            "fieldManager",
            "is required for apply patch",
        ));
    }
    if manager.chars().count() > FIELD_MANAGER_MAX {
        errors.push(FieldError::too_long(
            "fieldManager",
            manager,
            FIELD_MANAGER_MAX as i64,
        ));
    }
    for (i, c) in manager.char_indices() {
        if c.is_control() {
            errors.push(FieldError::invalid(
                "fieldManager",
                manager,
                &format!("invalid character U+{:04X} (at position {i})", u32::from(c)),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::InvalidOptions {
            kind: "PatchOptions",
            errors,
        })
    }
}

fn patch_type(ct: Option<&str>) -> ApiResult<PatchType> {
    let mime = ct
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    match mime {
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
        "application/apply-patch+yaml" => Ok(PatchType::Apply),
        _ => Err(ApiError::UnsupportedMediaType(
            "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml".into(),
        )),
    }
}

fn patch_error(e: PatchError) -> ApiError {
    ApiError::Raw {
        code: e.http_status(),
        reason: e.reason(),
        message: e.status_message(),
    }
}

impl Registry {
    /// Applies a patch body to `name` and writes the result; `force` is the query parameter.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        r: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        ct: Option<&str>,
        body: &[u8],
        status: bool,
        opts: &WriteOptions,
        force: Option<bool>,
    ) -> ApiResult<Patched> {
        let kind = patch_type(ct)?;
        validate_options(kind, opts, force)?;
        if kind == PatchType::Apply {
            let (object, created) = self
                .apply(r, ns, name, body, status, opts, force.unwrap_or(false))
                .await?;
            return Ok(Patched {
                object,
                warnings: Vec::new(),
                created,
            });
        }
        let patch: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
        let pins_version = patch
            .get("metadata")
            .and_then(|m| m.get("resourceVersion"))
            .is_some_and(|v| !v.is_null());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let kv = self.get_raw(r, ns, name)?;
            let old = from_stored(&kv.value, kv.mod_revision)?;
            let patched = match kind {
                PatchType::Merge => p::json_merge_patch(&old, &patch),
                PatchType::Json => p::json_patch(&old, &patch),
                PatchType::Strategic => p::strategic_merge_patch(r, &old, &patch),
                PatchType::Apply => return Err(ApiError::Internal("apply is not a patch".into())),
            }
            .map_err(patch_error)?;
            let mut warnings = Vec::new();
            if opts.field_validation != FieldValidation::Ignore {
                let unknown = api::schema::unknown_fields(r, &patched);
                if !unknown.is_empty() {
                    if let Some(e) = api::unmarshal::type_error(r, &patched) {
                        return Err(decode::cannot_handle(r, e));
                    }
                    let listed: Vec<String> = unknown
                        .iter()
                        .map(|f| format!("unknown field \"{f}\""))
                        .collect();
                    if opts.field_validation == FieldValidation::Strict {
                        return Err(decode::cannot_handle(
                            r,
                            format!("strict decoding error: {}", listed.join(", ")),
                        ));
                    }
                    warnings = listed;
                }
            }
            if meta_str(&patched, "name").is_some_and(|n| n != name) {
                return Err(ApiError::BadRequest(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    meta_str(&patched, "name").unwrap_or_default()
                )));
            }
            // A resourceVersion the patch sets (JSON patch too, as kubectl's managedFields
            // upgrade does) is a precondition.
            let rv = kv.mod_revision.to_string();
            if (pins_version || kind == PatchType::Json)
                && meta_str(&patched, "resourceVersion").is_some_and(|v| v != rv)
                || pins_version && meta_str(&patched, "resourceVersion").is_none()
            {
                return Err(ApiError::Conflict {
                    resource: r,
                    name: name.to_owned(),
                    detail: "the object has been modified; please apply your changes to the latest version and try again".into(),
                });
            }
            match self
                .write_update(
                    r,
                    ns,
                    name,
                    &kv,
                    old,
                    patched,
                    status,
                    opts,
                    Ownership::Record,
                )
                .await
            {
                Err(ApiError::Conflict { .. }) if !pins_version && attempt < MAX_RETRIES => {
                    continue;
                }
                Ok(object) => {
                    return Ok(Patched {
                        object,
                        warnings,
                        created: false,
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }
}
