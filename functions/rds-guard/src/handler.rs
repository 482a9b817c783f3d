//! The rds-guard handler: event → target → describe → rules → remediate → alerts → summary.
//! Databases, snapshots, parameter groups and deletions each have their own check (see
//! [`crate::target::Subject`]); all end in the same delivery.

use std::sync::Arc;

use rdsguard::aws::{AlertPublisher, AwsError, RdsConnector, RdsGuardPort, SessionError, UndeliveredAlertSink};
use rdsguard::database::{Database, DatabaseKind};
use rdsguard::event::EventError;
use rdsguard::finding::{EventContext, Finding};
use rdsguard::member_access::{is_member_setup_error, unreachable_alert, UnreachableResource};
use rdsguard::policy::{Policy, RuleAction};
use rdsguard::remediate::{execute, plan, ActionKind, ActionOutcome, ActionStatus, Confirmation, Plan};
use rdsguard::report::{deliver_alerts, deliver_judged, AlertDelivery, FindingSummary, Outcome, PublishFailure};
use rdsguard::rules::{evaluate_database, DatabaseChange, RuleId, Verdict};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, warn};

use crate::deletion::judge_deletion;
use crate::snapshots::check_snapshot;
use crate::target::{triage_payload, Subject, Target, Triage};
use crate::tls::{check_database_tls, check_parameter_group};

/// Name of this function in alerts.
pub const FUNCTION_NAME: &str = "rds-guard";

/// Everything the handler needs, built once per container.
pub struct RdsGuard {
    pub policy: Policy,
    pub rds: Arc<dyn RdsConnector>,
    pub alerts: Arc<dyn AlertPublisher>,
    /// Keeps alerts SNS would not take (see [`UndeliveredAlertSink`]).
    pub undelivered: Option<Arc<dyn UndeliveredAlertSink>>,
    /// How long to read the state back after a change (see [`Confirmation`]).
    pub confirmation: Confirmation,
}

/// Why an invocation failed. Each of these makes Lambda retry the event and, in the end, keep it in
/// the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum RdsGuardError {
    #[error("rds-guard handles this event but cannot act on it safely: {0}")]
    Event(#[from] EventError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("cannot read the resource's current state: {0}")]
    Describe(AwsError),
    #[error(transparent)]
    Publish(#[from] PublishFailure),
}

impl RdsGuardError {
    /// Short error type reported to Lambda (shows as `errorType` in logs and the DLQ).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Event(_) => "UnusableEvent",
            Self::Session(_) => "AccountSessionFailed",
            Self::Describe(_) => "DescribeFailed",
            Self::Publish(_) => "AlertPublishFailed",
        }
    }
}

/// What the invocation did, returned to the caller (and visible in `cargo lambda invoke`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// `checked`, `ignored`, or `unreachable` (the member role could not be assumed: alerted).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub findings: Vec<FindingSummary>,
    /// Rules that could not judge for lack of state (nothing was done about them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undetermined: Vec<String>,
}

impl Summary {
    pub(crate) fn ignored(reason: String, context: Option<&EventContext>) -> Self {
        info!(%reason, event_id = ?context.map(|c| &c.event_id), "event ignored");
        Self {
            outcome: "ignored",
            reason: Some(reason),
            event_id: context.map(|c| c.event_id.clone()),
            event_name: context.map(|c| c.event_name.clone()),
            resource: None,
            findings: Vec::new(),
            undetermined: Vec::new(),
        }
    }
}

/// The findings of one check and what was done about each, ready to be alerted.
pub(crate) struct Checked {
    pub resource: String,
    pub findings: Vec<(Finding, ActionOutcome)>,
    pub undetermined: Vec<String>,
    /// Rules judged compliant (the findings ledger resolves what it held open for them).
    pub compliant: Vec<Finding>,
}

impl Checked {
    pub(crate) fn new(resource: String) -> Self {
        Self { resource, findings: Vec::new(), undetermined: Vec::new(), compliant: Vec::new() }
    }

    /// Records a verdict that could not be reached (nothing is done about it).
    pub(crate) fn undetermined(&mut self, rule: RuleId, resource: &str, why: &str) {
        warn!(%rule, resource, why, "rule could not judge; nothing done");
        self.undetermined.push(format!("{rule}: {why}"));
    }
}

/// Handles one event.
pub async fn handle_event(payload: &Value, guard: &RdsGuard) -> Result<Summary, RdsGuardError> {
    let target = match triage_payload(payload) {
        Ok(Triage::Check(target)) => target,
        Ok(Triage::Ignore(reason)) => return Ok(Summary::ignored(reason, None)),
        Err(e) => {
            error!(error = %e, "event could not be read");
            return Err(e.into());
        }
    };
    if let Subject::Deletion { kind, identifier, request, response } = &target.subject {
        return match judge_deletion(&target, *kind, identifier, request, response, &guard.policy) {
            Ok(checked) => report(&target, checked, None, guard).await,
            Err(reason) => Ok(Summary::ignored(reason, Some(&target.context))),
        };
    }
    let rds = match guard.rds.connect(&target.account, &target.region).await {
        Ok(rds) => rds,
        Err(e) if is_member_setup_error(&e) => return alert_unreachable(&target, &e, guard).await,
        Err(e) => return Err(e.into()),
    };
    let acted_as = guard.rds.acting_as(&target.account, &target.region).await;
    let checked = match &target.subject {
        Subject::Database { kind, identifiers, change } => {
            check_database(&target, *kind, identifiers, *change, rds.as_ref(), guard).await?
        }
        Subject::Snapshot { kind, identifier, change } => {
            check_snapshot(&target, *kind, identifier, *change, rds.as_ref(), guard).await?
        }
        Subject::ParameterGroup { kind, name } => {
            check_parameter_group(&target, *kind, name, rds.as_ref(), guard).await?
        }
        Subject::Deletion { .. } => Err("deletions are judged on the call".to_owned()),
    };
    let checked = match checked {
        Ok(checked) => checked,
        Err(reason) => return Ok(Summary::ignored(reason, Some(&target.context))),
    };
    report(&target, checked, acted_as, guard).await
}

/// The resource an event named, for the alert that says its account cannot be reached.
fn unreachable_resource(target: &Target) -> UnreachableResource {
    let (resource_type, segment, id) = match &target.subject {
        Subject::Database { kind, identifiers, .. } => (
            kind.aws_type(),
            match kind {
                DatabaseKind::Instance => "db",
                DatabaseKind::Cluster => "cluster",
            },
            identifiers.first().cloned().unwrap_or_default(),
        ),
        Subject::Snapshot { kind, identifier, .. } => (
            kind.aws_type(),
            match kind {
                rdsguard::db_snapshot::SnapshotKind::Instance => "snapshot",
                rdsguard::db_snapshot::SnapshotKind::Cluster => "cluster-snapshot",
            },
            identifier.clone(),
        ),
        Subject::ParameterGroup { kind, name } => match kind {
            DatabaseKind::Instance => ("AWS::RDS::DBParameterGroup", "pg", name.clone()),
            DatabaseKind::Cluster => ("AWS::RDS::DBClusterParameterGroup", "cluster-pg", name.clone()),
        },
        Subject::Deletion { kind, identifier, .. } => (
            kind.aws_type(),
            match kind {
                DatabaseKind::Instance => "db",
                DatabaseKind::Cluster => "cluster",
            },
            identifier.clone(),
        ),
    };
    UnreachableResource {
        resource_type,
        resource_arn: format!(
            "arn:{}:rds:{}:{}:{segment}:{id}",
            target.region.partition(),
            target.region,
            target.account
        ),
        resource_id: id,
    }
}

/// Alerts each finding (RDS's routine notifications do not repeat an alert on which nothing was
/// or will be done) and sums the invocation up.
async fn report(
    target: &Target,
    checked: Checked,
    acted_as: Option<String>,
    guard: &RdsGuard,
) -> Result<Summary, RdsGuardError> {
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
    let delivery = AlertDelivery {
        publisher: guard.alerts.as_ref(),
        undelivered: guard.undelivered.as_deref(),
        source: FUNCTION_NAME,
        acted_as: acted_as.as_deref(),
    };
    let summaries = deliver_judged(due, &checked.compliant, context, delivery).await.map_err(|(_, failure)| failure)?;
    Ok(Summary {
        outcome: "checked",
        reason: None,
        event_id: Some(context.event_id.clone()),
        event_name: Some(context.event_name.clone()),
        resource: Some(checked.resource),
        findings: summaries,
        undetermined: checked.undetermined,
    })
}

/// `Ok(Err(reason))`: nothing to check (the database is gone).
async fn check_database(
    target: &Target,
    kind: DatabaseKind,
    identifiers: &[String],
    change: DatabaseChange,
    rds: &dyn RdsGuardPort,
    guard: &RdsGuard,
) -> Result<Result<Checked, String>, RdsGuardError> {
    let Some(db) = describe_first(rds, kind, identifiers).await? else {
        return Ok(Err(format!(
            "{} {} does not exist in {}/{} (deleted, or never created)",
            kind_name(kind),
            identifiers.join(" / "),
            target.account,
            target.region
        )));
    };
    let context = &target.context;
    info!(
        event_id = %context.event_id, event_name = %context.event_name, account = %target.account,
        region = %target.region, db = %db.state.identifier, status = ?db.state.status, ?change, "checking database"
    );

    let mut checked = Checked::new(db.state.arn.clone().unwrap_or_else(|| db.state.identifier.clone()));
    let mut findings = Vec::new();
    for (rule, verdict) in evaluate_database(&db, &target.region, &guard.policy) {
        if guard.policy.effective_action(rule) == RuleAction::Off || !rule.judged_on(change) {
            continue;
        }
        match verdict {
            Verdict::Violation(observed) => {
                findings.push(Finding::new(rule, &db, &target.account, &target.region, observed))
            }
            Verdict::Unknown(why) => checked.undetermined(rule, &db.state.identifier, why),
            Verdict::Compliant => {
                checked.compliant.push(Finding::new(rule, &db, &target.account, &target.region, Value::Null))
            }
            Verdict::NotApplicable(_) => {}
        }
    }
    let outcomes = act_on_findings(&findings, &db, rds, guard).await;
    checked.findings.extend(findings.into_iter().zip(outcomes));

    if let Some(tls) = check_database_tls(target, &db, change, rds, guard, &mut checked).await? {
        checked.findings.push(tls);
    }
    Ok(Ok(checked))
}

/// The account is not set up for rdsguard (its member role cannot be assumed): one failed-status
/// alert saying so, and a successful invocation — retrying cannot create the role.
async fn alert_unreachable(target: &Target, error: &SessionError, guard: &RdsGuard) -> Result<Summary, RdsGuardError> {
    error!(account = %target.account, region = %target.region, error = %error, "member account not reachable; alerting");
    let resource = unreachable_resource(target);
    let alert = unreachable_alert(&target.account, &target.region, &resource, &target.context, error, FUNCTION_NAME);
    let delivery = AlertDelivery {
        publisher: guard.alerts.as_ref(),
        undelivered: guard.undelivered.as_deref(),
        source: FUNCTION_NAME,
        acted_as: None,
    };
    let findings = deliver_alerts(vec![alert], delivery).await.map_err(|(_, failure)| failure)?;
    Ok(Summary {
        outcome: "unreachable",
        reason: Some(error.to_string()),
        event_id: Some(target.context.event_id.clone()),
        event_name: Some(target.context.event_name.clone()),
        resource: Some(resource.resource_arn),
        findings,
        undetermined: Vec::new(),
    })
}

/// Plans and carries out the action for each finding (in the findings' order). Stops run first: RDS
/// refuses a stop while a modification is under way, and a stopped database is fixed when started.
async fn act_on_findings(
    findings: &[Finding],
    db: &Database,
    rds: &dyn RdsGuardPort,
    guard: &RdsGuard,
) -> Vec<ActionOutcome> {
    let policy = &guard.policy;
    let plans: Vec<Plan> = findings.iter().map(|f| plan(f.rule, db, policy)).collect();
    let mut outcomes: Vec<Option<ActionOutcome>> = vec![None; plans.len()];
    let mut stopped_for: Option<RuleId> = None;
    for (i, planned) in plans.iter().enumerate() {
        if *planned != Plan::Act(ActionKind::StopDatabase) {
            continue;
        }
        // Two rules may both say "stop" (e.g. unencrypted and in a forbidden region): stop once.
        outcomes[i] = Some(match stopped_for {
            Some(rule) => ActionOutcome {
                kind: ActionKind::StopDatabase,
                status: ActionStatus::Skipped,
                detail: format!("already stopped for {rule}"),
            },
            None => {
                let outcome = execute(ActionKind::StopDatabase, db, rds, policy, guard.confirmation).await;
                if outcome.status == ActionStatus::Succeeded {
                    stopped_for = findings.get(i).map(|f| f.rule);
                }
                outcome
            }
        });
    }
    let mut result = Vec::with_capacity(plans.len());
    for (planned, done) in plans.into_iter().zip(outcomes) {
        let outcome = match (done, planned) {
            (Some(outcome), _) => outcome,
            (None, Plan::Act(kind)) => match stopped_for {
                Some(rule) => ActionOutcome {
                    kind,
                    status: ActionStatus::Deferred,
                    detail: format!(
                        "stopped by rdsguard for {rule}; rechecked when it is started again (RDS event 'DB instance started')"
                    ),
                },
                None => execute(kind, db, rds, policy, guard.confirmation).await,
            },
            (None, Plan::Report(outcome)) => outcome,
        };
        result.push(outcome);
    }
    result
}

/// Describes the identifiers in order; the first that exists is the database.
async fn describe_first(
    rds: &dyn RdsGuardPort,
    kind: DatabaseKind,
    identifiers: &[String],
) -> Result<Option<Database>, RdsGuardError> {
    for identifier in identifiers {
        let state = match kind {
            DatabaseKind::Instance => rds.describe_instance(identifier).await,
            DatabaseKind::Cluster => rds.describe_cluster(identifier).await,
        }
        .map_err(RdsGuardError::Describe)?;
        if let Some(state) = state {
            return Ok(Some(match kind {
                DatabaseKind::Instance => Database::instance(state),
                DatabaseKind::Cluster => Database::cluster(state),
            }));
        }
    }
    Ok(None)
}

fn kind_name(kind: DatabaseKind) -> &'static str {
    match kind {
        DatabaseKind::Instance => "DB instance",
        DatabaseKind::Cluster => "DB cluster",
    }
}

impl rdsguard::kernel::InvocationFailure for RdsGuardError {
    fn kind(&self) -> &'static str {
        RdsGuardError::kind(self)
    }
}

impl rdsguard::kernel::InvocationReport for Summary {
    fn findings(&self) -> &[rdsguard::report::FindingSummary] {
        &self.findings
    }
}
