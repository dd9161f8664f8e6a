//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl 1.32+ sends
//! them for `create job --from`, `create cronjob` and `create job --image`.
//!
//! The body is the magic `k8s\0` followed by a `runtime.Unknown` message whose `typeMeta`
//! names the kind and whose `raw` holds the object message (e.g. `batch.v1.Job`). [`decode`]
//! decodes that with the prost types of `k8s-pb`, converts them to the `k8s-openapi` types
//! ([`conv::ToOpenapi`], one impl per message reachable from Job, CronJob, Pod, Namespace,
//! Event, Node, Lease and the access reviews) and serializes those, so the apiserver goes on as with
//! a JSON body. Proto2 sends every non-pointer scalar even when empty; the conversion drops
//! them where Go's JSON has `omitempty`. Fields newer than v1.33 (k8s-pb follows a later
//! release) are dropped.
//!
//! No input panics: prost bounds recursion and reports malformed input as errors.

mod authorization;
mod batch;
mod cluster;
mod container;
pub mod conv;
mod coordination;
mod meta;
mod pod;
mod status;
#[cfg(test)]
mod tests;
mod volume;

use conv::ToOpenapi;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::Value;

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Why a protobuf body cannot be decoded, in the apiserver's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with `k8s\0`.
    #[error(
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
    )]
    Magic,
    /// The `runtime.Unknown` envelope is malformed.
    #[error("{0}")]
    Envelope(String),
    /// The envelope names no kind.
    #[error("Object 'Kind' is missing in protobuf body")]
    MissingKind,
    /// The envelope names a kind this server does not decode.
    #[error(
        "no kind \"{kind}\" is registered for version \"{api_version}\" in scheme \"pkg/api/legacyscheme/scheme.go:30\""
    )]
    NotRegistered {
        /// `typeMeta.apiVersion`.
        api_version: String,
        /// `typeMeta.kind`.
        kind: String,
    },
    /// The object message is malformed or cannot be written as JSON.
    #[error("{kind} in version \"{version}\" cannot be handled as a {kind}: {detail}")]
    Object {
        /// The kind.
        kind: String,
        /// The version part of the apiVersion.
        version: String,
        /// What went wrong.
        detail: String,
    },
    /// A malformed protobuf message.
    #[error("{0}")]
    Message(String),
    /// A time outside the years JSON can carry.
    #[error("Time.MarshalJSON: year outside of range [0,9999]")]
    TimeRange,
    /// An IntOrString whose type is neither int (0) nor string (1).
    #[error("impossible IntOrString.Type")]
    IntOrString,
    /// `managedFields[].fieldsV1` that is not JSON.
    #[error("json: error calling MarshalJSON for type *v1.FieldsV1: {0}")]
    FieldsV1(String),
}

/// Decodes a protobuf body into `(apiVersion, kind, object as JSON)`.
pub fn decode(bytes: &[u8]) -> Result<(String, String, Value), ProtobufError> {
    let body = bytes.strip_prefix(MAGIC).ok_or(ProtobufError::Magic)?;
    let unknown = Unknown::decode(body).map_err(|e| ProtobufError::Envelope(e.to_string()))?;
    let type_meta = unknown.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    if kind.is_empty() {
        return Err(ProtobufError::MissingKind);
    }
    let raw = unknown.raw.unwrap_or_default();
    use k8s_pb::api::{
        authentication::v1 as authn, authorization::v1 as authz, batch::v1 as batch,
        coordination::v1 as coordination, core::v1 as core,
    };
    let object = match (api_version.as_str(), kind.as_str()) {
        ("batch/v1", "Job") => to_json::<batch::Job>(&raw),
        ("batch/v1", "CronJob") => to_json::<batch::CronJob>(&raw),
        ("v1", "Pod") => to_json::<core::Pod>(&raw),
        ("v1", "Namespace") => to_json::<core::Namespace>(&raw),
        ("v1", "Event") => to_json::<core::Event>(&raw),
        ("v1", "Node") => to_json::<core::Node>(&raw),
        ("coordination.k8s.io/v1", "Lease") => to_json::<coordination::Lease>(&raw),
        ("authentication.k8s.io/v1", "SelfSubjectReview") => {
            to_json::<authn::SelfSubjectReview>(&raw)
        }
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            to_json::<authz::SelfSubjectAccessReview>(&raw)
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => {
            to_json::<authz::SelfSubjectRulesReview>(&raw)
        }
        _ => return Err(ProtobufError::NotRegistered { api_version, kind }),
    };
    let object = object.map_err(|e| ProtobufError::Object {
        kind: kind.clone(),
        version: api_version.rsplit('/').next().unwrap_or_default().into(),
        detail: e.to_string(),
    })?;
    Ok((api_version, kind, object))
}

/// Decodes `raw` as `M`, converts it and writes it as JSON.
fn to_json<M>(raw: &[u8]) -> Result<Value, ProtobufError>
where
    M: Message + Default + ToOpenapi,
    M::Out: serde::Serialize,
{
    let message = M::decode(raw).map_err(|e| ProtobufError::Message(e.to_string()))?;
    serde_json::to_value(message.to_openapi()?).map_err(|e| ProtobufError::Message(e.to_string()))
}
