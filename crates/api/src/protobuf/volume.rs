//! core/v1 volumes: `Volume` (Go inlines `VolumeSource`, k8s-openapi flattens it) and every
//! volume source, projection and ephemeral claim template under it.

use super::conv::convert;
use k8s_openapi::api::core::v1 as oa;
use k8s_pb::api::core::v1 as pb;

convert!(pb::Volume => oa::Volume {
    name: req
    ; inline volume_source {
        host_path: opt, empty_dir: opt, gce_persistent_disk: opt, aws_elastic_block_store: opt,
        git_repo: opt, secret: opt, nfs: opt, iscsi: opt, glusterfs: opt,
        persistent_volume_claim: opt, rbd: opt, flex_volume: opt, cinder: opt, cephfs: opt,
        flocker: opt, downward_api: opt, fc: opt, azure_file: opt, config_map: opt,
        vsphere_volume: opt, quobyte: opt, azure_disk: opt, photon_persistent_disk: opt,
        projected: opt, portworx_volume: opt, scale_io: opt, storageos: opt, csi: opt,
        ephemeral: opt, image: opt
    }
});
convert!(pb::HostPathVolumeSource => oa::HostPathVolumeSource {
    path: req
    ; rename { type_ = opt(r#type) }
});
convert!(pb::EmptyDirVolumeSource => oa::EmptyDirVolumeSource { medium: omit, size_limit: opt });
convert!(pb::GcePersistentDiskVolumeSource => oa::GCEPersistentDiskVolumeSource {
    pd_name: req, fs_type: omit, partition: omit, read_only: omit
});
convert!(pb::AwsElasticBlockStoreVolumeSource => oa::AWSElasticBlockStoreVolumeSource {
    volume_id: req, fs_type: omit, partition: omit, read_only: omit
});
convert!(pb::GitRepoVolumeSource => oa::GitRepoVolumeSource {
    repository: req, revision: omit, directory: omit
});
convert!(pb::SecretVolumeSource => oa::SecretVolumeSource {
    secret_name: omit, items: list, default_mode: opt, optional: opt
});
convert!(pb::KeyToPath => oa::KeyToPath { key: req, path: req, mode: opt });
convert!(pb::NfsVolumeSource => oa::NFSVolumeSource { server: req, path: req, read_only: omit });
convert!(pb::IscsiVolumeSource => oa::ISCSIVolumeSource {
    target_portal: req, iqn: req, lun: req, iscsi_interface: omit, fs_type: omit, read_only: omit,
    portals: list, chap_auth_discovery: omit, chap_auth_session: omit, secret_ref: opt,
    initiator_name: opt
});
convert!(pb::LocalObjectReference => oa::LocalObjectReference { name: req });
convert!(pb::GlusterfsVolumeSource => oa::GlusterfsVolumeSource {
    endpoints: req, path: req, read_only: omit
});
convert!(pb::PersistentVolumeClaimVolumeSource => oa::PersistentVolumeClaimVolumeSource {
    claim_name: req, read_only: omit
});
convert!(pb::RbdVolumeSource => oa::RBDVolumeSource {
    monitors: list_req, image: req, fs_type: omit, pool: omit, user: omit, keyring: omit,
    secret_ref: opt, read_only: omit
});
convert!(pb::FlexVolumeSource => oa::FlexVolumeSource {
    driver: req, fs_type: omit, secret_ref: opt, read_only: omit, options: map
});
convert!(pb::CinderVolumeSource => oa::CinderVolumeSource {
    volume_id: req, fs_type: omit, read_only: omit, secret_ref: opt
});
convert!(pb::CephFsVolumeSource => oa::CephFSVolumeSource {
    monitors: list_req, path: omit, user: omit, secret_file: omit, secret_ref: opt, read_only: omit
});
convert!(pb::FlockerVolumeSource => oa::FlockerVolumeSource {
    dataset_name: omit, dataset_uuid: omit
});
convert!(pb::DownwardAPIVolumeSource => oa::DownwardAPIVolumeSource {
    items: list, default_mode: opt
});
convert!(pb::DownwardAPIVolumeFile => oa::DownwardAPIVolumeFile {
    path: req, field_ref: opt, resource_field_ref: opt, mode: opt
});
convert!(pb::ObjectFieldSelector => oa::ObjectFieldSelector { api_version: omit, field_path: req });
convert!(pb::ResourceFieldSelector => oa::ResourceFieldSelector {
    container_name: omit, resource: req, divisor: opt
});
convert!(pb::FcVolumeSource => oa::FCVolumeSource {
    lun: opt, fs_type: omit, read_only: omit, wwids: list
    ; rename { target_wwns = list(target_ww_ns) }
});
convert!(pb::AzureFileVolumeSource => oa::AzureFileVolumeSource {
    secret_name: req, share_name: req, read_only: omit
});
convert!(pb::ConfigMapVolumeSource => oa::ConfigMapVolumeSource {
    items: list, default_mode: opt, optional: opt
    ; inline local_object_reference { name: req }
});
convert!(pb::VsphereVirtualDiskVolumeSource => oa::VsphereVirtualDiskVolumeSource {
    volume_path: req, fs_type: omit, storage_policy_name: omit, storage_policy_id: omit
});
convert!(pb::QuobyteVolumeSource => oa::QuobyteVolumeSource {
    registry: req, volume: req, read_only: omit, user: omit, group: omit, tenant: omit
});
convert!(pb::AzureDiskVolumeSource => oa::AzureDiskVolumeSource {
    disk_name: req, disk_uri: req, caching_mode: opt, fs_type: opt, read_only: opt, kind: opt
});
convert!(pb::PhotonPersistentDiskVolumeSource => oa::PhotonPersistentDiskVolumeSource {
    pd_id: req, fs_type: omit
});
convert!(pb::ProjectedVolumeSource => oa::ProjectedVolumeSource {
    sources: list, default_mode: opt
});
convert!(pb::VolumeProjection => oa::VolumeProjection {
    secret: opt, downward_api: opt, config_map: opt, service_account_token: opt,
    cluster_trust_bundle: opt
});
convert!(pb::SecretProjection => oa::SecretProjection {
    items: list, optional: opt
    ; inline local_object_reference { name: req }
});
convert!(pb::DownwardAPIProjection => oa::DownwardAPIProjection { items: list });
convert!(pb::ConfigMapProjection => oa::ConfigMapProjection {
    items: list, optional: opt
    ; inline local_object_reference { name: req }
});
convert!(pb::ServiceAccountTokenProjection => oa::ServiceAccountTokenProjection {
    audience: omit, expiration_seconds: opt, path: req
});
convert!(pb::ClusterTrustBundleProjection => oa::ClusterTrustBundleProjection {
    name: opt, signer_name: opt, label_selector: opt, optional: opt, path: req
});
convert!(pb::PortworxVolumeSource => oa::PortworxVolumeSource {
    volume_id: req, fs_type: omit, read_only: omit
});
convert!(pb::ScaleIoVolumeSource => oa::ScaleIOVolumeSource {
    gateway: req, system: req, secret_ref: req, ssl_enabled: omit, protection_domain: omit,
    storage_pool: omit, storage_mode: omit, volume_name: omit, fs_type: omit, read_only: omit
});
convert!(pb::StorageOsVolumeSource => oa::StorageOSVolumeSource {
    volume_name: omit, volume_namespace: omit, fs_type: omit, read_only: omit, secret_ref: opt
});
convert!(pb::CSIVolumeSource => oa::CSIVolumeSource {
    driver: req, read_only: opt, fs_type: opt, volume_attributes: map, node_publish_secret_ref: opt
});
convert!(pb::EphemeralVolumeSource => oa::EphemeralVolumeSource { volume_claim_template: opt });
convert!(pb::PersistentVolumeClaimTemplate => oa::PersistentVolumeClaimTemplate {
    metadata: opt, spec: req
});
convert!(pb::PersistentVolumeClaimSpec => oa::PersistentVolumeClaimSpec {
    access_modes: list, selector: opt, resources: opt, volume_name: omit, storage_class_name: opt,
    volume_mode: opt, data_source: opt, data_source_ref: opt, volume_attributes_class_name: opt
});
convert!(pb::VolumeResourceRequirements => oa::VolumeResourceRequirements {
    limits: map, requests: map
});
convert!(pb::TypedLocalObjectReference => oa::TypedLocalObjectReference {
    api_group: opt, kind: req, name: req
});
convert!(pb::TypedObjectReference => oa::TypedObjectReference {
    api_group: opt, kind: req, name: req, namespace: opt
});
convert!(pb::ImageVolumeSource => oa::ImageVolumeSource { reference: omit, pull_policy: omit });
