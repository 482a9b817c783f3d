//! The re-check queue against moto: a deferred fix is queued as one delayed SQS message naming the
//! resource, sweep-worker runs the check again when it arrives and completes the fix; a fix that
//! stays deferred is queued again with a growing delay and, after RECHECK_MAX_ATTEMPTS, alerted
//! `failed` once.
//!
//! Where moto differs from AWS: the SQS event source mapping does not exist, so the worker is
//! handed the SQS event Lambda would build from the message the producer sent (read from the
//! request the SDK sent, through the recording proxy: moto honours DelaySeconds, so the message
//! itself only becomes visible after the delay, which a test does not wait for — the queue's
//! ApproximateNumberOfMessagesDelayed shows it is there). moto has no pending-modification model,
//! so a fix is made deferred honestly: by a deadline already too close to send it, or by a
//! stopped database.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use rds_guard::handle_event_within;
use rdsguard::aws::{AlertPublisher, SqsRecheckQueue};
use rdsguard::kernel::{Deadline, PUBLISH_RESERVE};
use rdsguard::policy::Policy;
use rdsguard::recheck::{RecheckMessage, RecheckResource, RecheckingAlerts, Rechecks};
use rdsguard::startup::Plumbing;
use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::events::rds_api_call;
use rdsguard_tests::proxy::Recorded;
use rdsguard_tests::{Estate, FaultProxy, MOTO_ACCOUNT};
use serde_json::{json, Value};
use sweep_worker::{handle_batch, BatchReport, SweepWorker};

/// The stack's RecheckQueue, in moto.
pub(crate) async fn recheck_queue(estate: &Estate) -> String {
    let sqs = aws_sdk_sqs::Client::new(&estate.moto.sdk_config(HOME_REGION).await);
    sqs.create_queue().queue_name("rdsguard-recheck").send().await.unwrap().queue_url.unwrap()
}

/// `alerts` carrying the re-check queue at `queue_url`, its SendMessage calls going through `proxy`.
pub(crate) async fn with_rechecks(
    alerts: Arc<dyn AlertPublisher>,
    proxy: &FaultProxy,
    queue_url: &str,
    max_attempts: u32,
) -> Arc<dyn AlertPublisher> {
    let sqs = aws_sdk_sqs::Client::new(&proxy.sdk_config(HOME_REGION).await);
    let rechecks = Rechecks::new(Arc::new(SqsRecheckQueue::new(sqs, queue_url)), max_attempts);
    Arc::new(RecheckingAlerts::new(alerts, rechecks))
}

pub(crate) fn worker(policy: Policy, config: aws_config::SdkConfig) -> SweepWorker {
    let plumbing = Plumbing::new(policy, config);
    SweepWorker {
        policy: plumbing.policy,
        sessions: Arc::new(plumbing.sessions),
        alerting: plumbing.alerting,
        confirmation: rdsguard::remediate::Confirmation { attempts: 2, delay: Duration::from_millis(50) },
    }
}

pub(crate) fn sqs_event(id: &str, body: &str) -> Value {
    json!({ "Records": [{
        "messageId": id,
        "receiptHandle": format!("handle-{id}"),
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:rdsguard-recheck",
        "awsRegion": "us-east-1"
    }]})
}

/// The (body, DelaySeconds) of every SendMessage the SDK sent, in order.
pub(crate) fn sent(proxy: &FaultProxy) -> Vec<(String, i64)> {
    proxy
        .calls_of("SendMessage")
        .iter()
        .map(Recorded::json)
        .map(|request| {
            let request = request.expect("SendMessage is a JSON-protocol call");
            (request["MessageBody"].as_str().unwrap().to_owned(), request["DelaySeconds"].as_i64().unwrap_or(0))
        })
        .collect()
}

async fn delayed_in(estate: &Estate, queue_url: &str) -> u64 {
    let sqs = aws_sdk_sqs::Client::new(&estate.moto.sdk_config(HOME_REGION).await);
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    attributes[&QueueAttributeName::ApproximateNumberOfMessagesDelayed].parse().unwrap()
}

fn outcomes(report: &BatchReport) -> Vec<&str> {
    report.messages.iter().map(|m| m.outcome).collect()
}

#[tokio::test]
async fn a_deferred_fix_is_completed_by_the_recheck_message() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("late-db") }).await;
    let queue_url = recheck_queue(&estate).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let mut guard = estate.rds_guard(&[]).await;
    guard.alerting.alerts = with_rechecks(guard.alerting.alerts, &proxy, &queue_url, 8).await;
    let modify = rds_api_call(
        "ModifyDBInstance",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": "late-db", "publiclyAccessible": true}),
        json!({"dBInstanceIdentifier": "late-db", "dBInstanceStatus": "available"}),
    );
    // The invocation's deadline is already too close to send a change (the publishing reserve
    // and 2 s are left): the fix is deferred, not sent.
    let deadline = Deadline::after(PUBLISH_RESERVE + Duration::from_secs(2));

    handle_event_within(&modify, &guard, deadline).await.expect("handled");

    assert_eq!(estate.instance(&rds, "late-db").await.unwrap().publicly_accessible, Some(true));
    let first = estate.alerts().await;
    let deferred: Vec<_> = first.iter().filter(|a| a.rule() == "RDS.2").collect();
    assert_eq!(deferred.len(), 1, "{first:#?}");
    assert_eq!(deferred[0].action_status(), "deferred", "{:#?}", deferred[0].body);
    let sent = sent(&proxy);
    assert_eq!(sent.len(), 1, "one re-check for the one deferred fix: {sent:#?}");
    let (body, delay) = &sent[0];
    assert_eq!(*delay, 60, "the first re-check waits a minute");
    let Some(RecheckMessage::Resource(recheck)) = RecheckMessage::parse(body).unwrap() else {
        panic!("not a resource re-check: {body}")
    };
    assert_eq!(
        (
            recheck.account.as_str(),
            recheck.region.as_str(),
            recheck.resource,
            recheck.id.as_str(),
            recheck.rule.as_str(),
            recheck.attempt
        ),
        (MOTO_ACCOUNT, HOME_REGION, RecheckResource::DbInstance, "late-db", "RDS.2", 1)
    );
    assert_eq!(delayed_in(&estate, &queue_url).await, 1, "the message waits in the queue, delayed");

    // The message arrives (after its delay, in AWS) and sweep-worker runs the check again.
    let mut worker = worker(estate.policy(&[]), estate.moto.sdk_config(HOME_REGION).await);
    worker.alerting.alerts = with_rechecks(worker.alerting.alerts, &proxy, &queue_url, 8).await;
    let report = handle_batch(sqs_event("r-1", body), &worker, Deadline::none()).await.unwrap();

    assert!(report.batch_item_failures.is_empty(), "{report:#?}");
    assert_eq!(outcomes(&report), ["rechecked"]);
    assert_eq!(estate.instance(&rds, "late-db").await.unwrap().publicly_accessible, Some(false), "fixed");
    let after = estate.alerts().await;
    let done: Vec<_> = after.iter().filter(|a| a.rule() == "RDS.2").collect();
    assert_eq!(done.len(), 1, "{after:#?}");
    assert_eq!(done[0].action_status(), "succeeded", "{:#?}", done[0].body);
    assert_eq!(done[0].body["event_name"], "DeferredRecheck");
    assert_eq!(done[0].body["source"], "sweep-worker");
    assert_eq!(done[0].body["resource_id"], "late-db");
    assert_eq!(proxy.count("SendMessage"), 1, "nothing more to re-check");
}

#[tokio::test]
async fn a_fix_that_stays_deferred_is_rechecked_with_growing_delays_then_alerted_failed_once() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("sleeping-db") }).await;
    // Stopped by someone: RDS does not accept the change until it is started, which nobody does.
    rds.stop_db_instance().db_instance_identifier("sleeping-db").send().await.expect("stop");
    let queue_url = recheck_queue(&estate).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let mut worker = worker(estate.policy(&[]), estate.moto.sdk_config(HOME_REGION).await);
    worker.alerting.alerts = with_rechecks(worker.alerting.alerts, &proxy, &queue_url, 3).await;

    // A sweep finds it first: the deferred fix is alerted and queued (sweep-worker is a producer too).
    let sweep = json!({"account": MOTO_ACCOUNT, "region": HOME_REGION}).to_string();
    let swept = handle_batch(sqs_event("s-1", &sweep), &worker, Deadline::none()).await.unwrap();
    assert_eq!(outcomes(&swept), ["swept"], "{swept:#?}");
    let mut alerts: Vec<_> = estate.alerts().await.into_iter().filter(|a| a.rule() == "RDS.2").collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].action_status(), "deferred");

    // Each re-check finds it still stopped: quiet, queued again, until the third (the maximum).
    for attempt in 1..=3 {
        let (body, _) = sent(&proxy).pop().expect("a re-check was queued");
        let message = RecheckMessage::parse(&body).unwrap().unwrap();
        assert_eq!(message.attempt(), attempt, "{body}");
        let report = handle_batch(sqs_event(&format!("r-{attempt}"), &body), &worker, Deadline::none()).await.unwrap();
        assert!(report.batch_item_failures.is_empty(), "{report:#?}");
        assert_eq!(outcomes(&report), ["rechecked"]);
        alerts.extend(estate.alerts().await.into_iter().filter(|a| a.rule() == "RDS.2"));
    }

    let delays: Vec<i64> = sent(&proxy).iter().map(|(_, delay)| *delay).collect();
    assert_eq!(delays, [60, 120, 240], "the delay doubles per attempt; nothing is queued after the last");
    let statuses: Vec<&str> = alerts.iter().map(|a| a.action_status()).collect();
    assert_eq!(statuses, ["deferred", "failed"], "quiet while re-checked, failed once at the end: {alerts:#?}");
    let detail = alerts[1].body["action"]["detail"].as_str().unwrap();
    assert!(detail.starts_with("still deferred after 3 re-checks over 7 minutes"), "{detail}");
    assert!(detail.contains("status is stopped"), "{detail}");
    assert_eq!(estate.instance(&rds, "sleeping-db").await.unwrap().publicly_accessible, Some(true));
}

#[tokio::test]
async fn a_recheck_that_cannot_be_queued_fails_the_invocation_after_the_alert() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("late-db") }).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let mut guard = estate.rds_guard(&[]).await;
    // A queue that does not exist: SendMessage fails (as a deleted queue or a denied send would).
    let missing = format!("{}/{MOTO_ACCOUNT}/no-such-queue", estate.moto.endpoint());
    guard.alerting.alerts = with_rechecks(guard.alerting.alerts, &proxy, &missing, 8).await;
    let modify = rds_api_call(
        "ModifyDBInstance",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": "late-db", "publiclyAccessible": true}),
        json!({"dBInstanceIdentifier": "late-db", "dBInstanceStatus": "available"}),
    );

    let failed = handle_event_within(&modify, &guard, Deadline::after(PUBLISH_RESERVE + Duration::from_secs(2)))
        .await
        .expect_err("a lost re-check fails the invocation, so the event is retried");

    assert_eq!(failed.kind(), "RecheckSendFailed", "{failed}");
    assert!(failed.to_string().contains("could not be queued"), "{failed}");
    let alerts = estate.alerts().await;
    assert!(
        alerts.iter().any(|a| a.rule() == "RDS.2" && a.action_status() == "deferred"),
        "the alert went out first: {alerts:#?}"
    );
}
