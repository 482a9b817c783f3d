//! A ledger item in the AWS Security Finding Format (ASFF), the shape AWS Security Hub imports
//! (README "Findings in ASFF"). Pure mapping: `rdsguard findings list --format asff` prints it; the
//! BatchImportFindings export is not built yet.
//!
//! Format: <https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-findings-format-syntax.html>

use serde_json::{json, Map, Value};

use crate::identity::AwsRegion;
use crate::ledger::{FindingStatus, LedgerItem};

/// The ASFF version Security Hub reads.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// Attributes Security Hub requires in every imported finding.
pub const REQUIRED_ATTRIBUTES: [&str; 12] = [
    "AwsAccountId",
    "CreatedAt",
    "Description",
    "GeneratorId",
    "Id",
    "ProductArn",
    "Resources",
    "SchemaVersion",
    "Severity",
    "Title",
    "Types",
    "UpdatedAt",
];
/// Security Hub's length limits.
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 1024;
const REMEDIATION_TEXT_MAX: usize = 512;
/// Rules whose ids are AWS Foundational Security Best Practices controls.
const FSBP_TYPE: &str =
    "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices";
const RDSGUARD_TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices";

/// Why an item cannot be expressed in ASFF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("finding {finding_id}: {why}")]
pub struct AsffError {
    pub finding_id: String,
    pub why: String,
}

/// The ASFF `Resources[].Type` of a CloudFormation type; `Other` where ASFF has none.
pub fn resource_type(cloudformation_type: &str) -> &'static str {
    match cloudformation_type {
        "AWS::RDS::DBInstance" => "AwsRdsDbInstance",
        "AWS::RDS::DBCluster" => "AwsRdsDbCluster",
        "AWS::RDS::DBSnapshot" => "AwsRdsDbSnapshot",
        "AWS::RDS::DBClusterSnapshot" => "AwsRdsDbClusterSnapshot",
        "AWS::EC2::SecurityGroup" => "AwsEc2SecurityGroup",
        "AWS::CloudTrail::Trail" => "AwsCloudTrailTrail",
        "AWS::GuardDuty::Detector" => "AwsGuardDutyDetector",
        _ => "Other",
    }
}

/// The account's default product (custom integrations import under it).
pub fn product_arn(partition: &str, region: &str, account: &str) -> String {
    format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default")
}

fn finding_type(rule: &str) -> &'static str {
    if rule.starts_with("RDS.") || rule.starts_with("EC2.") {
        FSBP_TYPE
    } else {
        RDSGUARD_TYPE
    }
}

fn clip(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut clipped: String = text.chars().take(max - 3).collect();
    clipped.push_str("...");
    clipped
}

/// `item` as an ASFF finding. Resolved items are `Compliance.Status` PASSED and `RecordState`
/// ARCHIVED; open and exempt ones FAILED and ACTIVE (an exempt one says so in `ProductFields`).
pub fn asff(item: &LedgerItem) -> Result<Value, AsffError> {
    let bad = |why: String| AsffError { finding_id: item.finding_id.clone(), why };
    let region = AwsRegion::parse(&item.region).map_err(|e| bad(e.to_string()))?;
    let partition = region.partition();
    let first_seen = crate::ledger::rfc3339(item.first_seen);
    let updated = crate::ledger::rfc3339(item.resolved_at.unwrap_or(item.last_seen).max(item.last_seen));
    let resolved = item.status == FindingStatus::Resolved;
    let title = clip(format!("{} {}", item.rule, item.title), TITLE_MAX);
    let description = clip(
        format!("{} ({}): {}. Evidence: {}", item.title, item.rule, item.resource, item.evidence),
        DESCRIPTION_MAX,
    );
    let remediation = clip(
        format!(
            "rdsguard's last action: {} ({}). What rdsguard does and how to fix {} by hand: the rules table \
             of rdsguard's README.",
            item.last_action, item.last_action_status, item.rule
        ),
        REMEDIATION_TEXT_MAX,
    );
    let mut product_fields = Map::new();
    for (key, value) in [
        ("rdsguard/FindingId", Some(item.finding_id.clone())),
        ("rdsguard/Rule", Some(item.rule.clone())),
        ("rdsguard/Status", Some(item.status.as_str().to_owned())),
        ("rdsguard/Action", Some(item.last_action.clone())),
        ("rdsguard/ActionStatus", Some(item.last_action_status.clone())),
        ("rdsguard/Occurrences", Some(item.occurrences.to_string())),
        ("rdsguard/ResolvedBy", item.resolved_by.map(|r| r.as_str().to_owned())),
    ] {
        if let Some(value) = value {
            product_fields.insert(key.to_owned(), Value::String(value));
        }
    }
    Ok(json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Id": format!("rdsguard/{}", item.finding_id),
        "ProductArn": product_arn(partition, region.as_str(), &item.account),
        "ProductName": "rdsguard",
        "CompanyName": "rdsguard",
        "GeneratorId": format!("rdsguard/{}", item.rule),
        "AwsAccountId": item.account,
        "Region": region.as_str(),
        "Types": [finding_type(&item.rule)],
        "FirstObservedAt": first_seen,
        "LastObservedAt": crate::ledger::rfc3339(item.last_seen),
        "CreatedAt": first_seen,
        "UpdatedAt": updated,
        "Severity": { "Label": item.severity, "Original": item.severity },
        "Title": title,
        "Description": description,
        "Remediation": { "Recommendation": { "Text": remediation } },
        "ProductFields": product_fields,
        "Resources": [{
            "Type": resource_type(&item.resource_type),
            "Id": item.resource,
            "Partition": partition,
            "Region": region.as_str(),
        }],
        "Compliance": { "Status": if resolved { "PASSED" } else { "FAILED" } },
        "RecordState": if resolved { "ARCHIVED" } else { "ACTIVE" },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{AlertState, ResolvedBy};

    fn item(resource_type: &str, resource: &str, status: FindingStatus) -> LedgerItem {
        LedgerItem {
            finding_id: "a8a65d7b99a7d879af2bee092dee9ef8c9ce110ccbcf6ac7f1a22dfab1610c4f".into(),
            rule: "RDS.2".into(),
            title: "Database is publicly accessible".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            resource: resource.into(),
            resource_type: resource_type.into(),
            resource_id: "x".into(),
            component: None,
            status,
            severity: "CRITICAL".into(),
            first_seen: 1_800_000_000,
            last_seen: 1_800_000_060,
            occurrences: 2,
            last_action: "make_private".into(),
            last_action_status: "succeeded".into(),
            evidence: r#"{"PubliclyAccessible":true}"#.into(),
            last_event_id: None,
            last_alerted: None,
            last_alert_reason: None,
            last_alert_message_id: None,
            alert: AlertState::Settled,
            resolved_by: (status == FindingStatus::Resolved).then_some(ResolvedBy::Rdsguard),
            resolved_at: (status == FindingStatus::Resolved).then_some(1_800_000_060),
            expires_at: None,
            version: 2,
        }
    }

    fn is_rfc3339(value: &Value) -> bool {
        value.as_str().is_some_and(|t| {
            let b = t.as_bytes();
            t.len() >= 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && t.ends_with('Z')
        })
    }

    /// Every problem Security Hub would refuse the finding for, per the ASFF required attributes
    /// and their formats.
    fn problems(finding: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        for name in REQUIRED_ATTRIBUTES {
            if finding.get(name).is_none_or(Value::is_null) {
                problems.push(format!("{name} missing"));
            }
        }
        let text = |name: &str| finding[name].as_str().unwrap_or_default().to_owned();
        if text("SchemaVersion") != SCHEMA_VERSION {
            problems.push("SchemaVersion".into());
        }
        if text("Id").is_empty() || text("Id").len() > 512 {
            problems.push("Id length".into());
        }
        if text("GeneratorId").is_empty() || text("GeneratorId").len() > 512 {
            problems.push("GeneratorId length".into());
        }
        let account = text("AwsAccountId");
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            problems.push("AwsAccountId".into());
        }
        if !text("ProductArn").starts_with("arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default") {
            problems.push("ProductArn".into());
        }
        for name in ["CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt"] {
            if !is_rfc3339(&finding[name]) {
                problems.push(format!("{name} not RFC 3339"));
            }
        }
        if text("Title").is_empty() || text("Title").chars().count() > TITLE_MAX {
            problems.push("Title length".into());
        }
        if text("Description").is_empty() || text("Description").chars().count() > DESCRIPTION_MAX {
            problems.push("Description length".into());
        }
        let label = finding["Severity"]["Label"].as_str().unwrap_or_default();
        if !["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&label) {
            problems.push(format!("Severity.Label {label:?}"));
        }
        let types = finding["Types"].as_array().cloned().unwrap_or_default();
        if types.is_empty() || types.len() > 50 {
            problems.push("Types count".into());
        }
        for t in &types {
            let t = t.as_str().unwrap_or_default();
            if !t.starts_with("Software and Configuration Checks/") || t.split('/').count() > 3 {
                problems.push(format!("Types {t:?}"));
            }
        }
        let resources = finding["Resources"].as_array().cloned().unwrap_or_default();
        if resources.is_empty() || resources.len() > 32 {
            problems.push("Resources count".into());
        }
        for r in &resources {
            if r["Id"].as_str().is_none_or(str::is_empty) || r["Type"].as_str().is_none_or(str::is_empty) {
                problems.push("Resources[].Id/Type".into());
            }
            if !["aws", "aws-cn", "aws-us-gov"].contains(&r["Partition"].as_str().unwrap_or_default()) {
                problems.push("Resources[].Partition".into());
            }
        }
        if !["PASSED", "WARNING", "FAILED", "NOT_AVAILABLE"]
            .contains(&finding["Compliance"]["Status"].as_str().unwrap_or_default())
        {
            problems.push("Compliance.Status".into());
        }
        if !["ACTIVE", "ARCHIVED"].contains(&finding["RecordState"].as_str().unwrap_or_default()) {
            problems.push("RecordState".into());
        }
        let text_len = finding["Remediation"]["Recommendation"]["Text"].as_str().map_or(0, |t| t.chars().count());
        if text_len == 0 || text_len > REMEDIATION_TEXT_MAX {
            problems.push("Remediation.Recommendation.Text".into());
        }
        for (key, value) in finding["ProductFields"].as_object().cloned().unwrap_or_default() {
            if key.len() > 128 || value.as_str().is_none_or(|v| v.len() > 2048) {
                problems.push(format!("ProductFields {key}"));
            }
        }
        problems
    }

    #[test]
    fn every_resource_type_maps_to_a_valid_finding() {
        let cases = [
            ("AWS::RDS::DBInstance", "arn:aws:rds:us-east-1:123456789012:db:orders", "AwsRdsDbInstance"),
            ("AWS::RDS::DBCluster", "arn:aws:rds:us-east-1:123456789012:cluster:orders", "AwsRdsDbCluster"),
            ("AWS::RDS::DBSnapshot", "arn:aws:rds:us-east-1:123456789012:snapshot:s1", "AwsRdsDbSnapshot"),
            (
                "AWS::RDS::DBClusterSnapshot",
                "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:s1",
                "AwsRdsDbClusterSnapshot",
            ),
            (
                "AWS::EC2::SecurityGroup",
                "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1",
                "AwsEc2SecurityGroup",
            ),
            ("AWS::CloudTrail::Trail", "arn:aws:cloudtrail:us-east-1:123456789012:trail/main", "AwsCloudTrailTrail"),
            (
                "AWS::GuardDuty::Detector",
                "arn:aws:guardduty:us-east-1:123456789012:detector/d1",
                "AwsGuardDutyDetector",
            ),
            ("AWS::RDS::DBParameterGroup", "arn:aws:rds:us-east-1:123456789012:pg:pg1", "Other"),
            ("AWS::Events::Rule", "arn:aws:events:us-east-1:123456789012:rule/r1", "Other"),
            ("AWS::Organizations::Policy", "p-abc", "Other"),
        ];
        for (cfn, arn, expected) in cases {
            for status in [FindingStatus::Open, FindingStatus::Resolved, FindingStatus::Exempt] {
                let finding = asff(&item(cfn, arn, status)).unwrap();
                assert_eq!(problems(&finding), Vec::<String>::new(), "{cfn} {status:?}: {finding:#}");
                assert_eq!(finding["Resources"][0]["Type"], expected, "{cfn}");
                assert_eq!(finding["Resources"][0]["Id"], arn);
            }
        }
    }

    #[test]
    fn open_and_resolved_findings() {
        let open = asff(&item("AWS::RDS::DBInstance", "arn:aws:rds:us-east-1:123456789012:db:o", FindingStatus::Open))
            .unwrap();
        assert_eq!(
            (open["Compliance"]["Status"].as_str(), open["RecordState"].as_str()),
            (Some("FAILED"), Some("ACTIVE"))
        );
        assert_eq!(open["Id"], "rdsguard/a8a65d7b99a7d879af2bee092dee9ef8c9ce110ccbcf6ac7f1a22dfab1610c4f");
        assert_eq!(open["GeneratorId"], "rdsguard/RDS.2");
        assert_eq!(open["Types"][0], FSBP_TYPE);
        assert_eq!(open["CreatedAt"], "2027-01-15T08:00:00Z");
        assert_eq!(open["ProductFields"]["rdsguard/ActionStatus"], "succeeded");
        let resolved =
            asff(&item("AWS::RDS::DBInstance", "arn:aws:rds:us-east-1:123456789012:db:o", FindingStatus::Resolved))
                .unwrap();
        assert_eq!(
            (resolved["Compliance"]["Status"].as_str(), resolved["RecordState"].as_str()),
            (Some("PASSED"), Some("ARCHIVED"))
        );
        assert_eq!(resolved["ProductFields"]["rdsguard/ResolvedBy"], "rdsguard");
        let mut rdsguard_rule =
            item("AWS::RDS::DBInstance", "arn:aws:rds:us-east-1:123456789012:db:o", FindingStatus::Open);
        rdsguard_rule.rule = "RDSGUARD.REGION".into();
        assert_eq!(asff(&rdsguard_rule).unwrap()["Types"][0], RDSGUARD_TYPE);
    }

    #[test]
    fn long_evidence_is_clipped_and_partitions_follow_the_region() {
        let mut long = item("AWS::RDS::DBInstance", "arn:aws-cn:rds:cn-north-1:123456789012:db:o", FindingStatus::Open);
        long.region = "cn-north-1".into();
        long.evidence = "x".repeat(5000);
        let finding = asff(&long).unwrap();
        assert_eq!(finding["Description"].as_str().unwrap().chars().count(), DESCRIPTION_MAX);
        assert_eq!(finding["Resources"][0]["Partition"], "aws-cn");
        assert!(finding["ProductArn"].as_str().unwrap().starts_with("arn:aws-cn:securityhub:cn-north-1:"));
        let mut bad = long.clone();
        bad.region = "<REGION>".into();
        assert!(asff(&bad).is_err());
    }
}
