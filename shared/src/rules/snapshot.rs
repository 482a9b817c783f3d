//! Rules over DB snapshots and DB cluster snapshots.

use serde_json::json;

use super::{RuleId, Verdict};
use crate::db_snapshot::{Snapshot, RESTORE_BY_ANYONE};
use crate::identity::AccountId;

/// RDS.1: a snapshot must not be restorable by every AWS account (`restore` contains `all`).
pub fn snapshot_not_public(snapshot: &Snapshot) -> Verdict {
    match &snapshot.state.restore_shared_with {
        Some(values) if values.iter().any(|v| v.eq_ignore_ascii_case(RESTORE_BY_ANYONE)) => {
            Verdict::Violation(json!({ "restore": values }))
        }
        Some(_) => Verdict::Compliant,
        None => Verdict::Unknown("DescribeDB*SnapshotAttributes could not be read"),
    }
}

/// RDSGUARD.SNAPSHOT_SHARED: a snapshot is shared only with its own account and `trusted` accounts.
/// Public sharing (`all`) is RDS.1's business and not repeated here.
pub fn snapshot_shared_only_with_trusted(snapshot: &Snapshot, owner: &AccountId, trusted: &[AccountId]) -> Verdict {
    let Some(values) = &snapshot.state.restore_shared_with else {
        return Verdict::Unknown("DescribeDB*SnapshotAttributes could not be read");
    };
    let untrusted = untrusted_accounts(values, owner, trusted);
    if untrusted.is_empty() {
        return Verdict::Compliant;
    }
    Verdict::Violation(json!({
        "restore": values,
        "UntrustedAccounts": untrusted,
        "TrustedAccounts": trusted,
    }))
}

/// The accounts in a `restore` attribute that are neither the owner nor trusted (`all` excluded).
pub fn untrusted_accounts(restore: &[String], owner: &AccountId, trusted: &[AccountId]) -> Vec<String> {
    restore
        .iter()
        .filter(|v| !v.eq_ignore_ascii_case(RESTORE_BY_ANYONE))
        .filter(|v| v.as_str() != owner.as_str() && !trusted.iter().any(|t| t.as_str() == v.as_str()))
        .cloned()
        .collect()
}

/// RDS.4: a snapshot (or a copy) must be encrypted.
pub fn snapshot_encrypted(snapshot: &Snapshot) -> Verdict {
    match snapshot.state.encrypted {
        Some(true) => Verdict::Compliant,
        Some(false) => Verdict::Violation(json!({
            "Encrypted": false,
            "SourceDatabase": snapshot.state.source_database,
            "SnapshotType": snapshot.state.snapshot_type,
        })),
        None => Verdict::Unknown("DescribeDB*Snapshots did not report Encrypted"),
    }
}

/// Every snapshot rule, in a stable order.
pub fn evaluate_snapshot(snapshot: &Snapshot, owner: &AccountId, trusted: &[AccountId]) -> Vec<(RuleId, Verdict)> {
    vec![
        (RuleId::Rds1SnapshotPublic, snapshot_not_public(snapshot)),
        (RuleId::SnapshotSharedOutside, snapshot_shared_only_with_trusted(snapshot, owner, trusted)),
        (RuleId::Rds4SnapshotUnencrypted, snapshot_encrypted(snapshot)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db_snapshot::{SnapshotKind, SnapshotState};

    fn snapshot(restore: Option<&[&str]>, encrypted: Option<bool>) -> Snapshot {
        Snapshot {
            kind: SnapshotKind::Instance,
            state: SnapshotState {
                identifier: "s".into(),
                encrypted,
                restore_shared_with: restore.map(|r| r.iter().map(|v| (*v).to_owned()).collect()),
                ..SnapshotState::default()
            },
        }
    }

    fn kind_of(verdict: &Verdict) -> &'static str {
        match verdict {
            Verdict::Compliant => "compliant",
            Verdict::NotApplicable(_) => "n/a",
            Verdict::Unknown(_) => "unknown",
            Verdict::Violation(_) => "violation",
        }
    }

    #[test]
    fn rds1_rdsguard_shared_and_rds4() {
        let owner = AccountId::parse("111111111111").unwrap();
        let trusted = vec![AccountId::parse("222222222222").unwrap()];
        // (name, restore attribute, encrypted, RDS.1, SNAPSHOT_SHARED, RDS.4)
        type Case<'a> = (&'a str, Option<&'a [&'a str]>, Option<bool>, &'a str, &'a str, &'a str);
        let cases: [Case; 8] = [
            ("private, encrypted", Some(&[]), Some(true), "compliant", "compliant", "compliant"),
            ("public", Some(&["all"]), Some(true), "violation", "compliant", "compliant"),
            ("public, ALL any case", Some(&["ALL"]), Some(true), "violation", "compliant", "compliant"),
            ("trusted account", Some(&["222222222222"]), Some(true), "compliant", "compliant", "compliant"),
            ("own account listed", Some(&["111111111111"]), Some(true), "compliant", "compliant", "compliant"),
            ("stranger", Some(&["503161813013", "222222222222"]), Some(true), "compliant", "violation", "compliant"),
            ("attributes unreadable", None, Some(false), "unknown", "unknown", "violation"),
            ("encryption unknown", Some(&[]), None, "compliant", "compliant", "unknown"),
        ];
        for (name, restore, encrypted, rds1, shared, rds4) in cases {
            let s = snapshot(restore, encrypted);
            assert_eq!(kind_of(&snapshot_not_public(&s)), rds1, "{name} RDS.1");
            assert_eq!(kind_of(&snapshot_shared_only_with_trusted(&s, &owner, &trusted)), shared, "{name} SHARED");
            assert_eq!(kind_of(&snapshot_encrypted(&s)), rds4, "{name} RDS.4");
        }
    }

    #[test]
    fn shared_evidence_names_only_the_strangers() {
        let owner = AccountId::parse("111111111111").unwrap();
        let s = snapshot(Some(&["503161813013", "all", "111111111111"]), Some(true));
        let Verdict::Violation(evidence) = snapshot_shared_only_with_trusted(&s, &owner, &[]) else {
            panic!("violation expected")
        };
        assert_eq!(evidence["UntrustedAccounts"], json!(["503161813013"]));
    }
}
