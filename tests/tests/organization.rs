//! Organisation-wide deployment on moto with three accounts: the central security account (where
//! the functions run) and two members. Member A has the member roles as templates/member.yaml
//! creates them, one per function, each trusted by its function's central identity only and
//! allowed only that function's actions; member B has not been set up. moto's IAM enforcement is on while the functions run,
//! so every call is authorised by the policies the templates grant (see rdsguard_tests::organization
//! for what moto models and the one place it cannot).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use rds_guard::{handle_event, RdsGuard};
use rdsguard::aws::{SessionNetworkConnector, SessionRdsConnector};
use rdsguard::kernel::InvocationOutcome;
use rdsguard::member_access::MEMBER_ACCESS_RULE;
use rdsguard::startup::Plumbing;
use rdsguard_tests::estate::NewInstance;
use rdsguard_tests::events::{authorize_ingress, create_db_instance};
use rdsguard_tests::organization::Organization;
use rdsguard_tests::{Estate, MOTO_ACCOUNT};

const CENTRAL: &str = MOTO_ACCOUNT;
const MEMBER_A: &str = "111111111111";
const MEMBER_B: &str = "222222222222";
const REGION: &str = "eu-west-1";
const ORGANIZATION_ID: &str = "o-a1b2c3d4e5";
const ROLE: &str = "rdsguard-remediation";
const DB: &str = "orders-db";

/// The member role `function` assumes in `account`.
fn member_role_arn(account: &str, function: &str) -> String {
    format!("arn:aws:iam::{account}:role/{ROLE}-{function}")
}

/// rds-guard as `main` wires it, running as the central identity.
async fn central_rds_guard(estate: &Estate, org: &Organization<'_>) -> RdsGuard {
    let policy = estate.policy(&[("MEMBER_ROLE_NAME", ROLE)]);
    let plumbing = Plumbing::for_function(rds_guard::FUNCTION_NAME, policy.clone(), org.central_config().await);
    RdsGuard {
        policy,
        rds: Arc::new(SessionRdsConnector::new(plumbing.sessions)),
        alerting: rdsguard::report::Alerting {
            alerts: org.pausing_publisher(plumbing.alerting.alerts),
            undelivered: plumbing.alerting.undelivered,
        },
        confirmation: Default::default(),
    }
}

#[tokio::test]
async fn a_public_database_in_a_member_is_fixed_there_through_the_member_role_and_an_unset_member_is_alerted() {
    let estate = Estate::start().await;
    // The same database name, public, in all three accounts: only the one the event is about may change.
    let central_rds = estate.rds(REGION).await;
    let a_rds = estate.rds_in_account(MEMBER_A, REGION).await;
    let b_rds = estate.rds_in_account(MEMBER_B, REGION).await;
    for rds in [&central_rds, &a_rds, &b_rds] {
        estate.create_instance(rds, &NewInstance { public: true, ..NewInstance::postgres(DB) }).await;
    }

    let mut org = Organization::new(&estate, CENTRAL);
    // The central function's policy: exactly what rds-guard declares (template.yaml grants the same).
    org.allow_central(&rds_guard::iam_actions());
    org.deny_assume_role_into(&member_role_arn(MEMBER_B, "rds-guard"));
    // Member A: each function's member role with member.yaml's actions for it — if member.yaml
    // lacked one rds-guard needs, moto would deny the fix below. The central policy may assume
    // only rds-guard's own role, as template.yaml grants.
    org.allow_assume_only(&member_role_arn(MEMBER_A, "rds-guard"));
    org.create_member_roles(MEMBER_A, ROLE, ORGANIZATION_ID);
    let guard = central_rds_guard(&estate, &org).await;

    org.enforce_iam(true);
    let in_a = handle_event(&create_db_instance(MEMBER_A, REGION, DB, true, true), &guard).await;
    let in_b = handle_event(&create_db_instance(MEMBER_B, REGION, DB, true, true), &guard).await;
    // EventBridge delivers at least once: the same event again must do no second fix and no
    // second alert.
    let in_a_again = handle_event(&create_db_instance(MEMBER_A, REGION, DB, true, true), &guard).await;
    org.enforce_iam(false);

    // Member A: fixed there, and only there.
    let in_a = in_a.expect("member A handled");
    assert_eq!(in_a.outcome, InvocationOutcome::Checked);
    assert_eq!(estate.instance(&a_rds, DB).await.unwrap().publicly_accessible, Some(false));
    assert_eq!(estate.instance(&central_rds, DB).await.unwrap().publicly_accessible, Some(true), "central untouched");
    assert_eq!(estate.instance(&b_rds, DB).await.unwrap().publicly_accessible, Some(true), "member B untouched");

    // Member B: not set up → a failed-status alert and a successful invocation (no retry loop).
    let in_b = in_b.expect("member B's event must not fail the invocation");
    assert_eq!(in_b.outcome, InvocationOutcome::Unreachable);
    assert_eq!(in_b.findings.len(), 1);

    let in_a_again = in_a_again.expect("duplicate handled");
    assert!(in_a_again.findings.is_empty(), "already private: nothing to do twice: {in_a_again:?}");

    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 2, "one alert per account the events were about, none for the duplicate: {alerts:#?}");
    let a = alerts.iter().find(|a| a.body["account"] == MEMBER_A).expect("alert for member A");
    assert_eq!(a.rule(), "RDS.2");
    assert_eq!(a.action_status(), "succeeded");
    assert_eq!(a.body["resource"], format!("arn:aws:rds:{REGION}:{MEMBER_A}:db:{DB}"));
    assert_eq!(a.body["acted_as"], member_role_arn(MEMBER_A, "rds-guard"), "the alert names the role it used");
    assert_eq!(a.attributes.get("account").map(String::as_str), Some(MEMBER_A));

    let b = alerts.iter().find(|a| a.body["account"] == MEMBER_B).expect("alert for member B");
    assert_eq!(b.rule(), MEMBER_ACCESS_RULE);
    assert_eq!(b.action_status(), "failed");
    assert_eq!(b.body["severity"], "HIGH");
    assert_eq!(b.body["resource"], format!("arn:aws:rds:{REGION}:{MEMBER_B}:db:{DB}"));
    assert_eq!(b.body["acted_as"], serde_json::Value::Null);
    assert_eq!(b.body["observed"]["member_role_arn"], member_role_arn(MEMBER_B, "rds-guard"));
    let detail = b.body["action"]["detail"].as_str().unwrap();
    assert!(detail.contains(&member_role_arn(MEMBER_B, "rds-guard")), "{detail}");
    // STS's refusal is in the alert. (moto answers AccessDenied in an `<ErrorResponse><Errors>`
    // envelope real STS does not use, so the SDK cannot read the code "AccessDenied" here; against
    // AWS it appears in this text.)
    assert!(detail.contains(&format!("cannot assume {}", member_role_arn(MEMBER_B, "rds-guard"))), "{detail}");
    assert!(detail.contains("loading credentials"), "the STS failure is in the alert: {detail}");
    assert!(detail.contains("templates/member.yaml"), "the alert says what to deploy: {detail}");
    assert!(estate.dead_letters().await.is_empty(), "nothing was lost or left undelivered");
}

#[tokio::test]
async fn the_central_accounts_own_database_is_fixed_with_the_functions_own_credentials() {
    let estate = Estate::start().await;
    let central_rds = estate.rds(REGION).await;
    let a_rds = estate.rds_in_account(MEMBER_A, REGION).await;
    for rds in [&central_rds, &a_rds] {
        estate.create_instance(rds, &NewInstance { public: true, ..NewInstance::postgres(DB) }).await;
    }
    let mut org = Organization::new(&estate, CENTRAL);
    org.allow_central(&rds_guard::iam_actions());
    let guard = central_rds_guard(&estate, &org).await;

    org.enforce_iam(true);
    let summary = handle_event(&create_db_instance(CENTRAL, REGION, DB, true, true), &guard).await;
    org.enforce_iam(false);

    assert_eq!(summary.expect("handled").outcome, InvocationOutcome::Checked);
    assert_eq!(estate.instance(&central_rds, DB).await.unwrap().publicly_accessible, Some(false));
    assert_eq!(estate.instance(&a_rds, DB).await.unwrap().publicly_accessible, Some(true), "member A untouched");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].body["account"], CENTRAL);
    // In its own account rdsguard assumes nothing: the alert names the function's own identity.
    assert_eq!(alerts[0].body["acted_as"], org.central_identity_arn());
}

#[tokio::test]
async fn network_guard_alerts_a_member_that_is_not_set_up_instead_of_failing() {
    let estate = Estate::start().await;
    let mut org = Organization::new(&estate, CENTRAL);
    org.allow_central(&network_guard::iam_actions());
    org.deny_assume_role_into(&member_role_arn(MEMBER_B, "network-guard"));
    let policy = estate.policy(&[("MEMBER_ROLE_NAME", ROLE)]);
    let plumbing = Plumbing::for_function(network_guard::FUNCTION_NAME, policy.clone(), org.central_config().await);
    let guard = estate.network_guard_with(
        policy,
        Arc::new(SessionNetworkConnector::new(plumbing.sessions)),
        rdsguard::report::Alerting { alerts: org.pausing_publisher(plumbing.alerting.alerts), ..plumbing.alerting },
    );

    org.enforce_iam(true);
    let event = authorize_ingress(MEMBER_B, REGION, "sg-0123456789abcdef0", 5432, &["0.0.0.0/0"]);
    let summary = network_guard::handle_event(&event, &guard).await;
    org.enforce_iam(false);

    let summary = summary.expect("a member that is not set up must not fail the invocation");
    assert_eq!(summary.outcome, InvocationOutcome::Unreachable);
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule(), MEMBER_ACCESS_RULE);
    assert_eq!(alerts[0].action_status(), "failed");
    assert_eq!(alerts[0].body["source"], "network-guard");
    assert_eq!(
        alerts[0].body["resource"],
        format!("arn:aws:ec2:{REGION}:{MEMBER_B}:security-group/sg-0123456789abcdef0")
    );
    assert_eq!(alerts[0].body["resource_type"], "AWS::EC2::SecurityGroup");
}

#[tokio::test]
async fn an_unreachable_member_alert_that_cannot_be_published_still_fails_the_invocation() {
    let estate = Estate::start().await;
    let mut org = Organization::new(&estate, CENTRAL);
    org.allow_central(&rds_guard::iam_actions());
    org.deny_assume_role_into(&member_role_arn(MEMBER_B, "rds-guard"));
    let missing_topic = format!("arn:aws:sns:us-east-1:{CENTRAL}:no-such-topic");
    let policy = estate.policy(&[("MEMBER_ROLE_NAME", ROLE), ("ALERT_TOPIC_ARN", &missing_topic)]);
    let plumbing = Plumbing::for_function(rds_guard::FUNCTION_NAME, policy.clone(), org.central_config().await);
    let guard = RdsGuard {
        policy,
        rds: Arc::new(SessionRdsConnector::new(plumbing.sessions)),
        alerting: rdsguard::report::Alerting {
            alerts: org.pausing_publisher(plumbing.alerting.alerts),
            undelivered: plumbing.alerting.undelivered,
        },
        confirmation: Default::default(),
    };

    org.enforce_iam(true);
    let result = handle_event(&create_db_instance(MEMBER_B, REGION, DB, true, true), &guard).await;
    org.enforce_iam(false);

    let error = result.expect_err("an alert that cannot be published fails the invocation, so the event is retried");
    assert_eq!(error.kind(), "AlertPublishFailed");
    let kept = estate.dead_letters().await;
    assert_eq!(kept.len(), 1, "the undelivered alert is kept: {kept:#?}");
    assert_eq!(kept[0]["rule"], MEMBER_ACCESS_RULE, "{:#}", kept[0]);
    assert_eq!(kept[0]["action"]["status"], "failed");
}
