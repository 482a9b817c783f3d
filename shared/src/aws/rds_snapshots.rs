//! Amazon RDS snapshots as rds-guard judges them: their encryption and who may restore them, and
//! the one change rds-guard makes to them (removing accounts from the `restore` attribute).

use async_trait::async_trait;

use super::rds::tags;
use super::{AwsError, SdkRds};
use crate::db_snapshot::{SnapshotKind, SnapshotState};
use aws_sdk_rds::types::{DbClusterSnapshot, DbSnapshot};

/// Reads a snapshot and changes who it is shared with.
#[async_trait]
pub trait SnapshotSharing: Send + Sync {
    /// DescribeDB(Cluster)Snapshots + DescribeDB(Cluster)SnapshotAttributes. `Ok(None)`: the
    /// snapshot does not exist (any more).
    async fn describe_snapshot(&self, kind: SnapshotKind, identifier: &str) -> Result<Option<SnapshotState>, AwsError>;
    /// ModifyDB(Cluster)SnapshotAttribute `restore`, ValuesToRemove=`values` (account ids or `all`).
    async fn unshare_snapshot(&self, kind: SnapshotKind, identifier: &str, values: &[String]) -> Result<(), AwsError>;
}

impl SdkRds {
    /// IAM actions of [`SnapshotSharing`]'s reads.
    pub const SNAPSHOT_INVENTORY_IAM_ACTIONS: &'static [&'static str] = &[
        "rds:DescribeDBSnapshots",
        "rds:DescribeDBClusterSnapshots",
        "rds:DescribeDBSnapshotAttributes",
        "rds:DescribeDBClusterSnapshotAttributes",
    ];
    /// IAM actions of [`SnapshotSharing::unshare_snapshot`].
    pub const SNAPSHOT_SHARING_IAM_ACTIONS: &'static [&'static str] =
        &["rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute"];
}

/// The `restore` attribute's values (an empty list when the attribute is absent: not shared).
fn restore_values<'a>(attributes: impl Iterator<Item = (Option<&'a str>, &'a [String])>) -> Vec<String> {
    attributes.filter(|(name, _)| *name == Some("restore")).flat_map(|(_, values)| values.iter().cloned()).collect()
}

/// A DB snapshot's state as DescribeDBSnapshots lists it, with its `restore` attribute.
pub(super) fn instance_snapshot_state(snapshot: &DbSnapshot, restore: Option<Vec<String>>) -> SnapshotState {
    SnapshotState {
        identifier: snapshot.db_snapshot_identifier().unwrap_or_default().to_owned(),
        arn: snapshot.db_snapshot_arn().map(str::to_owned),
        encrypted: snapshot.encrypted(),
        snapshot_type: snapshot.snapshot_type().map(str::to_owned),
        status: snapshot.status().map(str::to_owned),
        source_database: snapshot.db_instance_identifier().map(str::to_owned),
        engine: snapshot.engine().map(str::to_owned),
        kms_key_id: snapshot.kms_key_id().map(str::to_owned),
        tags: tags(snapshot.tag_list()),
        restore_shared_with: restore,
    }
}

/// A DB cluster snapshot's state as DescribeDBClusterSnapshots lists it, with its `restore` attribute.
pub(super) fn cluster_snapshot_state(snapshot: &DbClusterSnapshot, restore: Option<Vec<String>>) -> SnapshotState {
    SnapshotState {
        identifier: snapshot.db_cluster_snapshot_identifier().unwrap_or_default().to_owned(),
        arn: snapshot.db_cluster_snapshot_arn().map(str::to_owned),
        encrypted: snapshot.storage_encrypted(),
        snapshot_type: snapshot.snapshot_type().map(str::to_owned),
        status: snapshot.status().map(str::to_owned),
        source_database: snapshot.db_cluster_identifier().map(str::to_owned),
        engine: snapshot.engine().map(str::to_owned),
        kms_key_id: snapshot.kms_key_id().map(str::to_owned),
        tags: tags(snapshot.tag_list()),
        restore_shared_with: restore,
    }
}

/// What DescribeDB(Cluster)SnapshotAttributes says of a snapshot.
pub(super) enum RestoreAttribute {
    /// The accounts (or `all`) that may restore it; `None` when RDS returned no attribute result.
    Read(Option<Vec<String>>),
    /// The snapshot is gone.
    NotFound,
}

impl SdkRds {
    /// The snapshot's `restore` attribute: one DescribeDB(Cluster)SnapshotAttributes call (no RDS
    /// call lists who may restore many snapshots at once).
    pub(super) async fn restore_attribute(
        &self,
        kind: SnapshotKind,
        identifier: &str,
    ) -> Result<RestoreAttribute, AwsError> {
        match kind {
            SnapshotKind::Instance => {
                match self.client.describe_db_snapshot_attributes().db_snapshot_identifier(identifier).send().await {
                    Ok(attributes) => Ok(RestoreAttribute::Read(attributes.db_snapshot_attributes_result().map(|r| {
                        restore_values(
                            r.db_snapshot_attributes().iter().map(|a| (a.attribute_name(), a.attribute_values())),
                        )
                    }))),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_db_snapshot_not_found_fault()) => {
                        Ok(RestoreAttribute::NotFound)
                    }
                    Err(e) => Err(AwsError::from_sdk("DescribeDBSnapshotAttributes", e)),
                }
            }
            SnapshotKind::Cluster => {
                let request =
                    self.client.describe_db_cluster_snapshot_attributes().db_cluster_snapshot_identifier(identifier);
                match request.send().await {
                    Ok(attributes) => {
                        Ok(RestoreAttribute::Read(attributes.db_cluster_snapshot_attributes_result().map(|r| {
                            restore_values(
                                r.db_cluster_snapshot_attributes()
                                    .iter()
                                    .map(|a| (a.attribute_name(), a.attribute_values())),
                            )
                        })))
                    }
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_db_cluster_snapshot_not_found_fault()) => {
                        Ok(RestoreAttribute::NotFound)
                    }
                    Err(e) => Err(AwsError::from_sdk("DescribeDBClusterSnapshotAttributes", e)),
                }
            }
        }
    }
}

#[async_trait]
impl SnapshotSharing for SdkRds {
    async fn describe_snapshot(&self, kind: SnapshotKind, identifier: &str) -> Result<Option<SnapshotState>, AwsError> {
        let state = match kind {
            SnapshotKind::Instance => {
                match self.client.describe_db_snapshots().db_snapshot_identifier(identifier).send().await {
                    Ok(output) => output.db_snapshots().first().map(|s| instance_snapshot_state(s, None)),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_db_snapshot_not_found_fault()) => None,
                    Err(e) => return Err(AwsError::from_sdk("DescribeDBSnapshots", e)),
                }
            }
            SnapshotKind::Cluster => {
                let request = self.client.describe_db_cluster_snapshots().db_cluster_snapshot_identifier(identifier);
                match request.send().await {
                    Ok(output) => output.db_cluster_snapshots().first().map(|s| cluster_snapshot_state(s, None)),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_db_cluster_snapshot_not_found_fault()) => None,
                    Err(e) => return Err(AwsError::from_sdk("DescribeDBClusterSnapshots", e)),
                }
            }
        };
        let Some(mut state) = state else { return Ok(None) };
        if state.identifier.is_empty() {
            state.identifier = identifier.to_owned();
        }
        match self.restore_attribute(kind, identifier).await? {
            RestoreAttribute::Read(restore) => state.restore_shared_with = restore,
            RestoreAttribute::NotFound => return Ok(None),
        }
        Ok(Some(state))
    }

    async fn unshare_snapshot(&self, kind: SnapshotKind, identifier: &str, values: &[String]) -> Result<(), AwsError> {
        match kind {
            SnapshotKind::Instance => self
                .client
                .modify_db_snapshot_attribute()
                .db_snapshot_identifier(identifier)
                .attribute_name("restore")
                .set_values_to_remove(Some(values.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("ModifyDBSnapshotAttribute", e)),
            SnapshotKind::Cluster => self
                .client
                .modify_db_cluster_snapshot_attribute()
                .db_cluster_snapshot_identifier(identifier)
                .attribute_name("restore")
                .set_values_to_remove(Some(values.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("ModifyDBClusterSnapshotAttribute", e)),
        }
    }
}
