//! The findings ledger end to end: the real rds-guard handler, its delivery through the ledger
//! (DynamoDB) and SNS, moto server as AWS.
//!
//! moto serves DynamoDB's conditional PutItem and consistent BatchGetItem like AWS does, but runs
//! requests one after another; "concurrent" invocations here interleave at every AWS call (one
//! Tokio task, `join!`), which is where the race between two invocations is decided.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rds_guard::{handle_event, RdsGuard};
use rdsguard::alert::Alert;
use rdsguard::aws::{AlertPublisher, AwsError, DynamoDbFindings};
use rdsguard::ledger::{FindingStatus, LedgerConfig, LedgerItem, ResolvedBy};
use rdsguard::metrics::InvocationMetrics;
use rdsguard_tests::estate::{NewInstance, ReceivedAlert, HOME_REGION};
use rdsguard_tests::events::{authorize_ingress, create_db_instance, rds_api_call};
use rdsguard_tests::ledger::create_findings_table;
use rdsguard_tests::proxy::{Fault, FaultProxy};
use rdsguard_tests::{Estate, MOTO_ACCOUNT};
use serde_json::{json, Value};

pub(crate) const TABLE: &str = "rdsguard-findings";

pub(crate) async fn create_table(estate: &Estate) {
    create_findings_table(&estate.moto, HOME_REGION, TABLE).await;
}

/// rds-guard as its `main` wires it ([`rdsguard::startup::Plumbing::with_ledger`]) with the
/// ledger `settings`; the ledger reaches DynamoDB through `ledger_endpoint` (moto, or a proxy).
pub(crate) async fn guard(
    estate: &Estate,
    settings: &[(&str, &str)],
    ledger_config: aws_config::SdkConfig,
) -> RdsGuard {
    let mut guard = estate.rds_guard(settings).await;
    let vars = settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    let config = LedgerConfig::from_vars(vars).expect("ledger settings");
    let plumbing = estate.plumbing(&guard.policy).await.with_ledger(&config, &ledger_config);
    guard.alerting.alerts = plumbing.alerting.alerts;
    guard
}

/// rds-guard with the ledger, in the strict profile so that its own fixes (RDS.8, RDS.11) show the
/// "resolved by rdsguard" half of the lifecycle next to the alert-only findings.
async fn ledgered(estate: &Estate) -> RdsGuard {
    let settings = [("FINDINGS_TABLE", TABLE), ("REMEDIATION_PROFILE", "strict")];
    guard(estate, &settings, estate.moto.sdk_config(HOME_REGION).await).await
}

pub(crate) async fn items(estate: &Estate) -> Vec<LedgerItem> {
    let client = aws_sdk_dynamodb::Client::new(&estate.moto.sdk_config(HOME_REGION).await);
    DynamoDbFindings::new(client, TABLE).list(None).await.expect("scan the ledger")
}

pub(crate) fn item<'a>(items: &'a [LedgerItem], rule: &str) -> &'a LedgerItem {
    items.iter().find(|i| i.rule == rule).unwrap_or_else(|| panic!("no {rule} item in {items:#?}"))
}

fn modify_event(id: &str, event_id: &str) -> Value {
    let mut event = rds_api_call(
        "ModifyDBInstance",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": id, "allocatedStorage": 50}),
        json!({"dBInstanceIdentifier": id}),
    );
    event["detail"]["eventID"] = json!(event_id);
    event
}

pub(crate) fn rules(alerts: &[ReceivedAlert]) -> Vec<String> {
    let mut rules: Vec<String> = alerts.iter().map(|a| a.rule().to_owned()).collect();
    rules.sort();
    rules
}

/// The seeds' instance: no IAM authentication (RDS.10, alerted only), no deletion protection
/// (RDS.8) and no backups (RDS.11), both fixed by rds-guard, and more alert-only findings.
async fn seed_instance(estate: &Estate, id: &str) {
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance::seed(id)).await;
}

/// network-guard with the ledger (or without: `ledgered` false).
pub(crate) async fn network_guard(estate: &Estate, ledgered: bool) -> network_guard::NetworkGuard {
    let mut guard = estate.network_guard(&[]).await;
    if ledgered {
        let config = LedgerConfig::from_vars([("FINDINGS_TABLE".to_owned(), TABLE.to_owned())]).unwrap();
        let ledger_config = estate.moto.sdk_config(HOME_REGION).await;
        guard.alerting.alerts =
            estate.plumbing(&guard.policy).await.with_ledger(&config, &ledger_config).alerting.alerts;
    }
    guard
}

#[tokio::test]
async fn the_same_event_replayed_three_times_alerts_once_and_counts_three() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    seed_instance(&estate, "ledger-db").await;
    let guard = ledgered(&estate).await;
    let event = modify_event("ledger-db", "modify-1");

    handle_event(&event, &guard).await.expect("first");
    let first = estate.alerts().await;
    let iam: Vec<&ReceivedAlert> = first.iter().filter(|a| a.rule() == "RDS.10").collect();
    assert_eq!(iam.len(), 1, "{first:#?}");
    let body = &iam[0].body;
    assert_eq!(body["finding_status"], "open");
    assert_eq!(body["transition"], "new");
    assert_eq!(body["occurrences"], 1);
    assert!(body["first_seen"].as_str().is_some_and(|t| t.ends_with('Z') && t.contains('T')), "{body:#}");
    let finding_id = body["finding_id"].as_str().expect("finding_id");
    assert_eq!(finding_id.len(), 64);
    // rds-guard's own fixes: one `succeeded` alert each, and the finding resolved at once.
    let fixed: Vec<&ReceivedAlert> = first.iter().filter(|a| a.action_status() == "succeeded").collect();
    assert!(!fixed.is_empty(), "{first:#?}");
    for alert in &fixed {
        assert_eq!(
            (alert.body["finding_status"].as_str(), alert.body["resolved_by"].as_str()),
            (Some("resolved"), Some("rdsguard"))
        );
    }

    // Two more events that see the same state (a repeated delivery of the same event is ignored
    // before the ledger judges it: faults.rs and ledger/event_claim.rs).
    handle_event(&modify_event("ledger-db", "modify-1b"), &guard).await.expect("second");
    let third = handle_event(&modify_event("ledger-db", "modify-1c"), &guard).await.expect("third");
    assert!(estate.alerts().await.is_empty(), "the replays change nothing: no alert");
    let iam_summary = third.findings.iter().find(|f| f.rule == "RDS.10").expect("RDS.10 still judged");
    assert_eq!(iam_summary.alert_message_id, None);
    assert!(iam_summary.alert_note.as_deref().unwrap_or_default().contains("ledger"), "{iam_summary:?}");
    assert_eq!(iam_summary.finding_id.as_deref(), Some(finding_id));

    let items = items(&estate).await;
    let iam = item(&items, "RDS.10");
    assert_eq!((iam.finding_id.as_str(), iam.occurrences, iam.status), (finding_id, 3, FindingStatus::Open));
    assert!(iam.last_alert_message_id.is_some(), "the ledger records what was published");
    let backups = item(&items, "RDS.11");
    assert_eq!(
        (backups.status, backups.resolved_by, backups.occurrences),
        (FindingStatus::Resolved, Some(ResolvedBy::Rdsguard), 1)
    );
    assert!(backups.expires_at.is_some(), "resolved items expire (TTL)");
}

#[tokio::test]
async fn two_concurrent_invocations_of_one_event_alert_each_finding_once() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    seed_instance(&estate, "twin-db").await;
    let guard = ledgered(&estate).await;
    let event = modify_event("twin-db", "modify-twin");

    // One event delivered twice at once: one invocation claims it, the other waits and is ignored
    // as a repeat (shared/src/ledger/event_claim.rs).
    let (a, b) = tokio::join!(handle_event(&event, &guard), handle_event(&event, &guard));
    let (a, b) = (a.expect("first invocation"), b.expect("second invocation"));

    let alerts = estate.alerts().await;
    let mut unique = rules(&alerts);
    unique.dedup();
    assert_eq!(rules(&alerts), unique, "one alert per finding: {alerts:#?}");
    assert!(unique.contains(&"RDS.10".to_owned()), "{alerts:#?}");
    let published = a.findings.iter().chain(&b.findings).filter(|f| f.alert_message_id.is_some()).count();
    assert_eq!(published, alerts.len());
    let items = items(&estate).await;
    assert_eq!(item(&items, "RDS.10").occurrences, 1, "the second delivery was a repeat, not judged again");
}

#[tokio::test]
async fn a_missing_table_costs_no_alert_and_is_counted() {
    let estate = Estate::start().await;
    seed_instance(&estate, "no-table-db").await;
    let guard = guard(&estate, &[("FINDINGS_TABLE", "no-such-table")], estate.moto.sdk_config(HOME_REGION).await).await;
    let event = modify_event("no-table-db", "modify-2");

    let summary = handle_event(&event, &guard).await.expect("handled despite the ledger");
    let alerts = estate.alerts().await;
    assert!(rules(&alerts).contains(&"RDS.10".to_owned()), "{alerts:#?}");
    assert_eq!(alerts.len(), summary.findings.len(), "every finding alerted, as without a ledger");
    assert!(alerts.iter().all(|a| a.body.get("finding_id").is_none()), "no lifecycle fields without the ledger");
    assert!(summary.findings.iter().all(|f| f.ledger_error.is_some()), "{summary:#?}");
    assert_eq!(InvocationMetrics::handled(&summary.findings).ledger_errors, summary.findings.len() as u64);
}

#[tokio::test]
async fn an_unreachable_dynamodb_costs_no_alert() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    seed_instance(&estate, "down-db").await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    proxy.fail_service("dynamodb", Fault::Unavailable);
    let guard = guard(&estate, &[("FINDINGS_TABLE", TABLE)], proxy.sdk_config(HOME_REGION).await).await;

    let summary = handle_event(&modify_event("down-db", "modify-3"), &guard).await.expect("handled");
    let alerts = estate.alerts().await;
    assert!(rules(&alerts).contains(&"RDS.10".to_owned()), "{alerts:#?}");
    assert_eq!(alerts.len(), summary.findings.len());
    assert!(proxy.count("BatchGetItem") > 0, "the ledger was tried: {:?}", proxy.actions());
    assert!(summary.findings.iter().all(|f| f.ledger_error.is_some()), "{summary:#?}");
}

#[tokio::test]
async fn iam_authentication_switched_on_by_someone_is_one_resolved_alert() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    seed_instance(&estate, "iam-db").await;
    let guard = ledgered(&estate).await;
    handle_event(&modify_event("iam-db", "modify-a"), &guard).await.expect("first");
    assert!(rules(&estate.alerts().await).contains(&"RDS.10".to_owned()));

    let rds = estate.rds(HOME_REGION).await;
    rds.modify_db_instance()
        .db_instance_identifier("iam-db")
        .enable_iam_database_authentication(true)
        .apply_immediately(true)
        .send()
        .await
        .expect("someone switches IAM authentication on");
    handle_event(&modify_event("iam-db", "modify-b"), &guard).await.expect("second");
    let alerts = estate.alerts().await;
    assert_eq!(rules(&alerts), ["RDS.10"], "only the resolution is news: {alerts:#?}");
    let resolved = &alerts[0];
    assert_eq!(resolved.body["severity"], "INFORMATIONAL");
    assert_eq!(resolved.body["transition"], "resolved");
    assert_eq!(
        (resolved.body["finding_status"].as_str(), resolved.body["resolved_by"].as_str()),
        (Some("resolved"), Some("other"))
    );
    assert!(resolved.subject.ends_with("- resolved"), "{}", resolved.subject);
    assert_eq!(resolved.body["observed"]["compliant"], true);
    assert_eq!(
        resolved.body["observed"]["evidence_while_open"]["IAMDatabaseAuthenticationEnabled"], false,
        "{:#}",
        resolved.body
    );

    handle_event(&modify_event("iam-db", "modify-c"), &guard).await.expect("third");
    assert!(estate.alerts().await.is_empty(), "resolved once");
    let items = items(&estate).await;
    assert_eq!(
        (item(&items, "RDS.10").status, item(&items, "RDS.10").resolved_by),
        (FindingStatus::Resolved, Some(ResolvedBy::Other))
    );
}

#[tokio::test]
async fn with_alert_on_resolve_false_a_resolution_is_recorded_silently() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    seed_instance(&estate, "quiet-db").await;
    let settings = [("FINDINGS_TABLE", TABLE), ("ALERT_ON_RESOLVE", "false")];
    let guard = guard(&estate, &settings, estate.moto.sdk_config(HOME_REGION).await).await;
    handle_event(&modify_event("quiet-db", "modify-a"), &guard).await.expect("first");
    estate.alerts().await;
    let rds = estate.rds(HOME_REGION).await;
    rds.modify_db_instance()
        .db_instance_identifier("quiet-db")
        .enable_iam_database_authentication(true)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    handle_event(&modify_event("quiet-db", "modify-b"), &guard).await.expect("second");
    assert!(estate.alerts().await.is_empty());
    assert_eq!(item(&items(&estate).await, "RDS.10").status, FindingStatus::Resolved);
}

#[tokio::test]
async fn a_public_database_fixed_alerts_succeeded_once_and_rdsguards_own_modify_alerts_nothing() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("public-db") }).await;
    let guard = ledgered(&estate).await;

    handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "public-db", true, true), &guard)
        .await
        .expect("create");
    let alerts = estate.alerts().await;
    assert_eq!(rules(&alerts), ["RDS.2"], "{alerts:#?}");
    assert_eq!(alerts[0].action_status(), "succeeded");
    assert_eq!(
        (alerts[0].body["finding_status"].as_str(), alerts[0].body["resolved_by"].as_str()),
        (Some("resolved"), Some("rdsguard"))
    );

    // The ModifyDBInstance rdsguard's own fix produced, as CloudTrail delivers it.
    let mut own = modify_event("public-db", "modify-by-rdsguard");
    own["detail"]["userIdentity"] = json!({
        "type": "AssumedRole",
        "arn": format!("arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/rdsguard-RdsGuardFunctionRole-AbC123/rds-guard"),
        "accountId": MOTO_ACCOUNT,
    });
    own["detail"]["requestParameters"] =
        json!({"dBInstanceIdentifier": "public-db", "publiclyAccessible": false, "applyImmediately": true});
    let summary = handle_event(&own, &guard).await.expect("own modify");
    assert!(estate.alerts().await.is_empty(), "{summary:#?}");
    let items = items(&estate).await;
    assert_eq!((item(&items, "RDS.2").status, item(&items, "RDS.2").occurrences), (FindingStatus::Resolved, 1));
}

/// SNS failing one entry of a PublishBatch call for good (an entry of its own fault, not sent
/// again), as AWS does: that entry is not delivered, the others are. moto cannot fail one entry
/// (it delivers every entry it is given), so this publisher in front of the real one answers the
/// first alert of the first batch with SNS's per-entry error and hands the rest to SNS.
struct FailsOneEntryOnce {
    inner: std::sync::Arc<dyn AlertPublisher>,
    failed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl AlertPublisher for FailsOneEntryOnce {
    async fn publish(&self, alert: &Alert) -> Result<String, AwsError> {
        self.inner.publish(alert).await
    }

    async fn publish_all(&self, alerts: &[Alert]) -> Vec<Result<String, AwsError>> {
        if alerts.is_empty() || self.failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return self.inner.publish_all(alerts).await;
        }
        let refused = AwsError {
            operation: "PublishBatch",
            code: Some("InvalidParameter".into()),
            message: "entry refused (test)".into(),
        };
        let mut results = vec![Err(refused)];
        results.extend(self.inner.publish_all(&alerts[1..]).await);
        results
    }

    fn ledger(&self) -> Option<&rdsguard::ledger::Ledger> {
        self.inner.ledger()
    }
}

#[tokio::test]
async fn a_retry_after_a_partial_publish_failure_sends_exactly_the_missing_alert() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    seed_instance(&estate, "retry-db").await;
    // Alert-only, so the retried event finds every finding still open.
    let mut guard = estate.rds_guard(&[("MODE", "alert")]).await;
    let config = LedgerConfig::from_vars([("FINDINGS_TABLE".to_owned(), TABLE.to_owned())]).unwrap();
    let plumbing =
        estate.plumbing(&guard.policy).await.with_ledger(&config, &estate.moto.sdk_config(HOME_REGION).await);
    guard.alerting.alerts = std::sync::Arc::new(FailsOneEntryOnce {
        inner: plumbing.alerting.alerts,
        failed: std::sync::atomic::AtomicBool::new(false),
    });
    let event = modify_event("retry-db", "modify-retry");

    let failed = handle_event(&event, &guard).await;
    assert!(failed.is_err(), "an alert that could not be published fails the invocation");
    let first = estate.alerts().await;
    assert!(first.len() >= 2, "the rest of the batch was published: {first:#?}");

    let retried = handle_event(&event, &guard).await.expect("the retry publishes what was missing");
    let second = estate.alerts().await;
    assert_eq!(second.len(), 1, "exactly the alert that failed: {second:#?}");
    assert_eq!(second[0].body["transition"], "unpublished_retry");
    let mut all = rules(&first);
    all.extend(rules(&second));
    all.sort();
    let mut unique = all.clone();
    unique.dedup();
    assert_eq!(all, unique, "no finding alerted twice");
    assert_eq!(all.len(), retried.findings.len(), "every finding alerted once: {all:?}");
}

#[tokio::test]
async fn network_guard_alerts_each_open_rule_once_keyed_by_the_security_group_rule() {
    let estate = Estate::start().await;
    create_table(&estate).await;
    let ec2 = estate.ec2(HOME_REGION).await;
    // No database behind the group: alerted, not revoked, so the rules stay open between events.
    let group = estate.create_security_group(&ec2, "bastion", &[]).await;
    estate.authorize(&ec2, &group, "tcp", (6379, 6379), &["0.0.0.0/0"]).await;
    estate.authorize(&ec2, &group, "tcp", (5432, 5432), &["0.0.0.0/0"]).await;
    let guard = network_guard(&estate, true).await;

    let mut first = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 5432, &["0.0.0.0/0"]);
    first["detail"]["eventID"] = json!("authorize-1");
    network_guard::handle_event(&first, &guard).await.expect("first");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 2, "one alert per open rule: {alerts:#?}");
    assert_ne!(alerts[0].body["finding_id"], alerts[1].body["finding_id"], "each rule is its own finding");

    // A third rule is opened: only it is news.
    estate.authorize(&ec2, &group, "tcp", (3306, 3306), &["0.0.0.0/0"]).await;
    let mut second = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 3306, &["0.0.0.0/0"]);
    second["detail"]["eventID"] = json!("authorize-2");
    network_guard::handle_event(&second, &guard).await.expect("second");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].body["observed"]["rule"]["from_port"], 3306);
    let items = items(&estate).await;
    assert_eq!(items.len(), 3);
    assert_eq!(items.iter().map(|i| i.occurrences).sum::<u64>(), 5, "the first two rules were seen twice");
}
