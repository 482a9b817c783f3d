//! pipeline-guard's decision for every real event sample: which watcher was tampered with, or why
//! the event is not its business. None may panic.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pipeline_guard::config::PipelineConfig;
use pipeline_guard::tampering::Tampering;
use pipeline_guard::target::{triage_payload, Triage};
use serde_json::{json, Value};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/tests/fixtures/real-events");

fn config() -> PipelineConfig {
    PipelineConfig { suite_rule_prefix: "rdsguard-".to_owned() }
}

fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()).unwrap()
}

/// "ignore: <reason fragment>" or "error: <fragment>".
fn expected(name: &str) -> &'static str {
    match name {
        // The Stratus Red Team detonation is anonymised with a made-up region: a handled call that
        // cannot be placed is an error (retried, then kept in the DLQ), never a guess.
        "cloudtrail-StopLogging-stratus-red-team.json" => "error: \"apiso-centralnorth-2r\" is not an AWS region",
        "cloudtrail-StartLogging-negative-awsdocs-cloudtrail-guide.json" => {
            "ignore: StartLogging from cloudtrail.amazonaws.com does not switch off"
        }
        "cloudtrail-AuthorizeSecurityGroupIngress-port22-world-go-sdk-panther.json" => {
            "ignore: AuthorizeSecurityGroupIngress from ec2.amazonaws.com does not switch off"
        }
        "cloudtrail-CreateDBInstance-awsdocs-rds-user-guide.json"
        | "cloudtrail-CreateDBInstance-cloud-custodian.json"
        | "eventbridge-cloudtrail-CreateDBInstance-flatironhealth.json" => {
            "ignore: CreateDBInstance from rds.amazonaws.com does not switch off"
        }
        "cloudtrail-CreateDBSnapshot-manual-terraform-panther.json" => {
            "ignore: CreateDBSnapshot from rds.amazonaws.com"
        }
        "cloudtrail-DeleteDBCluster-skipFinalSnapshot-elastic.json" => "ignore: DeleteDBCluster from rds.amazonaws.com",
        "cloudtrail-ModifyDBInstance-allocatedStorage-console-panther.json"
        | "cloudtrail-ModifyDBInstance-masterUserPassword-console-panther.json" => {
            "ignore: ModifyDBInstance from rds.amazonaws.com"
        }
        "cloudtrail-ModifyDBSnapshotAttribute-stratus-red-team.json"
        | "eventbridge-cloudtrail-ModifyDBSnapshotAttribute-flatironhealth.json" => {
            "ignore: ModifyDBSnapshotAttribute from rds.amazonaws.com"
        }
        "cloudtrail-organizations-AttachPolicy-PolicyTypeNotEnabled-awsdocs.json"
        | "cloudtrail-organizations-AttachPolicy-SCP-console-root.json" => "ignore: AttachPolicy from organizations",
        "cloudtrail-organizations-DetachPolicy-SCP-console-root.json" => "ignore: DetachPolicy from organizations",
        "cloudtrail-organizations-LeaveOrganization-AccessDenied-stratus-red-team.json" => {
            "ignore: LeaveOrganization from organizations"
        }
        "eventbridge-cloudtrail-envelope-S3-CreateBucket-awsdocs-eventbridge.json" => "ignore: CreateBucket from s3",
        "guardduty-finding-Backdoor-EC2-CCActivity.B-DNS-cloud-custodian.json"
        | "guardduty-finding-UnauthorizedAccess-IAMUser-TorIPCaller-cloud-custodian.json" => {
            "ignore: detail-type \"GuardDuty Finding\" from \"aws.guardduty\" is not handled by pipeline-guard"
        }
        "guardduty-finding-CredentialAccess-RDS-AnomalousBehavior.SuccessfulLogin-camelCase-elastic.json"
        | "guardduty-finding-Recon-IAMUser-MaliciousIPCaller.Custom-detail-only-aws-samples.json" => {
            "ignore: not an event pipeline-guard understands"
        }
        "rds-event-DBCluster-RDS-EVENT-0173-awsdocs-aurora.json"
        | "rds-event-DBInstance-created-RDS-EVENT-0005-real-2021.json"
        | "rds-event-DBInstance-failover-RDS-EVENT-0049-awsdocs.json"
        | "rds-event-DBInstance-stopped-RDS-EVENT-0087-awsdocs.json" => "ignore: RDS event for",
        "rds-event-DBClusterSnapshot-RDS-EVENT-0074-awsdocs-aurora.json"
        | "rds-event-DBParameterGroup-RDS-EVENT-0037-awsdocs.json"
        | "rds-event-DBProxy-RDS-EVENT-0207-awsdocs.json"
        | "rds-event-DBSecurityGroup-RDS-EVENT-0038-awsdocs-aurora.json"
        | "rds-event-DBSnapshot-deleted-RDS-EVENT-0041-awsdocs.json" => "ignore: is not handled by pipeline-guard",
        other => panic!("new fixture {other}: add pipeline-guard's expected decision to this table"),
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
        match triage_payload(&load(&name), &config()) {
            Ok(Triage::Ignore(reason)) => {
                let fragment =
                    want.strip_prefix("ignore: ").unwrap_or_else(|| panic!("{name}: ignored ({reason}), want {want}"));
                assert!(reason.contains(fragment), "{name}: {reason:?} lacks {fragment:?}");
            }
            Err(e) => {
                let fragment = want.strip_prefix("error: ").unwrap_or_else(|| panic!("{name}: error {e}, want {want}"));
                assert!(e.to_string().contains(fragment), "{name}: {e} lacks {fragment:?}");
            }
            Ok(Triage::Handle(t)) => panic!("{name}: alert {t:?}, want {want}"),
        }
    }
    assert_eq!(seen, 30, "every sample is covered");
}

#[test]
fn the_real_stop_logging_record_names_who_and_from_where_once_placed() {
    // The same detonation record with its anonymised region replaced by a real one.
    let mut record = load("cloudtrail-StopLogging-stratus-red-team.json");
    record["awsRegion"] = json!("eu-west-3");
    let Ok(Triage::Handle(tamper)) = triage_payload(&record, &config()) else { panic!("expected an alert") };
    assert_eq!(tamper.kind, Tampering::StopLogging);
    assert_eq!(tamper.resource_id, "stratus-red-team-ct-stop-trail-buykxbqejv");
    assert_eq!(
        tamper.resource_arn,
        "arn:aws:cloudtrail:eu-west-3:143434273843:trail/stratus-red-team-ct-stop-trail-buykxbqejv"
    );
    assert_eq!((tamper.account.as_str(), tamper.region.as_str()), ("143434273843", "eu-west-3"));
    assert_eq!(tamper.context.actor, "arn:aws:iam::143434273843:user/christophe");
    assert_eq!(tamper.context.event_id, "10163ed2-2253-469d-a5ee-cbc6651f8934");
    assert_eq!(tamper.observed["SourceIPAddress"], "86.245.153.234");
    assert_eq!(tamper.observed["UserAgent"], "stratus-red-team_c97089f1-1ae3-4ecc-b006-f5e8fd0f2571");
    assert_eq!(tamper.failed, None);

    // And wrapped in the EventBridge envelope AWS delivers it in.
    let envelope = json!({"version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.cloudtrail", "account": "143434273843", "time": "2024-07-31T13:06:24Z",
        "region": "eu-west-3", "resources": [], "detail": record});
    assert!(matches!(triage_payload(&envelope, &config()), Ok(Triage::Handle(_))));
}

#[test]
fn the_docs_start_logging_record_with_a_trail_arn_is_not_tampering_but_its_stop_twin_is() {
    let mut record = load("cloudtrail-StartLogging-negative-awsdocs-cloudtrail-guide.json");
    record["eventName"] = json!("StopLogging");
    let Ok(Triage::Handle(tamper)) = triage_payload(&record, &config()) else { panic!("expected an alert") };
    assert_eq!(tamper.resource_id, "My-First-Trail");
    assert_eq!(
        tamper.trail_reference.as_deref(),
        Some("arn:aws:cloudtrail:us-east-2:123456789012:trail/My-First-Trail")
    );
    assert_eq!(tamper.observed["SourceIPAddress"], "203.0.113.64");
}
