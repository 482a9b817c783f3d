//! The scheduled drift check: alert when the organisation no longer matches the plan, and
//! re-apply (RDSGUARD.GUARDRAIL=remediate).

use rdsguard::event::EventError;
use rdsguard::finding::{EventContext, Finding};
use rdsguard::guardrails::{PlanError, ReconcileError};
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::kernel::{Deadline, InvocationOutcome};
use rdsguard::report::deliver_judged;
use rdsguard::rules::{RuleId, Severity};
use serde_json::{json, Value};
use tracing::info;

use super::policy_call::name_taken;
use super::reapply::respond;
use super::{alert, not_reconciled, plan_lines, planned, summary, unusable, Failure, GuardrailManager, Summary};

/// The scheduled check: alert when the organisation no longer matches, and re-apply.
pub(super) async fn drift_check(
    payload: &Value,
    manager: &GuardrailManager,
    deadline: Deadline,
) -> Result<Summary, Failure> {
    let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_owned);
    let context = EventContext {
        event_id: text("id").unwrap_or_else(|| "scheduled-drift-check".to_owned()),
        event_name: "ScheduledDriftCheck".to_owned(),
        event_time: text("time"),
        actor: "unknown (changed outside guardrail-manager; found by the scheduled drift check)".to_owned(),
    };
    let planned = planned(manager, deadline).await?;
    let account = text("account").map(|a| AccountId::parse(&a)).transpose().map_err(unusable)?;
    let region = text("region").map(|r| AwsRegion::parse(&r)).transpose().map_err(unusable)?;
    let (plan, state) = match (planned, account.as_ref(), region.as_ref()) {
        (Ok(planned), ..) => planned,
        (Err(ReconcileError::Plan(PlanError::NameTaken(name))), Some(account), Some(region)) => {
            return name_taken(manager, &name, None, account, region, &context, None).await;
        }
        (Err(e), ..) => return Err(not_reconciled(e)),
    };
    if plan.is_empty() {
        info!("guardrails in sync");
        let mut in_sync = summary(InvocationOutcome::InSync, None, None, vec![]);
        if let (Some(account), Some(region), Some(_)) = (&account, &region, manager.alerting.ledger()) {
            // A drift the ledger holds open (left in place, MODE=alert) that someone set right.
            let cleared = drift_finding(manager, account, region, Value::Null);
            let delivery = manager.alerting.delivery(super::FUNCTION_NAME);
            let findings = deliver_judged(Vec::new(), &[cleared], &context, delivery).await.map_err(|(_, f)| f)?;
            in_sync = in_sync.with_findings(findings);
        }
        return Ok(in_sync);
    }
    let (Some(account), Some(region)) = (account, region) else {
        return Err(unusable(EventError::MissingField("account/region")));
    };
    let finding = drift_finding(manager, &account, &region, json!({"Drift": plan_lines(&plan)}));
    let action = respond(manager, &plan, &state, None, deadline).await;
    alert(manager, finding, action, &context, plan_lines(&plan), Some("ScheduledDriftCheck")).await
}

/// The drift finding: one per organisation (the managed policies' name prefix), in the account and
/// region the schedule runs in.
fn drift_finding(manager: &GuardrailManager, account: &AccountId, region: &AwsRegion, observed: Value) -> Finding {
    let prefix = manager.settings.policy_name_prefix.clone();
    let mut finding = Finding::for_resource(
        RuleId::GuardrailTampered,
        account,
        region,
        "AWS::Organizations::Policy",
        prefix.clone(),
        prefix,
        observed,
    );
    finding.severity = Severity::High;
    finding.short_title = "guardrail SCPs drifted";
    finding
}
