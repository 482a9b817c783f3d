//! rds-guard's decision for every real event sample: which database to check, or why not.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rds_guard::target::{triage_payload, Triage};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/tests/fixtures/real-events");

/// "check <subject> <account> <region> <actor>", "ignore: <reason fragment>" or "error: <fragment>".
fn expected(name: &str) -> &'static str {
    match name {
        "cloudtrail-CreateDBInstance-awsdocs-rds-user-guide.json" => {
            "check Instance test-instance 123456789012 us-east-1 arn:aws:iam::123456789012:user/johndoe"
        }
        "cloudtrail-CreateDBInstance-cloud-custodian.json" => {
            "check Instance onenessdb 101010101111 us-east-1 arn:aws::sts:101010101111:assumed-role/UserRole/userid"
        }
        "cloudtrail-ModifyDBInstance-allocatedStorage-console-panther.json"
        | "cloudtrail-ModifyDBInstance-masterUserPassword-console-panther.json" => {
            "check Instance my-database 123456789012 us-west-1 arn:aws:sts::123456789012:assumed-role/Admin/Jack"
        }
        "eventbridge-cloudtrail-CreateDBInstance-flatironhealth.json" => {
            "check Instance dbname 123456789012 us-east-1 arn:aws:sts::123456789012:assumed-role/role-name/1575491847268719000"
        }
        "rds-event-DBCluster-RDS-EVENT-0173-awsdocs-aurora.json" => "check Cluster my-db-cluster 123456789012 us-east-1 rds.amazonaws.com",
        "rds-event-DBInstance-created-RDS-EVENT-0005-real-2021.json" => "check Instance database-4 929976461491 us-east-1 rds.amazonaws.com",
        "rds-event-DBInstance-failover-RDS-EVENT-0049-awsdocs.json" => "check Instance my-db-instance 123456789012 us-east-1 rds.amazonaws.com",
        "rds-event-DBInstance-stopped-RDS-EVENT-0087-awsdocs.json" => "check Instance testdb 111111111111 us-east-1 rds.amazonaws.com",
        "cloudtrail-CreateDBSnapshot-manual-terraform-panther.json" => {
            "check Snapshot(Instance) exfiltration 123456789012 us-west-2 arn:aws:sts::123456789012:assumed-role/ARole/fake.user"
        }
        "eventbridge-cloudtrail-ModifyDBSnapshotAttribute-flatironhealth.json" => {
            "check Snapshot(Instance) misconfiguration-maker 123456789012 us-east-1 arn:aws:sts::123456789012:assumed-role/role-name/abc@xyz.com"
        }
        // Sanitised by their publishers into values AWS never sends: refused, never guessed at.
        "cloudtrail-DeleteDBCluster-skipFinalSnapshot-elastic.json" => "error: is not 12 digits",
        "cloudtrail-ModifyDBSnapshotAttribute-stratus-red-team.json" => "error: is not an AWS region",
        "cloudtrail-AuthorizeSecurityGroupIngress-port22-world-go-sdk-panther.json" => "ignore: from ec2.amazonaws.com is not an RDS call",
        "cloudtrail-StartLogging-negative-awsdocs-cloudtrail-guide.json"
        | "cloudtrail-StopLogging-stratus-red-team.json" => "ignore: from cloudtrail.amazonaws.com is not an RDS call",
        "cloudtrail-organizations-AttachPolicy-PolicyTypeNotEnabled-awsdocs.json"
        | "cloudtrail-organizations-AttachPolicy-SCP-console-root.json"
        | "cloudtrail-organizations-DetachPolicy-SCP-console-root.json"
        | "cloudtrail-organizations-LeaveOrganization-AccessDenied-stratus-red-team.json" => {
            "ignore: from organizations.amazonaws.com is not an RDS call"
        }
        "eventbridge-cloudtrail-envelope-S3-CreateBucket-awsdocs-eventbridge.json" => "ignore: from s3.amazonaws.com is not an RDS call",
        "guardduty-finding-Backdoor-EC2-CCActivity.B-DNS-cloud-custodian.json"
        | "guardduty-finding-UnauthorizedAccess-IAMUser-TorIPCaller-cloud-custodian.json" => {
            "ignore: detail-type \"GuardDuty Finding\" from \"aws.guardduty\" is not handled"
        }
        "guardduty-finding-CredentialAccess-RDS-AnomalousBehavior.SuccessfulLogin-camelCase-elastic.json"
        | "guardduty-finding-Recon-IAMUser-MaliciousIPCaller.Custom-detail-only-aws-samples.json" => {
            "ignore: not an event rds-guard understands"
        }
        "rds-event-DBClusterSnapshot-RDS-EVENT-0074-awsdocs-aurora.json"
        | "rds-event-DBParameterGroup-RDS-EVENT-0037-awsdocs.json"
        | "rds-event-DBProxy-RDS-EVENT-0207-awsdocs.json"
        | "rds-event-DBSecurityGroup-RDS-EVENT-0038-awsdocs-aurora.json"
        | "rds-event-DBSnapshot-deleted-RDS-EVENT-0041-awsdocs.json" => "ignore: is not handled by rds-guard",
        other => panic!("new fixture {other}: add rds-guard's expected decision to this table"),
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
        let payload: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()).unwrap();
        let want = expected(&name);
        match triage_payload(&payload) {
            Ok(Triage::Handle(t)) => {
                let got = format!("check {} {} {} {}", t.subject.describe(), t.account, t.region, t.context.actor);
                assert_eq!(got, want, "{name}");
                assert!(!t.context.event_id.is_empty(), "{name}");
            }
            Ok(Triage::Ignore(reason)) => {
                let fragment =
                    want.strip_prefix("ignore: ").unwrap_or_else(|| panic!("{name}: ignored ({reason}), want {want}"));
                assert!(reason.contains(fragment), "{name}: {reason:?} lacks {fragment:?}");
            }
            Err(e) => {
                let fragment = want.strip_prefix("error: ").unwrap_or_else(|| panic!("{name}: error {e}, want {want}"));
                assert!(e.to_string().contains(fragment), "{name}: {e} lacks {fragment:?}");
            }
        }
    }
    assert_eq!(seen, 30);
}
