//! The Job's podFailurePolicy and successPolicy rules and the completed/succeeded index
//! interval syntax (`"1,3-5,7"`), with the real v1.33 messages.

use std::collections::BTreeSet;

use k8s_openapi::api::batch::v1::{JobSpec, PodFailurePolicyRule, SuccessPolicy};

use super::field::{ErrorList, FieldError, go_quote, go_slice, value_or_default};
use super::names;

const ACTIONS: &[&str] = &["Count", "FailIndex", "FailJob", "Ignore"];
const OPERATORS: &[&str] = &["In", "NotIn"];
const STATUSES: &[&str] = &["False", "True", "Unknown"];

/// Go `%q` of a sorted string slice, as `fmt.Sprintf("%q", sets.List(...))` prints it.
fn quoted_list(v: &[&str]) -> String {
    let q: Vec<String> = v.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", q.join(" "))
}

/// `validatePodFailurePolicy`.
pub fn validate_pod_failure_policy(spec: &JobSpec, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(pfp) = &spec.pod_failure_policy else {
        return errs;
    };
    let rules_path = format!("{path}.rules");
    if pfp.rules.len() > 20 {
        errs.push(FieldError::too_many(
            rules_path.clone(),
            pfp.rules.len() as i64,
            20,
        ));
    }
    let tspec = value_or_default(&spec.template.spec);
    let containers: BTreeSet<String> = tspec
        .containers
        .iter()
        .chain(tspec.init_containers.iter().flatten())
        .map(|c| c.name.clone())
        .collect();
    for (i, rule) in pfp.rules.iter().enumerate() {
        errs.extend(validate_rule(
            spec,
            rule,
            &format!("{rules_path}[{i}]"),
            &containers,
        ));
    }
    errs
}

fn validate_rule(
    spec: &JobSpec,
    rule: &PodFailurePolicyRule,
    path: &str,
    containers: &BTreeSet<String>,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let ap = format!("{path}.action");
    match rule.action.as_str() {
        "" => errs.push(FieldError::required(
            ap,
            &format!("valid values: {}", quoted_list(ACTIONS)),
        )),
        "FailIndex" if spec.backoff_limit_per_index.is_none() => {
            errs.push(FieldError::invalid(
                ap,
                "FailIndex",
                "requires the backoffLimitPerIndex to be set",
            ));
        }
        a if !ACTIONS.contains(&a) => errs.push(FieldError::not_supported(ap, a, ACTIONS)),
        _ => {}
    }
    let conds = rule.on_pod_conditions.as_deref().unwrap_or_default();
    if let Some(oe) = &rule.on_exit_codes {
        let p = format!("{path}.onExitCodes");
        let op = format!("{p}.operator");
        match oe.operator.as_str() {
            "" => errs.push(FieldError::required(
                op,
                &format!("valid values: {}", quoted_list(OPERATORS)),
            )),
            o if !OPERATORS.contains(&o) => errs.push(FieldError::not_supported(op, o, OPERATORS)),
            _ => {}
        }
        if let Some(cn) = oe
            .container_name
            .as_deref()
            .filter(|c| !containers.contains(*c))
        {
            errs.push(FieldError::invalid(
                format!("{p}.containerName"),
                cn,
                "must be one of the container or initContainer names in the pod template",
            ));
        }
        let vp = format!("{p}.values");
        let go_values = || go_slice("int32", Some(oe.values.as_slice()), |v| v.to_string());
        if oe.values.is_empty() {
            errs.push(FieldError::invalid_go(
                vp.clone(),
                go_values(),
                "at least one value is required",
            ));
        } else if oe.values.len() > 255 {
            errs.push(FieldError::too_many(
                vp.clone(),
                oe.values.len() as i64,
                255,
            ));
        }
        let mut seen = BTreeSet::new();
        let mut ordered = true;
        for (j, v) in oe.values.iter().enumerate() {
            let p = format!("{vp}[{j}]");
            if oe.operator == "In" && *v == 0 {
                errs.push(FieldError::invalid(
                    p.clone(),
                    *v,
                    "must not be 0 for the In operator",
                ));
            }
            if !seen.insert(*v) {
                errs.push(FieldError::duplicate(p, *v));
            }
            if j > 0 && oe.values[j - 1] > *v {
                ordered = false;
            }
        }
        if !ordered {
            errs.push(FieldError::invalid_go(vp, go_values(), "must be ordered"));
        }
    }
    if !conds.is_empty() {
        let p = format!("{path}.onPodConditions");
        if conds.len() > 20 {
            errs.push(FieldError::too_many(p.clone(), conds.len() as i64, 20));
        }
        for (j, pat) in conds.iter().enumerate() {
            let pp = format!("{p}[{j}]");
            for m in names::is_qualified_name(&pat.type_) {
                errs.push(FieldError::invalid(
                    format!("{pp}.type"),
                    pat.type_.as_str(),
                    &m,
                ));
            }
            let sp = format!("{pp}.status");
            match pat.status.as_str() {
                "" => errs.push(FieldError::required(
                    sp,
                    &format!("valid values: {}", quoted_list(STATUSES)),
                )),
                s if !STATUSES.contains(&s) => {
                    errs.push(FieldError::not_supported(sp, s, STATUSES))
                }
                _ => {}
            }
        }
    }
    if rule.on_exit_codes.is_some() && !conds.is_empty() {
        errs.push(FieldError::invalid_omit(
            path,
            "specifying both OnExitCodes and OnPodConditions is not supported",
        ));
    }
    if rule.on_exit_codes.is_none() && conds.is_empty() {
        errs.push(FieldError::invalid_omit(
            path,
            "specifying one of OnExitCodes and OnPodConditions is required",
        ));
    }
    errs
}

/// `validateSuccessPolicy` (Indexed Jobs only; the caller checks the mode).
pub fn validate_success_policy(spec: &JobSpec, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(sp) = &spec.success_policy else {
        return errs;
    };
    let rules_path = format!("{path}.rules");
    if sp.rules.is_empty() {
        errs.push(FieldError::required(
            rules_path.clone(),
            "at least one rules must be specified when the successPolicy is specified",
        ));
    }
    if sp.rules.len() > 20 {
        errs.push(FieldError::too_many(
            rules_path.clone(),
            sp.rules.len() as i64,
            20,
        ));
    }
    let completions = spec.completions.unwrap_or(0);
    for (i, rule) in sp.rules.iter().enumerate() {
        let rp = format!("{rules_path}[{i}]");
        if rule.succeeded_count.is_none() && rule.succeeded_indexes.is_none() {
            errs.push(FieldError::required(
                rp.clone(),
                "at least one of succeededCount or succeededIndexes must be specified",
            ));
        }
        let mut total = 0;
        if let Some(si) = &rule.succeeded_indexes {
            let p = format!("{rp}.succeededIndexes");
            if si.len() > 64 * 1024 {
                errs.push(FieldError::too_long(p.clone(), "", 64 * 1024));
            }
            match indexes_total(si, completions) {
                Ok(t) => total = t,
                Err(e) => errs.push(FieldError::invalid(
                    p,
                    si.as_str(),
                    &format!("error parsing succeededIndexes: {e}"),
                )),
            }
        }
        if let Some(sc) = rule.succeeded_count {
            let p = format!("{rp}.succeededCount");
            if sc < 0 {
                errs.push(FieldError::invalid(
                    p.clone(),
                    sc,
                    "must be greater than or equal to 0",
                ));
            }
            if sc > completions {
                errs.push(FieldError::invalid(
                    p.clone(),
                    sc,
                    &format!("must be less than or equal to {completions} (the number of specified completions)"),
                ));
            }
            if rule.succeeded_indexes.is_some() && sc > total {
                errs.push(FieldError::invalid(
                    p,
                    sc,
                    &format!("must be less than or equal to {total} (the number of indexes in the specified succeededIndexes field)"),
                ));
            }
        }
    }
    errs
}

/// Go `%#v` of a `batch.SuccessPolicy`.
pub fn go_success_policy(sp: &SuccessPolicy) -> String {
    let rules = go_slice("batch.SuccessPolicyRule", Some(sp.rules.as_slice()), |r| {
        let idx = r
            .succeeded_indexes
            .as_ref()
            .map_or("(*string)(nil)".to_string(), |_| {
                "(*string)(0xc000000000)".to_string()
            });
        let cnt = r.succeeded_count.map_or("(*int32)(nil)".to_string(), |_| {
            "(*int32)(0xc000000000)".to_string()
        });
        format!("batch.SuccessPolicyRule{{SucceededIndexes:{idx}, SucceededCount:{cnt}}}")
    });
    format!("batch.SuccessPolicy{{Rules:{rules}}}")
}

/// `validateIndexesFormat`: the number of indexes, or the parse error text.
pub fn indexes_total(s: &str, completions: i32) -> Result<i32, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let mut last: Option<i64> = None;
    let mut total: i64 = 0;
    for interval in s.split(',') {
        let (x, y) = parse_interval(interval, i64::from(completions))?;
        if let Some(l) = last.filter(|l| *l >= x) {
            return Err(format!("non-increasing order, previous: {l}, current: {x}"));
        }
        total += y - x + 1;
        last = Some(y);
    }
    Ok(i32::try_from(total).unwrap_or(i32::MAX))
}

fn go_atoi(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|_| {
        format!(
            "cannot convert string to integer for index: {}",
            go_quote(s)
        )
    })
}

fn parse_interval(s: &str, completions: i64) -> Result<(i64, i64), String> {
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() > 2 {
        return Err(format!(
            "the fragment {} violates the requirement that an index interval can have at most two parts separated by '-'",
            go_quote(s)
        ));
    }
    let x = go_atoi(parts[0])?;
    if x >= completions {
        return Err(format!("too large index: {}", go_quote(parts[0])));
    }
    if let Some(p1) = parts.get(1) {
        let y = go_atoi(p1)?;
        if y >= completions {
            return Err(format!("too large index: {}", go_quote(p1)));
        }
        if x >= y {
            return Err(format!("non-increasing order, previous: {x}, current: {y}"));
        }
        return Ok((x, y));
    }
    Ok((x, x))
}
