//! `--format asff`: the findings in the AWS Security Finding Format, as the findings ledger exports
//! them to Security Hub ([`rdsguard::securityhub::asff`]) — a JSON array ready for
//! `aws securityhub batch-import-findings --findings file://...` (at most 100 per call).

use rdsguard::finding::Finding;
use rdsguard::ledger::{id_of, AlertState, FindingStatus, LedgerItem};
use rdsguard::remediate::ActionOutcome;
use serde_json::Value;

/// The ledger item a scan's finding would be: open, seen once, now.
fn item(finding: &Finding, action: &ActionOutcome, now: i64) -> LedgerItem {
    let kind = serde_json::to_value(action.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    LedgerItem {
        finding_id: id_of(finding),
        rule: finding.rule.as_str().to_owned(),
        title: finding.title.to_owned(),
        account: finding.account.to_string(),
        region: finding.region.to_string(),
        resource: finding.resource.clone(),
        resource_type: finding.resource_type.to_owned(),
        resource_id: finding.resource_id.clone(),
        component: finding.component_arn.clone(),
        status: FindingStatus::Open,
        severity: finding.severity.as_str().to_owned(),
        first_seen: now,
        last_seen: now,
        occurrences: 1,
        last_action: kind,
        last_action_status: action.status.as_str().to_owned(),
        evidence: finding.observed.to_string(),
        last_event_id: None,
        last_alerted: None,
        last_alert_reason: None,
        last_alert_message_id: None,
        alert: AlertState::Settled,
        resolved_by: None,
        resolved_at: None,
        expires_at: None,
        version: 0,
    }
}

/// The findings as an ASFF array; a finding that cannot be expressed is left out with the reason.
pub fn asff(findings: &[&(Finding, ActionOutcome)], now: i64) -> (Value, Vec<String>) {
    let mut out = Vec::with_capacity(findings.len());
    let mut problems = Vec::new();
    for (finding, action) in findings {
        match rdsguard::securityhub::asff(&item(finding, action, now)) {
            Ok(value) => out.push(value),
            Err(e) => problems.push(e.to_string()),
        }
    }
    (Value::Array(out), problems)
}
