//! Kubernetes semantics without IO.
