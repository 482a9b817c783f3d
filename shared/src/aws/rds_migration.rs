//! Amazon RDS calls of the encryption migration (`rdsguard encrypt`): read databases and
//! snapshots; snapshot, encrypted copy, restore, modify, rename, reboot, stop and start. Nothing
//! here deletes anything.

use async_trait::async_trait;
use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rds::types::{CloudwatchLogsExportConfiguration, DbInstance, Tag};

use super::rds_migration_state::{cluster_db, instance_db};
use super::{AwsError, SdkRds};
use crate::migration::settings::{Db, Kind, Member, Settings, Snapshot};

/// The reads: all a plan needs (a plan is made of these calls alone).
#[async_trait]
pub trait MigrationInventory: Send + Sync {
    /// Every database of `kind` in the account and region (clusters with their members).
    async fn databases(&self, kind: Kind) -> Result<Vec<Db>, AwsError>;
    async fn snapshot(&self, kind: Kind, identifier: &str) -> Result<Option<Snapshot>, AwsError>;
}

/// The writes. Each is safe to repeat: creating what exists already succeeds.
#[async_trait]
pub trait MigrationActions: Send + Sync {
    async fn tag(&self, arn: &str, tags: &[(String, String)]) -> Result<(), AwsError>;
    /// CreateDBSnapshot / CreateDBClusterSnapshot.
    async fn create_snapshot(
        &self,
        kind: Kind,
        database: &str,
        snapshot: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError>;
    /// CopyDBSnapshot with KmsKeyId: the copy is encrypted with the key.
    async fn copy_snapshot_encrypted(
        &self,
        source: &str,
        target: &str,
        kms_key: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError>;
    /// RestoreDBInstanceFromDBSnapshot (from the encrypted copy) or RestoreDBClusterFromSnapshot
    /// (from the unencrypted snapshot, with KmsKeyId), under `new_id`, with every setting of `from`
    /// a restore takes.
    async fn restore(
        &self,
        kind: Kind,
        snapshot: &str,
        from: &Db,
        new_id: &str,
        kms_key: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError>;
    /// CreateDBInstance of a member of the new cluster, like `member`.
    async fn create_member(
        &self,
        cluster: &str,
        engine: &str,
        member: &Member,
        new_id: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError>;
    /// ModifyDBInstance / ModifyDBCluster (ApplyImmediately) of every setting in `wanted` that
    /// differs from `current`.
    async fn apply_settings(
        &self,
        kind: Kind,
        identifier: &str,
        wanted: &Settings,
        current: &Settings,
    ) -> Result<(), AwsError>;
    /// ModifyDBInstance / ModifyDBCluster NewDB…Identifier, ApplyImmediately.
    async fn rename(&self, kind: Kind, identifier: &str, new_id: &str) -> Result<(), AwsError>;
    /// RebootDBInstance: cuts every open session.
    async fn reboot_instance(&self, identifier: &str) -> Result<(), AwsError>;
    async fn stop(&self, kind: Kind, identifier: &str) -> Result<(), AwsError>;
    async fn start(&self, kind: Kind, identifier: &str) -> Result<(), AwsError>;
    /// CreateDBInstanceReadReplica of `source` named `new_id`, like the old replica `like`.
    async fn create_read_replica(&self, source: &str, like: &Db, new_id: &str) -> Result<(), AwsError>;
}

/// Both, as the CLI's client provides them.
pub trait MigrationPort: MigrationInventory + MigrationActions {}
impl<T: MigrationInventory + MigrationActions> MigrationPort for T {}

/// Error codes that say "it exists already": the step was done before (a retry, a crash).
const EXISTS_CODES: &[&str] = &[
    "DBSnapshotAlreadyExists",
    "DBSnapshotAlreadyExistsFault",
    "DBClusterSnapshotAlreadyExistsFault",
    "DBInstanceAlreadyExists",
    "DBInstanceAlreadyExistsFault",
    "DBClusterAlreadyExistsFault",
];

impl SdkRds {
    /// IAM actions of [`MigrationInventory`] (what `plan` and `status` call).
    pub const MIGRATION_READ_IAM_ACTIONS: &'static [&'static str] = &[
        "rds:DescribeDBInstances",
        "rds:DescribeDBClusters",
        "rds:DescribeDBSnapshots",
        "rds:DescribeDBClusterSnapshots",
    ];
    /// Every IAM action of the adapter: the reads and [`MigrationActions`]. KMS actions RDS needs
    /// on the caller's behalf are in [`Self::MIGRATION_KMS_IAM_ACTIONS`].
    pub const MIGRATION_IAM_ACTIONS: &'static [&'static str] = &[
        "rds:DescribeDBInstances",
        "rds:DescribeDBClusters",
        "rds:DescribeDBSnapshots",
        "rds:DescribeDBClusterSnapshots",
        "rds:AddTagsToResource",
        "rds:CreateDBSnapshot",
        "rds:CreateDBClusterSnapshot",
        "rds:CopyDBSnapshot",
        "rds:RestoreDBInstanceFromDBSnapshot",
        "rds:RestoreDBClusterFromSnapshot",
        "rds:CreateDBInstance",
        "rds:CreateDBInstanceReadReplica",
        "rds:ModifyDBInstance",
        "rds:ModifyDBCluster",
        "rds:RebootDBInstance",
        "rds:StopDBInstance",
        "rds:StopDBCluster",
        "rds:StartDBInstance",
        "rds:StartDBCluster",
    ];
    /// What the caller needs on the KMS key for RDS to encrypt with it (copy, restore, new members).
    pub const MIGRATION_KMS_IAM_ACTIONS: &'static [&'static str] = &["kms:CreateGrant", "kms:DescribeKey"];

    /// RDS in the account and region of `config`.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_rds::Client::new(config))
    }
}

fn rds_tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// A create call's answer: "it exists already" means the step was done before (a retry, a crash).
fn created<T, E, R>(operation: &'static str, result: Result<T, SdkError<E, R>>) -> Result<(), AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code().is_some_and(|c| EXISTS_CODES.contains(&c)) => Ok(()),
        Err(e) => Err(AwsError::from_sdk(operation, e)),
    }
}

/// Any other call's answer.
fn sent<T, E, R>(operation: &'static str, result: Result<T, SdkError<E, R>>) -> Result<(), AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    result.map(drop).map_err(|e| AwsError::from_sdk(operation, e))
}

impl SdkRds {
    async fn all_instances(&self) -> Result<Vec<DbInstance>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self.client.describe_db_instances().into_paginator().send();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(|e| AwsError::from_sdk("DescribeDBInstances", e))?.db_instances().iter().cloned());
        }
        Ok(out)
    }
}

#[async_trait]
impl MigrationInventory for SdkRds {
    async fn databases(&self, kind: Kind) -> Result<Vec<Db>, AwsError> {
        let instances = self.all_instances().await?;
        match kind {
            Kind::Instance => Ok(instances.iter().map(instance_db).collect()),
            Kind::Cluster => {
                let mut out = Vec::new();
                let mut pages = self.client.describe_db_clusters().into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("DescribeDBClusters", e))?;
                    out.extend(page.db_clusters().iter().map(|c| cluster_db(c, &instances)));
                }
                Ok(out)
            }
        }
    }

    async fn snapshot(&self, kind: Kind, identifier: &str) -> Result<Option<Snapshot>, AwsError> {
        match kind {
            Kind::Instance => {
                let result = self.client.describe_db_snapshots().db_snapshot_identifier(identifier).send().await;
                match result {
                    Ok(out) => Ok(out.db_snapshots().first().map(|s| Snapshot {
                        identifier: s.db_snapshot_identifier().unwrap_or_default().to_owned(),
                        status: s.status().unwrap_or_default().to_owned(),
                        encrypted: s.encrypted().unwrap_or(false),
                        kms_key_id: s.kms_key_id().map(str::to_owned),
                        created: s.snapshot_create_time().map(ToString::to_string),
                    })),
                    Err(e) if e.code() == Some("DBSnapshotNotFound") || e.code() == Some("DBSnapshotNotFoundFault") => {
                        Ok(None)
                    }
                    Err(e) => Err(AwsError::from_sdk("DescribeDBSnapshots", e)),
                }
            }
            Kind::Cluster => {
                let result =
                    self.client.describe_db_cluster_snapshots().db_cluster_snapshot_identifier(identifier).send().await;
                match result {
                    Ok(out) => Ok(out.db_cluster_snapshots().first().map(|s| Snapshot {
                        identifier: s.db_cluster_snapshot_identifier().unwrap_or_default().to_owned(),
                        status: s.status().unwrap_or_default().to_owned(),
                        encrypted: s.storage_encrypted().unwrap_or(false),
                        kms_key_id: s.kms_key_id().map(str::to_owned),
                        created: s.snapshot_create_time().map(ToString::to_string),
                    })),
                    Err(e) if e.code() == Some("DBClusterSnapshotNotFoundFault") => Ok(None),
                    Err(e) => Err(AwsError::from_sdk("DescribeDBClusterSnapshots", e)),
                }
            }
        }
    }
}

#[async_trait]
impl MigrationActions for SdkRds {
    async fn tag(&self, arn: &str, tags: &[(String, String)]) -> Result<(), AwsError> {
        sent(
            "AddTagsToResource",
            self.client.add_tags_to_resource().resource_name(arn).set_tags(Some(rds_tags(tags))).send().await,
        )
    }

    async fn create_snapshot(
        &self,
        kind: Kind,
        database: &str,
        snapshot: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        match kind {
            Kind::Instance => created(
                "CreateDBSnapshot",
                self.client
                    .create_db_snapshot()
                    .db_instance_identifier(database)
                    .db_snapshot_identifier(snapshot)
                    .set_tags(Some(rds_tags(tags)))
                    .send()
                    .await,
            ),
            Kind::Cluster => created(
                "CreateDBClusterSnapshot",
                self.client
                    .create_db_cluster_snapshot()
                    .db_cluster_identifier(database)
                    .db_cluster_snapshot_identifier(snapshot)
                    .set_tags(Some(rds_tags(tags)))
                    .send()
                    .await,
            ),
        }
    }

    async fn copy_snapshot_encrypted(
        &self,
        source: &str,
        target: &str,
        kms_key: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        created(
            "CopyDBSnapshot",
            self.client
                .copy_db_snapshot()
                .source_db_snapshot_identifier(source)
                .target_db_snapshot_identifier(target)
                .kms_key_id(kms_key)
                .set_tags(Some(rds_tags(tags)))
                .send()
                .await,
        )
    }

    async fn restore(
        &self,
        kind: Kind,
        snapshot: &str,
        from: &Db,
        new_id: &str,
        kms_key: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        let s = &from.settings;
        match kind {
            Kind::Instance => created(
                "RestoreDBInstanceFromDBSnapshot",
                self.client
                    .restore_db_instance_from_db_snapshot()
                    .db_snapshot_identifier(snapshot)
                    .db_instance_identifier(new_id)
                    .set_db_instance_class(s.instance_class.clone())
                    .set_db_subnet_group_name(s.subnet_group.clone())
                    .set_vpc_security_group_ids(Some(s.security_groups.clone()))
                    .set_db_parameter_group_name(s.parameter_group.clone())
                    // A default option group (`default:<engine>-<version>`) is what the restore takes
                    // anyway; naming it is refused where it was never created.
                    .set_option_group_name(s.option_group.clone().filter(|g| !g.starts_with("default:")))
                    .set_storage_type(s.storage_type.clone())
                    .set_allocated_storage(s.allocated_storage)
                    .set_iops(s.iops.filter(|i| *i > 0))
                    .set_storage_throughput(s.storage_throughput.filter(|t| *t > 0))
                    .set_port(s.port)
                    .set_multi_az(s.multi_az)
                    .set_publicly_accessible(s.publicly_accessible)
                    .set_enable_iam_database_authentication(s.iam_auth)
                    .set_backup_retention_period(s.backup_retention)
                    .set_preferred_backup_window(s.backup_window.clone())
                    .set_deletion_protection(s.deletion_protection)
                    .set_enable_cloudwatch_logs_exports(Some(s.log_exports.clone()))
                    .set_ca_certificate_identifier(s.ca_certificate.clone())
                    .set_copy_tags_to_snapshot(s.copy_tags_to_snapshot)
                    .set_manage_master_user_password(s.master_user_secret.filter(|m| *m))
                    .set_auto_minor_version_upgrade(s.auto_minor_version_upgrade)
                    .set_tags(Some(rds_tags(tags)))
                    .send()
                    .await,
            ),
            Kind::Cluster => created(
                "RestoreDBClusterFromSnapshot",
                self.client
                    .restore_db_cluster_from_snapshot()
                    .snapshot_identifier(snapshot)
                    .db_cluster_identifier(new_id)
                    .set_engine(s.engine.clone())
                    .set_engine_version(s.engine_version.clone())
                    .kms_key_id(kms_key)
                    .set_db_subnet_group_name(s.subnet_group.clone())
                    .set_vpc_security_group_ids(Some(s.security_groups.clone()))
                    .set_db_cluster_parameter_group_name(s.parameter_group.clone())
                    .set_port(s.port)
                    .set_enable_iam_database_authentication(s.iam_auth)
                    .set_backup_retention_period(s.backup_retention)
                    .set_preferred_backup_window(s.backup_window.clone())
                    .set_deletion_protection(s.deletion_protection)
                    .set_enable_cloudwatch_logs_exports(Some(s.log_exports.clone()))
                    .set_copy_tags_to_snapshot(s.copy_tags_to_snapshot)
                    .set_tags(Some(rds_tags(tags)))
                    .send()
                    .await,
            ),
        }
    }

    async fn create_member(
        &self,
        cluster: &str,
        engine: &str,
        member: &Member,
        new_id: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        created(
            "CreateDBInstance",
            self.client
                .create_db_instance()
                .db_cluster_identifier(cluster)
                .db_instance_identifier(new_id)
                .engine(engine)
                .set_db_instance_class(member.instance_class.clone())
                .set_promotion_tier(member.promotion_tier)
                .set_db_parameter_group_name(member.parameter_group.clone())
                .set_availability_zone(member.availability_zone.clone())
                .set_publicly_accessible(member.publicly_accessible)
                .set_monitoring_interval(member.monitoring_interval.filter(|i| *i > 0))
                .set_monitoring_role_arn(member.monitoring_role_arn.clone())
                .set_enable_performance_insights(member.performance_insights)
                .set_ca_certificate_identifier(member.ca_certificate.clone())
                .set_auto_minor_version_upgrade(member.auto_minor_version_upgrade)
                .set_tags(Some(rds_tags(tags)))
                .send()
                .await,
        )
    }

    async fn apply_settings(
        &self,
        kind: Kind,
        identifier: &str,
        wanted: &Settings,
        current: &Settings,
    ) -> Result<(), AwsError> {
        fn changed<T: Clone + PartialEq>(wanted: &Option<T>, current: &Option<T>) -> Option<T> {
            if wanted != current {
                wanted.clone()
            } else {
                None
            }
        }
        let logs = (wanted.log_exports != current.log_exports).then(|| {
            CloudwatchLogsExportConfiguration::builder()
                .set_enable_log_types(Some(
                    wanted.log_exports.iter().filter(|l| !current.log_exports.contains(l)).cloned().collect(),
                ))
                .set_disable_log_types(Some(
                    current.log_exports.iter().filter(|l| !wanted.log_exports.contains(l)).cloned().collect(),
                ))
                .build()
        });
        let groups = (wanted.security_groups != current.security_groups).then(|| wanted.security_groups.clone());
        // Managing the master password: only switched on (switching it off needs a new password).
        let secret = changed(&wanted.master_user_secret, &current.master_user_secret).filter(|m| *m);
        match kind {
            Kind::Instance => sent(
                "ModifyDBInstance",
                self.client
                    .modify_db_instance()
                    .db_instance_identifier(identifier)
                    .apply_immediately(true)
                    .set_db_instance_class(changed(&wanted.instance_class, &current.instance_class))
                    .set_db_subnet_group_name(changed(&wanted.subnet_group, &current.subnet_group))
                    .set_vpc_security_group_ids(groups)
                    .set_db_parameter_group_name(changed(&wanted.parameter_group, &current.parameter_group))
                    .set_option_group_name(changed(&wanted.option_group, &current.option_group))
                    .set_storage_type(changed(&wanted.storage_type, &current.storage_type))
                    .set_allocated_storage(changed(&wanted.allocated_storage, &current.allocated_storage))
                    .set_iops(changed(&wanted.iops, &current.iops).filter(|i| *i > 0))
                    .set_storage_throughput(
                        changed(&wanted.storage_throughput, &current.storage_throughput).filter(|t| *t > 0),
                    )
                    .set_max_allocated_storage(changed(&wanted.max_allocated_storage, &current.max_allocated_storage))
                    .set_db_port_number(changed(&wanted.port, &current.port))
                    .set_multi_az(changed(&wanted.multi_az, &current.multi_az))
                    .set_publicly_accessible(changed(&wanted.publicly_accessible, &current.publicly_accessible))
                    .set_enable_iam_database_authentication(changed(&wanted.iam_auth, &current.iam_auth))
                    .set_backup_retention_period(changed(&wanted.backup_retention, &current.backup_retention))
                    .set_preferred_backup_window(changed(&wanted.backup_window, &current.backup_window))
                    .set_preferred_maintenance_window(changed(&wanted.maintenance_window, &current.maintenance_window))
                    .set_deletion_protection(changed(&wanted.deletion_protection, &current.deletion_protection))
                    .set_monitoring_interval(changed(&wanted.monitoring_interval, &current.monitoring_interval))
                    .set_monitoring_role_arn(changed(&wanted.monitoring_role_arn, &current.monitoring_role_arn))
                    .set_enable_performance_insights(changed(
                        &wanted.performance_insights,
                        &current.performance_insights,
                    ))
                    .set_performance_insights_retention_period(changed(
                        &wanted.performance_insights_retention,
                        &current.performance_insights_retention,
                    ))
                    .set_cloudwatch_logs_export_configuration(logs)
                    .set_ca_certificate_identifier(changed(&wanted.ca_certificate, &current.ca_certificate))
                    .set_copy_tags_to_snapshot(changed(&wanted.copy_tags_to_snapshot, &current.copy_tags_to_snapshot))
                    .set_manage_master_user_password(secret)
                    .set_auto_minor_version_upgrade(changed(
                        &wanted.auto_minor_version_upgrade,
                        &current.auto_minor_version_upgrade,
                    ))
                    .send()
                    .await,
            ),
            Kind::Cluster => sent(
                "ModifyDBCluster",
                self.client
                    .modify_db_cluster()
                    .db_cluster_identifier(identifier)
                    .apply_immediately(true)
                    .set_vpc_security_group_ids(groups)
                    .set_db_cluster_parameter_group_name(changed(&wanted.parameter_group, &current.parameter_group))
                    .set_port(changed(&wanted.port, &current.port))
                    .set_enable_iam_database_authentication(changed(&wanted.iam_auth, &current.iam_auth))
                    .set_backup_retention_period(changed(&wanted.backup_retention, &current.backup_retention))
                    .set_preferred_backup_window(changed(&wanted.backup_window, &current.backup_window))
                    .set_preferred_maintenance_window(changed(&wanted.maintenance_window, &current.maintenance_window))
                    .set_deletion_protection(changed(&wanted.deletion_protection, &current.deletion_protection))
                    .set_cloudwatch_logs_export_configuration(logs)
                    .set_copy_tags_to_snapshot(changed(&wanted.copy_tags_to_snapshot, &current.copy_tags_to_snapshot))
                    .set_manage_master_user_password(secret)
                    .send()
                    .await,
            ),
        }
    }

    async fn rename(&self, kind: Kind, identifier: &str, new_id: &str) -> Result<(), AwsError> {
        match kind {
            Kind::Instance => sent(
                "ModifyDBInstance",
                self.client
                    .modify_db_instance()
                    .db_instance_identifier(identifier)
                    .new_db_instance_identifier(new_id)
                    .apply_immediately(true)
                    .send()
                    .await,
            ),
            Kind::Cluster => sent(
                "ModifyDBCluster",
                self.client
                    .modify_db_cluster()
                    .db_cluster_identifier(identifier)
                    .new_db_cluster_identifier(new_id)
                    .apply_immediately(true)
                    .send()
                    .await,
            ),
        }
    }

    async fn reboot_instance(&self, identifier: &str) -> Result<(), AwsError> {
        sent("RebootDBInstance", self.client.reboot_db_instance().db_instance_identifier(identifier).send().await)
    }

    async fn stop(&self, kind: Kind, identifier: &str) -> Result<(), AwsError> {
        match kind {
            Kind::Instance => {
                sent("StopDBInstance", self.client.stop_db_instance().db_instance_identifier(identifier).send().await)
            }
            Kind::Cluster => {
                sent("StopDBCluster", self.client.stop_db_cluster().db_cluster_identifier(identifier).send().await)
            }
        }
    }

    async fn start(&self, kind: Kind, identifier: &str) -> Result<(), AwsError> {
        match kind {
            Kind::Instance => {
                sent("StartDBInstance", self.client.start_db_instance().db_instance_identifier(identifier).send().await)
            }
            Kind::Cluster => {
                sent("StartDBCluster", self.client.start_db_cluster().db_cluster_identifier(identifier).send().await)
            }
        }
    }

    async fn create_read_replica(&self, source: &str, like: &Db, new_id: &str) -> Result<(), AwsError> {
        let s = &like.settings;
        created(
            "CreateDBInstanceReadReplica",
            self.client
                .create_db_instance_read_replica()
                .source_db_instance_identifier(source)
                .db_instance_identifier(new_id)
                .set_db_instance_class(s.instance_class.clone())
                .set_vpc_security_group_ids(Some(s.security_groups.clone()))
                .set_db_parameter_group_name(s.parameter_group.clone())
                .set_port(s.port)
                .set_multi_az(s.multi_az)
                .set_publicly_accessible(s.publicly_accessible)
                .set_enable_iam_database_authentication(s.iam_auth)
                .set_deletion_protection(s.deletion_protection)
                .set_copy_tags_to_snapshot(s.copy_tags_to_snapshot)
                .set_tags(Some(rds_tags(&s.tags)))
                .send()
                .await,
        )
    }
}
