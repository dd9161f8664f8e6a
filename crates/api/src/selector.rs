//! Label selectors: parsing of the string syntax, conversion from LabelSelector, matching.
//!
//! A port of `k8s.io/apimachinery/pkg/labels/selector.go` (lexer, parser, `Requirement`
//! validation and `String`) and of `metav1.LabelSelectorAsSelector` / `FormatLabelSelector`.
//! Error messages are worded as apimachinery words them, since the apiserver returns them
//! verbatim in a 400 BadRequest.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

/// A selector that could not be parsed or built; the message is apimachinery's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

/// The relation a [`Requirement`] checks (`selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `k in (a,b)`
    In,
    /// `k notin (a,b)`
    NotIn,
    /// `k=v`
    Equals,
    /// `k==v`
    DoubleEquals,
    /// `k!=v`
    NotEquals,
    /// `k`
    Exists,
    /// `!k`
    DoesNotExist,
    /// `k>1` (integer comparison)
    GreaterThan,
    /// `k<1` (integer comparison)
    LessThan,
}

/// One term of a selector: a key, an operator and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    op: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.op
    }

    /// The values as given (parsed selectors hold them sorted and deduplicated).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// `labels.NewRequirement`: validates the key, the value count and every value.
    fn new(key: &str, op: Operator, values: Vec<String>) -> Result<Self, SelectorError> {
        let mut errs = Vec::new();
        if let Some(detail) = qualified_name_errors(key) {
            errs.push(invalid("key", key, &detail));
        }
        match op {
            Operator::In | Operator::NotIn if values.is_empty() => errs.push(invalid_list(
                &values,
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                errs.push(invalid_list(
                    &values,
                    "exact-match compatibility requires one single value",
                ))
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                errs.push(invalid_list(
                    &values,
                    "values set must be empty for exists and does not exist",
                ))
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(invalid_list(
                        &values,
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(invalid(
                            &format!("values[{i}]"),
                            v,
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            if let Some(detail) = label_value_errors(v) {
                errs.push(invalid(&format!("values[{i}][{key}]"), v, &detail));
            }
        }
        if errs.is_empty() {
            Ok(Requirement {
                key: key.to_owned(),
                op,
                values,
            })
        } else {
            Err(SelectorError(aggregate(errs)))
        }
    }

    /// `Requirement.Matches`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let has = |v: &str| self.values.iter().any(|x| x == v);
        let got = labels.get(&self.key);
        match self.op {
            Operator::In | Operator::Equals | Operator::DoubleEquals => got.is_some_and(|v| has(v)),
            Operator::NotIn | Operator::NotEquals => got.is_none_or(|v| !has(v)),
            Operator::Exists => got.is_some(),
            Operator::DoesNotExist => got.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(got), [want]) = (got, self.values.as_slice()) else {
                    return false;
                };
                match (got.parse::<i64>(), want.parse::<i64>()) {
                    (Ok(g), Ok(w)) if self.op == Operator::GreaterThan => g > w,
                    (Ok(g), Ok(w)) => g < w,
                    _ => false,
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (op, parens) = match self.op {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => ("=", false),
            Operator::DoubleEquals => ("==", false),
            Operator::NotEquals => ("!=", false),
            Operator::In => (" in ", true),
            Operator::NotIn => (" notin ", true),
            Operator::GreaterThan => (">", false),
            Operator::LessThan => ("<", false),
        };
        f.write_str(op)?;
        if parens {
            f.write_str("(")?;
        }
        let mut sorted: Vec<&str> = self.values.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        f.write_str(&sorted.join(","))?;
        if parens {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed label selector: the AND of its requirements, kept sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        Self::default()
    }

    /// `labels.Parse`: the string syntax (`k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`,
    /// `k notin (a,b)`, `k>1`, `k<1`, comma-joined).
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut requirements = parse::Parser::new(s).parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector { requirements })
    }

    /// `metav1.LabelSelectorAsSelector` for a present selector: matchLabels and
    /// matchExpressions (In, NotIn, Exists, DoesNotExist). An empty one matches everything.
    pub fn from_label_selector(sel: &metav1::LabelSelector) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            requirements.push(Requirement::new(k, Operator::Equals, vec![v.clone()])?);
        }
        for expr in sel.match_expressions.iter().flatten() {
            let op = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    )));
                }
            };
            let values = expr.values.clone().unwrap_or_default();
            requirements.push(Requirement::new(&expr.key, op, values)?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector { requirements })
    }

    /// Whether every requirement holds for `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether the selector matches everything (no requirements).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// `RequiresExactMatch`: the single value `key` must have (`=`, `==` or a one-value `in`)
    /// if the first requirement on `key` demands one.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.op, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// `metav1.FormatLabelSelector`, as the SELECTOR columns print it: `<none>` when absent or
/// empty, `<error>` when it does not convert, otherwise the canonical string.
pub fn format_label_selector(sel: Option<&metav1::LabelSelector>) -> String {
    let Some(sel) = sel else {
        return "<none>".to_owned();
    };
    match LabelSelector::from_label_selector(sel) {
        Err(_) => "<error>".to_owned(),
        Ok(s) if s.is_empty() => "<none>".to_owned(),
        Ok(s) => s.to_string(),
    }
}

// --- apimachinery validation helpers, messages verbatim ---

/// `field.Invalid(path, value, detail).Error()` for a string value.
fn invalid(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {}: {detail}", go_quote(value))
}

/// `field.Invalid` for the whole values list (printed as Go's `%#v` of a `[]string`).
fn invalid_list(values: &[String], detail: &str) -> String {
    // Go's `%#v` of a `[]string`; an empty list here is always a nil slice.
    let shown = if values.is_empty() {
        "[]string(nil)".to_owned()
    } else {
        let items: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
        format!("[]string{{{}}}", items.join(", "))
    };
    format!("values: Invalid value: {shown}: {detail}")
}

/// `utilerrors.NewAggregate(errs).Error()`: one message alone, several deduplicated in brackets.
fn aggregate(errs: Vec<String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    if seen.len() == 1 {
        seen.pop().unwrap_or_default()
    } else {
        format!("[{}]", seen.join(", "))
    }
}

/// Go's `%q` for the strings selectors carry (printable ASCII passes through).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `validation.RegexError`.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut out = msg.to_owned();
    out.push_str(" (e.g. ");
    for (i, ex) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{ex}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, anchored.
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    let ext = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() && b.iter().all(ext)
        }
        _ => false,
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`, anchored.
fn is_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(|label| {
        let b = label.as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        match (b.first(), b.last()) {
            (Some(f), Some(l)) => alnum(f) && alnum(l) && b.iter().all(|c| alnum(c) || *c == b'-'),
            _ => false,
        }
    })
}

/// `validation.IsQualifiedName`, joined with `"; "` as `validateLabelKey` does; `None` if valid.
pub(crate) fn qualified_name_errors(value: &str) -> Option<String> {
    let mut errs: Vec<String> = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else {
                if prefix.len() > 253 {
                    errs.push("prefix part must be no more than 253 characters".to_owned());
                }
                if !is_dns1123_subdomain(prefix) {
                    errs.push(format!(
                        "prefix part {}",
                        regex_error(
                            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
                            "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
                            &["example.com"],
                        )
                    ));
                }
            }
            *name
        }
        _ => {
            return Some(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            ));
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_owned());
    }
    if !is_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    (!errs.is_empty()).then(|| errs.join("; "))
}

/// `validation.IsValidLabelValue`, joined with `"; "`; `None` if valid.
fn label_value_errors(value: &str) -> Option<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?",
            &["MyValue", "my_value", "12345"],
        ));
    }
    (!errs.is_empty()).then(|| errs.join("; "))
}

mod parse {
    //! The lexer and recursive-descent parser of `labels.Parse`, token for token.

    use super::{Operator, Requirement, SelectorError, invalid, qualified_name_errors};

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Tok {
        End,
        ClosedPar,
        Comma,
        DoesNotExist,
        DoubleEquals,
        Equals,
        GreaterThan,
        Identifier,
        In,
        LessThan,
        NotEquals,
        NotIn,
        OpenPar,
    }

    fn keyword(s: &str) -> Option<Tok> {
        Some(match s {
            ")" => Tok::ClosedPar,
            "," => Tok::Comma,
            "!" => Tok::DoesNotExist,
            "==" => Tok::DoubleEquals,
            "=" => Tok::Equals,
            ">" => Tok::GreaterThan,
            "in" => Tok::In,
            "<" => Tok::LessThan,
            "!=" => Tok::NotEquals,
            "notin" => Tok::NotIn,
            "(" => Tok::OpenPar,
            _ => return None,
        })
    }

    fn is_whitespace(c: u8) -> bool {
        matches!(c, b' ' | b'\t' | b'\r' | b'\n')
    }

    fn is_special(c: u8) -> bool {
        matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
    }

    /// Splits the input into tokens; a NUL byte ends the input, as in Go's lexer.
    fn lex(s: &str) -> Vec<(Tok, String)> {
        let b = s.as_bytes();
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            while pos < end && is_whitespace(b[pos]) {
                pos += 1;
            }
            if pos >= end {
                out.push((Tok::End, String::new()));
                return out;
            }
            let start = pos;
            if is_special(b[pos]) {
                // Longest run of special symbols that still forms a token.
                let mut best = None;
                let mut p = pos;
                while p < end && is_special(b[p]) {
                    p += 1;
                    match keyword(&s[start..p]) {
                        Some(t) => best = Some((t, p)),
                        None if best.is_some() => break,
                        None => {}
                    }
                }
                // Every single special symbol is a token, so `best` is always set.
                let (tok, stop) = best.unwrap_or((Tok::Identifier, p));
                pos = stop;
                out.push((tok, s[start..stop].to_owned()));
            } else {
                while pos < end && !is_special(b[pos]) && !is_whitespace(b[pos]) {
                    pos += 1;
                }
                let lit = &s[start..pos];
                out.push((keyword(lit).unwrap_or(Tok::Identifier), lit.to_owned()));
            }
        }
    }

    /// Where a token is read: in value position `in` and `notin` are plain identifiers.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Ctx {
        KeyAndOperator,
        Values,
    }

    pub(super) struct Parser {
        items: Vec<(Tok, String)>,
        pos: usize,
    }

    fn err(msg: String) -> SelectorError {
        SelectorError(msg)
    }

    impl Parser {
        pub(super) fn new(s: &str) -> Self {
            Parser {
                items: lex(s),
                pos: 0,
            }
        }

        fn lookahead(&self, ctx: Ctx) -> (Tok, String) {
            let (tok, lit) = self
                .items
                .get(self.pos)
                .cloned()
                .unwrap_or((Tok::End, String::new()));
            match (ctx, tok) {
                (Ctx::Values, Tok::In | Tok::NotIn) => (Tok::Identifier, lit),
                _ => (tok, lit),
            }
        }

        fn consume(&mut self, ctx: Ctx) -> (Tok, String) {
            let item = self.lookahead(ctx);
            self.pos += 1;
            item
        }

        pub(super) fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
            let mut reqs = Vec::new();
            loop {
                let (tok, lit) = self.lookahead(Ctx::Values);
                match tok {
                    Tok::Identifier | Tok::DoesNotExist => {
                        let r = self
                            .requirement()
                            .map_err(|e| err(format!("unable to parse requirement: {}", e.0)))?;
                        reqs.push(r);
                        let (t, l) = self.consume(Ctx::Values);
                        match t {
                            Tok::End => return Ok(reqs),
                            Tok::Comma => {
                                let (t2, l2) = self.lookahead(Ctx::Values);
                                if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                    return Err(err(format!(
                                        "found '{l2}', expected: identifier after ','"
                                    )));
                                }
                            }
                            _ => {
                                return Err(err(format!(
                                    "found '{l}', expected: ',' or 'end of string'"
                                )));
                            }
                        }
                    }
                    Tok::End => return Ok(reqs),
                    _ => {
                        return Err(err(format!(
                            "found '{lit}', expected: !, identifier, or 'end of string'"
                        )));
                    }
                }
            }
        }

        fn requirement(&mut self) -> Result<Requirement, SelectorError> {
            let (key, unary) = self.key_and_inferred_operator()?;
            if let Some(op) = unary {
                return Requirement::new(&key, op, Vec::new());
            }
            let op = self.operator()?;
            let mut values = match op {
                Operator::In | Operator::NotIn => self.values()?,
                _ => self.exact_value()?,
            };
            values.sort();
            values.dedup();
            Requirement::new(&key, op, values)
        }

        /// The key, and the operator when it is unary (`k` or `!k`).
        fn key_and_inferred_operator(
            &mut self,
        ) -> Result<(String, Option<Operator>), SelectorError> {
            let (mut tok, mut lit) = self.consume(Ctx::Values);
            let negated = tok == Tok::DoesNotExist;
            if negated {
                (tok, lit) = self.consume(Ctx::Values);
            }
            if tok != Tok::Identifier {
                return Err(err(format!("found '{lit}', expected: identifier")));
            }
            if let Some(detail) = qualified_name_errors(&lit) {
                return Err(err(invalid("<nil>", &lit, &detail)));
            }
            let (next, _) = self.lookahead(Ctx::Values);
            let op = if negated {
                Some(Operator::DoesNotExist)
            } else if matches!(next, Tok::End | Tok::Comma) {
                Some(Operator::Exists)
            } else {
                None
            };
            Ok((lit, op))
        }

        fn operator(&mut self) -> Result<Operator, SelectorError> {
            let (tok, lit) = self.consume(Ctx::KeyAndOperator);
            Ok(match tok {
                Tok::In => Operator::In,
                Tok::Equals => Operator::Equals,
                Tok::DoubleEquals => Operator::DoubleEquals,
                Tok::GreaterThan => Operator::GreaterThan,
                Tok::LessThan => Operator::LessThan,
                Tok::NotIn => Operator::NotIn,
                Tok::NotEquals => Operator::NotEquals,
                _ => {
                    return Err(err(format!(
                        "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                    )));
                }
            })
        }

        /// `(a,b,...)`; empty entries are the empty value.
        fn values(&mut self) -> Result<Vec<String>, SelectorError> {
            let (tok, lit) = self.consume(Ctx::Values);
            if tok != Tok::OpenPar {
                return Err(err(format!("found '{lit}' expected: '('")));
            }
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Identifier | Tok::Comma => {
                    let s = self.identifiers()?;
                    if self.consume(Ctx::Values).0 != Tok::ClosedPar {
                        return Err(err(format!("found '{lit}', expected: ')'")));
                    }
                    Ok(s)
                }
                Tok::ClosedPar => {
                    self.consume(Ctx::Values);
                    Ok(vec![String::new()])
                }
                _ => Err(err(format!(
                    "found '{lit}', expected: ',', ')' or identifier"
                ))),
            }
        }

        fn identifiers(&mut self) -> Result<Vec<String>, SelectorError> {
            let mut s: Vec<String> = Vec::new();
            loop {
                let (tok, lit) = self.consume(Ctx::Values);
                match tok {
                    Tok::Identifier => {
                        s.push(lit);
                        let (t2, l2) = self.lookahead(Ctx::Values);
                        match t2 {
                            Tok::Comma => continue,
                            Tok::ClosedPar => return Ok(s),
                            _ => return Err(err(format!("found '{l2}', expected: ',' or ')'"))),
                        }
                    }
                    Tok::Comma => {
                        if s.is_empty() {
                            s.push(String::new());
                        }
                        match self.lookahead(Ctx::Values).0 {
                            Tok::ClosedPar => {
                                s.push(String::new());
                                return Ok(s);
                            }
                            Tok::Comma => {
                                self.consume(Ctx::Values);
                                s.push(String::new());
                            }
                            _ => {}
                        }
                    }
                    _ => {
                        return Err(err(format!("found '{lit}', expected: ',', or identifier")));
                    }
                }
            }
        }

        fn exact_value(&mut self) -> Result<Vec<String>, SelectorError> {
            if matches!(self.lookahead(Ctx::Values).0, Tok::End | Tok::Comma) {
                return Ok(vec![String::new()]);
            }
            match self.consume(Ctx::Values) {
                (Tok::Identifier, lit) => Ok(vec![lit]),
                (_, lit) => Err(err(format!("found '{lit}', expected: identifier"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_and_prints_canonically() {
        let cases = [
            ("", ""),
            ("x=a", "x=a"),
            ("x==a", "x==a"),
            ("x!=a", "x!=a"),
            ("x", "x"),
            ("!x", "!x"),
            ("  x  in  ( b , a , a ) ", "x in (a,b)"),
            ("x notin (a)", "x notin (a)"),
            ("z=1,a=2", "a=2,z=1"),
            (
                "x in (foo,,baz),y,z notin ()",
                "x in (,baz,foo),y,z notin ()",
            ),
            ("x=", "x="),
            ("x>1,y<2", "x>1,y<2"),
            ("a in (in),b=notin", "a in (in),b=notin"),
            ("example.com/app=web", "example.com/app=web"),
            (
                "batch.kubernetes.io/job-name=pi",
                "batch.kubernetes.io/job-name=pi",
            ),
        ];
        for (input, want) in cases {
            let sel = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(sel.to_string(), want, "{input}");
        }
        assert!(LabelSelector::parse("").unwrap().is_empty());
        assert!(LabelSelector::parse("  ").unwrap().is_empty());
    }

    #[test]
    fn parse_errors_are_worded_as_apimachinery() {
        let cases = [
            ("x=a,", "found '', expected: identifier after ','"),
            ("x=a b", "found 'b', expected: ',' or 'end of string'"),
            (
                "=a",
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            (
                "x in a",
                "unable to parse requirement: found 'a' expected: '('",
            ),
            (
                "x in (a",
                "unable to parse requirement: found '', expected: ',' or ')'",
            ),
            (
                "x (a)",
                "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "x=(a)",
                "unable to parse requirement: found '(', expected: identifier",
            ),
            (
                "!",
                "unable to parse requirement: found '', expected: identifier",
            ),
            (
                "-x=a",
                "unable to parse requirement: <nil>: Invalid value: \"-x\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
            (
                "x=a$",
                "unable to parse requirement: values[0][x]: Invalid value: \"a$\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ),
            (
                "x>a",
                "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
            ),
            (
                "Example.com/x",
                "unable to parse requirement: <nil>: Invalid value: \"Example.com/x\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ),
            (
                "/x",
                "unable to parse requirement: <nil>: Invalid value: \"/x\": prefix part must be non-empty",
            ),
        ];
        for (input, want) in cases {
            let got = LabelSelector::parse(input).expect_err(input);
            assert_eq!(got.0, want, "{input}");
        }
    }

    #[test]
    fn matches_each_operator() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
        let cases = [
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("missing!=db", true),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("app in (db,web)", true),
            ("missing in (db,web)", false),
            ("app notin (db)", true),
            ("app notin (web)", false),
            ("missing notin (web)", true),
            ("n>4", true),
            ("n>5", false),
            ("n<6", true),
            ("app>1", false),
            ("app=web,tier=front", true),
            ("app=web,tier=back", false),
            ("", true),
        ];
        for (input, want) in cases {
            let sel = LabelSelector::parse(input).unwrap();
            assert_eq!(sel.matches(&l), want, "{input}");
        }
    }

    #[test]
    fn converts_metav1_label_selectors() {
        let sel = metav1::LabelSelector {
            match_labels: Some(labels(&[("b", "2"), ("a", "1")])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "env".into(),
                    operator: "In".into(),
                    values: Some(vec!["prod".into(), "dev".into()]),
                },
                LabelSelectorRequirement {
                    key: "gone".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        let s = LabelSelector::from_label_selector(&sel).unwrap();
        assert_eq!(s.to_string(), "a=1,b=2,env in (dev,prod),!gone");
        assert!(s.matches(&labels(&[("a", "1"), ("b", "2"), ("env", "dev")])));
        assert!(!s.matches(&labels(&[("a", "1"), ("b", "2"), ("env", "qa")])));
        assert_eq!(format_label_selector(Some(&sel)), s.to_string());
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(
            format_label_selector(Some(&metav1::LabelSelector::default())),
            "<none>"
        );
        let controller = metav1::LabelSelector {
            match_labels: Some(labels(&[(
                "batch.kubernetes.io/controller-uid",
                "0f8e8f3c-2b1a-4c55-9e3e-2a1b3c4d5e6f",
            )])),
            ..Default::default()
        };
        assert_eq!(
            format_label_selector(Some(&controller)),
            "batch.kubernetes.io/controller-uid=0f8e8f3c-2b1a-4c55-9e3e-2a1b3c4d5e6f"
        );
    }

    #[test]
    fn metav1_conversion_errors() {
        let bad_op = metav1::LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Equals".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert_eq!(
            LabelSelector::from_label_selector(&bad_op).unwrap_err().0,
            "\"Equals\" is not a valid label selector operator"
        );
        assert_eq!(format_label_selector(Some(&bad_op)), "<error>");
        let empty_in = metav1::LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "In".into(),
                values: Some(vec![]),
            }]),
            ..Default::default()
        };
        assert_eq!(
            LabelSelector::from_label_selector(&empty_in).unwrap_err().0,
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
        );
        let exists_with_values = metav1::LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Exists".into(),
                values: Some(vec!["x".into()]),
            }]),
            ..Default::default()
        };
        assert_eq!(
            LabelSelector::from_label_selector(&exists_with_values)
                .unwrap_err()
                .0,
            "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
        );
    }

    #[test]
    fn exact_match_lookup() {
        let s = LabelSelector::parse("job-name=pi,x in (a),y in (a,b)").unwrap();
        assert_eq!(s.requires_exact_match("job-name"), Some("pi"));
        assert_eq!(s.requires_exact_match("x"), Some("a"));
        assert_eq!(s.requires_exact_match("y"), None);
        assert_eq!(s.requires_exact_match("z"), None);
    }
}
