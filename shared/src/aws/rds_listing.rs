//! Listing a region's databases and manual snapshots in as few calls as RDS allows: one paginated
//! DescribeDBInstances / DescribeDBClusters returns every database with the tags and parameter
//! group names the rules need (no per-database Describe), and DescribeDB(Cluster)Snapshots lists
//! the manual snapshots to judge.

use async_trait::async_trait;
use tracing::warn;

use super::kms::is_key;
use super::rds::{cluster_listener, cluster_state, instance_listener, instance_state};
use super::rds_snapshots::{cluster_snapshot_state, instance_snapshot_state, RestoreAttribute};
use super::rds_sweep_cache::GroupedListener;
use super::{AwsError, RdsGuardPort, SdkRds};
use crate::database::{Database, DatabaseKind};
use crate::db_snapshot::{SnapshotKind, SnapshotState};

/// Everything in one account and region a sweep judges.
#[async_trait]
pub trait EstateListing: Send + Sync {
    /// Every DB instance (`Instance`) or DB cluster (`Cluster`) in the region, with its state.
    async fn list_databases(&self, kind: DatabaseKind) -> Result<Vec<Database>, AwsError>;
    /// The manual DB (cluster) snapshots the account owns in the region, with who may restore them.
    async fn list_manual_snapshots(&self, kind: SnapshotKind) -> Result<Vec<SnapshotState>, AwsError>;
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
        "rds:DescribeDBSnapshotAttributes",
        "rds:DescribeDBClusterSnapshotAttributes",
    ];

    /// One paginated DescribeDBInstances / DescribeDBClusters: every database of `kind` with its
    /// state, and each with its security groups and port (for the security-group check). In a
    /// sweep both are kept, so the shared-group gate and the group check do not list again.
    pub(super) async fn list_with_listeners(
        &self,
        kind: DatabaseKind,
    ) -> Result<(Vec<Database>, Vec<GroupedListener>), AwsError> {
        let mut found = Vec::new();
        let mut listeners = Vec::new();
        match kind {
            DatabaseKind::Instance => {
                let mut pages = self.client.describe_db_instances().into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("DescribeDBInstances", e))?;
                    found.extend(page.db_instances().iter().map(|db| Database::instance(instance_state(db))));
                    listeners.extend(page.db_instances().iter().map(instance_listener));
                }
            }
            DatabaseKind::Cluster => {
                let mut pages = self.client.describe_db_clusters().into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("DescribeDBClusters", e))?;
                    found.extend(page.db_clusters().iter().map(|db| Database::cluster(cluster_state(db))));
                    listeners.extend(page.db_clusters().iter().map(cluster_listener));
                }
            }
        }
        if let Some(cache) = &self.sweep_cache {
            cache.keep_listing(kind, &found);
            cache.keep_listeners(kind, listeners.clone());
        }
        Ok((found, listeners))
    }
}

/// Whether `snapshot` is encrypted with the key `key_id`.
fn encrypted_with(snapshot: &SnapshotState, key_id: &str) -> bool {
    snapshot.encrypted == Some(true) && snapshot.kms_key_id.as_deref().is_some_and(|k| is_key(k, key_id))
}

impl SdkRds {
    /// The key id behind `alias/aws/rds`, asked once per sweep and only when a listed snapshot is
    /// encrypted; `None` without a lookup, without such a key, or when KMS could not say (then
    /// every attribute is read: a refused ListAliases costs calls, never coverage).
    async fn rds_managed_key_for(&self, listed: &[SnapshotState]) -> Option<String> {
        let (Some(keys), Some(cache)) = (&self.managed_key, &self.sweep_cache) else { return None };
        if !listed.iter().any(|s| s.encrypted == Some(true) && s.kms_key_id.is_some()) {
            return None;
        }
        let lookup = || async {
            match keys.rds_managed_key_id().await {
                Ok(key) => key,
                Err(e) => {
                    warn!(error = %e, "the AWS managed RDS key could not be read: every snapshot's attribute is read");
                    None
                }
            }
        };
        cache.managed_key.get_or_init(lookup).await.clone()
    }
}

#[async_trait]
impl EstateListing for SdkRds {
    async fn list_databases(&self, kind: DatabaseKind) -> Result<Vec<Database>, AwsError> {
        Ok(self.list_with_listeners(kind).await?.0)
    }

    async fn list_manual_snapshots(&self, kind: SnapshotKind) -> Result<Vec<SnapshotState>, AwsError> {
        let mut listed = Vec::new();
        match kind {
            SnapshotKind::Instance => {
                let mut pages = self.client.describe_db_snapshots().snapshot_type("manual").into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("DescribeDBSnapshots", e))?;
                    listed.extend(page.db_snapshots().iter().map(|s| instance_snapshot_state(s, None)));
                }
            }
            SnapshotKind::Cluster => {
                let mut pages =
                    self.client.describe_db_cluster_snapshots().snapshot_type("manual").into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("DescribeDBClusterSnapshots", e))?;
                    listed.extend(page.db_cluster_snapshots().iter().map(|s| cluster_snapshot_state(s, None)));
                }
            }
        }
        // Who may restore a snapshot is in no listing: one attribute read per manual snapshot, but
        // for those encrypted with the AWS managed key, which RDS cannot share with anyone.
        let managed_key = self.rds_managed_key_for(&listed).await;
        let mut found = Vec::with_capacity(listed.len());
        for mut snapshot in listed.into_iter().filter(|s| !s.identifier.is_empty()) {
            if managed_key.as_deref().is_some_and(|key| encrypted_with(&snapshot, key)) {
                snapshot.restore_shared_with = Some(Vec::new());
                found.push(snapshot);
                continue;
            }
            match self.restore_attribute(kind, &snapshot.identifier).await? {
                RestoreAttribute::Read(restore) => snapshot.restore_shared_with = restore,
                RestoreAttribute::NotFound => continue, // deleted since the listing
            }
            found.push(snapshot);
        }
        Ok(found)
    }
}
