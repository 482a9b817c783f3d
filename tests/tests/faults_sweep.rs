//! sweep-worker and sweep-planner under faults, as tests/tests/faults.rs does for the event
//! functions: the real handlers and SDK clients talk to moto through the fault-injecting proxy;
//! seeding and reading back go to moto directly. A sweep message that did not end in every
//! outcome published is a batch item failure (SQS delivers it again, then its dead-letter queue
//! keeps it); a plan that could not send every message fails the invocation (the schedule retries).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use rdsguard::kernel::Deadline;
use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::{Estate, Fault, FaultProxy, On, Times, MOTO_ACCOUNT};
use serde_json::json;
use sweep_planner::plan;
use sweep_worker::{handle_batch, BatchReport, SweepWorker};

use crate::sweep::{failed_ids, queued, sqs_event, sweep_queue, targets, worker};

const DB: &str = "orders-db";

/// A public database no event ever named, and sweep-worker in front of moto through the proxy.
struct World {
    estate: Estate,
    proxy: FaultProxy,
    worker: SweepWorker,
}

async fn swept_world(ledgered: bool) -> World {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres(DB) }).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let config = proxy.sdk_config(HOME_REGION).await;
    let mut worker = worker(estate.policy(&[]), config.clone());
    if ledgered {
        rdsguard_tests::ledger::create_findings_table(&estate.moto, HOME_REGION, "rdsguard-findings").await;
        let ledger =
            rdsguard::ledger::LedgerConfig::from_vars([("FINDINGS_TABLE".to_owned(), "rdsguard-findings".to_owned())])
                .unwrap();
        worker.alerting = rdsguard::startup::Plumbing::new(worker.policy.clone(), config.clone())
            .with_ledger(&ledger, &config)
            .alerting;
    }
    World { estate, proxy, worker }
}

impl World {
    async fn sweep_within(&self, id: &str, deadline: Deadline) -> BatchReport {
        let event = sqs_event(&[(id, json!({"account": MOTO_ACCOUNT, "region": HOME_REGION}))]);
        handle_batch(event, &self.worker, deadline).await.expect("the batch is handled")
    }

    async fn sweep(&self, id: &str) -> BatchReport {
        self.sweep_within(id, Deadline::none()).await
    }

    async fn public(&self) -> bool {
        let rds = self.estate.rds(HOME_REGION).await;
        self.estate.instance(&rds, DB).await.unwrap().publicly_accessible == Some(true)
    }

    /// The RDS.2 alerts published for the database, as (status, detail).
    async fn public_alerts(&self) -> Vec<(String, String)> {
        let alerts = self.estate.alerts().await;
        alerts
            .iter()
            .filter(|a| a.rule() == "RDS.2" && a.body["resource_id"] == DB)
            .map(|a| (a.action_status().to_owned(), a.body["action"]["detail"].as_str().unwrap_or_default().to_owned()))
            .collect()
    }
}

/// The listing throttled twice, then served: the SDK's (adaptive) retries get through, the message
/// is swept, the database is made private by one ModifyDBInstance and alerted once.
#[tokio::test]
async fn the_listing_throttled_twice_then_served_fixes_and_alerts_once() {
    let world = swept_world(false).await;
    world.proxy.inject(On::action("DescribeDBInstances"), Fault::Throttle, Times::First(2));

    let report = world.sweep("m-1").await;

    assert!(report.batch_item_failures.is_empty(), "{report:#?}");
    assert_eq!(report.messages[0].outcome, "swept", "{report:#?}");
    assert!(!world.public().await);
    assert_eq!(world.proxy.served_calls_of("ModifyDBInstance").len(), 1, "fixed once");
    let alerts = world.public_alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].0, "succeeded");
}

/// The fix refused, and the fix throttled past the retry budget: a `failed` alert carrying the AWS
/// error (not `deferred`: nothing tries again before the next sweep, so a human is asked); the
/// database stays as it was.
#[tokio::test]
async fn the_fix_denied_or_throttled_past_the_budget_is_a_failed_alert_with_the_aws_error() {
    for (fault, code) in [(Fault::AccessDenied, "AccessDenied"), (Fault::Throttle, "Throttling")] {
        let world = swept_world(false).await;
        world.proxy.inject(On::action("ModifyDBInstance"), fault, Times::Always);

        let report = world.sweep("m-1").await;

        // The sweep is complete (the failure is the fix's, alerted): not delivered again; the next
        // sweep tries again.
        assert!(report.batch_item_failures.is_empty(), "{code}: {report:#?}");
        assert_eq!(report.messages[0].outcome, "swept", "{code}");
        assert!(world.public().await, "{code}");
        let alerts = world.public_alerts().await;
        assert_eq!(alerts.len(), 1, "{code}: {alerts:?}");
        assert_eq!(alerts[0].0, "failed", "{code}: {alerts:?}");
        assert!(alerts[0].1.contains("ModifyDBInstance") && alerts[0].1.contains(code), "{code}: {}", alerts[0].1);
    }
}

/// SNS down: the database is fixed, its alert is kept in the undelivered-alert queue, and the
/// message is a batch item failure (SQS delivers it again). SNS and that queue both down: the
/// message fails with the publishing error.
#[tokio::test]
async fn sns_down_keeps_the_alert_and_fails_the_message_and_with_the_queue_down_too_the_message_fails() {
    let world = swept_world(false).await;
    world.proxy.fail_service("sns", Fault::Unavailable);
    let report = world.sweep("m-1").await;
    assert_eq!(failed_ids(&report), ["m-1"], "{report:#?}");
    assert!(!world.public().await, "fixed before publishing");
    let kept = world.estate.dead_letters().await;
    assert!(kept.iter().any(|a| a["rule"] == "RDS.2" && a["resource_id"] == DB), "{kept:#?}");

    let world = swept_world(false).await;
    world.proxy.fail_service("sns", Fault::Unavailable);
    world.proxy.fail_service("sqs", Fault::Unavailable);
    let report = world.sweep("m-1").await;
    assert_eq!(failed_ids(&report), ["m-1"], "{report:#?}");
    let errors = report.messages[0].errors.join("; ");
    eprintln!("sweep-worker: SNS and the queue down: {errors}");
    assert!(errors.contains("could not be published"), "{errors}");
    assert!(world.estate.alerts().await.is_empty());
}

/// The listing answered slowly (5 s) with 24 s left: a sweep keeps the publishing reserve back
/// from its work, and a fix is sent only with its 5 s allowance and the reserve still left, so
/// after the slow listing the public database's fix is not sent: its alert is published before
/// the deadline, `deferred` (the re-check queue or the next sweep finishes it). Without the slow
/// answer the same deadline leaves time to fix.
#[tokio::test]
async fn a_slow_listing_near_the_deadline_publishes_the_finding_with_the_fix_deferred() {
    let world = swept_world(false).await;
    let slow = Duration::from_secs(5);
    world.proxy.inject(On::action("DescribeDBInstances"), Fault::Slow(slow), Times::First(1));
    let time = Duration::from_secs(24);
    let started = Instant::now();

    let report = world.sweep_within("m-1", Deadline::after(time)).await;

    assert!(started.elapsed() < time, "finished before the deadline: {:?}", started.elapsed());
    assert!(started.elapsed() >= slow, "the slow listing was waited for");
    assert!(world.public().await, "no fix started without the time to confirm it");
    assert_eq!(world.proxy.count("ModifyDBInstance"), 0);
    let alerts = world.public_alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    eprintln!("sweep-worker: slow listing near the deadline: {report:?}: {}", alerts[0].1);
    assert_eq!(alerts[0].0, "deferred", "{alerts:?}");
    assert!(alerts[0].1.contains("deadline"), "{}", alerts[0].1);

    let world = swept_world(false).await;
    world.sweep_within("m-1", Deadline::after(time)).await;
    assert!(!world.public().await, "the same deadline without the slow answer: fixed");
    assert_eq!(world.public_alerts().await[0].0, "succeeded");
}

/// The same sweep message delivered twice (SQS delivers at least once), one after the other and
/// two at once, with the findings ledger on: one fix, one alert.
#[tokio::test]
async fn with_the_ledger_a_message_delivered_twice_or_at_once_fixes_once_and_alerts_once() {
    for at_once in [false, true] {
        let world = swept_world(true).await;
        let (first, second) = if at_once {
            tokio::join!(world.sweep("m-1"), world.sweep("m-1"))
        } else {
            (world.sweep("m-1").await, world.sweep("m-1").await)
        };
        assert!(
            first.batch_item_failures.is_empty() && second.batch_item_failures.is_empty(),
            "{first:#?} {second:#?}"
        );
        let mut outcomes = [first.messages[0].outcome, second.messages[0].outcome];
        outcomes.sort_unstable();
        assert_eq!(outcomes, ["repeated", "swept"], "at once: {at_once}");
        assert!(!world.public().await);
        assert_eq!(world.proxy.served_calls_of("ModifyDBInstance").len(), 1, "at once: {at_once}: fixed once");
        let alerts = world.public_alerts().await;
        assert_eq!(alerts.len(), 1, "at once: {at_once}: {alerts:?}");
    }
}

/// sweep-planner: SendMessageBatch throttled twice then served sends every message once; SQS down
/// fails the invocation naming how many were sent of how many due; Organizations throttled twice
/// then served plans every account.
#[tokio::test]
async fn the_planner_retries_throttling_and_fails_clearly_when_sqs_is_down() {
    let estate = Estate::start().await;
    let queue_url = sweep_queue(&estate).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let config = proxy.sdk_config(HOME_REGION).await;
    let regions = [("SWEEP_REGIONS", "us-east-1,eu-west-1,ap-southeast-2")];

    proxy.inject(On::action("SendMessageBatch"), Fault::Throttle, Times::First(2));
    let report = plan(&targets(&estate, &queue_url, &regions, config.clone()).await).await.expect("planned");
    assert_eq!(report.messages_sent, 3);
    assert_eq!(queued(&estate, &queue_url).await.len(), 3, "each message once");
    proxy.clear_faults();

    proxy.fail_service("sqs", Fault::Unavailable);
    let error = plan(&targets(&estate, &queue_url, &regions, config.clone()).await).await.expect_err("SQS down");
    assert_eq!(error.kind(), "SendMessageBatchFailed", "{error}");
    assert!(error.to_string().starts_with("sent 0 of 3 sweep messages"), "{error}");
    proxy.clear_faults();

    estate.create_organization().await;
    let organization = estate.organizations().await.describe_organization().send().await.unwrap();
    let organization_id = organization.organization.unwrap().id.unwrap();
    proxy.inject(On::action("ListAccounts"), Fault::Throttle, Times::First(2));
    let vars = [("ORGANIZATION_ID", organization_id.as_str()), ("SWEEP_REGIONS", "us-east-1")];
    let report = plan(&targets(&estate, &queue_url, &vars, config).await).await.expect("planned");
    assert!(!report.accounts.is_empty());
    assert_eq!(proxy.calls_of("ListAccounts").iter().filter(|c| c.injected.is_some()).count(), 2);
}
