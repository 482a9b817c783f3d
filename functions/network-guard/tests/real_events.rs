//! network-guard's decision for every real event sample: which security groups to check (and what
//! the call asked for), or why not. The one real AuthorizeSecurityGroupIngress sample opens port 22
//! to the world: read in full, and judged as no database exposure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use network_guard::target::{triage_payload, Triage};
use rdsguard::network::IngressRule;
use rdsguard::rules::{evaluate_ingress, DatabasePorts, Verdict};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/tests/fixtures/real-events");

fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()).unwrap()
}

/// "check <groups> <account> <region> <actor>", "ignore: <reason fragment>" or "error: <fragment>".
fn expected(name: &str) -> &'static str {
    match name {
        "cloudtrail-AuthorizeSecurityGroupIngress-port22-world-go-sdk-panther.json" => {
            "check sg-0d921df5d84f7270a 112233445566 us-east-1 arn:aws:sts::112233445566:assumed-role/Operator/ryan@example.com"
        }
        "cloudtrail-CreateDBInstance-awsdocs-rds-user-guide.json" => {
            "check sg-f839b688 123456789012 us-east-1 arn:aws:iam::123456789012:user/johndoe"
        }
        "cloudtrail-CreateDBInstance-cloud-custodian.json" => {
            "check sg-64952a01 101010101111 us-east-1 arn:aws::sts:101010101111:assumed-role/UserRole/userid"
        }
        "cloudtrail-ModifyDBInstance-allocatedStorage-console-panther.json"
        | "cloudtrail-ModifyDBInstance-masterUserPassword-console-panther.json" => {
            "check sg-d963a5a4 123456789012 us-west-1 arn:aws:sts::123456789012:assumed-role/Admin/Jack"
        }
        // The sanitised sample's only group is "sg-abcd", which EC2 could never have issued.
        "eventbridge-cloudtrail-CreateDBInstance-flatironhealth.json" => "ignore: names no valid VPC security group id",
        "cloudtrail-CreateDBSnapshot-manual-terraform-panther.json" => "ignore: CreateDBSnapshot from rds.amazonaws.com does not",
        "cloudtrail-DeleteDBCluster-skipFinalSnapshot-elastic.json" => "ignore: DeleteDBCluster from rds.amazonaws.com does not",
        "cloudtrail-ModifyDBSnapshotAttribute-stratus-red-team.json"
        | "eventbridge-cloudtrail-ModifyDBSnapshotAttribute-flatironhealth.json" => "ignore: ModifyDBSnapshotAttribute",
        "cloudtrail-StartLogging-negative-awsdocs-cloudtrail-guide.json" => "ignore: StartLogging from cloudtrail.amazonaws.com",
        "cloudtrail-StopLogging-stratus-red-team.json" => "ignore: StopLogging from cloudtrail.amazonaws.com",
        "cloudtrail-organizations-AttachPolicy-PolicyTypeNotEnabled-awsdocs.json"
        | "cloudtrail-organizations-AttachPolicy-SCP-console-root.json"
        | "cloudtrail-organizations-DetachPolicy-SCP-console-root.json"
        | "cloudtrail-organizations-LeaveOrganization-AccessDenied-stratus-red-team.json" => {
            "ignore: from organizations.amazonaws.com does not"
        }
        "eventbridge-cloudtrail-envelope-S3-CreateBucket-awsdocs-eventbridge.json" => "ignore: CreateBucket from s3.amazonaws.com",
        "guardduty-finding-Backdoor-EC2-CCActivity.B-DNS-cloud-custodian.json"
        | "guardduty-finding-UnauthorizedAccess-IAMUser-TorIPCaller-cloud-custodian.json" => {
            "ignore: detail-type \"GuardDuty Finding\" from \"aws.guardduty\" is not handled by network-guard"
        }
        "guardduty-finding-CredentialAccess-RDS-AnomalousBehavior.SuccessfulLogin-camelCase-elastic.json"
        | "guardduty-finding-Recon-IAMUser-MaliciousIPCaller.Custom-detail-only-aws-samples.json" => {
            "ignore: not an event network-guard understands"
        }
        name if name.starts_with("rds-event-") => "ignore: not handled by network-guard",
        other => panic!("new fixture {other}: add network-guard's expected decision to this table"),
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
                assert!(!t.groups.is_empty() && !t.context.event_id.is_empty(), "{name}");
                let groups: Vec<String> = t.groups.iter().map(ToString::to_string).collect();
                let got = format!("check {} {} {} {}", groups.join(","), t.account, t.region, t.context.actor);
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
    assert_eq!(seen, 30);
}

fn requested_by_sample() -> Vec<IngressRule> {
    let payload = load("cloudtrail-AuthorizeSecurityGroupIngress-port22-world-go-sdk-panther.json");
    let Ok(Triage::Handle(target)) = triage_payload(&payload) else { panic!("the sample is checked") };
    target.requested
}

#[test]
fn the_authorize_sample_is_read_in_full_and_ssh_is_not_a_database_port() {
    let requested = requested_by_sample();
    assert_eq!(requested.len(), 1);
    let rule = &requested[0];
    assert_eq!((rule.protocol.as_str(), rule.from_port, rule.to_port), ("tcp", Some(22), Some(22)));
    assert_eq!(rule.source.describe(), "0.0.0.0/0");
    assert_eq!(rule.group_id, "sg-0d921df5d84f7270a");
    for ports in [DatabasePorts::from_listening([]), DatabasePorts::from_listening([5432])] {
        let [(_, verdict), _] = evaluate_ingress(rule, &ports, &[]);
        assert_eq!(verdict, Verdict::Compliant, "{ports:?}");
    }
}

#[test]
fn the_same_call_on_a_database_port_is_judged_by_its_source() {
    let mut payload = load("cloudtrail-AuthorizeSecurityGroupIngress-port22-world-go-sdk-panther.json");
    let permission = &mut payload["requestParameters"]["ipPermissions"]["items"][0];
    permission["fromPort"] = 5432.into();
    permission["toPort"] = 5432.into();
    let judge = |payload: &Value| {
        let Ok(Triage::Handle(target)) = triage_payload(payload) else { panic!("checked") };
        let [(_, verdict), _] = evaluate_ingress(&target.requested[0], &DatabasePorts::from_listening([5432]), &[]);
        verdict
    };
    assert!(matches!(judge(&payload), Verdict::Violation(_)));
    payload["requestParameters"]["ipPermissions"]["items"][0]["ipRanges"]["items"][0]["cidrIp"] =
        "10.20.30.0/24".into();
    assert_eq!(judge(&payload), Verdict::Compliant, "a /24 source is not a violation");
}
