//! Container-level rules of core validation (v1.33) shared by regular and init containers:
//! name, image, termination message policy, ports, env and envFrom, volume mounts, pull
//! policy (resources and probes live in `resources`, the volume list in `volume`).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Container, EnvVar};

use super::field::{ErrorList, FieldError};
use super::meta::validate_label_name;
use super::names;
use super::resources::validate_resources;
use super::volume::no_backsteps;

const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

const RESOURCE_FIELD_PATHS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];
/// `ValidateDNS1123Label` as a field check.
pub fn dns1123_label(value: &str, path: &str) -> ErrorList {
    names::is_dns1123_label(value)
        .into_iter()
        .map(|m| FieldError::invalid(path, value, &m))
        .collect()
}

/// `validateContainerCommon`: the rules shared by regular and init containers.
pub fn validate_container_common(
    c: &Container,
    volumes: &BTreeSet<String>,
    pod_restart_policy: &str,
    path: &str,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let name_path = format!("{path}.name");
    if c.name.is_empty() {
        errs.push(FieldError::required(name_path, ""));
    } else {
        errs.extend(dns1123_label(&c.name, &name_path));
    }
    if c.image.as_deref().unwrap_or("").is_empty() {
        errs.push(FieldError::required(format!("{path}.image"), ""));
    }
    let tmp = format!("{path}.terminationMessagePolicy");
    match c.termination_message_policy.as_deref().unwrap_or("") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(tmp, "")),
        other => errs.push(FieldError::not_supported(
            tmp,
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errs.extend(validate_ports(c, &format!("{path}.ports")));
    errs.extend(validate_env(
        c.env.as_deref().unwrap_or_default(),
        &format!("{path}.env"),
    ));
    errs.extend(validate_env_from(c, &format!("{path}.envFrom")));
    errs.extend(validate_volume_mounts(
        c,
        volumes,
        &format!("{path}.volumeMounts"),
    ));
    let ipp = format!("{path}.imagePullPolicy");
    match c.image_pull_policy.as_deref().unwrap_or("") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(ipp, "")),
        other => errs.push(FieldError::not_supported(
            ipp,
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    if let Some(r) = &c.resources {
        errs.extend(validate_resources(r, &format!("{path}.resources")));
    }
    for (i, p) in c.resize_policy.iter().flatten().enumerate() {
        let rp = format!("{path}.resizePolicy");
        let _ = i;
        match p.resource_name.as_str() {
            "cpu" | "memory" => {}
            "" => errs.push(FieldError::required(rp.clone(), "")),
            other => errs.push(FieldError::not_supported(
                rp.clone(),
                other,
                &["cpu", "memory"],
            )),
        }
        match p.restart_policy.as_str() {
            "NotRequired" | "RestartContainer" => {}
            "" => errs.push(FieldError::required(rp.clone(), "")),
            other => errs.push(FieldError::not_supported(
                rp.clone(),
                other,
                &["NotRequired", "RestartContainer"],
            )),
        }
        if pod_restart_policy == "Never" && p.restart_policy != "NotRequired" {
            errs.push(FieldError::invalid(
                rp,
                p.restart_policy.as_str(),
                "must be 'NotRequired' when `restartPolicy` is 'Never'",
            ));
        }
    }
    if let Some(sc) = &c.security_context {
        let sp = format!("{path}.securityContext");
        for (v, f) in [
            (sc.run_as_user, "runAsUser"),
            (sc.run_as_group, "runAsGroup"),
        ] {
            for m in v.map(names::is_valid_id).unwrap_or_default() {
                errs.push(FieldError::invalid(format!("{sp}.{f}"), v.unwrap_or(0), &m));
            }
        }
    }
    errs
}

fn validate_ports(c: &Container, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut seen = BTreeSet::new();
    for (i, port) in c.ports.iter().flatten().enumerate() {
        let idx = format!("{path}[{i}]");
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let msgs = names::is_valid_port_name(name);
            if !msgs.is_empty() {
                for m in msgs {
                    errs.push(FieldError::invalid(format!("{idx}.name"), name, &m));
                }
            } else if !seen.insert(name.to_string()) {
                errs.push(FieldError::duplicate(format!("{idx}.name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(format!("{idx}.containerPort"), ""));
        } else {
            for m in names::is_valid_port_num(i64::from(port.container_port)) {
                errs.push(FieldError::invalid(
                    format!("{idx}.containerPort"),
                    port.container_port,
                    &m,
                ));
            }
        }
        if let Some(hp) = port.host_port.filter(|p| *p != 0) {
            for m in names::is_valid_port_num(i64::from(hp)) {
                errs.push(FieldError::invalid(format!("{idx}.hostPort"), hp, &m));
            }
        }
        match port.protocol.as_deref().unwrap_or("") {
            "TCP" | "UDP" | "SCTP" => {}
            "" => errs.push(FieldError::required(format!("{idx}.protocol"), "")),
            other => errs.push(FieldError::not_supported(
                format!("{idx}.protocol"),
                other,
                &["SCTP", "TCP", "UDP"],
            )),
        }
    }
    errs
}

/// `ValidateEnv` with relaxed names (the v1.33 default).
pub fn validate_env(vars: &[EnvVar], path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, ev) in vars.iter().enumerate() {
        let idx = format!("{path}[{i}]");
        if ev.name.is_empty() {
            errs.push(FieldError::required(format!("{idx}.name"), ""));
        } else {
            for m in names::is_relaxed_env_var_name(&ev.name) {
                errs.push(FieldError::invalid(
                    format!("{idx}.name"),
                    ev.name.as_str(),
                    &m,
                ));
            }
        }
        errs.extend(validate_value_from(ev, &format!("{idx}.valueFrom")));
    }
    errs
}

fn validate_value_from(ev: &EnvVar, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(vf) = &ev.value_from else {
        return errs;
    };
    let mut n = 0;
    if let Some(fr) = &vf.field_ref {
        n += 1;
        let p = format!("{path}.fieldRef");
        if fr.api_version.as_deref().unwrap_or("").is_empty() {
            errs.push(FieldError::required(format!("{p}.apiVersion"), ""));
        } else if fr.field_path.is_empty() {
            errs.push(FieldError::required(format!("{p}.fieldPath"), ""));
        } else {
            errs.extend(validate_field_path(&fr.field_path, &p));
        }
    }
    if let Some(rr) = &vf.resource_field_ref {
        n += 1;
        let p = format!("{path}.resourceFieldRef");
        if rr.resource.is_empty() {
            errs.push(FieldError::required(format!("{p}.resource"), ""));
        } else if !RESOURCE_FIELD_PATHS.contains(&rr.resource.as_str())
            && !rr.resource.starts_with("limits.hugepages-")
            && !rr.resource.starts_with("requests.hugepages-")
        {
            errs.push(FieldError::not_supported(
                format!("{p}.resource"),
                rr.resource.as_str(),
                RESOURCE_FIELD_PATHS,
            ));
        }
    }
    for (sel, name, key) in [
        (
            vf.config_map_key_ref.is_some(),
            "configMapKeyRef",
            vf.config_map_key_ref.as_ref().map(|s| (&s.name, &s.key)),
        ),
        (
            vf.secret_key_ref.is_some(),
            "secretKeyRef",
            vf.secret_key_ref.as_ref().map(|s| (&s.name, &s.key)),
        ),
    ] {
        let Some((sname, skey)) = key.filter(|_| sel) else {
            continue;
        };
        n += 1;
        let p = format!("{path}.{name}");
        for m in names::is_dns1123_subdomain(sname) {
            errs.push(FieldError::invalid(format!("{p}.name"), sname.as_str(), &m));
        }
        if skey.is_empty() {
            errs.push(FieldError::required(format!("{p}.key"), ""));
        } else {
            for m in names::is_config_map_key(skey) {
                errs.push(FieldError::invalid(format!("{p}.key"), skey.as_str(), &m));
            }
        }
    }
    if n == 0 {
        errs.push(FieldError::invalid(
            path,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        ));
    } else if !ev.value.as_deref().unwrap_or("").is_empty() {
        errs.push(FieldError::invalid(
            path,
            "",
            "may not be specified when `value` is not empty",
        ));
    } else if n > 1 {
        errs.push(FieldError::invalid(
            path,
            "",
            "may not have more than one field specified at a time",
        ));
    }
    errs
}

/// `validateObjectFieldSelector` for env (v1 field paths; labels/annotations subscripts).
fn validate_field_path(fp: &str, p: &str) -> ErrorList {
    if let Some((base, rest)) = fp.split_once('[') {
        let sub = rest.strip_suffix(']').map(|s| s.trim_matches('\''));
        return match (base, sub) {
            ("metadata.annotations", Some(s)) => names::is_qualified_name(&s.to_lowercase())
                .into_iter()
                .map(|m| FieldError::invalid(p, s.to_lowercase(), &m))
                .collect(),
            ("metadata.labels", Some(s)) => names::is_qualified_name(s)
                .into_iter()
                .map(|m| FieldError::invalid(p, s, &m))
                .collect(),
            (_, Some(_)) => vec![FieldError::invalid(p, base, "does not support subscript")],
            (_, None) => vec![FieldError::not_supported(
                format!("{p}.fieldPath"),
                fp,
                ENV_FIELD_PATHS,
            )],
        };
    }
    if ENV_FIELD_PATHS.contains(&fp) {
        Vec::new()
    } else {
        vec![FieldError::not_supported(
            format!("{p}.fieldPath"),
            fp,
            ENV_FIELD_PATHS,
        )]
    }
}

fn validate_env_from(c: &Container, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, ef) in c.env_from.iter().flatten().enumerate() {
        let idx = format!("{path}[{i}]");
        if let Some(prefix) = ef.prefix.as_deref().filter(|p| !p.is_empty()) {
            for m in names::is_relaxed_env_var_name(prefix) {
                errs.push(FieldError::invalid(format!("{idx}.prefix"), prefix, &m));
            }
        }
        let mut n = 0;
        for (present, name, field) in [
            (
                ef.config_map_ref.as_ref().map(|r| &r.name),
                "configMapRef",
                "name",
            ),
            (ef.secret_ref.as_ref().map(|r| &r.name), "secretRef", "name"),
        ] {
            let Some(rname) = present else { continue };
            n += 1;
            let np = format!("{idx}.{name}.{field}");
            if rname.is_empty() {
                errs.push(FieldError::required(np, ""));
            } else {
                for m in names::name_is_dns_subdomain(rname, true) {
                    errs.push(FieldError::invalid(np.clone(), rname.as_str(), &m));
                }
            }
        }
        if n == 0 {
            errs.push(FieldError::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if n > 1 {
            errs.push(FieldError::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_volume_mounts(c: &Container, volumes: &BTreeSet<String>, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut mount_points = BTreeSet::new();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let idx = format!("{path}[{i}]");
        if m.name.is_empty() {
            errs.push(FieldError::required(format!("{idx}.name"), ""));
        }
        if !volumes.contains(&m.name) {
            errs.push(FieldError::not_found(
                format!("{idx}.name"),
                m.name.as_str(),
            ));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(format!("{idx}.mountPath"), ""));
        }
        if !mount_points.insert(m.mount_path.clone()) {
            errs.push(FieldError::invalid(
                format!("{idx}.mountPath"),
                m.mount_path.as_str(),
                "must be unique",
            ));
        }
        let sub_path = m.sub_path.as_deref().unwrap_or("");
        if !sub_path.is_empty() {
            errs.extend(local_descending_path(sub_path, &format!("{path}.subPath")));
        }
        let expr = m.sub_path_expr.as_deref().unwrap_or("");
        if !expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(
                    format!("{idx}.subPathExpr"),
                    expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(local_descending_path(expr, &format!("{path}.subPathExpr")));
        }
    }
    errs
}

/// `validateLocalDescendingPath`.
fn local_descending_path(target: &str, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    if target.starts_with('/') {
        errs.push(FieldError::invalid(path, target, "must be a relative path"));
    }
    errs.extend(no_backsteps(target, path));
    errs
}

/// Label-name check re-exported for toleration keys.
pub fn label_key(key: &str, path: &str) -> ErrorList {
    validate_label_name(key, path)
}
