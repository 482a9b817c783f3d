//! The snapshot check — RDS.1 (restorable by anyone), RDSGUARD.SNAPSHOT_SHARED (shared with an account
//! outside TRUSTED_ACCOUNTS) and RDS.4 (unencrypted). Sharing is undone by removing exactly the
//! offending values from the `restore` attribute, then confirmed by reading the attribute again.

use tracing::info;

use super::{CheckError, CheckOutcome, CheckScope, Checked};
use crate::action::{ActionKind, ActionOutcome, ActionStatus};
use crate::arn::Arn;
use crate::aws::RdsGuardPort;
use crate::db_snapshot::{Snapshot, SnapshotKind, RESTORE_BY_ANYONE};
use crate::finding::Finding;
use crate::policy::RuleAction;
use crate::remediate::{confirm, policy_gate, Read};
use crate::rules::{evaluate_snapshot, untrusted_accounts, RuleId, Verdict};

/// What a snapshot call did: a new snapshot is judged for encryption (RDS.4), a sharing change
/// for who may restore it (RDS.1, RDSGUARD.SNAPSHOT_SHARED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotChange {
    Created,
    SharingChanged,
}

/// Which snapshot rules a call re-judges: encryption is decided at creation, sharing when the
/// `restore` attribute changes; with no event, all of them.
pub fn snapshot_judged_on(rule: RuleId, change: Option<SnapshotChange>) -> bool {
    match change {
        None => true,
        Some(SnapshotChange::Created) => rule == RuleId::Rds4SnapshotUnencrypted,
        Some(SnapshotChange::SharingChanged) => {
            matches!(rule, RuleId::Rds1SnapshotPublic | RuleId::SnapshotSharedOutside)
        }
    }
}

fn operation(kind: SnapshotKind) -> &'static str {
    match kind {
        SnapshotKind::Instance => "ModifyDBSnapshotAttribute",
        SnapshotKind::Cluster => "ModifyDBClusterSnapshotAttribute",
    }
}

/// Checks one manual or shared DB (cluster) snapshot; `change: None` judges every snapshot rule.
pub async fn check_snapshot(
    scope: CheckScope<'_>,
    rds: &dyn RdsGuardPort,
    kind: SnapshotKind,
    identifier: &str,
    change: Option<SnapshotChange>,
) -> Result<CheckOutcome, CheckError> {
    let Some(state) = rds.describe_snapshot(kind, identifier).await.map_err(CheckError::Describe)? else {
        let (region, account) = (scope.region, scope.account);
        let arn = Arn::rds(region.partition(), region.as_str(), account.as_str(), kind.resource_kind(), identifier);
        return Ok(CheckOutcome::Gone {
            resources: vec![arn.to_string()],
            reason: format!(
                "{} {identifier} does not exist in {account}/{region} (deleted, or never created)",
                kind.describe_name()
            ),
        });
    };
    Ok(CheckOutcome::Judged(judge_snapshot(scope, rds, Snapshot { kind, state }, change).await))
}

/// Judges (and, as the policy says, fixes) a snapshot whose state is already read: a sweep's
/// listing, or [`check_snapshot`]'s describe.
pub async fn judge_snapshot(
    scope: CheckScope<'_>,
    rds: &dyn RdsGuardPort,
    snapshot: Snapshot,
    change: Option<SnapshotChange>,
) -> Checked {
    let (kind, identifier) = (snapshot.kind, snapshot.state.identifier.as_str());
    let arn = snapshot.state.arn.clone().unwrap_or_else(|| {
        let (region, account) = (scope.region, scope.account);
        Arn::rds(region.partition(), region.as_str(), account.as_str(), kind.resource_kind(), identifier).to_string()
    });
    info!(snapshot = %arn, ?change, encrypted = ?snapshot.state.encrypted, "checking snapshot");
    let policy = scope.policy;
    let mut checked = Checked::new(arn.clone());
    for (rule, verdict) in evaluate_snapshot(&snapshot, scope.account, &policy.trusted_accounts) {
        if policy.effective_action(rule) == RuleAction::Off || !snapshot_judged_on(rule, change) {
            continue;
        }
        let finding = |observed| {
            let (account, region) = (scope.account, scope.region);
            Finding::for_resource(rule, account, region, kind.aws_type(), identifier, arn.clone(), observed)
        };
        match verdict {
            Verdict::Violation(observed) => {
                let action = act(scope, rule, &snapshot, rds).await;
                checked.findings.push((finding(observed), action));
            }
            Verdict::Unknown(why) => checked.undetermined(rule, identifier, why),
            Verdict::Compliant => checked.compliant.push(finding(serde_json::Value::Null)),
            Verdict::NotApplicable(_) => {}
        }
    }
    checked
}

async fn act(scope: CheckScope<'_>, rule: RuleId, snapshot: &Snapshot, rds: &dyn RdsGuardPort) -> ActionOutcome {
    if let Err(outcome) = policy_gate(rule, &snapshot.state.tags, scope.policy) {
        return outcome;
    }
    let restore = snapshot.state.restore_shared_with.clone().unwrap_or_default();
    let (kind, remove) = match rule {
        RuleId::Rds1SnapshotPublic => (
            ActionKind::MakeSnapshotPrivate,
            restore.iter().filter(|v| v.eq_ignore_ascii_case(RESTORE_BY_ANYONE)).cloned().collect::<Vec<_>>(),
        ),
        RuleId::SnapshotSharedOutside => {
            (ActionKind::UnshareSnapshot, untrusted_accounts(&restore, scope.account, &scope.policy.trusted_accounts))
        }
        _ => {
            return ActionOutcome::new(ActionKind::AlertOnly, ActionStatus::NotAttempted, format!("{rule} has no fix"))
        }
    };
    unshare(scope, kind, snapshot, &remove, rds).await
}

/// What one read of the snapshot takes at most, for deadline checks.
const READ_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(3);

/// Removes `remove` from the `restore` attribute and reads it back until they are gone.
async fn unshare(
    scope: CheckScope<'_>,
    kind: ActionKind,
    snapshot: &Snapshot,
    remove: &[String],
    rds: &dyn RdsGuardPort,
) -> ActionOutcome {
    let id = snapshot.state.identifier.as_str();
    let operation = operation(snapshot.kind);
    if let Err(error) = rds.unshare_snapshot(snapshot.kind, id, remove).await {
        return ActionOutcome::new(kind, ActionStatus::Failed, error.to_string());
    }
    let mut last = String::from("unread");
    let read = async || match rds.describe_snapshot(snapshot.kind, id).await {
        Ok(Some(after)) => {
            let now = after.restore_shared_with.unwrap_or_default();
            if !now.iter().any(|v| remove.iter().any(|r| r.eq_ignore_ascii_case(v))) {
                return Read::Ready(format!(
                    "{operation} removed {} from restore; restore is now [{}] (confirmed by describe)",
                    remove.join(", "),
                    now.join(", ")
                ));
            }
            last = now.join(", ");
            Read::NotYet
        }
        Ok(None) => Read::Failed(format!("{operation} accepted, but {id} no longer exists")),
        Err(error) => Read::Failed(format!("{operation} accepted; confirming failed: {error}")),
    };
    let confirmed = confirm(scope.confirmation, scope.deadline, READ_ALLOWANCE, read).await;
    if let Some(outcome) = confirmed.outcome(kind, || {
        format!("{operation} accepted; not confirmed before the invocation's deadline; re-checked later (the re-check queue, the next event or sweep)")
    }) {
        return outcome;
    }
    ActionOutcome::new(kind, ActionStatus::Failed, format!("{operation} accepted, but restore still lists [{last}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_snapshot_call_judges_its_rules() {
        let cases = [
            (RuleId::Rds4SnapshotUnencrypted, Some(SnapshotChange::Created), true),
            (RuleId::Rds4SnapshotUnencrypted, Some(SnapshotChange::SharingChanged), false),
            (RuleId::Rds1SnapshotPublic, Some(SnapshotChange::SharingChanged), true),
            (RuleId::Rds1SnapshotPublic, Some(SnapshotChange::Created), false),
            (RuleId::SnapshotSharedOutside, Some(SnapshotChange::SharingChanged), true),
            (RuleId::Rds4SnapshotUnencrypted, None, true),
            (RuleId::SnapshotSharedOutside, None, true),
        ];
        for (rule, change, expected) in cases {
            assert_eq!(snapshot_judged_on(rule, change), expected, "{rule} on {change:?}");
        }
    }
}
