//! The standard AWS_ENDPOINT_URL variable keeps working: rds-guard wired from the environment
//! exactly as its `main` does (aws_config::load_from_env) reaches whatever endpoint it names.
//! A separate test binary, because it sets process-wide environment variables.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use rds_guard::{handle_event, RdsGuard};
use rdsguard::aws::{AccountSessions, SessionRdsConnector, SnsAlertPublisher};
use rdsguard::policy::Policy;
use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::events::create_db_instance;
use rdsguard_tests::{Estate, MOTO_ACCOUNT};

#[tokio::test]
async fn aws_endpoint_url_from_the_environment_is_honoured() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("env-db") }).await;

    // SAFETY of the test: this binary has one test, so nothing else reads the environment concurrently.
    let vars = [
        ("AWS_ENDPOINT_URL", estate.moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", HOME_REGION.to_owned()),
        ("ALERT_TOPIC_ARN", estate.topic_arn.clone()),
    ];
    for (key, value) in &vars {
        // Edition 2021: set_var is safe to call.
        std::env::set_var(key, value);
    }
    std::env::remove_var("AWS_PROFILE");

    let policy = Policy::from_env().expect("policy from env");
    let base = aws_config::load_from_env().await;
    let alerts = SnsAlertPublisher::new(aws_sdk_sns::Client::new(&base), policy.alert_topic.arn.clone());
    let rds_connector = SessionRdsConnector::new(AccountSessions::new(base, policy.member_role_name.clone()));
    let guard = RdsGuard {
        policy,
        rds: Arc::new(rds_connector),
        alerting: rdsguard::report::Alerting { alerts: Arc::new(alerts), undelivered: None },
        confirmation: Default::default(),
    };

    handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "env-db", true, true), &guard).await.expect("handled");

    assert_eq!(estate.instance(&rds, "env-db").await.unwrap().publicly_accessible, Some(false));
    assert_eq!(estate.alerts().await.len(), 1);
}
