//! The pod volume list (`ValidateVolumes`): names, exactly one source each (in the order
//! the real validator checks them), and basic checks of emptyDir, hostPath,
//! persistentVolumeClaim, configMap and secret sources.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Volume;
use serde_json::Value;

use super::container::dns1123_label;
use super::field::{ErrorList, FieldError};
use super::quantity::Quantity;

const FILE_MODE_ERR: &str = "must be a number between 0 and 0777 (octal), both inclusive";
/// Volume sources in the order `validateVolumeSource` checks them, with the path segment it
/// reports for "may not specify more than 1 volume type" (two are misspelt in Kubernetes).
const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

/// `ValidateVolumes`: returns the names of the valid volumes and the errors.
pub fn validate_volumes(volumes: &[Volume], path: &str) -> (BTreeSet<String>, ErrorList) {
    let mut names_ok = BTreeSet::new();
    let mut errs = ErrorList::new();
    for (i, vol) in volumes.iter().enumerate() {
        let idx = format!("{path}[{i}]");
        let mut el = validate_volume_source(vol, &idx);
        let name_path = format!("{idx}.name");
        if vol.name.is_empty() {
            el.push(FieldError::required(name_path.clone(), ""));
        } else {
            el.extend(dns1123_label(&vol.name, &name_path));
        }
        if names_ok.contains(&vol.name) {
            el.push(FieldError::duplicate(name_path, vol.name.as_str()));
        }
        if el.is_empty() {
            names_ok.insert(vol.name.clone());
        } else {
            errs.extend(el);
        }
    }
    (names_ok, errs)
}

fn validate_volume_source(vol: &Volume, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let json = serde_json::to_value(vol).unwrap_or(Value::Null);
    let mut count = 0;
    for (key, go_name) in VOLUME_SOURCES {
        if json.get(key).is_none() {
            continue;
        }
        if count > 0 {
            errs.push(FieldError::forbidden(
                format!("{path}.{go_name}"),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        let p = format!("{path}.{key}");
        match *key {
            "emptyDir" => {
                let neg = vol.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref());
                if neg
                    .and_then(|q| Quantity::parse(&q.0))
                    .is_some_and(|q| q.is_negative())
                {
                    errs.push(FieldError::forbidden(
                        format!("{p}.sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    ));
                }
            }
            "hostPath" => {
                if let Some(h) = &vol.host_path {
                    errs.extend(validate_host_path(&h.path, h.type_.as_deref(), &p));
                }
            }
            "persistentVolumeClaim"
                if vol
                    .persistent_volume_claim
                    .as_ref()
                    .is_some_and(|c| c.claim_name.is_empty()) =>
            {
                errs.push(FieldError::required(format!("{p}.claimName"), ""));
            }
            "configMap" => {
                if let Some(c) = &vol.config_map {
                    if c.name.is_empty() {
                        errs.push(FieldError::required(format!("{p}.name"), ""));
                    }
                    errs.extend(mode_and_items(c.default_mode, c.items.as_deref(), &p));
                }
            }
            "secret" => {
                if let Some(s) = &vol.secret {
                    if s.secret_name.as_deref().unwrap_or("").is_empty() {
                        errs.push(FieldError::required(format!("{p}.secretName"), ""));
                    }
                    errs.extend(mode_and_items(s.default_mode, s.items.as_deref(), &p));
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    errs
}

fn validate_host_path(hp: &str, ty: Option<&str>, p: &str) -> ErrorList {
    if hp.is_empty() {
        return vec![FieldError::required(format!("{p}.path"), "")];
    }
    let mut errs = no_backsteps(hp, &format!("{p}.path"));
    const TYPES: &[&str] = &[
        "",
        "BlockDevice",
        "CharDevice",
        "Directory",
        "DirectoryOrCreate",
        "File",
        "FileOrCreate",
        "Socket",
    ];
    if let Some(t) = ty.filter(|t| !TYPES.contains(t)) {
        errs.push(FieldError::not_supported(format!("{p}.type"), t, TYPES));
    }
    errs
}

/// `validatePathNoBacksteps`.
pub(super) fn no_backsteps(target: &str, path: &str) -> ErrorList {
    if target.split('/').any(|part| part == "..") {
        vec![FieldError::invalid(path, target, "must not contain '..'")]
    } else {
        Vec::new()
    }
}

fn mode_and_items(
    mode: Option<i32>,
    items: Option<&[k8s_openapi::api::core::v1::KeyToPath]>,
    p: &str,
) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(m) = mode.filter(|m| !(0..=0o777).contains(m)) {
        errs.push(FieldError::invalid(
            format!("{p}.defaultMode"),
            m,
            FILE_MODE_ERR,
        ));
    }
    for (i, kp) in items.unwrap_or_default().iter().enumerate() {
        let ip = format!("{p}.items[{i}]");
        if kp.key.is_empty() {
            errs.push(FieldError::required(format!("{ip}.key"), ""));
        }
        if kp.path.is_empty() {
            errs.push(FieldError::required(format!("{ip}.path"), ""));
        }
        if let Some(m) = kp.mode.filter(|m| !(0..=0o777).contains(m)) {
            errs.push(FieldError::invalid(format!("{ip}.mode"), m, FILE_MODE_ERR));
        }
    }
    errs
}
