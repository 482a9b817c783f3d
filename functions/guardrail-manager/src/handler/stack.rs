//! The CloudFormation custom resource: Create/Update apply the configured guardrails, Delete
//! removes what the resource created; always answered, also when the configuration is invalid.

use rdsguard::aws::Organization;
use rdsguard::guardrails::{reconcile, GuardrailSettings};
use rdsguard::kernel::{Deadline, InvocationOutcome};
use serde_json::{json, Value};
use tracing::{error, info};

use super::{plan_lines, summary, Failure, GuardrailFailure, GuardrailManager, GuardrailManagerError, Summary};
use crate::custom_resource::{response_body, CustomResourceRequest, RequestType, ResponseSender};

/// Create/Update apply the configured guardrails; Delete removes every policy managed under the
/// prefix the resource was created with (its physical id). Always answers CloudFormation.
pub(super) async fn custom_resource(
    payload: &Value,
    manager: &GuardrailManager,
    deadline: Deadline,
) -> Result<Summary, Failure> {
    let current_prefix = manager.settings.policy_name_prefix.clone();
    let request = match CustomResourceRequest::parse(payload) {
        Ok(request) => request,
        Err(e) => {
            error!(error = %e, "custom resource request is unusable");
            let Some(url) = payload.get("ResponseURL").and_then(Value::as_str) else {
                return Err(GuardrailFailure::CustomResource(format!(
                    "custom resource request is unusable and names no ResponseURL to answer: {e}"
                ))
                .into());
            };
            let physical = payload.get("PhysicalResourceId").and_then(Value::as_str).unwrap_or(&current_prefix);
            manager.responses.put(url, response_body(payload, physical, Err(e.to_string()))).await?;
            return Ok(summary(InvocationOutcome::Failed, Some(e.to_string()), None, vec![]));
        }
    };
    info!(request_type = ?request.request_type, stack = %request.stack_id, settings = %manager.settings.describe(), "custom resource request");
    let (physical_id, (outcome, plan, answer)) = match request.request_type {
        RequestType::Create | RequestType::Update => {
            let result = match deadline.bound(reconcile(manager.organization.as_ref(), &manager.settings)).await {
                None => {
                    let reason = "the guardrails were not all applied before the function's timeout (Organizations \
                                  was slow to answer): some may be in place; update the stack again to finish";
                    error!(reason, "guardrails not reconciled in time");
                    (InvocationOutcome::Failed, vec![], Err(reason.to_owned()))
                }
                Some(Ok(done)) => {
                    let ids: Vec<&str> = done.policies.values().map(String::as_str).collect();
                    (
                        InvocationOutcome::Applied,
                        plan_lines(&done.plan),
                        Ok(json!({"PolicyIds": ids.join(","), "Changes": done.plan.changes.len()})),
                    )
                }
                Some(Err(e)) => {
                    error!(error = %e, "guardrails could not be reconciled");
                    (InvocationOutcome::Failed, vec![], Err(e.to_string()))
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
    Ok(summary(outcome, reason, Some(format!("{:?}", request.request_type)), plan))
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
        return Err(GuardrailFailure::CustomResource(reason).into());
    };
    let physical = payload.get("PhysicalResourceId").and_then(Value::as_str).unwrap_or(UNCONFIGURED_PHYSICAL_ID);
    if payload.get("RequestType").and_then(Value::as_str) == Some("Delete") {
        let (outcome, plan, answer) = remove_under(physical, organization).await;
        let reason = answer.as_ref().err().cloned();
        responses.put(url, response_body(payload, physical, answer)).await?;
        return Ok(summary(outcome, reason, Some("Delete".to_owned()), plan));
    }
    responses.put(url, response_body(payload, physical, Err(reason.clone()))).await?;
    Ok(summary(InvocationOutcome::Failed, Some(reason), None, vec![]))
}

/// A Delete: removes every policy managed under the prefix the physical id names, using nothing
/// else (no target, no guardrail setting), so it works whatever the configuration now says.
async fn remove_under(
    physical_id: &str,
    organization: &dyn Organization,
) -> (InvocationOutcome, Vec<String>, Result<Value, String>) {
    if physical_id == UNCONFIGURED_PHYSICAL_ID {
        info!("Delete of a guardrail resource that was never created: nothing to remove");
        return (InvocationOutcome::Removed, vec![], Ok(json!({"PolicyIds": "", "Changes": 0})));
    }
    let settings = match GuardrailSettings::removal_under(physical_id) {
        Ok(settings) => settings,
        Err(e) => {
            error!(error = %e, physical_id, "physical id is not a policy name prefix");
            return (
                InvocationOutcome::Failed,
                vec![],
                Err(format!("physical id {physical_id:?} is not a policy name prefix: {e}")),
            );
        }
    };
    match reconcile(organization, &settings).await {
        Ok(done) => (
            InvocationOutcome::Removed,
            plan_lines(&done.plan),
            Ok(json!({"PolicyIds": "", "Changes": done.plan.changes.len()})),
        ),
        Err(e) => {
            error!(error = %e, "guardrails could not be removed");
            (InvocationOutcome::Failed, vec![], Err(e.to_string()))
        }
    }
}
