//! Discovery: `/version`, aggregated discovery (v2 and v2beta1, chosen from Accept, echoed in
//! the Content-Type as kubectl requires) and the legacy `/api`, `/apis`, `/api/v1`,
//! `/apis/{group}/{version}` documents.

use api::resource::{self, ResourceInfo};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The Kubernetes version batchlet serves (the kubectl dispatcher picks `kubectl.1.<minor>`).
pub const KUBE_MAJOR: &str = "1";
/// Minor version.
pub const KUBE_MINOR: &str = "33";
/// gitVersion, with batchlet's own version as build metadata (as k3s does).
pub fn git_version() -> String {
    format!("v1.33.0+batchlet-{}", env!("CARGO_PKG_VERSION"))
}

/// `GET /version`.
pub fn version() -> Value {
    json!({
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "emulationMajor": KUBE_MAJOR,
        "emulationMinor": KUBE_MINOR,
        "minCompatibilityMajor": KUBE_MAJOR,
        "minCompatibilityMinor": "32",
        "gitVersion": git_version(),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": format!("{}/{}", std::env::consts::OS, match std::env::consts::ARCH { "x86_64" => "amd64", "aarch64" => "arm64", a => a }),
    })
}

/// Aggregated discovery version requested in Accept, if any.
pub fn aggregated_version(accept: Option<&str>) -> Option<&'static str> {
    for part in accept?.split(',') {
        let params: Vec<&str> = part.split(';').map(str::trim).collect();
        if params.contains(&"as=APIGroupDiscoveryList") && params.contains(&"g=apidiscovery.k8s.io")
        {
            if params.contains(&"v=v2") {
                return Some("v2");
            }
            if params.contains(&"v=v2beta1") {
                return Some("v2beta1");
            }
        }
    }
    None
}

fn scope(r: &ResourceInfo) -> &'static str {
    if r.namespaced {
        "Namespaced"
    } else {
        "Cluster"
    }
}

fn aggregated_resource(r: &ResourceInfo) -> Value {
    let mut v = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": scope(r),
        "singularResource": r.singular,
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        v["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        v["categories"] = json!(r.categories);
    }
    if !r.subresources.is_empty() {
        v["subresources"] = Value::Array(
            r.subresources
                .iter()
                .map(|s| {
                    json!({
                        "subresource": s.name,
                        "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                        "verbs": s.verbs,
                    })
                })
                .collect(),
        );
    }
    v
}

/// The aggregated discovery document for `/api` (core) or `/apis` (named groups).
pub fn aggregated(core: bool, version: &'static str) -> Response {
    let mut items = Vec::new();
    for (g, v) in resource::group_versions() {
        if g.is_empty() != core {
            continue;
        }
        let resources: Vec<Value> = resource::RESOURCES
            .iter()
            .filter(|r| r.group == g && r.version == v)
            .map(aggregated_resource)
            .collect();
        items.push(json!({
            "metadata": {"name": g, "creationTimestamp": null},
            "versions": [{"version": v, "resources": resources, "freshness": "Current"}],
        }));
    }
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    });
    let ct = format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
    ([(http::header::CONTENT_TYPE, ct)], body.to_string()).into_response()
}

/// Legacy `/api`.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn api_group(g: &str) -> Option<Value> {
    let versions: Vec<Value> = resource::group_versions()
        .into_iter()
        .filter(|(gg, _)| *gg == g)
        .map(|(gg, v)| json!({"groupVersion": format!("{gg}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first()?.clone();
    Some(json!({"name": g, "versions": versions, "preferredVersion": preferred}))
}

/// Legacy `/apis`.
pub fn api_group_list() -> Value {
    let mut names: Vec<&str> = Vec::new();
    for (g, _) in resource::group_versions() {
        if !g.is_empty() && !names.contains(&g) {
            names.push(g);
        }
    }
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": names.into_iter().filter_map(api_group).collect::<Vec<_>>(),
    })
}

/// Legacy `/apis/{group}`.
pub fn group(g: &str) -> Option<Value> {
    let mut v = api_group(g)?;
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

/// Legacy `/api/v1` or `/apis/{group}/{version}`.
pub fn resource_list(g: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in resource::RESOURCES
        .iter()
        .filter(|r| r.group == g && r.version == version)
    {
        let mut e = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        resources.push(e);
        for s in r.subresources {
            resources.push(json!({
                "name": format!("{}/{}", r.plural, s.name),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": s.kind,
                "verbs": s.verbs,
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if g.is_empty() {
        version.to_owned()
    } else {
        format!("{g}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_first_aggregated_version_offered() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(Some(kubectl)), Some("v2"));
        let old = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(Some(old)), Some("v2beta1"));
        assert_eq!(aggregated_version(Some("application/json")), None);
    }

    #[test]
    fn legacy_lists_subresources() {
        let l = resource_list("batch", "v1").expect("batch");
        let names: Vec<&str> = l["resources"]
            .as_array()
            .expect("a")
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(names.contains(&"jobs/status") && names.contains(&"cronjobs"));
    }
}
