//! rds-guard does no harm: the real handler and SDK against moto, through the recording proxy
//! (tests/src/proxy.rs).
//!
//! Where moto differs from AWS, the proxy shows what moto cannot: moto applies every modification
//! at once and has no pending-modification model (DescribeDBInstances never carries
//! `PendingModifiedValues`), so the tests that need a pending change rewrite moto's answer to add
//! one, and assert on the requests the SDK really sent.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rds_guard::handle_event;
use rdsguard::kernel::InvocationError;
use rdsguard_tests::estate::{NewInstance, ReceivedAlert, HOME_REGION};
use rdsguard_tests::events::{create_db_instance, rds_api_call};
use rdsguard_tests::{Estate, Fault, FaultProxy, On, MOTO_ACCOUNT};
use serde_json::json;

const STRICT: (&str, &str) = ("REMEDIATION_PROFILE", "strict");

fn by_rule<'a>(alerts: &'a [ReceivedAlert], rule: &str) -> &'a ReceivedAlert {
    alerts.iter().find(|a| a.rule() == rule).unwrap_or_else(|| panic!("no {rule} alert in {alerts:#?}"))
}

/// Makes moto's DescribeDBInstances answer say `id` has `pending` (XML elements) waiting for the
/// maintenance window, as AWS would after a Modify without ApplyImmediately.
fn with_pending(proxy: &FaultProxy, id: &'static str, pending: &'static str) {
    proxy.rewrite(On::action("DescribeDBInstances"), move |_, body| {
        let anchor = format!("<DBInstanceIdentifier>{id}</DBInstanceIdentifier>");
        body.replace(&anchor, &format!("{anchor}<PendingModifiedValues>{pending}</PendingModifiedValues>"))
    });
}

fn modify_event(id: &str) -> serde_json::Value {
    rds_api_call(
        "ModifyDBInstance",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": id, "applyImmediately": false}),
        json!({"dBInstanceIdentifier": id}),
    )
}

/// A DBA scheduled a class change for the window; the database also lacks deletion protection
/// and backups. The strict profile fixes both in one ModifyDBInstance that does not carry
/// ApplyImmediately=true (which would apply the class change now, with a reboot), and the alerts
/// name the change left pending.
#[tokio::test]
async fn fixes_go_out_in_one_modify_that_leaves_pending_maintenance_in_the_window() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance::seed("orders-db")).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    with_pending(&proxy, "orders-db", "<DBInstanceClass>db.r6g.large</DBInstanceClass>");
    let guard = estate.rds_guard_through(&proxy, &[STRICT]).await;

    handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "orders-db", false, true), &guard)
        .await
        .expect("handled");

    let modifies = proxy.calls_of("ModifyDBInstance");
    assert_eq!(modifies.len(), 1, "RDS.8 and RDS.11 must share one ModifyDBInstance: {modifies:#?}");
    let sent = &modifies[0];
    assert_ne!(sent.param("ApplyImmediately"), Some("true"), "{sent:#?}");
    assert_eq!(sent.param("DeletionProtection"), Some("true"));
    assert_eq!(sent.param("BackupRetentionPeriod"), Some("7"));
    assert_eq!(sent.param("DBInstanceClass"), None, "only the settings being fixed are sent");

    let alerts = estate.alerts().await;
    for rule in ["RDS.8", "RDS.11"] {
        let alert = by_rule(&alerts, rule);
        let detail = alert.body["action"]["detail"].as_str().unwrap();
        assert_eq!(alert.action_status(), "succeeded", "{rule}: {detail}");
        assert!(detail.contains("DBInstanceClass=db.r6g.large"), "{rule} must name the pending change: {detail}");
        assert!(detail.contains("ApplyImmediately=false"), "{rule}: {detail}");
    }
}

/// RDS.2 is fixed, then the TLS check cannot read the parameter group (an SCP or a permission
/// boundary in the member account): the "made private" alert is still published, and the
/// invocation fails afterwards so the event is retried.
#[tokio::test]
async fn a_failed_read_after_a_fix_still_publishes_the_fix() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("public-db") }).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    proxy.fail_always("DescribeDBParameters", Fault::AccessDenied);
    let guard = estate.rds_guard_through(&proxy, &[]).await;

    let result = handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "public-db", true, true), &guard).await;

    let Err(InvocationError::Describe { error, .. }) = result else { panic!("the invocation must fail: {result:?}") };
    assert_eq!(error.operation, "DescribeDBParameters");
    assert!(proxy.count("DescribeDBParameters") >= 1);
    let after = estate.instance(&rds, "public-db").await.unwrap();
    assert_eq!(after.publicly_accessible, Some(false));
    let alerts = estate.alerts().await;
    let public = by_rule(&alerts, "RDS.2");
    assert_eq!(public.action_status(), "succeeded", "{:#?}", public.body);
    assert_eq!(alerts.iter().filter(|a| a.rule() == "RDS.2").count(), 1);
}

/// A parameter group shared by two databases, one of them exempt from RDS.38: the group is left as
/// it is (changing it would cut the exempt database's non-TLS clients off), and the alert lists
/// both databases.
#[tokio::test]
async fn a_shared_parameter_group_with_an_exempt_database_is_left_as_it_is() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_postgres_parameter_group(&rds, "shared-pg", "0").await;
    estate.create_instance(&rds, &NewInstance::postgres("orders-db")).await;
    estate
        .create_instance(
            &rds,
            &NewInstance { tags: &[("rdsguard:exempt", "RDS.38")], ..NewInstance::postgres("legacy-db") },
        )
        .await;
    for id in ["orders-db", "legacy-db"] {
        rds.modify_db_instance()
            .db_instance_identifier(id)
            .db_parameter_group_name("shared-pg")
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
    }
    let guard = estate.rds_guard(&[STRICT]).await;

    // The database path (orders-db created) and the group path (the group changed) decide alike.
    let on_create = create_db_instance(MOTO_ACCOUNT, HOME_REGION, "orders-db", false, true);
    let on_group = rds_api_call(
        "ModifyDBParameterGroup",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBParameterGroupName": "shared-pg",
               "parameters": [{"parameterName": "rds.force_ssl", "parameterValue": "0", "applyMethod": "immediate"}]}),
        json!({"dBParameterGroupName": "shared-pg"}),
    );
    for event in [on_create, on_group] {
        handle_event(&event, &guard).await.expect("handled");
    }

    let params = rds.describe_db_parameters().db_parameter_group_name("shared-pg").send().await.unwrap();
    let force_ssl = params.parameters().iter().find(|p| p.parameter_name() == Some("rds.force_ssl")).unwrap();
    assert_eq!(force_ssl.parameter_value(), Some("0"), "the shared group must be left as it is");
    let alerts = estate.alerts().await;
    let tls: Vec<&ReceivedAlert> = alerts.iter().filter(|a| a.rule() == "RDS.38").collect();
    assert_eq!(tls.len(), 2, "{alerts:#?}");
    for alert in tls {
        assert_eq!(alert.action_status(), "skipped", "{:#?}", alert.body);
        let mut databases: Vec<&str> =
            alert.body["observed"]["Databases"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
        databases.sort_unstable();
        assert_eq!(databases, ["legacy-db", "orders-db"], "{:#?}", alert.body);
        let detail = alert.body["action"]["detail"].as_str().unwrap();
        assert!(detail.contains("legacy-db is tagged rdsguard:exempt=RDS.38"), "{detail}");
    }
}

/// `BackupRetentionPeriod=0` sent without ApplyImmediately waits for the window: today's 7 days
/// look compliant, the pending 0 is the finding.
#[tokio::test]
async fn a_pending_backup_weakening_is_a_finding_now() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance::postgres("orders-db")).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    with_pending(&proxy, "orders-db", "<BackupRetentionPeriod>0</BackupRetentionPeriod>");
    let guard = estate.rds_guard_through(&proxy, &[]).await;

    handle_event(&modify_event("orders-db"), &guard).await.expect("handled");

    let alerts = estate.alerts().await;
    let backups = by_rule(&alerts, "RDS.11");
    assert_eq!(backups.body["observed"]["BackupRetentionPeriod"], 7);
    assert_eq!(backups.body["observed"]["PendingBackupRetentionPeriod"], 0);
    assert!(backups.body["observed"]["Pending"].as_str().unwrap().contains("next maintenance window"));
    assert_eq!(backups.action_status(), "not_attempted", "the safe profile alerts RDS.11");
    assert!(proxy.calls_of("ModifyDBInstance").is_empty());
}

/// RDS Custom rejects AutoMinorVersionUpgrade=true: on a `custom-oracle-ee` instance RDS.13 does
/// not apply, so no fix is attempted and nothing is alerted for it. (moto cannot create RDS Custom
/// instances; the proxy rewrites the engine moto reports.)
#[tokio::test]
async fn rds_custom_gets_no_minor_version_upgrade_fix() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance::postgres("custom-db")).await;
    rds.modify_db_instance()
        .db_instance_identifier("custom-db")
        .auto_minor_version_upgrade(false)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let proxy = FaultProxy::in_front_of(&estate.moto);
    proxy.rewrite(On::action("DescribeDBInstances"), |_, body| {
        body.replace("<Engine>postgres</Engine>", "<Engine>custom-oracle-ee</Engine>")
    });
    let guard = estate.rds_guard_through(&proxy, &[STRICT]).await;

    let summary = handle_event(&modify_event("custom-db"), &guard).await.expect("handled");

    assert!(
        proxy.calls_of("ModifyDBInstance").iter().all(|call| call.param("AutoMinorVersionUpgrade").is_none()),
        "{:#?}",
        proxy.calls_of("ModifyDBInstance")
    );
    assert!(summary.findings.iter().all(|f| f.rule != "RDS.13"), "{summary:#?}");
    assert!(estate.alerts().await.iter().all(|a| a.rule() != "RDS.13"));
}
