//! apimachinery types: ObjectMeta and the messages under it, label selectors, and the types
//! whose wire form differs from their JSON form (Time, MicroTime, Quantity, IntOrString,
//! FieldsV1).

use super::ProtobufError;
use super::conv::{ToOpenapi, convert};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::api::resource as oa_resource;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as oa;
use k8s_openapi::apimachinery::pkg::util::intstr as oa_intstr;
use k8s_pb::apimachinery::pkg::api::resource as pb_resource;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as pb;
use k8s_pb::apimachinery::pkg::util::intstr as pb_intstr;

/// Seconds of 0000-01-01T00:00:00Z: Go refuses to write earlier times as JSON.
const YEAR_ZERO: i64 = -62_167_219_200;

/// Go's `time.Unix(seconds, nanos)` (nanos may be out of range, it normalises), limited to
/// the years JSON can carry.
fn timestamp(seconds: i64, nanos: i32) -> Result<Timestamp, ProtobufError> {
    let total = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    if total < i128::from(YEAR_ZERO) * 1_000_000_000 {
        return Err(ProtobufError::TimeRange);
    }
    Timestamp::from_nanosecond(total).map_err(|_| ProtobufError::TimeRange)
}

/// `Time` keeps whole seconds only (Go's `Time.Unmarshal` drops the nanos); the empty message
/// is the zero time, which JSON omits.
impl ToOpenapi for pb::Time {
    type Out = Option<oa::Time>;
    fn to_openapi(self) -> Result<Self::Out, ProtobufError> {
        if self.seconds.is_none() && self.nanos.is_none() {
            return Ok(None);
        }
        timestamp(self.seconds.unwrap_or_default(), 0).map(|t| Some(oa::Time(t)))
    }
}

impl ToOpenapi for pb::MicroTime {
    type Out = Option<oa::MicroTime>;
    fn to_openapi(self) -> Result<Self::Out, ProtobufError> {
        if self.seconds.is_none() && self.nanos.is_none() {
            return Ok(None);
        }
        let (s, n) = (
            self.seconds.unwrap_or_default(),
            self.nanos.unwrap_or_default(),
        );
        timestamp(s, n).map(|t| Some(oa::MicroTime(t)))
    }
}

impl ToOpenapi for pb_resource::Quantity {
    type Out = oa_resource::Quantity;
    fn to_openapi(self) -> Result<Self::Out, ProtobufError> {
        Ok(oa_resource::Quantity(self.string.unwrap_or_default()))
    }
}

/// `type` 0 is an int, 1 a string; Go cannot write any other as JSON.
impl ToOpenapi for pb_intstr::IntOrString {
    type Out = oa_intstr::IntOrString;
    fn to_openapi(self) -> Result<Self::Out, ProtobufError> {
        match self.r#type.unwrap_or_default() {
            0 => Ok(oa_intstr::IntOrString::Int(
                self.int_val.unwrap_or_default(),
            )),
            1 => Ok(oa_intstr::IntOrString::String(
                self.str_val.unwrap_or_default(),
            )),
            _ => Err(ProtobufError::IntOrString),
        }
    }
}

/// `FieldsV1` carries its JSON document as bytes.
impl ToOpenapi for pb::FieldsV1 {
    type Out = oa::FieldsV1;
    fn to_openapi(self) -> Result<Self::Out, ProtobufError> {
        let raw = self.raw.unwrap_or_default();
        if raw.is_empty() {
            return Ok(oa::FieldsV1(serde_json::Value::Null));
        }
        serde_json::from_slice(&raw)
            .map(oa::FieldsV1)
            .map_err(|e| ProtobufError::FieldsV1(e.to_string()))
    }
}

convert!(pb::ObjectMeta => oa::ObjectMeta {
    name: omit, generate_name: omit, namespace: omit, self_link: omit, uid: omit,
    resource_version: omit, generation: omit, creation_timestamp: time, deletion_timestamp: time,
    deletion_grace_period_seconds: opt, labels: map, annotations: map, owner_references: list,
    finalizers: list, managed_fields: list
});
convert!(pb::OwnerReference => oa::OwnerReference {
    api_version: req, kind: req, name: req, uid: req, controller: opt, block_owner_deletion: opt
});
convert!(pb::ManagedFieldsEntry => oa::ManagedFieldsEntry {
    manager: omit, operation: omit, api_version: omit, time: time, fields_type: omit,
    fields_v1: opt, subresource: omit
});
convert!(pb::LabelSelector => oa::LabelSelector { match_labels: map, match_expressions: list });
convert!(pb::LabelSelectorRequirement => oa::LabelSelectorRequirement {
    key: req, operator: req, values: list
});
