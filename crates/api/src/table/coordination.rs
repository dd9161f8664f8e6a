//! Leases (`printLease`): name, holder and age.

use jiff::Timestamp;
use serde_json::Value;

use super::{AGE, Col, NAME, age, name, str_at, string};

pub(super) const LEASE_COLUMNS: &[Col] = &[
    NAME,
    string(
        "Holder",
        "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.",
    ),
    AGE,
];

pub(super) fn lease_cells(lease: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(lease).into(),
        str_at(lease, &["spec", "holderIdentity"]).into(),
        age(lease, now).into(),
    ]
}
