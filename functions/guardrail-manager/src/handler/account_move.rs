//! MoveAccount / RemoveAccountFromOrganization: a HIGH alert when an account no longer inherits
//! the guardrails of some target (judged in [`crate::membership`]; never undone).

use rdsguard::event::CloudTrailCall;
use rdsguard::finding::{EventContext, Finding};
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::remediate::{ActionKind, ActionOutcome, ActionStatus};
use rdsguard::rules::{RuleId, Severity};
use serde_json::json;
use tracing::error;

use super::{alert, ignored, Failure, GuardrailManager, Summary};
use crate::membership::{judge, Membership};
use crate::tamper::short_title;

/// MoveAccount / RemoveAccountFromOrganization: a HIGH alert when the account no longer inherits
/// the guardrails of some target. Never undone (see [`crate::membership`]).
pub(super) async fn membership_call(
    call: &CloudTrailCall,
    manager: &GuardrailManager,
    account: &AccountId,
    region: &AwsRegion,
    context: &EventContext,
) -> Result<Summary, Failure> {
    let name = Some(call.event_name.as_str());
    if let Some(code) = &call.error_code {
        return Ok(ignored(format!("{} failed ({code}): no account moved", call.event_name), name));
    }
    let judged = judge(call, &manager.settings.targets, manager.tree.as_ref()).await;
    let (account_id, lost, possibly_lost, mut observed) = match judged {
        Ok(Membership::Escaped { account_id, lost, possibly_lost, observed }) => {
            (account_id, lost, possibly_lost, observed)
        }
        Ok(Membership::Unaffected(reason)) => return Ok(ignored(reason, name)),
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
