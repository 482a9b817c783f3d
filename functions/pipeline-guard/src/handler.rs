//! The pipeline-guard handler: event → tampering → restore (where it can) → one alert → summary.

use std::sync::Arc;
use std::time::Duration;

use rdsguard::aws::PipelineConnector;
use rdsguard::finding::Finding;
use rdsguard::kernel::{
    handle_once, triaged, Deadline, InvocationError, InvocationOutcome, InvocationSummary, NoDetail,
};
use rdsguard::member_access::session_failure_detail;
use rdsguard::policy::{Policy, RuleAction};
use rdsguard::remediate::{ActionKind, ActionOutcome, ActionStatus, Confirmation};
use rdsguard::report::{deliver, Alerting, Outcome};
use rdsguard::rules::{RuleId, Severity};
use serde_json::Value;
use tracing::{error, info, warn};

use crate::config::PipelineConfig;
use crate::restore::{restore_detector, restore_logging};
use crate::tampering::Tampering;
use crate::target::{triage_payload, Tamper};

/// Name of this function in alerts.
pub const FUNCTION_NAME: &str = "pipeline-guard";

/// Everything the handler needs, built once per container.
pub struct PipelineGuard {
    pub policy: Policy,
    pub config: PipelineConfig,
    pub connector: Arc<dyn PipelineConnector>,
    /// Where alerts go (and what SNS would not take is kept).
    pub alerting: Alerting,
    /// How long to read the state back after a restore.
    pub confirmation: Confirmation,
}

/// What the invocation did: `alerted` or `ignored`.
pub type Summary = InvocationSummary<NoDetail>;

/// Handles one event without a deadline (tests, the command line).
pub async fn handle_event(payload: &Value, guard: &PipelineGuard) -> Result<Summary, InvocationError> {
    handle_event_within(payload, guard, Deadline::none()).await
}

/// Handles one event within `deadline` (the invocation's): it bounds how long a concurrent delivery
/// of the same event is waited for (see [`rdsguard::ledger::once_per_event`]); a restore is started
/// only with [`RESTORE_ALLOWANCE`] left and is cut at the deadline for work, the alert still
/// published (`failed`, saying so).
pub async fn handle_event_within(
    payload: &Value,
    guard: &PipelineGuard,
    deadline: Deadline,
) -> Result<Summary, InvocationError> {
    let tamper = match triaged(FUNCTION_NAME, triage_payload(payload, &guard.config)) {
        Ok(tamper) => tamper,
        Err(end) => return end,
    };
    if guard.policy.effective_action(RuleId::PipelineTampered) == RuleAction::Off {
        let reason = "RULE_ACTIONS turns RDSGUARD.PIPELINE off".to_owned();
        warn!(%reason, event_id = %tamper.context.event_id, event_name = %tamper.context.event_name, "tampering not alerted");
        return Ok(Summary::of(InvocationOutcome::Ignored, Some(&tamper.context)).because(reason));
    }
    // With the ledger on, a repeated delivery of the event is not alerted again.
    handle_once(guard.alerting.ledger(), FUNCTION_NAME, &tamper.context, deadline, || {
        alert_tamper(&tamper, guard, deadline)
    })
    .await
}

/// Undoes what can be undone of `tamper` and alerts it.
async fn alert_tamper(tamper: &Tamper, guard: &PipelineGuard, deadline: Deadline) -> Result<Summary, InvocationError> {
    let mut finding = Finding::for_resource(
        RuleId::PipelineTampered,
        &tamper.account,
        &tamper.region,
        tamper.kind.watcher().resource_type(),
        tamper.resource_id.clone(),
        tamper.resource_arn.clone(),
        tamper.observed.clone(),
    );
    finding.title = tamper.kind.title();
    if tamper.failed.is_some() {
        finding.severity = Severity::High;
        finding.short_title = tamper.kind.attempt_short_title();
    } else {
        finding.short_title = tamper.kind.short_title();
    }
    let (action, acted_as) = respond(tamper, guard, deadline).await;
    info!(
        event_id = %tamper.context.event_id, event_name = %tamper.context.event_name, actor = %tamper.context.actor,
        resource = %finding.resource, severity = finding.severity.as_str(), action = ?action.kind,
        status = action.status.as_str(), detail = %action.detail, "tampering"
    );
    let delivery = guard.alerting.delivery(FUNCTION_NAME).acting_as(acted_as.as_deref());
    let outcome = Outcome { finding: &finding, action, suppressed: None };
    let findings = deliver(vec![outcome], &tamper.context, delivery).await.map_err(|(_, failure)| failure)?;
    Ok(Summary::of(InvocationOutcome::Alerted, Some(&tamper.context)).with_findings(findings))
}

/// What is done about one tampering call: nothing for a failed attempt or what cannot be undone;
/// StartLogging / UpdateDetector for what can. Also returns the role it acted as in the account, if
/// it acted there.
async fn respond(tamper: &Tamper, guard: &PipelineGuard, deadline: Deadline) -> (ActionOutcome, Option<String>) {
    if let Some((code, message)) = &tamper.failed {
        let outcome = ActionOutcome::new(
            ActionKind::None,
            ActionStatus::NotAttempted,
            format!(
                "the call failed ({code}: {}): nothing changed, nothing to restore; someone tried",
                message.as_deref().unwrap_or("no message")
            ),
        );
        return (outcome, None);
    }
    if let Some(why) = tamper.kind.why_not_restored() {
        let outcome = ActionOutcome::new(
            ActionKind::AlertOnly,
            ActionStatus::Skipped,
            format!("not restored automatically: {why}"),
        );
        return (outcome, None);
    }
    let kind = match tamper.kind {
        Tampering::StopLogging => ActionKind::StartLogging,
        _ => ActionKind::EnableDetector,
    };
    let what = tamper.kind.watcher().resource_type();
    if !deadline.allows(RESTORE_ALLOWANCE) {
        let left = deadline.remaining().unwrap_or_default().as_secs_f32();
        warn!(left, "too little time left to restore");
        let detail = format!(
            "not restored: {left:.1} s left before the invocation's deadline, under the {} s a restore is given plus \
             the publishing reserve; restore the {what} {} by hand",
            RESTORE_ALLOWANCE.as_secs(),
            tamper.resource_id
        );
        return (ActionOutcome::new(kind, ActionStatus::Failed, detail), None);
    }
    match deadline.bound(restore(tamper, guard, kind)).await {
        Some(done) => done,
        None => {
            error!(resource = %tamper.resource_id, "the restore did not finish before the invocation's deadline");
            let detail = format!(
                "the restore did not finish before the invocation's deadline (AWS was slow to answer): it may have \
                 been applied; check the {what} {}",
                tamper.resource_id
            );
            (ActionOutcome::new(kind, ActionStatus::Failed, detail), None)
        }
    }
}

/// The time a restore's call is given (one StartLogging or UpdateDetector), before its confirmation.
pub const RESTORE_ALLOWANCE: Duration = Duration::from_secs(5);

/// StartLogging / UpdateDetector in the account, confirmed; and the role it acted as there.
async fn restore(tamper: &Tamper, guard: &PipelineGuard, kind: ActionKind) -> (ActionOutcome, Option<String>) {
    let ports = match guard.connector.connect(&tamper.account, &tamper.region).await {
        Ok(ports) => ports,
        Err(e) => {
            error!(error = %e, account = %tamper.account, region = %tamper.region, "no session to restore with");
            return (ActionOutcome::new(kind, ActionStatus::Failed, session_failure_detail(&tamper.account, &e)), None);
        }
    };
    let acted_as = guard.connector.acting_as(&tamper.account, &tamper.region).await;
    let outcome = match tamper.kind {
        Tampering::StopLogging => {
            let trail = tamper.trail_reference.as_deref().unwrap_or(&tamper.resource_id);
            restore_logging(trail, &tamper.resource_arn, ports.trails.as_ref(), &guard.policy, guard.confirmation).await
        }
        _ => restore_detector(&tamper.resource_id, ports.detectors.as_ref(), &guard.policy, guard.confirmation).await,
    };
    (outcome, acted_as)
}
