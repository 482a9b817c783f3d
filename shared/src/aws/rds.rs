//! Amazon RDS: reading database state and changing it.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::types::{DbCluster, DbInstance, Tag, VpcSecurityGroupMembership};

use super::{AccountSessions, AwsError, ClientCache, ParameterGroups, SessionError, SnapshotSharing};
use crate::database::{DatabaseKind, DatabaseState};
use crate::identity::{AccountId, AwsRegion};
use crate::network::{default_port, DatabaseListener};

/// Reads a database's current state. `Ok(None)`: it does not exist (any more).
#[async_trait]
pub trait DatabaseInventory: Send + Sync {
    async fn describe_instance(&self, identifier: &str) -> Result<Option<DatabaseState>, AwsError>;
    async fn describe_cluster(&self, identifier: &str) -> Result<Option<DatabaseState>, AwsError>;
}

/// Changes a database: the only writes rds-guard makes. (There is no "make cluster private":
/// ModifyDBCluster has no PubliclyAccessible; a Multi-AZ DB cluster keeps the value it was created
/// with.)
#[async_trait]
pub trait DatabaseRemediation: Send + Sync {
    /// ModifyDBInstance PubliclyAccessible=false, ApplyImmediately=true.
    async fn make_instance_private(&self, identifier: &str) -> Result<(), AwsError>;
    async fn stop_instance(&self, identifier: &str) -> Result<(), AwsError>;
    async fn stop_cluster(&self, identifier: &str) -> Result<(), AwsError>;
    /// ModifyDBInstance / ModifyDBCluster DeletionProtection=true, ApplyImmediately=true.
    async fn enable_deletion_protection(&self, kind: DatabaseKind, identifier: &str) -> Result<(), AwsError>;
    /// ModifyDBInstance / ModifyDBCluster BackupRetentionPeriod=`days`; `immediately`: with
    /// ApplyImmediately=true, otherwise in the next maintenance window.
    async fn set_backup_retention(
        &self,
        kind: DatabaseKind,
        identifier: &str,
        days: i32,
        immediately: bool,
    ) -> Result<(), AwsError>;
    /// ModifyDBInstance / ModifyDBCluster (Multi-AZ DB clusters) AutoMinorVersionUpgrade=true,
    /// ApplyImmediately=true.
    async fn enable_auto_minor_version_upgrade(&self, kind: DatabaseKind, identifier: &str) -> Result<(), AwsError>;
}

/// Finds the databases behind a security group.
#[async_trait]
pub trait DatabaseNetworkInventory: Send + Sync {
    /// DB instances and clusters whose VPC security groups include `group_id`, with their ports.
    async fn databases_using_group(&self, group_id: &str) -> Result<Vec<DatabaseListener>, AwsError>;
}

/// Both RDS capabilities, as one account+region's client provides them.
pub trait RdsPort: DatabaseInventory + DatabaseRemediation {}
impl<T: DatabaseInventory + DatabaseRemediation> RdsPort for T {}

/// Everything rds-guard reads and changes in one account and region: databases, their snapshots
/// and their parameter groups.
pub trait RdsGuardPort: RdsPort + SnapshotSharing + ParameterGroups {}
impl<T: RdsPort + SnapshotSharing + ParameterGroups> RdsGuardPort for T {}

/// Hands out RDS access for the account and region an event happened in.
#[async_trait]
pub trait RdsConnector: Send + Sync {
    async fn connect(&self, account: &AccountId, region: &AwsRegion) -> Result<Arc<dyn RdsGuardPort>, SessionError>;

    /// The IAM role calls in `account` are made as, named in alerts ([`AccountSessions::acting_as`]);
    /// `None` when not known.
    async fn acting_as(&self, account: &AccountId, region: &AwsRegion) -> Option<String> {
        let _ = (account, region);
        None
    }
}

/// RDS through the AWS SDK.
#[derive(Debug, Clone)]
pub struct SdkRds {
    pub(super) client: aws_sdk_rds::Client,
}

impl SdkRds {
    /// IAM actions of [`DatabaseInventory`] and [`DatabaseNetworkInventory`] (reads only).
    pub const INVENTORY_IAM_ACTIONS: &'static [&'static str] = &["rds:DescribeDBInstances", "rds:DescribeDBClusters"];
    /// IAM actions of [`DatabaseRemediation`] (the writes).
    pub const REMEDIATION_IAM_ACTIONS: &'static [&'static str] =
        &["rds:ModifyDBInstance", "rds:ModifyDBCluster", "rds:StopDBInstance", "rds:StopDBCluster"];
    /// The IAM action of [`DatabaseRemediation::make_instance_private`] alone, for functions that
    /// only make databases private (guardduty-responder).
    pub const MAKE_PRIVATE_IAM_ACTIONS: &'static [&'static str] = &["rds:ModifyDBInstance"];

    pub fn new(client: aws_sdk_rds::Client) -> Self {
        Self { client }
    }
}

pub(super) fn tags(list: &[Tag]) -> Vec<(String, String)> {
    list.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}

pub(super) fn instance_state(db: &DbInstance) -> DatabaseState {
    DatabaseState {
        identifier: db.db_instance_identifier().unwrap_or_default().to_owned(),
        arn: db.db_instance_arn().map(str::to_owned),
        engine: db.engine().map(str::to_owned),
        status: db.db_instance_status().map(str::to_owned),
        publicly_accessible: db.publicly_accessible(),
        storage_encrypted: db.storage_encrypted(),
        cluster_identifier: db.db_cluster_identifier().filter(|c| !c.is_empty()).map(str::to_owned),
        tags: tags(db.tag_list()),
        security_groups: group_ids(db.vpc_security_groups()),
        read_replica_source: db
            .read_replica_source_db_instance_identifier()
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        engine_version: db.engine_version().map(str::to_owned),
        deletion_protection: db.deletion_protection(),
        backup_retention_days: db.backup_retention_period(),
        pending_backup_retention_days: db.pending_modified_values().and_then(|p| p.backup_retention_period()),
        iam_database_authentication: db.iam_database_authentication_enabled(),
        master_password_managed: Some(db.master_user_secret().is_some()),
        master_username: db.master_username().map(str::to_owned),
        log_exports: Some(db.enabled_cloudwatch_logs_exports().to_vec()),
        multi_az: db.multi_az(),
        auto_minor_version_upgrade: db.auto_minor_version_upgrade(),
        parameter_group: db.db_parameter_groups().iter().find_map(|g| g.db_parameter_group_name()).map(str::to_owned),
    }
}

pub(super) fn cluster_state(db: &DbCluster) -> DatabaseState {
    DatabaseState {
        identifier: db.db_cluster_identifier().unwrap_or_default().to_owned(),
        arn: db.db_cluster_arn().map(str::to_owned),
        engine: db.engine().map(str::to_owned),
        status: db.status().map(str::to_owned),
        publicly_accessible: db.publicly_accessible(),
        storage_encrypted: db.storage_encrypted(),
        cluster_identifier: None,
        tags: tags(db.tag_list()),
        read_replica_source: db.replication_source_identifier().filter(|s| !s.is_empty()).map(str::to_owned),
        security_groups: group_ids(db.vpc_security_groups()),
        engine_version: db.engine_version().map(str::to_owned),
        deletion_protection: db.deletion_protection(),
        backup_retention_days: db.backup_retention_period(),
        pending_backup_retention_days: db.pending_modified_values().and_then(|p| p.backup_retention_period()),
        iam_database_authentication: db.iam_database_authentication_enabled(),
        master_password_managed: Some(db.master_user_secret().is_some()),
        master_username: db.master_username().map(str::to_owned),
        log_exports: Some(db.enabled_cloudwatch_logs_exports().to_vec()),
        multi_az: db.multi_az(),
        auto_minor_version_upgrade: db.auto_minor_version_upgrade(),
        parameter_group: db.db_cluster_parameter_group().map(str::to_owned),
    }
}

#[async_trait]
impl DatabaseInventory for SdkRds {
    async fn describe_instance(&self, identifier: &str) -> Result<Option<DatabaseState>, AwsError> {
        match self.client.describe_db_instances().db_instance_identifier(identifier).send().await {
            Ok(output) => Ok(output.db_instances().first().map(instance_state)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_db_instance_not_found_fault()) => Ok(None),
            Err(e) => Err(AwsError::from_sdk("DescribeDBInstances", e)),
        }
    }

    async fn describe_cluster(&self, identifier: &str) -> Result<Option<DatabaseState>, AwsError> {
        match self.client.describe_db_clusters().db_cluster_identifier(identifier).send().await {
            Ok(output) => Ok(output.db_clusters().first().map(cluster_state)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_db_cluster_not_found_fault()) => Ok(None),
            Err(e) => Err(AwsError::from_sdk("DescribeDBClusters", e)),
        }
    }
}

fn group_ids(groups: &[VpcSecurityGroupMembership]) -> Vec<String> {
    groups.iter().filter_map(|g| g.vpc_security_group_id()).map(str::to_owned).collect()
}

fn uses_group(groups: &[VpcSecurityGroupMembership], group_id: &str) -> bool {
    groups.iter().any(|g| g.vpc_security_group_id() == Some(group_id))
}

fn port(reported: Option<i32>, engine: Option<&str>) -> Option<u16> {
    reported.and_then(|p| u16::try_from(p).ok()).filter(|p| *p != 0).or_else(|| engine.and_then(default_port))
}

#[async_trait]
impl DatabaseNetworkInventory for SdkRds {
    async fn databases_using_group(&self, group_id: &str) -> Result<Vec<DatabaseListener>, AwsError> {
        let mut found = Vec::new();
        let mut instances = self.client.describe_db_instances().into_paginator().send();
        while let Some(page) = instances.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeDBInstances", e))?;
            for db in page.db_instances().iter().filter(|db| uses_group(db.vpc_security_groups(), group_id)) {
                let reported = db.endpoint().and_then(|e| e.port()).or(db.db_instance_port());
                found.push(DatabaseListener {
                    kind: DatabaseKind::Instance,
                    identifier: db.db_instance_identifier().unwrap_or_default().to_owned(),
                    arn: db.db_instance_arn().map(str::to_owned),
                    engine: db.engine().map(str::to_owned),
                    port: port(reported, db.engine()),
                });
            }
        }
        let mut clusters = self.client.describe_db_clusters().into_paginator().send();
        while let Some(page) = clusters.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeDBClusters", e))?;
            for db in page.db_clusters().iter().filter(|db| uses_group(db.vpc_security_groups(), group_id)) {
                found.push(DatabaseListener {
                    kind: DatabaseKind::Cluster,
                    identifier: db.db_cluster_identifier().unwrap_or_default().to_owned(),
                    arn: db.db_cluster_arn().map(str::to_owned),
                    engine: db.engine().map(str::to_owned),
                    port: port(db.port(), db.engine()),
                });
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl DatabaseRemediation for SdkRds {
    async fn make_instance_private(&self, identifier: &str) -> Result<(), AwsError> {
        self.modify_instance(identifier, InstanceSetting::Private).await
    }

    async fn stop_instance(&self, identifier: &str) -> Result<(), AwsError> {
        self.client
            .stop_db_instance()
            .db_instance_identifier(identifier)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("StopDBInstance", e))
    }

    async fn stop_cluster(&self, identifier: &str) -> Result<(), AwsError> {
        self.client
            .stop_db_cluster()
            .db_cluster_identifier(identifier)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("StopDBCluster", e))
    }

    async fn enable_deletion_protection(&self, kind: DatabaseKind, identifier: &str) -> Result<(), AwsError> {
        match kind {
            DatabaseKind::Instance => self.modify_instance(identifier, InstanceSetting::DeletionProtection).await,
            DatabaseKind::Cluster => self.modify_cluster(identifier, ClusterSetting::DeletionProtection).await,
        }
    }

    async fn set_backup_retention(
        &self,
        kind: DatabaseKind,
        identifier: &str,
        days: i32,
        immediately: bool,
    ) -> Result<(), AwsError> {
        match kind {
            DatabaseKind::Instance => {
                self.modify_instance(identifier, InstanceSetting::BackupRetention { days, immediately }).await
            }
            DatabaseKind::Cluster => {
                self.modify_cluster(identifier, ClusterSetting::BackupRetention { days, immediately }).await
            }
        }
    }

    async fn enable_auto_minor_version_upgrade(&self, kind: DatabaseKind, identifier: &str) -> Result<(), AwsError> {
        match kind {
            DatabaseKind::Instance => self.modify_instance(identifier, InstanceSetting::AutoMinorVersionUpgrade).await,
            DatabaseKind::Cluster => self.modify_cluster(identifier, ClusterSetting::AutoMinorVersionUpgrade).await,
        }
    }
}

/// One setting rdsguard changes with ModifyDBInstance.
#[derive(Debug, Clone, Copy)]
enum InstanceSetting {
    Private,
    DeletionProtection,
    BackupRetention { days: i32, immediately: bool },
    AutoMinorVersionUpgrade,
}

/// One setting rdsguard changes with ModifyDBCluster.
#[derive(Debug, Clone, Copy)]
enum ClusterSetting {
    DeletionProtection,
    BackupRetention {
        days: i32,
        immediately: bool,
    },
    /// Multi-AZ DB clusters only; Aurora sets it per member instance.
    AutoMinorVersionUpgrade,
}

impl SdkRds {
    async fn modify_instance(&self, identifier: &str, setting: InstanceSetting) -> Result<(), AwsError> {
        let request = self.client.modify_db_instance().db_instance_identifier(identifier);
        let request = match setting {
            InstanceSetting::Private => request.publicly_accessible(false).apply_immediately(true),
            InstanceSetting::DeletionProtection => request.deletion_protection(true).apply_immediately(true),
            InstanceSetting::BackupRetention { days, immediately } => {
                request.backup_retention_period(days).apply_immediately(immediately)
            }
            InstanceSetting::AutoMinorVersionUpgrade => {
                request.auto_minor_version_upgrade(true).apply_immediately(true)
            }
        };
        request.send().await.map(|_| ()).map_err(|e| AwsError::from_sdk("ModifyDBInstance", e))
    }

    async fn modify_cluster(&self, identifier: &str, setting: ClusterSetting) -> Result<(), AwsError> {
        let request = self.client.modify_db_cluster().db_cluster_identifier(identifier);
        let request = match setting {
            ClusterSetting::DeletionProtection => request.deletion_protection(true).apply_immediately(true),
            ClusterSetting::BackupRetention { days, immediately } => {
                request.backup_retention_period(days).apply_immediately(immediately)
            }
            ClusterSetting::AutoMinorVersionUpgrade => request.auto_minor_version_upgrade(true).apply_immediately(true),
        };
        request.send().await.map(|_| ()).map_err(|e| AwsError::from_sdk("ModifyDBCluster", e))
    }
}

/// [`SdkRds`] for whichever account and region, through [`AccountSessions`].
#[derive(Debug)]
pub struct SessionRdsConnector {
    sessions: AccountSessions,
    clients: ClientCache<Arc<dyn RdsGuardPort>>,
}

impl SessionRdsConnector {
    pub fn new(sessions: AccountSessions) -> Self {
        Self { sessions, clients: ClientCache::default() }
    }
}

#[async_trait]
impl RdsConnector for SessionRdsConnector {
    async fn connect(&self, account: &AccountId, region: &AwsRegion) -> Result<Arc<dyn RdsGuardPort>, SessionError> {
        self.clients
            .get_or_build(&self.sessions, account, region, |config| {
                Arc::new(SdkRds::new(aws_sdk_rds::Client::new(config)))
            })
            .await
    }

    async fn acting_as(&self, account: &AccountId, region: &AwsRegion) -> Option<String> {
        self.sessions.acting_as(account, region).await.ok()
    }
}
