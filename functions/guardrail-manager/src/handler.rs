//! The guardrail-manager handler. Three triggers:
//! 1. the CloudFormation custom resource (Create/Update apply the guardrails, Delete removes them);
//! 2. CloudTrail Organizations calls on the managed policies (tampering: CRITICAL alert, and the
//!    guardrails are re-applied when RDSGUARD.GUARDRAIL=remediate);
//! 3. a schedule (drift check: alert and re-apply when the organisation no longer matches).

use std::sync::Arc;

use rdsguard::aws::{AlertPublisher, Organization, OrganizationTree, UndeliveredAlertSink};
use rdsguard::event::{parse_event, CloudTrailCall, EventError, IncomingEvent};
use rdsguard::finding::{EventContext, Finding};
use rdsguard::guardrails::{
    apply, observe, plan_for, reconcile, GuardrailSettings, OrgState, Plan, PlanError, ReconcileError, MANAGED_TAG_KEY,
};
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::policy::{Policy, RuleAction};
use rdsguard::remediate::{ActionKind, ActionOutcome, ActionStatus};
use rdsguard::report::{deliver, AlertDelivery, FindingSummary, Outcome, PublishFailure};
use rdsguard::rules::{RuleId, Severity};
use serde::Serialize;
use serde_json::{json, Value};
use tracing::{error, info, warn};

use crate::custom_resource::{response_body, CustomResourceRequest, RequestType, ResponseError, ResponseSender};
use crate::membership::{judge, Membership, MembershipError, MEMBERSHIP_CALLS};
use crate::tamper::{aim, made_by_self, policy_id_of, short_title, HANDLED_CALLS, ORGANIZATIONS_SOURCE, TAG_CALLS};

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
    pub alerts: Arc<dyn AlertPublisher>,
    pub undelivered: Option<Arc<dyn UndeliveredAlertSink>>,
    pub responses: Arc<dyn ResponseSender>,
    /// The function's own session ARN (`...:assumed-role/<execution role>/<session>`, from STS
    /// GetCallerIdentity at start): calls made by exactly this actor are the function's own.
    pub own_session_arn: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GuardrailManagerError {
    #[error("guardrail-manager handles this event but cannot act on it safely: {0}")]
    Event(#[from] EventError),
    #[error(transparent)]
    Publish(#[from] PublishFailure),
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    #[error(transparent)]
    Membership(#[from] MembershipError),
    #[error(transparent)]
    Response(#[from] ResponseError),
    #[error("{0}")]
    CustomResource(String),
}

impl GuardrailManagerError {
    /// Short error type reported to Lambda (`errorType`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Event(_) => "UnusableEvent",
            Self::Publish(_) => "AlertPublishFailed",
            Self::Reconcile(_) => "ReconcileFailed",
            Self::Membership(MembershipError::Event(_)) => "UnusableEvent",
            Self::Membership(MembershipError::Tree(_)) => "OrganizationReadFailed",
            Self::Response(_) => "CustomResourceResponseFailed",
            Self::CustomResource(_) => "UnusableRequestOrConfiguration",
        }
    }
}

/// What the invocation did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// `applied`, `removed`, `failed` (custom resource), `in_sync`, `alerted` or `ignored`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    /// The plan's lines, where one was made.
    pub plan: Vec<String>,
    pub findings: Vec<FindingSummary>,
}

impl Summary {
    fn ignored(reason: impl Into<String>, event_name: Option<&str>) -> Self {
        let reason = reason.into();
        info!(%reason, "event ignored");
        Self {
            outcome: "ignored",
            reason: Some(reason),
            event_name: event_name.map(str::to_owned),
            plan: vec![],
            findings: vec![],
        }
    }
}

fn plan_lines(plan: &Plan) -> Vec<String> {
    plan.changes.iter().map(ToString::to_string).collect()
}

/// Handles one invocation.
pub async fn handle_event(payload: &Value, manager: &GuardrailManager) -> Result<Summary, GuardrailManagerError> {
    if crate::custom_resource::is_request(payload) {
        return custom_resource(payload, manager).await;
    }
    if payload.get("detail-type").and_then(Value::as_str) == Some(SCHEDULED_EVENT) {
        return drift_check(payload, manager).await;
    }
    match parse_event(payload) {
        Ok(IncomingEvent::ApiCall(call)) => organizations_call(&call, manager).await,
        Ok(IncomingEvent::RdsNative(_)) => {
            Ok(Summary::ignored("RDS event notifications are not for guardrail-manager", None))
        }
        Ok(IncomingEvent::Unsupported { detail_type, source }) => {
            Ok(Summary::ignored(format!("unsupported event {detail_type:?} from {source}"), None))
        }
        Err(e) => {
            error!(error = %e, "event could not be read");
            Err(e.into())
        }
    }
}

/// Create/Update apply the configured guardrails; Delete removes every policy managed under the
/// prefix the resource was created with (its physical id). Always answers CloudFormation.
async fn custom_resource(payload: &Value, manager: &GuardrailManager) -> Result<Summary, GuardrailManagerError> {
    let current_prefix = manager.settings.policy_name_prefix.clone();
    let request = match CustomResourceRequest::parse(payload) {
        Ok(request) => request,
        Err(e) => {
            error!(error = %e, "custom resource request is unusable");
            let Some(url) = payload.get("ResponseURL").and_then(Value::as_str) else {
                return Err(GuardrailManagerError::CustomResource(format!(
                    "custom resource request is unusable and names no ResponseURL to answer: {e}"
                )));
            };
            let physical = payload.get("PhysicalResourceId").and_then(Value::as_str).unwrap_or(&current_prefix);
            manager.responses.put(url, response_body(payload, physical, Err(e.to_string()))).await?;
            return Ok(Summary {
                outcome: "failed",
                reason: Some(e.to_string()),
                event_name: None,
                plan: vec![],
                findings: vec![],
            });
        }
    };
    info!(request_type = ?request.request_type, stack = %request.stack_id, settings = %manager.settings.describe(), "custom resource request");
    let (physical_id, (outcome, plan, answer)) = match request.request_type {
        RequestType::Create | RequestType::Update => {
            let result = match reconcile(manager.organization.as_ref(), &manager.settings).await {
                Ok(done) => {
                    let ids: Vec<&str> = done.policies.values().map(String::as_str).collect();
                    (
                        "applied",
                        plan_lines(&done.plan),
                        Ok(json!({"PolicyIds": ids.join(","), "Changes": done.plan.changes.len()})),
                    )
                }
                Err(e) => {
                    error!(error = %e, "guardrails could not be reconciled");
                    ("failed", vec![], Err(e.to_string()))
                }
            };
            (current_prefix, result)
        }
        RequestType::Delete => {
            let prefix = request.physical_resource_id.clone().unwrap_or(current_prefix);
            let result = remove_under(&prefix, manager.organization.as_ref()).await;
            (prefix, result)
        }
    };
    let reason = answer.as_ref().err().cloned();
    manager.responses.put(&request.response_url, response_body(payload, &physical_id, answer)).await?;
    Ok(Summary { outcome, reason, event_name: Some(format!("{:?}", request.request_type)), plan, findings: vec![] })
}

/// The scheduled check: alert when the organisation no longer matches, and re-apply.
async fn drift_check(payload: &Value, manager: &GuardrailManager) -> Result<Summary, GuardrailManagerError> {
    let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_owned);
    let context = EventContext {
        event_id: text("id").unwrap_or_else(|| "scheduled-drift-check".to_owned()),
        event_name: "ScheduledDriftCheck".to_owned(),
        event_time: text("time"),
        actor: "unknown (changed outside guardrail-manager; found by the scheduled drift check)".to_owned(),
    };
    let planned = plan_for(manager.organization.as_ref(), &manager.settings).await;
    let account = text("account").map(|a| AccountId::parse(&a)).transpose().map_err(EventError::from)?;
    let region = text("region").map(|r| AwsRegion::parse(&r)).transpose().map_err(EventError::from)?;
    let (plan, state) = match (planned, account.as_ref(), region.as_ref()) {
        (Ok(planned), ..) => planned,
        (Err(ReconcileError::Plan(PlanError::NameTaken(name))), Some(account), Some(region)) => {
            return name_taken(manager, &name, None, account, region, &context, None).await;
        }
        (Err(e), ..) => return Err(e.into()),
    };
    if plan.is_empty() {
        info!("guardrails in sync");
        return Ok(Summary { outcome: "in_sync", reason: None, event_name: None, plan: vec![], findings: vec![] });
    }
    let (Some(account), Some(region)) = (account, region) else {
        return Err(EventError::MissingField("account/region").into());
    };
    let mut finding = Finding::for_resource(
        RuleId::GuardrailTampered,
        &account,
        &region,
        "AWS::Organizations::Policy",
        manager.settings.policy_name_prefix.clone(),
        manager.settings.policy_name_prefix.clone(),
        json!({"Drift": plan_lines(&plan)}),
    );
    finding.severity = Severity::High;
    finding.short_title = "guardrail SCPs drifted";
    let action = respond(manager, &plan, &state, None).await;
    alert(manager, finding, action, &context, plan_lines(&plan), Some("ScheduledDriftCheck")).await
}

/// An Organizations call on the managed policies (or disabling SCPs on a root).
async fn organizations_call(
    call: &CloudTrailCall,
    manager: &GuardrailManager,
) -> Result<Summary, GuardrailManagerError> {
    let name = Some(call.event_name.as_str());
    if call.event_source != ORGANIZATIONS_SOURCE || !HANDLED_CALLS.contains(&call.event_name.as_str()) {
        return Ok(Summary::ignored(
            format!("{} {} is not a call guardrail-manager handles", call.event_source, call.event_name),
            name,
        ));
    }
    if made_by_self(&call.actor, manager.own_session_arn.as_deref()) {
        return Ok(Summary::ignored("guardrail-manager's own change", name));
    }
    if manager.policy.effective_action(RuleId::GuardrailTampered) == RuleAction::Off {
        return Ok(Summary::ignored("RULE_ACTIONS turns RDSGUARD.GUARDRAIL off", name));
    }
    let account = call.account_id()?;
    let region = call.aws_region()?;
    let context = EventContext {
        event_id: call.event_id.clone(),
        event_name: call.event_name.clone(),
        event_time: call.event_time.clone(),
        actor: call.actor.clone(),
    };
    if MEMBERSHIP_CALLS.contains(&call.event_name.as_str()) {
        return membership_call(call, manager, &account, &region, &context).await;
    }
    let retagged = retag(call, manager).await?;
    let (plan, state) = match plan_for(manager.organization.as_ref(), &manager.settings).await {
        Ok(planned) => planned,
        Err(ReconcileError::Plan(PlanError::NameTaken(name))) => {
            return name_taken(manager, &name, policy_id_of(call), &account, &region, &context, retagged).await;
        }
        Err(e) => return Err(e.into()),
    };
    let target = match aim(call, &manager.settings, &state, !plan.is_empty() || retagged.is_some()) {
        Ok(target) => target,
        Err(reason) => return Ok(Summary::ignored(reason, name)),
    };
    let arn = call
        .response_element("policy")
        .and_then(|p| p.get("policySummary"))
        .and_then(|s| s.get("arn"))
        .and_then(Value::as_str)
        .unwrap_or(&target.resource_id)
        .to_owned();
    let observed = json!({
        "ResourceId": target.resource_id,
        "PolicyName": target.policy_name,
        "RequestParameters": call.request,
        "SourceIPAddress": call.source_ip_address,
        "UserAgent": call.user_agent,
        "ErrorCode": call.error_code,
        "Drift": plan_lines(&plan),
    });
    let mut finding = Finding::for_resource(
        RuleId::GuardrailTampered,
        &account,
        &region,
        target.resource_type,
        target.resource_id.clone(),
        arn,
        observed,
    );
    finding.short_title = short_title(&call.event_name, call.error_code.is_some());
    let action = if let Some(code) = &call.error_code {
        finding.severity = Severity::High;
        ActionOutcome::new(
            ActionKind::None,
            ActionStatus::NotAttempted,
            format!("the call failed ({code}): nothing changed, nothing to re-apply; someone tried"),
        )
    } else {
        // Only a root the record names is re-enabled: never a placeholder.
        let root = (call.event_name == "DisablePolicyType").then(|| call.string_param("rootId")).flatten();
        let action = respond(manager, &plan, &state, root).await;
        match retagged {
            Some(Ok(done)) if action.status == ActionStatus::Skipped => {
                ActionOutcome::new(ActionKind::ReapplyGuardrails, ActionStatus::Succeeded, done)
            }
            Some(Ok(done)) => {
                ActionOutcome::new(ActionKind::ReapplyGuardrails, action.status, format!("{done}; {}", action.detail))
            }
            _ => action,
        }
    };
    alert(manager, finding, action, &context, plan_lines(&plan), name).await
}

/// MoveAccount / RemoveAccountFromOrganization: a HIGH alert when the account no longer inherits
/// the guardrails of some target. Never undone (see [`crate::membership`]).
async fn membership_call(
    call: &CloudTrailCall,
    manager: &GuardrailManager,
    account: &AccountId,
    region: &AwsRegion,
    context: &EventContext,
) -> Result<Summary, GuardrailManagerError> {
    let name = Some(call.event_name.as_str());
    if let Some(code) = &call.error_code {
        return Ok(Summary::ignored(format!("{} failed ({code}): no account moved", call.event_name), name));
    }
    let judged = judge(call, &manager.settings.targets, manager.tree.as_ref()).await;
    let (account_id, lost, possibly_lost, mut observed) = match judged {
        Ok(Membership::Escaped { account_id, lost, possibly_lost, observed }) => {
            (account_id, lost, possibly_lost, observed)
        }
        Ok(Membership::Unaffected(reason)) => return Ok(Summary::ignored(reason, name)),
        Err(e) => {
            error!(error = %e, event_name = %call.event_name, "membership change could not be judged");
            return Err(e.into());
        }
    };
    observed["GuardrailTargetsLost"] = json!(lost);
    if !possibly_lost.is_empty() {
        observed["GuardrailTargetsPossiblyLost"] = json!(possibly_lost);
    }
    observed["SourceIPAddress"] = json!(call.source_ip_address);
    observed["UserAgent"] = json!(call.user_agent);
    // CloudTrail's MoveAccount record does not carry the organisation id an account ARN needs.
    let mut finding = Finding::for_resource(
        RuleId::GuardrailTampered,
        account,
        region,
        "AWS::Organizations::Account",
        account_id.clone(),
        account_id.clone(),
        observed,
    );
    finding.severity = Severity::High;
    finding.short_title = short_title(&call.event_name, false);
    let action = ActionOutcome::new(
        ActionKind::None,
        ActionStatus::NotAttempted,
        format!(
            "account {account_id} no longer inherits the guardrails attached to {}; rdsguard does not move accounts \
             (that changes every policy the account inherits): move it back, or add its new parent to GUARDRAIL_TARGETS",
            [lost.join(", "), possibly_lost.iter().map(|t| format!("{t} (if it was under it)")).collect::<Vec<_>>().join(", ")]
                .into_iter()
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    alert(manager, finding, action, context, vec![], name).await
}

/// A successful TagResource/UntagResource that left one of our policies (prefixed name) without
/// the managed tag: with RDSGUARD.GUARDRAIL=remediate the tag is put back first, so the plan can
/// take the policy back. `None` when there was nothing to put back (or re-apply is off).
async fn retag(
    call: &CloudTrailCall,
    manager: &GuardrailManager,
) -> Result<Option<Result<String, String>>, GuardrailManagerError> {
    let tagging = TAG_CALLS.contains(&call.event_name.as_str()) && call.error_code.is_none();
    let Some(policy_id) = policy_id_of(call).filter(|_| tagging) else {
        return Ok(None);
    };
    if manager.policy.effective_action(RuleId::GuardrailTampered) != RuleAction::Remediate {
        return Ok(None);
    }
    let organization = manager.organization.as_ref();
    let state = observe(organization, &manager.settings).await.map_err(ReconcileError::Observe)?;
    let Some(name) = state.unmanaged_with_prefix_ids.get(policy_id) else {
        return Ok(None);
    };
    let prefix = &manager.settings.policy_name_prefix;
    let tag = [(MANAGED_TAG_KEY.to_owned(), prefix.clone())];
    Ok(Some(match organization.tag_scp(policy_id, &tag).await {
        Ok(()) => {
            warn!(policy_id, %name, "managed tag put back");
            Ok(format!("re-tagged {name} ({policy_id}) {MANAGED_TAG_KEY}={prefix}"))
        }
        Err(e) => {
            error!(error = %e, policy_id, "managed tag could not be put back");
            Err(format!("{name} ({policy_id}) could not be re-tagged {MANAGED_TAG_KEY}={prefix}: {e}"))
        }
    }))
}

/// A policy carries one of the managed names but not the managed tag: most likely someone removed
/// the tag from one of ours (UntagResource, or TagResource changing its value). rdsguard never
/// takes over a policy it does not manage, so until someone re-tags or renames it nothing can be
/// planned: a CRITICAL alert instead of a failed invocation.
async fn name_taken(
    manager: &GuardrailManager,
    name: &str,
    policy_id: Option<&str>,
    account: &AccountId,
    region: &AwsRegion,
    context: &EventContext,
    retagged: Option<Result<String, String>>,
) -> Result<Summary, GuardrailManagerError> {
    let prefix = &manager.settings.policy_name_prefix;
    let resource_id = policy_id.unwrap_or(name).to_owned();
    let mut finding = Finding::for_resource(
        RuleId::GuardrailTampered,
        account,
        region,
        "AWS::Organizations::Policy",
        resource_id.clone(),
        resource_id,
        json!({"PolicyName": name, "MissingTag": format!("{MANAGED_TAG_KEY}={prefix}")}),
    );
    finding.short_title = "guardrail SCP tag removed";
    let (status, detail) = match retagged {
        Some(Err(e)) => (ActionStatus::Failed, e),
        _ => (
            ActionStatus::NotAttempted,
            format!(
                "{name} is not tagged {MANAGED_TAG_KEY}={prefix}: rdsguard never takes over a policy it does not \
                 manage, so no guardrail can be applied until it is re-tagged (if it is rdsguard's) or renamed"
            ),
        ),
    };
    let action = ActionOutcome::new(ActionKind::ReapplyGuardrails, status, detail);
    let reason = format!("a policy named {name} is not tagged as managed");
    let event_name = Some(context.event_name.clone());
    let mut summary = alert(manager, finding, action, context, vec![], event_name.as_deref()).await?;
    summary.reason = Some(reason);
    Ok(summary)
}

/// Re-applies the guardrails when RDSGUARD.GUARDRAIL=remediate (re-enabling SCPs on the root first
/// when they were disabled there); otherwise says what would be re-applied.
async fn respond(
    manager: &GuardrailManager,
    plan: &Plan,
    state: &OrgState,
    enable_root: Option<&str>,
) -> ActionOutcome {
    let kind = ActionKind::ReapplyGuardrails;
    let lines = plan_lines(plan).join("; ");
    if manager.policy.effective_action(RuleId::GuardrailTampered) != RuleAction::Remediate {
        return ActionOutcome::new(
            kind,
            ActionStatus::NotAttempted,
            format!("MODE=alert or RULE_ACTIONS RDSGUARD.GUARDRAIL=alert: not re-applied; needed: {lines}"),
        );
    }
    let organization = manager.organization.as_ref();
    if let Some(root) = enable_root {
        if let Err(e) = organization.enable_scps(root).await {
            error!(error = %e, root, "SCPs could not be re-enabled");
            return ActionOutcome::new(
                kind,
                ActionStatus::Failed,
                format!("SCPs could not be re-enabled on {root}: {e}"),
            );
        }
    }
    if plan.is_empty() && enable_root.is_none() {
        return ActionOutcome::new(
            kind,
            ActionStatus::Skipped,
            "nothing to re-apply: the organisation already matches",
        );
    }
    // After re-enabling SCPs, read the organisation again: AWS detached every SCP when they were
    // disabled.
    let fresh;
    let (plan, state) = if enable_root.is_some() {
        match plan_for(organization, &manager.settings).await {
            Ok(result) => {
                fresh = result;
                (&fresh.0, &fresh.1)
            }
            Err(e) => return ActionOutcome::new(kind, ActionStatus::Failed, e.to_string()),
        }
    } else {
        (plan, state)
    };
    match apply(organization, &manager.settings, plan, state).await {
        Ok(_) => {
            let done = if plan.is_empty() { "SCPs re-enabled".to_owned() } else { plan_lines(plan).join("; ") };
            warn!(changes = plan.changes.len(), "guardrails re-applied");
            ActionOutcome::new(kind, ActionStatus::Succeeded, format!("re-applied: {done}"))
        }
        Err(e) => {
            error!(error = %e, "guardrails could not be re-applied");
            ActionOutcome::new(kind, ActionStatus::Failed, e.to_string())
        }
    }
}

async fn alert(
    manager: &GuardrailManager,
    finding: Finding,
    action: ActionOutcome,
    context: &EventContext,
    plan: Vec<String>,
    event_name: Option<&str>,
) -> Result<Summary, GuardrailManagerError> {
    info!(
        event_name = %context.event_name, actor = %context.actor, resource = %finding.resource,
        severity = finding.severity.as_str(), status = action.status.as_str(), detail = %action.detail, "guardrail tampering"
    );
    let delivery = AlertDelivery {
        publisher: manager.alerts.as_ref(),
        undelivered: manager.undelivered.as_deref(),
        source: FUNCTION_NAME,
        // guardrail-manager calls Organizations with its own role in the management (or delegated
        // administrator) account; it assumes no member role.
        acted_as: None,
    };
    let outcome = Outcome { finding: &finding, action, suppressed: None };
    let findings = deliver(vec![outcome], context, delivery).await.map_err(|(_, failure)| failure)?;
    Ok(Summary { outcome: "alerted", reason: None, event_name: event_name.map(str::to_owned), plan, findings })
}

/// The physical id a custom resource gets when it is answered FAILED because the configuration is
/// invalid: nothing was created under it, so its Delete (the rollback) has nothing to remove.
pub const UNCONFIGURED_PHYSICAL_ID: &str = "rdsguard-guardrails-unconfigured";

/// The invocation when the configuration (the shared policy or the guardrail settings) is
/// invalid. A custom resource request is still answered so the stack never waits an hour for a
/// function that cannot start: Create/Update FAILED, naming the setting; Delete removes the
/// policies managed under the prefix its physical id names (nothing when it is
/// [`UNCONFIGURED_PHYSICAL_ID`]) and answers SUCCESS, so a rollback or a stack deletion completes.
/// Anything else fails with the reason.
pub async fn handle_unconfigured(
    payload: &Value,
    problem: &str,
    responses: &dyn ResponseSender,
    organization: &dyn Organization,
) -> Result<Summary, GuardrailManagerError> {
    let reason = format!("guardrail-manager configuration is invalid: {problem}");
    error!(%reason, "invocation refused");
    let Some(url) =
        payload.get("ResponseURL").and_then(Value::as_str).filter(|_| crate::custom_resource::is_request(payload))
    else {
        return Err(GuardrailManagerError::CustomResource(reason));
    };
    let physical = payload.get("PhysicalResourceId").and_then(Value::as_str).unwrap_or(UNCONFIGURED_PHYSICAL_ID);
    if payload.get("RequestType").and_then(Value::as_str) == Some("Delete") {
        let (outcome, plan, answer) = remove_under(physical, organization).await;
        let reason = answer.as_ref().err().cloned();
        responses.put(url, response_body(payload, physical, answer)).await?;
        return Ok(Summary { outcome, reason, event_name: Some("Delete".to_owned()), plan, findings: vec![] });
    }
    responses.put(url, response_body(payload, physical, Err(reason.clone()))).await?;
    Ok(Summary { outcome: "failed", reason: Some(reason), event_name: None, plan: vec![], findings: vec![] })
}

/// A Delete: removes every policy managed under the prefix the physical id names, using nothing
/// else (no target, no guardrail setting), so it works whatever the configuration now says.
async fn remove_under(
    physical_id: &str,
    organization: &dyn Organization,
) -> (&'static str, Vec<String>, Result<Value, String>) {
    if physical_id == UNCONFIGURED_PHYSICAL_ID {
        info!("Delete of a guardrail resource that was never created: nothing to remove");
        return ("removed", vec![], Ok(json!({"PolicyIds": "", "Changes": 0})));
    }
    let settings = match GuardrailSettings::removal_under(physical_id) {
        Ok(settings) => settings,
        Err(e) => {
            error!(error = %e, physical_id, "physical id is not a policy name prefix");
            return ("failed", vec![], Err(format!("physical id {physical_id:?} is not a policy name prefix: {e}")));
        }
    };
    match reconcile(organization, &settings).await {
        Ok(done) => {
            ("removed", plan_lines(&done.plan), Ok(json!({"PolicyIds": "", "Changes": done.plan.changes.len()})))
        }
        Err(e) => {
            error!(error = %e, "guardrails could not be removed");
            ("failed", vec![], Err(e.to_string()))
        }
    }
}

impl rdsguard::kernel::InvocationFailure for GuardrailManagerError {
    fn kind(&self) -> &'static str {
        GuardrailManagerError::kind(self)
    }
}

impl rdsguard::kernel::InvocationReport for Summary {
    fn findings(&self) -> &[rdsguard::report::FindingSummary] {
        &self.findings
    }
}
