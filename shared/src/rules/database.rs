//! Rules over RDS DB instances and DB clusters.

use serde_json::json;

use super::engines::{not_applicable_to, EngineClass};
use super::hardening::{
    auto_minor_version_upgrade, automated_backups, custom_admin_username, deletion_protection, iam_authentication,
    log_exports, master_password_managed, multi_az_for_production, replica_of_unencrypted_source,
};
use super::{RuleId, Verdict};
use crate::database::{Database, DatabaseKind};
use crate::identity::AwsRegion;
use crate::policy::{AllowedRegions, Policy};

/// RDS.2: a standalone or Aurora instance, or a Multi-AZ DB cluster, must not be publicly
/// accessible. A Multi-AZ DB cluster member is judged on its cluster; an Aurora cluster has no
/// cluster-level setting.
pub fn instance_publicly_accessible(db: &Database) -> Verdict {
    let state = &db.state;
    let applies = match db.kind {
        DatabaseKind::Instance => !db.is_cluster_member() || state.is_aurora(),
        DatabaseKind::Cluster => db.is_multi_az_db_cluster(),
    };
    if !applies {
        return Verdict::NotApplicable("public access is judged on the Multi-AZ DB cluster or per Aurora instance");
    }
    match state.publicly_accessible {
        Some(false) => Verdict::Compliant,
        Some(true) => Verdict::Violation(json!({
            "PubliclyAccessible": true,
            "Status": state.status,
            "Engine": state.engine,
        })),
        None => Verdict::Unknown("DescribeDB* did not report PubliclyAccessible"),
    }
}

/// RDS.3: a DB instance that keeps its own storage must be encrypted. Cluster members are judged
/// on the cluster (RDS.27).
pub fn instance_storage_encrypted(db: &Database) -> Verdict {
    if db.kind != DatabaseKind::Instance {
        return Verdict::NotApplicable("RDS.3 applies to DB instances");
    }
    if db.is_cluster_member() {
        return Verdict::NotApplicable("cluster members are judged on the cluster (RDS.27)");
    }
    encryption_verdict(db)
}

/// RDS.27: a DB cluster must be encrypted.
pub fn cluster_storage_encrypted(db: &Database) -> Verdict {
    if db.kind != DatabaseKind::Cluster {
        return Verdict::NotApplicable("RDS.27 applies to DB clusters");
    }
    encryption_verdict(db)
}

fn encryption_verdict(db: &Database) -> Verdict {
    match db.state.storage_encrypted {
        Some(true) => Verdict::Compliant,
        Some(false) => Verdict::Violation(json!({
            "StorageEncrypted": false,
            "Engine": db.state.engine,
            "Status": db.state.status,
        })),
        None => Verdict::Unknown("DescribeDB* did not report StorageEncrypted"),
    }
}

/// RDSGUARD.REGION: a database may only exist in an allowed region. Cluster members are judged
/// on the cluster. With no allow-list configured the rule is off.
pub fn region_allowed(db: &Database, region: &AwsRegion, allowed: &AllowedRegions) -> Verdict {
    if db.is_cluster_member() {
        return Verdict::NotApplicable("cluster members are judged on the cluster");
    }
    match allowed {
        AllowedRegions::Unrestricted => Verdict::NotApplicable("ALLOWED_REGIONS is not set"),
        AllowedRegions::Only(list) if list.contains(region) => Verdict::Compliant,
        AllowedRegions::Only(list) => Verdict::Violation(json!({
            "Region": region,
            "AllowedRegions": list,
        })),
    }
}

/// Every rule over one database's own state ([`RuleId::DATABASE`], in that order), with the
/// settings `policy` gives them.
/// A rule that does not apply to the database's engine ([`not_applicable_to`]) is `NotApplicable`
/// whatever the state says.
pub fn evaluate_database(db: &Database, region: &AwsRegion, policy: &Policy) -> Vec<(RuleId, Verdict)> {
    let engine = EngineClass::of(db.state.engine.as_deref());
    judge_each(db, region, policy)
        .into_iter()
        .map(|(rule, verdict)| match not_applicable_to(rule, engine) {
            Some(reason) => (rule, Verdict::NotApplicable(reason)),
            None => (rule, verdict),
        })
        .collect()
}

fn judge_each(db: &Database, region: &AwsRegion, policy: &Policy) -> Vec<(RuleId, Verdict)> {
    use DatabaseKind::{Cluster, Instance};
    let min_days = policy.min_backup_retention_days;
    vec![
        (RuleId::Rds2PublicAccess, instance_publicly_accessible(db)),
        (RuleId::Rds3InstanceEncryption, instance_storage_encrypted(db)),
        (RuleId::Rds27ClusterEncryption, cluster_storage_encrypted(db)),
        (RuleId::RegionNotAllowed, region_allowed(db, region, &policy.allowed_regions)),
        (RuleId::Rds8InstanceDeletionProtection, deletion_protection(db, Instance)),
        (RuleId::Rds7ClusterDeletionProtection, deletion_protection(db, Cluster)),
        (RuleId::Rds11InstanceBackups, automated_backups(db, Instance, min_days)),
        (RuleId::Rds50ClusterBackups, automated_backups(db, Cluster, min_days)),
        (RuleId::Rds10InstanceIamAuth, iam_authentication(db, Instance)),
        (RuleId::Rds12ClusterIamAuth, iam_authentication(db, Cluster)),
        (RuleId::MasterPasswordUnmanaged, master_password_managed(db)),
        (RuleId::Rds25InstanceDefaultAdmin, custom_admin_username(db, Instance)),
        (RuleId::Rds24ClusterDefaultAdmin, custom_admin_username(db, Cluster)),
        (RuleId::Rds9LogExports, log_exports(db)),
        (RuleId::Rds5InstanceMultiAz, multi_az_for_production(db, Instance, &policy.production_tag)),
        (RuleId::Rds15ClusterMultiAz, multi_az_for_production(db, Cluster, &policy.production_tag)),
        (RuleId::Rds13MinorVersionUpgrade, auto_minor_version_upgrade(db, Instance)),
        (RuleId::Rds35ClusterMinorVersionUpgrade, auto_minor_version_upgrade(db, Cluster)),
        (RuleId::ReplicaOfUnencrypted, replica_of_unencrypted_source(db)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::DatabaseState;

    fn state(engine: &str, public: Option<bool>, encrypted: Option<bool>, cluster: Option<&str>) -> DatabaseState {
        DatabaseState {
            identifier: "db".into(),
            engine: Some(engine.into()),
            status: Some("available".into()),
            publicly_accessible: public,
            storage_encrypted: encrypted,
            cluster_identifier: cluster.map(str::to_owned),
            ..DatabaseState::default()
        }
    }

    fn kind_of(verdict: &Verdict) -> &'static str {
        match verdict {
            Verdict::Compliant => "compliant",
            Verdict::NotApplicable(_) => "n/a",
            Verdict::Unknown(_) => "unknown",
            Verdict::Violation(_) => "violation",
        }
    }

    #[test]
    fn rds2_public_access() {
        let cases = [
            ("standalone public", Database::instance(state("postgres", Some(true), Some(true), None)), "violation"),
            ("standalone private", Database::instance(state("postgres", Some(false), Some(true), None)), "compliant"),
            ("standalone unknown", Database::instance(state("mysql", None, Some(true), None)), "unknown"),
            (
                "aurora member public",
                Database::instance(state("aurora-mysql", Some(true), None, Some("c"))),
                "violation",
            ),
            (
                "aurora member private",
                Database::instance(state("aurora-postgresql", Some(false), None, Some("c"))),
                "compliant",
            ),
            ("multi-az member", Database::instance(state("postgres", Some(true), Some(true), Some("c"))), "n/a"),
            (
                "multi-az cluster public",
                Database::cluster(state("postgres", Some(true), Some(true), None)),
                "violation",
            ),
            ("multi-az cluster private", Database::cluster(state("mysql", Some(false), Some(true), None)), "compliant"),
            ("aurora cluster", Database::cluster(state("aurora-mysql", None, Some(true), None)), "n/a"),
        ];
        for (name, db, expected) in cases {
            assert_eq!(kind_of(&instance_publicly_accessible(&db)), expected, "{name}");
        }
    }

    #[test]
    fn rds2_evidence_names_the_setting() {
        let db = Database::instance(state("postgres", Some(true), Some(true), None));
        let Verdict::Violation(evidence) = instance_publicly_accessible(&db) else { panic!("expected violation") };
        assert_eq!(evidence["PubliclyAccessible"], true);
        assert_eq!(evidence["Engine"], "postgres");
    }

    #[test]
    fn rds3_and_rds27_storage_encryption() {
        let cases = [
            (
                "instance unencrypted",
                Database::instance(state("postgres", Some(false), Some(false), None)),
                "violation",
                "n/a",
            ),
            (
                "instance encrypted",
                Database::instance(state("postgres", Some(false), Some(true), None)),
                "compliant",
                "n/a",
            ),
            ("instance unknown", Database::instance(state("postgres", Some(false), None, None)), "unknown", "n/a"),
            (
                "aurora member",
                Database::instance(state("aurora-mysql", Some(false), Some(false), Some("c"))),
                "n/a",
                "n/a",
            ),
            (
                "cluster unencrypted",
                Database::cluster(state("aurora-mysql", None, Some(false), None)),
                "n/a",
                "violation",
            ),
            (
                "cluster encrypted",
                Database::cluster(state("aurora-postgresql", None, Some(true), None)),
                "n/a",
                "compliant",
            ),
            ("cluster unknown", Database::cluster(state("postgres", None, None, None)), "n/a", "unknown"),
        ];
        for (name, db, rds3, rds27) in cases {
            assert_eq!(kind_of(&instance_storage_encrypted(&db)), rds3, "{name} RDS.3");
            assert_eq!(kind_of(&cluster_storage_encrypted(&db)), rds27, "{name} RDS.27");
        }
    }

    #[test]
    fn region_rule() {
        let region = |r: &str| AwsRegion::parse(r).unwrap();
        let allowed = AllowedRegions::Only(vec![region("us-east-1"), region("eu-west-1")]);
        let standalone = Database::instance(state("postgres", Some(false), Some(true), None));
        let member = Database::instance(state("aurora-mysql", Some(false), None, Some("c")));
        let cluster = Database::cluster(state("aurora-mysql", None, Some(true), None));
        let cases = [
            ("allowed", &standalone, "us-east-1", &allowed, "compliant"),
            ("not allowed", &standalone, "sa-east-1", &allowed, "violation"),
            ("cluster not allowed", &cluster, "ap-south-1", &allowed, "violation"),
            ("member is judged on cluster", &member, "ap-south-1", &allowed, "n/a"),
            ("rule off", &standalone, "sa-east-1", &AllowedRegions::Unrestricted, "n/a"),
        ];
        for (name, db, r, list, expected) in cases {
            assert_eq!(kind_of(&region_allowed(db, &region(r), list)), expected, "{name}");
        }
    }

    fn us_east_1_only() -> Policy {
        Policy::from_vars([
            ("ALERT_TOPIC_ARN".to_owned(), "arn:aws:sns:us-east-1:123456789012:t".to_owned()),
            ("ALLOWED_REGIONS".to_owned(), "us-east-1".to_owned()),
        ])
        .unwrap()
    }

    #[test]
    fn documentdb_and_neptune_are_left_alone() {
        let region = AwsRegion::parse("sa-east-1").unwrap();
        for engine in ["docdb", "neptune"] {
            let db = Database::cluster(state(engine, Some(true), Some(false), None));
            let verdicts = evaluate_database(&db, &region, &us_east_1_only());
            assert!(verdicts.iter().all(|(_, v)| kind_of(v) == "n/a"), "{engine}");
        }
    }

    #[test]
    fn evaluate_covers_every_rule_once() {
        let db = Database::instance(state("postgres", Some(true), Some(false), None));
        let region = AwsRegion::parse("sa-east-1").unwrap();
        let verdicts = evaluate_database(&db, &region, &us_east_1_only());
        let rules: Vec<_> = verdicts.iter().map(|(r, _)| *r).collect();
        assert_eq!(rules, RuleId::DATABASE.to_vec());
        let violations: Vec<_> =
            verdicts.iter().filter(|(_, v)| matches!(v, Verdict::Violation(_))).map(|(r, _)| r.as_str()).collect();
        assert_eq!(violations, ["RDS.2", "RDS.3", "RDSGUARD.REGION"]);
    }

    #[test]
    fn the_seeds_instance_breaks_the_hardening_rules() {
        // The seeds' example: backups off, no deletion protection, master user root.
        let mut seed = state("mysql", Some(false), Some(true), None);
        seed.backup_retention_days = Some(0);
        seed.deletion_protection = Some(false);
        seed.master_username = Some("root".into());
        seed.master_password_managed = Some(false);
        seed.iam_database_authentication = Some(false);
        seed.log_exports = Some(vec![]);
        seed.auto_minor_version_upgrade = Some(true);
        seed.multi_az = Some(false);
        let region = AwsRegion::parse("us-east-1").unwrap();
        let violations: Vec<_> = evaluate_database(&Database::instance(seed), &region, &us_east_1_only())
            .into_iter()
            .filter(|(_, v)| matches!(v, Verdict::Violation(_)))
            .map(|(r, _)| r.as_str())
            .collect();
        assert_eq!(violations, ["RDS.8", "RDS.11", "RDS.10", "RDSGUARD.MASTER_SECRET", "RDS.25", "RDS.9"]);
    }
}
