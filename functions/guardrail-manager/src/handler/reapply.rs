//! Putting the guardrails back (RDSGUARD.GUARDRAIL=remediate), for the drift check and for
//! tampering; otherwise saying what would be re-applied.

use rdsguard::guardrails::{apply, plan_for, OrgState, Plan};
use rdsguard::policy::RuleAction;
use rdsguard::remediate::{ActionKind, ActionOutcome, ActionStatus};
use rdsguard::rules::RuleId;
use tracing::{error, warn};

use super::{plan_lines, GuardrailManager};

/// Re-applies the guardrails when RDSGUARD.GUARDRAIL=remediate (re-enabling SCPs on the root first
/// when they were disabled there); otherwise says what would be re-applied.
pub(super) async fn respond(
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
