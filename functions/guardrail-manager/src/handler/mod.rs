//! The guardrail-manager handler: what it is given and answers, and which flow an invocation
//! takes. One file per flow:
//! - [`stack`]: the CloudFormation custom resource (Create/Update apply the guardrails, Delete
//!   removes them), also when the configuration is invalid;
//! - [`policy_call`]: CloudTrail Organizations calls on the managed policies (tampering: CRITICAL
//!   alert, and the guardrails are re-applied when RDSGUARD.GUARDRAIL=remediate);
//! - [`account_move`]: an account moved or removed out from under the guardrail targets (alert);
//! - [`drift`]: the schedule (alert and re-apply when the organisation no longer matches);
//! - [`reapply`]: putting the guardrails back, for the drift check and tampering.

use std::sync::Arc;

use rdsguard::aws::{AwsError, Organization, OrganizationTree};
use rdsguard::event::{parse_event, EventError, IncomingEvent};
use rdsguard::finding::{EventContext, Finding};
use rdsguard::guardrails::{plan_for, GuardrailSettings, OrgState, Plan, ReconcileError};
use rdsguard::kernel::{Deadline, InvocationError, InvocationFailure, InvocationOutcome, InvocationSummary};
use rdsguard::policy::Policy;
use rdsguard::remediate::ActionOutcome;
use rdsguard::report::{deliver, Alerting, Outcome};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info};

use crate::custom_resource::{ResponseError, ResponseSender};
use crate::membership::MembershipError;

mod account_move;
mod drift;
mod policy_call;
mod reapply;
mod stack;

pub use reapply::REAPPLY_ALLOWANCE;
pub use stack::{handle_unconfigured, UNCONFIGURED_PHYSICAL_ID};

/// Name of this function in alerts.
pub const FUNCTION_NAME: &str = "guardrail-manager";
/// EventBridge detail-type of scheduled rules.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// Everything the handler needs, built once per container.
pub struct GuardrailManager {
    pub policy: Policy,
    pub settings: GuardrailSettings,
    pub organization: Arc<dyn Organization>,
    /// ListParents, to tell whether a moved account left the guardrail targets.
    pub tree: Arc<dyn OrganizationTree>,
    /// Where alerts go (and what SNS would not take is kept).
    pub alerting: Alerting,
    pub responses: Arc<dyn ResponseSender>,
    /// The function's own session ARN (`...:assumed-role/<execution role>/<session>`, from STS
    /// GetCallerIdentity at start): calls made by exactly this actor are the function's own.
    pub own_session_arn: Option<String>,
}

/// What only guardrail-manager can fail with (its `errorType` next to the shared ones of
/// [`InvocationError`]).
#[derive(Debug, thiserror::Error)]
pub enum GuardrailFailure {
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    #[error("could not read where the account sits in the organisation: {0}")]
    OrganizationRead(AwsError),
    #[error(transparent)]
    Response(#[from] ResponseError),
    #[error("{0}")]
    CustomResource(String),
}

impl InvocationFailure for GuardrailFailure {
    fn kind(&self) -> &'static str {
        match self {
            Self::Reconcile(_) => "ReconcileFailed",
            Self::OrganizationRead(_) => "OrganizationReadFailed",
            Self::Response(_) => "CustomResourceResponseFailed",
            Self::CustomResource(_) => "UnusableRequestOrConfiguration",
        }
    }
}

/// Why an invocation failed: the guard functions' shared error with guardrail-manager's own.
pub type GuardrailManagerError = InvocationError<GuardrailFailure>;
type Failure = GuardrailManagerError;

impl From<GuardrailFailure> for Failure {
    fn from(failure: GuardrailFailure) -> Self {
        Self::Function(failure)
    }
}

impl From<ResponseError> for Failure {
    fn from(error: ResponseError) -> Self {
        Self::Function(GuardrailFailure::Response(error))
    }
}

impl From<MembershipError> for Failure {
    fn from(error: MembershipError) -> Self {
        match error {
            MembershipError::Event(e) => unusable(e),
            MembershipError::Tree(e) => Self::Function(GuardrailFailure::OrganizationRead(e)),
        }
    }
}

/// The event is one guardrail-manager handles, but it cannot act on it safely.
fn unusable(error: impl Into<EventError>) -> Failure {
    InvocationError::event(FUNCTION_NAME, error)
}

/// The guardrails could not be planned or applied.
fn not_reconciled(error: ReconcileError) -> Failure {
    Failure::Function(GuardrailFailure::Reconcile(error))
}

/// The organisation read and the plan made within the deadline for work. Running out of time
/// here is an error: nothing was reached yet, and Lambda delivers the event again.
async fn planned(
    manager: &GuardrailManager,
    deadline: Deadline,
) -> Result<Result<(Plan, OrgState), ReconcileError>, Failure> {
    deadline.bound(plan_for(manager.organization.as_ref(), &manager.settings)).await.ok_or_else(|| {
        error!("the organisation could not be read before the invocation's deadline");
        InvocationError::OutOfTime {
            unchecked: vec!["the guardrail policies (Organizations was slow to answer)".to_owned()],
            alerted: 0,
        }
    })
}

/// What the invocation did: `applied`, `removed`, `failed` (custom resource), `in_sync`, `alerted`
/// or `ignored`.
pub type Summary = InvocationSummary<PlanDetail>;

/// guardrail-manager's own part of its [`Summary`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlanDetail {
    /// The plan's lines, where one was made.
    pub plan: Vec<String>,
}

/// An ignored event, named by `event_name` where it has one (logged with the reason).
pub(super) fn ignored(reason: impl Into<String>, event_name: Option<&str>) -> Summary {
    let summary = Summary::ignored(reason, None);
    match event_name {
        Some(name) => summary.for_event_named(name),
        None => summary,
    }
}

/// `outcome`, with the plan's lines and the event's name where there are ones.
pub(super) fn summary(
    outcome: InvocationOutcome,
    reason: Option<String>,
    event_name: Option<String>,
    plan: Vec<String>,
) -> Summary {
    let summary = Summary::of(outcome, None).with_detail(PlanDetail { plan });
    let summary = match reason {
        Some(reason) => summary.because(reason),
        None => summary,
    };
    match event_name {
        Some(name) => summary.for_event_named(name),
        None => summary,
    }
}

fn plan_lines(plan: &Plan) -> Vec<String> {
    plan.changes.iter().map(ToString::to_string).collect()
}

/// Handles one invocation without a deadline (tests, the command line).
pub async fn handle_event(payload: &Value, manager: &GuardrailManager) -> Result<Summary, Failure> {
    handle_event_within(payload, manager, Deadline::none()).await
}

/// Handles one invocation within Lambda's deadline: re-applies are started only with time to
/// finish and are cut at the deadline for work, and a stack's request is answered FAILED before
/// the deadline rather than left for CloudFormation to wait an hour on.
pub async fn handle_event_within(
    payload: &Value,
    manager: &GuardrailManager,
    deadline: Deadline,
) -> Result<Summary, Failure> {
    if crate::custom_resource::is_request(payload) {
        return stack::custom_resource(payload, manager, deadline).await;
    }
    if payload.get("detail-type").and_then(Value::as_str) == Some(SCHEDULED_EVENT) {
        return drift::drift_check(payload, manager, deadline).await;
    }
    match parse_event(payload) {
        Ok(IncomingEvent::ApiCall(call)) => policy_call::organizations_call(&call, manager, deadline).await,
        Ok(IncomingEvent::RdsNative(_)) => Ok(ignored("RDS event notifications are not for guardrail-manager", None)),
        Ok(IncomingEvent::Unsupported { detail_type, source }) => {
            Ok(ignored(format!("unsupported event {detail_type:?} from {source}"), None))
        }
        Err(e) => {
            error!(error = %e, "event could not be read");
            Err(unusable(e))
        }
    }
}

/// One alert for what an event showed (tampering, drift, a moved account), and the summary.
async fn alert(
    manager: &GuardrailManager,
    finding: Finding,
    action: ActionOutcome,
    context: &EventContext,
    plan: Vec<String>,
    event_name: Option<&str>,
) -> Result<Summary, Failure> {
    info!(
        event_name = %context.event_name, actor = %context.actor, resource = %finding.resource,
        severity = finding.severity.as_str(), status = action.status.as_str(), detail = %action.detail, "guardrail tampering"
    );
    // guardrail-manager calls Organizations with its own role in the management (or delegated
    // administrator) account; it assumes no member role.
    let delivery = manager.alerting.delivery(FUNCTION_NAME);
    let outcome = Outcome { finding: &finding, action, suppressed: None };
    let findings = deliver(vec![outcome], context, delivery).await.map_err(|(_, failure)| failure)?;
    // With the ledger, a finding whose state did not change is not alerted again: say so.
    let quiet = findings.iter().all(|f| f.alert_message_id.is_none() && f.alert_note.is_some());
    let reached = if quiet { InvocationOutcome::Logged } else { InvocationOutcome::Alerted };
    Ok(summary(reached, None, event_name.map(str::to_owned), plan).with_findings(findings))
}
