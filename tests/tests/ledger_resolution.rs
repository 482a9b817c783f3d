//! Findings resolved by someone other than rdsguard, for every kind of resource a function judges:
//! a snapshot un-shared, a parameter group set back, a security group rule revoked or its group
//! deleted, a database deleted (the sweep). Each is one INFORMATIONAL `resolved` alert, then
//! silence. The real handlers, the ledger on moto's DynamoDB, SNS → SQS.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rds_guard::handle_event;
use rdsguard::kernel::InvocationOutcome;
use rdsguard::ledger::{FindingStatus, ResolvedBy};
use rdsguard_tests::estate::{NewInstance, ReceivedAlert, HOME_REGION};
use rdsguard_tests::events::{api_call, authorize_ingress, rds_api_call, rds_event};
use rdsguard_tests::{Estate, MOTO_ACCOUNT};
use serde_json::{json, Value};

use crate::ledger::{create_table, guard, item, items, network_guard, rules, TABLE};

const STRANGER: &str = "503161813013";

fn with_id(mut event: Value, id: &str) -> Value {
    event["detail"]["eventID"] = json!(id);
    event
}

/// The one alert of `alerts`, checked to be a resolution by someone else of `rule`.
fn assert_resolved_by_other<'a>(alerts: &'a [ReceivedAlert], rule: &str) -> &'a ReceivedAlert {
    assert_eq!(rules(alerts), [rule], "only the resolution is news: {alerts:#?}");
    let resolved = &alerts[0];
    assert_eq!(resolved.body["severity"], "INFORMATIONAL");
    assert_eq!(resolved.body["transition"], "resolved");
    assert_eq!(
        (resolved.body["finding_status"].as_str(), resolved.body["resolved_by"].as_str()),
        (Some("resolved"), Some("other")),
        "{:#}",
        resolved.body
    );
    assert!(resolved.subject.ends_with("- resolved"), "{}", resolved.subject);
    resolved
}

#[tokio::test]
async fn a_snapshot_unshared_by_someone_is_one_resolved_alert() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance::postgres("orders-db")).await;
    rds.create_db_snapshot()
        .db_instance_identifier("orders-db")
        .db_snapshot_identifier("handover")
        .send()
        .await
        .unwrap();
    let share = |values: &[&str], add: bool| {
        let key = if add { "valuesToAdd" } else { "valuesToRemove" };
        rds_api_call(
            "ModifyDBSnapshotAttribute",
            MOTO_ACCOUNT,
            HOME_REGION,
            json!({"dBSnapshotIdentifier": "handover", "attributeName": "restore", key: values}),
            json!({"dBSnapshotIdentifier": "handover"}),
        )
    };
    rds.modify_db_snapshot_attribute()
        .db_snapshot_identifier("handover")
        .attribute_name("restore")
        .values_to_add(STRANGER)
        .send()
        .await
        .unwrap();
    // Shared with a stranger: alerted only (the default), so it stays open.
    let guard = guard(&estate, &[("FINDINGS_TABLE", TABLE)], estate.moto.sdk_config(HOME_REGION).await).await;
    handle_event(&with_id(share(&[STRANGER], true), "share-1"), &guard).await.expect("shared");
    let alerts = estate.alerts().await;
    assert_eq!(rules(&alerts), ["RDSGUARD.SNAPSHOT_SHARED"], "{alerts:#?}");
    assert_eq!(alerts[0].action_status(), "not_attempted");

    // The owner takes the share back.
    rds.modify_db_snapshot_attribute()
        .db_snapshot_identifier("handover")
        .attribute_name("restore")
        .values_to_remove(STRANGER)
        .send()
        .await
        .unwrap();
    handle_event(&with_id(share(&[STRANGER], false), "unshare-1"), &guard).await.expect("unshared");
    let alerts = estate.alerts().await;
    let resolved = assert_resolved_by_other(&alerts, "RDSGUARD.SNAPSHOT_SHARED");
    assert_eq!(resolved.body["resource_type"], "AWS::RDS::DBSnapshot");
    assert_eq!(resolved.body["observed"]["evidence_while_open"]["UntrustedAccounts"], json!([STRANGER]));

    handle_event(&with_id(share(&[STRANGER], false), "unshare-2"), &guard).await.expect("again");
    assert!(estate.alerts().await.is_empty(), "resolved once");
    let items = items(&estate).await;
    let shared = item(&items, "RDSGUARD.SNAPSHOT_SHARED");
    assert_eq!((shared.status, shared.resolved_by), (FindingStatus::Resolved, Some(ResolvedBy::Other)));
    assert!(!items.iter().any(|i| i.rule == "RDS.1"), "a rule never violated is not written: {items:#?}");
}

#[tokio::test]
async fn a_parameter_group_set_back_by_someone_resolves_the_group_and_the_database_finding_once_each() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_postgres_parameter_group(&rds, "orders-pg", "0").await;
    estate.create_instance(&rds, &NewInstance::postgres("orders-db")).await;
    rds.modify_db_instance()
        .db_instance_identifier("orders-db")
        .db_parameter_group_name("orders-pg")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let changed = |value: &str, id: &str| {
        with_id(
            rds_api_call(
                "ModifyDBParameterGroup",
                MOTO_ACCOUNT,
                HOME_REGION,
                json!({"dBParameterGroupName": "orders-pg",
                       "parameters": [{"parameterName": "rds.force_ssl", "parameterValue": value, "applyMethod": "immediate"}]}),
                json!({"dBParameterGroupName": "orders-pg"}),
            ),
            id,
        )
    };
    // RDS.38 is alerted only by default: the group stays as it is.
    let guard = guard(&estate, &[("FINDINGS_TABLE", TABLE)], estate.moto.sdk_config(HOME_REGION).await).await;
    handle_event(&changed("0", "pg-1"), &guard).await.expect("off");
    let alerts = estate.alerts().await;
    assert_eq!(rules(&alerts), ["RDS.38"], "{alerts:#?}");
    assert_eq!(alerts[0].body["resource_type"], "AWS::RDS::DBParameterGroup");
    // The database path judges the same setting as a finding on the database.
    let moved = |id: &str| {
        with_id(
            rds_api_call(
                "ModifyDBInstance",
                MOTO_ACCOUNT,
                HOME_REGION,
                json!({"dBInstanceIdentifier": "orders-db", "dBParameterGroupName": "orders-pg"}),
                json!({"dBInstanceIdentifier": "orders-db"}),
            ),
            id,
        )
    };
    handle_event(&moved("db-1"), &guard).await.expect("moved");
    let alerts = estate.alerts().await;
    let on_db = alerts.iter().find(|a| a.rule() == "RDS.38").unwrap_or_else(|| panic!("{alerts:#?}"));
    assert_eq!(on_db.body["resource_type"], "AWS::RDS::DBInstance");

    estate.set_force_ssl(&rds, "orders-pg", "1").await;
    handle_event(&changed("1", "pg-2"), &guard).await.expect("on");
    let alerts = estate.alerts().await;
    let resolved = assert_resolved_by_other(&alerts, "RDS.38");
    assert_eq!(resolved.body["resource"], "arn:aws:rds:us-east-1:123456789012:pg:orders-pg");
    handle_event(&moved("db-2"), &guard).await.expect("moved again");
    let alerts = estate.alerts().await;
    let resolved = assert_resolved_by_other(&alerts, "RDS.38");
    assert_eq!(resolved.body["resource"], "arn:aws:rds:us-east-1:123456789012:db:orders-db");

    handle_event(&changed("1", "pg-3"), &guard).await.expect("again");
    handle_event(&moved("db-3"), &guard).await.expect("again");
    assert!(estate.alerts().await.is_empty(), "resolved once each");
    let items = items(&estate).await;
    let tls: Vec<_> = items.iter().filter(|i| i.rule == "RDS.38").collect();
    assert_eq!(tls.len(), 2, "one finding on the group, one on the database: {tls:#?}");
    for finding in tls {
        assert_eq!((finding.status, finding.resolved_by), (FindingStatus::Resolved, Some(ResolvedBy::Other)));
    }
}

fn ec2_call(name: &str, group: &str, id: &str) -> Value {
    let request = match name {
        "DeleteSecurityGroup" => json!({"groupId": group}),
        _ => json!({"groupId": group, "ipPermissions": {"items": [{
            "ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "groups": {},
            "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}, "ipv6Ranges": {}, "prefixListIds": {}
        }]}}),
    };
    with_id(api_call("ec2", name, MOTO_ACCOUNT, HOME_REGION, request, json!({"_return": true})), id)
}

#[tokio::test]
async fn an_ingress_rule_revoked_or_a_group_deleted_by_someone_resolves_its_findings_once() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    let ec2 = estate.ec2(HOME_REGION).await;
    // No database behind the group: alerted, not revoked, so the rules stay open until someone acts.
    let group = estate.create_security_group(&ec2, "bastion", &[]).await;
    estate.authorize(&ec2, &group, "tcp", (6379, 6379), &["0.0.0.0/0"]).await;
    estate.authorize(&ec2, &group, "tcp", (5432, 5432), &["0.0.0.0/0"]).await;
    let guard = network_guard(&estate, true).await;
    let opened = with_id(authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 5432, &["0.0.0.0/0"]), "authorize-1");
    network_guard::handle_event(&opened, &guard).await.expect("opened");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 2, "one alert per open rule: {alerts:#?}");
    let postgres_rule = alerts
        .iter()
        .find(|a| a.body["observed"]["rule"]["from_port"] == 5432)
        .map(|a| a.body["observed"]["rule"]["security_group_rule_id"].clone())
        .unwrap();

    // Someone revokes the PostgreSQL rule: that finding resolves, the Redis one stays open (quiet).
    estate.revoke(&ec2, &group, (5432, 5432), &["0.0.0.0/0"]).await;
    network_guard::handle_event(&ec2_call("RevokeSecurityGroupIngress", &group, "revoke-1"), &guard)
        .await
        .expect("revoked");
    let alerts = estate.alerts().await;
    let resolved = assert_resolved_by_other(&alerts, "EC2.19");
    assert_eq!(resolved.body["resource_type"], "AWS::EC2::SecurityGroup");
    let said = resolved.body["observed"]["resolution"].as_str().unwrap_or_default();
    assert!(said.contains(postgres_rule.as_str().unwrap()) && said.contains("no longer there"), "{said}");
    assert_eq!(resolved.body["observed"]["evidence_while_open"]["rule"]["from_port"], 5432);
    network_guard::handle_event(&ec2_call("RevokeSecurityGroupIngress", &group, "revoke-2"), &guard)
        .await
        .expect("again");
    assert!(estate.alerts().await.is_empty(), "resolved once; the open rule is not news");

    // The group is deleted: its last finding resolves.
    ec2.delete_security_group().group_id(&group).send().await.unwrap();
    network_guard::handle_event(&ec2_call("DeleteSecurityGroup", &group, "delete-1"), &guard).await.expect("deleted");
    let alerts = estate.alerts().await;
    let gone = assert_resolved_by_other(&alerts, "EC2.19");
    assert_eq!(gone.body["observed"]["evidence_while_open"]["rule"]["from_port"], 6379);
    assert!(
        gone.body["observed"]["resolution"].as_str().unwrap_or_default().contains("no longer exists"),
        "{:#}",
        gone.body
    );
    network_guard::handle_event(&ec2_call("DeleteSecurityGroup", &group, "delete-2"), &guard).await.expect("again");
    assert!(estate.alerts().await.is_empty());
    let items = items(&estate).await;
    assert_eq!(items.len(), 2);
    assert!(
        items.iter().all(|i| i.status == FindingStatus::Resolved && i.resolved_by == Some(ResolvedBy::Other)),
        "{items:#?}"
    );
}

#[tokio::test]
async fn without_the_ledger_a_revoke_is_ignored_not_re_alerted() {
    let estate = Estate::start().await;
    let ec2 = estate.ec2(HOME_REGION).await;
    let group = estate.create_security_group(&ec2, "bastion", &[]).await;
    estate.authorize(&ec2, &group, "tcp", (6379, 6379), &["0.0.0.0/0"]).await;
    let guard = network_guard(&estate, false).await;
    let summary = network_guard::handle_event(&ec2_call("RevokeSecurityGroupIngress", &group, "revoke-1"), &guard)
        .await
        .expect("ignored");
    assert_eq!(summary.outcome, InvocationOutcome::Ignored, "{summary:#?}");
    assert!(summary.reason.as_deref().unwrap_or_default().contains("FINDINGS_TABLE"), "{summary:#?}");
    assert!(estate.alerts().await.is_empty(), "the open rule is not alerted again by a revoke");
}

#[tokio::test]
async fn a_deleted_database_resolves_every_finding_held_on_it_once() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance::seed("doomed-db")).await;
    let guard = guard(&estate, &[("FINDINGS_TABLE", TABLE)], estate.moto.sdk_config(HOME_REGION).await).await;
    let modified = with_id(
        rds_api_call(
            "ModifyDBInstance",
            MOTO_ACCOUNT,
            HOME_REGION,
            json!({"dBInstanceIdentifier": "doomed-db", "allocatedStorage": 50}),
            json!({"dBInstanceIdentifier": "doomed-db"}),
        ),
        "modify-1",
    );
    handle_event(&modified, &guard).await.expect("modified");
    let opened = rules(&estate.alerts().await);
    assert!(!opened.is_empty(), "the default profile alerts the hardening rules it does not fix");

    rds.delete_db_instance().db_instance_identifier("doomed-db").skip_final_snapshot(true).send().await.unwrap();
    let deleted = |id: &str| {
        let mut event = rds_event(
            "instance",
            MOTO_ACCOUNT,
            HOME_REGION,
            "doomed-db",
            "RDS-EVENT-0003",
            "DB instance deleted",
            "deletion",
        );
        event["id"] = json!(id);
        event
    };
    let summary = handle_event(&deleted("deleted-1"), &guard).await.expect("deleted");
    let alerts = estate.alerts().await;
    assert_eq!(rules(&alerts), opened, "one resolution per finding held: {summary:#?}");
    for alert in &alerts {
        assert_eq!(
            (alert.body["transition"].as_str(), alert.body["resolved_by"].as_str()),
            (Some("resolved"), Some("other"))
        );
        let said = alert.body["observed"]["resolution"].as_str().unwrap_or_default();
        assert!(said.contains("no longer exists"), "{said}");
    }
    let again = handle_event(&deleted("deleted-2"), &guard).await.expect("again");
    assert_eq!(again.outcome, InvocationOutcome::Ignored, "nothing is held any more: {again:#?}");
    assert!(estate.alerts().await.is_empty());
    assert!(items(&estate).await.iter().all(|i| i.status == FindingStatus::Resolved));
}
