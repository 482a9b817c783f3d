//! How the migration sees a database: DescribeDBInstances / DescribeDBClusters answers mapped to
//! [`Db`] with every setting it carries ([`Settings`]), cluster members writer first.

use aws_sdk_rds::types::{DbCluster, DbInstance, Tag};

use crate::migration::settings::{Db, Kind, Member, Settings};

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

pub(super) fn instance_db(db: &DbInstance) -> Db {
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

pub(super) fn cluster_db(db: &DbCluster, instances: &[DbInstance]) -> Db {
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
