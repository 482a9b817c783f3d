//! The rds-guard handler: event → target → describe → rules → remediate → alerts → summary.

use std::sync::Arc;

use rdsguard::aws::{AlertPublisher, AwsError, RdsConnector, RdsPort, SessionError, UndeliveredAlertSink};
use rdsguard::database::{Database, DatabaseKind};
use rdsguard::event::EventError;
use rdsguard::finding::Finding;
use rdsguard::member_access::{is_member_setup_error, unreachable_alert, UnreachableResource};
use rdsguard::policy::{Policy, RuleAction};
use rdsguard::remediate::{execute, plan, ActionKind, ActionOutcome, ActionStatus, Confirmation, Plan};
use rdsguard::report::{deliver, deliver_alerts, AlertDelivery, FindingSummary, Outcome, PublishFailure};
use rdsguard::rules::{evaluate_database, RuleId, Verdict};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, warn};

use crate::target::{triage_payload, Target, Triage};

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
    #[error("cannot read the database's current state: {0}")]
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
    fn ignored(reason: String, event_id: Option<String>, event_name: Option<String>) -> Self {
        info!(%reason, ?event_id, "event ignored");
        Self {
            outcome: "ignored",
            reason: Some(reason),
            event_id,
            event_name,
            resource: None,
            findings: Vec::new(),
            undetermined: Vec::new(),
        }
    }
}

/// Handles one event.
pub async fn handle_event(payload: &Value, guard: &RdsGuard) -> Result<Summary, RdsGuardError> {
    let target = match triage_payload(payload) {
        Ok(Triage::Check(target)) => target,
        Ok(Triage::Ignore(reason)) => return Ok(Summary::ignored(reason, None, None)),
        Err(e) => {
            error!(error = %e, "event could not be read");
            return Err(e.into());
        }
    };
    check_target(&target, guard).await
}

async fn check_target(target: &Target, guard: &RdsGuard) -> Result<Summary, RdsGuardError> {
    let context = &target.context;
    let rds = match guard.rds.connect(&target.account, &target.region).await {
        Ok(rds) => rds,
        Err(e) if is_member_setup_error(&e) => return alert_unreachable(target, &e, guard).await,
        Err(e) => return Err(e.into()),
    };
    let acted_as = guard.rds.acting_as(&target.account, &target.region).await;
    let Some(db) = describe_first(rds.as_ref(), target).await? else {
        let reason = format!(
            "{} {} does not exist in {}/{} (deleted, or never created)",
            kind_name(target.kind),
            target.identifiers.join(" / "),
            target.account,
            target.region
        );
        return Ok(Summary::ignored(reason, Some(context.event_id.clone()), Some(context.event_name.clone())));
    };
    info!(
        event_id = %context.event_id, event_name = %context.event_name, account = %target.account,
        region = %target.region, db = %db.state.identifier, status = ?db.state.status, "checking database"
    );

    let mut findings = Vec::new();
    let mut undetermined = Vec::new();
    for (rule, verdict) in evaluate_database(&db, &target.region, &guard.policy.allowed_regions) {
        if guard.policy.effective_action(rule) == RuleAction::Off {
            continue;
        }
        match verdict {
            Verdict::Violation(observed) => {
                findings.push(Finding::new(rule, &db, &target.account, &target.region, observed))
            }
            Verdict::Unknown(why) => {
                warn!(%rule, db = %db.state.identifier, why, "rule could not judge; nothing done");
                undetermined.push(format!("{rule}: {why}"));
            }
            Verdict::Compliant | Verdict::NotApplicable(_) => {}
        }
    }

    let outcomes = act_on_findings(&findings, &db, rds.as_ref(), guard).await;

    let mut due = Vec::with_capacity(findings.len());
    for (finding, action) in findings.iter().zip(outcomes) {
        info!(
            rule = %finding.rule, resource = %finding.resource, action = ?action.kind,
            status = action.status.as_str(), detail = %action.detail, "finding"
        );
        // RDS's routine notifications (started, stopped, backups...) re-check the database; a
        // finding on which nothing was or will be done was already alerted by the call that caused it.
        let unchanged = matches!(action.status, ActionStatus::NotAttempted | ActionStatus::Skipped);
        let suppressed =
            (unchanged && !target.realert_unchanged).then_some("not re-alerted on a routine RDS notification");
        due.push(Outcome { finding, action, suppressed });
    }
    let delivery = AlertDelivery {
        publisher: guard.alerts.as_ref(),
        undelivered: guard.undelivered.as_deref(),
        source: FUNCTION_NAME,
        acted_as: acted_as.as_deref(),
    };
    let summaries = deliver(due, context, delivery).await.map_err(|(_, failure)| failure)?;
    Ok(Summary {
        outcome: "checked",
        reason: None,
        event_id: Some(context.event_id.clone()),
        event_name: Some(context.event_name.clone()),
        resource: Some(db.state.arn.clone().unwrap_or_else(|| db.state.identifier.clone())),
        findings: summaries,
        undetermined,
    })
}

/// The account is not set up for rdsguard (its member role cannot be assumed): one failed-status
/// alert saying so, and a successful invocation — retrying cannot create the role.
async fn alert_unreachable(target: &Target, error: &SessionError, guard: &RdsGuard) -> Result<Summary, RdsGuardError> {
    error!(account = %target.account, region = %target.region, error = %error, "member account not reachable; alerting");
    let id = target.identifiers.first().cloned().unwrap_or_default();
    let kind = match target.kind {
        DatabaseKind::Instance => "db",
        DatabaseKind::Cluster => "cluster",
    };
    let resource = UnreachableResource {
        resource_type: target.kind.aws_type(),
        resource_arn: format!("arn:{}:rds:{}:{}:{kind}:{id}", target.region.partition(), target.region, target.account),
        resource_id: id,
    };
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
    rds: &dyn RdsPort,
    guard: &RdsGuard,
) -> Vec<ActionOutcome> {
    let plans: Vec<Plan> = findings.iter().map(|f| plan(f.rule, db, &guard.policy)).collect();
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
                let outcome = execute(ActionKind::StopDatabase, db, rds, guard.confirmation).await;
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
                None => execute(kind, db, rds, guard.confirmation).await,
            },
            (None, Plan::Report(outcome)) => outcome,
        };
        result.push(outcome);
    }
    result
}

/// Describes the target's identifiers in order; the first that exists is the database.
async fn describe_first(rds: &dyn RdsPort, target: &Target) -> Result<Option<Database>, RdsGuardError> {
    for identifier in &target.identifiers {
        let state = match target.kind {
            DatabaseKind::Instance => rds.describe_instance(identifier).await,
            DatabaseKind::Cluster => rds.describe_cluster(identifier).await,
        }
        .map_err(RdsGuardError::Describe)?;
        if let Some(state) = state {
            return Ok(Some(match target.kind {
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
