//! Checking one security group in front of databases: read the group, the databases that use it
//! and its ingress rules; judge every ingress rule (EC2.19, RDSGUARD.SG_SOURCE); revoke exactly
//! the offending rules, each by its SecurityGroupRuleId, as the policy says; confirm by reading the
//! rules again. Used by network-guard, and by any function that must close a database's groups.

use serde_json::{json, Value};
use tracing::warn;

use crate::aws::{AwsError, NetworkPorts, EC2_NOT_FOUND_CODES};
use crate::finding::Finding;
use crate::identity::{AccountId, AwsRegion};
use crate::network::{DatabaseListener, GroupRef, IngressRule, SecurityGroup, SECURITY_GROUP_TYPE};
use crate::policy::{Policy, RuleAction};
use crate::remediate::{policy_gate, ActionKind, ActionOutcome, ActionStatus, Confirmation};
use crate::rules::{admitted_from_evidence, evaluate_ingress, DatabasePorts, Verdict};

/// What checking one group found and did.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCheck {
    pub group: SecurityGroup,
    pub arn: String,
    pub databases: Vec<DatabaseListener>,
    pub ports: DatabasePorts,
    pub ingress_rules_checked: usize,
    /// One per offending ingress rule, with what was done about it.
    pub findings: Vec<(Finding, ActionOutcome)>,
    /// Rules that could not be judged (nothing was done about them), with why.
    pub undetermined: Vec<String>,
}

/// The group's ARN (EC2 names security groups `security-group/<id>` in the owner's account).
pub fn security_group_arn(group: &SecurityGroup, account: &AccountId, region: &AwsRegion) -> String {
    let owner = group.owner_id.as_deref().filter(|o| AccountId::parse(o).is_ok()).unwrap_or(account.as_str());
    format!("arn:{}:ec2:{region}:{owner}:security-group/{}", region.partition(), group.id)
}

/// Reads, judges and (as the policy says) fixes one group. `Ok(None)`: the group does not exist.
/// `Err`: its state could not be read, so nothing was judged or changed.
pub async fn check_security_group(
    group: &GroupRef,
    account: &AccountId,
    region: &AwsRegion,
    aws: &NetworkPorts,
    policy: &Policy,
    confirmation: Confirmation,
) -> Result<Option<GroupCheck>, AwsError> {
    let Some(group) = aws.groups.describe_group(group).await? else {
        return Ok(None);
    };
    let databases = aws.databases.databases_using_group(&group.id).await?;
    let rules = aws.groups.ingress_rules(&group.id).await?;
    let ports = DatabasePorts::from_listening(databases.iter().filter_map(|db| db.port));
    let arn = security_group_arn(&group, account, region);

    let mut offending: Vec<(Finding, &IngressRule)> = Vec::new();
    let mut undetermined = Vec::new();
    for rule in &rules {
        for (rule_id, verdict) in evaluate_ingress(rule, &ports, &policy.allowed_cidrs) {
            if policy.effective_action(rule_id) == RuleAction::Off {
                continue;
            }
            match verdict {
                Verdict::Violation(evidence) => {
                    let observed = with_context(evidence, &group, &databases);
                    let finding =
                        Finding::for_resource(rule_id, account, region, SECURITY_GROUP_TYPE, &group.id, &arn, observed);
                    offending.push((finding, rule));
                }
                Verdict::Unknown(why) => {
                    warn!(%rule_id, group = %group.id, sg_rule = %rule.rule_id, why, "rule could not judge; nothing done");
                    undetermined.push(format!("{rule_id} {}: {why}", rule.rule_id));
                }
                Verdict::Compliant | Verdict::NotApplicable(_) => {}
            }
        }
    }

    let outcomes = revoke_offending(&group, &offending, aws, policy, confirmation).await;
    let findings = offending.into_iter().map(|(finding, _)| finding).zip(outcomes).collect();
    Ok(Some(GroupCheck { group, arn, databases, ports, ingress_rules_checked: rules.len(), findings, undetermined }))
}

/// The evidence plus the group and the databases reachable through the offending rule.
fn with_context(mut evidence: Value, group: &SecurityGroup, databases: &[DatabaseListener]) -> Value {
    let admitted = admitted_from_evidence(&evidence);
    let exposed: Vec<&DatabaseListener> =
        databases.iter().filter(|db| db.port.is_some_and(|p| admitted.contains(&p))).collect();
    if let Some(map) = evidence.as_object_mut() {
        map.insert("group".into(), json!({"id": group.id, "name": group.name, "vpc_id": group.vpc_id}));
        map.insert("databases_exposed".into(), json!(exposed));
    }
    evidence
}

/// Revokes each offending rule the policy says to fix (each on its own, so one failure does not
/// hold back the others), then reads the rules back once more to confirm.
async fn revoke_offending(
    group: &SecurityGroup,
    offending: &[(Finding, &IngressRule)],
    aws: &NetworkPorts,
    policy: &Policy,
    confirmation: Confirmation,
) -> Vec<ActionOutcome> {
    let mut outcomes: Vec<Option<ActionOutcome>> = Vec::with_capacity(offending.len());
    let mut revoked: Vec<usize> = Vec::new();
    for (i, (finding, rule)) in offending.iter().enumerate() {
        match policy_gate(finding.rule, &group.tags, policy) {
            Err(report) => outcomes.push(Some(report)),
            Ok(_) => match aws.groups.revoke_ingress_rule(&group.id, &rule.rule_id).await {
                Ok(()) => {
                    revoked.push(i);
                    outcomes.push(None);
                }
                Err(error) => outcomes.push(Some(revoke_error(&rule.rule_id, error))),
            },
        }
    }
    let mut confirmed = confirm_gone(group, offending, &revoked, aws, confirmation).await;
    outcomes
        .into_iter()
        .enumerate()
        .map(|(i, outcome)| {
            outcome.or_else(|| confirmed.remove(&i)).unwrap_or_else(|| {
                ActionOutcome::new(ActionKind::RevokeIngress, ActionStatus::Failed, "revoke result unknown")
            })
        })
        .collect()
}

fn revoke_error(rule_id: &str, error: AwsError) -> ActionOutcome {
    if error.code.as_deref().is_some_and(|c| EC2_NOT_FOUND_CODES.contains(&c)) {
        // Someone (or a concurrent delivery of this event) removed it first: nothing to do, and
        // nothing to retry.
        return ActionOutcome::new(
            ActionKind::RevokeIngress,
            ActionStatus::Skipped,
            format!("{rule_id} is already gone ({error})"),
        );
    }
    ActionOutcome::new(ActionKind::RevokeIngress, ActionStatus::Failed, error.to_string())
}

/// Reads the group's rules until every revoked rule is gone (bounded by `confirmation`).
async fn confirm_gone(
    group: &SecurityGroup,
    offending: &[(Finding, &IngressRule)],
    revoked: &[usize],
    aws: &NetworkPorts,
    confirmation: Confirmation,
) -> std::collections::HashMap<usize, ActionOutcome> {
    let mut results = std::collections::HashMap::new();
    if revoked.is_empty() {
        return results;
    }
    let mut pending: Vec<usize> = revoked.to_vec();
    for attempt in 0..confirmation.attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(confirmation.delay).await;
        }
        let present = match aws.groups.ingress_rules(&group.id).await {
            Ok(rules) => rules.into_iter().map(|r| r.rule_id).collect::<Vec<_>>(),
            Err(error) => {
                for i in pending {
                    let detail = format!("RevokeSecurityGroupIngress accepted; confirming failed: {error}");
                    results.insert(i, ActionOutcome::new(ActionKind::RevokeIngress, ActionStatus::Failed, detail));
                }
                return results;
            }
        };
        pending.retain(|i| {
            let rule = &offending[*i].1;
            if present.contains(&rule.rule_id) {
                return true;
            }
            let detail = format!(
                "revoked {} ({} {} from {}) from {}; confirmed gone by DescribeSecurityGroupRules",
                rule.rule_id,
                rule.protocol,
                port_range(rule),
                rule.source.describe(),
                group.id
            );
            results.insert(*i, ActionOutcome::new(ActionKind::RevokeIngress, ActionStatus::Succeeded, detail));
            false
        });
        if pending.is_empty() {
            break;
        }
    }
    for i in pending {
        let detail =
            format!("RevokeSecurityGroupIngress accepted, but {} is still in {}", offending[i].1.rule_id, group.id);
        results.insert(i, ActionOutcome::new(ActionKind::RevokeIngress, ActionStatus::Failed, detail));
    }
    results
}

fn port_range(rule: &IngressRule) -> String {
    match (rule.from_port, rule.to_port) {
        (Some(from), Some(to)) if from == to && from >= 0 => format!("port {from}"),
        (Some(from), Some(to)) if from >= 0 && to >= 0 => format!("ports {from}-{to}"),
        _ => "all ports".to_owned(),
    }
}
