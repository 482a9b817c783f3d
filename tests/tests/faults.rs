//! Fault scenarios, table-driven, for rds-guard, network-guard, pipeline-guard and
//! guardduty-responder (guardrail-manager's are in faults_guardrails.rs): the real handlers and the real
//! SDK talk to moto through the fault-injecting proxy (`rdsguard_tests::proxy`), which throttles,
//! refuses, slows down or takes down the AWS calls each scenario names. Seeding and reading back go
//! to moto directly, so only the code under test sees the faults.
//!
//! Every scenario ends in one of the outcomes README "Reliability" lists: the fix and one alert,
//! a `failed` alert carrying the AWS error, or a failed invocation (Lambda retries the event and
//! keeps it in the dead-letter queue) with the alert kept in the undelivered-alert queue, or with
//! an error that says why when even that queue is down. Nothing is silent.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use guardduty_responder::config::ResponderConfig;
use guardduty_responder::GuardDutyResponder;
use pipeline_guard::config::PipelineConfig;
use pipeline_guard::PipelineGuard;
use rds_guard::RdsGuard;
use rdsguard::aws::{SessionNetworkConnector, SessionPipelineConnector, SessionResponderConnector};
use rdsguard::kernel::{Deadline, InvocationFailure, PUBLISH_RESERVE};
use rdsguard::ledger::LedgerConfig;
use rdsguard::policy::Policy;
use rdsguard::startup::Plumbing;
use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::events::{authorize_ingress, create_db_instance, rds_api_call};
use rdsguard_tests::ledger::create_findings_table;
use rdsguard_tests::proxy::ClientBudget;
use rdsguard_tests::threat_events::{api_call, RdsFinding};
use rdsguard_tests::{Estate, Fault, FaultProxy, On, Times, MOTO_ACCOUNT};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    RdsGuard,
    NetworkGuard,
    PipelineGuard,
    GuardDutyResponder,
}

const FUNCTIONS: [Function; 4] =
    [Function::RdsGuard, Function::NetworkGuard, Function::PipelineGuard, Function::GuardDutyResponder];

/// guardduty-responder's response here: make the database private (one action, one outcome).
const RESPOND: (&str, &str) = ("GUARDDUTY_RESPONSES", "CredentialAccess:RDS/*=make_private");

/// What one invocation ended in, as Lambda would see it.
#[derive(Debug)]
enum Ended {
    /// The invocation succeeded; each finding's action status.
    Succeeded(Vec<String>),
    /// The invocation failed (`errorType`, `errorMessage`).
    Failed { kind: &'static str, message: String },
}

/// One function's world: moto with one offending resource, the proxy in front of it, the event.
struct World {
    function: Function,
    estate: Estate,
    proxy: FaultProxy,
    /// The database (rds-guard) or security group (network-guard).
    resource: String,
    event: Value,
    /// Alerts pass through the findings ledger (FINDINGS_TABLE) as in a stack that has one.
    ledger: bool,
}

/// The findings ledger's table in [`World::with_ledger`].
const FINDINGS_TABLE: &str = "rdsguard-findings";

impl Function {
    fn name(self) -> &'static str {
        match self {
            Self::RdsGuard => "rds-guard",
            Self::NetworkGuard => "network-guard",
            Self::PipelineGuard => "pipeline-guard",
            Self::GuardDutyResponder => "guardduty-responder",
        }
    }

    /// The call that reads the resource's state.
    fn describe(self) -> &'static str {
        match self {
            Self::RdsGuard | Self::GuardDutyResponder => "DescribeDBInstances",
            Self::NetworkGuard => "DescribeSecurityGroupRules",
            Self::PipelineGuard => "GetTrailStatus",
        }
    }

    /// The call that fixes it.
    fn fix(self) -> &'static str {
        match self {
            Self::RdsGuard | Self::GuardDutyResponder => "ModifyDBInstance",
            Self::NetworkGuard => "RevokeSecurityGroupIngress",
            Self::PipelineGuard => "StartLogging",
        }
    }

    /// The service's real error codes for a refusal and for throttling.
    fn denied_code(self) -> &'static str {
        match self {
            Self::RdsGuard | Self::GuardDutyResponder => "AccessDenied",
            Self::NetworkGuard => "UnauthorizedOperation",
            Self::PipelineGuard => "AccessDeniedException",
        }
    }

    fn throttled_code(self) -> &'static str {
        match self {
            Self::RdsGuard | Self::GuardDutyResponder => "Throttling",
            Self::NetworkGuard => "RequestLimitExceeded",
            Self::PipelineGuard => "ThrottlingException",
        }
    }

    /// Seeds one offending resource: a public database, a group in front of a database open on
    /// 5432 to the world, a trail that was stopped, a public database GuardDuty saw a malicious
    /// login on.
    async fn world(self) -> World {
        let estate = Estate::start().await;
        let rds = estate.rds(HOME_REGION).await;
        let (resource, event) = match self {
            Self::RdsGuard => {
                estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("orders-db") }).await;
                ("orders-db".to_owned(), create_db_instance(MOTO_ACCOUNT, HOME_REGION, "orders-db", true, true))
            }
            Self::NetworkGuard => {
                let group = open_group(&estate, "orders-db").await;
                let event = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 5432, &["0.0.0.0/0"]);
                (group, event)
            }
            Self::PipelineGuard => {
                estate.create_logging_trail(HOME_REGION, "org-audit", &[]).await;
                estate.stop_logging(HOME_REGION, "org-audit").await;
                let request = json!({"name": "org-audit"});
                let event =
                    api_call("cloudtrail.amazonaws.com", "StopLogging", MOTO_ACCOUNT, HOME_REGION, request, None);
                ("org-audit".to_owned(), event)
            }
            Self::GuardDutyResponder => {
                estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("orders-db") }).await;
                ("orders-db".to_owned(), RdsFinding::malicious_login(MOTO_ACCOUNT, HOME_REGION, "orders-db").event())
            }
        };
        let proxy = FaultProxy::in_front_of(&estate.moto);
        World { function: self, estate, proxy, resource, event, ledger: false }
    }
}

/// A security group open on 5432 to 0.0.0.0/0, in front of a postgres instance named `name`.
async fn open_group(estate: &Estate, name: &str) -> String {
    let ec2 = estate.ec2(HOME_REGION).await;
    let rds = estate.rds(HOME_REGION).await;
    let group = estate.create_security_group(&ec2, name, &[]).await;
    estate.authorize(&ec2, &group, "tcp", (5432, 5432), &["0.0.0.0/0"]).await;
    estate.create_instance_in_groups(&rds, &NewInstance::postgres(name), None, &[&group]).await;
    group
}

impl World {
    /// Runs the real handler, wired as its `main` wires it, with every AWS call through the proxy.
    async fn invoke_with(&self, budget: ClientBudget, deadline: Deadline) -> Ended {
        let with_ledger = [RESPOND, ("FINDINGS_TABLE", FINDINGS_TABLE)];
        let variables = self.estate.variables(if self.ledger { &with_ledger } else { &with_ledger[..1] });
        let policy = Policy::from_vars(variables.clone()).expect("policy");
        let mut plumbing = Plumbing::new(policy.clone(), self.proxy.sdk_config_with(HOME_REGION, budget).await);
        if self.ledger {
            // The ledger reaches DynamoDB directly: the scenarios fault the function's own calls.
            let config = LedgerConfig::from_vars(variables.clone()).expect("ledger settings");
            plumbing = plumbing.with_ledger(&config, &self.estate.moto.sdk_config(HOME_REGION).await);
        }
        match self.function {
            Function::RdsGuard => {
                let guard = RdsGuard {
                    rds: Arc::new(rdsguard::aws::SessionRdsConnector::new(plumbing.sessions)),
                    policy,
                    alerting: plumbing.alerting,
                    confirmation: Default::default(),
                };
                ended(rds_guard::handle_event_within(&self.event, &guard, deadline).await.map(|s| s.findings))
            }
            Function::NetworkGuard => {
                let network = Arc::new(SessionNetworkConnector::new(plumbing.sessions));
                let guard = self.estate.network_guard_with(policy, network, plumbing.alerting);
                ended(network_guard::handle_event_within(&self.event, &guard, deadline).await.map(|s| s.findings))
            }
            Function::PipelineGuard => {
                let guard = PipelineGuard {
                    connector: Arc::new(SessionPipelineConnector::new(plumbing.sessions)),
                    policy,
                    config: PipelineConfig::from_vars(variables).expect("pipeline-guard settings"),
                    alerting: plumbing.alerting,
                    confirmation: Default::default(),
                };
                ended(pipeline_guard::handle_event_within(&self.event, &guard, deadline).await.map(|s| s.findings))
            }
            Function::GuardDutyResponder => {
                let responder = GuardDutyResponder {
                    connector: Arc::new(SessionResponderConnector::new(plumbing.sessions)),
                    policy,
                    config: ResponderConfig::from_vars(variables).expect("guardduty-responder settings"),
                    alerting: plumbing.alerting,
                    confirmation: Default::default(),
                };
                ended(
                    guardduty_responder::handle_event_within(&self.event, &responder, deadline)
                        .await
                        .map(|s| s.findings),
                )
            }
        }
    }

    /// The same world with the findings ledger on (its table created on moto).
    async fn with_ledger(mut self) -> Self {
        create_findings_table(&self.estate.moto, HOME_REGION, FINDINGS_TABLE).await;
        self.ledger = true;
        self
    }

    async fn invoke(&self) -> Ended {
        self.invoke_with(ClientBudget::default(), Deadline::none()).await
    }

    /// Whether the resource is compliant now (read from moto directly).
    async fn fixed(&self) -> bool {
        match self.function {
            Function::PipelineGuard => self.estate.is_logging(HOME_REGION, &self.resource).await,
            Function::RdsGuard | Function::GuardDutyResponder => {
                let rds = self.estate.rds(HOME_REGION).await;
                self.estate.instance(&rds, &self.resource).await.expect("database").publicly_accessible == Some(false)
            }
            Function::NetworkGuard => {
                let ec2 = self.estate.ec2(HOME_REGION).await;
                self.estate.ingress_rules(&ec2, &self.resource).await.iter().all(|r| r.source != "0.0.0.0/0")
            }
        }
    }

    fn label(&self) -> &'static str {
        self.function.name()
    }
}

fn ended<E: InvocationFailure>(result: Result<Vec<rdsguard::report::FindingSummary>, E>) -> Ended {
    match result {
        Ok(findings) => Ended::Succeeded(findings.iter().map(|f| f.action.status.as_str().to_owned()).collect()),
        Err(e) => Ended::Failed { kind: e.kind(), message: e.to_string() },
    }
}

/// Describe throttled twice, then served: the SDK's retries get through; one fix, one alert.
#[tokio::test]
async fn describe_throttled_twice_then_served_fixes_and_alerts_once() {
    for function in FUNCTIONS {
        let world = function.world().await;
        let name = world.label();
        world.proxy.inject(On::action(function.describe()), Fault::Throttle, Times::First(2));

        let ended = world.invoke().await;

        assert!(matches!(&ended, Ended::Succeeded(s) if s == &["succeeded"]), "{name}: {ended:?}");
        let describes = world.proxy.calls_of(function.describe());
        assert!(describes.len() >= 3, "{name}: two throttled, then served: {}", describes.len());
        assert_eq!(describes.iter().filter(|c| c.injected == Some(Fault::Throttle)).count(), 2, "{name}");
        assert_eq!(world.proxy.served_calls_of(function.fix()).len(), 1, "{name}: the fix is made once");
        assert!(world.fixed().await, "{name}: fixed");
        let alerts = world.estate.alerts().await;
        assert_eq!(alerts.len(), 1, "{name}: one alert: {alerts:#?}");
        assert_eq!(alerts[0].action_status(), "succeeded", "{name}");
    }
}

/// The fix refused (the member role lacks the permission, an SCP denies it): the resource stays as
/// it was, the alert says `failed` with the AWS error, and the invocation succeeds (retrying would
/// be refused again).
#[tokio::test]
async fn the_fix_denied_is_a_failed_alert_with_the_aws_error() {
    for function in FUNCTIONS {
        let world = function.world().await;
        let name = world.label();
        world.proxy.inject(On::action(function.fix()), Fault::AccessDenied, Times::Always);

        let ended = world.invoke().await;

        assert!(matches!(&ended, Ended::Succeeded(s) if s == &["failed"]), "{name}: {ended:?}");
        assert_eq!(world.proxy.count(function.fix()), 1, "{name}: a refusal is not retried");
        assert!(!world.fixed().await, "{name}: nothing changed");
        let alerts = world.estate.alerts().await;
        assert_eq!(alerts.len(), 1, "{name}: {alerts:#?}");
        assert_eq!(alerts[0].action_status(), "failed", "{name}");
        let detail = alerts[0].body["action"]["detail"].as_str().unwrap_or_default();
        eprintln!("{name}: fix denied: {detail}");
        assert!(detail.contains(function.fix()) && detail.contains(function.denied_code()), "{name}: {detail}");
        assert!(detail.contains(&format!("{}:{}", world.proxy.calls_of(function.fix())[0].service, function.fix())));
    }
}

/// The fix throttled past the SDK's retry budget (3 attempts): `failed`, with the throttling code,
/// not `deferred` — the handler cannot tell when the API will take the call again, and the alert
/// says what to do by hand; the invocation succeeds, so the event is not retried into the same
/// throttling.
#[tokio::test]
async fn the_fix_throttled_past_the_retry_budget_is_a_failed_alert() {
    for function in FUNCTIONS {
        let world = function.world().await;
        let name = world.label();
        world.proxy.inject(On::action(function.fix()), Fault::Throttle, Times::Always);

        let ended = world.invoke().await;

        assert!(matches!(&ended, Ended::Succeeded(s) if s == &["failed"]), "{name}: {ended:?}");
        assert_eq!(world.proxy.count(function.fix()), 3, "{name}: the SDK's three attempts");
        assert!(!world.fixed().await, "{name}");
        let alerts = world.estate.alerts().await;
        assert_eq!(alerts.len(), 1, "{name}: {alerts:#?}");
        let detail = alerts[0].body["action"]["detail"].as_str().unwrap_or_default();
        eprintln!("{name}: fix throttled: {detail}");
        assert!(detail.contains(function.throttled_code()), "{name}: {detail}");
    }
}

/// SNS down: the fix is made, the alert is kept in the undelivered-alert queue, and the invocation
/// fails so Lambda retries it (the retry finds the resource compliant; the queue keeps the alert).
#[tokio::test]
async fn sns_down_keeps_the_alert_in_the_undelivered_queue_and_fails_the_invocation() {
    for function in FUNCTIONS {
        let world = function.world().await;
        let name = world.label();
        world.proxy.fail_service("sns", Fault::Unavailable);

        let ended = world.invoke().await;

        match &ended {
            Ended::Failed { kind, message } => {
                assert_eq!(*kind, "AlertPublishFailed", "{name}");
                assert!(message.starts_with("1 of 1 alerts could not be published"), "{name}: {message}");
                assert!(message.contains("ServiceUnavailable"), "{name}: {message}");
            }
            other => panic!("{name}: the invocation must fail, got {other:?}"),
        }
        assert_eq!(world.proxy.count("PublishBatch"), 3, "{name}: publishing was retried by the SDK");
        assert!(world.fixed().await, "{name}: the fix was made before publishing");
        assert!(world.estate.alerts().await.is_empty(), "{name}");
        let kept = world.estate.dead_letters().await;
        assert_eq!(kept.len(), 1, "{name}: {kept:#?}");
        assert_eq!(kept[0]["action"]["status"], "succeeded", "{name}");
        assert_eq!(kept[0]["source"], name);
    }
}

/// SNS and the undelivered-alert queue both down: the invocation fails with the publishing error,
/// and Lambda keeps the event (retries, then its dead-letter queue). Nothing is kept in the queue.
#[tokio::test]
async fn sns_and_the_undelivered_queue_down_fail_the_invocation_with_the_reason() {
    for function in FUNCTIONS {
        let world = function.world().await;
        let name = world.label();
        world.proxy.fail_service("sns", Fault::Unavailable);
        world.proxy.fail_service("sqs", Fault::Unavailable);

        let ended = world.invoke().await;

        match &ended {
            Ended::Failed { kind, message } => {
                assert_eq!(*kind, "AlertPublishFailed", "{name}");
                eprintln!("{name}: SNS and queue down: {kind}: {message}");
                assert!(
                    message.contains("could not be published") && message.contains("ServiceUnavailable"),
                    "{message}"
                );
            }
            other => panic!("{name}: the invocation must fail, got {other:?}"),
        }
        assert!(world.proxy.count("SendMessage") >= 1, "{name}: keeping the alert was tried");
        assert!(world.fixed().await, "{name}");
        assert!(world.estate.alerts().await.is_empty() && world.estate.dead_letters().await.is_empty(), "{name}");
    }
}

/// The fix answered slower than the client's attempt timeout, every attempt: the SDK gives up and
/// the alert, published, says `failed` with the timeout. The proxy still forwarded each attempt
/// after its delay and moto applied the change (as AWS may apply a call whose answer never
/// arrived), so the resource is compliant although the alert says `failed`: the alert errs on the
/// side of a human looking, and the next event finds the resource compliant.
#[tokio::test]
async fn a_fix_answered_past_the_attempt_timeout_is_a_published_failed_alert() {
    for function in FUNCTIONS {
        let world = function.world().await;
        let name = world.label();
        let budget = ClientBudget { max_attempts: 2, attempt_timeout: Duration::from_millis(1_500) };
        world.proxy.inject(On::action(function.fix()), Fault::Slow(Duration::from_millis(2_500)), Times::Always);

        let started = Instant::now();
        let ended = world.invoke_with(budget, Deadline::none()).await;

        assert!(matches!(&ended, Ended::Succeeded(s) if s == &["failed"]), "{name}: {ended:?}");
        assert!(started.elapsed() < Duration::from_secs(15), "{name}: {:?}", started.elapsed());
        let alerts = world.estate.alerts().await;
        assert_eq!(alerts.len(), 1, "{name}: {alerts:#?}");
        let detail = alerts[0].body["action"]["detail"].as_str().unwrap_or_default().to_lowercase();
        eprintln!("{name}: fix too slow: {detail}");
        assert!(detail.contains("timeout") || detail.contains("timed out"), "{name}: {detail}");
        assert_eq!(world.proxy.count(function.fix()), 2, "{name}: both attempts sent");
        assert!(world.fixed().await, "{name}: moto applied the late call");
    }
}

/// network-guard, one call naming two groups (a database created behind both), the first group's
/// rule read slow enough to use up the invocation's time: the first group is fixed and its alert
/// published, then the invocation fails with `DeadlineReached` naming the group left unchecked
/// (the retry checks it; the first group is compliant by then).
#[tokio::test]
async fn network_guard_near_the_deadline_publishes_what_it_reached_then_fails() {
    let estate = Estate::start().await;
    let ec2 = estate.ec2(HOME_REGION).await;
    let rds = estate.rds(HOME_REGION).await;
    let first = estate.create_security_group(&ec2, "first", &[]).await;
    let second = estate.create_security_group(&ec2, "second", &[]).await;
    for group in [&first, &second] {
        estate.authorize(&ec2, group, "tcp", (5432, 5432), &["0.0.0.0/0"]).await;
    }
    estate.create_instance_in_groups(&rds, &NewInstance::postgres("two-groups-db"), None, &[&first, &second]).await;
    let event = rds_api_call(
        "CreateDBInstance",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": "two-groups-db", "engine": "postgres", "vpcSecurityGroupIds": [first, second]}),
        json!({"dBInstanceIdentifier": "two-groups-db"}),
    );
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let world =
        World { function: Function::NetworkGuard, estate, proxy, resource: first.clone(), event, ledger: false };
    // The deadline leaves the publishing reserve, one group's allowance (5 s) and 1.5 s; the first
    // group's rule read answers after 2.5 s (inside the 5 s attempt timeout), so when the second
    // group's turn comes, less than its allowance is left.
    world.proxy.inject(
        On::action("DescribeSecurityGroupRules"),
        Fault::Slow(Duration::from_millis(2_500)),
        Times::First(1),
    );
    let deadline = Deadline::after(PUBLISH_RESERVE + Duration::from_millis(6_500));

    let ended = world.invoke_with(ClientBudget::default(), deadline).await;

    match &ended {
        Ended::Failed { kind, message } => {
            assert_eq!(*kind, "DeadlineReached");
            assert!(message.contains(&second) && !message.contains(&first), "{message}");
            assert!(message.contains("1 outcome(s) already reached were alerted"), "{message}");
        }
        other => panic!("the deadline must fail the invocation, got {other:?}"),
    }
    assert!(world.fixed().await, "the first group was fixed");
    assert_eq!(world.estate.ingress_rules(&ec2, &second).await.len(), 1, "the second group was not touched");
    let alerts = world.estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].body["resource_id"], first.as_str());
    assert_eq!(alerts[0].action_status(), "succeeded");
}

/// The Describe call throttled past the retry budget (every attempt): nothing is changed on state
/// that could not be read, and it is never silent. rds-guard and network-guard fail the invocation
/// (`DescribeFailed`: Lambda retries the event later, then keeps it in the dead-letter queue);
/// pipeline-guard and guardduty-responder, whose events are alerts in themselves (a trail stopped,
/// a GuardDuty finding), alert at once with status `failed` and the throttling error.
#[tokio::test]
async fn describe_throttled_past_the_retry_budget_changes_nothing_and_is_never_silent() {
    for function in FUNCTIONS {
        let world = function.world().await;
        let name = world.label();
        world.proxy.inject(On::action(function.describe()), Fault::Throttle, Times::Always);

        let ended = world.invoke().await;

        assert_eq!(world.proxy.count(function.describe()), 3, "{name}: the SDK's three attempts");
        assert_eq!(world.proxy.count(function.fix()), 0, "{name}: nothing done on unread state");
        assert!(!world.fixed().await, "{name}");
        let alerts = world.estate.alerts().await;
        match function {
            Function::RdsGuard | Function::NetworkGuard => {
                match &ended {
                    Ended::Failed { kind, message } => {
                        assert_eq!(*kind, "DescribeFailed", "{name}");
                        assert!(message.contains(function.throttled_code()), "{name}: {message}");
                    }
                    other => panic!("{name}: the invocation must fail to be retried, got {other:?}"),
                }
                assert!(alerts.is_empty(), "{name}: {alerts:#?}");
            }
            Function::PipelineGuard | Function::GuardDutyResponder => {
                assert!(matches!(&ended, Ended::Succeeded(s) if s == &["failed"]), "{name}: {ended:?}");
                assert_eq!(alerts.len(), 1, "{name}: {alerts:#?}");
                assert_eq!(alerts[0].action_status(), "failed", "{name}");
                let detail = alerts[0].body["action"]["detail"].as_str().unwrap_or_default();
                assert!(detail.contains(function.describe()) && detail.contains(function.throttled_code()), "{detail}");
            }
        }
    }
}

/// rds-guard and guardduty-responder, the database's first read answered slowly (2.5 s) close to
/// the invocation's deadline: what was reached, the finding judged, is published before the
/// deadline with the fix `deferred` (not sent: too little time was left to send and confirm it;
/// re-checked later (the re-check queue, the next event or sweep)), and the invocation succeeds. Nothing is lost to Lambda's timeout.
#[tokio::test]
async fn a_slow_read_near_the_deadline_publishes_the_outcome_reached_with_the_fix_deferred() {
    for function in [Function::RdsGuard, Function::GuardDutyResponder] {
        let world = function.world().await;
        let name = world.label();
        let slow = Duration::from_millis(2_500);
        world.proxy.inject(On::action("DescribeDBInstances"), Fault::Slow(slow), Times::First(1));
        // Room for the read, not for the fix after it: the publishing reserve, the fix's 5 s write
        // allowance, and 1.5 s.
        let time = PUBLISH_RESERVE + Duration::from_millis(6_500);

        let started = Instant::now();
        let ended = world.invoke_with(ClientBudget::default(), Deadline::after(time)).await;

        assert!(started.elapsed() < time, "{name}: finished before the deadline: {:?}", started.elapsed());
        assert!(started.elapsed() >= slow, "{name}: the slow read was waited for");
        assert!(matches!(&ended, Ended::Succeeded(s) if s == &["deferred"]), "{name}: {ended:?}");
        assert_eq!(world.proxy.count(function.fix()), 0, "{name}: no fix started that could not be confirmed");
        assert!(!world.fixed().await, "{name}");
        let alerts = world.estate.alerts().await;
        assert_eq!(alerts.len(), 1, "{name}: {alerts:#?}");
        assert_eq!(alerts[0].action_status(), "deferred", "{name}");
        let detail = alerts[0].body["action"]["detail"].as_str().unwrap_or_default();
        eprintln!("{name}: slow read near the deadline: {detail}");
        assert!(detail.contains("deadline"), "{name}: {detail}");
    }
}

/// pipeline-guard near the deadline: with too little time left no restore is started, and a
/// restore AWS answers too slowly is cut at the deadline for work; either way the tampering alert
/// is published before the deadline, `failed`, saying which (nothing re-tries a restore by itself).
#[tokio::test]
async fn pipeline_guard_near_the_deadline_publishes_the_tampering_alert_failed() {
    let world = Function::PipelineGuard.world().await;
    // Too little time: the publishing reserve and 2 s, under the restore's 5 s allowance.
    let time = PUBLISH_RESERVE + Duration::from_secs(2);
    let started = Instant::now();
    let ended = world.invoke_with(ClientBudget::default(), Deadline::after(time)).await;
    assert!(started.elapsed() < time, "finished before the deadline: {:?}", started.elapsed());
    assert!(matches!(&ended, Ended::Succeeded(s) if s == &["failed"]), "{ended:?}");
    assert_eq!(world.proxy.count("StartLogging"), 0, "no restore started");
    let alerts = world.estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let detail = alerts[0].body["action"]["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("not restored") && detail.contains("deadline"), "{detail}");

    // StartLogging answering after 30 s: cut at the deadline for work.
    world.proxy.fail_always("StartLogging", Fault::Slow(Duration::from_secs(30)));
    let time = PUBLISH_RESERVE + pipeline_guard::RESTORE_ALLOWANCE + Duration::from_secs(1);
    let started = Instant::now();
    let ended = world.invoke_with(ClientBudget::default(), Deadline::after(time)).await;
    assert!(started.elapsed() < time, "finished before the deadline: {:?}", started.elapsed());
    assert!(matches!(&ended, Ended::Succeeded(s) if s == &["failed"]), "{ended:?}");
    assert!(world.proxy.count("StartLogging") >= 1, "the restore was started");
    let alerts = world.estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let detail = alerts[0].body["action"]["detail"].as_str().unwrap_or_default();
    eprintln!("pipeline-guard: restore cut at the deadline: {detail}");
    assert!(detail.contains("did not finish before the invocation's deadline"), "{detail}");
}

/// What two deliveries of one event ended in: fix calls AWS served, alerts published.
async fn delivered_twice(function: Function, at_once: bool) -> (usize, usize) {
    let world = function.world().await.with_ledger().await;
    let name = world.label();
    let (first, second) = if at_once {
        tokio::join!(world.invoke(), world.invoke())
    } else {
        (world.invoke().await, world.invoke().await)
    };
    for ended in [&first, &second] {
        assert!(matches!(ended, Ended::Succeeded(_)), "{name}: {ended:?}");
    }
    assert!(world.fixed().await, "{name}");
    let alerts = world.estate.alerts().await;
    assert!(alerts.iter().any(|a| a.action_status() == "succeeded"), "{name}: {alerts:#?}");
    (world.proxy.served_calls_of(function.fix()).len(), alerts.len())
}

/// The same event delivered twice (EventBridge and Lambda deliver at least once), one delivery
/// after the other, with the findings ledger on: one fix, one alert; the second delivery finds the
/// resource compliant and the ledger has nothing new to say. rds-guard and network-guard; for
/// pipeline-guard and guardduty-responder see the ignored test below.
#[tokio::test]
async fn the_same_event_delivered_twice_with_the_ledger_fixes_once_and_alerts_once() {
    for function in [Function::RdsGuard, Function::NetworkGuard] {
        assert_eq!(delivered_twice(function, false).await, (1, 1), "{}: (fix calls, alerts)", function.name());
    }
}

/// Every function, with the findings ledger on: the same event delivered twice, one after the
/// other or two at once, fixes once and alerts once. The first delivery claims the event in the
/// ledger's table before it reads anything (rdsguard::ledger::event_claim); the second finds it
/// handled, or waits for the holder to finish and then finds it handled, and is ignored as a
/// repeated delivery. Without the claim, pipeline-guard and guardduty-responder alerted a replay
/// again, and two at once both read the resource before either fixed it, so every function sent
/// the fix twice.
///
/// moto runs requests one at a time; "at once" is two invocations on one Tokio task (`join!`),
/// interleaving at every AWS call, which is where a race between two invocations is decided.
#[tokio::test]
async fn every_function_fixes_once_and_alerts_once_for_an_event_delivered_twice_or_at_once() {
    let mut gaps = Vec::new();
    for function in FUNCTIONS {
        for at_once in [false, true] {
            let (fixes, alerts) = delivered_twice(function, at_once).await;
            let how = if at_once { "two at once" } else { "one after the other" };
            eprintln!("{} ({how}): {fixes} fix call(s), {alerts} alert(s)", function.name());
            if (fixes, alerts) != (1, 1) {
                gaps.push(format!("{} ({how}): {fixes} fix calls, {alerts} alerts", function.name()));
            }
        }
    }
    assert!(gaps.is_empty(), "{gaps:#?}");
}

/// A delivery that failed is not a repeat: with the ledger on, SNS and the undelivered-alert queue
/// down, the first invocation fails (its event claim is marked failed); Lambda's retry of the same
/// event, once SNS is back, takes the claim and delivers the alert. The claim never costs an alert.
#[tokio::test]
async fn a_retry_after_a_failed_delivery_is_handled_not_ignored_as_a_repeat() {
    for function in FUNCTIONS {
        let world = function.world().await.with_ledger().await;
        let name = world.label();
        world.proxy.fail_service("sns", Fault::Unavailable);
        world.proxy.fail_service("sqs", Fault::Unavailable);
        let first = world.invoke().await;
        assert!(matches!(&first, Ended::Failed { kind: "AlertPublishFailed", .. }), "{name}: {first:?}");
        world.proxy.clear_faults();

        let retry = world.invoke().await;

        assert!(matches!(&retry, Ended::Succeeded(_)), "{name}: {retry:?}");
        let alerts = world.estate.alerts().await;
        assert_eq!(alerts.len(), 1, "{name}: the retry alerted: {alerts:#?}");
        eprintln!("{name}: the retry's alert: {} / {}", alerts[0].action_status(), alerts[0].body["action"]["detail"]);
        if matches!(function, Function::RdsGuard | Function::NetworkGuard) {
            // The retry finds the rule holding (network-guard: the revoked rule gone from the
            // group, the ledger's item still owing its alert) and publishes the fix's alert.
            // The retry finds the rule holding, and publishes the fix's alert the ledger owed.
            assert_eq!(alerts[0].action_status(), "succeeded", "{name}: {alerts:#?}");
            assert_eq!(alerts[0].body["transition"], "unpublished_retry", "{name}: {alerts:#?}");
        }
        assert!(world.fixed().await, "{name}");
        // And a third delivery, after the successful one, is a repeat.
        assert!(matches!(world.invoke().await, Ended::Succeeded(statuses) if statuses.is_empty()), "{name}");
        assert!(world.estate.alerts().await.is_empty(), "{name}: nothing more (the queue read above took the first)");
    }
}
