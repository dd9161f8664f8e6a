//! PATCH: JSON merge, JSON patch and strategic merge patch applied to the stored object, then
//! the update path (admission, no-op detection, compare-and-swap), retried on conflicts.

use super::{Registry, WriteOptions, decode};
use crate::error::{ApiError, ApiResult};
use crate::object::{from_stored, meta_str};
use crate::request::FieldValidation;
use api::patch::{self as p, PatchError};
use api::resource::ResourceInfo;
use bytes::Bytes;
use serde_json::Value;

/// Conflicts retried before giving up, as the real server's patcher does.
const MAX_RETRIES: usize = 5;

#[derive(Debug, Clone, Copy)]
enum PatchType {
    Merge,
    Json,
    Strategic,
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
        _ => Err(ApiError::UnsupportedMediaType(
            "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json".into(),
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
    /// Applies a patch body to `name` and writes the result.
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
    ) -> ApiResult<(Bytes, Vec<String>)> {
        let kind = patch_type(ct)?;
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
            }
            .map_err(patch_error)?;
            let mut warnings = Vec::new();
            if opts.field_validation != FieldValidation::Ignore {
                let unknown = api::schema::unknown_fields(r, &patched);
                if !unknown.is_empty() {
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
            if pins_version
                && meta_str(&patched, "resourceVersion") != Some(&kv.mod_revision.to_string())
            {
                return Err(ApiError::Conflict {
                    resource: r,
                    name: name.to_owned(),
                    detail: "the object has been modified; please apply your changes to the latest version and try again".into(),
                });
            }
            match self
                .write_update(r, ns, name, &kv, old, patched, status, opts)
                .await
            {
                Err(ApiError::Conflict { .. }) if !pins_version && attempt < MAX_RETRIES => {
                    continue;
                }
                Ok(out) => return Ok((out, warnings)),
                Err(e) => return Err(e),
            }
        }
    }
}
