//! guardduty-responder's decision for every real event sample, and the alert it sends for the
//! real RDS Protection sample finding — with no AWS behind it, since samples never get a response.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use guardduty_responder::config::ResponderConfig;
use guardduty_responder::target::{triage_payload, Triage};
use guardduty_responder::{handle_event, GuardDutyResponder};
use rdsguard::alert::Alert;
use rdsguard::aws::{AlertPublisher, AwsError, ResponderConnector, ResponderPorts, SessionError};
use rdsguard::database::DatabaseKind;
use rdsguard::guardduty::GuardDutyResponses;
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::policy::Policy;
use rdsguard::rules::Severity;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/tests/fixtures/real-events");
const RDS_SAMPLE: &str =
    "guardduty-finding-CredentialAccess-RDS-AnomalousBehavior.SuccessfulLogin-camelCase-elastic.json";

fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()).unwrap()
}

/// "respond <kind> <id> <account> <region> <severity>" or "ignore: <reason fragment>".
fn expected(name: &str) -> &'static str {
    match name {
        RDS_SAMPLE => "respond Instance generatedfindingdbinstanceid 123412341234 us-east-1 HIGH",
        "guardduty-finding-Backdoor-EC2-CCActivity.B-DNS-cloud-custodian.json" => {
            "ignore: (Backdoor:EC2/C&CActivity.B!DNS on Instance) is not about a database"
        }
        "guardduty-finding-Recon-IAMUser-MaliciousIPCaller.Custom-detail-only-aws-samples.json" => {
            "ignore: (Recon:IAMUser/MaliciousIPCaller.Custom on AccessKey) is not about a database"
        }
        "guardduty-finding-UnauthorizedAccess-IAMUser-TorIPCaller-cloud-custodian.json" => {
            "ignore: (UnauthorizedAccess:IAMUser/TorIPCaller on AccessKey) is not about a database"
        }
        "eventbridge-cloudtrail-CreateDBInstance-flatironhealth.json"
        | "eventbridge-cloudtrail-ModifyDBSnapshotAttribute-flatironhealth.json" => {
            "ignore: detail-type \"AWS API Call via CloudTrail\" from \"aws.sqs\" is not a GuardDuty finding"
        }
        "eventbridge-cloudtrail-envelope-S3-CreateBucket-awsdocs-eventbridge.json" => {
            "ignore: detail-type \"AWS API Call via CloudTrail\" from \"aws.s3\" is not a GuardDuty finding"
        }
        name if name.starts_with("cloudtrail-") => "ignore: a CloudTrail record, not a GuardDuty finding",
        name if name.starts_with("rds-event-") => "ignore: from \"aws.rds\" is not a GuardDuty finding",
        other => panic!("new fixture {other}: add guardduty-responder's expected decision to this table"),
    }
}

#[test]
fn every_real_sample_gets_the_right_decision() {
    let mut seen = 0;
    for entry in std::fs::read_dir(FIXTURES).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".json") {
            continue;
        }
        seen += 1;
        let want = expected(&name);
        match triage_payload(&load(&name)) {
            Ok(Triage::Handle(t)) => {
                let got = format!(
                    "respond {:?} {} {} {} {}",
                    t.database.kind,
                    t.database.identifier,
                    t.account,
                    t.region,
                    t.severity.as_str()
                );
                assert_eq!(got, want, "{name}");
            }
            Ok(Triage::Ignore(reason)) => {
                let fragment =
                    want.strip_prefix("ignore: ").unwrap_or_else(|| panic!("{name}: ignored ({reason}), want {want}"));
                assert!(reason.contains(fragment), "{name}: {reason:?} lacks {fragment:?}");
            }
            Err(e) => panic!("{name}: error {e}, want {want}"),
        }
    }
    assert_eq!(seen, 30, "every sample is covered");
}

#[test]
fn the_rds_sample_is_read_in_full() {
    let Ok(Triage::Handle(threat)) = triage_payload(&load(RDS_SAMPLE)) else { panic!("expected a threat") };
    let f = &threat.finding;
    assert!(f.sample);
    assert_eq!(threat.severity, Severity::High);
    assert_eq!(threat.database.kind, DatabaseKind::Instance);
    assert_eq!(threat.database.cluster_identifier.as_deref(), Some("generatedfindingdbclusterid"));
    let user = f.db_user.as_ref().unwrap();
    assert_eq!(user.user.as_deref(), Some("GeneratedFindingUserName"));
    assert_eq!(user.auth_method.as_deref(), Some("GeneratedFindingAuthMethod"));
    let ip = f.remote_ip.as_ref().unwrap();
    assert_eq!(ip.address.as_deref(), Some("175.16.199.1"));
    assert_eq!(ip.organization.as_deref(), Some("GeneratedFindingOrg"));
    assert_eq!(ip.country.as_deref(), Some("GeneratedFindingCountryName"));
    assert_eq!(f.count, Some(1));
    assert_eq!(f.unusual_behavior.as_ref().unwrap()["unusualASNClusterProfiling"]["successfulLoginCount"], 10);
    // The sanitised sample's database ARN names another account than the finding: contradictory,
    // so nothing would be changed even if it were not a sample.
    assert!(threat.inconsistency.as_deref().unwrap().contains("123456789000"));
}

/// Keeps what would have been published.
#[derive(Default)]
struct Published(Mutex<Vec<Alert>>);

#[async_trait]
impl AlertPublisher for Published {
    async fn publish(&self, alert: &Alert) -> Result<String, AwsError> {
        self.0.lock().unwrap().push(alert.clone());
        Ok("message-1".to_owned())
    }
}

/// Fails the test if the responder tries to reach AWS at all.
struct NoAws;

#[async_trait]
impl ResponderConnector for NoAws {
    async fn connect(&self, account: &AccountId, region: &AwsRegion) -> Result<ResponderPorts, SessionError> {
        panic!("a sample finding must not reach AWS ({account}/{region})")
    }
}

#[tokio::test]
async fn the_rds_sample_is_alerted_as_a_sample_and_never_responded_to() {
    let published = Arc::new(Published::default());
    let policy =
        Policy::from_vars([("ALERT_TOPIC_ARN".to_owned(), "arn:aws:sns:us-east-1:123456789012:alerts".to_owned())])
            .unwrap();
    let responder = GuardDutyResponder {
        policy,
        config: ResponderConfig { responses: GuardDutyResponses::parse(Some("*=snapshot+make_private")).unwrap() },
        connector: Arc::new(NoAws),
        alerting: rdsguard::report::Alerting { alerts: published.clone(), undelivered: None },
        confirmation: Default::default(),
    };

    let summary = handle_event(&load(RDS_SAMPLE), &responder).await.unwrap();

    assert_eq!(summary.outcome, rdsguard::kernel::InvocationOutcome::Alerted);
    assert!(summary.detail.responses.is_empty());
    let alerts = published.0.lock().unwrap();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert.rule, "GUARDDUTY.RDS");
    assert_eq!(alert.severity, "INFORMATIONAL");
    assert_eq!(alert.observed["sample"], true);
    assert_eq!(alert.observed["severity_label"], "HIGH");
    assert_eq!(alert.observed["guardduty_severity"], 8.0);
    assert_eq!(alert.action.status.as_str(), "not_attempted");
    assert!(alert.action.detail.contains("sample"), "{}", alert.action.detail);
    assert!(alert.subject().contains("SAMPLE"), "{}", alert.subject());
    assert_eq!(alert.event_id, "5abcdefabcdefabcdef2a123456789f6");
    assert_eq!(alert.event_name, "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin");
    assert_eq!(alert.actor, "database user GeneratedFindingUserName from 175.16.199.1");
    assert_eq!(
        alert.observed["console_url"],
        "https://console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=5abcdefabcdefabcdef2a123456789f6"
    );
    assert_eq!(alert.observed["db_user"]["application"], "GeneratedFindingApplicationName");
    assert_eq!(alert.observed["database"]["engine"], "GeneratedFindingEngine");
}
