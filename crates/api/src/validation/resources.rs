//! Container resources (`ValidateResourceRequirements`) and probes (`validateProbe`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Probe, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::field::{ErrorList, FieldError};
use super::names;
use super::quantity::Quantity;

fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// `ValidateResourceRequirements` (names, non-negative values, requests vs limits).
pub fn validate_resources(r: &ResourceRequirements, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let lim_path = format!("{path}.limits");
    let req_path = format!("{path}.requests");
    let empty = BTreeMap::new();
    let limits = r.limits.as_ref().unwrap_or(&empty);
    let requests = r.requests.as_ref().unwrap_or(&empty);
    let mut cpu_mem = false;
    let mut huge = false;
    for (name, q) in limits {
        let fp = format!("{lim_path}[{name}]");
        errs.extend(resource_name_and_value(name, &q.0, &fp));
        cpu_mem |= name == "cpu" || name == "memory";
        huge |= is_hugepages(name);
    }
    for (name, q) in requests {
        let fp = format!("{req_path}[{name}]");
        errs.extend(resource_name_and_value(name, &q.0, &fp));
        let overcommit = is_native(name) && !is_hugepages(name);
        let req = Quantity::parse(&q.0);
        match (limits.get(name), req) {
            (Some(lim), Some(req)) => {
                if let Some(l) = Quantity::parse(&lim.0) {
                    let ord = req.cmp_value(&l);
                    if ord.is_ne() && !overcommit {
                        errs.push(FieldError::invalid(
                            req_path.clone(),
                            req.canonical(),
                            &format!("must be equal to {name} limit of {}", l.canonical()),
                        ));
                    } else if ord.is_gt() {
                        errs.push(FieldError::invalid(
                            req_path.clone(),
                            req.canonical(),
                            &format!(
                                "must be less than or equal to {name} limit of {}",
                                l.canonical()
                            ),
                        ));
                    }
                }
            }
            (None, _) if !overcommit => errs.push(FieldError::required(
                lim_path.clone(),
                "Limit must be set for non overcommitable resources",
            )),
            _ => {}
        }
        cpu_mem |= name == "cpu" || name == "memory";
        huge |= is_hugepages(name);
    }
    if !cpu_mem && huge {
        errs.push(FieldError::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
    errs
}

fn resource_name_and_value(name: &str, q: &str, fp: &str) -> ErrorList {
    let mut errs: ErrorList = names::is_qualified_name(name)
        .into_iter()
        .map(|m| FieldError::invalid(fp, name, &m))
        .collect();
    if errs.is_empty() {
        let standard = ["cpu", "memory", "ephemeral-storage"].contains(&name) || is_hugepages(name);
        if !name.contains('/') && !standard {
            errs.push(FieldError::invalid(
                fp,
                name,
                "must be a standard resource for containers",
            ));
        }
    }
    if let Some(v) = Quantity::parse(q).filter(|v| v.is_negative()) {
        errs.push(FieldError::invalid(
            fp,
            v.canonical(),
            "must be greater than or equal to 0",
        ));
    }
    errs
}

/// `validateProbe` plus the liveness/readiness/startup specifics.
pub fn validate_probe(p: &Probe, kind: &str, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let handlers = [
        ("exec", p.exec.is_some()),
        ("httpGet", p.http_get.is_some()),
        ("tcpSocket", p.tcp_socket.is_some()),
        ("grpc", p.grpc.is_some()),
    ];
    let mut n = 0;
    for (name, present) in handlers {
        if !present {
            continue;
        }
        if n > 0 {
            errs.push(FieldError::forbidden(
                format!("{path}.{name}"),
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        n += 1;
        let hp = format!("{path}.{name}");
        match name {
            "exec"
                if p.exec
                    .as_ref()
                    .is_some_and(|e| e.command.as_deref().unwrap_or_default().is_empty()) =>
            {
                errs.push(FieldError::required(format!("{hp}.command"), ""));
            }
            "httpGet" => {
                if let Some(h) = &p.http_get {
                    if h.path.as_deref().unwrap_or("").is_empty() {
                        errs.push(FieldError::required(format!("{hp}.path"), ""));
                    }
                    errs.extend(port_num_or_name(&h.port, &format!("{hp}.port")));
                    let scheme = h.scheme.as_deref().unwrap_or("");
                    if scheme != "HTTP" && scheme != "HTTPS" {
                        errs.push(FieldError::not_supported(
                            format!("{hp}.scheme"),
                            scheme,
                            &["HTTP", "HTTPS"],
                        ));
                    }
                }
            }
            "tcpSocket" => {
                if let Some(t) = &p.tcp_socket {
                    errs.extend(port_num_or_name(&t.port, &format!("{hp}.port")));
                }
            }
            "grpc" => {
                if let Some(g) = &p.grpc {
                    errs.extend(port_num_or_name(
                        &IntOrString::Int(g.port),
                        &format!("{hp}.port"),
                    ));
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    for (v, f) in [
        (p.initial_delay_seconds, "initialDelaySeconds"),
        (p.timeout_seconds, "timeoutSeconds"),
        (p.period_seconds, "periodSeconds"),
        (p.success_threshold, "successThreshold"),
        (p.failure_threshold, "failureThreshold"),
    ] {
        if let Some(v) = v.filter(|v| *v < 0) {
            errs.push(FieldError::invalid(
                format!("{path}.{f}"),
                v,
                "must be greater than or equal to 0",
            ));
        }
    }
    if let Some(t) = p.termination_grace_period_seconds.filter(|t| *t <= 0) {
        errs.push(FieldError::invalid(
            format!("{path}.terminationGracePeriodSeconds"),
            t,
            "must be greater than 0",
        ));
    }
    let st = p.success_threshold.unwrap_or(0);
    if (kind == "liveness" || kind == "startup") && st != 1 {
        errs.push(FieldError::invalid(
            format!("{path}.successThreshold"),
            st,
            "must be 1",
        ));
    }
    if kind == "readiness"
        && let Some(t) = p.termination_grace_period_seconds
    {
        errs.push(FieldError::invalid(
            format!("{path}.terminationGracePeriodSeconds"),
            t,
            "must not be set for readinessProbes",
        ));
    }
    errs
}

fn port_num_or_name(port: &IntOrString, path: &str) -> ErrorList {
    match port {
        IntOrString::Int(n) => names::is_valid_port_num(i64::from(*n))
            .into_iter()
            .map(|m| FieldError::invalid(path, *n, &m))
            .collect(),
        IntOrString::String(s) => names::is_valid_port_name(s)
            .into_iter()
            .map(|m| FieldError::invalid(path, s.as_str(), &m))
            .collect(),
    }
}
