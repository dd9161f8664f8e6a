//! A container's environment as the kubelet builds it (`makeEnvironmentVariables`): the
//! runtime's `PATH` and `HOSTNAME` first, then `envFrom`, then `env` in order, each value
//! `$(VAR)`-expanded against the variables defined before it; `valueFrom.fieldRef` and
//! `valueFrom.resourceFieldRef` resolved from the pod.
//!
//! batchlet serves no ConfigMaps or Secrets: a reference to one is the kubelet's
//! `CreateContainerConfigError` (not found) unless it is `optional`.

use api::validation::Quantity;
use k8s_openapi::api::core::v1::{Container, EnvVarSource, Pod};
use runtime::DEFAULT_PATH;

use crate::expand::expand_env;

/// What the environment may refer to besides the pod itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The node's IP (`status.hostIP`, and the pod's IP: pods share the host network).
    pub ip: String,
    /// The node's allocatable CPU in millicores (a `resourceFieldRef` to an unset limit).
    pub cpu_millis: u64,
    /// The node's allocatable memory in bytes.
    pub memory_bytes: u64,
}

/// Why the environment cannot be built; the container waits with
/// `CreateContainerConfigError` and this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The pod's hostname: `spec.hostname`, else its name (truncated to 63 characters).
pub fn hostname(pod: &Pod) -> String {
    let name = pod
        .spec
        .as_ref()
        .and_then(|s| s.hostname.clone())
        .filter(|h| !h.is_empty())
        .or_else(|| pod.metadata.name.clone())
        .unwrap_or_default();
    let cut: String = name.chars().take(63).collect();
    cut.trim_end_matches(['-', '.']).to_owned()
}

/// The value of a `fieldRef` (`podFieldSelectorRuntimeValue` and `ExtractFieldPathAsString`).
pub fn field_ref(pod: &Pod, path: &str, host: &Host) -> Result<String, ConfigError> {
    let m = &pod.metadata;
    let spec = pod.spec.as_ref();
    let keyed = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|r| r.strip_prefix("['"))
            .and_then(|r| r.strip_suffix("']"))
    };
    let map_text = |map: Option<&std::collections::BTreeMap<String, String>>| {
        map.map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
    };
    let v = match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "metadata.labels" => map_text(m.labels.as_ref()),
        "metadata.annotations" => map_text(m.annotations.as_ref()),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" | "status.podIP" | "status.podIPs" => host.ip.clone(),
        _ => {
            if let Some(k) = keyed("metadata.labels") {
                m.labels
                    .as_ref()
                    .and_then(|l| l.get(k))
                    .cloned()
                    .unwrap_or_default()
            } else if let Some(k) = keyed("metadata.annotations") {
                m.annotations
                    .as_ref()
                    .and_then(|a| a.get(k))
                    .cloned()
                    .unwrap_or_default()
            } else {
                return Err(ConfigError(format!("unsupported fieldPath: {path}")));
            }
        }
    };
    Ok(v)
}

/// The value of a `resourceFieldRef` (`ExtractContainerResourceValue`): the container's limit
/// or request divided by the divisor, rounded up; an unset limit is the node's allocatable.
pub fn resource_ref(
    c: &Container,
    resource: &str,
    divisor: Option<&str>,
    host: &Host,
) -> Result<String, ConfigError> {
    let res = c.resources.as_ref();
    let (list, name) = match resource.split_once('.') {
        Some(("limits", n)) => (res.and_then(|r| r.limits.as_ref()), n),
        Some(("requests", n)) => (res.and_then(|r| r.requests.as_ref()), n),
        _ => {
            return Err(ConfigError(format!(
                "unsupported container resource: {resource}"
            )));
        }
    };
    let set = list
        .and_then(|l| l.get(name))
        .and_then(|q| Quantity::parse(&q.0));
    let milli: i128 = match (set, name) {
        (Some(q), _) => q.milli_value(),
        (None, "cpu") if resource.starts_with("limits") => i128::from(host.cpu_millis),
        (None, "memory") if resource.starts_with("limits") => i128::from(host.memory_bytes) * 1000,
        (None, "cpu" | "memory" | "ephemeral-storage") => 0,
        _ => {
            return Err(ConfigError(format!(
                "unsupported container resource: {resource}"
            )));
        }
    };
    let div = divisor
        .filter(|d| !d.is_empty())
        .and_then(Quantity::parse)
        .map_or(1000, |d| d.milli_value());
    if div <= 0 {
        return Err(ConfigError(format!("invalid divisor for {resource}")));
    }
    let v = milli / div + i128::from(milli % div > 0);
    Ok(v.to_string())
}

fn resolve(
    pod: &Pod,
    c: &Container,
    src: &EnvVarSource,
    host: &Host,
) -> Result<Option<String>, ConfigError> {
    if let Some(f) = &src.field_ref {
        return field_ref(pod, &f.field_path, host).map(Some);
    }
    if let Some(r) = &src.resource_field_ref {
        let divisor = r.divisor.as_ref().map(|d| d.0.as_str());
        return resource_ref(c, &r.resource, divisor, host).map(Some);
    }
    if let Some(r) = &src.config_map_key_ref {
        if r.optional == Some(true) {
            return Ok(None);
        }
        return Err(ConfigError(format!("configmap \"{}\" not found", r.name)));
    }
    if let Some(r) = &src.secret_key_ref {
        if r.optional == Some(true) {
            return Ok(None);
        }
        return Err(ConfigError(format!("secret \"{}\" not found", r.name)));
    }
    Ok(Some(String::new()))
}

/// The whole environment of container `c` of `pod`, in order (a later duplicate wins).
pub fn environment(
    pod: &Pod,
    c: &Container,
    host: &Host,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = vec![
        ("PATH".to_owned(), DEFAULT_PATH.to_owned()),
        ("HOSTNAME".to_owned(), hostname(pod)),
    ];
    let mut user: Vec<(String, String)> = Vec::new();
    for from in c.env_from.iter().flatten() {
        if let Some(r) = &from.config_map_ref
            && r.optional != Some(true)
        {
            return Err(ConfigError(format!("configmap \"{}\" not found", r.name)));
        }
        if let Some(r) = &from.secret_ref
            && r.optional != Some(true)
        {
            return Err(ConfigError(format!("secret \"{}\" not found", r.name)));
        }
    }
    for e in c.env.iter().flatten() {
        let value = match (&e.value_from, &e.value) {
            (Some(src), _) => match resolve(pod, c, src, host)? {
                Some(v) => v,
                None => continue,
            },
            (None, Some(v)) => expand_env(v, &user),
            (None, None) => String::new(),
        };
        user.push((e.name.clone(), value));
    }
    out.extend(user);
    Ok(out)
}

/// `command` + `args`, each `$(VAR)`-expanded against the container's environment.
pub fn argv(c: &Container, env: &[(String, String)]) -> Vec<String> {
    c.command
        .iter()
        .flatten()
        .chain(c.args.iter().flatten())
        .map(|a| expand_env(a, env))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn host() -> Host {
        Host {
            ip: "127.0.0.1".into(),
            cpu_millis: 2000,
            memory_bytes: 8 << 30,
        }
    }

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "pi-0-abcde", "namespace": "batch", "uid": "u-1",
                "labels": {"app": "pi"},
                "annotations": {"batch.kubernetes.io/job-completion-index": "3"}},
            "spec": {"nodeName": "n1", "serviceAccountName": "default", "containers": [{
                "name": "c", "image": "busybox",
                "command": ["sh", "-c", "echo $(GREETING) $(MISSING) $$(GREETING) $(INDEX)"],
                "args": ["$(POD)"],
                "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}},
                "env": [
                    {"name": "GREETING", "value": "hello"},
                    {"name": "TWICE", "value": "$(GREETING)-$(GREETING)-$(LATER)"},
                    {"name": "LATER", "value": "x"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "INDEX", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
                    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                    {"name": "NONE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['none']"}}},
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                    {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k", "optional": true}}},
                ]
            }]}
        }))
        .unwrap_or_default()
    }

    #[test]
    fn environment_and_argv() {
        let p = pod();
        let c = &p
            .spec
            .as_ref()
            .map(|s| s.containers[0].clone())
            .unwrap_or_default();
        let env = environment(&p, c, &host()).unwrap_or_default();
        let get = |k: &str| {
            env.iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("HOSTNAME"), Some("pi-0-abcde"));
        assert_eq!(get("PATH"), Some(DEFAULT_PATH));
        assert_eq!(get("TWICE"), Some("hello-hello-$(LATER)"));
        assert_eq!(get("POD"), Some("pi-0-abcde"));
        assert_eq!(get("INDEX"), Some("3"));
        assert_eq!(get("APP"), Some("pi"));
        assert_eq!(get("NONE"), Some(""));
        assert_eq!(get("NODE"), Some("n1"));
        assert_eq!(get("IP"), Some("127.0.0.1"));
        assert_eq!(get("MEM"), Some("64"));
        assert_eq!(get("CPU"), Some("1"));
        assert_eq!(get("OPT"), None);
        assert_eq!(
            argv(c, &env),
            [
                "sh",
                "-c",
                "echo hello $(MISSING) $(GREETING) 3",
                "pi-0-abcde"
            ]
        );
    }

    #[test]
    fn field_refs_and_errors() {
        let p = pod();
        let h = host();
        for (path, want) in [
            ("metadata.namespace", "batch"),
            ("metadata.uid", "u-1"),
            ("metadata.labels", "app=\"pi\""),
            ("spec.serviceAccountName", "default"),
            ("status.hostIP", "127.0.0.1"),
        ] {
            assert_eq!(field_ref(&p, path, &h).as_deref(), Ok(want), "{path}");
        }
        assert!(field_ref(&p, "spec.bogus", &h).is_err());
        let c = Container {
            env: Some(vec![
                serde_json::from_value(json!(
                    {"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
                ))
                .unwrap_or_default(),
            ]),
            ..Default::default()
        };
        assert_eq!(
            environment(&p, &c, &h),
            Err(ConfigError("secret \"s\" not found".into()))
        );
        let mut named = p.clone();
        if let Some(s) = named.spec.as_mut() {
            s.hostname = Some("worker".into());
        }
        assert_eq!(hostname(&named), "worker");
        assert_eq!(
            resource_ref(&c, "requests.memory", None, &h).as_deref(),
            Ok("0")
        );
        assert_eq!(
            resource_ref(&c, "limits.cpu", Some("1m"), &h).as_deref(),
            Ok("2000")
        );
    }
}
