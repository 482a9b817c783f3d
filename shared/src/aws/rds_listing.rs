//! Listing a region's databases and manual snapshots in as few calls as RDS allows: one paginated
//! DescribeDBInstances / DescribeDBClusters returns every database with the tags and parameter
//! group names the rules need (no per-database Describe), and DescribeDB(Cluster)Snapshots lists
//! the manual snapshots to judge.

use async_trait::async_trait;

use super::rds::{cluster_state, instance_state};
use super::{AwsError, RdsGuardPort, SdkRds};
use crate::database::{Database, DatabaseKind};
use crate::db_snapshot::SnapshotKind;

/// Everything in one account and region a sweep judges.
#[async_trait]
pub trait EstateListing: Send + Sync {
    /// Every DB instance (`Instance`) or DB cluster (`Cluster`) in the region, with its state.
    async fn list_databases(&self, kind: DatabaseKind) -> Result<Vec<Database>, AwsError>;
    /// The identifiers of the manual DB (cluster) snapshots the account owns in the region.
    async fn list_manual_snapshots(&self, kind: SnapshotKind) -> Result<Vec<String>, AwsError>;
}

/// What a sweep needs in one account and region: listing, and every check's reads and fixes.
pub trait SweepPort: EstateListing + RdsGuardPort {}
impl<T: EstateListing + RdsGuardPort> SweepPort for T {}

impl SdkRds {
    /// IAM actions of [`EstateListing`] (already among the inventory reads).
    pub const LISTING_IAM_ACTIONS: &'static [&'static str] = &[
        "rds:DescribeDBInstances",
        "rds:DescribeDBClusters",
        "rds:DescribeDBSnapshots",
        "rds:DescribeDBClusterSnapshots",
    ];
}

#[async_trait]
impl EstateListing for SdkRds {
    async fn list_databases(&self, kind: DatabaseKind) -> Result<Vec<Database>, AwsError> {
        let mut found = Vec::new();
        match kind {
            DatabaseKind::Instance => {
                let mut pages = self.client.describe_db_instances().into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("DescribeDBInstances", e))?;
                    found.extend(page.db_instances().iter().map(|db| Database::instance(instance_state(db))));
                }
            }
            DatabaseKind::Cluster => {
                let mut pages = self.client.describe_db_clusters().into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("DescribeDBClusters", e))?;
                    found.extend(page.db_clusters().iter().map(|db| Database::cluster(cluster_state(db))));
                }
            }
        }
        Ok(found)
    }

    async fn list_manual_snapshots(&self, kind: SnapshotKind) -> Result<Vec<String>, AwsError> {
        let mut found = Vec::new();
        match kind {
            SnapshotKind::Instance => {
                let mut pages = self.client.describe_db_snapshots().snapshot_type("manual").into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("DescribeDBSnapshots", e))?;
                    found.extend(
                        page.db_snapshots().iter().filter_map(|s| s.db_snapshot_identifier()).map(str::to_owned),
                    );
                }
            }
            SnapshotKind::Cluster => {
                let mut pages =
                    self.client.describe_db_cluster_snapshots().snapshot_type("manual").into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("DescribeDBClusterSnapshots", e))?;
                    found.extend(
                        page.db_cluster_snapshots()
                            .iter()
                            .filter_map(|s| s.db_cluster_snapshot_identifier())
                            .map(str::to_owned),
                    );
                }
            }
        }
        Ok(found)
    }
}
