//! guardrail-manager under faults: the real handler and the real Organizations, SNS and SQS
//! clients talk to moto through the fault-injecting proxy (`rdsguard_tests::proxy`); seeding and
//! reading back go to moto directly. The same outcomes as the other functions' scenarios
//! (tests/tests/faults.rs): throttling the SDK retries through changes nothing twice, a refusal is a
//! `failed` alert carrying the AWS error, and an alert SNS will not take fails the invocation with
//! the alert kept in the undelivered-alert queue.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use guardrail_manager::{handle_event, GuardrailManager};
use rdsguard::kernel::InvocationOutcome;
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
    let estate = Estate::start().await;
    let org: Org = estate.create_organization().await;
    let settings = [
        ("GUARDRAILS", "deny-unencrypted-rds,protect-databases".to_owned()),
        ("GUARDRAIL_TARGETS", format!("{},{}", org.root_id, org.ou_id)),
    ];
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let manager = estate.guardrail_manager_through(&proxy, &settings).await;
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
