//! The rds-guard handler: event → target → describe → rules → remediate → alerts → summary.

use std::sync::Arc;

use rdsguard::alert::Alert;
use rdsguard::aws::{AlertPublisher, AwsError, RdsConnector, RdsPort, SessionError};
use rdsguard::database::{Database, DatabaseKind};
use rdsguard::event::EventError;
use rdsguard::finding::Finding;
use rdsguard::policy::{Policy, RuleAction};
use rdsguard::remediate::{execute, plan, ActionKind, ActionOutcome, ActionStatus, Plan};
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
    #[error("{failed} of {total} alerts could not be published; first error: {first}")]
    Publish { failed: usize, total: usize, first: AwsError },
}

impl RdsGuardError {
    /// Short error type reported to Lambda (shows as `errorType` in logs and the DLQ).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Event(_) => "UnusableEvent",
            Self::Session(_) => "AccountSessionFailed",
            Self::Describe(_) => "DescribeFailed",
            Self::Publish { .. } => "AlertPublishFailed",
        }
    }
}

/// What the invocation did, returned to the caller (and visible in `cargo lambda invoke`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// `checked` or `ignored`.
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingSummary {
    pub rule: String,
    pub severity: String,
    pub resource: String,
    pub action: ActionOutcome,
    /// SNS message id; `None` when publishing failed.
    pub alert_message_id: Option<String>,
}

impl Summary {
    fn ignored(reason: String, event_id: Option<String>, event_name: Option<String>) -> Self {
        info!(%reason, ?event_id, "event ignored");
        Self { outcome: "ignored", reason: Some(reason), event_id, event_name, resource: None, findings: Vec::new(), undetermined: Vec::new() }
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
    let rds = guard.rds.connect(&target.account, &target.region).await?;
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

    let mut summaries = Vec::new();
    let mut publish_errors = Vec::new();
    // Two rules may both say "stop" (e.g. unencrypted and in a forbidden region): stop once.
    let mut stopped_for: Option<RuleId> = None;
    for finding in &findings {
        let outcome = match plan(finding.rule, &db, &guard.policy) {
            Plan::Act(ActionKind::StopDatabase) if stopped_for.is_some() => ActionOutcome {
                kind: ActionKind::StopDatabase,
                status: ActionStatus::Skipped,
                detail: format!("already stopped for {}", stopped_for.map(RuleId::as_str).unwrap_or_default()),
            },
            Plan::Act(kind) => {
                let outcome = execute(kind, &db, rds.as_ref()).await;
                if kind == ActionKind::StopDatabase && outcome.status == ActionStatus::Succeeded {
                    stopped_for = Some(finding.rule);
                }
                outcome
            }
            Plan::Report(outcome) => outcome,
        };
        info!(
            rule = %finding.rule, resource = %finding.resource, action = ?outcome.kind,
            status = outcome.status.as_str(), detail = %outcome.detail, "finding"
        );
        let alert = Alert::new(finding, context, outcome.clone(), FUNCTION_NAME);
        let message_id = match guard.alerts.publish(&alert).await {
            Ok(id) => Some(id),
            Err(e) => {
                error!(rule = %finding.rule, resource = %finding.resource, error = %e, "alert could not be published");
                publish_errors.push(e);
                None
            }
        };
        summaries.push(FindingSummary {
            rule: finding.rule.as_str().to_owned(),
            severity: finding.severity.as_str().to_owned(),
            resource: finding.resource.clone(),
            action: outcome,
            alert_message_id: message_id,
        });
    }
    let total = summaries.len();
    if let Some(first) = publish_errors.first() {
        return Err(RdsGuardError::Publish { failed: publish_errors.len(), total, first: first.clone() });
    }
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
