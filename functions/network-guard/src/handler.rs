//! The network-guard handler: event → security groups → read, judge, revoke, confirm → alerts →
//! summary.

use std::collections::HashSet;
use std::sync::Arc;

use rdsguard::arn::Arn;
use rdsguard::aws::{NetworkConnector, SessionError};
use rdsguard::finding::Finding;
use rdsguard::group_check::{check_security_group_within, GroupCheck};
use rdsguard::kernel::{handle_triaged, Deadline, InvocationError, InvocationOutcome, InvocationSummary};
use rdsguard::ledger::{gone, id_of, no_longer_found};
use rdsguard::member_access::{is_member_setup_error, unreachable_alert, UnreachableResource};
use rdsguard::network::{DatabaseListener, GroupRef, IngressRule};
use rdsguard::policy::RuleAction;
use rdsguard::recheck::queue_deferred;
use rdsguard::remediate::Confirmation;
use rdsguard::report::{deliver_alerts, deliver_judged, Alerting, Outcome};
use rdsguard::rules::RuleId;
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info};

use crate::target::{triage_payload, Target};

/// Name of this function in alerts.
pub const FUNCTION_NAME: &str = "network-guard";

/// Everything the handler needs, built once per container.
pub struct NetworkGuard {
    pub policy: rdsguard::policy::Policy,
    pub network: Arc<dyn NetworkConnector>,
    /// Where alerts go (and what SNS would not take is kept).
    pub alerting: Alerting,
    /// How long to read the rules back after a revoke (see [`Confirmation`]).
    pub confirmation: Confirmation,
}

/// Time one group's reads and revokes are given when deciding whether to start on it before the
/// deadline (confirmation reads check the deadline themselves).
const GROUP_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(5);

/// What the invocation did, returned to the caller: `checked`, `ignored`, or `unreachable` (the
/// member role could not be assumed: alerted). One finding per offending ingress rule.
pub type Summary = InvocationSummary<GroupsDetail>;

/// network-guard's own part of its [`Summary`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GroupsDetail {
    /// What the call asked for, as `protocol ports from source` (the event's claim; the groups'
    /// current rules are what is judged).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requested: Vec<String>,
    pub groups: Vec<GroupSummary>,
    /// Rules that could not be judged for lack of state (nothing was done about them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undetermined: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupSummary {
    /// As the event named it.
    pub group: String,
    /// `checked`, or `not found` when the group no longer exists.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    pub ingress_rules_checked: usize,
    pub ports_judged: Vec<u16>,
    pub ports_basis: Option<&'static str>,
    pub databases: Vec<DatabaseListener>,
}

impl GroupSummary {
    fn checked(group: &GroupRef, check: &GroupCheck) -> Self {
        Self {
            group: group.to_string(),
            status: "checked",
            arn: Some(check.arn.clone()),
            ingress_rules_checked: check.ingress_rules_checked,
            ports_judged: check.ports.ports().to_vec(),
            ports_basis: Some(check.ports.basis()),
            databases: check.databases.clone(),
        }
    }

    fn not_found(group: &GroupRef) -> Self {
        Self {
            group: group.to_string(),
            status: "not found",
            arn: None,
            ingress_rules_checked: 0,
            ports_judged: Vec::new(),
            ports_basis: None,
            databases: Vec::new(),
        }
    }
}

/// Handles one event without a deadline (tests, the command line).
pub async fn handle_event(payload: &Value, guard: &NetworkGuard) -> Result<Summary, InvocationError> {
    handle_event_within(payload, guard, Deadline::none()).await
}

/// Handles one event, working until `deadline` (the invocation's, from the Lambda context) less
/// the publishing reserve. Every outcome reached is alerted even when a later step fails (a group
/// that cannot be read, the deadline reached before a group was checked); the invocation then
/// fails so the event is retried, and the retry finds the groups already fixed compliant.
pub async fn handle_event_within(
    payload: &Value,
    guard: &NetworkGuard,
    deadline: Deadline,
) -> Result<Summary, InvocationError> {
    // With the ledger on, a repeated delivery of the event is not handled again.
    let triage = triage_payload(payload);
    let check = async |target: &Target| check_target(target, guard, deadline).await;
    handle_triaged(FUNCTION_NAME, triage, guard.alerting.ledger(), deadline, |t| &t.context, check).await
}

async fn check_target(target: &Target, guard: &NetworkGuard, deadline: Deadline) -> Result<Summary, InvocationError> {
    let context = &target.context;
    if target.closes && guard.alerting.ledger().is_none() {
        let reason = format!(
            "{} only takes ingress away; without the findings ledger (FINDINGS_TABLE) there is nothing to resolve",
            context.event_name
        );
        return Ok(Summary::ignored(reason, Some(context)));
    }
    let requested: Vec<String> = target.requested.iter().map(describe_requested).collect();
    if !requested.is_empty() {
        info!(event_id = %context.event_id, ?requested, "the call asked for this ingress");
    }
    let aws = match guard.network.connect(&target.account, &target.region).await {
        Ok(aws) => aws,
        Err(e) if is_member_setup_error(&e) => return alert_unreachable(target, requested, &e, guard).await,
        Err(e) => return Err(e.into()),
    };
    let acted_as = guard.network.acting_as(&target.account, &target.region).await;
    let mut checks = Vec::new();
    let mut groups = Vec::new();
    // Groups the event named that no longer exist (their held findings resolve).
    let mut missing: Vec<String> = Vec::new();
    // The step that stopped the invocation (alerts for what was reached go out first).
    let mut stopped: Option<InvocationError> = None;
    for (position, group) in target.groups.iter().enumerate() {
        if !deadline.allows(GROUP_ALLOWANCE) {
            let unchecked = target.groups[position..].iter().map(ToString::to_string).collect();
            error!(event_id = %context.event_id, ?unchecked, "deadline reached; groups left unchecked");
            stopped = Some(InvocationError::OutOfTime { unchecked, alerted: 0 });
            break;
        }
        info!(
            event_id = %context.event_id, event_name = %context.event_name, account = %target.account,
            region = %target.region, %group, "checking security group"
        );
        let check = check_security_group_within(
            group,
            &target.account,
            &target.region,
            &aws,
            &guard.policy,
            guard.confirmation,
            deadline,
        )
        .await;
        match check {
            Ok(Some(check)) => {
                groups.push(GroupSummary::checked(group, &check));
                checks.push(check);
            }
            Ok(None) => {
                info!(%group, "security group does not exist (deleted, or never created); nothing to check");
                groups.push(GroupSummary::not_found(group));
                if let GroupRef::Id(id) = group {
                    let region = &target.region;
                    missing.push(
                        Arn::security_group(region.partition(), region.as_str(), target.account.as_str(), id)
                            .to_string(),
                    );
                }
            }
            Err(error) => {
                error!(%group, %error, "security group could not be read; alerting what was reached, then failing");
                stopped = Some(InvocationError::describe(format!("security group {group}"), error));
                break;
            }
        }
    }

    let mut due = Vec::new();
    let mut undetermined = Vec::new();
    for check in &checks {
        undetermined.extend(check.undetermined.iter().cloned());
        for (finding, action) in &check.findings {
            info!(
                rule = %finding.rule, group = %check.group.id, sg_rule = %finding.observed["rule"]["security_group_rule_id"],
                status = action.status.as_str(), detail = %action.detail, "finding"
            );
            due.push(Outcome { finding, action: action.clone(), suppressed: None });
        }
    }
    let cleared = no_longer_seen(target, &checks, &missing, guard).await;
    let delivery = guard.alerting.delivery(FUNCTION_NAME).acting_as(acted_as.as_deref());
    let alerted = due.len();
    let delivered = deliver_judged(due, &cleared, context, delivery).await.map_err(|(_, failure)| failure);
    // After the alerts: a delayed re-check of every deferred revoke.
    let deferred = checks.iter().flat_map(|check| check.findings.iter().map(|(f, a)| (f, a)));
    let queued = queue_deferred(guard.alerting.rechecks(), deferred).await;
    let findings = delivered?;
    queued?;
    if let Some(error) = stopped {
        return Err(error.after_alerting(alerted));
    }
    Ok(Summary::of(InvocationOutcome::Checked, Some(context))
        .with_detail(GroupsDetail { requested, groups, undetermined })
        .with_findings(findings))
}

/// With the findings ledger: the findings it holds on the groups just checked that the check did
/// not find again (the ingress rule was revoked or changed by someone else), and every finding on a
/// group that no longer exists. A group with a rule that could not be judged resolves nothing.
async fn no_longer_seen(
    target: &Target,
    checks: &[GroupCheck],
    missing: &[String],
    guard: &NetworkGuard,
) -> Vec<Finding> {
    let Some(ledger) = guard.alerting.ledger() else { return Vec::new() };
    let (account, region) = (target.account.as_str(), target.region.as_str());
    let judged =
        |rule: RuleId| RuleId::NETWORK.contains(&rule) && guard.policy.effective_action(rule) != RuleAction::Off;
    let mut cleared = Vec::new();
    for check in checks.iter().filter(|check| check.undetermined.is_empty()) {
        let held = ledger.held(account, region, Some(&check.arn)).await;
        let seen: HashSet<String> = check.findings.iter().map(|(finding, _)| id_of(finding)).collect();
        cleared.extend(no_longer_found(&held, &seen, judged));
    }
    for arn in missing {
        cleared.extend(gone(&ledger.held(account, region, Some(arn)).await));
    }
    cleared
}

/// The account is not set up for rdsguard (its member role cannot be assumed): one failed-status
/// alert per security group the event named, and a successful invocation.
async fn alert_unreachable(
    target: &Target,
    requested: Vec<String>,
    error: &SessionError,
    guard: &NetworkGuard,
) -> Result<Summary, InvocationError> {
    error!(account = %target.account, region = %target.region, error = %error, "member account not reachable; alerting");
    let alerts = target
        .groups
        .iter()
        .map(|group| {
            let (id, arn) = match group {
                GroupRef::Id(id) => (
                    id.clone(),
                    Arn::security_group(target.region.partition(), target.region.as_str(), target.account.as_str(), id)
                        .to_string(),
                ),
                // A group named by name (EC2-Classic style calls) has no ARN without a describe.
                GroupRef::Name(name) => (name.clone(), name.clone()),
            };
            let resource =
                UnreachableResource { resource_type: "AWS::EC2::SecurityGroup", resource_arn: arn, resource_id: id };
            unreachable_alert(&target.account, &target.region, &resource, &target.context, error, FUNCTION_NAME)
        })
        .collect();
    let delivery = guard.alerting.delivery(FUNCTION_NAME);
    let findings = deliver_alerts(alerts, delivery).await.map_err(|(_, failure)| failure)?;
    Ok(Summary::of(InvocationOutcome::Unreachable, Some(&target.context))
        .because(error.to_string())
        .with_detail(GroupsDetail { requested, ..GroupsDetail::default() })
        .with_findings(findings))
}

fn describe_requested(rule: &IngressRule) -> String {
    let protocol = if rule.protocol == "-1" { "all protocols" } else { rule.protocol.as_str() };
    format!("{protocol} {} from {} into {}", rule.ports(), rule.source.describe(), rule.group_id)
}
