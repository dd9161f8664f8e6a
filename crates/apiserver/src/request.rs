//! What a REST request addresses (resource, namespace, name, subresource) and how it asks to be
//! answered (query parameters, Accept negotiation).

use crate::error::{ApiError, ApiResult};
use api::resource::{self, ResourceInfo};
use std::collections::HashMap;

/// The object or collection a path names.
#[derive(Debug, Clone)]
pub struct Target {
    /// The resource.
    pub resource: &'static ResourceInfo,
    /// Namespace from the path; `None` for cluster-scoped resources or all-namespace lists.
    pub namespace: Option<String>,
    /// Object name; `None` for a collection.
    pub name: Option<String>,
    /// Subresource, e.g. `status` or `log`.
    pub subresource: Option<String>,
}

/// Parses the segments after `/api/v1` or `/apis/{group}/{version}`.
pub fn parse_target(group: &str, version: &str, segs: &[&str]) -> ApiResult<Target> {
    let find = |plural: &str| resource::find(group, version, plural).ok_or(ApiError::NoRoute);
    let t = match segs {
        // /namespaces/{ns}/{resource}[/{name}[/{sub}]] (but namespaces/{name}/status is the namespace's subresource)
        ["namespaces", ns, plural, rest @ ..]
            if resource::find(group, version, plural).is_some_and(|r| r.namespaced) =>
        {
            let r = find(plural)?;
            match rest {
                [] => Target {
                    resource: r,
                    namespace: Some((*ns).to_owned()),
                    name: None,
                    subresource: None,
                },
                [name] => Target {
                    resource: r,
                    namespace: Some((*ns).to_owned()),
                    name: Some((*name).to_owned()),
                    subresource: None,
                },
                [name, sub] => Target {
                    resource: r,
                    namespace: Some((*ns).to_owned()),
                    name: Some((*name).to_owned()),
                    subresource: Some((*sub).to_owned()),
                },
                _ => return Err(ApiError::NoRoute),
            }
        }
        [plural] => Target {
            resource: find(plural)?,
            namespace: None,
            name: None,
            subresource: None,
        },
        [plural, name] => {
            let r = find(plural)?;
            if r.namespaced {
                return Err(ApiError::NoRoute);
            }
            Target {
                resource: r,
                namespace: None,
                name: Some((*name).to_owned()),
                subresource: None,
            }
        }
        [plural, name, sub] => {
            let r = find(plural)?;
            if r.namespaced {
                return Err(ApiError::NoRoute);
            }
            Target {
                resource: r,
                namespace: None,
                name: Some((*name).to_owned()),
                subresource: Some((*sub).to_owned()),
            }
        }
        _ => return Err(ApiError::NoRoute),
    };
    if let Some(sub) = &t.subresource
        && t.resource.subresource(sub).is_none()
    {
        return Err(ApiError::NoRoute);
    }
    Ok(t)
}

/// Query parameters of a request, decoded.
#[derive(Debug, Default, Clone)]
pub struct Query(HashMap<String, String>);

impl Query {
    /// Decodes a raw query string.
    pub fn parse(raw: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }
    /// A copy without `limit` and `continue`.
    pub fn clone_without_paging(&self) -> Query {
        let mut q = self.clone();
        q.0.remove("limit");
        q.0.remove("continue");
        q
    }
    /// Removes a parameter.
    pub fn remove(&mut self, k: &str) {
        self.0.remove(k);
    }
    /// A parameter's value.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }
    /// A non-negative integer parameter.
    pub fn int(&self, k: &str) -> ApiResult<Option<i64>> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::BadRequest(format!("invalid value for {k}: {v:?}"))),
        }
    }
    /// `dryRun=All` (any other value is a 400, as upstream).
    pub fn dry_run(&self) -> ApiResult<bool> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(v) => Err(ApiError::BadRequest(format!(
                "Invalid dry run: unsupported dryRun value \"{v}\" (supported values: All)"
            ))),
        }
    }
    /// `fieldValidation`, defaulting to Strict? No: the server default is Warn... see [`FieldValidation`].
    pub fn field_validation(&self) -> ApiResult<FieldValidation> {
        match self.get("fieldValidation") {
            None | Some("") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(v) => Err(ApiError::BadRequest(format!(
                "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {v:?}"
            ))),
        }
    }
}

/// How unknown fields in a body are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// 400 naming every unknown field.
    Strict,
    /// Accept; one `Warning` header per unknown field (the server's default since v1.23).
    Warn,
    /// Drop silently.
    Ignore,
}

/// The response form the client asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain JSON objects.
    Json,
    /// `meta.k8s.io/v1` Table (server-side printing).
    Table,
}

/// How the Table rows carry their object (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// PartialObjectMetadata (default).
    Metadata,
    /// The full object.
    Object,
    /// No object.
    None,
}

/// Reads the Accept header: Table when the first acceptable entry asks for one.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Json;
    };
    for part in accept.split(',') {
        let part = part.trim();
        let mut params = part.split(';').map(str::trim);
        let mime = params.next().unwrap_or("");
        let params: Vec<&str> = params.collect();
        if mime == "application/json" || mime == "*/*" || mime == "application/*" {
            if params.contains(&"as=Table") {
                if params.iter().any(|p| *p == "v=v1" || *p == "v=v1beta1") {
                    return Format::Table;
                }
                continue;
            }
            return Format::Json;
        }
        if mime == "application/vnd.kubernetes.protobuf" {
            // We answer JSON; clients that send this Accept also list JSON.
            continue;
        }
    }
    Format::Json
}

/// Reads `includeObject`.
pub fn include_object(q: &Query) -> IncludeObject {
    match q.get("includeObject") {
        Some("Object") => IncludeObject::Object,
        Some("None") => IncludeObject::None,
        _ => IncludeObject::Metadata,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let t = parse_target("batch", "v1", &["namespaces", "default", "jobs", "pi"]).expect("job");
        assert_eq!(
            (t.resource.plural, t.namespace.as_deref(), t.name.as_deref()),
            ("jobs", Some("default"), Some("pi"))
        );
        let t = parse_target("", "v1", &["namespaces", "default"]).expect("ns");
        assert_eq!(
            (t.resource.plural, t.name.as_deref()),
            ("namespaces", Some("default"))
        );
        let t = parse_target("", "v1", &["namespaces", "default", "status"]).expect("ns status");
        assert_eq!(
            (t.resource.plural, t.subresource.as_deref()),
            ("namespaces", Some("status"))
        );
        let t = parse_target("", "v1", &["pods"]).expect("all pods");
        assert!(t.namespace.is_none() && t.name.is_none());
        assert!(parse_target("", "v1", &["pods", "x"]).is_err());
        assert!(parse_target("batch", "v1", &["namespaces", "d", "jobs", "x", "log"]).is_err());
    }

    #[test]
    fn accept() {
        let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(table)), Format::Table);
        assert_eq!(negotiate(Some("application/json")), Format::Json);
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf,application/json")),
            Format::Json
        );
        assert_eq!(negotiate(None), Format::Json);
    }
}
