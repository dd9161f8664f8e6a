//! Revisioned, durable key/value store.
