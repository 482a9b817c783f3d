//! Every real event sample parses without panicking, into the shape it really is.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;

use rdsguard::event::{parse_event, EventError, IncomingEvent};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/real-events");

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// What parse_event should make of each file: "api:<eventName>", "rds:<identifier>",
/// "unsupported:<detail-type>" or "error".
fn expected(name: &str) -> &'static str {
    match name {
        "cloudtrail-AuthorizeSecurityGroupIngress-port22-world-go-sdk-panther.json" => {
            "api:AuthorizeSecurityGroupIngress"
        }
        "cloudtrail-CreateDBInstance-awsdocs-rds-user-guide.json" => "api:CreateDBInstance",
        "cloudtrail-CreateDBInstance-cloud-custodian.json" => "api:CreateDBInstance",
        "cloudtrail-CreateDBSnapshot-manual-terraform-panther.json" => "api:CreateDBSnapshot",
        "cloudtrail-DeleteDBCluster-skipFinalSnapshot-elastic.json" => "api:DeleteDBCluster",
        "cloudtrail-ModifyDBInstance-allocatedStorage-console-panther.json" => "api:ModifyDBInstance",
        "cloudtrail-ModifyDBInstance-masterUserPassword-console-panther.json" => "api:ModifyDBInstance",
        "cloudtrail-ModifyDBSnapshotAttribute-stratus-red-team.json" => "api:ModifyDBSnapshotAttribute",
        "cloudtrail-StartLogging-negative-awsdocs-cloudtrail-guide.json" => "api:StartLogging",
        "cloudtrail-StopLogging-stratus-red-team.json" => "api:StopLogging",
        "cloudtrail-organizations-AttachPolicy-PolicyTypeNotEnabled-awsdocs.json" => "api:AttachPolicy",
        "cloudtrail-organizations-AttachPolicy-SCP-console-root.json" => "api:AttachPolicy",
        "cloudtrail-organizations-DetachPolicy-SCP-console-root.json" => "api:DetachPolicy",
        "cloudtrail-organizations-LeaveOrganization-AccessDenied-stratus-red-team.json" => "api:LeaveOrganization",
        "eventbridge-cloudtrail-CreateDBInstance-flatironhealth.json" => "api:CreateDBInstance",
        "eventbridge-cloudtrail-ModifyDBSnapshotAttribute-flatironhealth.json" => "api:ModifyDBSnapshotAttribute",
        "eventbridge-cloudtrail-envelope-S3-CreateBucket-awsdocs-eventbridge.json" => "api:CreateBucket",
        "guardduty-finding-Backdoor-EC2-CCActivity.B-DNS-cloud-custodian.json" => "unsupported:GuardDuty Finding",
        "guardduty-finding-CredentialAccess-RDS-AnomalousBehavior.SuccessfulLogin-camelCase-elastic.json" => "error",
        "guardduty-finding-Recon-IAMUser-MaliciousIPCaller.Custom-detail-only-aws-samples.json" => "error",
        "guardduty-finding-UnauthorizedAccess-IAMUser-TorIPCaller-cloud-custodian.json" => {
            "unsupported:GuardDuty Finding"
        }
        "rds-event-DBCluster-RDS-EVENT-0173-awsdocs-aurora.json" => "rds:my-db-cluster",
        "rds-event-DBClusterSnapshot-RDS-EVENT-0074-awsdocs-aurora.json" => "unsupported:RDS DB Cluster Snapshot Event",
        "rds-event-DBInstance-created-RDS-EVENT-0005-real-2021.json" => "rds:database-4",
        "rds-event-DBInstance-failover-RDS-EVENT-0049-awsdocs.json" => "rds:my-db-instance",
        "rds-event-DBInstance-stopped-RDS-EVENT-0087-awsdocs.json" => "rds:testdb",
        "rds-event-DBParameterGroup-RDS-EVENT-0037-awsdocs.json" => "unsupported:RDS DB Parameter Group Event",
        "rds-event-DBProxy-RDS-EVENT-0207-awsdocs.json" => "unsupported:RDS DB Proxy Event",
        "rds-event-DBSecurityGroup-RDS-EVENT-0038-awsdocs-aurora.json" => "unsupported:RDS DB Security Group Event",
        "rds-event-DBSnapshot-deleted-RDS-EVENT-0041-awsdocs.json" => "unsupported:RDS DB Snapshot Event",
        other => panic!("new fixture {other}: add its expected shape to this table"),
    }
}

#[test]
fn every_real_sample_parses_into_its_shape() {
    let mut seen = 0;
    for entry in std::fs::read_dir(FIXTURES).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".json") {
            continue;
        }
        seen += 1;
        let got = match parse_event(&load(&name)) {
            Ok(IncomingEvent::ApiCall(call)) => format!("api:{}", call.event_name),
            Ok(IncomingEvent::RdsNative(event)) => format!("rds:{}", event.source_identifier),
            Ok(IncomingEvent::Unsupported { detail_type, .. }) => format!("unsupported:{detail_type}"),
            Err(EventError::UnknownShape) => "error".to_owned(),
            Err(e) => panic!("{name}: unexpected error {e}"),
        };
        assert_eq!(got, expected(&name), "{name}");
    }
    assert_eq!(seen, 30, "every sample is covered");
}

#[test]
fn cloudtrail_fields_are_read_from_real_records() {
    let IncomingEvent::ApiCall(docs) =
        parse_event(&load("cloudtrail-CreateDBInstance-awsdocs-rds-user-guide.json")).unwrap()
    else {
        panic!("api call expected")
    };
    assert_eq!(docs.event_id, "797163d3-5726-441d-80a7-6eeb7464acd4");
    assert_eq!(docs.actor, "arn:aws:iam::123456789012:user/johndoe");
    assert_eq!(docs.account_id().unwrap().as_str(), "123456789012");
    // publiclyAccessible is absent from the request and present only in the response.
    assert_eq!(docs.request_param("publiclyAccessible"), None);
    assert_eq!(docs.response_element("publiclyAccessible"), Some(&Value::Bool(true)));
    assert_eq!(docs.string_param("masterUserPassword"), Some("****"));

    let IncomingEvent::ApiCall(custodian) =
        parse_event(&load("cloudtrail-CreateDBInstance-cloud-custodian.json")).unwrap()
    else {
        panic!("api call expected")
    };
    assert_eq!(custodian.account.as_deref(), Some("101010101111"));
    assert_eq!(custodian.actor, "arn:aws::sts:101010101111:assumed-role/UserRole/userid");

    let IncomingEvent::ApiCall(root) =
        parse_event(&load("cloudtrail-organizations-AttachPolicy-SCP-console-root.json")).unwrap()
    else {
        panic!("api call expected")
    };
    assert!(root.account_id().is_err(), "placeholder account ids are refused");

    let IncomingEvent::ApiCall(failed) =
        parse_event(&load("cloudtrail-organizations-LeaveOrganization-AccessDenied-stratus-red-team.json")).unwrap()
    else {
        panic!("api call expected")
    };
    assert_eq!(failed.error_code.as_deref(), Some("AccessDenied"));
    assert!(failed.aws_region().is_err(), "made-up region is refused: {:?}", failed.region);
}

#[test]
fn malformed_input_is_refused_with_a_reason() {
    let cases = [
        ("null", "not a JSON object"),
        ("[1,2]", "not a JSON object"),
        ("\"text\"", "not a JSON object"),
        ("{}", "neither an EventBridge envelope"),
        (r#"{"detail-type": "AWS API Call via CloudTrail", "detail": {}}"#, "envelope is malformed"),
        (
            r#"{"detail-type": "AWS API Call via CloudTrail", "source": "aws.rds", "detail": {"eventName": "CreateDBInstance"}}"#,
            "no usable eventSource",
        ),
        (
            r#"{"detail-type": "AWS API Call via CloudTrail", "source": "aws.rds", "detail": "oops"}"#,
            "not a JSON object",
        ),
        (
            r#"{"detail-type": "RDS DB Instance Event", "source": "aws.rds", "detail": {"Message": "x"}}"#,
            "no usable SourceIdentifier",
        ),
    ];
    for (text, reason) in cases {
        let value: Value = serde_json::from_str(text).unwrap();
        let error = parse_event(&value).expect_err(text);
        assert!(error.to_string().contains(reason), "{text}: {error}");
    }
}
