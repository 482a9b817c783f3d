//! guardduty-responder end to end: the real handler, the real SDK, moto server as AWS. Each test
//! reads the database and its snapshots back from moto and the alerts back from the queue
//! subscribed to the topic.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use guardduty_responder::handle_event;
use rdsguard::kernel::{InvocationError, InvocationOutcome};
use rdsguard::report::PublishFailure;
use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::threat_events::RdsFinding;
use rdsguard_tests::{Estate, MOTO_ACCOUNT};
use serde_json::json;

const RESPOND: (&str, &str) = ("GUARDDUTY_RESPONSES", "CredentialAccess:RDS/*=snapshot+make_private");

#[tokio::test]
async fn login_finding_on_a_public_instance_is_snapshotted_made_private_and_alerted() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("orders-db") }).await;
    let responder = estate.guardduty_responder(&[RESPOND]).await;
    let finding = RdsFinding::malicious_login(MOTO_ACCOUNT, HOME_REGION, "orders-db");

    let summary = handle_event(&finding.event(), &responder).await.expect("handled");

    // The forensic snapshot exists, named and tagged after the finding.
    let snapshots = estate.db_snapshots(HOME_REGION).await;
    assert_eq!(snapshots.len(), 1, "{snapshots:#?}");
    let snapshot = &snapshots[0];
    assert_eq!(snapshot.db_snapshot_identifier(), Some("rdsguard-gd-7ac4a1f0b2e64c1d9e8f00112233aabb"));
    assert_eq!(snapshot.db_instance_identifier(), Some("orders-db"));
    let tags = estate.rds_tags(HOME_REGION, snapshot.db_snapshot_arn().unwrap()).await;
    assert!(
        tags.contains(&("rdsguard:guardduty-finding-id".into(), "7ac4a1f0b2e64c1d9e8f00112233aabb".into())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&(
            "rdsguard:guardduty-finding-type".into(),
            "CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin".into()
        )),
        "{tags:?}"
    );
    // The instance is private.
    assert_eq!(estate.instance(&rds, "orders-db").await.unwrap().publicly_accessible, Some(false));

    assert_eq!(summary.outcome, InvocationOutcome::Alerted);
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    let body = &alert.body;
    assert_eq!(alert.rule(), "GUARDDUTY.RDS");
    assert_eq!(body["severity"], "HIGH");
    assert_eq!(body["resource"], "arn:aws:rds:us-east-1:123456789012:db:orders-db");
    assert_eq!(body["resource_type"], "AWS::RDS::DBInstance");
    assert_eq!(body["event_id"], "7ac4a1f0b2e64c1d9e8f00112233aabb");
    assert_eq!(body["event_name"], "CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin");
    assert_eq!(body["actor"], "database user root from 203.0.113.77");
    let observed = &body["observed"];
    assert_eq!(
        observed["db_user"],
        json!({"user": "root", "application": "psql", "database": "orders", "ssl": "true", "auth_method": "PASSWORD"})
    );
    assert_eq!(observed["remote_ip"]["address"], "203.0.113.77");
    assert_eq!(observed["remote_ip"]["organization"], "Example Hosting Ltd");
    assert_eq!(observed["remote_ip"]["country"], "Freedonia");
    assert_eq!(observed["login_attempts"][0]["failed"], 14);
    assert_eq!(observed["database"]["engine"], "postgres");
    assert_eq!(observed["guardduty_severity"], 8.0);
    assert_eq!(observed["sighting"], "first");
    assert_eq!(observed["first_seen"], "2026-11-23T09:58:02.114Z");
    assert!(observed["console_url"].as_str().unwrap().ends_with("fId=7ac4a1f0b2e64c1d9e8f00112233aabb"));
    let responses: Vec<(&str, &str)> = observed["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(responses, [("create_snapshot", "succeeded"), ("make_private", "succeeded")]);
    assert_eq!(body["action"]["kind"], "responses");
    assert_eq!(alert.action_status(), "succeeded");
    assert_eq!(alert.subject, "HIGH GUARDDUTY.RDS orders-db (123456789012/us-east-1): suspicious login - succeeded");
}

#[tokio::test]
async fn responses_are_opt_in_and_samples_never_get_one() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("orders-db") }).await;

    // No GUARDDUTY_RESPONSES: alert only.
    let alert_only = estate.guardduty_responder(&[]).await;
    handle_event(&RdsFinding::malicious_login(MOTO_ACCOUNT, HOME_REGION, "orders-db").event(), &alert_only)
        .await
        .expect("handled");
    // Responses configured, but a sample finding.
    let responding = estate.guardduty_responder(&[RESPOND]).await;
    let sample = RdsFinding {
        id: "5abcdefabcdefabcdef2a123456789f6",
        sample: true,
        ..RdsFinding::malicious_login(MOTO_ACCOUNT, HOME_REGION, "orders-db")
    };
    handle_event(&sample.event(), &responding).await.expect("handled");

    assert!(estate.db_snapshots(HOME_REGION).await.is_empty());
    assert_eq!(estate.instance(&rds, "orders-db").await.unwrap().publicly_accessible, Some(true));
    let alerts = estate.alerts().await;
    let seen: Vec<(&str, &str, bool)> = alerts
        .iter()
        .map(|a| {
            (a.body["severity"].as_str().unwrap(), a.action_status(), a.body["observed"]["sample"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(seen, [("HIGH", "not_attempted", false), ("INFORMATIONAL", "not_attempted", true)]);
    assert!(alerts[0].body["action"]["detail"].as_str().unwrap().contains("no response configured"));
    assert!(alerts[1].body["action"]["detail"].as_str().unwrap().contains("sample"));
    assert!(alerts[1].subject.contains("SAMPLE"), "{}", alerts[1].subject);
}

#[tokio::test]
async fn updates_are_alerted_only_at_high_and_responses_do_not_repeat() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("orders-db") }).await;
    let responder = estate.guardduty_responder(&[("GUARDDUTY_RESPONSES", "*=snapshot")]).await;
    let first = RdsFinding::malicious_login(MOTO_ACCOUNT, HOME_REGION, "orders-db");
    // Six hours later GuardDuty publishes the same finding again with more occurrences.
    let later = RdsFinding { updated_at: "2026-11-23T15:58:00.000Z", count: 31, ..first.clone() };
    let medium_update = RdsFinding {
        id: "0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a",
        finding_type: "CredentialAccess:RDS/MaliciousIPCaller.FailedLogin",
        severity: 5.0,
        ..later.clone()
    };

    let outcomes = [
        handle_event(&first.event(), &responder).await.expect("first"),
        handle_event(&later.event(), &responder).await.expect("high update"),
        handle_event(&medium_update.event(), &responder).await.expect("medium update"),
    ];

    let got: Vec<&str> = outcomes.iter().map(|s| s.outcome.as_str()).collect();
    assert_eq!(got, ["alerted", "alerted", "logged"]);
    assert!(outcomes[2].reason.as_deref().unwrap().contains("update of a MEDIUM finding"), "{:?}", outcomes[2].reason);
    assert_eq!(estate.db_snapshots(HOME_REGION).await.len(), 1, "one forensic snapshot per finding");
    let alerts = estate.alerts().await;
    let seen: Vec<(&str, &str)> =
        alerts.iter().map(|a| (a.body["observed"]["sighting"].as_str().unwrap(), a.action_status())).collect();
    assert_eq!(seen, [("first", "succeeded"), ("update", "skipped")]);
    assert!(alerts[1].body["action"]["detail"].as_str().unwrap().contains("already exists"));
    assert_eq!(alerts[1].body["observed"]["count"], 31);
}

#[tokio::test]
async fn exempt_private_or_missing_databases_are_not_changed() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    let exempt = [("rdsguard:exempt", "GUARDDUTY.RDS")];
    estate
        .create_instance(&rds, &NewInstance { public: true, tags: &exempt, ..NewInstance::postgres("exempt-db") })
        .await;
    estate.create_instance(&rds, &NewInstance::postgres("private-db")).await;
    let responder = estate.guardduty_responder(&[RESPOND]).await;
    let finding = |id, instance| RdsFinding { id, ..RdsFinding::malicious_login(MOTO_ACCOUNT, HOME_REGION, instance) };

    for event in [
        finding("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1", "exempt-db").event(),
        finding("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2", "private-db").event(),
        finding("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3", "gone-db").event(),
    ] {
        handle_event(&event, &responder).await.expect("handled");
    }

    assert_eq!(estate.instance(&rds, "exempt-db").await.unwrap().publicly_accessible, Some(true));
    let snapshots: Vec<String> = estate
        .db_snapshots(HOME_REGION)
        .await
        .iter()
        .filter_map(|s| s.db_snapshot_identifier().map(str::to_owned))
        .collect();
    assert_eq!(snapshots, ["rdsguard-gd-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2"], "only the non-exempt, existing database");
    let alerts = estate.alerts().await;
    let responses: Vec<Vec<String>> = alerts
        .iter()
        .map(|a| {
            a.body["observed"]["responses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    format!(
                        "{} {}: {}",
                        r["kind"].as_str().unwrap(),
                        r["status"].as_str().unwrap(),
                        r["detail"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .collect();
    assert_eq!(
        responses[0],
        [
            "create_snapshot skipped: exempt: resource is tagged rdsguard:exempt=GUARDDUTY.RDS",
            "make_private skipped: exempt: resource is tagged rdsguard:exempt=GUARDDUTY.RDS",
        ]
    );
    assert!(responses[1][0].starts_with("create_snapshot succeeded: CreateDBSnapshot accepted"), "{:?}", responses[1]);
    assert_eq!(responses[1][1], "make_private skipped: not publicly accessible: nothing to change");
    assert_eq!(
        responses[2],
        [
            "create_snapshot skipped: database gone-db no longer exists: nothing to respond on",
            "make_private skipped: database gone-db no longer exists: nothing to respond on",
        ]
    );
}

#[tokio::test]
async fn other_findings_are_acknowledged_and_unusable_ones_fail_the_invocation() {
    let estate = Estate::start().await;
    let responder = estate.guardduty_responder(&[RESPOND]).await;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tests/fixtures/real-events");
    let load = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(format!("{fixtures}/{name}")).unwrap()).unwrap()
    };

    let ec2 = handle_event(&load("guardduty-finding-Backdoor-EC2-CCActivity.B-DNS-cloud-custodian.json"), &responder)
        .await
        .expect("acknowledged");
    let mut placeholder = RdsFinding::malicious_login(MOTO_ACCOUNT, HOME_REGION, "orders-db").event();
    placeholder["detail"]["accountId"] = json!("<MEMBER_ACCT_ID>");
    let unusable = handle_event(&placeholder, &responder).await;

    assert_eq!(ec2.outcome, InvocationOutcome::Ignored);
    assert!(ec2.reason.unwrap().contains("is not about a database"));
    match unusable {
        Err(e @ InvocationError::Event { .. }) => assert_eq!(e.kind(), "UnusableEvent"),
        other => panic!("expected an unusable-event error, got {other:?}"),
    }
    assert!(estate.alerts().await.is_empty());
}

#[tokio::test]
async fn alert_that_cannot_be_published_fails_the_invocation_and_is_kept() {
    let estate = Estate::start().await;
    let responder =
        estate.guardduty_responder(&[("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:no-such-topic")]).await;

    let result =
        handle_event(&RdsFinding::malicious_login(MOTO_ACCOUNT, HOME_REGION, "orders-db").event(), &responder).await;

    match result {
        Err(InvocationError::Publish(PublishFailure { failed, total, .. })) => assert_eq!((failed, total), (1, 1)),
        other => panic!("expected a publish error, got {other:?}"),
    }
    let kept = estate.dead_letters().await;
    assert_eq!(kept.len(), 1, "{kept:#?}");
    assert_eq!(kept[0]["rule"], "GUARDDUTY.RDS");
    assert_eq!(kept[0]["observed"]["remote_ip"]["address"], "203.0.113.77");
}

#[tokio::test]
async fn revoke_open_ingress_closes_the_world_open_rules_in_front_of_the_database() {
    let estate = Estate::start().await;
    let ec2 = estate.ec2(HOME_REGION).await;
    let rds = estate.rds(HOME_REGION).await;
    let group = estate.create_security_group(&ec2, "orders-db-sg", &[]).await;
    estate.authorize(&ec2, &group, "tcp", (5432, 5432), &["0.0.0.0/0", "::/0", "10.0.0.0/16"]).await;
    estate.authorize(&ec2, &group, "tcp", (443, 443), &["0.0.0.0/0"]).await;
    estate
        .create_instance_in_groups(
            &rds,
            &NewInstance { public: true, ..NewInstance::postgres("orders-db") },
            None,
            &[&group],
        )
        .await;
    let responder =
        estate.guardduty_responder(&[("GUARDDUTY_RESPONSES", "CredentialAccess:RDS/*=revoke_open_ingress")]).await;

    let finding = RdsFinding::malicious_login(MOTO_ACCOUNT, HOME_REGION, "orders-db");
    handle_event(&finding.event(), &responder).await.expect("handled");

    let left: Vec<(Option<i32>, String)> =
        estate.ingress_rules(&ec2, &group).await.into_iter().map(|r| (r.from_port, r.source)).collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.contains(&(Some(5432), "10.0.0.0/16".to_owned())), "{left:?}");
    assert!(left.contains(&(Some(443), "0.0.0.0/0".to_owned())), "443 reaches no database: {left:?}");
    assert_eq!(estate.instance(&rds, "orders-db").await.unwrap().publicly_accessible, Some(true), "not asked to");

    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let response = &alerts[0].body["observed"]["responses"][0];
    assert_eq!(response["kind"], "revoke_ingress");
    assert_eq!(response["status"], "succeeded", "{response:#}");
    let detail = response["detail"].as_str().unwrap();
    assert!(detail.contains("from 0.0.0.0/0") && detail.contains("from ::/0"), "{detail}");
    assert_eq!(alerts[0].action_status(), "succeeded");
}
