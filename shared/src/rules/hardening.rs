//! Hardening rules over a database's settings: deletion protection, backups, IAM authentication,
//! the master password, the admin user name, log exports, Multi-AZ, minor version upgrades and
//! replicas of unencrypted sources. Each returns `NotApplicable` for the kind of resource the
//! other id of its pair covers (RDS.8 instances / RDS.7 clusters...).

use serde_json::json;

use super::Verdict;
use crate::database::{Database, DatabaseKind, EngineFamily};
use crate::policy::ProductionTag;

/// Which kind of resource a rule of an instance/cluster pair judges, and whether a cluster member
/// is judged on its cluster instead.
fn applies(db: &Database, kind: DatabaseKind, members_on_cluster: bool) -> Result<(), Verdict> {
    if db.kind != kind {
        return Err(Verdict::NotApplicable(match kind {
            DatabaseKind::Instance => "the instance rule of the pair; clusters have their own id",
            DatabaseKind::Cluster => "the cluster rule of the pair; instances have their own id",
        }));
    }
    if members_on_cluster && db.is_cluster_member() {
        return Err(Verdict::NotApplicable("cluster members are judged on their cluster"));
    }
    Ok(())
}

/// RDS.8 (instances) / RDS.7 (clusters): deletion protection is on. Cluster members are protected
/// through their cluster.
pub fn deletion_protection(db: &Database, kind: DatabaseKind) -> Verdict {
    if let Err(skip) = applies(db, kind, true) {
        return skip;
    }
    match db.state.deletion_protection {
        Some(true) => Verdict::Compliant,
        Some(false) => Verdict::Violation(json!({ "DeletionProtection": false, "Status": db.state.status })),
        None => Verdict::Unknown("DescribeDB* did not report DeletionProtection"),
    }
}

/// RDS.11 (instances) / RDS.50 (clusters): automated backups are kept for at least `min_days`.
/// Read replicas are not judged (their backups follow the source); cluster members are judged on
/// the cluster.
pub fn automated_backups(db: &Database, kind: DatabaseKind, min_days: i32) -> Verdict {
    if let Err(skip) = applies(db, kind, true) {
        return skip;
    }
    if db.kind == DatabaseKind::Instance && db.state.read_replica_source.is_some() {
        return Verdict::NotApplicable("read replicas are judged through their source");
    }
    let current = db.state.backup_retention_days;
    match db.state.pending_backup_retention_days {
        // A weakening sent without ApplyImmediately waits for the maintenance window; the current
        // value still looks fine until then, so the pending one is what is judged.
        Some(pending) if pending < min_days => {
            return Verdict::Violation(json!({
                "BackupRetentionPeriod": current,
                "PendingBackupRetentionPeriod": pending,
                "Pending": "applies in the next maintenance window (PendingModifiedValues)",
                "AutomatedBackups": if pending == 0 { "off after the maintenance window" } else { "on" },
                "MinBackupRetentionDays": min_days,
            }))
        }
        // Already fixed for the next maintenance window: fixing it again on every event would
        // repeat the Modify call and the alert until then.
        Some(_) if current.is_some_and(|days| days < min_days) => {
            return Verdict::NotApplicable("a long enough BackupRetentionPeriod is pending (next maintenance window)")
        }
        _ => {}
    }
    match current {
        Some(days) if days >= min_days => Verdict::Compliant,
        Some(days) => Verdict::Violation(json!({
            "BackupRetentionPeriod": days,
            "AutomatedBackups": if days == 0 { "off" } else { "on" },
            "MinBackupRetentionDays": min_days,
        })),
        None => Verdict::Unknown("DescribeDB* did not report BackupRetentionPeriod"),
    }
}

/// RDS.10 (instances) / RDS.12 (clusters): IAM database authentication is on. Only MySQL,
/// MariaDB and PostgreSQL engines (and Aurora) support it.
pub fn iam_authentication(db: &Database, kind: DatabaseKind) -> Verdict {
    if let Err(skip) = applies(db, kind, true) {
        return skip;
    }
    match db.state.engine_family() {
        EngineFamily::PostgreSql | EngineFamily::MySql => {}
        EngineFamily::Other => return Verdict::NotApplicable("the engine does not support IAM authentication"),
        EngineFamily::Unknown => return Verdict::Unknown("DescribeDB* did not report the engine"),
    }
    match (db.state.iam_database_authentication, db.state.pending_iam_database_authentication) {
        // Switched off for the maintenance window: a finding now.
        (Some(true), Some(false)) => Verdict::Violation(json!({
            "IAMDatabaseAuthenticationEnabled": true,
            "PendingIAMDatabaseAuthenticationEnabled": false,
            "Pending": "applies in the next maintenance window (PendingModifiedValues)",
            "Engine": db.state.engine,
        })),
        (Some(false), Some(true)) => Verdict::NotApplicable("IAM authentication is pending (next maintenance window)"),
        (Some(true), _) => Verdict::Compliant,
        (Some(false), _) => Verdict::Violation(json!({
            "IAMDatabaseAuthenticationEnabled": false,
            "Engine": db.state.engine,
        })),
        (None, _) => Verdict::Unknown("DescribeDB* did not report IAMDatabaseAuthenticationEnabled"),
    }
}

/// RDSGUARD.MASTER_SECRET: Secrets Manager manages the master password (`ManageMasterUserPassword`).
/// Cluster members and read replicas have no master password of their own.
pub fn master_password_managed(db: &Database) -> Verdict {
    if db.is_cluster_member() {
        return Verdict::NotApplicable("cluster members use their cluster's master user");
    }
    if db.kind == DatabaseKind::Instance && db.state.read_replica_source.is_some() {
        return Verdict::NotApplicable("read replicas use their source's master user");
    }
    match db.state.master_password_managed {
        Some(true) => Verdict::Compliant,
        Some(false) => Verdict::Violation(json!({
            "MasterUserSecret": null,
            "MasterUsername": db.state.master_username,
        })),
        None => Verdict::Unknown("DescribeDB* did not say whether a MasterUserSecret exists"),
    }
}

/// User names AWS documentation, engines and tutorials use by default; an attacker tries these
/// first. Compared case-insensitively.
pub const DEFAULT_ADMIN_USERNAMES: &[&str] = &[
    "admin",
    "administrator",
    "root",
    "sa",
    "postgres",
    "master",
    "mysql",
    "mariadb",
    "oracle",
    "sys",
    "system",
    "dbadmin",
    "rdsadmin",
    "user",
    "test",
];

/// RDS.25 (instances) / RDS.24 (clusters): the master user name is not a default one.
pub fn custom_admin_username(db: &Database, kind: DatabaseKind) -> Verdict {
    if let Err(skip) = applies(db, kind, true) {
        return skip;
    }
    if db.kind == DatabaseKind::Instance && db.state.read_replica_source.is_some() {
        return Verdict::NotApplicable("read replicas use their source's master user");
    }
    match db.state.master_username.as_deref().map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) if DEFAULT_ADMIN_USERNAMES.iter().any(|d| d.eq_ignore_ascii_case(name)) => {
            Verdict::Violation(json!({ "MasterUsername": name }))
        }
        Some(_) => Verdict::Compliant,
        None => Verdict::Unknown("DescribeDB* did not report MasterUsername"),
    }
}

/// RDS.9: the database exports at least one log to CloudWatch Logs. Aurora members export through
/// their cluster.
pub fn log_exports(db: &Database) -> Verdict {
    if db.is_cluster_member() {
        return Verdict::NotApplicable("cluster members export logs through their cluster");
    }
    match &db.state.log_exports {
        Some(logs) if !logs.is_empty() => Verdict::Compliant,
        Some(_) => Verdict::Violation(json!({ "EnabledCloudwatchLogsExports": [], "Engine": db.state.engine })),
        None => Verdict::Unknown("DescribeDB* did not report EnabledCloudwatchLogsExports"),
    }
}

/// RDS.5 (instances) / RDS.15 (clusters): a database tagged as production runs in more than one
/// Availability Zone. Untagged databases are not judged.
pub fn multi_az_for_production(db: &Database, kind: DatabaseKind, production: &ProductionTag) -> Verdict {
    if let Err(skip) = applies(db, kind, true) {
        return skip;
    }
    if !production.matches(&db.state.tags) {
        return Verdict::NotApplicable("not tagged as production (PRODUCTION_TAG)");
    }
    match (db.state.multi_az, db.state.pending_multi_az) {
        // Converting to Single-AZ in the maintenance window: a finding now.
        (Some(true), Some(false)) => Verdict::Violation(json!({
            "MultiAZ": true,
            "PendingMultiAZ": false,
            "Pending": "applies in the next maintenance window (PendingModifiedValues)",
            "ProductionTag": production.to_string(),
        })),
        (Some(false), Some(true)) => {
            Verdict::NotApplicable("a Multi-AZ conversion is pending (next maintenance window)")
        }
        (Some(true), _) => Verdict::Compliant,
        (Some(false), _) => Verdict::Violation(json!({ "MultiAZ": false, "ProductionTag": production.to_string() })),
        (None, _) => Verdict::Unknown("DescribeDB* did not report MultiAZ"),
    }
}

/// RDS.13 (`Instance`) / RDS.35 (`Cluster`): the database takes automatic minor version upgrades.
/// Aurora members are judged one by one (RDS.13); RDS.35 is Security Hub's control for Multi-AZ DB
/// clusters, so an Aurora cluster is not judged under it; members of a Multi-AZ DB cluster follow
/// their cluster.
pub fn auto_minor_version_upgrade(db: &Database, rule_kind: DatabaseKind) -> Verdict {
    if db.kind != rule_kind {
        return Verdict::NotApplicable(match rule_kind {
            DatabaseKind::Instance => "RDS.13 applies to DB instances",
            DatabaseKind::Cluster => "RDS.35 applies to DB clusters",
        });
    }
    if db.kind == DatabaseKind::Instance && db.is_cluster_member() && !db.state.is_aurora() {
        return Verdict::NotApplicable("members of a Multi-AZ DB cluster follow their cluster");
    }
    if db.kind == DatabaseKind::Cluster && db.state.is_aurora() {
        return Verdict::NotApplicable("RDS.35 covers Multi-AZ DB clusters; Aurora members are judged under RDS.13");
    }
    match db.state.auto_minor_version_upgrade {
        Some(true) => Verdict::Compliant,
        Some(false) => {
            Verdict::Violation(json!({ "AutoMinorVersionUpgrade": false, "EngineVersion": db.state.engine_version }))
        }
        None => Verdict::Unknown("DescribeDB* did not report AutoMinorVersionUpgrade"),
    }
}

/// RDSGUARD.REPLICA_UNENCRYPTED: a read replica whose storage is not encrypted, because its source
/// is not: RDS cannot encrypt it in place, and every copy of the data stays readable from disk.
pub fn replica_of_unencrypted_source(db: &Database) -> Verdict {
    let Some(source) = db.state.read_replica_source.as_deref() else {
        return Verdict::NotApplicable("not a read replica");
    };
    if db.kind != DatabaseKind::Instance {
        return Verdict::NotApplicable("cluster replication is judged by RDS.27");
    }
    match db.state.storage_encrypted {
        Some(true) => Verdict::Compliant,
        Some(false) => Verdict::Violation(json!({
            "ReadReplicaSourceDBInstanceIdentifier": source,
            "StorageEncrypted": false,
            "Remedy": "snapshot the source, copy the snapshot with a KMS key, restore, and recreate the replica",
        })),
        None => Verdict::Unknown("DescribeDBInstances did not report StorageEncrypted"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::DatabaseState;

    fn kind_of(verdict: &Verdict) -> &'static str {
        match verdict {
            Verdict::Compliant => "compliant",
            Verdict::NotApplicable(_) => "n/a",
            Verdict::Unknown(_) => "unknown",
            Verdict::Violation(_) => "violation",
        }
    }

    fn instance(edit: impl FnOnce(&mut DatabaseState)) -> Database {
        let mut state = DatabaseState {
            identifier: "db".into(),
            engine: Some("postgres".into()),
            status: Some("available".into()),
            ..DatabaseState::default()
        };
        edit(&mut state);
        Database::instance(state)
    }

    fn cluster(edit: impl FnOnce(&mut DatabaseState)) -> Database {
        let mut state = DatabaseState {
            identifier: "c".into(),
            engine: Some("aurora-mysql".into()),
            status: Some("available".into()),
            ..DatabaseState::default()
        };
        edit(&mut state);
        Database::cluster(state)
    }

    fn member(edit: impl FnOnce(&mut DatabaseState)) -> Database {
        instance(|s| {
            s.engine = Some("aurora-mysql".into());
            s.cluster_identifier = Some("c".into());
            edit(s);
        })
    }

    use DatabaseKind::{Cluster, Instance};

    #[test]
    fn rds8_and_rds7_deletion_protection() {
        let cases = [
            ("instance off", instance(|s| s.deletion_protection = Some(false)), "violation", "n/a"),
            ("instance on", instance(|s| s.deletion_protection = Some(true)), "compliant", "n/a"),
            ("instance unknown", instance(|_| {}), "unknown", "n/a"),
            ("member", member(|s| s.deletion_protection = Some(false)), "n/a", "n/a"),
            ("cluster off", cluster(|s| s.deletion_protection = Some(false)), "n/a", "violation"),
            ("cluster on", cluster(|s| s.deletion_protection = Some(true)), "n/a", "compliant"),
            ("cluster unknown", cluster(|_| {}), "n/a", "unknown"),
        ];
        for (name, db, rds8, rds7) in cases {
            assert_eq!(kind_of(&deletion_protection(&db, Instance)), rds8, "{name} RDS.8");
            assert_eq!(kind_of(&deletion_protection(&db, Cluster)), rds7, "{name} RDS.7");
        }
    }

    #[test]
    fn rds11_and_rds50_backups() {
        let cases = [
            ("backups off", instance(|s| s.backup_retention_days = Some(0)), 7, "violation", "n/a"),
            ("1 day of 7", instance(|s| s.backup_retention_days = Some(1)), 7, "violation", "n/a"),
            ("exactly the minimum", instance(|s| s.backup_retention_days = Some(7)), 7, "compliant", "n/a"),
            ("more", instance(|s| s.backup_retention_days = Some(35)), 7, "compliant", "n/a"),
            ("unknown", instance(|_| {}), 7, "unknown", "n/a"),
            (
                "off, 7 days pending",
                instance(|s| {
                    s.backup_retention_days = Some(0);
                    s.pending_backup_retention_days = Some(7)
                }),
                7,
                "n/a",
                "n/a",
            ),
            (
                "off, too short pending",
                instance(|s| {
                    s.backup_retention_days = Some(0);
                    s.pending_backup_retention_days = Some(3)
                }),
                7,
                "violation",
                "n/a",
            ),
            (
                "7 days now, 0 pending (a scheduled weakening)",
                instance(|s| {
                    s.backup_retention_days = Some(7);
                    s.pending_backup_retention_days = Some(0)
                }),
                7,
                "violation",
                "n/a",
            ),
            (
                "14 days now, 3 pending",
                instance(|s| {
                    s.backup_retention_days = Some(14);
                    s.pending_backup_retention_days = Some(3)
                }),
                7,
                "violation",
                "n/a",
            ),
            (
                "7 days now, 14 pending",
                instance(|s| {
                    s.backup_retention_days = Some(7);
                    s.pending_backup_retention_days = Some(14)
                }),
                7,
                "compliant",
                "n/a",
            ),
            (
                "read replica",
                instance(|s| {
                    s.backup_retention_days = Some(0);
                    s.read_replica_source = Some("src".into())
                }),
                7,
                "n/a",
                "n/a",
            ),
            ("member", member(|s| s.backup_retention_days = Some(1)), 7, "n/a", "n/a"),
            ("cluster 1 day", cluster(|s| s.backup_retention_days = Some(1)), 7, "n/a", "violation"),
            ("cluster 14 days", cluster(|s| s.backup_retention_days = Some(14)), 7, "n/a", "compliant"),
            ("cluster unknown", cluster(|_| {}), 7, "n/a", "unknown"),
        ];
        for (name, db, min, rds11, rds50) in cases {
            assert_eq!(kind_of(&automated_backups(&db, Instance, min)), rds11, "{name} RDS.11");
            assert_eq!(kind_of(&automated_backups(&db, Cluster, min)), rds50, "{name} RDS.50");
        }
        let Verdict::Violation(evidence) =
            automated_backups(&instance(|s| s.backup_retention_days = Some(0)), Instance, 7)
        else {
            panic!("violation expected")
        };
        assert_eq!(evidence["AutomatedBackups"], "off");
        assert_eq!(evidence["MinBackupRetentionDays"], 7);
    }

    #[test]
    fn rds10_and_rds12_iam_authentication() {
        let cases = [
            ("postgres off", instance(|s| s.iam_database_authentication = Some(false)), "violation", "n/a"),
            ("postgres on", instance(|s| s.iam_database_authentication = Some(true)), "compliant", "n/a"),
            (
                "mariadb off",
                instance(|s| {
                    s.engine = Some("mariadb".into());
                    s.iam_database_authentication = Some(false)
                }),
                "violation",
                "n/a",
            ),
            (
                "sqlserver",
                instance(|s| {
                    s.engine = Some("sqlserver-se".into());
                    s.iam_database_authentication = Some(false)
                }),
                "n/a",
                "n/a",
            ),
            ("unknown value", instance(|_| {}), "unknown", "n/a"),
            ("unknown engine", instance(|s| s.engine = None), "unknown", "n/a"),
            ("member", member(|s| s.iam_database_authentication = Some(false)), "n/a", "n/a"),
            ("cluster off", cluster(|s| s.iam_database_authentication = Some(false)), "n/a", "violation"),
            ("cluster on", cluster(|s| s.iam_database_authentication = Some(true)), "n/a", "compliant"),
            (
                "on, switched off for the window",
                instance(|s| {
                    s.iam_database_authentication = Some(true);
                    s.pending_iam_database_authentication = Some(false)
                }),
                "violation",
                "n/a",
            ),
            (
                "off, switched on for the window",
                instance(|s| {
                    s.iam_database_authentication = Some(false);
                    s.pending_iam_database_authentication = Some(true)
                }),
                "n/a",
                "n/a",
            ),
        ];
        for (name, db, rds10, rds12) in cases {
            assert_eq!(kind_of(&iam_authentication(&db, Instance)), rds10, "{name} RDS.10");
            assert_eq!(kind_of(&iam_authentication(&db, Cluster)), rds12, "{name} RDS.12");
        }
    }

    #[test]
    fn master_secret() {
        let cases = [
            ("unmanaged", instance(|s| s.master_password_managed = Some(false)), "violation"),
            ("managed", instance(|s| s.master_password_managed = Some(true)), "compliant"),
            ("unknown", instance(|_| {}), "unknown"),
            ("member", member(|s| s.master_password_managed = Some(false)), "n/a"),
            (
                "replica",
                instance(|s| {
                    s.master_password_managed = Some(false);
                    s.read_replica_source = Some("src".into())
                }),
                "n/a",
            ),
            ("cluster unmanaged", cluster(|s| s.master_password_managed = Some(false)), "violation"),
        ];
        for (name, db, expected) in cases {
            assert_eq!(kind_of(&master_password_managed(&db)), expected, "{name}");
        }
    }

    #[test]
    fn rds25_and_rds24_default_admin() {
        let named = |name: &str| instance(|s| s.master_username = Some(name.into()));
        let cases = [
            ("root", named("root"), "violation", "n/a"),
            ("Admin any case", named("Admin"), "violation", "n/a"),
            ("postgres", named("postgres"), "violation", "n/a"),
            ("sa", named("sa"), "violation", "n/a"),
            ("custom", named("orders_owner"), "compliant", "n/a"),
            ("missing", instance(|_| {}), "unknown", "n/a"),
            ("empty", named(" "), "unknown", "n/a"),
            ("member", member(|s| s.master_username = Some("admin".into())), "n/a", "n/a"),
            ("cluster admin", cluster(|s| s.master_username = Some("admin".into())), "n/a", "violation"),
            ("cluster custom", cluster(|s| s.master_username = Some("ops_7f3".into())), "n/a", "compliant"),
        ];
        for (name, db, rds25, rds24) in cases {
            assert_eq!(kind_of(&custom_admin_username(&db, Instance)), rds25, "{name} RDS.25");
            assert_eq!(kind_of(&custom_admin_username(&db, Cluster)), rds24, "{name} RDS.24");
        }
    }

    #[test]
    fn rds9_log_exports() {
        let cases = [
            ("none", instance(|s| s.log_exports = Some(vec![])), "violation"),
            ("postgresql log", instance(|s| s.log_exports = Some(vec!["postgresql".into()])), "compliant"),
            ("unknown", instance(|_| {}), "unknown"),
            ("member", member(|s| s.log_exports = Some(vec![])), "n/a"),
            ("cluster none", cluster(|s| s.log_exports = Some(vec![])), "violation"),
            ("cluster audit", cluster(|s| s.log_exports = Some(vec!["audit".into()])), "compliant"),
        ];
        for (name, db, expected) in cases {
            assert_eq!(kind_of(&log_exports(&db)), expected, "{name}");
        }
    }

    #[test]
    fn rds5_and_rds15_multi_az_for_production() {
        let production = ProductionTag { key: "environment".into(), value: Some("production".into()) };
        let tagged = |value: &str| vec![("Environment".to_owned(), value.to_owned())];
        let cases = [
            (
                "production single-AZ",
                instance(|s| {
                    s.tags = tagged("Production");
                    s.multi_az = Some(false)
                }),
                "violation",
                "n/a",
            ),
            (
                "production multi-AZ, Single-AZ pending",
                instance(|s| {
                    s.tags = tagged("production");
                    s.multi_az = Some(true);
                    s.pending_multi_az = Some(false)
                }),
                "violation",
                "n/a",
            ),
            (
                "production single-AZ, Multi-AZ pending",
                instance(|s| {
                    s.tags = tagged("production");
                    s.multi_az = Some(false);
                    s.pending_multi_az = Some(true)
                }),
                "n/a",
                "n/a",
            ),
            (
                "production multi-AZ",
                instance(|s| {
                    s.tags = tagged("production");
                    s.multi_az = Some(true)
                }),
                "compliant",
                "n/a",
            ),
            (
                "staging single-AZ",
                instance(|s| {
                    s.tags = tagged("staging");
                    s.multi_az = Some(false)
                }),
                "n/a",
                "n/a",
            ),
            ("untagged", instance(|s| s.multi_az = Some(false)), "n/a", "n/a"),
            ("production unknown", instance(|s| s.tags = tagged("production")), "unknown", "n/a"),
            (
                "production cluster single-AZ",
                cluster(|s| {
                    s.tags = tagged("production");
                    s.multi_az = Some(false)
                }),
                "n/a",
                "violation",
            ),
        ];
        for (name, db, rds5, rds15) in cases {
            assert_eq!(kind_of(&multi_az_for_production(&db, Instance, &production)), rds5, "{name} RDS.5");
            assert_eq!(kind_of(&multi_az_for_production(&db, Cluster, &production)), rds15, "{name} RDS.15");
        }
        let any_value = ProductionTag { key: "prod".into(), value: None };
        let db = instance(|s| {
            s.tags = vec![("prod".into(), String::new())];
            s.multi_az = Some(false)
        });
        assert_eq!(kind_of(&multi_az_for_production(&db, Instance, &any_value)), "violation");
    }

    #[test]
    fn rds13_and_rds35_minor_version_upgrade() {
        let cases = [
            ("off", instance(|s| s.auto_minor_version_upgrade = Some(false)), "violation", "n/a"),
            ("on", instance(|s| s.auto_minor_version_upgrade = Some(true)), "compliant", "n/a"),
            ("unknown", instance(|_| {}), "unknown", "n/a"),
            ("aurora member off", member(|s| s.auto_minor_version_upgrade = Some(false)), "violation", "n/a"),
            (
                "multi-az cluster member",
                instance(|s| {
                    s.cluster_identifier = Some("c".into());
                    s.auto_minor_version_upgrade = Some(false)
                }),
                "n/a",
                "n/a",
            ),
            (
                "aurora cluster off (RDS.35 is Multi-AZ only)",
                cluster(|s| s.auto_minor_version_upgrade = Some(false)),
                "n/a",
                "n/a",
            ),
            (
                "multi-az cluster off",
                cluster(|s| {
                    s.engine = Some("postgres".into());
                    s.auto_minor_version_upgrade = Some(false)
                }),
                "n/a",
                "violation",
            ),
            (
                "multi-az cluster on",
                cluster(|s| {
                    s.engine = Some("mysql".into());
                    s.auto_minor_version_upgrade = Some(true)
                }),
                "n/a",
                "compliant",
            ),
            ("multi-az cluster not reporting it", cluster(|s| s.engine = Some("postgres".into())), "n/a", "unknown"),
        ];
        for (name, db, rds13, rds35) in cases {
            assert_eq!(kind_of(&auto_minor_version_upgrade(&db, Instance)), rds13, "{name} RDS.13");
            assert_eq!(kind_of(&auto_minor_version_upgrade(&db, Cluster)), rds35, "{name} RDS.35");
        }
    }

    #[test]
    fn replica_of_unencrypted() {
        let replica = |encrypted: Option<bool>| {
            instance(|s| {
                s.read_replica_source = Some("primary".into());
                s.storage_encrypted = encrypted
            })
        };
        let cases = [
            ("unencrypted replica", replica(Some(false)), "violation"),
            ("encrypted replica", replica(Some(true)), "compliant"),
            ("unknown", replica(None), "unknown"),
            ("not a replica", instance(|s| s.storage_encrypted = Some(false)), "n/a"),
        ];
        for (name, db, expected) in cases {
            assert_eq!(kind_of(&replica_of_unencrypted_source(&db)), expected, "{name}");
        }
    }
}
