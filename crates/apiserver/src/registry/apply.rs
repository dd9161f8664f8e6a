//! Server-side apply (`PATCH` with `application/apply-patch+yaml`) in the write path: the
//! configuration's checks (YAML or JSON, apiVersion and kind, no managedFields, fields the
//! schema declares), the create of an absent object (201), the merge and ownership decision
//! of `api::apply`, and the same update tail as every write (admission, no-op detection,
//! compare-and-swap, retried on conflicts).

use super::managed::{self, Ownership};
use super::{Registry, WriteOptions, rfc3339};
use crate::error::{ApiError, ApiResult};
use crate::object::{from_stored, meta_str};
use api::apply::{self, ApplyError, Request};
use api::resource::ResourceInfo;
use bytes::Bytes;
use serde_json::{Value, json};

/// Conflicts retried before giving up, as for other patches.
const MAX_RETRIES: usize = 5;

fn typed_patch_error(r: &ResourceInfo, ns: Option<&str>, name: &str, detail: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "failed to create typed patch object ({}/{name}; {}, Kind={}): {detail}",
        ns.unwrap_or_default(),
        r.api_version(),
        r.kind
    ))
}

/// The applied configuration, checked as the real field manager checks it.
fn config(r: &ResourceInfo, ns: Option<&str>, name: &str, body: &[u8]) -> ApiResult<Value> {
    let mut cfg: Value = serde_yaml_ng::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?;
    if cfg.is_null() {
        cfg = json!({});
    }
    let Some(obj) = cfg.as_object_mut() else {
        return Err(ApiError::BadRequest(
            "error decoding YAML: the applied configuration must be an object".into(),
        ));
    };
    let version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if version != r.api_version() {
        return Err(ApiError::BadRequest(format!(
            "Incorrect version specified in apply patch. Specified patch version: {version}, expected: {}",
            r.api_version()
        )));
    }
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != r.kind {
        return Err(typed_patch_error(
            r,
            ns,
            name,
            &format!("no corresponding type for {}, Kind={kind}", r.api_version()),
        ));
    }
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| typed_patch_error(r, ns, name, ".metadata: expected map"))?;
    if meta.get("managedFields").is_some_and(|m| !m.is_null()) {
        return Err(ApiError::BadRequest(
            "metadata.managedFields must be nil".into(),
        ));
    }
    match meta.get("name").and_then(Value::as_str) {
        None | Some("") => {
            meta.insert("name".into(), json!(name));
        }
        Some(n) if n != name => {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        Some(_) => {}
    }
    if let (Some(url_ns), Some(body_ns)) = (ns, meta.get("namespace").and_then(Value::as_str))
        && !body_ns.is_empty()
        && body_ns != url_ns
    {
        return Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        ));
    }
    let unknown = api::schema::unknown_fields(r, &cfg);
    if !unknown.is_empty() {
        let listed: Vec<String> = unknown
            .iter()
            .map(|f| format!(".{f}: field not declared in schema"))
            .collect();
        return Err(typed_patch_error(r, ns, name, &listed.join("\n")));
    }
    Ok(cfg)
}

fn apply_error(r: &ResourceInfo, ns: Option<&str>, name: &str, e: ApplyError) -> ApiError {
    match e {
        ApplyError::Conflicts(c) => ApiError::ApplyConflict(c),
        ApplyError::Invalid(detail) => typed_patch_error(r, ns, name, &detail),
    }
}

impl Registry {
    /// Applies `body` for `opts.field_manager` (required by the caller); returns the object
    /// and whether it was created.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn apply(
        &self,
        r: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        body: &[u8],
        status: bool,
        opts: &WriteOptions,
        force: bool,
    ) -> ApiResult<(Bytes, bool)> {
        let cfg = config(r, ns, name, body)?;
        let manager = opts.field_manager.clone().unwrap_or_default();
        let pinned = meta_str(&cfg, "resourceVersion")
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let ts = rfc3339(self.now());
            let req = Request {
                resource: r,
                manager: &manager,
                subresource: status.then_some("status"),
                time: &ts,
            };
            let kv = match self.get_raw(r, ns, name) {
                Ok(kv) => kv,
                Err(ApiError::NotFound { .. }) if !status && pinned.is_none() => {
                    let out = apply::apply(&req, &json!({}), &cfg, &[], force)
                        .map_err(|e| apply_error(r, ns, name, e))?;
                    let entries = Ownership::Set(managed::to_value(&out.managed));
                    match self.create_with(r, ns, out.object, opts, entries).await {
                        Err(ApiError::AlreadyExists { .. }) if attempt < MAX_RETRIES => continue,
                        other => return other.map(|b| (b, true)),
                    }
                }
                Err(e) => return Err(e),
            };
            if pinned
                .as_deref()
                .is_some_and(|rv| rv != kv.mod_revision.to_string())
            {
                return Err(ApiError::Conflict {
                    resource: r,
                    name: name.to_owned(),
                    detail: "the object has been modified; please apply your changes to the latest version and try again".into(),
                });
            }
            let old = from_stored(&kv.value, kv.mod_revision)?;
            let entries = managed::entries_of(&old).unwrap_or_default();
            let out = apply::apply(&req, &old, &cfg, &entries, force)
                .map_err(|e| apply_error(r, ns, name, e))?;
            let ownership = if out.managed == entries {
                Ownership::Set(
                    old.get("metadata")
                        .and_then(|m| m.get("managedFields"))
                        .cloned(),
                )
            } else {
                Ownership::Set(managed::to_value(&out.managed))
            };
            match self
                .write_update(r, ns, name, &kv, old, out.object, status, opts, ownership)
                .await
            {
                Err(ApiError::Conflict { .. }) if attempt < MAX_RETRIES => continue,
                other => return other.map(|b| (b, false)),
            }
        }
    }
}
