//! coordination.k8s.io/v1: Lease and its spec (every spec field a Go pointer).

use super::conv::convert;
use k8s_openapi::api::coordination::v1 as oa;
use k8s_pb::api::coordination::v1 as pb;

convert!(pb::Lease => oa::Lease { metadata: req, spec: opt });
convert!(pb::LeaseSpec => oa::LeaseSpec {
    holder_identity: opt, lease_duration_seconds: opt, acquire_time: time, renew_time: time,
    lease_transitions: opt, strategy: opt, preferred_holder: opt
});
