//! GuardDuty findings about databases: which findings are rdsguard's business, how GuardDuty's
//! numeric severity maps to a label, when a finding is worth an alert, and which responses the
//! configuration opts in to. Pure functions; guardduty-responder does the I/O.

mod responses;
mod severity;
mod sighting;

pub use responses::{snapshot_identifier, GuardDutyResponses, Response, ENV_GUARDDUTY_RESPONSES};
pub use severity::severity_label;
pub use sighting::{decide_alert, sighting, AlertDecision, Sighting, FIRST_PUBLICATION_WINDOW_SECS};

use crate::event::GuardDutyFinding;
use crate::identity::AwsRegion;

/// GuardDuty RDS Protection's finding types (RDS login activity monitoring).
pub const RDS_PROTECTION_FINDING_TYPES: [&str; 9] = [
    "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin",
    "CredentialAccess:RDS/AnomalousBehavior.FailedLogin",
    "CredentialAccess:RDS/AnomalousBehavior.SuccessfulBruteForce",
    "CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin",
    "CredentialAccess:RDS/MaliciousIPCaller.FailedLogin",
    "Discovery:RDS/MaliciousIPCaller",
    "CredentialAccess:RDS/TorIPCaller.SuccessfulLogin",
    "CredentialAccess:RDS/TorIPCaller.FailedLogin",
    "Discovery:RDS/TorIPCaller",
];

/// Why a finding is about a database, or `None` when it is not (then it is acknowledged and
/// ignored).
pub fn rds_relevance(finding: &GuardDutyFinding) -> Option<&'static str> {
    if RDS_PROTECTION_FINDING_TYPES.contains(&finding.finding_type.as_str()) {
        return Some("an RDS Protection finding type");
    }
    if finding.finding_type.contains(":RDS/") {
        return Some("a finding type about RDS");
    }
    let resource = finding.resource_type.as_deref().unwrap_or_default();
    // `get` rather than `[..3]`: a resource type from the event may start with a multi-byte
    // character, and a byte-offset slice inside it panics.
    if resource.get(..3).is_some_and(|prefix| prefix.eq_ignore_ascii_case("RDS")) {
        return Some("a finding on an RDS resource");
    }
    None
}

/// The GuardDuty console page of a finding, where the partition has a public console.
pub fn finding_console_url(region: &AwsRegion, finding_id: &str) -> Option<String> {
    let host = match region.partition() {
        "aws" => "console.aws.amazon.com",
        "aws-cn" => "console.amazonaws.cn",
        "aws-us-gov" => "console.amazonaws-us-gov.com",
        _ => return None,
    };
    let id: String = finding_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    Some(format!("https://{host}/guardduty/home?region={region}#/findings?macros=current&fId={id}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::{parse_guardduty_event, GuardDutyEvent};

    fn finding(kind: &str, resource_type: &str) -> GuardDutyFinding {
        let payload = json!({"id": "f", "type": kind, "severity": 5, "resource": {"resourceType": resource_type}});
        match parse_guardduty_event(&payload) {
            Ok(GuardDutyEvent::Finding(f)) => *f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rds_findings_are_recognised_by_type_or_resource() {
        let cases = [
            ("CredentialAccess:RDS/AnomalousBehavior.SuccessfulBruteForce", "RDSDBInstance", true),
            ("Discovery:RDS/TorIPCaller", "RDSDBInstance", true),
            ("CredentialAccess:RDS/SomethingNew", "Other", true),
            ("Backdoor:EC2/C&CActivity.B!DNS", "RDSLimitlessDB", true),
            ("Backdoor:EC2/C&CActivity.B!DNS", "rdsdbinstance", true),
            ("Backdoor:EC2/C&CActivity.B!DNS", "Instance", false),
            ("UnauthorizedAccess:IAMUser/TorIPCaller", "AccessKey", false),
            ("Recon:IAMUser/MaliciousIPCaller.Custom", "", false),
            // Multi-byte characters where a 3-byte prefix would end inside one: judged, no panic.
            ("Backdoor:EC2/C&CActivity.B!DNS", "ééé", false),
            ("Backdoor:EC2/C&CActivity.B!DNS", "Ré", false),
            ("Backdoor:EC2/C&CActivity.B!DNS", "RDé", false),
            ("Backdoor:EC2/C&CActivity.B!DNS", "RDS😀", true),
        ];
        for (kind, resource, relevant) in cases {
            assert_eq!(rds_relevance(&finding(kind, resource)).is_some(), relevant, "{kind} {resource}");
        }
    }

    #[test]
    fn console_links_follow_the_partition() {
        let url = |region: &str| finding_console_url(&AwsRegion::parse(region).unwrap(), "5abc/def");
        assert_eq!(
            url("us-east-1").as_deref(),
            Some("https://console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=5abcdef")
        );
        assert!(url("cn-north-1").unwrap().starts_with("https://console.amazonaws.cn/"));
        assert!(url("us-gov-west-1").unwrap().starts_with("https://console.amazonaws-us-gov.com/"));
        assert_eq!(url("us-iso-east-1"), None);
    }
}
