//! Field selectors: parsing and the fields each kind supports.
//!
//! A port of `k8s.io/apimachinery/pkg/fields` (`ParseSelector`, escaping, matching), of the
//! field-label conversion functions the apiserver runs before it lists or watches (they decide
//! which fields a kind accepts and word the 400 for the others), and of the registries'
//! `ToSelectableFields` / `GetAttrs` (the values a selector is matched against).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

pub use crate::selector::SelectorError;
use crate::selector::go_quote;

/// The comparison of one term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOp {
    /// `f=v`
    Equals,
    /// `f==v` (means the same as `=`, printed as `=`)
    DoubleEquals,
    /// `f!=v`
    NotEquals,
}

/// One `field op value` term; `value` is unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    /// The field path, e.g. `metadata.name`.
    pub field: String,
    /// The comparison.
    pub op: FieldOp,
    /// The value, unescaped.
    pub value: String,
}

impl FieldTerm {
    fn matches(&self, fields: &BTreeMap<String, String>) -> bool {
        let got = fields.get(&self.field).map_or("", String::as_str);
        match self.op {
            FieldOp::Equals | FieldOp::DoubleEquals => got == self.value,
            FieldOp::NotEquals => got != self.value,
        }
    }
}

/// A parsed field selector: the AND of its terms (sorted as the parser sorts them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// `fields.ParseSelector`: comma-separated `field=value`, `field==value` or `field!=value`
    /// terms; `\,`, `\=` and `\\` escape a comma, an equals sign and a backslash in a value.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(s);
        parts.sort_unstable();
        let mut terms = Vec::new();
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let Some((field, op, rhs)) = split_term(part) else {
                return Err(SelectorError(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            terms.push(FieldTerm {
                field: field.to_owned(),
                op,
                value: unescape_value(rhs)?,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// Whether the selector matches everything (no terms).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms, in parse order.
    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// The field names used, in term order (a name may repeat).
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|t| t.field.as_str())
    }

    /// Whether every term holds; an absent field compares as the empty string.
    pub fn matches(&self, fields: &BTreeMap<String, String>) -> bool {
        self.terms.iter().all(|t| t.matches(fields))
    }

    /// `Some(n)` if the selector is exactly `metadata.name=n` (or `==`).
    pub fn single_name(&self) -> Option<&str> {
        match self.terms.as_slice() {
            [t] if t.field == "metadata.name" && t.op != FieldOp::NotEquals => Some(&t.value),
            _ => None,
        }
    }

    /// `RequiresExactMatch`: the value the first `=`/`==` term on `field` demands, if any.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.op != FieldOp::NotEquals)
            .map(|t| t.value.as_str())
    }

    /// The apiserver's field-label conversion for `resource` (a plural): every field must be
    /// supported (the error is the real server's 400 message), and deprecated aliases are
    /// renamed (`spec.host` becomes `spec.nodeName` on pods).
    pub fn convert(&self, resource: &str) -> Result<FieldSelector, SelectorError> {
        let mut terms = Vec::with_capacity(self.terms.len());
        for t in &self.terms {
            let field = convert_field_label(resource, &t.field)?;
            terms.push(FieldTerm {
                field: field.to_owned(),
                op: t.op,
                value: t.value.clone(),
            });
        }
        Ok(FieldSelector { terms })
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if t.op == FieldOp::NotEquals {
                "!="
            } else {
                "="
            };
            write!(f, "{}{op}{}", t.field, escape_value(&t.value))?;
        }
        Ok(())
    }
}

/// `fields.EscapeValue`.
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `fields.UnescapeValue`.
fn unescape_value(s: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                )));
            }
            out.push(c);
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if matches!(c, ',' | '=') {
            // Go prints the rune with %v, i.e. as its code point.
            return Err(SelectorError(format!(
                "invalid field selector: unescaped character in value: {}",
                c as u32
            )));
        } else {
            out.push(c);
        }
    }
    if in_slash {
        return Err(SelectorError(
            "invalid field selector: invalid escape sequence: \\".to_owned(),
        ));
    }
    Ok(out)
}

/// Splits on commas that are not escaped.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Splits at the first operator, trying `!=`, `==`, `=` at each position.
fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    const OPS: [(&str, FieldOp); 3] = [
        ("!=", FieldOp::NotEquals),
        ("==", FieldOp::DoubleEquals),
        ("=", FieldOp::Equals),
    ];
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, kind) in OPS {
            if rest.starts_with(op) {
                return Some((&term[..i], kind, &term[i + op.len()..]));
            }
        }
    }
    None
}

/// The fields a resource accepts and the name each is converted to; `Err` is the real server's
/// message for an unsupported field.
pub fn convert_field_label<'a>(resource: &str, field: &'a str) -> Result<&'a str, SelectorError> {
    let accepted: &[&str] = match resource {
        "pods" => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        "events" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            "metadata.namespace",
            "metadata.name",
        ],
        "namespaces" => &["status.phase", "metadata.name"],
        "nodes" => &["metadata.name", "spec.unschedulable"],
        "jobs" => &["metadata.name", "metadata.namespace", "status.successful"],
        _ => &["metadata.name", "metadata.namespace"],
    };
    if accepted.contains(&field) {
        return Ok(field);
    }
    if resource == "pods" && field == "spec.host" {
        return Ok("spec.nodeName");
    }
    Err(SelectorError(match resource {
        "pods" | "events" | "namespaces" | "nodes" => {
            format!("field label not supported: {field}")
        }
        "jobs" => format!(
            "field label {} not supported for batchv1.Job",
            go_quote(field)
        ),
        _ => format!(
            "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
            go_quote(field)
        ),
    }))
}

/// Whether `field` is supported for `resource` (a plural) by the apiserver.
pub fn is_supported_field(resource: &str, field: &str) -> bool {
    convert_field_label(resource, field).is_ok()
}

/// The message the apiserver answers (400 BadRequest) for an unsupported `field`.
pub fn unsupported_field_message(resource: &str, field: &str) -> Option<String> {
    convert_field_label(resource, field).err().map(|e| e.0)
}

/// The selectable fields of an object as the real registry's `ToSelectableFields` builds
/// them, given the resource plural and the object as stored (JSON).
pub fn selectable_fields(resource: &str, obj: &Value) -> BTreeMap<String, String> {
    let s = |path: &[&str]| str_at(obj, path).to_owned();
    let mut f = BTreeMap::new();
    f.insert("metadata.name".to_owned(), s(&["metadata", "name"]));
    if !matches!(resource, "namespaces" | "nodes") {
        f.insert(
            "metadata.namespace".to_owned(),
            s(&["metadata", "namespace"]),
        );
    }
    let mut put = |k: &str, v: String| {
        f.insert(k.to_owned(), v);
    };
    match resource {
        "pods" => {
            put("spec.nodeName", s(&["spec", "nodeName"]));
            put("spec.restartPolicy", s(&["spec", "restartPolicy"]));
            put("spec.schedulerName", s(&["spec", "schedulerName"]));
            put(
                "spec.serviceAccountName",
                s(&["spec", "serviceAccountName"]),
            );
            put(
                "spec.hostNetwork",
                bool_at(obj, &["spec", "hostNetwork"]).to_string(),
            );
            put("status.phase", s(&["status", "phase"]));
            put("status.podIP", pod_ip(obj).to_owned());
            put(
                "status.nominatedNodeName",
                s(&["status", "nominatedNodeName"]),
            );
        }
        "events" => {
            for k in [
                "kind",
                "namespace",
                "name",
                "uid",
                "apiVersion",
                "resourceVersion",
                "fieldPath",
            ] {
                put(&format!("involvedObject.{k}"), s(&["involvedObject", k]));
            }
            put("reason", s(&["reason"]));
            put("reportingComponent", s(&["reportingComponent"]));
            let source = match str_at(obj, &["source", "component"]) {
                "" => s(&["reportingComponent"]),
                c => c.to_owned(),
            };
            put("source", source);
            put("type", s(&["type"]));
        }
        "namespaces" => {
            put("status.phase", s(&["status", "phase"]));
            // The real registry keeps this misnamed field for compatibility.
            put("name", s(&["metadata", "name"]));
        }
        "nodes" => {
            put(
                "spec.unschedulable",
                bool_at(obj, &["spec", "unschedulable"]).to_string(),
            );
        }
        "jobs" => {
            let succeeded = obj
                .pointer("/status/succeeded")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            put("status.successful", succeeded.to_string());
        }
        _ => {}
    }
    f
}

/// The pod's primary IP as the internal type holds it: `status.podIP`, else `podIPs[0].ip`.
pub(crate) fn pod_ip(obj: &Value) -> &str {
    match str_at(obj, &["status", "podIP"]) {
        "" => obj
            .pointer("/status/podIPs/0/ip")
            .and_then(Value::as_str)
            .unwrap_or(""),
        ip => ip,
    }
}

fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.get(k))
}

fn str_at<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    at(obj, path).and_then(Value::as_str).unwrap_or("")
}

fn bool_at(obj: &Value, path: &[&str]) -> bool {
    at(obj, path).and_then(Value::as_bool).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_sorts_and_prints() {
        let cases = [
            ("", ""),
            ("metadata.name=pi", "metadata.name=pi"),
            ("metadata.name==pi", "metadata.name=pi"),
            ("status.phase!=Running", "status.phase!=Running"),
            (
                "status.phase=Running,metadata.name=a",
                "metadata.name=a,status.phase=Running",
            ),
            ("a=x\\,y\\=z\\\\", "a=x\\,y\\=z\\\\"),
            (",,a=b,", "a=b"),
            ("a=", "a="),
            ("a!=b\\=c", "a!=b\\=c"),
        ];
        for (input, want) in cases {
            let sel = FieldSelector::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(sel.to_string(), want, "{input}");
        }
        let sel = FieldSelector::parse("a=x\\,y\\=z\\\\").unwrap();
        assert_eq!(sel.terms()[0].value, "x,y=z\\");
        assert!(FieldSelector::parse("").unwrap().is_empty());
        let sel = FieldSelector::parse("b!=1,a=2").unwrap();
        assert_eq!(sel.fields().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn parse_errors() {
        let cases = [
            ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
            (
                "a=b,foo",
                "invalid selector: 'a=b,foo'; can't understand 'foo'",
            ),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a=\\x",
                "invalid field selector: invalid escape sequence: \\x",
            ),
            (
                "a=b\\",
                "invalid field selector: invalid escape sequence: \\",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(FieldSelector::parse(input).unwrap_err().0, want, "{input}");
        }
    }

    #[test]
    fn matching_and_names() {
        let f = map(&[("metadata.name", "pi"), ("status.phase", "Running")]);
        let m = |s: &str| FieldSelector::parse(s).unwrap().matches(&f);
        assert!(m("metadata.name=pi"));
        assert!(m("metadata.name==pi,status.phase!=Failed"));
        assert!(!m("metadata.name=other"));
        assert!(m("spec.nodeName="));
        assert!(!m("spec.nodeName!="));
        assert!(m(""));
        let one = FieldSelector::parse("metadata.name=pi").unwrap();
        assert_eq!(one.single_name(), Some("pi"));
        let two = FieldSelector::parse("metadata.name=pi,status.phase=Running").unwrap();
        assert_eq!(two.single_name(), None);
        assert_eq!(two.requires_exact_match("metadata.name"), Some("pi"));
        let ne = FieldSelector::parse("metadata.name!=pi").unwrap();
        assert_eq!(ne.single_name(), None);
    }

    #[test]
    fn supported_fields_and_messages() {
        assert!(is_supported_field("pods", "spec.nodeName"));
        assert!(is_supported_field("pods", "spec.host"));
        assert!(is_supported_field("events", "involvedObject.uid"));
        assert!(is_supported_field("jobs", "status.successful"));
        assert!(is_supported_field("cronjobs", "metadata.namespace"));
        assert!(!is_supported_field("namespaces", "metadata.namespace"));
        assert!(!is_supported_field("nodes", "metadata.namespace"));
        let msg = |r: &str, f: &str| unsupported_field_message(r, f).unwrap();
        assert_eq!(
            msg("pods", "spec.foo"),
            "field label not supported: spec.foo"
        );
        assert_eq!(
            msg("events", "message"),
            "field label not supported: message"
        );
        assert_eq!(
            msg("jobs", "status.succeeded"),
            "field label \"status.succeeded\" not supported for batchv1.Job"
        );
        assert_eq!(
            msg("cronjobs", "spec.suspend"),
            "\"spec.suspend\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        let sel = FieldSelector::parse("spec.host=node-1").unwrap();
        assert_eq!(
            sel.convert("pods").unwrap().to_string(),
            "spec.nodeName=node-1"
        );
        assert_eq!(
            FieldSelector::parse("a=1,metadata.name=x")
                .unwrap()
                .convert("pods")
                .unwrap_err()
                .0,
            "field label not supported: a"
        );
    }

    #[test]
    fn selectable_fields_of_a_pod() {
        let pod = json!({
            "metadata": {"name": "pi-abcde", "namespace": "default"},
            "spec": {"nodeName": "node-1", "restartPolicy": "Never", "schedulerName": "default-scheduler",
                     "serviceAccountName": "default"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.7"}]}
        });
        let want = map(&[
            ("metadata.name", "pi-abcde"),
            ("metadata.namespace", "default"),
            ("spec.nodeName", "node-1"),
            ("spec.restartPolicy", "Never"),
            ("spec.schedulerName", "default-scheduler"),
            ("spec.serviceAccountName", "default"),
            ("spec.hostNetwork", "false"),
            ("status.phase", "Running"),
            ("status.podIP", "10.0.0.7"),
            ("status.nominatedNodeName", ""),
        ]);
        assert_eq!(selectable_fields("pods", &pod), want);
    }

    #[test]
    fn selectable_fields_of_an_event_a_job_and_others() {
        let event = json!({
            "metadata": {"name": "pi.17f", "namespace": "default"},
            "involvedObject": {"kind": "Job", "namespace": "default", "name": "pi", "uid": "u-1",
                               "apiVersion": "batch/v1", "resourceVersion": "42"},
            "reason": "SuccessfulCreate", "type": "Normal",
            "source": {}, "reportingComponent": "job-controller"
        });
        let want = map(&[
            ("metadata.name", "pi.17f"),
            ("metadata.namespace", "default"),
            ("involvedObject.kind", "Job"),
            ("involvedObject.namespace", "default"),
            ("involvedObject.name", "pi"),
            ("involvedObject.uid", "u-1"),
            ("involvedObject.apiVersion", "batch/v1"),
            ("involvedObject.resourceVersion", "42"),
            ("involvedObject.fieldPath", ""),
            ("reason", "SuccessfulCreate"),
            ("reportingComponent", "job-controller"),
            ("source", "job-controller"),
            ("type", "Normal"),
        ]);
        assert_eq!(selectable_fields("events", &event), want);

        let job =
            json!({"metadata": {"name": "pi", "namespace": "ns"}, "status": {"succeeded": 3}});
        assert_eq!(
            selectable_fields("jobs", &job),
            map(&[
                ("metadata.name", "pi"),
                ("metadata.namespace", "ns"),
                ("status.successful", "3")
            ])
        );
        let ns = json!({"metadata": {"name": "team"}, "status": {"phase": "Active"}});
        assert_eq!(
            selectable_fields("namespaces", &ns),
            map(&[
                ("metadata.name", "team"),
                ("name", "team"),
                ("status.phase", "Active")
            ])
        );
        let node = json!({"metadata": {"name": "n1"}, "spec": {"unschedulable": true}});
        assert_eq!(
            selectable_fields("nodes", &node),
            map(&[("metadata.name", "n1"), ("spec.unschedulable", "true")])
        );
        let cj = json!({"metadata": {"name": "c", "namespace": "ns"}});
        assert_eq!(
            selectable_fields("cronjobs", &cj),
            map(&[("metadata.name", "c"), ("metadata.namespace", "ns")])
        );
    }
}
