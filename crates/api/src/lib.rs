//! Kubernetes semantics without IO: defaulting, validation (with Kubernetes' field paths and
//! messages), label and field selectors, server-side table printing, and the OpenAPI schemas.
//!
//! Everything here is a pure function of its inputs (the clock is passed in), so the apiserver
//! and the controllers share one definition of what a valid Job, CronJob or Pod is.

pub mod apply;
mod compiled;
pub mod defaults;
pub mod duration;
pub mod fields;
pub mod logs;
pub mod patch;
pub mod protobuf;
pub mod resource;
pub mod schedule;
pub mod schema;
pub mod selector;
pub mod swagger;
pub mod table;
pub mod unmarshal;
pub mod validation;
