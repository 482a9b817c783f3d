//! One invocation's alerts go out with SNS PublishBatch (README "Alert delivery"): up to 10 a call,
//! each entry with its own subject and attributes; a partly failed call is followed by one with
//! exactly the failed entries; an entry SNS refuses for the request's own fault is kept in the
//! undelivered-alert queue and fails the delivery, the others still published.
//!
//! moto publishes every entry it is given: to show SNS failing one entry, the recording proxy
//! rewrites moto's answer to say it failed (moto has already delivered it, so the subscribed queue
//! receives that alert twice; on AWS a failed entry is not delivered). Those tests assert on the
//! requests sent.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rdsguard::action::{ActionKind, ActionOutcome, ActionStatus};
use rdsguard::alert::Alert;
use rdsguard::database::{Database, DatabaseState};
use rdsguard::finding::{EventContext, Finding};
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::policy::Policy;
use rdsguard::report::deliver_alerts;
use rdsguard::rules::RuleId;
use rdsguard::startup::Plumbing;
use rdsguard_tests::estate::HOME_REGION;
use rdsguard_tests::proxy::{On, Recorded};
use rdsguard_tests::{Estate, FaultProxy, MOTO_ACCOUNT};
use serde_json::json;

fn alerts(n: usize) -> Vec<Alert> {
    let account = AccountId::parse(MOTO_ACCOUNT).unwrap();
    let region = AwsRegion::parse(HOME_REGION).unwrap();
    let event = EventContext {
        event_id: "e-batch".into(),
        event_name: "ModifyDBInstance".into(),
        event_time: None,
        actor: "arn:aws:iam::123456789012:user/andrew".into(),
    };
    (0..n)
        .map(|i| {
            let db = Database::instance(DatabaseState { identifier: format!("db-{i:02}"), ..DatabaseState::default() });
            let rule = if i.is_multiple_of(2) { RuleId::Rds2PublicAccess } else { RuleId::Rds3InstanceEncryption };
            let finding = Finding::new(rule, &db, &account, &region, json!({"index": i}));
            let status = if i.is_multiple_of(2) { ActionStatus::Succeeded } else { ActionStatus::NotAttempted };
            let action = ActionOutcome { kind: ActionKind::AlertOnly, status, detail: format!("alert {i}") };
            Alert::new(&finding, &event, action, "rds-guard")
        })
        .collect()
}

async fn plumbing(estate: &Estate, proxy: &FaultProxy) -> Plumbing {
    let policy = Policy::from_vars(estate.variables(&[])).expect("policy");
    Plumbing::new(policy, proxy.sdk_config(HOME_REGION).await)
}

/// The entry ids of one recorded PublishBatch request.
fn entry_ids(call: &Recorded) -> Vec<String> {
    (1..=10)
        .map_while(|n| call.param(&format!("PublishBatchRequestEntries.member.{n}.Id")).map(str::to_owned))
        .collect()
}

/// Message attribute `name` of entry `n` (1-based) of a recorded PublishBatch request.
fn attribute(call: &Recorded, n: usize, name: &str) -> Option<String> {
    let prefix = format!("PublishBatchRequestEntries.member.{n}.MessageAttributes.entry");
    (1..=10).find_map(|k| {
        (call.param(&format!("{prefix}.{k}.Name")) == Some(name))
            .then(|| call.param(&format!("{prefix}.{k}.Value.StringValue")).map(str::to_owned))
            .flatten()
    })
}

/// Moves entry `id` of a PublishBatch answer from Successful to Failed.
fn fail_entry(body: &str, id: &str, sender_fault: bool) -> String {
    let marker = format!("<Id>{id}</Id>");
    let at = body.find(&marker).expect("entry in the answer");
    let start = body[..at].rfind("<member>").expect("member start");
    let end = at + body[at..].find("</member>").expect("member end") + "</member>".len();
    let without = format!("{}{}", &body[..start], &body[end..]);
    let failed = format!(
        "<member><Id>{id}</Id><Code>InternalError</Code><Message>injected by the test proxy</Message><SenderFault>{sender_fault}</SenderFault></member>"
    );
    for empty in ["<Failed/>", "<Failed />", "<Failed></Failed>"] {
        if without.contains(empty) {
            return without.replacen(empty, &format!("<Failed>{failed}</Failed>"), 1);
        }
    }
    if let Some(open) = without.find("<Failed>") {
        let open = open + "<Failed>".len();
        return format!("{}{failed}{}", &without[..open], &without[open..]);
    }
    without.replacen("</PublishBatchResult>", &format!("<Failed>{failed}</Failed></PublishBatchResult>"), 1)
}

#[tokio::test]
async fn twelve_alerts_go_out_in_two_calls_each_with_its_own_subject_and_attributes() {
    let estate = Estate::start().await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let plumbing = plumbing(&estate, &proxy).await;
    let sent = alerts(12);
    let subjects: Vec<String> = sent.iter().map(Alert::subject).collect();

    let delivery = plumbing.alerting.delivery("rds-guard");
    let summaries = deliver_alerts(sent, delivery).await.expect("delivered");

    let calls = proxy.calls_of("PublishBatch");
    assert_eq!(calls.len(), 2, "10 + 2: {:?}", proxy.actions());
    assert_eq!((entry_ids(&calls[0]).len(), entry_ids(&calls[1]).len()), (10, 2));
    assert_eq!(proxy.count("Publish"), 0, "no single Publish");
    assert!(summaries.iter().all(|s| s.alert_message_id.as_deref().is_some_and(|id| !id.is_empty())), "{summaries:#?}");
    let received = estate.alerts().await;
    assert_eq!(received.len(), 12);
    let mut got: Vec<String> = received.iter().map(|a| a.subject.clone()).collect();
    let mut want = subjects.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "every alert with its own subject");
    for alert in &received {
        let index = alert.body["observed"]["index"].as_u64().expect("index") as usize;
        let (rule, status) = if index.is_multiple_of(2) { ("RDS.2", "succeeded") } else { ("RDS.3", "not_attempted") };
        assert_eq!(alert.attributes.get("rule").map(String::as_str), Some(rule), "{alert:?}");
        assert_eq!(alert.attributes.get("action_status").map(String::as_str), Some(status), "{alert:?}");
        assert_eq!(alert.attributes.get("account").map(String::as_str), Some(MOTO_ACCOUNT));
        assert!(alert.subject.contains(&format!("db-{index:02}")), "{}", alert.subject);
    }
}

#[tokio::test]
async fn a_partly_failed_batch_sends_exactly_the_failed_entry_again() {
    let estate = Estate::start().await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let once = Arc::new(AtomicBool::new(true));
    proxy.rewrite(On::action("PublishBatch"), move |_, body| {
        if once.swap(false, Ordering::SeqCst) {
            fail_entry(body, "a1", false)
        } else {
            body.to_owned()
        }
    });
    let plumbing = plumbing(&estate, &proxy).await;
    let sent = alerts(3);
    let retried_subject = sent[1].subject();

    let delivery = plumbing.alerting.delivery("rds-guard");
    let summaries = deliver_alerts(sent, delivery).await.expect("the retry published it");

    let calls = proxy.calls_of("PublishBatch");
    assert_eq!(calls.len(), 2, "{:?}", proxy.actions());
    assert_eq!(entry_ids(&calls[0]), ["a0", "a1", "a2"]);
    assert_eq!(entry_ids(&calls[1]), ["a1"], "only the failed entry is sent again");
    assert_eq!(calls[1].param("PublishBatchRequestEntries.member.1.Subject"), Some(retried_subject.as_str()));
    assert_eq!(attribute(&calls[1], 1, "rule").as_deref(), Some("RDS.3"), "the entry's own attributes");
    assert!(summaries.iter().all(|s| s.alert_message_id.is_some()), "{summaries:#?}");
    assert!(estate.dead_letters().await.is_empty(), "nothing kept: everything was published");
}

#[tokio::test]
async fn an_entry_refused_for_its_own_fault_is_kept_and_fails_the_delivery_the_others_published() {
    let estate = Estate::start().await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    proxy.rewrite(On::action("PublishBatch"), |_, body| fail_entry(body, "a2", true));
    let plumbing = plumbing(&estate, &proxy).await;
    let sent = alerts(3);

    let delivery = plumbing.alerting.delivery("rds-guard");
    let (summaries, failure) = deliver_alerts(sent, delivery).await.expect_err("one alert not published");

    assert_eq!(proxy.count("PublishBatch"), 1, "a sender fault is not sent again");
    assert_eq!((failure.failed, failure.total), (1, 3), "{failure}");
    assert_eq!(failure.first.code.as_deref(), Some("InternalError"));
    let published: Vec<bool> = summaries.iter().map(|s| s.alert_message_id.is_some()).collect();
    assert_eq!(published, [true, true, false]);
    let kept = estate.dead_letters().await;
    assert_eq!(kept.len(), 1, "{kept:#?}");
    assert_eq!(kept[0]["resource_id"], "db-02");
}
