//! guardrail-manager under faults: the real handler and the real Organizations, SNS and SQS
//! clients talk to moto through the fault-injecting proxy (`rdsguard_tests::proxy`); seeding and
//! reading back go to moto directly. The same outcomes as the other functions' scenarios
//! (tests/tests/faults.rs): throttling the SDK retries through changes nothing twice, a refusal is a
//! `failed` alert carrying the AWS error, an alert SNS will not take fails the invocation with
//! the alert kept in the undelivered-alert queue, a slow Organizations near the deadline still ends
//! in a published alert (or a stack answered FAILED), and with the ledger a repeated delivery is
//! handled once.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use guardrail_manager::{handle_event, handle_event_within, GuardrailManager, REAPPLY_ALLOWANCE};
use rdsguard::kernel::{Deadline, InvocationOutcome, PUBLISH_RESERVE};
use rdsguard_tests::estate::HOME_REGION;
use rdsguard_tests::scp_organization::{custom_resource_request, Org, ResponseCatcher};
use rdsguard_tests::threat_events::api_call;
use rdsguard_tests::{Estate, Fault, FaultProxy, On, Times, MOTO_ACCOUNT};
use serde_json::{json, Value};

const PREFIX: &str = "rdsguard-guardrails-";
const WEAKENED: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"rds:DeleteDBSnapshot","Resource":"*"}]}"#;

/// An organisation on moto, guardrail-manager in front of it through the proxy.
struct World {
    estate: Estate,
    proxy: FaultProxy,
    manager: GuardrailManager,
    cloudformation: ResponseCatcher,
}

async fn world() -> World {
    world_with(false).await
}

/// With `ledgered`, the findings ledger (and its event claims) on a table in moto, reached through
/// the proxy as well.
async fn world_with(ledgered: bool) -> World {
    let estate = Estate::start().await;
    let org: Org = estate.create_organization().await;
    let settings = [
        ("GUARDRAILS", "deny-unencrypted-rds,protect-databases".to_owned()),
        ("GUARDRAIL_TARGETS", format!("{},{}", org.root_id, org.ou_id)),
    ];
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let mut manager = estate.guardrail_manager_through(&proxy, &settings).await;
    if ledgered {
        rdsguard_tests::ledger::create_findings_table(&estate.moto, HOME_REGION, "rdsguard-findings").await;
        let config =
            rdsguard::ledger::LedgerConfig::from_vars([("FINDINGS_TABLE".to_owned(), "rdsguard-findings".to_owned())])
                .unwrap();
        let base = proxy.sdk_config(HOME_REGION).await;
        manager.alerting =
            rdsguard::startup::Plumbing::new(manager.policy.clone(), base.clone()).with_ledger(&config, &base).alerting;
    }
    World { estate, proxy, manager, cloudformation: ResponseCatcher::start() }
}

impl World {
    async fn ours(&self) -> Vec<(String, String)> {
        self.estate.scps().await.into_iter().filter(|(_, name)| name.starts_with(PREFIX)).collect()
    }

    /// The stack's Create, answered SUCCESS (no faults injected yet).
    async fn created(&self) -> Vec<(String, String)> {
        let request = custom_resource_request("Create", &self.cloudformation.url, None);
        handle_event(&request, &self.manager).await.expect("create");
        assert_eq!(self.cloudformation.next().body["Status"], "SUCCESS");
        self.proxy.clear_requests();
        self.ours().await
    }

    /// Someone weakens the first managed policy by hand: the change on moto and its CloudTrail event.
    async fn weakened(&self, policy_id: &str) -> Value {
        self.estate.organizations().await.update_policy().policy_id(policy_id).content(WEAKENED).send().await.unwrap();
        let request = json!({"policyId": policy_id, "content": WEAKENED});
        api_call("organizations.amazonaws.com", "UpdatePolicy", MOTO_ACCOUNT, HOME_REGION, request, None)
    }
}

/// Organizations throttled twice, then served, on the read that plans and on the write that
/// creates: the SDK's retries get through, the stack's Create is answered SUCCESS, and each
/// guardrail policy is created once (no duplicate, nothing to change on a second apply).
#[tokio::test]
async fn organizations_throttled_twice_then_served_applies_once() {
    for action in ["ListPolicies", "CreatePolicy"] {
        let world = world().await;
        world.proxy.inject(On::action(action), Fault::Throttle, Times::First(2));

        let request = custom_resource_request("Create", &world.cloudformation.url, None);
        let summary = handle_event(&request, &world.manager).await.expect("create");

        assert_eq!(summary.outcome, InvocationOutcome::Applied, "{action}: {summary:?}");
        assert_eq!(world.cloudformation.next().body["Status"], "SUCCESS", "{action}");
        let throttled = world.proxy.calls_of(action).iter().filter(|c| c.injected == Some(Fault::Throttle)).count();
        assert_eq!(throttled, 2, "{action}: two throttled, then served");
        let policies = world.ours().await;
        assert!(!policies.is_empty(), "{action}");
        assert_eq!(world.proxy.served_calls_of("CreatePolicy").len(), policies.len(), "{action}: each created once");
        let mut names: Vec<&str> = policies.iter().map(|(_, n)| n.as_str()).collect();
        names.dedup();
        assert_eq!(names.len(), policies.len(), "{action}: no policy twice: {policies:?}");
        let again = custom_resource_request("Update", &world.cloudformation.url, Some("rdsguard-guardrails"));
        assert!(handle_event(&again, &world.manager).await.unwrap().detail.plan.is_empty(), "{action}: applied once");
    }
}

/// The re-apply refused (an SCP or a missing permission denies UpdatePolicy): the tampering is
/// alerted with status `failed` and the AWS error, and the invocation succeeds (a retry would be
/// refused again). The policy stays as the tamperer left it.
#[tokio::test]
async fn the_reapply_denied_is_a_failed_alert_with_the_aws_error() {
    let world = world().await;
    let (id, _) = world.created().await.pop().unwrap();
    let event = world.weakened(&id).await;
    world.proxy.inject(On::action("UpdatePolicy"), Fault::AccessDenied, Times::Always);

    let summary = handle_event(&event, &world.manager).await.expect("alerted, not failed");

    assert_eq!(summary.outcome, InvocationOutcome::Alerted);
    assert_eq!(world.proxy.count("UpdatePolicy"), 1, "a refusal is not retried");
    assert_eq!(world.estate.scp_content(&id).await, serde_json::from_str::<Value>(WEAKENED).unwrap());
    let alerts = world.estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].action_status(), "failed");
    let detail = alerts[0].body["action"]["detail"].as_str().unwrap_or_default();
    eprintln!("guardrail-manager: re-apply denied: {detail}");
    assert!(detail.contains("UpdatePolicy") && detail.contains("AccessDenied"), "{detail}");
}

/// SNS down: the guardrails are re-applied, the tampering alert is kept in the undelivered-alert
/// queue, and the invocation fails so Lambda retries it.
#[tokio::test]
async fn sns_down_keeps_the_alert_in_the_undelivered_queue_and_fails_the_invocation() {
    let world = world().await;
    let (id, _) = world.created().await.pop().unwrap();
    let event = world.weakened(&id).await;
    world.proxy.fail_service("sns", Fault::Unavailable);

    let error = handle_event(&event, &world.manager).await.expect_err("the invocation must fail");

    assert_eq!(error.kind(), "AlertPublishFailed", "{error}");
    assert!(error.to_string().starts_with("1 of 1 alerts could not be published"), "{error}");
    assert_eq!(world.proxy.count("PublishBatch"), 3, "publishing was retried by the SDK");
    assert_ne!(
        world.estate.scp_content(&id).await,
        serde_json::from_str::<Value>(WEAKENED).unwrap(),
        "re-applied before publishing"
    );
    assert!(world.estate.alerts().await.is_empty());
    let kept = world.estate.dead_letters().await;
    assert_eq!(kept.len(), 1, "{kept:#?}");
    assert_eq!(kept[0]["source"], "guardrail-manager");
    assert_eq!(kept[0]["action"]["status"], "succeeded");
}

/// The re-apply throttled past the SDK's retry budget: `failed`, not `deferred` (nothing will try
/// again by itself; the scheduled drift check is hours away), with the throttling code, and the
/// invocation succeeds with the alert published.
#[tokio::test]
async fn the_reapply_throttled_past_the_retry_budget_is_a_failed_alert() {
    let world = world().await;
    let (id, _) = world.created().await.pop().unwrap();
    let event = world.weakened(&id).await;
    world.proxy.fail_always("UpdatePolicy", Fault::Throttle);

    let summary = handle_event(&event, &world.manager).await.expect("alerted, not failed");

    assert_eq!(summary.outcome, InvocationOutcome::Alerted);
    assert_eq!(world.proxy.count("UpdatePolicy"), 3, "the SDK's three attempts");
    let alerts = world.estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].action_status(), "failed");
    let detail = alerts[0].body["action"]["detail"].as_str().unwrap_or_default();
    eprintln!("guardrail-manager: re-apply throttled: {detail}");
    assert!(detail.contains("UpdatePolicy") && detail.contains("TooManyRequests"), "{detail}");
}

/// SNS and the undelivered-alert queue both down: the guardrails are re-applied, and the invocation
/// fails with a clear error so Lambda keeps the event (its retries, then the dead-letter queue).
#[tokio::test]
async fn sns_and_the_undelivered_queue_down_fail_the_invocation_with_a_clear_error() {
    let world = world().await;
    let (id, _) = world.created().await.pop().unwrap();
    let event = world.weakened(&id).await;
    world.proxy.fail_service("sns", Fault::Unavailable);
    world.proxy.fail_service("sqs", Fault::Unavailable);

    let error = handle_event(&event, &world.manager).await.expect_err("the invocation must fail");

    assert_eq!(error.kind(), "AlertPublishFailed", "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with("1 of 1 alerts could not be published") && message.contains("ServiceUnavailable"),
        "{message}"
    );
    assert_ne!(
        world.estate.scp_content(&id).await,
        serde_json::from_str::<Value>(WEAKENED).unwrap(),
        "re-applied before publishing"
    );
}

/// A slow Organizations read leaves too little of the invocation for a re-apply: the tampering
/// alert is still published before the deadline, `failed` with the reason, and nothing is written
/// (no re-apply started that could be cut half-way).
#[tokio::test]
async fn a_slow_read_near_the_deadline_publishes_the_tampering_alert_without_starting_the_reapply() {
    let world = world().await;
    let (id, _) = world.created().await.pop().unwrap();
    let event = world.weakened(&id).await;
    world.proxy.inject(On::action("ListPolicies"), Fault::Slow(Duration::from_millis(1500)), Times::First(1));
    let time = PUBLISH_RESERVE + REAPPLY_ALLOWANCE;
    let started = Instant::now();

    let summary = handle_event_within(&event, &world.manager, Deadline::after(time)).await.expect("alerted");

    assert!(started.elapsed() < time, "finished before the deadline: {:?}", started.elapsed());
    assert_eq!(summary.outcome, InvocationOutcome::Alerted);
    assert_eq!(world.proxy.count("UpdatePolicy"), 0, "no re-apply started");
    assert_eq!(world.estate.scp_content(&id).await, serde_json::from_str::<Value>(WEAKENED).unwrap());
    let alerts = world.estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].action_status(), "failed");
    let detail = alerts[0].body["action"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("not re-applied") && detail.contains("deadline"), "{detail}");
}

/// Organizations answers the re-apply's write too slowly for the invocation: the re-apply is cut
/// at the deadline for work and the alert is published within the reserve, `failed`, saying it may
/// be partly applied.
#[tokio::test]
async fn a_reapply_slower_than_the_deadline_is_cut_and_the_alert_still_published() {
    let world = world().await;
    let (id, _) = world.created().await.pop().unwrap();
    let event = world.weakened(&id).await;
    world.proxy.fail_always("UpdatePolicy", Fault::Slow(Duration::from_secs(30)));
    let time = PUBLISH_RESERVE + REAPPLY_ALLOWANCE + Duration::from_secs(1);
    let started = Instant::now();

    let summary = handle_event_within(&event, &world.manager, Deadline::after(time)).await.expect("alerted");

    assert!(started.elapsed() < time, "finished before the deadline: {:?}", started.elapsed());
    assert!(started.elapsed() >= REAPPLY_ALLOWANCE, "the re-apply had its time: {:?}", started.elapsed());
    assert_eq!(summary.outcome, InvocationOutcome::Alerted);
    assert!(world.proxy.count("UpdatePolicy") >= 1, "the re-apply was started");
    let alerts = world.estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].action_status(), "failed");
    let detail = alerts[0].body["action"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("did not finish before the invocation's deadline"), "{detail}");
}

/// The organisation cannot even be read before the deadline: nothing was reached, nothing is
/// published or changed, and the invocation fails `DeadlineReached` so Lambda delivers the event
/// again.
#[tokio::test]
async fn a_read_slower_than_the_deadline_fails_the_invocation_for_a_retry() {
    let world = world().await;
    let (id, _) = world.created().await.pop().unwrap();
    let event = world.weakened(&id).await;
    world.proxy.fail_always("ListPolicies", Fault::Slow(Duration::from_secs(30)));
    let time = PUBLISH_RESERVE + Duration::from_secs(1);
    let started = Instant::now();

    let error = handle_event_within(&event, &world.manager, Deadline::after(time)).await.expect_err("out of time");

    assert!(started.elapsed() < time, "finished before the deadline: {:?}", started.elapsed());
    assert_eq!(error.kind(), "DeadlineReached", "{error}");
    assert!(error.to_string().contains("guardrail policies"), "{error}");
    assert!(world.estate.alerts().await.is_empty());
    assert_eq!(world.estate.scp_content(&id).await, serde_json::from_str::<Value>(WEAKENED).unwrap());
}

/// A stack's Create whose writes Organizations answers too slowly is answered FAILED before the
/// deadline, so CloudFormation does not wait an hour for an answer that never comes.
#[tokio::test]
async fn a_stack_request_slower_than_the_deadline_is_answered_failed_in_time() {
    let world = world().await;
    world.proxy.fail_always("CreatePolicy", Fault::Slow(Duration::from_secs(30)));
    let time = PUBLISH_RESERVE + Duration::from_secs(2);
    let started = Instant::now();

    let request = custom_resource_request("Create", &world.cloudformation.url, None);
    let summary = handle_event_within(&request, &world.manager, Deadline::after(time)).await.expect("answered");

    assert!(started.elapsed() < time, "finished before the deadline: {:?}", started.elapsed());
    assert_eq!(summary.outcome, InvocationOutcome::Failed);
    let answer = world.cloudformation.next().body;
    assert_eq!(answer["Status"], "FAILED");
    assert!(answer["Reason"].as_str().unwrap_or_default().contains("timeout"), "{answer:#}");
}

/// With the findings ledger, the same tampering event delivered again, and delivered twice at
/// the same moment, is re-applied once and alerted once.
#[tokio::test]
async fn with_the_ledger_a_repeated_delivery_is_reapplied_and_alerted_once() {
    let world = world_with(true).await;
    let (id, _) = world.created().await.pop().unwrap();

    // One delivery after the other.
    let event = world.weakened(&id).await;
    let first = handle_event(&event, &world.manager).await.expect("handled");
    let again = handle_event(&event, &world.manager).await.expect("repeat");
    assert_eq!(first.outcome, InvocationOutcome::Alerted);
    assert_eq!(again.outcome, InvocationOutcome::Ignored, "{again:?}");
    assert_eq!(world.proxy.served_calls_of("UpdatePolicy").len(), 1, "re-applied once");
    let alerts = world.estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].action_status(), "succeeded");
    world.proxy.clear_requests();

    // A new tampering (its own event id), its event delivered twice at once.
    let mut event = world.weakened(&id).await;
    event["id"] = json!("second-tampering");
    event["detail"]["eventID"] = json!("second-tampering");
    let (one, two) = tokio::join!(handle_event(&event, &world.manager), handle_event(&event, &world.manager));
    let mut outcomes = vec![one.expect("handled").outcome, two.expect("handled").outcome];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [InvocationOutcome::Alerted, InvocationOutcome::Ignored]);
    assert_eq!(world.proxy.served_calls_of("UpdatePolicy").len(), 1, "re-applied once");
    assert_ne!(world.estate.scp_content(&id).await, serde_json::from_str::<Value>(WEAKENED).unwrap());
    let alerts = world.estate.alerts().await;
    assert_eq!(alerts.len(), 1, "the new tampering once: {alerts:#?}");
}

/// With the findings ledger, a drift the re-apply cannot fix (UpdatePolicy denied) is alerted once:
/// the next scheduled check finds the same finding in the same state, publishes nothing, and its
/// summary says `logged` with the ledger's reason, not `alerted`.
#[tokio::test]
async fn with_the_ledger_an_unchanged_drift_is_logged_not_alerted_again() {
    let world = world_with(true).await;
    let (id, _) = world.created().await.pop().unwrap();
    world.weakened(&id).await;
    world.proxy.fail_always("UpdatePolicy", Fault::AccessDenied);
    let check = |n: u32| {
        json!({
            "version": "0", "id": format!("drift-{n}"), "detail-type": "Scheduled Event", "source": "aws.scheduler",
            "account": MOTO_ACCOUNT, "time": "2026-12-04T10:00:00Z", "region": HOME_REGION, "resources": [],
            "detail": {}
        })
    };

    let first = handle_event(&check(1), &world.manager).await.expect("alerted");
    let again = handle_event(&check(2), &world.manager).await.expect("logged");

    assert_eq!(first.outcome, InvocationOutcome::Alerted, "{first:?}");
    assert_eq!(again.outcome, InvocationOutcome::Logged, "{again:?}");
    let alerts = world.estate.alerts().await;
    assert_eq!(alerts.len(), 1, "one alert for the unchanged drift: {alerts:#?}");
    assert_eq!(alerts[0].action_status(), "failed");
    let quiet = &again.findings[0];
    assert!(quiet.alert_message_id.is_none() && quiet.alert_note.is_some(), "{quiet:?}");
}
