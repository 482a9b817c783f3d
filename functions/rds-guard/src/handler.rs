//! The rds-guard handler: triage (event → target) → check (the library's, [`rdsguard::checks`]) →
//! deliver (alerts, summary). Databases, snapshots and parameter groups are checked by the same
//! functions a sweep or the command line calls; deletions are judged on the call here.

use std::sync::Arc;

use rdsguard::arn::Arn;
use rdsguard::aws::{RdsConnector, SessionError};
use rdsguard::checks::{check_database, check_parameter_group, check_snapshot, CheckOutcome, CheckScope};
use rdsguard::kernel::{handle_triaged, Deadline, InvocationError, InvocationOutcome, InvocationSummary};
use rdsguard::ledger::gone;
use rdsguard::member_access::{is_member_setup_error, unreachable_alert, UnreachableResource};
use rdsguard::policy::Policy;
use rdsguard::recheck::queue_deferred;
use rdsguard::remediate::{ActionStatus, Confirmation};
use rdsguard::report::{deliver_alerts, deliver_judged, Alerting, Outcome};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info};

pub(crate) use rdsguard::checks::Checked;

use crate::deletion::judge_deletion;
use crate::target::{triage_payload, Subject, Target};

/// Name of this function in alerts.
pub const FUNCTION_NAME: &str = "rds-guard";

/// Everything the handler needs, built once per container.
pub struct RdsGuard {
    pub policy: Policy,
    pub rds: Arc<dyn RdsConnector>,
    /// Where alerts go (and what SNS would not take is kept).
    pub alerting: Alerting,
    /// How long to read the state back after a change (see [`Confirmation`]).
    pub confirmation: Confirmation,
}

/// What the invocation did, returned to the caller (and visible in `cargo lambda invoke`):
/// `checked`, `ignored`, or `unreachable` (the member role could not be assumed: alerted).
pub type Summary = InvocationSummary<DatabaseDetail>;

/// rds-guard's own part of its [`Summary`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DatabaseDetail {
    /// The database (or snapshot, parameter group) judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Rules that could not judge for lack of state (nothing was done about them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undetermined: Vec<String>,
}

/// Handles one event without a deadline (tests, the command line).
pub async fn handle_event(payload: &Value, guard: &RdsGuard) -> Result<Summary, InvocationError> {
    handle_event_within(payload, guard, Deadline::none()).await
}

/// Handles one event, working until `deadline` (the invocation's, from the Lambda context) less the
/// time kept to publish: a fix not confirmed by then is `deferred`. Every outcome reached is
/// alerted even when a later step fails; the invocation then fails so the event is retried.
pub async fn handle_event_within(
    payload: &Value,
    guard: &RdsGuard,
    deadline: Deadline,
) -> Result<Summary, InvocationError> {
    // With the ledger on, a repeated delivery of the event is not handled again.
    let triage = triage_payload(payload);
    let check = async |target: &Target| check_target(target, guard, deadline).await;
    handle_triaged(FUNCTION_NAME, triage, guard.alerting.ledger(), deadline, |t| &t.context, check).await
}

/// Checks what the event named: a deletion judged on the call, anything else read and judged.
async fn check_target(target: &Target, guard: &RdsGuard, deadline: Deadline) -> Result<Summary, InvocationError> {
    if let Subject::Deletion { kind, identifier, request, response } = &target.subject {
        return match judge_deletion(target, *kind, identifier, request, response, &guard.policy) {
            Ok(checked) => report(target, checked, None, guard).await,
            Err(reason) => Ok(Summary::ignored(reason, Some(&target.context))),
        };
    }
    let rds = match guard.rds.connect(&target.account, &target.region).await {
        Ok(rds) => rds,
        Err(e) if is_member_setup_error(&e) => return alert_unreachable(target, &e, guard).await,
        Err(e) => return Err(e.into()),
    };
    let acted_as = guard.rds.acting_as(&target.account, &target.region).await;
    let scope = CheckScope {
        account: &target.account,
        region: &target.region,
        policy: &guard.policy,
        confirmation: guard.confirmation,
        deadline,
    };
    let outcome = match &target.subject {
        Subject::Database { kind, identifiers, change } => {
            check_database(scope, rds.as_ref(), *kind, identifiers, Some(*change)).await?
        }
        Subject::Snapshot { kind, identifier, change } => {
            check_snapshot(scope, rds.as_ref(), *kind, identifier, Some(*change)).await?
        }
        Subject::ParameterGroup { kind, name } => check_parameter_group(scope, rds.as_ref(), *kind, name).await?,
        Subject::Deletion { .. } => CheckOutcome::NothingToCheck("deletions are judged on the call".to_owned()),
    };
    let checked = match outcome {
        CheckOutcome::Judged(checked) => checked,
        CheckOutcome::NothingToCheck(reason) => return Ok(Summary::ignored(reason, Some(&target.context))),
        CheckOutcome::Gone { resources, reason } => {
            return resolve_gone(target, &resources, reason, acted_as, guard).await
        }
    };
    report(target, checked, acted_as, guard).await
}

/// The resource the event named no longer exists: with the findings ledger, the findings it held
/// on it resolve (one resolved alert each); otherwise, or when it held none, the event is ignored.
async fn resolve_gone(
    target: &Target,
    resources: &[String],
    reason: String,
    acted_as: Option<String>,
    guard: &RdsGuard,
) -> Result<Summary, InvocationError> {
    let (account, region) = (target.account.as_str(), target.region.as_str());
    let mut cleared = Vec::new();
    if let Some(ledger) = guard.alerting.ledger() {
        for resource in resources {
            cleared.extend(gone(&ledger.held(account, region, Some(resource)).await));
        }
    }
    if cleared.is_empty() {
        return Ok(Summary::ignored(reason, Some(&target.context)));
    }
    info!(%reason, resolved = cleared.len(), "resource gone; the findings held on it resolve");
    let delivery = guard.alerting.delivery(FUNCTION_NAME).acting_as(acted_as.as_deref());
    let summaries =
        deliver_judged(Vec::new(), &cleared, &target.context, delivery).await.map_err(|(_, failure)| failure)?;
    let detail = DatabaseDetail { resource: resources.first().cloned(), undetermined: Vec::new() };
    Ok(Summary::of(InvocationOutcome::Checked, Some(&target.context)).with_detail(detail).with_findings(summaries))
}

/// The resource an event named, for the alert that says its account cannot be reached.
fn unreachable_resource(target: &Target) -> UnreachableResource {
    let (kind, id) = match &target.subject {
        Subject::Database { kind, identifiers, .. } => {
            (kind.resource_kind(), identifiers.first().cloned().unwrap_or_default())
        }
        Subject::Snapshot { kind, identifier, .. } => (kind.resource_kind(), identifier.clone()),
        Subject::ParameterGroup { kind, name } => (kind.parameter_group_kind(), name.clone()),
        Subject::Deletion { kind, identifier, .. } => (kind.resource_kind(), identifier.clone()),
    };
    let arn = Arn::rds(target.region.partition(), target.region.as_str(), target.account.as_str(), kind, &id);
    UnreachableResource { resource_type: kind.cloudformation_type(), resource_arn: arn.to_string(), resource_id: id }
}

/// Alerts each finding (RDS's routine notifications do not repeat an alert on which nothing was
/// or will be done) and sums the invocation up.
async fn report(
    target: &Target,
    checked: Checked,
    acted_as: Option<String>,
    guard: &RdsGuard,
) -> Result<Summary, InvocationError> {
    let context = &target.context;
    let mut due = Vec::with_capacity(checked.findings.len());
    for (finding, action) in &checked.findings {
        info!(
            rule = %finding.rule, resource = %finding.resource, action = ?action.kind,
            status = action.status.as_str(), detail = %action.detail, "finding"
        );
        let unchanged = matches!(action.status, ActionStatus::NotAttempted | ActionStatus::Skipped);
        let suppressed =
            (unchanged && !target.realert_unchanged).then_some("not re-alerted on a routine RDS notification");
        due.push(Outcome { finding, action: action.clone(), suppressed });
    }
    let delivery = guard.alerting.delivery(FUNCTION_NAME).acting_as(acted_as.as_deref());
    let delivered = deliver_judged(due, &checked.compliant, context, delivery).await.map_err(|(_, failure)| failure);
    // After the alerts: a delayed re-check of every deferred fix.
    let queued = queue_deferred(guard.alerting.rechecks(), checked.findings.iter().map(|(f, a)| (f, a))).await;
    let summaries = delivered?;
    queued?;
    if let Some(failure) = checked.failure {
        return Err(failure.into());
    }
    let detail = DatabaseDetail { resource: Some(checked.resource), undetermined: checked.undetermined };
    Ok(Summary::of(InvocationOutcome::Checked, Some(context)).with_detail(detail).with_findings(summaries))
}

/// The account is not set up for rdsguard (its member role cannot be assumed): one failed-status
/// alert saying so, and a successful invocation — retrying cannot create the role.
async fn alert_unreachable(
    target: &Target,
    error: &SessionError,
    guard: &RdsGuard,
) -> Result<Summary, InvocationError> {
    error!(account = %target.account, region = %target.region, error = %error, "member account not reachable; alerting");
    let resource = unreachable_resource(target);
    let alert = unreachable_alert(&target.account, &target.region, &resource, &target.context, error, FUNCTION_NAME);
    let delivery = guard.alerting.delivery(FUNCTION_NAME);
    let findings = deliver_alerts(vec![alert], delivery).await.map_err(|(_, failure)| failure)?;
    let detail = DatabaseDetail { resource: Some(resource.resource_arn), undetermined: Vec::new() };
    Ok(Summary::of(InvocationOutcome::Unreachable, Some(&target.context))
        .because(error.to_string())
        .with_detail(detail)
        .with_findings(findings))
}
