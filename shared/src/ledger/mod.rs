//! The findings ledger (README "Findings lifecycle"): one item per finding, keyed by a stable id,
//! so that a finding alerts when it changes and not on every event that sees it.
//!
//! - [`id`]: the stable finding id;
//! - [`item`]: what is kept per finding;
//! - [`transition`]: the lifecycle, as a pure function;
//! - [`store`]: the storage port ([`crate::aws::DynamoDbFindings`] is the adapter);
//! - [`gate`]: reads, judges and writes (conditionally) one invocation's findings;
//! - [`config`]: FINDINGS_TABLE, ALERT_ON_RESOLVE, REALERT_AFTER_DAYS;
//! - [`event_claim`]: each event handled once, however often it is delivered.

pub mod config;
pub mod event_claim;
pub mod gate;
pub mod id;
pub mod item;
pub mod publisher;
pub mod store;
pub mod transition;
pub mod unseen;

use serde::Serialize;

pub use config::{LedgerConfig, LedgerConfigError};
pub use event_claim::{claim_key, once_per_event, ClaimState, EventBusy, EventClaim, EventClaims, Once};
pub use gate::{Gate, Ledger};
pub use id::{finding_id, id_of};
pub use item::{AlertState, FindingStatus, LedgerItem, ResolvedBy};
pub use publisher::LedgeredAlerts;
pub use store::{FindingsStore, StoreError};
pub use transition::{transition, AlertReason, Due, FindingKey, Lifecycle, QuietReason, Seen, Violation};
pub use unseen::{gone, no_longer_found, Unseen};

use crate::action::{ActionKind, ActionOutcome, ActionStatus};
use crate::finding::Finding;

/// Whether a succeeded action of this kind makes the rule hold (so the finding is resolved by
/// rdsguard). Stopping a database contains a finding but does not fix it; a forensic snapshot or a
/// GuardDuty response does not either.
pub fn action_fixes(kind: ActionKind) -> bool {
    matches!(
        kind,
        ActionKind::MakePrivate
            | ActionKind::EnableDeletionProtection
            | ActionKind::SetBackupRetention
            | ActionKind::EnableMinorVersionUpgrade
            | ActionKind::EnforceTls
            | ActionKind::MakeSnapshotPrivate
            | ActionKind::UnshareSnapshot
            | ActionKind::RevokeIngress
            | ActionKind::StartLogging
            | ActionKind::EnableDetector
            | ActionKind::ReapplyGuardrails
    )
}

fn snake(value: impl Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Who `finding` is about.
pub fn key_of(finding: &Finding) -> FindingKey {
    FindingKey {
        finding_id: id_of(finding),
        rule: finding.rule.as_str().to_owned(),
        title: finding.title.to_owned(),
        account: finding.account.to_string(),
        region: finding.region.to_string(),
        resource: finding.resource.clone(),
        resource_type: finding.resource_type.to_owned(),
        resource_id: finding.resource_id.clone(),
        component: finding.component_arn.clone(),
    }
}

/// What an invocation handling event `event_id` saw: `finding`, and `action` taken on it.
pub fn violation_of(finding: &Finding, action: &ActionOutcome, event_id: &str) -> Seen {
    Seen::Violation(Violation {
        severity: finding.severity.as_str().to_owned(),
        evidence: finding.observed.to_string(),
        action_kind: snake(action.kind),
        action_status: action.status.as_str().to_owned(),
        exempt: action.kind == ActionKind::None && action.status == ActionStatus::Skipped,
        fixed: action.status == ActionStatus::Succeeded && action_fixes(action.kind),
        event_id: event_id.to_owned(),
    })
}

/// What an alert says about the finding's life (README "Alert format"): present when the ledger
/// is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertLifecycle {
    pub finding_id: String,
    /// `open`, `resolved` or `exempt`, after this alert's transition.
    pub finding_status: &'static str,
    /// RFC 3339, UTC.
    pub first_seen: String,
    pub occurrences: u64,
    /// Why this alert went out: `new`, `action_changed`, `resolved`... (see [`AlertReason`]).
    pub transition: &'static str,
    /// `rdsguard` or `other`, once resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<&'static str>,
}

impl AlertLifecycle {
    pub fn of(item: &LedgerItem, reason: AlertReason) -> Self {
        Self {
            finding_id: item.finding_id.clone(),
            finding_status: item.status.as_str(),
            first_seen: rfc3339(item.first_seen),
            occurrences: item.occurrences,
            transition: reason.as_str(),
            resolved_by: item.resolved_by.map(ResolvedBy::as_str),
        }
    }
}

/// Epoch seconds as RFC 3339 (`2026-12-02T01:02:03Z`).
pub fn rfc3339(epoch_seconds: i64) -> String {
    use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
    DateTime::from_secs(epoch_seconds).fmt(DateTimeFormat::DateTime).unwrap_or_else(|_| epoch_seconds.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::database::{Database, DatabaseState};
    use crate::identity::{AccountId, AwsRegion};
    use crate::rules::RuleId;

    fn finding() -> Finding {
        let db = Database::instance(DatabaseState { identifier: "db1".into(), ..DatabaseState::default() });
        let account = AccountId::parse("123456789012").unwrap();
        let region = AwsRegion::parse("us-east-1").unwrap();
        Finding::new(RuleId::Rds2PublicAccess, &db, &account, &region, json!({"PubliclyAccessible": true}))
    }

    #[test]
    fn sightings_from_findings_and_actions() {
        let key = key_of(&finding());
        assert_eq!(key.finding_id, finding_id("123456789012", "us-east-1", &key.resource, "RDS.2"));
        assert_eq!(key.resource, "arn:aws:rds:us-east-1:123456789012:db:db1");
        let cases = [
            (ActionKind::MakePrivate, ActionStatus::Succeeded, false, true),
            (ActionKind::MakePrivate, ActionStatus::Deferred, false, false),
            (ActionKind::StopDatabase, ActionStatus::Succeeded, false, false),
            (ActionKind::None, ActionStatus::Skipped, true, false),
            (ActionKind::AlertOnly, ActionStatus::NotAttempted, false, false),
        ];
        for (kind, status, exempt, fixed) in cases {
            let Seen::Violation(v) = violation_of(&finding(), &ActionOutcome::new(kind, status, "x"), "e-1") else {
                panic!("a violation")
            };
            assert_eq!((v.exempt, v.fixed), (exempt, fixed), "{kind:?} {status:?}");
            assert_eq!(v.action_status, status.as_str());
            assert_eq!(v.evidence, r#"{"PubliclyAccessible":true}"#);
        }
        let Seen::Violation(v) =
            violation_of(&finding(), &ActionOutcome::new(ActionKind::MakePrivate, ActionStatus::Failed, "x"), "e-1")
        else {
            panic!()
        };
        assert_eq!((v.action_kind.as_str(), v.severity.as_str()), ("make_private", "CRITICAL"));
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
    }
}
