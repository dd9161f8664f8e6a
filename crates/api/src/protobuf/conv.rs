//! The conversion machinery: the [`ToOpenapi`] trait, the field helpers that apply Go's JSON
//! rules to proto2 fields, and the `convert!` macro that writes a message's impl field by field.
//!
//! Proto2 decoding gives `Option` for every scalar and `Vec` for every repeated field; Go's
//! generated marshaller writes every non-pointer scalar, even when empty. The helpers map that
//! back to what the same object looks like as JSON:
//!
//! | helper     | proto field          | k8s-openapi field | rule                                       |
//! |------------|----------------------|-------------------|--------------------------------------------|
//! | `req`      | `Option<T>`          | `U`               | absent → the zero value                    |
//! | `opt`      | `Option<T>`          | `Option<U>`       | Go pointer (or no `omitempty`): kept as is |
//! | `omit`     | `Option<scalar>`     | `Option<scalar>`  | Go `omitempty` scalar: zero value → `None` |
//! | `time`     | `Option<Time>`       | `Option<Time>`    | empty message (Go's zero time) → `None`    |
//! | `list`     | `Vec<T>`             | `Option<Vec<U>>`  | empty → `None`                             |
//! | `list_req` | `Vec<T>`             | `Vec<U>`          | as is                                      |
//! | `map`      | `BTreeMap<String,T>` | `Option<…>`       | empty → `None`                             |

use super::ProtobufError;
use std::collections::BTreeMap;

/// A k8s-pb message (or scalar) that has a k8s-openapi twin.
pub trait ToOpenapi {
    /// The k8s-openapi type.
    type Out;
    /// Converts, failing only on values JSON cannot carry (times out of range, bad IntOrString).
    fn to_openapi(self) -> Result<Self::Out, ProtobufError>;
}

macro_rules! identity {
    ($($t:ty),*) => {$(
        impl ToOpenapi for $t {
            type Out = $t;
            fn to_openapi(self) -> Result<$t, ProtobufError> {
                Ok(self)
            }
        }
    )*};
}
identity!(String, bool, i32, i64, f64);

/// The field helpers used by `convert!` (see the module docs for the rules).
pub mod field {
    use super::*;

    type Result<T> = std::result::Result<T, ProtobufError>;

    /// Required field: absent → the zero value.
    pub fn req<P: ToOpenapi + Default>(x: Option<P>) -> Result<P::Out> {
        x.unwrap_or_default().to_openapi()
    }

    /// Go pointer, struct or non-`omitempty` field: kept as sent.
    pub fn opt<P: ToOpenapi>(x: Option<P>) -> Result<Option<P::Out>> {
        x.map(ToOpenapi::to_openapi).transpose()
    }

    /// Go `omitempty` scalar: the zero value (`""`, `0`, `false`) is omitted.
    pub fn omit<T: Default + PartialEq>(x: Option<T>) -> Result<Option<T>> {
        Ok(x.filter(|v| *v != T::default()))
    }

    /// `Time`/`MicroTime`: the empty message is Go's zero time, which JSON omits.
    pub fn time<P: ToOpenapi<Out = Option<O>>, O>(x: Option<P>) -> Result<Option<O>> {
        Ok(opt(x)?.flatten())
    }

    /// Repeated field whose k8s-openapi twin is optional: empty → `None`.
    pub fn list<P: ToOpenapi>(x: Vec<P>) -> Result<Option<Vec<P::Out>>> {
        if x.is_empty() {
            return Ok(None);
        }
        list_req(x).map(Some)
    }

    /// Repeated field whose k8s-openapi twin is required.
    pub fn list_req<P: ToOpenapi>(x: Vec<P>) -> Result<Vec<P::Out>> {
        x.into_iter().map(ToOpenapi::to_openapi).collect()
    }

    /// Map field: empty → `None`.
    pub fn map<P: ToOpenapi>(x: BTreeMap<String, P>) -> Result<Option<BTreeMap<String, P::Out>>> {
        if x.is_empty() {
            return Ok(None);
        }
        x.into_iter()
            .map(|(k, v)| Ok((k, v.to_openapi()?)))
            .collect::<Result<_>>()
            .map(Some)
    }
}

/// Implements [`ToOpenapi`] for a message field by field: `field: helper` for fields of the same
/// name, `rename { openapi_name = helper(proto_name) }` for the others, and `inline proto_field
/// { ... }` for Go's embedded structs (`json:",inline"`), which k8s-openapi flattens. Fields of
/// the k8s-openapi type that are not listed keep their default.
macro_rules! convert {
    ($pb:path => $oa:path {
        $($f:ident: $m:ident),* $(,)?
        $(; rename { $($rf:ident = $rm:ident($rp:ident)),* $(,)? })?
        $(; inline $inl:ident { $($if:ident: $im:ident),* $(,)? })*
    }) => {
        impl $crate::protobuf::conv::ToOpenapi for $pb {
            type Out = $oa;
            #[allow(clippy::needless_update)]
            fn to_openapi(self) -> Result<$oa, $crate::protobuf::ProtobufError> {
                #[allow(unused_imports)]
                use $crate::protobuf::conv::field::*;
                type O = $oa;
                $(let $inl = self.$inl.unwrap_or_default();)*
                Ok(O {
                    $($f: $m(self.$f)?,)*
                    $($($rf: $rm(self.$rp)?,)*)?
                    $($($if: $im($inl.$if)?,)*)*
                    ..Default::default()
                })
            }
        }
    };
}
pub(crate) use convert;
