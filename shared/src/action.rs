//! The action vocabulary every part of rdsguard speaks: what was done about a finding
//! ([`ActionKind`]), how it ended ([`ActionStatus`]) and the two together with a detail
//! ([`ActionOutcome`]).
//!
//! A leaf module: it imports nothing else of the crate, so alerts, reports, metrics and the
//! ledger can name an outcome without depending on the remediation executors (which depend on
//! the AWS adapters, which depend on alerts).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// ModifyDBInstance PubliclyAccessible=false, ApplyImmediately=true.
    MakePrivate,
    /// StopDBInstance / StopDBCluster.
    StopDatabase,
    /// RDS.3 / RDS.27 `migrate`: snapshot, encrypted copy, restore with every setting, verify, and
    /// cutover on approval (the `rdsguard encrypt` migration, [`crate::migration`]).
    EncryptionMigration,
    /// ModifyDBInstance / ModifyDBCluster DeletionProtection=true (RDS.8 / RDS.7).
    EnableDeletionProtection,
    /// ModifyDBInstance / ModifyDBCluster BackupRetentionPeriod=MIN_BACKUP_RETENTION_DAYS (RDS.11 / RDS.50).
    SetBackupRetention,
    /// ModifyDBInstance / ModifyDBCluster AutoMinorVersionUpgrade=true (RDS.13 / RDS.35).
    EnableMinorVersionUpgrade,
    /// ModifyDB(Cluster)ParameterGroup: the TLS parameter set back to enforced (RDS.38 / RDS.39).
    EnforceTls,
    /// ModifyDB(Cluster)SnapshotAttribute: `all` removed from `restore` (RDS.1).
    MakeSnapshotPrivate,
    /// ModifyDB(Cluster)SnapshotAttribute: untrusted accounts removed from `restore`.
    UnshareSnapshot,
    /// RevokeSecurityGroupIngress of exactly the offending rule, by SecurityGroupRuleId.
    RevokeIngress,
    /// CreateDBSnapshot / CreateDBClusterSnapshot for forensics (guardduty-responder).
    CreateSnapshot,
    /// The responses configured for a GuardDuty finding, taken together; each one's own outcome is
    /// listed in the alert (guardduty-responder).
    Responses,
    /// CloudTrail StartLogging on a trail someone stopped (pipeline-guard).
    StartLogging,
    /// GuardDuty UpdateDetector Enable=true on a detector someone disabled (pipeline-guard).
    EnableDetector,
    /// guardrail-manager re-applies its managed Service Control Policies (content, attachments).
    ReapplyGuardrails,
    /// sts:AssumeRole of the member role in the resource's account, before anything could be
    /// checked there (fails when the account is not set up: see [`crate::member_access`]).
    AssumeMemberRole,
    /// The policy says alert only.
    AlertOnly,
    /// Nothing is done (exempt resource).
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Succeeded,
    Failed,
    Deferred,
    Skipped,
    NotAttempted,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Deferred => "deferred",
            Self::Skipped => "skipped",
            Self::NotAttempted => "not_attempted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionOutcome {
    pub kind: ActionKind,
    pub status: ActionStatus,
    pub detail: String,
}

impl ActionOutcome {
    pub fn new(kind: ActionKind, status: ActionStatus, detail: impl Into<String>) -> Self {
        Self { kind, status, detail: detail.into() }
    }
}
