//! PersistentVolumeClaims (`printPersistentVolumeClaim`).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{AGE, Col, NAME, age, at, list_at, name, str_at, string, wide};

pub(super) const PVC_COLUMNS: &[Col] = &[
    NAME,
    string(
        "Status",
        "phase represents the current phase of PersistentVolumeClaim.",
    ),
    string(
        "Volume",
        "volumeName is the binding reference to the PersistentVolume backing this claim.",
    ),
    string(
        "Capacity",
        "capacity represents the actual resources of the underlying volume.",
    ),
    string(
        "Access Modes",
        "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1",
    ),
    string("StorageClass", "StorageClass of the pvc"),
    string("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
    AGE,
    wide(
        "VolumeMode",
        "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.",
    ),
];

/// `GetAccessModesAsString`: the abbreviations in a fixed order.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(m, _)| has(m))
    .map(|(_, a)| *a)
    .collect::<Vec<_>>()
    .join(",")
}

pub(super) fn pvc_cells(pvc: &Value, now: Timestamp) -> Vec<Value> {
    let phase = if at(pvc, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null()) {
        "Terminating"
    } else {
        str_at(pvc, &["status", "phase"])
    };
    let volume = str_at(pvc, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            str_at(pvc, &["status", "capacity", "storage"]).to_owned(),
            access_modes(list_at(pvc, &["status", "accessModes"])),
        )
    };
    let class = match str_at(pvc, &["spec", "storageClassName"]) {
        "" => str_at(
            pvc,
            &[
                "metadata",
                "annotations",
                "volume.beta.kubernetes.io/storage-class",
            ],
        ),
        c => c,
    };
    let or_unset = |v: &str| {
        if v.is_empty() {
            "<unset>".to_owned()
        } else {
            v.to_owned()
        }
    };
    vec![
        json!(name(pvc)),
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(class),
        json!(or_unset(str_at(
            pvc,
            &["spec", "volumeAttributesClassName"]
        ))),
        json!(age(pvc, now)),
        json!(or_unset(str_at(pvc, &["spec", "volumeMode"]))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_and_pending_claims() {
        let now = Timestamp::from_second(1_700_000_100).unwrap_or(Timestamp::UNIX_EPOCH);
        let bound = json!({
            "metadata": {"name": "data", "creationTimestamp": "2023-11-14T22:13:20Z"},
            "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pvc-1", "storageClassName": "standard", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"]},
        });
        assert_eq!(
            pvc_cells(&bound, now),
            [
                "data",
                "Bound",
                "pvc-1",
                "1Gi",
                "RWO,RWX",
                "standard",
                "<unset>",
                "100s",
                "Filesystem"
            ]
        );
        let pending = json!({"metadata": {"name": "p"}, "status": {"phase": "Pending", "capacity": {"storage": "1Gi"}}});
        let cells = pvc_cells(&pending, now);
        assert_eq!((&cells[1], &cells[3]), (&json!("Pending"), &json!("")));
    }
}
