//! The Security Hub export (SECURITY_HUB_EXPORT=on) end to end: the real rds-guard handler, its
//! ledger (DynamoDB) and the export's BatchImportFindings against moto server.
//!
//! moto serves BatchImportFindings and GetFindings (filters ignored) but not BatchUpdateFindings:
//! the export reaches Security Hub through the fault proxy, which records the BatchUpdateFindings
//! request the SDK sends and answers it itself (an empty success), as a local fake endpoint.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use aws_sdk_securityhub::types::{ComplianceStatus, RecordState};
use rds_guard::{handle_event, RdsGuard};
use rdsguard::aws::{AccountSessions, FindingsExport, SdkSecurityHub};
use rdsguard::ledger::LedgerConfig;
use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::events::{create_db_instance, rds_api_call};
use rdsguard_tests::ledger::create_findings_table;
use rdsguard_tests::proxy::{Fault, FaultProxy, On, Times};
use rdsguard_tests::{Estate, MOTO_ACCOUNT};
use serde_json::json;

const TABLE: &str = "rdsguard-findings";

async fn create_table(estate: &Estate) {
    create_findings_table(&estate.moto, HOME_REGION, TABLE).await;
}

/// rds-guard with the ledger and the export on; Security Hub reached through `proxy`.
async fn exporting_guard(estate: &Estate, proxy: &FaultProxy) -> RdsGuard {
    let mut guard = estate.rds_guard(&[]).await;
    let vars = [("FINDINGS_TABLE", TABLE), ("SECURITY_HUB_EXPORT", "on")];
    let config = LedgerConfig::from_vars(vars.map(|(k, v)| (k.to_owned(), v.to_owned()))).unwrap();
    assert!(config.security_hub_export);
    let sessions =
        AccountSessions::for_function(proxy.sdk_config(HOME_REGION).await, &guard.policy.member_role_name, "rds-guard");
    let export: Arc<dyn FindingsExport> = Arc::new(SdkSecurityHub::new(sessions));
    guard.alerting.alerts = estate
        .plumbing(&guard.policy)
        .await
        .with_ledger_exporting(&config, &estate.moto.sdk_config(HOME_REGION).await, Some(export))
        .alerting
        .alerts;
    guard
}

/// What Security Hub (moto) holds. The SDK's debug-build deserializer of GetFindings (every ASFF
/// resource type) needs more stack than a test thread's 2 MiB: it runs on a thread of its own.
/// (rdsguard itself never reads findings back.)
async fn security_hub_findings(estate: &Estate) -> Vec<aws_sdk_securityhub::types::AwsSecurityFinding> {
    let config = estate.moto.sdk_config(HOME_REGION).await;
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let client = aws_sdk_securityhub::Client::new(&config);
                client.get_findings().send().await.expect("GetFindings").findings.unwrap_or_default()
            })
        })
        .unwrap()
        .join()
        .unwrap()
}

#[tokio::test]
async fn a_fixed_public_database_is_passed_archived_and_resolved_in_security_hub() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("hub-db") }).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    // The local fake of BatchUpdateFindings: an empty success answer (moto does not serve it).
    let accepted = Fault::Error { status: 200, code: "Accepted".into(), message: "fake BatchUpdateFindings".into() };
    proxy.inject(On::PathContains("/findings/batchupdate".into()), accepted, Times::Always);
    let guard = exporting_guard(&estate, &proxy).await;

    handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "hub-db", true, true), &guard).await.expect("handled");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let finding_id = alerts[0].body["finding_id"].as_str().unwrap().to_owned();

    let findings = security_hub_findings(&estate).await;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let hub = &findings[0];
    assert_eq!(hub.id(), Some(format!("rdsguard/{finding_id}").as_str()));
    assert_eq!(hub.generator_id(), Some("rdsguard/RDS.2"));
    assert_eq!(hub.aws_account_id(), Some(MOTO_ACCOUNT));
    assert_eq!(hub.compliance().and_then(|c| c.status()), Some(&ComplianceStatus::Passed));
    assert_eq!(hub.record_state(), Some(&RecordState::Archived));
    assert_eq!(hub.resources()[0].r#type(), Some("AwsRdsDbInstance"));
    assert_eq!(hub.resources()[0].id(), Some("arn:aws:rds:us-east-1:123456789012:db:hub-db"));

    // rdsguard's fix: Workflow RESOLVED through BatchUpdateFindings (recorded; moto lacks it).
    let updates: Vec<_> = proxy.requests().into_iter().filter(|r| r.path.contains("/findings/batchupdate")).collect();
    assert_eq!(updates.len(), 1, "{:?}", proxy.actions());
    let body = updates[0].json().expect("JSON body");
    assert_eq!(body["Workflow"], json!({"Status": "RESOLVED"}));
    assert_eq!(body["FindingIdentifiers"][0]["Id"], format!("rdsguard/{finding_id}"));
    assert_eq!(
        body["FindingIdentifiers"][0]["ProductArn"],
        "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
    );
    let imports = proxy.requests().into_iter().filter(|r| r.path.contains("/findings/import")).count();
    assert_eq!(imports, 1);

    // rdsguard's own ModifyDBInstance afterwards: no transition, nothing imported again.
    let mut own = rds_api_call(
        "ModifyDBInstance",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": "hub-db", "publiclyAccessible": false}),
        json!({"dBInstanceIdentifier": "hub-db"}),
    );
    own["detail"]["eventID"] = json!("own-modify");
    handle_event(&own, &guard).await.expect("own modify");
    assert!(estate.alerts().await.is_empty());
    assert_eq!(proxy.requests().into_iter().filter(|r| r.path.contains("/findings/import")).count(), 1);
}

#[tokio::test]
async fn an_open_finding_is_failed_and_active_in_security_hub() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { encrypted: false, ..NewInstance::postgres("plain-db") }).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let guard = exporting_guard(&estate, &proxy).await;

    handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "plain-db", false, false), &guard)
        .await
        .expect("handled");
    let findings = security_hub_findings(&estate).await;
    let rds3 = findings.iter().find(|f| f.generator_id() == Some("rdsguard/RDS.3")).expect("RDS.3 imported");
    assert_eq!(rds3.compliance().and_then(|c| c.status()), Some(&ComplianceStatus::Failed));
    assert_eq!(rds3.record_state(), Some(&RecordState::Active));
    assert!(
        proxy.requests().iter().all(|r| !r.path.contains("/findings/batchupdate")),
        "nothing resolved, nothing to update"
    );
}
