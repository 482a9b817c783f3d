//! Amazon RDS calls of the encryption migration (`rdsguard encrypt`): read databases and
//! snapshots; snapshot, encrypted copy, restore, modify, rename, reboot, stop and start. Nothing
//! here deletes anything.

use async_trait::async_trait;
use aws_sdk_rds::error::ProvideErrorMetadata;
use aws_sdk_rds::types::{CloudwatchLogsExportConfiguration, DbCluster, DbInstance, Tag};

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

fn tag_pairs(list: &[Tag]) -> Vec<(String, String)> {
    list.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}

/// The database's own tags, sorted: the migration's bookkeeping (`rdsguard:migration*`) and the
/// cutover approval (`rdsguard:cutover`) left out; everything else (an exemption included) is the
/// database's and goes with it.
fn own_tags(all: &[(String, String)]) -> Vec<(String, String)> {
    let mut own: Vec<_> = all
        .iter()
        .filter(|(k, _)| !k.starts_with("rdsguard:migration") && k != crate::migration::TAG_CUTOVER)
        .cloned()
        .collect();
    own.sort();
    own
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn done_if_exists<E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<(), (&'static str, E)>,
) -> Result<(), AwsError> {
    match result {
        Ok(()) => Ok(()),
        Err((_, e)) if e.code().is_some_and(|c| EXISTS_CODES.contains(&c)) => Ok(()),
        Err((operation, e)) => Err(AwsError {
            operation,
            code: e.code().map(str::to_owned),
            message: e.message().map_or_else(|| format!("{e:?}"), str::to_owned),
        }),
    }
}

fn instance_db(db: &DbInstance) -> Db {
    let all_tags = tag_pairs(db.tag_list());
    Db {
        kind: Some(Kind::Instance),
        identifier: db.db_instance_identifier().unwrap_or_default().to_owned(),
        arn: db.db_instance_arn().unwrap_or_default().to_owned(),
        status: db.db_instance_status().unwrap_or_default().to_owned(),
        encrypted: db.storage_encrypted().unwrap_or(false),
        kms_key_id: db.kms_key_id().map(str::to_owned),
        endpoint: db.endpoint().and_then(|e| e.address()).map(str::to_owned),
        read_replicas: db.read_replica_db_instance_identifiers().to_vec(),
        replica_source: db.read_replica_source_db_instance_identifier().filter(|s| !s.is_empty()).map(str::to_owned),
        cluster: db.db_cluster_identifier().filter(|s| !s.is_empty()).map(str::to_owned),
        settings: Settings {
            engine: db.engine().map(str::to_owned),
            engine_version: db.engine_version().map(str::to_owned),
            master_username: db.master_username().map(str::to_owned),
            instance_class: db.db_instance_class().map(str::to_owned),
            subnet_group: db.db_subnet_group().and_then(|g| g.db_subnet_group_name()).map(str::to_owned),
            security_groups: sorted(
                db.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).map(str::to_owned).collect(),
            ),
            parameter_group: db
                .db_parameter_groups()
                .iter()
                .find_map(|g| g.db_parameter_group_name())
                .map(str::to_owned),
            option_group: db.option_group_memberships().iter().find_map(|g| g.option_group_name()).map(str::to_owned),
            storage_type: db.storage_type().map(str::to_owned),
            allocated_storage: db.allocated_storage(),
            iops: db.iops(),
            storage_throughput: db.storage_throughput(),
            max_allocated_storage: db.max_allocated_storage(),
            port: db.endpoint().and_then(|e| e.port()).or(db.db_instance_port()),
            multi_az: db.multi_az(),
            publicly_accessible: db.publicly_accessible(),
            iam_auth: db.iam_database_authentication_enabled(),
            backup_retention: db.backup_retention_period(),
            backup_window: db.preferred_backup_window().map(str::to_owned),
            maintenance_window: db.preferred_maintenance_window().map(str::to_owned),
            deletion_protection: db.deletion_protection(),
            monitoring_interval: db.monitoring_interval(),
            monitoring_role_arn: db.monitoring_role_arn().map(str::to_owned),
            performance_insights: db.performance_insights_enabled(),
            performance_insights_retention: db.performance_insights_retention_period(),
            log_exports: sorted(db.enabled_cloudwatch_logs_exports().to_vec()),
            ca_certificate: db.ca_certificate_identifier().map(str::to_owned),
            copy_tags_to_snapshot: db.copy_tags_to_snapshot(),
            master_user_secret: Some(db.master_user_secret().is_some()),
            auto_minor_version_upgrade: db.auto_minor_version_upgrade(),
            tags: own_tags(&all_tags),
        },
        all_tags,
        members: Vec::new(),
    }
}

fn member_of(instance: &DbInstance, writer: bool, tier: Option<i32>) -> Member {
    Member {
        identifier: instance.db_instance_identifier().unwrap_or_default().to_owned(),
        status: instance.db_instance_status().map(str::to_owned),
        writer,
        instance_class: instance.db_instance_class().map(str::to_owned),
        promotion_tier: tier.or(instance.promotion_tier()),
        parameter_group: instance
            .db_parameter_groups()
            .iter()
            .find_map(|g| g.db_parameter_group_name())
            .map(str::to_owned),
        availability_zone: instance.availability_zone().map(str::to_owned),
        publicly_accessible: instance.publicly_accessible(),
        monitoring_interval: instance.monitoring_interval(),
        monitoring_role_arn: instance.monitoring_role_arn().map(str::to_owned),
        performance_insights: instance.performance_insights_enabled(),
        ca_certificate: instance.ca_certificate_identifier().map(str::to_owned),
        auto_minor_version_upgrade: instance.auto_minor_version_upgrade(),
    }
}

fn cluster_db(db: &DbCluster, instances: &[DbInstance]) -> Db {
    let all_tags = tag_pairs(db.tag_list());
    let mut members: Vec<Member> = db
        .db_cluster_members()
        .iter()
        .filter_map(|m| {
            let id = m.db_instance_identifier()?;
            let instance = instances.iter().find(|i| i.db_instance_identifier() == Some(id))?;
            Some(member_of(instance, m.is_cluster_writer().unwrap_or(false), m.promotion_tier()))
        })
        .collect();
    // Writer first, then by identifier: how old and new members are paired.
    members.sort_by(|a, b| b.writer.cmp(&a.writer).then_with(|| a.identifier.cmp(&b.identifier)));
    Db {
        kind: Some(Kind::Cluster),
        identifier: db.db_cluster_identifier().unwrap_or_default().to_owned(),
        arn: db.db_cluster_arn().unwrap_or_default().to_owned(),
        status: db.status().unwrap_or_default().to_owned(),
        encrypted: db.storage_encrypted().unwrap_or(false),
        kms_key_id: db.kms_key_id().map(str::to_owned),
        endpoint: db.endpoint().map(str::to_owned),
        read_replicas: db.read_replica_identifiers().to_vec(),
        replica_source: db.replication_source_identifier().filter(|s| !s.is_empty()).map(str::to_owned),
        cluster: None,
        settings: Settings {
            engine: db.engine().map(str::to_owned),
            engine_version: db.engine_version().map(str::to_owned),
            master_username: db.master_username().map(str::to_owned),
            subnet_group: db.db_subnet_group().map(str::to_owned),
            security_groups: sorted(
                db.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).map(str::to_owned).collect(),
            ),
            parameter_group: db.db_cluster_parameter_group().map(str::to_owned),
            port: db.port(),
            iam_auth: db.iam_database_authentication_enabled(),
            backup_retention: db.backup_retention_period(),
            backup_window: db.preferred_backup_window().map(str::to_owned),
            maintenance_window: db.preferred_maintenance_window().map(str::to_owned),
            deletion_protection: db.deletion_protection(),
            log_exports: sorted(db.enabled_cloudwatch_logs_exports().to_vec()),
            copy_tags_to_snapshot: db.copy_tags_to_snapshot(),
            master_user_secret: Some(db.master_user_secret().is_some()),
            tags: own_tags(&all_tags),
            ..Settings::default()
        },
        all_tags,
        members,
    }
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
        self.client
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(rds_tags(tags)))
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("AddTagsToResource", e))
    }

    async fn create_snapshot(
        &self,
        kind: Kind,
        database: &str,
        snapshot: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        match kind {
            Kind::Instance => done_if_exists(
                self.client
                    .create_db_snapshot()
                    .db_instance_identifier(database)
                    .db_snapshot_identifier(snapshot)
                    .set_tags(Some(rds_tags(tags)))
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| ("CreateDBSnapshot", e.into_service_error())),
            ),
            Kind::Cluster => done_if_exists(
                self.client
                    .create_db_cluster_snapshot()
                    .db_cluster_identifier(database)
                    .db_cluster_snapshot_identifier(snapshot)
                    .set_tags(Some(rds_tags(tags)))
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| ("CreateDBClusterSnapshot", e.into_service_error())),
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
        done_if_exists(
            self.client
                .copy_db_snapshot()
                .source_db_snapshot_identifier(source)
                .target_db_snapshot_identifier(target)
                .kms_key_id(kms_key)
                .set_tags(Some(rds_tags(tags)))
                .send()
                .await
                .map(drop)
                .map_err(|e| ("CopyDBSnapshot", e.into_service_error())),
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
            Kind::Instance => done_if_exists(
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
                    .await
                    .map(drop)
                    .map_err(|e| ("RestoreDBInstanceFromDBSnapshot", e.into_service_error())),
            ),
            Kind::Cluster => done_if_exists(
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
                    .await
                    .map(drop)
                    .map_err(|e| ("RestoreDBClusterFromSnapshot", e.into_service_error())),
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
        done_if_exists(
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
                .await
                .map(drop)
                .map_err(|e| ("CreateDBInstance", e.into_service_error())),
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
            Kind::Instance => self
                .client
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
                .set_enable_performance_insights(changed(&wanted.performance_insights, &current.performance_insights))
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
                .await
                .map(drop)
                .map_err(|e| AwsError::from_sdk("ModifyDBInstance", e)),
            Kind::Cluster => self
                .client
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
                .await
                .map(drop)
                .map_err(|e| AwsError::from_sdk("ModifyDBCluster", e)),
        }
    }

    async fn rename(&self, kind: Kind, identifier: &str, new_id: &str) -> Result<(), AwsError> {
        match kind {
            Kind::Instance => self
                .client
                .modify_db_instance()
                .db_instance_identifier(identifier)
                .new_db_instance_identifier(new_id)
                .apply_immediately(true)
                .send()
                .await
                .map(drop)
                .map_err(|e| AwsError::from_sdk("ModifyDBInstance", e)),
            Kind::Cluster => self
                .client
                .modify_db_cluster()
                .db_cluster_identifier(identifier)
                .new_db_cluster_identifier(new_id)
                .apply_immediately(true)
                .send()
                .await
                .map(drop)
                .map_err(|e| AwsError::from_sdk("ModifyDBCluster", e)),
        }
    }

    async fn reboot_instance(&self, identifier: &str) -> Result<(), AwsError> {
        self.client
            .reboot_db_instance()
            .db_instance_identifier(identifier)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("RebootDBInstance", e))
    }

    async fn stop(&self, kind: Kind, identifier: &str) -> Result<(), AwsError> {
        match kind {
            Kind::Instance => self
                .client
                .stop_db_instance()
                .db_instance_identifier(identifier)
                .send()
                .await
                .map(drop)
                .map_err(|e| AwsError::from_sdk("StopDBInstance", e)),
            Kind::Cluster => self
                .client
                .stop_db_cluster()
                .db_cluster_identifier(identifier)
                .send()
                .await
                .map(drop)
                .map_err(|e| AwsError::from_sdk("StopDBCluster", e)),
        }
    }

    async fn start(&self, kind: Kind, identifier: &str) -> Result<(), AwsError> {
        match kind {
            Kind::Instance => self
                .client
                .start_db_instance()
                .db_instance_identifier(identifier)
                .send()
                .await
                .map(drop)
                .map_err(|e| AwsError::from_sdk("StartDBInstance", e)),
            Kind::Cluster => self
                .client
                .start_db_cluster()
                .db_cluster_identifier(identifier)
                .send()
                .await
                .map(drop)
                .map_err(|e| AwsError::from_sdk("StartDBCluster", e)),
        }
    }

    async fn create_read_replica(&self, source: &str, like: &Db, new_id: &str) -> Result<(), AwsError> {
        let s = &like.settings;
        done_if_exists(
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
                .await
                .map(drop)
                .map_err(|e| ("CreateDBInstanceReadReplica", e.into_service_error())),
        )
    }
}
