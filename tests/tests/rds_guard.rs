//! rds-guard end to end: the real handler, the real SDK, moto server as AWS.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use rds_guard::handle_event;
use rdsguard::aws::{
    AwsError, DatabaseInventory, DatabaseRemediation, MigrationActions, MigrationInventory, ParameterGroups,
    ParameterLookup, RdsConnector, RdsGuardPort, SessionError, SettingsChange, SnapshotSharing,
};
use rdsguard::database::{Database, DatabaseKind, DatabaseState};
use rdsguard::db_snapshot::{SnapshotKind, SnapshotState};
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::kernel::{InvocationError, InvocationOutcome};
use rdsguard::migration::settings::{Db, Kind, Member, Settings, Snapshot};
use rdsguard::report::PublishFailure;
use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::events::{create_db_instance, rds_api_call, rds_event};
use rdsguard_tests::{Estate, MOTO_ACCOUNT};
use serde_json::json;

#[tokio::test]
async fn public_instance_is_made_private_and_one_succeeded_alert_arrives() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("cruddur-db-instance") }).await;
    let guard = estate.rds_guard(&[]).await;

    let event = create_db_instance(MOTO_ACCOUNT, HOME_REGION, "cruddur-db-instance", true, true);
    let summary = handle_event(&event, &guard).await.expect("handled");

    let after = estate.instance(&rds, "cruddur-db-instance").await.expect("instance still exists");
    assert_eq!(after.publicly_accessible, Some(false), "instance must be private afterwards");
    assert_eq!(summary.outcome, InvocationOutcome::Checked);
    assert_eq!(summary.findings.len(), 1);

    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert.rule(), "RDS.2");
    assert_eq!(alert.body["severity"], "CRITICAL");
    assert_eq!(alert.body["account"], MOTO_ACCOUNT);
    assert_eq!(alert.body["region"], HOME_REGION);
    assert_eq!(alert.body["resource"], "arn:aws:rds:us-east-1:123456789012:db:cruddur-db-instance");
    assert_eq!(alert.body["actor"], "arn:aws:iam::123456789012:user/andrew");
    assert_eq!(alert.body["event_id"], "CreateDBInstance-123456789012-us-east-1");
    assert_eq!(alert.body["event_name"], "CreateDBInstance");
    assert_eq!(alert.body["observed"]["PubliclyAccessible"], true);
    assert_eq!(alert.body["action"]["kind"], "make_private");
    assert_eq!(alert.action_status(), "succeeded");
    assert_eq!(alert.attributes.get("severity").map(String::as_str), Some("CRITICAL"));
    assert_eq!(alert.attributes.get("rule").map(String::as_str), Some("RDS.2"));
    assert_eq!(alert.attributes.get("account").map(String::as_str), Some(MOTO_ACCOUNT));
    assert_eq!(alert.attributes.get("action_status").map(String::as_str), Some("succeeded"));
    assert!(alert.subject.len() <= 100 && alert.subject.contains("cruddur-db-instance"), "{}", alert.subject);
}

#[tokio::test]
async fn duplicate_event_changes_nothing_the_second_time() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("dup-db") }).await;
    let guard = estate.rds_guard(&[]).await;
    let event = create_db_instance(MOTO_ACCOUNT, HOME_REGION, "dup-db", true, true);

    handle_event(&event, &guard).await.expect("first");
    let second = handle_event(&event, &guard).await.expect("second");

    assert!(second.findings.is_empty(), "{second:?}");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "only the first delivery alerts: {alerts:#?}");
    assert_eq!(estate.instance(&rds, "dup-db").await.unwrap().publicly_accessible, Some(false));
}

#[tokio::test]
async fn unencrypted_create_alerts_rds3_and_changes_nothing_by_default() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { encrypted: false, ..NewInstance::postgres("plain-db") }).await;
    let guard = estate.rds_guard(&[]).await;

    handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "plain-db", false, false), &guard)
        .await
        .expect("handled");

    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule(), "RDS.3");
    assert_eq!(alerts[0].body["severity"], "MEDIUM");
    assert_eq!(alerts[0].body["observed"]["StorageEncrypted"], false);
    assert_eq!(alerts[0].body["action"]["kind"], "alert_only");
    assert_eq!(alerts[0].action_status(), "not_attempted");
    assert_eq!(estate.instance(&rds, "plain-db").await.unwrap().db_instance_status.as_deref(), Some("available"));
}

#[tokio::test]
async fn wrong_region_alerts_and_with_stop_policy_is_stopped() {
    let estate = Estate::start().await;
    let sa = estate.rds("sa-east-1").await;
    estate.create_instance(&sa, &NewInstance::postgres("far-away-db")).await;
    estate.create_instance(&sa, &NewInstance::postgres("far-away-db-2")).await;
    let event = |id| create_db_instance(MOTO_ACCOUNT, "sa-east-1", id, false, true);

    let alert_only = estate.rds_guard(&[("ALLOWED_REGIONS", "us-east-1,eu-west-1")]).await;
    handle_event(&event("far-away-db"), &alert_only).await.expect("handled");
    let stopping =
        estate.rds_guard(&[("ALLOWED_REGIONS", "us-east-1,eu-west-1"), ("RULE_ACTIONS", "RDSGUARD.REGION=stop")]).await;
    handle_event(&event("far-away-db-2"), &stopping).await.expect("handled");

    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert!(alerts.iter().all(|a| a.rule() == "RDSGUARD.REGION" && a.body["severity"] == "HIGH"));
    assert_eq!(alerts[0].action_status(), "not_attempted");
    assert_eq!(alerts[0].body["observed"]["Region"], "sa-east-1");
    assert_eq!(alerts[0].body["observed"]["AllowedRegions"], json!(["us-east-1", "eu-west-1"]));
    assert_eq!(estate.instance(&sa, "far-away-db").await.unwrap().db_instance_status.as_deref(), Some("available"));

    assert_eq!(alerts[1].body["action"]["kind"], "stop_database");
    assert_eq!(alerts[1].action_status(), "succeeded");
    assert_eq!(estate.instance(&sa, "far-away-db-2").await.unwrap().db_instance_status.as_deref(), Some("stopped"));
}

#[tokio::test]
async fn two_rules_that_stop_stop_the_database_once() {
    let estate = Estate::start().await;
    let sa = estate.rds("sa-east-1").await;
    estate.create_instance(&sa, &NewInstance { encrypted: false, ..NewInstance::postgres("doubly-wrong") }).await;
    let guard = estate
        .rds_guard(&[("ALLOWED_REGIONS", "us-east-1"), ("RULE_ACTIONS", "RDS.3=stop,RDSGUARD.REGION=stop")])
        .await;

    handle_event(&create_db_instance(MOTO_ACCOUNT, "sa-east-1", "doubly-wrong", false, false), &guard)
        .await
        .expect("handled");

    assert_eq!(estate.instance(&sa, "doubly-wrong").await.unwrap().db_instance_status.as_deref(), Some("stopped"));
    let alerts = estate.alerts().await;
    let seen: Vec<(&str, &str)> = alerts.iter().map(|a| (a.rule(), a.action_status())).collect();
    assert_eq!(seen, [("RDS.3", "succeeded"), ("RDSGUARD.REGION", "skipped")]);
    assert_eq!(alerts[1].body["action"]["detail"], "already stopped for RDS.3");
}

#[tokio::test]
async fn public_database_in_a_forbidden_region_is_stopped_first_and_made_private_when_started() {
    let estate = Estate::start().await;
    let sa = estate.rds("sa-east-1").await;
    estate.create_instance(&sa, &NewInstance { public: true, ..NewInstance::postgres("public-far-away") }).await;
    let guard = estate.rds_guard(&[("ALLOWED_REGIONS", "us-east-1"), ("RULE_ACTIONS", "RDSGUARD.REGION=stop")]).await;

    handle_event(&create_db_instance(MOTO_ACCOUNT, "sa-east-1", "public-far-away", true, true), &guard)
        .await
        .expect("handled");

    let after = estate.instance(&sa, "public-far-away").await.unwrap();
    assert_eq!(after.db_instance_status.as_deref(), Some("stopped"));
    let alerts = estate.alerts().await;
    let seen: Vec<(&str, &str)> = alerts.iter().map(|a| (a.rule(), a.action_status())).collect();
    assert_eq!(seen, [("RDS.2", "deferred"), ("RDSGUARD.REGION", "succeeded")]);
    assert!(alerts[0].body["action"]["detail"]
        .as_str()
        .unwrap()
        .starts_with("stopped by rdsguard for RDSGUARD.REGION"));
}

#[tokio::test]
async fn exempt_tag_means_no_change_and_an_exempt_alert() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    let tags = [("rdsguard:exempt", "RDS.2"), ("team", "data")];
    estate
        .create_instance(&rds, &NewInstance { public: true, tags: &tags, ..NewInstance::postgres("public-by-design") })
        .await;
    let guard = estate.rds_guard(&[]).await;

    handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "public-by-design", true, true), &guard)
        .await
        .expect("handled");

    assert_eq!(estate.instance(&rds, "public-by-design").await.unwrap().publicly_accessible, Some(true));
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule(), "RDS.2");
    assert_eq!(alerts[0].action_status(), "skipped");
    assert_eq!(alerts[0].body["action"]["detail"], "exempt: resource is tagged rdsguard:exempt=RDS.2");
}

#[tokio::test]
async fn alert_mode_changes_nothing() {
    let estate = Estate::start().await;
    let sa = estate.rds("sa-east-1").await;
    estate
        .create_instance(
            &sa,
            &NewInstance { public: true, encrypted: false, ..NewInstance::postgres("everything-wrong") },
        )
        .await;
    let guard = estate
        .rds_guard(&[
            ("MODE", "alert"),
            ("ALLOWED_REGIONS", "us-east-1"),
            ("RULE_ACTIONS", "RDS.3=stop,RDSGUARD.REGION=stop"),
        ])
        .await;

    handle_event(&create_db_instance(MOTO_ACCOUNT, "sa-east-1", "everything-wrong", true, false), &guard)
        .await
        .expect("handled");

    let after = estate.instance(&sa, "everything-wrong").await.unwrap();
    assert_eq!(after.publicly_accessible, Some(true));
    assert_eq!(after.db_instance_status.as_deref(), Some("available"));
    let alerts = estate.alerts().await;
    let rules: Vec<&str> = alerts.iter().map(|a| a.rule()).collect();
    assert_eq!(rules, ["RDS.2", "RDS.3", "RDSGUARD.REGION"]);
    assert!(alerts.iter().all(|a| a.action_status() == "not_attempted"), "{alerts:#?}");
    assert!(alerts.iter().all(|a| a.body["action"]["detail"] == "MODE=alert: rdsguard changes nothing"));
}

/// RDS access that lets the first describe through, then deletes the instance behind rds-guard's
/// back (as a concurrent DeleteDBInstance would), so the remediation call fails for real.
struct InstanceDeletedAfterDescribe {
    inner: Arc<dyn RdsGuardPort>,
    deleter: aws_sdk_rds::Client,
    deleted: AtomicBool,
}

#[async_trait]
impl DatabaseInventory for InstanceDeletedAfterDescribe {
    async fn describe_instance(&self, id: &str) -> Result<Option<DatabaseState>, AwsError> {
        let state = self.inner.describe_instance(id).await;
        if !self.deleted.swap(true, Ordering::SeqCst) {
            self.deleter
                .modify_db_instance()
                .db_instance_identifier(id)
                .deletion_protection(false)
                .send()
                .await
                .expect("lift deletion protection");
            self.deleter
                .delete_db_instance()
                .db_instance_identifier(id)
                .skip_final_snapshot(true)
                .send()
                .await
                .expect("delete");
        }
        state
    }
    async fn describe_cluster(&self, id: &str) -> Result<Option<DatabaseState>, AwsError> {
        self.inner.describe_cluster(id).await
    }
}

#[async_trait]
impl DatabaseRemediation for InstanceDeletedAfterDescribe {
    async fn modify_settings(&self, kind: DatabaseKind, id: &str, change: &SettingsChange) -> Result<(), AwsError> {
        self.inner.modify_settings(kind, id, change).await
    }
    async fn stop_instance(&self, id: &str) -> Result<(), AwsError> {
        self.inner.stop_instance(id).await
    }
    async fn stop_cluster(&self, id: &str) -> Result<(), AwsError> {
        self.inner.stop_cluster(id).await
    }
}

#[async_trait]
impl SnapshotSharing for InstanceDeletedAfterDescribe {
    async fn describe_snapshot(&self, kind: SnapshotKind, id: &str) -> Result<Option<SnapshotState>, AwsError> {
        self.inner.describe_snapshot(kind, id).await
    }
    async fn unshare_snapshot(&self, kind: SnapshotKind, id: &str, values: &[String]) -> Result<(), AwsError> {
        self.inner.unshare_snapshot(kind, id, values).await
    }
}

#[async_trait]
impl ParameterGroups for InstanceDeletedAfterDescribe {
    async fn parameter(&self, kind: DatabaseKind, group: &str, name: &str) -> Result<ParameterLookup, AwsError> {
        self.inner.parameter(kind, group, name).await
    }
    async fn set_parameter(&self, kind: DatabaseKind, group: &str, name: &str, value: &str) -> Result<(), AwsError> {
        self.inner.set_parameter(kind, group, name, value).await
    }
    async fn databases_using_parameter_group(
        &self,
        kind: DatabaseKind,
        group: &str,
    ) -> Result<Vec<Database>, AwsError> {
        self.inner.databases_using_parameter_group(kind, group).await
    }
}

// The encryption migration (not exercised here): straight through.
#[async_trait]
impl MigrationInventory for InstanceDeletedAfterDescribe {
    async fn databases(&self, kind: Kind) -> Result<Vec<Db>, AwsError> {
        self.inner.databases(kind).await
    }
    async fn snapshot(&self, kind: Kind, id: &str) -> Result<Option<Snapshot>, AwsError> {
        self.inner.snapshot(kind, id).await
    }
}

#[async_trait]
impl MigrationActions for InstanceDeletedAfterDescribe {
    async fn tag(&self, arn: &str, tags: &[(String, String)]) -> Result<(), AwsError> {
        self.inner.tag(arn, tags).await
    }
    async fn create_snapshot(&self, kind: Kind, db: &str, id: &str, tags: &[(String, String)]) -> Result<(), AwsError> {
        self.inner.create_snapshot(kind, db, id, tags).await
    }
    async fn copy_snapshot_encrypted(
        &self,
        from: &str,
        to: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        self.inner.copy_snapshot_encrypted(from, to, key, tags).await
    }
    async fn restore(
        &self,
        kind: Kind,
        snapshot: &str,
        from: &Db,
        new_id: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        self.inner.restore(kind, snapshot, from, new_id, key, tags).await
    }
    async fn create_member(
        &self,
        cluster: &str,
        engine: &str,
        member: &Member,
        new_id: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        self.inner.create_member(cluster, engine, member, new_id, tags).await
    }
    async fn apply_settings(
        &self,
        kind: Kind,
        id: &str,
        wanted: &Settings,
        current: &Settings,
    ) -> Result<(), AwsError> {
        self.inner.apply_settings(kind, id, wanted, current).await
    }
    async fn rename(&self, kind: Kind, id: &str, new_id: &str) -> Result<(), AwsError> {
        self.inner.rename(kind, id, new_id).await
    }
    async fn reboot_instance(&self, id: &str) -> Result<(), AwsError> {
        self.inner.reboot_instance(id).await
    }
    async fn stop(&self, kind: Kind, id: &str) -> Result<(), AwsError> {
        self.inner.stop(kind, id).await
    }
    async fn start(&self, kind: Kind, id: &str) -> Result<(), AwsError> {
        self.inner.start(kind, id).await
    }
    async fn create_read_replica(&self, source: &str, like: &Db, new_id: &str) -> Result<(), AwsError> {
        self.inner.create_read_replica(source, like, new_id).await
    }
}

struct DeletingConnector {
    inner: Arc<dyn RdsConnector>,
    deleter: aws_sdk_rds::Client,
}

#[async_trait]
impl RdsConnector for DeletingConnector {
    async fn connect(&self, account: &AccountId, region: &AwsRegion) -> Result<Arc<dyn RdsGuardPort>, SessionError> {
        let inner = self.inner.connect(account, region).await?;
        Ok(Arc::new(InstanceDeletedAfterDescribe {
            inner,
            deleter: self.deleter.clone(),
            deleted: AtomicBool::new(false),
        }))
    }
}

#[tokio::test]
async fn failed_remediation_still_alerts_with_status_failed_and_the_aws_error() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("short-lived") }).await;
    let mut guard = estate.rds_guard(&[]).await;
    guard.rds = Arc::new(DeletingConnector { inner: guard.rds.clone(), deleter: rds.clone() });

    let summary = handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "short-lived", true, true), &guard)
        .await
        .expect("a failed remediation is reported, not an invocation error");

    assert_eq!(summary.findings[0].action.status.as_str(), "failed");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].action_status(), "failed");
    let detail = alerts[0].body["action"]["detail"].as_str().unwrap();
    assert!(detail.starts_with("ModifyDBInstance failed: DBInstanceNotFound"), "{detail}");
}

#[tokio::test]
async fn stopped_public_instance_is_deferred_then_fixed_when_rds_reports_it_started() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("sleeping-db") }).await;
    rds.stop_db_instance().db_instance_identifier("sleeping-db").send().await.expect("stop");
    let guard = estate.rds_guard(&[]).await;

    let modify = rds_api_call(
        "ModifyDBInstance",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": "sleeping-db", "publiclyAccessible": true}),
        json!({"dBInstanceIdentifier": "sleeping-db", "dBInstanceStatus": "stopped"}),
    );
    handle_event(&modify, &guard).await.expect("handled");
    assert_eq!(estate.instance(&rds, "sleeping-db").await.unwrap().publicly_accessible, Some(true));

    rds.start_db_instance().db_instance_identifier("sleeping-db").send().await.expect("start");
    let started = rds_event(
        "instance",
        MOTO_ACCOUNT,
        HOME_REGION,
        "sleeping-db",
        "RDS-EVENT-0088",
        "DB instance started",
        "notification",
    );
    handle_event(&started, &guard).await.expect("handled");

    assert_eq!(estate.instance(&rds, "sleeping-db").await.unwrap().publicly_accessible, Some(false));
    let alerts = estate.alerts().await;
    let statuses: Vec<&str> = alerts.iter().map(|a| a.action_status()).collect();
    assert_eq!(statuses, ["deferred", "succeeded"], "{alerts:#?}");
    assert!(alerts[0].body["action"]["detail"].as_str().unwrap().contains("status is stopped"));
    assert_eq!(alerts[1].body["event_name"], "RDS-EVENT-0088: DB instance started");
    assert_eq!(alerts[1].body["actor"], "rds.amazonaws.com");
}

#[tokio::test]
async fn member_account_database_is_fixed_through_the_assumed_role() {
    const MEMBER: &str = "210987654321";
    let estate = Estate::start().await;
    let member_rds = estate.rds_in_account(MEMBER, "eu-west-1").await;
    estate.create_instance(&member_rds, &NewInstance { public: true, ..NewInstance::postgres("member-db") }).await;
    let own_rds = estate.rds("eu-west-1").await;
    assert!(estate.instance(&own_rds, "member-db").await.is_none(), "the database lives only in the member account");
    let guard = estate.rds_guard(&[]).await;

    handle_event(&create_db_instance(MEMBER, "eu-west-1", "member-db", true, true), &guard).await.expect("handled");

    assert_eq!(estate.instance(&member_rds, "member-db").await.unwrap().publicly_accessible, Some(false));
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].body["account"], MEMBER);
    assert_eq!(alerts[0].body["resource"], format!("arn:aws:rds:eu-west-1:{MEMBER}:db:member-db"));
    assert_eq!(alerts[0].action_status(), "succeeded");
}

#[tokio::test]
async fn aurora_cluster_unencrypted_alerts_rds27_and_stop_policy_stops_the_cluster() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_aurora_cluster(&rds, "aurora-plain", false).await;
    let guard = estate.rds_guard(&[("RULE_ACTIONS", "RDS.27=stop")]).await;
    // moto reports a new Aurora cluster as "creating" until it is described once.
    estate.cluster(&rds, "aurora-plain").await;

    let event = rds_api_call(
        "CreateDBCluster",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBClusterIdentifier": "aurora-plain", "engine": "aurora-postgresql"}),
        json!({"dBClusterIdentifier": "aurora-plain", "storageEncrypted": false, "status": "creating"}),
    );
    handle_event(&event, &guard).await.expect("handled");

    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule(), "RDS.27");
    assert_eq!(alerts[0].body["resource_type"], "AWS::RDS::DBCluster");
    assert_eq!(alerts[0].action_status(), "succeeded");
    assert_eq!(estate.cluster(&rds, "aurora-plain").await.unwrap().status.as_deref(), Some("stopped"));
}

#[tokio::test]
async fn alert_that_cannot_be_published_fails_the_invocation() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("loud-db") }).await;
    let guard = estate.rds_guard(&[]).await;
    let mut policy = guard.policy.clone();
    policy.alert_topic = rdsguard::policy::TopicArn::parse("arn:aws:sns:us-east-1:123456789012:no-such-topic").unwrap();
    let guard = estate.rds_guard_with_policy(policy).await;

    let result = handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "loud-db", true, true), &guard).await;

    match result {
        Err(InvocationError::Publish(PublishFailure { failed, total, .. })) => assert_eq!((failed, total), (1, 1)),
        other => panic!("expected a publish error, got {other:?}"),
    }
    assert_eq!(estate.instance(&rds, "loud-db").await.unwrap().publicly_accessible, Some(false));
    // The retry finds the database compliant and has nothing to say, so the alert itself must
    // have been kept: it is in the dead-letter queue.
    let retry = handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "loud-db", true, true), &guard)
        .await
        .expect("retry");
    assert!(retry.findings.is_empty());
    let kept = estate.dead_letters().await;
    assert_eq!(kept.len(), 1, "{kept:#?}");
    assert_eq!(kept[0]["rule"], "RDS.2");
    assert_eq!(kept[0]["resource_id"], "loud-db");
    assert_eq!(kept[0]["action"]["status"], "succeeded");
}

#[tokio::test]
async fn failed_calls_and_unknown_events_change_nothing_and_alert_nothing() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("untouched") }).await;
    let guard = estate.rds_guard(&[]).await;

    let mut failed = create_db_instance(MOTO_ACCOUNT, HOME_REGION, "untouched", true, true);
    failed["detail"]["errorCode"] = json!("AccessDenied");
    failed["detail"]["responseElements"] = json!(null);
    let deleted = create_db_instance(MOTO_ACCOUNT, HOME_REGION, "never-existed", true, true);
    for event in [failed, deleted, json!({"hello": "world"}), json!([1, 2, 3])] {
        let summary = handle_event(&event, &guard).await.expect("ignored, not an error");
        assert_eq!(summary.outcome, InvocationOutcome::Ignored, "{summary:?}");
    }
    assert_eq!(estate.instance(&rds, "untouched").await.unwrap().publicly_accessible, Some(true));
    assert!(estate.alerts().await.is_empty());
}

#[tokio::test]
async fn real_cloudtrail_records_drive_the_fix() {
    // The AWS documentation's CreateDBInstance record (bare, no envelope; publiclyAccessible only
    // in responseElements) and the failover notification from the RDS user guide.
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tests/fixtures/real-events");
    let load = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(format!("{fixtures}/{name}")).unwrap()).unwrap()
    };
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate
        .create_instance(&rds, &NewInstance { public: true, engine: "mysql", ..NewInstance::postgres("test-instance") })
        .await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("my-db-instance") }).await;
    let guard = estate.rds_guard(&[]).await;

    handle_event(&load("cloudtrail-CreateDBInstance-awsdocs-rds-user-guide.json"), &guard).await.expect("handled");
    handle_event(&load("rds-event-DBInstance-failover-RDS-EVENT-0049-awsdocs.json"), &guard).await.expect("handled");

    for id in ["test-instance", "my-db-instance"] {
        assert_eq!(estate.instance(&rds, id).await.unwrap().publicly_accessible, Some(false), "{id}");
    }
    let alerts = estate.alerts().await;
    let seen: Vec<(&str, &str, &str)> = alerts
        .iter()
        .map(|a| (a.body["resource_id"].as_str().unwrap(), a.body["event_id"].as_str().unwrap(), a.action_status()))
        .collect();
    assert_eq!(
        seen,
        [
            ("test-instance", "797163d3-5726-441d-80a7-6eeb7464acd4", "succeeded"),
            ("my-db-instance", "68f6e973-1a0c-d37b-f2f2-94a7f62ffd4e", "succeeded"),
        ]
    );
    assert_eq!(alerts[0].body["actor"], "arn:aws:iam::123456789012:user/johndoe");
}
