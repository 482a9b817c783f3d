//! Snapshots: RDS.1 (restorable by anyone), RDSGUARD.SNAPSHOT_SHARED (shared with an account
//! outside TRUSTED_ACCOUNTS) and RDS.4 (unencrypted). Sharing is undone by removing exactly the
//! offending values from the `restore` attribute, then confirmed by reading the attribute again.

use rdsguard::aws::RdsGuardPort;
use rdsguard::db_snapshot::{Snapshot, SnapshotKind, RESTORE_BY_ANYONE};
use rdsguard::finding::Finding;
use rdsguard::policy::RuleAction;
use rdsguard::remediate::{policy_gate, ActionKind, ActionOutcome, ActionStatus};
use rdsguard::rules::{evaluate_snapshot, untrusted_accounts, RuleId, Verdict};
use tracing::info;

use crate::handler::{Checked, RdsGuard, RdsGuardError};
use crate::target::{SnapshotChange, Target};

/// Which snapshot rules a call re-judges: encryption is decided at creation, sharing when the
/// `restore` attribute changes.
fn judged_on(rule: RuleId, change: SnapshotChange) -> bool {
    match change {
        SnapshotChange::Created => rule == RuleId::Rds4SnapshotUnencrypted,
        SnapshotChange::SharingChanged => {
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

/// `Ok(Err(reason))`: nothing to check (the snapshot is gone).
pub(crate) async fn check_snapshot(
    target: &Target,
    kind: SnapshotKind,
    identifier: &str,
    change: SnapshotChange,
    rds: &dyn RdsGuardPort,
    guard: &RdsGuard,
) -> Result<Result<Checked, String>, RdsGuardError> {
    let Some(state) = rds.describe_snapshot(kind, identifier).await.map_err(RdsGuardError::Describe)? else {
        return Ok(Err(format!(
            "{} {identifier} does not exist in {}/{} (deleted, or never created)",
            kind.describe_name(),
            target.account,
            target.region
        )));
    };
    let snapshot = Snapshot { kind, state };
    let arn = snapshot.state.arn.clone().unwrap_or_else(|| {
        let segment = match kind {
            SnapshotKind::Instance => "snapshot",
            SnapshotKind::Cluster => "cluster-snapshot",
        };
        format!("arn:{}:rds:{}:{}:{segment}:{identifier}", target.region.partition(), target.region, target.account)
    });
    info!(snapshot = %arn, ?change, encrypted = ?snapshot.state.encrypted, "checking snapshot");
    let policy = &guard.policy;
    let mut checked = Checked::new(arn.clone());
    for (rule, verdict) in evaluate_snapshot(&snapshot, &target.account, &policy.trusted_accounts) {
        if policy.effective_action(rule) == RuleAction::Off || !judged_on(rule, change) {
            continue;
        }
        match verdict {
            Verdict::Violation(observed) => {
                let finding = Finding::for_resource(
                    rule,
                    &target.account,
                    &target.region,
                    kind.aws_type(),
                    &snapshot.state.identifier,
                    arn.clone(),
                    observed,
                );
                let action = act(rule, &snapshot, target, rds, guard).await;
                checked.findings.push((finding, action));
            }
            Verdict::Unknown(why) => checked.undetermined(rule, identifier, why),
            Verdict::Compliant | Verdict::NotApplicable(_) => {}
        }
    }
    Ok(Ok(checked))
}

async fn act(
    rule: RuleId,
    snapshot: &Snapshot,
    target: &Target,
    rds: &dyn RdsGuardPort,
    guard: &RdsGuard,
) -> ActionOutcome {
    if let Err(outcome) = policy_gate(rule, &snapshot.state.tags, &guard.policy) {
        return outcome;
    }
    let restore = snapshot.state.restore_shared_with.clone().unwrap_or_default();
    let (kind, remove) = match rule {
        RuleId::Rds1SnapshotPublic => (
            ActionKind::MakeSnapshotPrivate,
            restore.iter().filter(|v| v.eq_ignore_ascii_case(RESTORE_BY_ANYONE)).cloned().collect::<Vec<_>>(),
        ),
        RuleId::SnapshotSharedOutside => {
            (ActionKind::UnshareSnapshot, untrusted_accounts(&restore, &target.account, &guard.policy.trusted_accounts))
        }
        _ => {
            return ActionOutcome::new(ActionKind::AlertOnly, ActionStatus::NotAttempted, format!("{rule} has no fix"))
        }
    };
    unshare(kind, snapshot, &remove, rds, guard).await
}

/// Removes `remove` from the `restore` attribute and reads it back until they are gone.
async fn unshare(
    kind: ActionKind,
    snapshot: &Snapshot,
    remove: &[String],
    rds: &dyn RdsGuardPort,
    guard: &RdsGuard,
) -> ActionOutcome {
    let id = snapshot.state.identifier.as_str();
    let operation = operation(snapshot.kind);
    if let Err(error) = rds.unshare_snapshot(snapshot.kind, id, remove).await {
        return ActionOutcome::new(kind, ActionStatus::Failed, error.to_string());
    }
    let confirm = guard.confirmation;
    let mut last = String::from("unread");
    for attempt in 0..confirm.attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(confirm.delay).await;
        }
        match rds.describe_snapshot(snapshot.kind, id).await {
            Ok(Some(after)) => {
                let now = after.restore_shared_with.unwrap_or_default();
                if !now.iter().any(|v| remove.iter().any(|r| r.eq_ignore_ascii_case(v))) {
                    return ActionOutcome::new(
                        kind,
                        ActionStatus::Succeeded,
                        format!(
                            "{operation} removed {} from restore; restore is now [{}] (confirmed by describe)",
                            remove.join(", "),
                            now.join(", ")
                        ),
                    );
                }
                last = now.join(", ");
            }
            Ok(None) => {
                return ActionOutcome::new(
                    kind,
                    ActionStatus::Failed,
                    format!("{operation} accepted, but {id} no longer exists"),
                )
            }
            Err(error) => {
                return ActionOutcome::new(
                    kind,
                    ActionStatus::Failed,
                    format!("{operation} accepted; confirming failed: {error}"),
                )
            }
        }
    }
    ActionOutcome::new(kind, ActionStatus::Failed, format!("{operation} accepted, but restore still lists [{last}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_snapshot_call_judges_its_rules() {
        let cases = [
            (RuleId::Rds4SnapshotUnencrypted, SnapshotChange::Created, true),
            (RuleId::Rds4SnapshotUnencrypted, SnapshotChange::SharingChanged, false),
            (RuleId::Rds1SnapshotPublic, SnapshotChange::SharingChanged, true),
            (RuleId::Rds1SnapshotPublic, SnapshotChange::Created, false),
            (RuleId::SnapshotSharedOutside, SnapshotChange::SharingChanged, true),
        ];
        for (rule, change, expected) in cases {
            assert_eq!(judged_on(rule, change), expected, "{rule} on {change:?}");
        }
    }
}
