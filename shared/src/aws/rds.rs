//! Amazon RDS: reading database state and changing it.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::types::{
    ClusterPendingModifiedValues, DbCluster, DbInstance, PendingModifiedValues, Tag, VpcSecurityGroupMembership,
};

use super::{AccountSessions, AwsError, ClientCache, MigrationPort, ParameterGroups, SessionError, SnapshotSharing};
use crate::database::{DatabaseKind, DatabaseState};
use crate::identity::{AccountId, AwsRegion};
use crate::network::{default_port, DatabaseListener};

/// Reads a database's current state. `Ok(None)`: it does not exist (any more).
#[async_trait]
pub trait DatabaseInventory: Send + Sync {
    async fn describe_instance(&self, identifier: &str) -> Result<Option<DatabaseState>, AwsError>;
    async fn describe_cluster(&self, identifier: &str) -> Result<Option<DatabaseState>, AwsError>;
}

/// The settings one ModifyDBInstance / ModifyDBCluster changes together: every fix due on a database
/// in one invocation goes out in a single request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub publicly_accessible: Option<bool>,
    pub deletion_protection: Option<bool>,
    pub backup_retention_days: Option<i32>,
    /// Instances, and Multi-AZ DB clusters (RDS.35).
    pub auto_minor_version_upgrade: Option<bool>,
}

impl SettingsChange {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The request's parameters as `Name=value`, for alerts and logs.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(v) = self.publicly_accessible {
            out.push(format!("PubliclyAccessible={v}"));
        }
        if let Some(v) = self.deletion_protection {
            out.push(format!("DeletionProtection={v}"));
        }
        if let Some(v) = self.backup_retention_days {
            out.push(format!("BackupRetentionPeriod={v}"));
        }
        if let Some(v) = self.auto_minor_version_upgrade {
            out.push(format!("AutoMinorVersionUpgrade={v}"));
        }
        out
    }
}

/// Changes a database: the only writes rds-guard makes. (There is no "make cluster private":
/// ModifyDBCluster has no PubliclyAccessible; a Multi-AZ DB cluster keeps the value it was created
/// with.)
///
/// ApplyImmediately is never sent as true. AWS applies "the modifications in this request *and any
/// pending modifications*" at once when it is, so a class change or engine upgrade a DBA scheduled
/// for the maintenance window would happen now, with a reboot or failover. None of rdsguard's
/// settings needs it (AWS's "Settings for DB instances" / "Settings for DB clusters" tables):
/// PubliclyAccessible, DeletionProtection and AutoMinorVersionUpgrade are applied at once whatever
/// the flag says; a BackupRetentionPeriod change between two non-zero values is applied as soon as
/// possible; switching backups on from 0 (an I/O pause and a first backup) waits for the window.
#[async_trait]
pub trait DatabaseRemediation: Send + Sync {
    /// One ModifyDBInstance / ModifyDBCluster carrying every setting in `change`,
    /// ApplyImmediately=false.
    async fn modify_settings(
        &self,
        kind: DatabaseKind,
        identifier: &str,
        change: &SettingsChange,
    ) -> Result<(), AwsError>;
    async fn stop_instance(&self, identifier: &str) -> Result<(), AwsError>;
    async fn stop_cluster(&self, identifier: &str) -> Result<(), AwsError>;
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

/// Everything rds-guard reads and changes in one account and region: databases, their snapshots,
/// their parameter groups, and the encryption migration (`RDS.3=migrate`).
pub trait RdsGuardPort: RdsPort + SnapshotSharing + ParameterGroups + MigrationPort {}
impl<T: RdsPort + SnapshotSharing + ParameterGroups + MigrationPort> RdsGuardPort for T {}

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
    /// A sweep's reads kept for the sweep ([`Self::for_sweep`]); `None` for an event.
    pub(super) sweep_cache: Option<std::sync::Arc<super::rds_sweep_cache::SweepCache>>,
    /// Where a sweep learns the region's AWS managed RDS key ([`Self::with_managed_key_lookup`]):
    /// the snapshots encrypted with it cannot be shared, so their attributes are not read.
    pub(super) managed_key: Option<std::sync::Arc<dyn super::RdsManagedKey>>,
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
        Self { client, sweep_cache: None, managed_key: None }
    }

    /// For sweeping one account-region: a parameter group's parameters and the region's database
    /// listing for the shared-group gate are read once for the whole sweep (see
    /// [`super::rds_sweep_cache`]).
    pub fn for_sweep(client: aws_sdk_rds::Client) -> Self {
        Self { client, sweep_cache: Some(Default::default()), managed_key: None }
    }

    /// A sweep that asks `keys` (once per account-region, and only when a listed manual snapshot is
    /// encrypted) which key is `alias/aws/rds`: RDS cannot share a snapshot encrypted with the AWS
    /// managed key, so its `restore` attribute is not read. Without it (or when the question fails),
    /// every manual snapshot's attribute is read.
    pub fn with_managed_key_lookup(mut self, keys: std::sync::Arc<dyn super::RdsManagedKey>) -> Self {
        self.managed_key = Some(keys);
        self
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
        pending_multi_az: db.pending_modified_values().and_then(|p| p.multi_az()),
        pending_iam_database_authentication: db
            .pending_modified_values()
            .and_then(|p| p.iam_database_authentication_enabled()),
        pending_modifications: db.pending_modified_values().map(instance_pending).unwrap_or_default(),
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
        pending_multi_az: None,
        pending_iam_database_authentication: db
            .pending_modified_values()
            .and_then(|p| p.iam_database_authentication_enabled()),
        pending_modifications: db.pending_modified_values().map(cluster_pending).unwrap_or_default(),
        iam_database_authentication: db.iam_database_authentication_enabled(),
        master_password_managed: Some(db.master_user_secret().is_some()),
        master_username: db.master_username().map(str::to_owned),
        log_exports: Some(db.enabled_cloudwatch_logs_exports().to_vec()),
        multi_az: db.multi_az(),
        auto_minor_version_upgrade: db.auto_minor_version_upgrade(),
        parameter_group: db.db_cluster_parameter_group().map(str::to_owned),
    }
}

/// Every pending modification of an instance as `Name=value` (a password is named, never shown).
fn instance_pending(p: &PendingModifiedValues) -> Vec<String> {
    named(vec![
        ("DBInstanceClass", p.db_instance_class().map(str::to_owned)),
        ("AllocatedStorage", p.allocated_storage().map(|v| v.to_string())),
        ("MasterUserPassword", p.master_user_password().map(|_| "(changed)".to_owned())),
        ("Port", p.port().map(|v| v.to_string())),
        ("BackupRetentionPeriod", p.backup_retention_period().map(|v| v.to_string())),
        ("MultiAZ", p.multi_az().map(|v| v.to_string())),
        ("EngineVersion", p.engine_version().map(str::to_owned)),
        ("LicenseModel", p.license_model().map(str::to_owned)),
        ("Iops", p.iops().map(|v| v.to_string())),
        ("StorageThroughput", p.storage_throughput().map(|v| v.to_string())),
        ("DBInstanceIdentifier", p.db_instance_identifier().map(str::to_owned)),
        ("StorageType", p.storage_type().map(str::to_owned)),
        ("CACertificateIdentifier", p.ca_certificate_identifier().map(str::to_owned)),
        ("DBSubnetGroupName", p.db_subnet_group_name().map(str::to_owned)),
        ("PendingCloudwatchLogsExports", p.pending_cloudwatch_logs_exports().map(logs_change)),
        ("MultiTenant", p.multi_tenant().map(|v| v.to_string())),
        ("IAMDatabaseAuthenticationEnabled", p.iam_database_authentication_enabled().map(|v| v.to_string())),
        ("DedicatedLogVolume", p.dedicated_log_volume().map(|v| v.to_string())),
        ("Engine", p.engine().map(str::to_owned)),
    ])
}

/// Every pending modification of a cluster as `Name=value`.
fn cluster_pending(p: &ClusterPendingModifiedValues) -> Vec<String> {
    named(vec![
        ("DBClusterIdentifier", p.db_cluster_identifier().map(str::to_owned)),
        ("MasterUserPassword", p.master_user_password().map(|_| "(changed)".to_owned())),
        ("IAMDatabaseAuthenticationEnabled", p.iam_database_authentication_enabled().map(|v| v.to_string())),
        ("EngineVersion", p.engine_version().map(str::to_owned)),
        ("BackupRetentionPeriod", p.backup_retention_period().map(|v| v.to_string())),
        ("StorageType", p.storage_type().map(str::to_owned)),
        ("AllocatedStorage", p.allocated_storage().map(|v| v.to_string())),
        ("Iops", p.iops().map(|v| v.to_string())),
        ("PendingCloudwatchLogsExports", p.pending_cloudwatch_logs_exports().map(logs_change)),
    ])
}

/// `Name=value` for each setting that is present.
fn named(settings: Vec<(&str, Option<String>)>) -> Vec<String> {
    settings.into_iter().filter_map(|(name, value)| value.map(|v| format!("{name}={v}"))).collect()
}

fn logs_change(logs: &aws_sdk_rds::types::PendingCloudwatchLogsExports) -> String {
    format!("enable {:?} disable {:?}", logs.log_types_to_enable(), logs.log_types_to_disable())
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

fn port(reported: Option<i32>, engine: Option<&str>) -> Option<u16> {
    reported.and_then(|p| u16::try_from(p).ok()).filter(|p| *p != 0).or_else(|| engine.and_then(default_port))
}

#[async_trait]
impl DatabaseNetworkInventory for SdkRds {
    async fn databases_using_group(&self, group_id: &str) -> Result<Vec<DatabaseListener>, AwsError> {
        let mut found = Vec::new();
        for kind in [DatabaseKind::Instance, DatabaseKind::Cluster] {
            // In a sweep, the region's listing (one per kind for every group); else a listing now.
            let listeners = match self.sweep_cache.as_ref().and_then(|cache| cache.listeners(kind)) {
                Some(kept) => kept,
                None => self.list_with_listeners(kind).await?.1,
            };
            found.extend(
                listeners.into_iter().filter(|(groups, _)| groups.iter().any(|g| g == group_id)).map(|(_, l)| l),
            );
        }
        Ok(found)
    }
}

/// A DB instance as the security-group check needs it: its groups, and the port it listens on.
pub(super) fn instance_listener(db: &DbInstance) -> super::rds_sweep_cache::GroupedListener {
    let reported = db.endpoint().and_then(|e| e.port()).or(db.db_instance_port());
    let listener = DatabaseListener {
        kind: DatabaseKind::Instance,
        identifier: db.db_instance_identifier().unwrap_or_default().to_owned(),
        arn: db.db_instance_arn().map(str::to_owned),
        engine: db.engine().map(str::to_owned),
        port: port(reported, db.engine()),
    };
    (group_ids(db.vpc_security_groups()), listener)
}

/// A DB cluster as the security-group check needs it.
pub(super) fn cluster_listener(db: &DbCluster) -> super::rds_sweep_cache::GroupedListener {
    let listener = DatabaseListener {
        kind: DatabaseKind::Cluster,
        identifier: db.db_cluster_identifier().unwrap_or_default().to_owned(),
        arn: db.db_cluster_arn().map(str::to_owned),
        engine: db.engine().map(str::to_owned),
        port: port(db.port(), db.engine()),
    };
    (group_ids(db.vpc_security_groups()), listener)
}

#[async_trait]
impl DatabaseRemediation for SdkRds {
    async fn modify_settings(
        &self,
        kind: DatabaseKind,
        identifier: &str,
        change: &SettingsChange,
    ) -> Result<(), AwsError> {
        match kind {
            DatabaseKind::Instance => self
                .client
                .modify_db_instance()
                .db_instance_identifier(identifier)
                .set_publicly_accessible(change.publicly_accessible)
                .set_deletion_protection(change.deletion_protection)
                .set_backup_retention_period(change.backup_retention_days)
                .set_auto_minor_version_upgrade(change.auto_minor_version_upgrade)
                .apply_immediately(false)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("ModifyDBInstance", e)),
            // ModifyDBCluster has no PubliclyAccessible (a Multi-AZ DB cluster keeps the value it was
            // created with): the planner never asks for it on a cluster.
            DatabaseKind::Cluster => self
                .client
                .modify_db_cluster()
                .db_cluster_identifier(identifier)
                .set_deletion_protection(change.deletion_protection)
                .set_backup_retention_period(change.backup_retention_days)
                .set_auto_minor_version_upgrade(change.auto_minor_version_upgrade)
                .apply_immediately(false)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("ModifyDBCluster", e)),
        }
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
