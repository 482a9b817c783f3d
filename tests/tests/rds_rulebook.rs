//! rds-guard's full rulebook end to end: the real handler and SDK against moto server. One test per
//! remediation (deletion protection, backup retention, snapshot made private, TLS parameter set
//! back) and alert-only rules checked field by field.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rds_guard::handle_event;
use rdsguard_tests::estate::{NewInstance, ReceivedAlert, HOME_REGION};
use rdsguard_tests::events::{create_db_instance, rds_api_call};
use rdsguard_tests::{Estate, MOTO_ACCOUNT};
use serde_json::json;

const STRANGER: &str = "503161813013";
/// The profile that fixes every rule with a fix (the default, `safe`, alerts most of them).
const STRICT: (&str, &str) = ("REMEDIATION_PROFILE", "strict");
const PARTNER: &str = "210987654321";

fn by_rule<'a>(alerts: &'a [ReceivedAlert], rule: &str) -> &'a ReceivedAlert {
    alerts.iter().find(|a| a.rule() == rule).unwrap_or_else(|| panic!("no {rule} alert in {alerts:#?}"))
}

async fn restore_attribute(rds: &aws_sdk_rds::Client, snapshot: &str) -> Vec<String> {
    let out = rds.describe_db_snapshot_attributes().db_snapshot_identifier(snapshot).send().await.unwrap();
    out.db_snapshot_attributes_result()
        .unwrap()
        .db_snapshot_attributes()
        .iter()
        .filter(|a| a.attribute_name() == Some("restore"))
        .flat_map(|a| a.attribute_values().to_vec())
        .collect()
}

#[tokio::test]
async fn the_seeds_instance_gets_deletion_protection_and_backups_and_alerts_for_the_rest() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance::seed("cruddur-db-instance")).await;
    let guard = estate.rds_guard(&[STRICT]).await;

    let event = create_db_instance(MOTO_ACCOUNT, HOME_REGION, "cruddur-db-instance", false, true);
    let summary = handle_event(&event, &guard).await.expect("handled");

    let after = estate.instance(&rds, "cruddur-db-instance").await.unwrap();
    assert_eq!(after.deletion_protection, Some(true), "RDS.8 must switch deletion protection back on");
    assert_eq!(after.backup_retention_period, Some(7), "RDS.11 must raise retention to MIN_BACKUP_RETENTION_DAYS");

    let alerts = estate.alerts().await;
    let mut rules: Vec<&str> = alerts.iter().map(ReceivedAlert::rule).collect();
    rules.sort_unstable();
    assert_eq!(rules, ["RDS.10", "RDS.11", "RDS.25", "RDS.8", "RDS.9", "RDSGUARD.MASTER_SECRET"], "{summary:#?}");

    let protection = by_rule(&alerts, "RDS.8");
    assert_eq!(protection.body["severity"], "LOW");
    assert_eq!(protection.body["observed"]["DeletionProtection"], false);
    assert_eq!(protection.body["action"]["kind"], "enable_deletion_protection");
    assert_eq!(protection.action_status(), "succeeded");

    let backups = by_rule(&alerts, "RDS.11");
    assert_eq!(backups.body["observed"]["BackupRetentionPeriod"], 0);
    assert_eq!(backups.body["observed"]["AutomatedBackups"], "off");
    assert_eq!(backups.body["action"]["kind"], "set_backup_retention");
    assert_eq!(backups.action_status(), "succeeded");
    assert!(backups.body["action"]["detail"].as_str().unwrap().contains("7 days"), "{:#?}", backups.body);

    // Alert-only rules: the right fields, nothing attempted.
    let admin = by_rule(&alerts, "RDS.25");
    assert_eq!(admin.body["severity"], "MEDIUM");
    assert_eq!(admin.body["resource_type"], "AWS::RDS::DBInstance");
    assert_eq!(admin.body["resource_id"], "cruddur-db-instance");
    assert_eq!(admin.body["observed"]["MasterUsername"], "root");
    assert_eq!(admin.body["action"]["kind"], "alert_only");
    assert_eq!(admin.action_status(), "not_attempted");
    assert_eq!(admin.attributes.get("rule").map(String::as_str), Some("RDS.25"));

    let secret = by_rule(&alerts, "RDSGUARD.MASTER_SECRET");
    assert_eq!(secret.body["observed"]["MasterUsername"], "root");
    assert_eq!(secret.action_status(), "not_attempted");
    assert!(secret.subject.starts_with("MEDIUM RDSGUARD.MASTER_SECRET cruddur-db-instance"), "{}", secret.subject);

    let logs = by_rule(&alerts, "RDS.9");
    assert_eq!(logs.body["observed"]["EnabledCloudwatchLogsExports"], json!([]));
    let iam = by_rule(&alerts, "RDS.10");
    assert_eq!(iam.body["observed"]["IAMDatabaseAuthenticationEnabled"], false);

    // Idempotent: the same event again changes nothing and finds nothing left to fix.
    let again = handle_event(&event, &guard).await.expect("handled");
    let fixed: Vec<&str> =
        again.findings.iter().map(|f| f.rule.as_str()).filter(|r| *r == "RDS.8" || *r == "RDS.11").collect();
    assert!(fixed.is_empty(), "{again:#?}");
}

/// The default profile (`safe`) changes nothing a working client or deployment depends on: the
/// seed's instance without deletion protection or backups is alerted, not changed.
#[tokio::test]
async fn the_default_profile_alerts_rds8_and_rds11_without_changing_the_database() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance::seed("cruddur-db-instance")).await;
    let guard = estate.rds_guard(&[]).await;

    let event = create_db_instance(MOTO_ACCOUNT, HOME_REGION, "cruddur-db-instance", false, true);
    handle_event(&event, &guard).await.expect("handled");

    let after = estate.instance(&rds, "cruddur-db-instance").await.unwrap();
    assert_eq!(after.deletion_protection, Some(false), "the safe profile must not switch deletion protection on");
    assert_eq!(after.backup_retention_period, Some(0), "the safe profile must not change backup retention");
    let alerts = estate.alerts().await;
    for rule in ["RDS.8", "RDS.11"] {
        let alert = by_rule(&alerts, rule);
        assert_eq!(alert.body["action"]["kind"], "alert_only", "{rule}");
        assert_eq!(alert.action_status(), "not_attempted", "{rule}");
        assert!(alert.body["action"]["detail"].as_str().unwrap().contains("policy for"), "{:#?}", alert.body);
    }
}

#[tokio::test]
async fn a_modify_that_only_touches_alert_rules_does_not_repeat_the_admin_name_alert() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance::seed("quiet-db")).await;
    let guard = estate
        .rds_guard(&[("RULE_ACTIONS", "RDS.8=off,RDS.11=off,RDS.10=off,RDS.9=off,RDSGUARD.MASTER_SECRET=off")])
        .await;

    let modify = rds_api_call(
        "ModifyDBInstance",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": "quiet-db", "allocatedStorage": 50}),
        json!({"dBInstanceIdentifier": "quiet-db"}),
    );
    let summary = handle_event(&modify, &guard).await.expect("handled");
    assert!(summary.findings.is_empty(), "RDS.25 is judged at creation only: {summary:#?}");
    assert!(estate.alerts().await.is_empty());
}

#[tokio::test]
async fn cluster_deletion_protection_and_backups_are_restored() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_aurora_cluster(&rds, "orders-cluster", true).await;
    rds.modify_db_cluster()
        .db_cluster_identifier("orders-cluster")
        .deletion_protection(false)
        .backup_retention_period(1)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let guard = estate.rds_guard(&[STRICT]).await;

    let event = rds_api_call(
        "ModifyDBCluster",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBClusterIdentifier": "orders-cluster", "deletionProtection": false, "backupRetentionPeriod": 1}),
        json!({"dBClusterIdentifier": "orders-cluster"}),
    );
    handle_event(&event, &guard).await.expect("handled");

    let after = estate.cluster(&rds, "orders-cluster").await.unwrap();
    assert_eq!(after.deletion_protection, Some(true));
    assert_eq!(after.backup_retention_period, Some(7));
    let alerts = estate.alerts().await;
    let mut rules: Vec<&str> = alerts.iter().map(ReceivedAlert::rule).collect();
    rules.sort_unstable();
    assert_eq!(rules, ["RDS.50", "RDS.7"]);
    assert!(alerts
        .iter()
        .all(|a| a.action_status() == "succeeded" && a.body["resource_type"] == "AWS::RDS::DBCluster"));
}

#[tokio::test]
async fn a_multi_az_db_cluster_gets_minor_version_upgrades_back_on_the_cluster_rds35() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    rds.create_db_cluster()
        .db_cluster_identifier("ledger-maz")
        .engine("postgres")
        .db_cluster_instance_class("db.m6gd.large")
        .allocated_storage(100)
        .storage_type("io1")
        .iops(1000)
        .master_username("ledger_owner")
        .manage_master_user_password(true)
        .backup_retention_period(7)
        .deletion_protection(true)
        .enable_cloudwatch_logs_exports("postgresql")
        .storage_encrypted(true)
        .auto_minor_version_upgrade(false)
        .send()
        .await
        .expect("create Multi-AZ DB cluster");
    let guard = estate.rds_guard(&[STRICT]).await;

    let event = rds_api_call(
        "ModifyDBCluster",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBClusterIdentifier": "ledger-maz", "autoMinorVersionUpgrade": false, "applyImmediately": true}),
        json!({"dBClusterIdentifier": "ledger-maz"}),
    );
    handle_event(&event, &guard).await.expect("handled");

    let after = estate.cluster(&rds, "ledger-maz").await.unwrap();
    assert_eq!(after.auto_minor_version_upgrade, Some(true), "ModifyDBCluster set it back on the cluster");
    // moto refuses IAM authentication on Multi-AZ DB clusters (RDS has since added it), so RDS.12
    // reports the cluster too: alert-only, nothing changed.
    let alerts = estate.alerts().await;
    let mut rules: Vec<&str> = alerts.iter().map(ReceivedAlert::rule).collect();
    rules.sort_unstable();
    assert_eq!(rules, ["RDS.12", "RDS.35"]);
    assert_eq!(by_rule(&alerts, "RDS.12").action_status(), "not_attempted");
    let alert = by_rule(&alerts, "RDS.35");
    assert_eq!(alert.action_status(), "succeeded");
    assert_eq!(alert.body["resource_type"], "AWS::RDS::DBCluster");
    assert_eq!(alert.body["resource_id"], "ledger-maz");
}

#[tokio::test]
async fn public_snapshot_is_made_private_and_a_stranger_share_is_alerted_then_removed_on_remediate() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance::postgres("orders-db")).await;
    rds.create_db_snapshot()
        .db_instance_identifier("orders-db")
        .db_snapshot_identifier("exfiltration")
        .send()
        .await
        .unwrap();
    rds.modify_db_snapshot_attribute()
        .db_snapshot_identifier("exfiltration")
        .attribute_name("restore")
        .values_to_add("all")
        .values_to_add(STRANGER)
        .values_to_add(PARTNER)
        .send()
        .await
        .unwrap();
    let share = rds_api_call(
        "ModifyDBSnapshotAttribute",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBSnapshotIdentifier": "exfiltration", "attributeName": "restore", "valuesToAdd": ["all", STRANGER, PARTNER]}),
        json!({"dBSnapshotIdentifier": "exfiltration"}),
    );

    let guard = estate.rds_guard(&[("TRUSTED_ACCOUNTS", PARTNER)]).await;
    handle_event(&share, &guard).await.expect("handled");

    let mut restore = restore_attribute(&rds, "exfiltration").await;
    restore.sort_unstable();
    assert_eq!(restore, [PARTNER, STRANGER], "only `all` is removed by RDS.1");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    let public = by_rule(&alerts, "RDS.1");
    assert_eq!(public.body["severity"], "CRITICAL");
    assert_eq!(public.body["resource_type"], "AWS::RDS::DBSnapshot");
    assert_eq!(public.body["resource"], "arn:aws:rds:us-east-1:123456789012:snapshot:exfiltration");
    assert_eq!(public.body["action"]["kind"], "make_snapshot_private");
    assert_eq!(public.action_status(), "succeeded");
    let shared = by_rule(&alerts, "RDSGUARD.SNAPSHOT_SHARED");
    assert_eq!(shared.body["observed"]["UntrustedAccounts"], json!([STRANGER]));
    assert_eq!(shared.action_status(), "not_attempted");

    // With the policy set to remediate, the stranger is removed and the partner stays.
    let strict = estate
        .rds_guard(&[("TRUSTED_ACCOUNTS", PARTNER), ("RULE_ACTIONS", "RDSGUARD.SNAPSHOT_SHARED=remediate")])
        .await;
    handle_event(&share, &strict).await.expect("handled");
    assert_eq!(restore_attribute(&rds, "exfiltration").await, [PARTNER]);
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "RDS.1 has nothing left to find: {alerts:#?}");
    assert_eq!(alerts[0].rule(), "RDSGUARD.SNAPSHOT_SHARED");
    assert_eq!(alerts[0].body["action"]["kind"], "unshare_snapshot");
    assert_eq!(alerts[0].action_status(), "succeeded");
}

#[tokio::test]
async fn unencrypted_snapshot_is_alerted_with_its_source() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { encrypted: false, ..NewInstance::postgres("plain-db") }).await;
    rds.create_db_snapshot().db_instance_identifier("plain-db").db_snapshot_identifier("nightly").send().await.unwrap();
    let guard = estate.rds_guard(&[]).await;

    let created = rds_api_call(
        "CreateDBSnapshot",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": "plain-db", "dBSnapshotIdentifier": "nightly"}),
        json!({"dBSnapshotIdentifier": "nightly", "encrypted": false}),
    );
    handle_event(&created, &guard).await.expect("handled");

    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert.rule(), "RDS.4");
    assert_eq!(alert.body["severity"], "MEDIUM");
    assert_eq!(alert.body["resource_id"], "nightly");
    assert_eq!(alert.body["observed"]["Encrypted"], false);
    assert_eq!(alert.body["observed"]["SourceDatabase"], "plain-db");
    assert_eq!(alert.action_status(), "not_attempted");
}

#[tokio::test]
async fn a_database_deleted_without_final_snapshot_raises_a_critical_alert() {
    let estate = Estate::start().await;
    let guard = estate.rds_guard(&[]).await;
    let deleted = rds_api_call(
        "DeleteDBInstance",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": "ledger-db", "skipFinalSnapshot": true, "deleteAutomatedBackups": true}),
        json!({"dBInstanceIdentifier": "ledger-db", "dBInstanceArn": "arn:aws:rds:us-east-1:123456789012:db:ledger-db",
               "engine": "postgres", "backupRetentionPeriod": 7, "dBInstanceStatus": "deleting"}),
    );
    handle_event(&deleted, &guard).await.expect("handled");

    let with_snapshot = rds_api_call(
        "DeleteDBInstance",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": "careful-db", "skipFinalSnapshot": false, "finalDBSnapshotIdentifier": "careful-final"}),
        json!({"dBInstanceIdentifier": "careful-db"}),
    );
    handle_event(&with_snapshot, &guard).await.expect("handled");

    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert.rule(), "RDSGUARD.DELETE_NO_SNAPSHOT");
    assert_eq!(alert.body["severity"], "CRITICAL");
    assert_eq!(alert.body["resource"], "arn:aws:rds:us-east-1:123456789012:db:ledger-db");
    assert_eq!(alert.body["observed"]["DeleteAutomatedBackups"], true);
    assert_eq!(alert.body["actor"], "arn:aws:iam::123456789012:user/andrew");
    assert_eq!(alert.action_status(), "not_attempted");
}

#[tokio::test]
async fn tls_parameter_is_set_back_when_someone_turns_it_off() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_postgres_parameter_group(&rds, "orders-pg", "1").await;
    estate.create_instance(&rds, &NewInstance::postgres("orders-db")).await;
    rds.modify_db_instance()
        .db_instance_identifier("orders-db")
        .db_parameter_group_name("orders-pg")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let guard = estate.rds_guard(&[STRICT]).await;

    // Someone turns TLS enforcement off in the group the database uses.
    estate.set_force_ssl(&rds, "orders-pg", "0").await;
    let event = rds_api_call(
        "ModifyDBParameterGroup",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBParameterGroupName": "orders-pg",
               "parameters": [{"parameterName": "rds.force_ssl", "parameterValue": "0", "applyMethod": "immediate"}]}),
        json!({"dBParameterGroupName": "orders-pg"}),
    );
    handle_event(&event, &guard).await.expect("handled");

    let params = rds.describe_db_parameters().db_parameter_group_name("orders-pg").send().await.unwrap();
    let force_ssl = params.parameters().iter().find(|p| p.parameter_name() == Some("rds.force_ssl")).unwrap();
    assert_eq!(force_ssl.parameter_value(), Some("1"), "rds.force_ssl must be enforced again");

    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert.rule(), "RDS.38");
    assert_eq!(alert.body["resource_type"], "AWS::RDS::DBParameterGroup");
    assert_eq!(alert.body["resource"], "arn:aws:rds:us-east-1:123456789012:pg:orders-pg");
    assert_eq!(alert.body["observed"]["Value"], "0");
    assert_eq!(alert.body["observed"]["Databases"], json!(["orders-db"]));
    assert_eq!(alert.body["action"]["kind"], "enforce_tls");
    assert_eq!(alert.action_status(), "succeeded");

    // Set back: the same event again finds nothing.
    let again = handle_event(&event, &guard).await.expect("handled");
    assert!(again.findings.is_empty(), "{again:#?}");
}

#[tokio::test]
async fn read_replica_of_an_unencrypted_source_is_alerted() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { encrypted: false, ..NewInstance::postgres("legacy-db") }).await;
    rds.create_db_instance_read_replica()
        .db_instance_identifier("legacy-replica")
        .source_db_instance_identifier("legacy-db")
        .deletion_protection(true)
        .send()
        .await
        .unwrap();
    let guard = estate.rds_guard(&[("RULE_ACTIONS", "RDS.3=off,RDS.13=off,RDS.10=off,RDS.9=off")]).await;

    let event = rds_api_call(
        "CreateDBInstanceReadReplica",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": "legacy-replica", "sourceDBInstanceIdentifier": "legacy-db"}),
        json!({"dBInstanceIdentifier": "legacy-replica"}),
    );
    let summary = handle_event(&event, &guard).await.expect("handled");
    let alerts = estate.alerts().await;
    let replica = by_rule(&alerts, "RDSGUARD.REPLICA_UNENCRYPTED");
    assert_eq!(replica.body["observed"]["ReadReplicaSourceDBInstanceIdentifier"], "legacy-db");
    assert_eq!(replica.body["resource_id"], "legacy-replica");
    assert_eq!(replica.action_status(), "not_attempted");
    assert!(summary.findings.iter().all(|f| f.rule != "RDS.11"), "replicas are not judged for backups: {summary:#?}");
}
