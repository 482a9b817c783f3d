//! Amazon RDS snapshots as rds-guard judges them: their encryption and who may restore them, and
//! the one change rds-guard makes to them (removing accounts from the `restore` attribute).

use async_trait::async_trait;

use super::rds::tags;
use super::{AwsError, SdkRds};
use crate::db_snapshot::{SnapshotKind, SnapshotState};

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

#[async_trait]
impl SnapshotSharing for SdkRds {
    async fn describe_snapshot(&self, kind: SnapshotKind, identifier: &str) -> Result<Option<SnapshotState>, AwsError> {
        match kind {
            SnapshotKind::Instance => {
                let found = match self.client.describe_db_snapshots().db_snapshot_identifier(identifier).send().await {
                    Ok(output) => output.db_snapshots().first().cloned(),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_db_snapshot_not_found_fault()) => None,
                    Err(e) => return Err(AwsError::from_sdk("DescribeDBSnapshots", e)),
                };
                let Some(snapshot) = found else { return Ok(None) };
                let attributes = self
                    .client
                    .describe_db_snapshot_attributes()
                    .db_snapshot_identifier(identifier)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeDBSnapshotAttributes", e))?;
                let restore = attributes.db_snapshot_attributes_result().map(|r| {
                    restore_values(
                        r.db_snapshot_attributes().iter().map(|a| (a.attribute_name(), a.attribute_values())),
                    )
                });
                Ok(Some(SnapshotState {
                    identifier: snapshot.db_snapshot_identifier().unwrap_or(identifier).to_owned(),
                    arn: snapshot.db_snapshot_arn().map(str::to_owned),
                    encrypted: snapshot.encrypted(),
                    snapshot_type: snapshot.snapshot_type().map(str::to_owned),
                    status: snapshot.status().map(str::to_owned),
                    source_database: snapshot.db_instance_identifier().map(str::to_owned),
                    engine: snapshot.engine().map(str::to_owned),
                    tags: tags(snapshot.tag_list()),
                    restore_shared_with: restore,
                }))
            }
            SnapshotKind::Cluster => {
                let found = match self
                    .client
                    .describe_db_cluster_snapshots()
                    .db_cluster_snapshot_identifier(identifier)
                    .send()
                    .await
                {
                    Ok(output) => output.db_cluster_snapshots().first().cloned(),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_db_cluster_snapshot_not_found_fault()) => None,
                    Err(e) => return Err(AwsError::from_sdk("DescribeDBClusterSnapshots", e)),
                };
                let Some(snapshot) = found else { return Ok(None) };
                let attributes = self
                    .client
                    .describe_db_cluster_snapshot_attributes()
                    .db_cluster_snapshot_identifier(identifier)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeDBClusterSnapshotAttributes", e))?;
                let restore = attributes.db_cluster_snapshot_attributes_result().map(|r| {
                    restore_values(
                        r.db_cluster_snapshot_attributes().iter().map(|a| (a.attribute_name(), a.attribute_values())),
                    )
                });
                Ok(Some(SnapshotState {
                    identifier: snapshot.db_cluster_snapshot_identifier().unwrap_or(identifier).to_owned(),
                    arn: snapshot.db_cluster_snapshot_arn().map(str::to_owned),
                    encrypted: snapshot.storage_encrypted(),
                    snapshot_type: snapshot.snapshot_type().map(str::to_owned),
                    status: snapshot.status().map(str::to_owned),
                    source_database: snapshot.db_cluster_identifier().map(str::to_owned),
                    engine: snapshot.engine().map(str::to_owned),
                    tags: tags(snapshot.tag_list()),
                    restore_shared_with: restore,
                }))
            }
        }
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
