//! pipeline-guard end to end: the real handler, the real SDK, moto server as AWS. Every test reads
//! the trail or detector back from moto and the alerts back from the queue subscribed to the
//! topic, as a security team would see them.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pipeline_guard::handle_event;
use rdsguard::kernel::{InvocationError, InvocationOutcome};
use rdsguard::report::PublishFailure;
use rdsguard_tests::estate::HOME_REGION;
use rdsguard_tests::threat_events::api_call;
use rdsguard_tests::{Estate, MOTO_ACCOUNT};
use serde_json::json;

const CLOUDTRAIL: &str = "cloudtrail.amazonaws.com";
const GUARDDUTY: &str = "guardduty.amazonaws.com";
const EVENTS: &str = "events.amazonaws.com";

fn stop_logging(trail: &str, error_code: Option<&str>) -> serde_json::Value {
    api_call(CLOUDTRAIL, "StopLogging", MOTO_ACCOUNT, HOME_REGION, json!({"name": trail}), error_code)
}

#[tokio::test]
async fn stopped_trail_logs_again_and_a_critical_alert_names_who_and_from_where() {
    let estate = Estate::start().await;
    let arn = estate.create_logging_trail(HOME_REGION, "org-audit", &[]).await;
    estate.stop_logging(HOME_REGION, "org-audit").await;
    assert!(!estate.is_logging(HOME_REGION, "org-audit").await);
    let guard = estate.pipeline_guard(&[]).await;

    let summary = handle_event(&stop_logging("org-audit", None), &guard).await.expect("handled");

    assert!(estate.is_logging(HOME_REGION, "org-audit").await, "the trail must be logging again");
    assert_eq!(summary.outcome, InvocationOutcome::Alerted);
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert.rule(), "RDSGUARD.PIPELINE");
    assert_eq!(alert.body["severity"], "CRITICAL");
    assert_eq!(alert.body["resource"], arn);
    assert_eq!(alert.body["resource_type"], "AWS::CloudTrail::Trail");
    assert_eq!(alert.body["resource_id"], "org-audit");
    assert_eq!(alert.body["actor"], "arn:aws:iam::123456789012:user/mallory");
    assert_eq!(alert.body["event_name"], "StopLogging");
    assert_eq!(alert.body["observed"]["SourceIPAddress"], "198.51.100.66");
    assert_eq!(alert.body["observed"]["UserAgent"], "aws-cli/2.15.0 md/command#cloudtrail.stop-logging");
    assert_eq!(alert.body["observed"]["RequestParameters"]["name"], "org-audit");
    assert_eq!(alert.body["action"]["kind"], "start_logging");
    assert_eq!(alert.action_status(), "succeeded");
    assert!(alert.body["action"]["detail"].as_str().unwrap().contains("IsLogging=true"));
    assert_eq!(alert.attributes.get("severity").map(String::as_str), Some("CRITICAL"));
    assert_eq!(
        alert.subject,
        "CRITICAL RDSGUARD.PIPELINE org-audit (123456789012/us-east-1): trail logging stopped - succeeded"
    );
}

#[tokio::test]
async fn failed_stop_logging_is_a_high_attempt_and_changes_nothing() {
    let estate = Estate::start().await;
    estate.create_logging_trail(HOME_REGION, "org-audit", &[]).await;
    // Stopped by an earlier, unrelated change: if pipeline-guard acted on the failed call it would
    // show as logging again.
    estate.stop_logging(HOME_REGION, "org-audit").await;
    let guard = estate.pipeline_guard(&[]).await;

    handle_event(&stop_logging("org-audit", Some("AccessDenied")), &guard).await.expect("handled");

    assert!(!estate.is_logging(HOME_REGION, "org-audit").await, "a failed call must not trigger a restore");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert.body["severity"], "HIGH");
    assert_eq!(alert.body["observed"]["ErrorCode"], "AccessDenied");
    assert_eq!(alert.action_status(), "not_attempted");
    assert!(alert.body["action"]["detail"].as_str().unwrap().starts_with("the call failed (AccessDenied"));
    assert!(alert.subject.contains("tried to stop trail logging"), "{}", alert.subject);
}

#[tokio::test]
async fn trail_named_by_arn_is_restarted_in_its_home_region() {
    let estate = Estate::start().await;
    let arn = estate.create_logging_trail("eu-west-1", "eu-audit", &[]).await;
    estate.stop_logging("eu-west-1", "eu-audit").await;
    let guard = estate.pipeline_guard(&[]).await;
    // The call is recorded in eu-west-1 with the trail's ARN as its name.
    let event = api_call(CLOUDTRAIL, "StopLogging", MOTO_ACCOUNT, "eu-west-1", json!({"name": arn}), None);

    handle_event(&event, &guard).await.expect("handled");

    assert!(estate.is_logging("eu-west-1", "eu-audit").await);
    let alerts = estate.alerts().await;
    assert_eq!((alerts[0].body["resource"].as_str(), alerts[0].action_status()), (Some(arn.as_str()), "succeeded"));
}

#[tokio::test]
async fn alert_mode_and_exempt_trails_are_alerted_but_left_stopped() {
    let estate = Estate::start().await;
    estate.create_logging_trail(HOME_REGION, "plain-trail", &[]).await;
    estate.create_logging_trail(HOME_REGION, "retiring-trail", &[("rdsguard:exempt", "RDSGUARD.PIPELINE")]).await;
    estate.stop_logging(HOME_REGION, "plain-trail").await;
    estate.stop_logging(HOME_REGION, "retiring-trail").await;

    let alert_mode = estate.pipeline_guard(&[("MODE", "alert")]).await;
    handle_event(&stop_logging("plain-trail", None), &alert_mode).await.expect("handled");
    let remediating = estate.pipeline_guard(&[]).await;
    handle_event(&stop_logging("retiring-trail", None), &remediating).await.expect("handled");

    assert!(!estate.is_logging(HOME_REGION, "plain-trail").await);
    assert!(!estate.is_logging(HOME_REGION, "retiring-trail").await);
    let alerts = estate.alerts().await;
    let seen: Vec<(&str, &str, &str)> = alerts
        .iter()
        .map(|a| {
            (a.body["resource_id"].as_str().unwrap(), a.action_status(), a.body["action"]["detail"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("plain-trail", "not_attempted", "MODE=alert: rdsguard changes nothing"),
            ("retiring-trail", "skipped", "exempt: resource is tagged rdsguard:exempt=RDSGUARD.PIPELINE"),
        ]
    );
    assert!(alerts.iter().all(|a| a.body["severity"] == "CRITICAL"));
}

#[tokio::test]
async fn disabled_detector_is_enabled_again() {
    let estate = Estate::start().await;
    let detector = estate.create_detector(HOME_REGION).await;
    estate.set_detector_enabled(HOME_REGION, &detector, false).await;
    let guard = estate.pipeline_guard(&[]).await;
    let event = api_call(
        GUARDDUTY,
        "UpdateDetector",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"detectorId": detector, "enable": false}),
        None,
    );

    handle_event(&event, &guard).await.expect("handled");

    assert_eq!(estate.detector_status(HOME_REGION, &detector).await, "ENABLED");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].body["severity"], "CRITICAL");
    assert_eq!(alerts[0].body["resource"], format!("arn:aws:guardduty:us-east-1:123456789012:detector/{detector}"));
    assert_eq!(alerts[0].body["action"]["kind"], "enable_detector");
    assert_eq!(alerts[0].action_status(), "succeeded");
}

#[tokio::test]
async fn what_cannot_be_undone_is_alerted_with_what_to_do() {
    let estate = Estate::start().await;
    let guard = estate.pipeline_guard(&[("SUITE_RULE_PREFIX", "rdsguard-prod-")]).await;
    let events = [
        api_call(CLOUDTRAIL, "DeleteTrail", MOTO_ACCOUNT, HOME_REGION, json!({"name": "org-audit"}), None),
        api_call(GUARDDUTY, "DeleteDetector", MOTO_ACCOUNT, HOME_REGION, json!({"detectorId": "d0c0ffee"}), None),
        api_call(
            EVENTS,
            "DisableRule",
            MOTO_ACCOUNT,
            HOME_REGION,
            json!({"name": "rdsguard-prod-RdsGuardFunctionRdsApiCalls-A1"}),
            None,
        ),
        // Not one of the suite's rules: ignored.
        api_call(EVENTS, "DisableRule", MOTO_ACCOUNT, HOME_REGION, json!({"name": "billing-nightly"}), None),
        // Does not disable anything: ignored.
        api_call(
            GUARDDUTY,
            "UpdateDetector",
            MOTO_ACCOUNT,
            HOME_REGION,
            json!({"detectorId": "d0c0ffee", "enable": true}),
            None,
        ),
    ];
    let mut outcomes = Vec::new();
    for event in &events {
        outcomes.push(handle_event(event, &guard).await.expect("handled").outcome.as_str());
    }

    assert_eq!(outcomes, ["alerted", "alerted", "alerted", "ignored", "ignored"]);
    let alerts = estate.alerts().await;
    let seen: Vec<(&str, &str, &str)> = alerts
        .iter()
        .map(|a| (a.body["resource_type"].as_str().unwrap(), a.body["severity"].as_str().unwrap(), a.action_status()))
        .collect();
    assert_eq!(
        seen,
        [
            ("AWS::CloudTrail::Trail", "CRITICAL", "skipped"),
            ("AWS::GuardDuty::Detector", "CRITICAL", "skipped"),
            ("AWS::Events::Rule", "CRITICAL", "skipped"),
        ]
    );
    assert!(alerts[0].body["action"]["detail"].as_str().unwrap().contains("recreate it with CreateTrail"));
    assert!(alerts[2].body["action"]["detail"].as_str().unwrap().contains("EnableRule"));
}

#[tokio::test]
async fn a_trail_that_is_gone_or_already_logging_is_left_alone() {
    let estate = Estate::start().await;
    estate.create_logging_trail(HOME_REGION, "still-on", &[]).await;
    let guard = estate.pipeline_guard(&[]).await;

    handle_event(&stop_logging("still-on", None), &guard).await.expect("handled");
    handle_event(&stop_logging("never-existed", None), &guard).await.expect("handled");

    let alerts = estate.alerts().await;
    let seen: Vec<(&str, &str)> =
        alerts.iter().map(|a| (a.action_status(), a.body["action"]["detail"].as_str().unwrap())).collect();
    assert_eq!(
        seen,
        [
            ("skipped", "the trail is logging again (GetTrailStatus IsLogging=true)"),
            ("skipped", "trail never-existed no longer exists: nothing to restart"),
        ]
    );
}

#[tokio::test]
async fn unusable_tampering_events_fail_the_invocation_and_alert_nothing() {
    let estate = Estate::start().await;
    let guard = estate.pipeline_guard(&[]).await;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tests/fixtures/real-events");
    let stratus: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{fixtures}/cloudtrail-StopLogging-stratus-red-team.json")).unwrap(),
    )
    .unwrap();

    let result = handle_event(&stratus, &guard).await;

    match result {
        Err(e @ InvocationError::Event { .. }) => {
            assert_eq!(e.kind(), "UnusableEvent");
            assert!(e.to_string().contains("apiso-centralnorth-2r"), "{e}");
        }
        other => panic!("expected an unusable-event error, got {other:?}"),
    }
    for junk in [json!({"hello": "world"}), json!([1, 2]), json!("StopLogging")] {
        assert_eq!(handle_event(&junk, &guard).await.expect("ignored").outcome, InvocationOutcome::Ignored);
    }
    assert!(estate.alerts().await.is_empty());
}

#[tokio::test]
async fn alert_that_cannot_be_published_fails_the_invocation_and_is_kept() {
    let estate = Estate::start().await;
    estate.create_logging_trail(HOME_REGION, "org-audit", &[]).await;
    estate.stop_logging(HOME_REGION, "org-audit").await;
    let guard = estate.pipeline_guard(&[("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:no-such-topic")]).await;

    let result = handle_event(&stop_logging("org-audit", None), &guard).await;

    match result {
        Err(InvocationError::Publish(PublishFailure { failed, total, .. })) => assert_eq!((failed, total), (1, 1)),
        other => panic!("expected a publish error, got {other:?}"),
    }
    assert!(estate.is_logging(HOME_REGION, "org-audit").await);
    let kept = estate.dead_letters().await;
    assert_eq!(kept.len(), 1, "{kept:#?}");
    assert_eq!(kept[0]["rule"], "RDSGUARD.PIPELINE");
    assert_eq!(kept[0]["action"]["status"], "succeeded");
}
