//! An Organizations call on the managed policies (or disabling SCPs on a root), from CloudTrail:
//! a CRITICAL alert, the managed tag put back and the guardrails re-applied when
//! RDSGUARD.GUARDRAIL=remediate; membership calls go to [`super::account_move`].

use rdsguard::event::CloudTrailCall;
use rdsguard::finding::{EventContext, Finding};
use rdsguard::guardrails::{observe, PlanError, ReconcileError, MANAGED_TAG_KEY};
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::kernel::Deadline;
use rdsguard::ledger::{once_per_event, Once};
use rdsguard::policy::RuleAction;
use rdsguard::remediate::{ActionKind, ActionOutcome, ActionStatus};
use rdsguard::rules::{RuleId, Severity};
use serde_json::{json, Value};
use tracing::{error, info, warn};

use super::account_move::membership_call;
use super::reapply::respond;
use super::{
    alert, ignored, not_reconciled, plan_lines, planned, unusable, Failure, GuardrailManager, Summary, FUNCTION_NAME,
};
use crate::membership::MEMBERSHIP_CALLS;
use crate::tamper::{aim, made_by_self, policy_id_of, short_title, HANDLED_CALLS, ORGANIZATIONS_SOURCE, TAG_CALLS};

/// An Organizations call on the managed policies (or disabling SCPs on a root).
pub(super) async fn organizations_call(
    call: &CloudTrailCall,
    manager: &GuardrailManager,
    deadline: Deadline,
) -> Result<Summary, Failure> {
    let name = Some(call.event_name.as_str());
    if call.event_source != ORGANIZATIONS_SOURCE || !HANDLED_CALLS.contains(&call.event_name.as_str()) {
        return Ok(ignored(
            format!("{} {} is not a call guardrail-manager handles", call.event_source, call.event_name),
            name,
        ));
    }
    if made_by_self(&call.actor, manager.own_session_arn.as_deref()) {
        return Ok(ignored("guardrail-manager's own change", name));
    }
    if manager.policy.effective_action(RuleId::GuardrailTampered) == RuleAction::Off {
        return Ok(ignored("RULE_ACTIONS turns RDSGUARD.GUARDRAIL off", name));
    }
    let account = call.account_id().map_err(unusable)?;
    let region = call.aws_region().map_err(unusable)?;
    let context = EventContext {
        event_id: call.event_id.clone(),
        event_name: call.event_name.clone(),
        event_time: call.event_time.clone(),
        actor: call.actor.clone(),
    };
    // With the ledger on, a repeated delivery (one after the other or two at once) is handled
    // once: no second re-apply, no second alert.
    let handled = once_per_event(manager.alerting.ledger(), FUNCTION_NAME, &context, deadline, || async {
        if MEMBERSHIP_CALLS.contains(&call.event_name.as_str()) {
            return membership_call(call, manager, &account, &region, &context).await;
        }
        policy_call(call, manager, &account, &region, &context, deadline).await
    });
    match handled.await? {
        Once::Handled(summary) => Ok(summary),
        Once::Repeated(reason) => {
            info!(%reason, event_id = %context.event_id, "repeated delivery ignored");
            Ok(ignored(reason, name))
        }
    }
}

/// A call on the managed policies (or disabling SCPs on a root), handled: alerted, and re-applied
/// when RDSGUARD.GUARDRAIL=remediate.
async fn policy_call(
    call: &CloudTrailCall,
    manager: &GuardrailManager,
    account: &AccountId,
    region: &AwsRegion,
    context: &EventContext,
    deadline: Deadline,
) -> Result<Summary, Failure> {
    let name = Some(call.event_name.as_str());
    let (account, region) = (account.clone(), region.clone());
    let retagged = retag(call, manager).await?;
    let (plan, state) = match planned(manager, deadline).await? {
        Ok(planned) => planned,
        Err(ReconcileError::Plan(PlanError::NameTaken(name))) => {
            return name_taken(manager, &name, policy_id_of(call), &account, &region, context, retagged).await;
        }
        Err(e) => return Err(not_reconciled(e)),
    };
    let target = match aim(call, &manager.settings, &state, !plan.is_empty() || retagged.is_some()) {
        Ok(target) => target,
        Err(reason) => return Ok(ignored(reason, name)),
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
        let action = respond(manager, &plan, &state, root, deadline).await;
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
    alert(manager, finding, action, context, plan_lines(&plan), name).await
}

/// A successful TagResource/UntagResource that left one of our policies (prefixed name) without
/// the managed tag: with RDSGUARD.GUARDRAIL=remediate the tag is put back first, so the plan can
/// take the policy back. `None` when there was nothing to put back (or re-apply is off).
pub(super) async fn retag(
    call: &CloudTrailCall,
    manager: &GuardrailManager,
) -> Result<Option<Result<String, String>>, Failure> {
    let tagging = TAG_CALLS.contains(&call.event_name.as_str()) && call.error_code.is_none();
    let Some(policy_id) = policy_id_of(call).filter(|_| tagging) else {
        return Ok(None);
    };
    if manager.policy.effective_action(RuleId::GuardrailTampered) != RuleAction::Remediate {
        return Ok(None);
    }
    let organization = manager.organization.as_ref();
    let state =
        observe(organization, &manager.settings).await.map_err(|e| not_reconciled(ReconcileError::Observe(e)))?;
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
pub(super) async fn name_taken(
    manager: &GuardrailManager,
    name: &str,
    policy_id: Option<&str>,
    account: &AccountId,
    region: &AwsRegion,
    context: &EventContext,
    retagged: Option<Result<String, String>>,
) -> Result<Summary, Failure> {
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
