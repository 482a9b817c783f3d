//! Putting the guardrails back (RDSGUARD.GUARDRAIL=remediate), for the drift check and for
//! tampering; otherwise saying what would be re-applied.
//!
//! A re-apply is started only when the invocation's deadline leaves [`REAPPLY_ALLOWANCE`] (and
//! the publishing reserve), and is cut at the deadline for work: either way the alert is still
//! published, `failed`, saying what was not done (nothing re-tries by itself before the next
//! drift check, so `deferred` would promise too much).

use std::time::Duration;

use rdsguard::guardrails::{apply, plan_for, OrgState, Plan};
use rdsguard::kernel::Deadline;
use rdsguard::policy::RuleAction;
use rdsguard::remediate::{ActionKind, ActionOutcome, ActionStatus};
use rdsguard::rules::RuleId;
use tracing::{error, warn};

use super::{plan_lines, GuardrailManager};

/// The time a re-apply is given: a few Organizations writes, each well under a second.
pub const REAPPLY_ALLOWANCE: Duration = Duration::from_secs(5);

/// Re-applies the guardrails when RDSGUARD.GUARDRAIL=remediate (re-enabling SCPs on the root first
/// when they were disabled there); otherwise says what would be re-applied.
pub(super) async fn respond(
    manager: &GuardrailManager,
    plan: &Plan,
    state: &OrgState,
    enable_root: Option<&str>,
    deadline: Deadline,
) -> ActionOutcome {
    let kind = ActionKind::ReapplyGuardrails;
    let lines = plan_lines(plan).join("; ");
    let remediate = manager.policy.effective_action(RuleId::GuardrailTampered) == RuleAction::Remediate;
    if remediate && !deadline.allows(REAPPLY_ALLOWANCE) {
        let left = deadline.remaining().unwrap_or_default().as_secs_f32();
        warn!(left, "too little time left to re-apply the guardrails");
        return ActionOutcome::new(
            kind,
            ActionStatus::Failed,
            format!(
                "not re-applied: {left:.1} s left before the invocation's deadline, under the {} s a re-apply is \
                 given plus the publishing reserve; needed: {lines}; the next drift check re-applies it",
                REAPPLY_ALLOWANCE.as_secs()
            ),
        );
    }
    match deadline.bound(reapply(manager, plan, state, enable_root)).await {
        Some(action) => action,
        None => {
            error!("the re-apply did not finish before the invocation's deadline");
            ActionOutcome::new(
                kind,
                ActionStatus::Failed,
                format!(
                    "the re-apply did not finish before the invocation's deadline: it may be partly applied \
                     (Organizations was slow to answer); needed: {lines}; the next drift check re-applies what is \
                     missing"
                ),
            )
        }
    }
}

async fn reapply(
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
