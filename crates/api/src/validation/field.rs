//! Field errors as apimachinery's `field.Error` (v1.33): the error types with their
//! `CauseType` reasons, and `ErrorBody()` rendering of the bad value (Go's `%q`, `%v` and
//! `%#v` rules), so `kubectl` prints exactly what a real API server sends.

use std::fmt;

use serde_json::Value;

/// Key of a JSON object in `bad_value` that carries an already rendered Go `%#v` value
/// (used for structs, maps and slices, whose Go rendering needs the Go type names).
pub const GO_REPR_KEY: &str = "$goRepr";

/// `field.ErrorType`: why a field is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// A referenced value was not found.
    NotFound,
    /// A required value is missing.
    Required,
    /// A value that must be unique is repeated.
    Duplicate,
    /// A malformed value.
    Invalid,
    /// A value outside an enumeration.
    NotSupported,
    /// A value not allowed under the current conditions.
    Forbidden,
    /// A value that is too long.
    TooLong,
    /// A list with too many items.
    TooMany,
    /// An internal error.
    Internal,
    /// A value of the wrong type.
    TypeInvalid,
}

impl ErrorType {
    /// The `CauseType` sent in `Status.details.causes[].reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// `ErrorType.String()`: the words that start the message.
    pub fn words(&self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid | ErrorType::TypeInvalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
        }
    }
}

/// One field error.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The error type.
    pub kind: ErrorType,
    /// The field path, e.g. `spec.template.spec.containers[0].imagePullPolicy`.
    pub field: String,
    /// The bad value; `None` omits it from the message (Go's `field.OmitValueType`).
    pub bad_value: Option<Value>,
    /// The detail after the value.
    pub detail: String,
}

/// A list of field errors, in the order the validators found them.
pub type ErrorList = Vec<FieldError>;

impl FieldError {
    fn new(kind: ErrorType, field: impl Into<String>, bad: Option<Value>, detail: &str) -> Self {
        FieldError {
            kind,
            field: field.into(),
            bad_value: bad,
            detail: detail.to_string(),
        }
    }

    /// `field.Required`.
    pub fn required(path: impl Into<String>, detail: &str) -> Self {
        Self::new(ErrorType::Required, path, None, detail)
    }

    /// `field.Invalid` with a plain value (strings are quoted, numbers bare, null as `null`).
    pub fn invalid(path: impl Into<String>, value: impl Into<Value>, detail: &str) -> Self {
        Self::new(ErrorType::Invalid, path, Some(value.into()), detail)
    }

    /// `field.Invalid` with a value already rendered as Go's `%#v` would print it.
    pub fn invalid_go(path: impl Into<String>, go_repr: String, detail: &str) -> Self {
        Self::new(ErrorType::Invalid, path, Some(go_value(go_repr)), detail)
    }

    /// `field.Invalid(path, field.OmitValueType{}, detail)`: no value in the message.
    pub fn invalid_omit(path: impl Into<String>, detail: &str) -> Self {
        Self::new(ErrorType::Invalid, path, None, detail)
    }

    /// `field.NotSupported`: `supported values: "a", "b"` in the given order.
    pub fn not_supported(path: impl Into<String>, value: impl Into<Value>, valid: &[&str]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorType::NotSupported, path, Some(value.into()), &detail)
    }

    /// `field.Forbidden`.
    pub fn forbidden(path: impl Into<String>, detail: &str) -> Self {
        Self::new(ErrorType::Forbidden, path, None, detail)
    }

    /// `field.Duplicate`.
    pub fn duplicate(path: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::Duplicate, path, Some(value.into()), "")
    }

    /// `field.NotFound`.
    pub fn not_found(path: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::NotFound, path, Some(value.into()), "")
    }

    /// `field.TooLong`: the value is never shown; a negative `max` says "value is too long".
    pub fn too_long(path: impl Into<String>, _value: impl Into<Value>, max: i64) -> Self {
        let detail = if max >= 0 {
            format!("may not be more than {max} bytes")
        } else {
            "value is too long".to_string()
        };
        Self::new(ErrorType::TooLong, path, None, &detail)
    }

    /// `field.TooMany`: `Too many: <actual>: must have at most <max> items`.
    pub fn too_many(path: impl Into<String>, actual: i64, max: i64) -> Self {
        let detail = if max >= 0 {
            format!("must have at most {max} items")
        } else {
            "has too many items".to_string()
        };
        let bad = (actual >= 0).then(|| Value::from(actual));
        Self::new(ErrorType::TooMany, path, bad, &detail)
    }

    /// `field.InternalError`.
    pub fn internal(path: impl Into<String>, detail: &str) -> Self {
        Self::new(ErrorType::Internal, path, None, detail)
    }

    /// `field.TypeInvalid`.
    pub fn type_invalid(path: impl Into<String>, value: impl Into<Value>, detail: &str) -> Self {
        Self::new(ErrorType::TypeInvalid, path, Some(value.into()), detail)
    }

    /// `field.Error.ErrorBody()`: the message without the field path.
    pub fn body(&self) -> String {
        let mut s = match (self.kind, &self.bad_value) {
            (
                ErrorType::Required
                | ErrorType::Forbidden
                | ErrorType::TooLong
                | ErrorType::Internal,
                _,
            )
            | (_, None) => self.kind.words().to_string(),
            (_, Some(v)) => format!("{}: {}", self.kind.words(), render_value(v)),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// Wraps a pre-rendered Go `%#v` string as a bad value.
pub fn go_value(go_repr: String) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(GO_REPR_KEY.to_string(), Value::String(go_repr));
    Value::Object(m)
}

/// How `ErrorBody` prints a bad value.
fn render_value(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => go_quote(s),
        Value::Object(m) => match (m.len(), m.get(GO_REPR_KEY)) {
            (1, Some(Value::String(s))) => s.clone(),
            _ => v.to_string(),
        },
        Value::Array(_) => v.to_string(),
    }
}

/// Go's `strconv.Quote` (and `%q`): double quotes with Go escapes.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go `%#v` of a `map[string]string` (keys sorted, as `fmt` prints maps).
pub fn go_string_map<'a>(m: Option<impl IntoIterator<Item = (&'a String, &'a String)>>) -> String {
    match m {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let mut pairs: Vec<(&String, &String)> = m.into_iter().collect();
            pairs.sort();
            let inner: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
                .collect();
            format!("map[string]string{{{}}}", inner.join(", "))
        }
    }
}

/// Go `%#v` of a slice whose elements print with `elem`, e.g. `[]int32{1, 2}`.
pub fn go_slice<T>(ty: &str, items: Option<&[T]>, elem: impl Fn(&T) -> String) -> String {
    match items {
        None => format!("[]{ty}(nil)"),
        Some(items) => {
            let inner: Vec<String> = items.iter().map(elem).collect();
            format!("[]{ty}{{{}}}", inner.join(", "))
        }
    }
}

/// `v`'s value, or its type's default: borrowed when set, so that validation reads what it
/// checks instead of cloning it (a Job's pod template, a Pod's spec, on every write).
pub(crate) fn value_or_default<T: Default + Clone>(v: &Option<T>) -> std::borrow::Cow<'_, T> {
    match v {
        Some(x) => std::borrow::Cow::Borrowed(x),
        None => std::borrow::Cow::Owned(T::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_apimachinery() {
        let cases = [
            (FieldError::required("a", ""), "a: Required value"),
            (
                FieldError::required("a", "name or generateName is required"),
                "a: Required value: name or generateName is required",
            ),
            (
                FieldError::invalid("a", "x", "bad"),
                "a: Invalid value: \"x\": bad",
            ),
            (FieldError::invalid("a", -1, "d"), "a: Invalid value: -1: d"),
            (
                FieldError::invalid("a", Value::Null, "d"),
                "a: Invalid value: null: d",
            ),
            (FieldError::invalid_omit("a", "d"), "a: Invalid value: d"),
            (
                FieldError::not_supported(
                    "p",
                    "IfNotP-resent",
                    &["Always", "IfNotPresent", "Never"],
                ),
                "p: Unsupported value: \"IfNotP-resent\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
            ),
            (FieldError::duplicate("a", "c"), "a: Duplicate value: \"c\""),
            (FieldError::forbidden("a", "d"), "a: Forbidden: d"),
            (
                FieldError::too_long("a", "", 63),
                "a: Too long: may not be more than 63 bytes",
            ),
            (
                FieldError::too_many("a", 21, 20),
                "a: Too many: 21: must have at most 20 items",
            ),
            (FieldError::not_found("a", "x"), "a: Not found: \"x\""),
            (
                FieldError::invalid_go(
                    "a",
                    go_string_map(Some(&std::collections::BTreeMap::from([(
                        "k".to_string(),
                        "v".to_string(),
                    )]))),
                    "d",
                ),
                "a: Invalid value: map[string]string{\"k\":\"v\"}: d",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
        assert_eq!(ErrorType::NotSupported.reason(), "FieldValueNotSupported");
    }

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
    }
}
