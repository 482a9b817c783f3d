//! Checks as a library: the same check the event handler runs, called with no event (as a sweep or
//! the command line does), judges a seeded database the same way. The real SDK against moto.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rds_guard::handle_event;
use rdsguard::aws::{RdsConnector, SessionRdsConnector};
use rdsguard::checks::{check_database, CheckOutcome, CheckScope};
use rdsguard::database::DatabaseKind;
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::kernel::Deadline;
use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::events::create_db_instance;
use rdsguard_tests::{Estate, MOTO_ACCOUNT};

#[tokio::test]
async fn a_check_without_an_event_judges_a_database_as_the_event_path_does() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate
        .create_instance(&rds, &NewInstance { public: true, encrypted: false, ..NewInstance::seed("legacy-db") })
        .await;
    // Alert mode: both runs see the same state (nothing is fixed in between).
    let settings = [("MODE", "alert"), ("ALLOWED_REGIONS", "eu-west-1")];
    let guard = estate.rds_guard(&settings).await;

    let event = create_db_instance(MOTO_ACCOUNT, HOME_REGION, "legacy-db", true, false);
    let by_event = handle_event(&event, &guard).await.expect("handled");
    let mut event_findings: Vec<(String, String)> =
        by_event.findings.iter().map(|f| (f.rule.clone(), f.action.status.as_str().to_owned())).collect();
    event_findings.sort();

    let policy = estate.policy(&settings);
    let plumbing = estate.plumbing(&policy).await;
    let account = AccountId::parse(MOTO_ACCOUNT).unwrap();
    let region = AwsRegion::parse(HOME_REGION).unwrap();
    let port = SessionRdsConnector::new(plumbing.sessions).connect(&account, &region).await.expect("connect");
    let scope = CheckScope {
        account: &account,
        region: &region,
        policy: &policy,
        confirmation: Default::default(),
        deadline: Deadline::none(),
    };
    let outcome = check_database(scope, port.as_ref(), DatabaseKind::Instance, &["legacy-db".to_owned()], None)
        .await
        .expect("checked");
    let CheckOutcome::Judged(checked) = outcome else { panic!("the database exists: {outcome:?}") };
    let mut direct: Vec<(String, String)> = checked
        .findings
        .iter()
        .map(|(finding, action)| (finding.rule.as_str().to_owned(), action.status.as_str().to_owned()))
        .collect();
    direct.sort();

    assert_eq!(direct, event_findings);
    for rule in ["RDS.2", "RDS.3", "RDSGUARD.REGION", "RDS.8", "RDS.11", "RDS.25"] {
        assert!(direct.iter().any(|(r, _)| r == rule), "{rule} missing from {direct:?}");
    }
    assert_eq!(checked.resource, "arn:aws:rds:us-east-1:123456789012:db:legacy-db");
}
