//! Checking one security group in front of databases: read the group, the databases that use it
//! and its ingress rules; judge every ingress rule (EC2.19, also on the union of the group's
//! sources per port, and RDSGUARD.SG_SOURCE); revoke exactly the offending rules, each by its
//! SecurityGroupRuleId, as the policy says — and only where a database behind the group listens
//! on the port the rule opens: a world-open rule on a group no database uses (a bastion, VPN, NAT
//! or TURN server) is alerted at a lower severity, `not_attempted`, never revoked. Revokes are
//! confirmed by reading the rules again, within the invocation's [`Deadline`]: one not confirmed
//! in time is `deferred`. Used by network-guard, and by any function that must close a database's
//! groups.

use std::collections::HashMap;

use serde_json::{json, Value};
use tracing::warn;

use crate::arn::Arn;
use crate::aws::{AwsError, NetworkPorts, EC2_NOT_FOUND_CODES};
use crate::checks::CheckScope;
use crate::finding::Finding;
use crate::identity::{AccountId, AwsRegion};
use crate::kernel::Deadline;
use crate::network::{DatabaseListener, GroupRef, IngressRule, SecurityGroup, SECURITY_GROUP_TYPE};
use crate::policy::{Policy, RuleAction};
use crate::remediate::{confirm, policy_gate, ActionKind, ActionOutcome, ActionStatus, Confirmation, Confirmed, Read};
use crate::rules::{admitted_from_evidence, evaluate_group_ingress, DatabasePorts, Severity, Verdict};

/// The severity of a world-open rule on a group no database is known to listen behind: it exposes
/// no database now (it would the moment one is attached, which network-guard judges again then).
pub const NO_DATABASE_SEVERITY: Severity = Severity::Medium;

/// Time one DescribeSecurityGroupRules read is allowed when deciding whether another confirmation
/// read still fits before the deadline.
const READ_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(2);

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
    Arn::security_group(region.partition(), region.as_str(), owner, &group.id).to_string()
}

/// [`check_security_group_within`] without a deadline.
pub async fn check_security_group(
    group: &GroupRef,
    account: &AccountId,
    region: &AwsRegion,
    aws: &NetworkPorts,
    policy: &Policy,
    confirmation: Confirmation,
) -> Result<Option<GroupCheck>, AwsError> {
    check_security_group_within(group, account, region, aws, policy, confirmation, Deadline::none()).await
}

/// Reads, judges and (as the policy says) fixes one group. `Ok(None)`: the group does not exist.
/// `Err`: its state could not be read, so nothing was judged or changed. Confirmation reads stop
/// when `deadline` (already net of the publishing reserve or not: see [`Deadline::allows`]) leaves
/// no time for another; a revoke not yet confirmed then is `deferred`.
pub async fn check_security_group_within(
    group: &GroupRef,
    account: &AccountId,
    region: &AwsRegion,
    aws: &NetworkPorts,
    policy: &Policy,
    confirmation: Confirmation,
    deadline: Deadline,
) -> Result<Option<GroupCheck>, AwsError> {
    let Some(group) = aws.groups.describe_group(group).await? else {
        return Ok(None);
    };
    let databases = aws.databases.databases_using_group(&group.id).await?;
    let rules = aws.groups.ingress_rules(&group.id).await?;
    let scope = CheckScope { account, region, policy, confirmation, deadline };
    Ok(Some(judge_group(GroupRead { group, databases, rules }, scope, aws).await))
}

/// A group as read: itself, the databases behind it, its ingress rules.
struct GroupRead {
    group: SecurityGroup,
    databases: Vec<DatabaseListener>,
    rules: Vec<IngressRule>,
}

/// [`check_security_group_within`] for many groups of one account and region (`scope`; a sweep's):
/// the groups and their rules read together (one DescribeSecurityGroups and one
/// DescribeSecurityGroupRules per [`crate::aws::GROUPS_PER_CALL`] groups), each judged and fixed
/// as one group is. A group that no longer exists is left out.
pub async fn check_security_groups(
    ids: &[String],
    scope: CheckScope<'_>,
    aws: &NetworkPorts,
) -> Result<Vec<GroupCheck>, AwsError> {
    let groups = aws.groups.describe_groups(ids).await?;
    let mut rules_by_group: HashMap<String, Vec<IngressRule>> = HashMap::new();
    for rule in aws.groups.ingress_rules_of(ids).await? {
        rules_by_group.entry(rule.group_id.clone()).or_default().push(rule);
    }
    // Every read before the first revoke: a read that fails then leaves nothing judged, never a
    // revoke done whose outcome the error would drop.
    let mut reads = Vec::with_capacity(groups.len());
    for group in groups {
        let databases = aws.databases.databases_using_group(&group.id).await?;
        let rules = rules_by_group.remove(&group.id).unwrap_or_default();
        reads.push(GroupRead { group, databases, rules });
    }
    let mut checks = Vec::with_capacity(reads.len());
    for read in reads {
        checks.push(judge_group(read, scope, aws).await);
    }
    Ok(checks)
}

/// Judges a group as read and revokes, as the policy says, what offends.
async fn judge_group(read: GroupRead, scope: CheckScope<'_>, aws: &NetworkPorts) -> GroupCheck {
    let GroupRead { group, databases, rules } = read;
    let CheckScope { account, region, policy, confirmation, deadline } = scope;
    let ports = DatabasePorts::from_listening(databases.iter().filter_map(|db| db.port));
    let arn = security_group_arn(&group, account, region);

    let mut offending: Vec<(Finding, &IngressRule)> = Vec::new();
    let mut undetermined = Vec::new();
    for (rule, verdicts) in rules.iter().zip(evaluate_group_ingress(&rules, &ports, &policy.allowed_cidrs)) {
        for (rule_id, verdict) in verdicts {
            if policy.effective_action(rule_id) == RuleAction::Off {
                continue;
            }
            match verdict {
                Verdict::Violation(evidence) => {
                    let observed = with_context(evidence, &group, &databases);
                    let mut finding =
                        Finding::for_resource(rule_id, account, region, SECURITY_GROUP_TYPE, &group.id, &arn, observed);
                    finding.headline = Some(headline(rule));
                    // One finding per ingress rule: the ledger keys each by its rule's ARN.
                    let group_arn = arn.trim_end_matches(group.id.as_str()).trim_end_matches('/');
                    finding.component_arn = Some(format!("{group_arn}-rule/{}", rule.rule_id));
                    if !matches!(ports, DatabasePorts::Listening(_)) {
                        finding.severity = finding.severity.min(NO_DATABASE_SEVERITY);
                    }
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

    let outcomes = if matches!(ports, DatabasePorts::Listening(_)) {
        revoke_offending(&group, &offending, aws, policy, confirmation, deadline).await
    } else {
        let why = no_database_reason(&group, &databases);
        offending.iter().map(|_| ActionOutcome::new(ActionKind::AlertOnly, ActionStatus::NotAttempted, &why)).collect()
    };
    let findings = offending.into_iter().map(|(finding, _)| finding).zip(outcomes).collect();
    GroupCheck { group, arn, databases, ports, ingress_rules_checked: rules.len(), findings, undetermined }
}

/// Why a world-open rule is alerted and not revoked: no database listens behind the group.
fn no_database_reason(group: &SecurityGroup, databases: &[DatabaseListener]) -> String {
    let what = if databases.is_empty() {
        format!("no database uses {}", group.id)
    } else {
        let names: Vec<&str> = databases.iter().map(|db| db.identifier.as_str()).collect();
        format!("the port of the databases using {} ({}) is not known yet", group.id, names.join(", "))
    };
    format!(
        "not revoked: {what}, so this rule exposes no database (judged on the well-known database ports); \
         it may serve a bastion, VPN, NAT or other server. rdsguard revokes only where a database behind the \
         group listens on the opened port, and judges the group again when a database is attached"
    )
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
    deadline: Deadline,
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
    let mut confirmed = confirm_gone(group, offending, &revoked, aws, confirmation, deadline).await;
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

/// Reads the group's rules until every revoked rule is gone, with the shared confirmation poller
/// ([`confirm`]: bounded by `confirmation` and the deadline). The first read is gated by the
/// deadline too: the revokes were sent without one.
async fn confirm_gone(
    group: &SecurityGroup,
    offending: &[(Finding, &IngressRule)],
    revoked: &[usize],
    aws: &NetworkPorts,
    confirmation: Confirmation,
    deadline: Deadline,
) -> HashMap<usize, ActionOutcome> {
    let mut results = HashMap::new();
    if revoked.is_empty() {
        return results;
    }
    let mut pending: Vec<usize> = revoked.to_vec();
    let confirmed = if deadline.allows(READ_ALLOWANCE) {
        confirm(confirmation, deadline, READ_ALLOWANCE, async || {
            let present: Vec<String> = match aws.groups.ingress_rules(&group.id).await {
                Ok(rules) => rules.into_iter().map(|r| r.rule_id).collect(),
                Err(error) => return Read::Failed(error),
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
                    rule.ports(),
                    rule.source.describe(),
                    group.id
                );
                results.insert(*i, ActionOutcome::new(ActionKind::RevokeIngress, ActionStatus::Succeeded, detail));
                false
            });
            if pending.is_empty() {
                Read::Ready(())
            } else {
                Read::NotYet
            }
        })
        .await
    } else {
        Confirmed::DeadlineReached
    };
    for i in pending {
        let rule_id = &offending[i].1.rule_id;
        let (status, detail) = match &confirmed {
            Confirmed::Ready(()) => continue,
            Confirmed::Failed(error) => {
                (ActionStatus::Failed, format!("RevokeSecurityGroupIngress accepted; confirming failed: {error}"))
            }
            Confirmed::DeadlineReached => (
                ActionStatus::Deferred,
                format!(
                    "RevokeSecurityGroupIngress of {rule_id} accepted; not confirmed before the invocation's deadline \
                     (re-checked later: the re-check queue, the next event about {} or a sweep)",
                    group.id
                ),
            ),
            Confirmed::NotYet => (
                ActionStatus::Failed,
                format!("RevokeSecurityGroupIngress accepted, but {rule_id} is still in {}", group.id),
            ),
        };
        results.insert(i, ActionOutcome::new(ActionKind::RevokeIngress, status, detail));
    }
    results
}

/// e.g. `5432 open to ::/0`, `0-65535 open to 0.0.0.0/0`, `all traffic open to ::/0`.
fn headline(rule: &IngressRule) -> String {
    let what = match (rule.protocol.as_str(), rule.from_port, rule.to_port) {
        ("-1", _, _) => "all traffic".to_owned(),
        (_, Some(from), Some(to)) if from == to && from >= 0 => from.to_string(),
        (_, Some(from), Some(to)) if from >= 0 && to >= 0 => format!("{from}-{to}"),
        _ => "all ports".to_owned(),
    };
    format!("{what} open to {}", rule.source.describe())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::aws::{DatabaseNetworkInventory, SecurityGroupInventory, SecurityGroupRemediation};
    use crate::database::DatabaseKind;
    use crate::network::RuleSource;

    /// How the fake EC2 answers a revoke.
    #[derive(Clone, Copy)]
    enum Revoke {
        Works,
        Denied,
        /// Accepted, but the rule stays (eventual consistency gone wrong).
        Ignored,
    }

    struct FakeEc2 {
        rules: Mutex<Vec<IngressRule>>,
        revoke: Revoke,
        tags: Vec<(String, String)>,
    }

    #[async_trait]
    impl SecurityGroupInventory for FakeEc2 {
        async fn describe_group(&self, group: &GroupRef) -> Result<Option<SecurityGroup>, AwsError> {
            Ok(Some(SecurityGroup { id: group.to_string(), tags: self.tags.clone(), ..SecurityGroup::default() }))
        }
        async fn ingress_rules(&self, _: &str) -> Result<Vec<IngressRule>, AwsError> {
            Ok(self.rules.lock().unwrap().clone())
        }
    }

    #[async_trait]
    impl SecurityGroupRemediation for FakeEc2 {
        async fn revoke_ingress_rule(&self, _: &str, rule_id: &str) -> Result<(), AwsError> {
            match self.revoke {
                Revoke::Works => {
                    self.rules.lock().unwrap().retain(|r| r.rule_id != rule_id);
                    Ok(())
                }
                Revoke::Denied => Err(AwsError {
                    operation: "RevokeSecurityGroupIngress",
                    code: Some("UnauthorizedOperation".into()),
                    message: "You are not authorized to perform this operation.".into(),
                }),
                Revoke::Ignored => Ok(()),
            }
        }
    }

    struct OnePostgres;

    #[async_trait]
    impl DatabaseNetworkInventory for OnePostgres {
        async fn databases_using_group(&self, _: &str) -> Result<Vec<DatabaseListener>, AwsError> {
            Ok(vec![DatabaseListener {
                kind: DatabaseKind::Instance,
                identifier: "orders".into(),
                arn: None,
                engine: Some("postgres".into()),
                port: Some(5432),
            }])
        }
    }

    fn rule(id: &str, cidr: &str) -> IngressRule {
        IngressRule {
            rule_id: id.into(),
            group_id: "sg-1".into(),
            protocol: "tcp".into(),
            from_port: Some(5432),
            to_port: Some(5432),
            source: RuleSource::from_cidr(cidr),
            description: None,
        }
    }

    struct NoDatabases;

    #[async_trait]
    impl DatabaseNetworkInventory for NoDatabases {
        async fn databases_using_group(&self, _: &str) -> Result<Vec<DatabaseListener>, AwsError> {
            Ok(Vec::new())
        }
    }

    async fn check(revoke: Revoke, tags: &[(&str, &str)], vars: &[(&str, &str)]) -> (GroupCheck, Vec<String>) {
        check_with(revoke, tags, vars, Arc::new(OnePostgres), Deadline::none()).await
    }

    async fn check_with(
        revoke: Revoke,
        tags: &[(&str, &str)],
        vars: &[(&str, &str)],
        databases: Arc<dyn DatabaseNetworkInventory>,
        deadline: Deadline,
    ) -> (GroupCheck, Vec<String>) {
        let ec2 = Arc::new(FakeEc2 {
            rules: Mutex::new(vec![
                rule("sgr-world4", "0.0.0.0/0"),
                rule("sgr-world6", "::/0"),
                rule("sgr-app", "10.0.0.0/16"),
            ]),
            revoke,
            tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        });
        let aws = NetworkPorts { groups: ec2.clone(), databases };
        let mut all = vec![("ALERT_TOPIC_ARN".to_owned(), "arn:aws:sns:us-east-1:123456789012:t".to_owned())];
        all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let policy = Policy::from_vars(all).unwrap();
        let quick = Confirmation { attempts: 2, delay: Duration::from_millis(1) };
        let account = AccountId::parse("123456789012").unwrap();
        let region = AwsRegion::parse("us-east-1").unwrap();
        let group = GroupRef::Id("sg-1".into());
        let checked = check_security_group_within(&group, &account, &region, &aws, &policy, quick, deadline)
            .await
            .unwrap()
            .unwrap();
        let left = ec2.rules.lock().unwrap().iter().map(|r| r.rule_id.clone()).collect();
        (checked, left)
    }

    fn statuses(check: &GroupCheck) -> Vec<(&str, ActionStatus)> {
        check
            .findings
            .iter()
            .map(|(f, a)| (f.observed["rule"]["security_group_rule_id"].as_str().unwrap_or_default(), a.status))
            .collect()
    }

    #[tokio::test]
    async fn outcomes_per_offending_rule() {
        use ActionStatus::*;
        type Pairs<'a> = &'a [(&'a str, &'a str)];
        /// (name, revoke behaviour, group tags, settings, status of both world rules, rules left)
        type Case<'a> = (&'a str, Revoke, Pairs<'a>, Pairs<'a>, ActionStatus, &'a [&'a str]);
        let cases: [Case; 5] = [
            ("revoked", Revoke::Works, &[], &[], Succeeded, &["sgr-app"]),
            ("denied", Revoke::Denied, &[], &[], Failed, &["sgr-world4", "sgr-world6", "sgr-app"]),
            ("accepted but still there", Revoke::Ignored, &[], &[], Failed, &["sgr-world4", "sgr-world6", "sgr-app"]),
            (
                "exempt",
                Revoke::Works,
                &[("rdsguard:exempt", "all")],
                &[],
                Skipped,
                &["sgr-world4", "sgr-world6", "sgr-app"],
            ),
            (
                "alert mode",
                Revoke::Works,
                &[],
                &[("MODE", "alert")],
                NotAttempted,
                &["sgr-world4", "sgr-world6", "sgr-app"],
            ),
        ];
        for (name, revoke, tags, vars, status, left) in cases {
            let (checked, remaining) = check(revoke, tags, vars).await;
            assert_eq!(statuses(&checked), [("sgr-world4", status), ("sgr-world6", status)], "{name}");
            assert_eq!(remaining, left, "{name}");
            assert_eq!(checked.ingress_rules_checked, 3, "{name}");
        }
    }

    #[tokio::test]
    async fn failures_carry_the_aws_error_and_findings_the_evidence() {
        let (checked, _) = check(Revoke::Denied, &[], &[]).await;
        let (finding, outcome) = &checked.findings[0];
        assert!(outcome.detail.contains("UnauthorizedOperation"), "{}", outcome.detail);
        assert_eq!(finding.headline.as_deref(), Some("5432 open to 0.0.0.0/0"));
        assert_eq!(finding.resource, "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1");
        assert_eq!(finding.observed["databases_exposed"][0]["identifier"], "orders");
        let (_, still_there) = &check(Revoke::Ignored, &[], &[]).await.0.findings[1];
        assert!(still_there.detail.contains("sgr-world6 is still in sg-1"), "{}", still_there.detail);
    }

    #[tokio::test]
    async fn a_group_no_database_uses_is_alerted_lower_and_never_revoked() {
        let (checked, left) = check_with(Revoke::Works, &[], &[], Arc::new(NoDatabases), Deadline::none()).await;
        assert_eq!(left, ["sgr-world4", "sgr-world6", "sgr-app"], "nothing revoked");
        assert_eq!(
            statuses(&checked),
            [("sgr-world4", ActionStatus::NotAttempted), ("sgr-world6", ActionStatus::NotAttempted)]
        );
        for (finding, action) in &checked.findings {
            assert_eq!(finding.severity, NO_DATABASE_SEVERITY);
            assert!(action.detail.contains("no database uses sg-1"), "{}", action.detail);
        }
    }

    #[tokio::test]
    async fn a_revoke_not_confirmed_before_the_deadline_is_deferred() {
        // 9 s left: the revoke goes out, but a confirmation read (2 s) no longer fits beside the
        // 8 s publishing reserve.
        let deadline = Deadline::after(Duration::from_secs(9));
        let (checked, left) = check_with(Revoke::Works, &[], &[], Arc::new(OnePostgres), deadline).await;
        assert_eq!(left, ["sgr-app"], "the revokes were sent");
        assert_eq!(
            statuses(&checked),
            [("sgr-world4", ActionStatus::Deferred), ("sgr-world6", ActionStatus::Deferred)]
        );
        assert!(checked.findings[0].1.detail.contains("not confirmed before the invocation's deadline"));
    }
}
