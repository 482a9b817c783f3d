//! Findings the ledger holds open that a check no longer sees, because the resource is gone or
//! (a security group) the ingress rule a finding is about is no longer there. A check that finds a
//! rule compliant says so itself ([`crate::checks::Checked::compliant`]). These are the findings
//! nothing reports any more. Each comes back as a *cleared* finding for
//! [`crate::report::deliver_judged`], which resolves it (`resolved_by` other) with one resolved alert.
//!
//! Only rules judged on a resource's state qualify ([`RuleId::judged_on_state`]). A deletion
//! without a final snapshot, a GuardDuty threat, a pipeline or guardrail tampering are about what
//! happened, and a resource going away resolves none of them.

use std::collections::HashSet;

use serde_json::json;
use tracing::warn;

use super::item::LedgerItem;
use crate::arn::RdsResourceKind;
use crate::finding::Finding;
use crate::identity::{AccountId, AwsRegion};
use crate::network::SECURITY_GROUP_TYPE;
use crate::rules::RuleId;

/// The key in a cleared finding's `observed` that says why it resolved (the resolved alert
/// quotes it).
pub const RESOLUTION_KEY: &str = "resolution";

/// Why a finding the ledger holds is no longer seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unseen {
    /// The resource no longer exists.
    Gone,
    /// The resource was judged in full and the part the finding is about (a security group's
    /// ingress rule) is no longer there or no longer offends.
    NoLongerFound,
}

/// The resource types a cleared finding can be about (an alert names its type as a static name).
const RESOURCE_TYPES: [&str; 7] = [
    RdsResourceKind::DbInstance.cloudformation_type(),
    RdsResourceKind::DbCluster.cloudformation_type(),
    RdsResourceKind::DbSnapshot.cloudformation_type(),
    RdsResourceKind::DbClusterSnapshot.cloudformation_type(),
    RdsResourceKind::DbParameterGroup.cloudformation_type(),
    RdsResourceKind::DbClusterParameterGroup.cloudformation_type(),
    SECURITY_GROUP_TYPE,
];

/// The finding `item` is about, rebuilt to be cleared for `why`. `None` (logged) when the item is
/// not one a resource's state resolves, or names what this build does not know.
pub fn cleared_finding(item: &LedgerItem, why: Unseen) -> Option<Finding> {
    let rebuilt = (|| {
        let rule: RuleId = item.rule.parse().ok()?;
        if !rule.judged_on_state() {
            return None;
        }
        let resource_type = RESOURCE_TYPES.iter().copied().find(|t| *t == item.resource_type)?;
        let account = AccountId::parse(&item.account).ok()?;
        let region = AwsRegion::parse(&item.region).ok()?;
        let resolution = match why {
            Unseen::Gone => format!("the resource no longer exists ({} {})", item.resource_type, item.resource_id),
            Unseen::NoLongerFound => match &item.component {
                Some(part) => format!("{part} is no longer there (or no longer offends)"),
                None => "the rule holds again".to_owned(),
            },
        };
        let observed = json!({ RESOLUTION_KEY: resolution });
        let mut finding = Finding::for_resource(
            rule,
            &account,
            &region,
            resource_type,
            item.resource_id.clone(),
            item.resource.clone(),
            observed,
        );
        finding.component_arn = item.component.clone();
        Some(finding)
    })();
    if rebuilt.is_none() && item.rule.parse::<RuleId>().is_ok_and(RuleId::judged_on_state) {
        warn!(finding_id = %item.finding_id, rule = %item.rule, resource_type = %item.resource_type,
            "held finding names an unknown resource type, account or region; left open");
    }
    rebuilt.filter(|f| super::id_of(f) == item.finding_id)
}

/// Every finding `items` holds, as cleared because its resource is gone.
pub fn gone(items: &[LedgerItem]) -> Vec<Finding> {
    items.iter().filter_map(|item| cleared_finding(item, Unseen::Gone)).collect()
}

/// Of `items` (the findings held on resources just judged in full), those the check did not find
/// again: `seen` holds the ids of its findings, and `judged(rule)` says whether it judged the rule
/// (a rule switched off, or another function's, was not).
pub fn no_longer_found(items: &[LedgerItem], seen: &HashSet<String>, judged: impl Fn(RuleId) -> bool) -> Vec<Finding> {
    items
        .iter()
        .filter(|item| !seen.contains(&item.finding_id))
        .filter(|item| item.rule.parse::<RuleId>().is_ok_and(&judged))
        .filter_map(|item| cleared_finding(item, Unseen::NoLongerFound))
        .collect()
}

/// An open finding of 123456789012/us-east-1 as the ledger holds it (tests of what resolves).
#[cfg(test)]
pub(crate) fn held_item(rule: &str, resource_type: &str, resource: &str, component: Option<&str>) -> LedgerItem {
    LedgerItem {
        finding_id: crate::ledger::finding_id("123456789012", "us-east-1", component.unwrap_or(resource), rule),
        rule: rule.into(),
        title: "t".into(),
        account: "123456789012".into(),
        region: "us-east-1".into(),
        resource: resource.into(),
        resource_type: resource_type.into(),
        resource_id: resource.rsplit([':', '/']).next().unwrap_or_default().into(),
        component: component.map(str::to_owned),
        status: super::FindingStatus::Open,
        severity: "HIGH".into(),
        first_seen: 1,
        last_seen: 1,
        occurrences: 1,
        last_action: "alert_only".into(),
        last_action_status: "not_attempted".into(),
        evidence: "{}".into(),
        last_event_id: None,
        last_alerted: None,
        last_alert_reason: None,
        last_alert_message_id: None,
        alert: super::AlertState::Settled,
        resolved_by: None,
        resolved_at: None,
        expires_at: None,
        version: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "arn:aws:rds:us-east-1:123456789012:db:orders";
    const SG: &str = "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1";
    const SGR: &str = "arn:aws:ec2:us-east-1:123456789012:security-group-rule/sgr-1";

    #[test]
    fn cleared_findings_keep_the_id_and_say_why() {
        let cases = [
            (
                "public database gone",
                held_item("RDS.2", "AWS::RDS::DBInstance", DB, None),
                Unseen::Gone,
                Some("no longer exists"),
            ),
            (
                "ingress rule no longer there",
                held_item("EC2.19", SECURITY_GROUP_TYPE, SG, Some(SGR)),
                Unseen::NoLongerFound,
                Some("security-group-rule/sgr-1 is no longer there"),
            ),
            (
                "deletion is about the call",
                held_item("RDSGUARD.DELETE_NO_SNAPSHOT", "AWS::RDS::DBInstance", DB, None),
                Unseen::Gone,
                None,
            ),
            ("guardduty threat", held_item("GUARDDUTY.RDS", "AWS::RDS::DBInstance", DB, None), Unseen::Gone, None),
            ("unknown rule", held_item("RDS.999", "AWS::RDS::DBInstance", DB, None), Unseen::Gone, None),
            ("unknown type", held_item("RDS.2", "AWS::Foo::Bar", DB, None), Unseen::Gone, None),
        ];
        for (name, held, why, resolution) in cases {
            let cleared = cleared_finding(&held, why);
            assert_eq!(cleared.is_some(), resolution.is_some(), "{name}");
            if let (Some(finding), Some(expected)) = (cleared, resolution) {
                assert_eq!(super::super::id_of(&finding), held.finding_id, "{name}: the same finding");
                let said = finding.observed[RESOLUTION_KEY].as_str().unwrap_or_default();
                assert!(said.contains(expected), "{name}: {said}");
            }
        }
    }

    #[test]
    fn no_longer_found_leaves_what_was_seen_or_not_judged() {
        let open_rule = held_item("EC2.19", SECURITY_GROUP_TYPE, SG, Some(SGR));
        let other_rule = held_item(
            "EC2.19",
            SECURITY_GROUP_TYPE,
            SG,
            Some("arn:aws:ec2:us-east-1:123456789012:security-group-rule/sgr-2"),
        );
        let source = held_item("RDSGUARD.SG_SOURCE", SECURITY_GROUP_TYPE, SG, Some(SGR));
        let items = [open_rule.clone(), other_rule.clone(), source];
        let seen = HashSet::from([open_rule.finding_id.clone()]);
        let cleared = no_longer_found(&items, &seen, |rule| rule == RuleId::Ec2_19OpenToInternet);
        assert_eq!(cleared.len(), 1, "{cleared:#?}");
        assert_eq!(cleared[0].component_arn.as_deref(), other_rule.component.as_deref());
        assert_eq!(gone(&items).len(), 3);
    }
}
