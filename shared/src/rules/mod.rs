//! Rules: pure functions from a database's current state to a verdict.
//!
//! Identifiers follow AWS Security Hub controls where one exists (`RDS.2`, `RDS.3`, `RDS.27`), so
//! alerts line up with what security teams already track; the rest use `RDSGUARD.*`.

mod database;
mod deletion;
mod engines;
mod hardening;
mod network;
mod snapshot;
mod tls;
mod triggers;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;

pub use database::{
    cluster_storage_encrypted, evaluate_database, instance_publicly_accessible, instance_storage_encrypted,
    region_allowed,
};
pub use deletion::deleted_without_final_snapshot;
pub use engines::{not_applicable_to, EngineClass};
pub use hardening::{
    auto_minor_version_upgrade, automated_backups, custom_admin_username, deletion_protection, iam_authentication,
    log_exports, master_password_managed, multi_az_for_production, replica_of_unencrypted_source,
    DEFAULT_ADMIN_USERNAMES,
};
pub use network::{
    admitted_from_evidence, evaluate_group_ingress, evaluate_ingress, DatabasePorts, WELL_KNOWN_DATABASE_PORTS,
};
pub use snapshot::{
    evaluate_snapshot, snapshot_encrypted, snapshot_not_public, snapshot_shared_only_with_trusted, untrusted_accounts,
};
pub use tls::{enforcing_value, is_on, tls_enforced, tls_parameter_for, TlsParameter, TlsReading, TLS_PARAMETER_NAMES};
pub use triggers::DatabaseChange;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleId {
    /// RDS.2: DB instances (and Multi-AZ DB clusters) must not be publicly accessible.
    Rds2PublicAccess,
    /// RDS.3: DB instances must have storage encryption.
    Rds3InstanceEncryption,
    /// RDS.27: DB clusters must have storage encryption.
    Rds27ClusterEncryption,
    /// RDSGUARD.REGION: databases may only exist in allowed regions.
    RegionNotAllowed,
    /// EC2.19: security groups must not allow unrestricted access (0.0.0.0/0, ::/0) to database
    /// ports.
    Ec2_19OpenToInternet,
    /// RDSGUARD.SG_SOURCE: a database port admits only sources in ALLOWED_CIDRS (or other security
    /// groups). Evaluated only when ALLOWED_CIDRS is set.
    SgSourceNotAllowed,
    /// GUARDDUTY.RDS: GuardDuty reported a threat to a database (RDS Protection login findings, or any
    /// finding on an RDS resource). The alert's severity is GuardDuty's, mapped to a label.
    GuardDutyRdsThreat,
    /// RDSGUARD.PIPELINE: someone switched off or weakened what watches the estate (CloudTrail
    /// logging, GuardDuty detection, rdsguard's own EventBridge rules). A failed attempt is HIGH.
    PipelineTampered,
    /// RDS.1: a manual DB (cluster) snapshot must not be restorable by everyone (`restore` = `all`).
    Rds1SnapshotPublic,
    /// RDSGUARD.SNAPSHOT_SHARED: a snapshot is shared only with TRUSTED_ACCOUNTS.
    SnapshotSharedOutside,
    /// RDS.4: DB snapshots and cluster snapshots (and copies) must be encrypted.
    Rds4SnapshotUnencrypted,
    /// RDS.8: DB instances must have deletion protection.
    Rds8InstanceDeletionProtection,
    /// RDS.7: DB clusters must have deletion protection.
    Rds7ClusterDeletionProtection,
    /// RDS.11: DB instances keep automated backups for at least MIN_BACKUP_RETENTION_DAYS.
    Rds11InstanceBackups,
    /// RDS.50: DB clusters keep automated backups for at least MIN_BACKUP_RETENTION_DAYS.
    Rds50ClusterBackups,
    /// RDSGUARD.DELETE_NO_SNAPSHOT: a database was deleted with SkipFinalSnapshot.
    DeletedWithoutSnapshot,
    /// RDS.10: DB instances use IAM database authentication.
    Rds10InstanceIamAuth,
    /// RDS.12: DB clusters use IAM database authentication.
    Rds12ClusterIamAuth,
    /// RDS.38: PostgreSQL databases enforce TLS (`rds.force_ssl` = 1 in their parameter group).
    Rds38PostgresTls,
    /// RDS.39: RDS for MySQL DB instances enforce TLS (`require_secure_transport` = ON).
    Rds39MysqlTls,
    /// RDS.44: RDS for MariaDB DB instances enforce TLS (`require_secure_transport` = ON).
    Rds44MariadbTls,
    /// RDSGUARD.CLUSTER_TLS: DB clusters (Aurora PostgreSQL / MySQL, Multi-AZ DB clusters) enforce
    /// TLS through their DB cluster parameter group: outside RDS.38 / RDS.39 / RDS.44, which
    /// Security Hub scopes to RDS DB instances.
    ClusterTls,
    /// RDSGUARD.MASTER_SECRET: Secrets Manager manages the master password.
    MasterPasswordUnmanaged,
    /// RDS.25: DB instances use a custom administrator user name.
    Rds25InstanceDefaultAdmin,
    /// RDS.24: DB clusters use a custom administrator user name.
    Rds24ClusterDefaultAdmin,
    /// RDS.9: databases publish logs to CloudWatch Logs.
    Rds9LogExports,
    /// RDS.5: production DB instances are Multi-AZ.
    Rds5InstanceMultiAz,
    /// RDS.15: production DB clusters span several Availability Zones.
    Rds15ClusterMultiAz,
    /// RDS.13: DB instances take automatic minor version upgrades.
    Rds13MinorVersionUpgrade,
    /// RDS.35: Multi-AZ DB clusters take automatic minor version upgrades (Security Hub's scope;
    /// Aurora members are judged one by one under RDS.13).
    Rds35ClusterMinorVersionUpgrade,
    /// RDSGUARD.REPLICA_UNENCRYPTED: a read replica of an unencrypted source (it cannot be encrypted).
    ReplicaOfUnencrypted,
    /// RDSGUARD.GUARDRAIL: someone other than guardrail-manager changed, detached, deleted or
    /// switched off the Service Control Policies it manages (or the scheduled check found them
    /// drifted from the configuration).
    GuardrailTampered,
}

impl RuleId {
    /// Rules judged on a database's own state (rds-guard), in evaluation order.
    pub const DATABASE: [RuleId; 19] = [
        Self::Rds2PublicAccess,
        Self::Rds3InstanceEncryption,
        Self::Rds27ClusterEncryption,
        Self::RegionNotAllowed,
        Self::Rds8InstanceDeletionProtection,
        Self::Rds7ClusterDeletionProtection,
        Self::Rds11InstanceBackups,
        Self::Rds50ClusterBackups,
        Self::Rds10InstanceIamAuth,
        Self::Rds12ClusterIamAuth,
        Self::MasterPasswordUnmanaged,
        Self::Rds25InstanceDefaultAdmin,
        Self::Rds24ClusterDefaultAdmin,
        Self::Rds9LogExports,
        Self::Rds5InstanceMultiAz,
        Self::Rds15ClusterMultiAz,
        Self::Rds13MinorVersionUpgrade,
        Self::Rds35ClusterMinorVersionUpgrade,
        Self::ReplicaOfUnencrypted,
    ];
    /// Rules judged on the security groups in front of databases (network-guard).
    pub const NETWORK: [RuleId; 2] = [Self::Ec2_19OpenToInternet, Self::SgSourceNotAllowed];

    pub const ALL: [RuleId; 32] = [
        Self::Rds2PublicAccess,
        Self::Rds3InstanceEncryption,
        Self::Rds27ClusterEncryption,
        Self::RegionNotAllowed,
        Self::Ec2_19OpenToInternet,
        Self::SgSourceNotAllowed,
        Self::GuardDutyRdsThreat,
        Self::PipelineTampered,
        Self::Rds1SnapshotPublic,
        Self::SnapshotSharedOutside,
        Self::Rds4SnapshotUnencrypted,
        Self::Rds8InstanceDeletionProtection,
        Self::Rds7ClusterDeletionProtection,
        Self::Rds11InstanceBackups,
        Self::Rds50ClusterBackups,
        Self::DeletedWithoutSnapshot,
        Self::Rds10InstanceIamAuth,
        Self::Rds12ClusterIamAuth,
        Self::Rds38PostgresTls,
        Self::Rds39MysqlTls,
        Self::Rds44MariadbTls,
        Self::ClusterTls,
        Self::MasterPasswordUnmanaged,
        Self::Rds25InstanceDefaultAdmin,
        Self::Rds24ClusterDefaultAdmin,
        Self::Rds9LogExports,
        Self::Rds5InstanceMultiAz,
        Self::Rds15ClusterMultiAz,
        Self::Rds13MinorVersionUpgrade,
        Self::Rds35ClusterMinorVersionUpgrade,
        Self::ReplicaOfUnencrypted,
        Self::GuardrailTampered,
    ];

    /// Whether the rule judges a resource's state (and so a finding of it resolves when the state
    /// complies or the resource is gone), not something that happened: a deletion without a final
    /// snapshot, a GuardDuty threat, a pipeline or guardrail tampering stay what they were.
    pub fn judged_on_state(self) -> bool {
        !matches!(
            self,
            Self::DeletedWithoutSnapshot | Self::GuardDutyRdsThreat | Self::PipelineTampered | Self::GuardrailTampered
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rds2PublicAccess => "RDS.2",
            Self::Rds3InstanceEncryption => "RDS.3",
            Self::Rds27ClusterEncryption => "RDS.27",
            Self::RegionNotAllowed => "RDSGUARD.REGION",
            Self::Ec2_19OpenToInternet => "EC2.19",
            Self::SgSourceNotAllowed => "RDSGUARD.SG_SOURCE",
            Self::GuardDutyRdsThreat => "GUARDDUTY.RDS",
            Self::PipelineTampered => "RDSGUARD.PIPELINE",
            Self::Rds1SnapshotPublic => "RDS.1",
            Self::SnapshotSharedOutside => "RDSGUARD.SNAPSHOT_SHARED",
            Self::Rds4SnapshotUnencrypted => "RDS.4",
            Self::Rds8InstanceDeletionProtection => "RDS.8",
            Self::Rds7ClusterDeletionProtection => "RDS.7",
            Self::Rds11InstanceBackups => "RDS.11",
            Self::Rds50ClusterBackups => "RDS.50",
            Self::DeletedWithoutSnapshot => "RDSGUARD.DELETE_NO_SNAPSHOT",
            Self::Rds10InstanceIamAuth => "RDS.10",
            Self::Rds12ClusterIamAuth => "RDS.12",
            Self::Rds38PostgresTls => "RDS.38",
            Self::Rds39MysqlTls => "RDS.39",
            Self::Rds44MariadbTls => "RDS.44",
            Self::ClusterTls => "RDSGUARD.CLUSTER_TLS",
            Self::MasterPasswordUnmanaged => "RDSGUARD.MASTER_SECRET",
            Self::Rds25InstanceDefaultAdmin => "RDS.25",
            Self::Rds24ClusterDefaultAdmin => "RDS.24",
            Self::Rds9LogExports => "RDS.9",
            Self::Rds5InstanceMultiAz => "RDS.5",
            Self::Rds15ClusterMultiAz => "RDS.15",
            Self::Rds13MinorVersionUpgrade => "RDS.13",
            Self::Rds35ClusterMinorVersionUpgrade => "RDS.35",
            Self::ReplicaOfUnencrypted => "RDSGUARD.REPLICA_UNENCRYPTED",
            Self::GuardrailTampered => "RDSGUARD.GUARDRAIL",
        }
    }

    /// The rule's usual severity. GUARDDUTY.RDS findings carry GuardDuty's own (mapped) severity and
    /// a failed RDSGUARD.PIPELINE attempt is HIGH; the functions set those on the finding.
    pub fn severity(self) -> Severity {
        match self {
            Self::Rds2PublicAccess
            | Self::Ec2_19OpenToInternet
            | Self::PipelineTampered
            | Self::GuardrailTampered
            | Self::Rds1SnapshotPublic
            | Self::DeletedWithoutSnapshot => Severity::Critical,
            Self::RegionNotAllowed
            | Self::SgSourceNotAllowed
            | Self::GuardDutyRdsThreat
            | Self::SnapshotSharedOutside
            | Self::Rds13MinorVersionUpgrade => Severity::High,
            Self::Rds3InstanceEncryption
            | Self::Rds27ClusterEncryption
            | Self::Rds4SnapshotUnencrypted
            | Self::Rds11InstanceBackups
            | Self::Rds50ClusterBackups
            | Self::Rds10InstanceIamAuth
            | Self::Rds12ClusterIamAuth
            | Self::Rds38PostgresTls
            | Self::Rds39MysqlTls
            | Self::Rds44MariadbTls
            | Self::ClusterTls
            | Self::MasterPasswordUnmanaged
            | Self::Rds25InstanceDefaultAdmin
            | Self::Rds24ClusterDefaultAdmin
            | Self::Rds9LogExports
            | Self::Rds5InstanceMultiAz
            | Self::Rds15ClusterMultiAz
            | Self::Rds35ClusterMinorVersionUpgrade
            | Self::ReplicaOfUnencrypted => Severity::Medium,
            Self::Rds8InstanceDeletionProtection | Self::Rds7ClusterDeletionProtection => Severity::Low,
        }
    }

    /// A few words for alert subjects.
    pub fn short_title(self) -> &'static str {
        match self {
            Self::Rds2PublicAccess => "publicly accessible",
            Self::Rds3InstanceEncryption | Self::Rds27ClusterEncryption => "storage not encrypted",
            Self::RegionNotAllowed => "region not allowed",
            Self::Ec2_19OpenToInternet => "database port open to the internet",
            Self::SgSourceNotAllowed => "database port open to an unlisted source",
            Self::GuardDutyRdsThreat => "GuardDuty finding",
            Self::PipelineTampered => "detection pipeline switched off",
            Self::Rds1SnapshotPublic => "snapshot is public",
            Self::SnapshotSharedOutside => "snapshot shared with an untrusted account",
            Self::Rds4SnapshotUnencrypted => "snapshot not encrypted",
            Self::Rds8InstanceDeletionProtection | Self::Rds7ClusterDeletionProtection => "deletion protection off",
            Self::Rds11InstanceBackups | Self::Rds50ClusterBackups => "automated backups too short",
            Self::DeletedWithoutSnapshot => "deleted without a final snapshot",
            Self::Rds10InstanceIamAuth | Self::Rds12ClusterIamAuth => "IAM authentication off",
            Self::Rds38PostgresTls | Self::Rds39MysqlTls | Self::Rds44MariadbTls | Self::ClusterTls => {
                "TLS not enforced"
            }
            Self::MasterPasswordUnmanaged => "master password not in Secrets Manager",
            Self::Rds25InstanceDefaultAdmin | Self::Rds24ClusterDefaultAdmin => "default admin user name",
            Self::Rds9LogExports => "no logs to CloudWatch Logs",
            Self::Rds5InstanceMultiAz | Self::Rds15ClusterMultiAz => "production database not Multi-AZ",
            Self::Rds13MinorVersionUpgrade | Self::Rds35ClusterMinorVersionUpgrade => "auto minor version upgrade off",
            Self::ReplicaOfUnencrypted => "replica of an unencrypted source",
            Self::GuardrailTampered => "guardrail SCPs changed",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Rds2PublicAccess => "Database is publicly accessible",
            Self::Rds3InstanceEncryption => "DB instance storage is not encrypted",
            Self::Rds27ClusterEncryption => "DB cluster storage is not encrypted",
            Self::RegionNotAllowed => "Database is in a region that is not allowed",
            Self::Ec2_19OpenToInternet => "Security group allows unrestricted access to a database port",
            Self::SgSourceNotAllowed => "Security group admits a source outside ALLOWED_CIDRS to a database port",
            Self::GuardDutyRdsThreat => "GuardDuty reported a threat to a database",
            Self::PipelineTampered => "Security logging or threat detection was switched off or weakened",
            Self::Rds1SnapshotPublic => "Database snapshot can be restored by any AWS account",
            Self::SnapshotSharedOutside => "Database snapshot is shared with an account outside TRUSTED_ACCOUNTS",
            Self::Rds4SnapshotUnencrypted => "Database snapshot is not encrypted",
            Self::Rds8InstanceDeletionProtection => "DB instance does not have deletion protection",
            Self::Rds7ClusterDeletionProtection => "DB cluster does not have deletion protection",
            Self::Rds11InstanceBackups => "DB instance keeps automated backups for too short a time (or none)",
            Self::Rds50ClusterBackups => "DB cluster keeps automated backups for too short a time",
            Self::DeletedWithoutSnapshot => "Database was deleted without a final snapshot",
            Self::Rds10InstanceIamAuth => "DB instance does not use IAM database authentication",
            Self::Rds12ClusterIamAuth => "DB cluster does not use IAM database authentication",
            Self::Rds38PostgresTls => "PostgreSQL DB instance does not enforce TLS (rds.force_ssl is not 1)",
            Self::Rds39MysqlTls => "MySQL DB instance does not enforce TLS (require_secure_transport is not ON)",
            Self::Rds44MariadbTls => "MariaDB DB instance does not enforce TLS (require_secure_transport is not ON)",
            Self::ClusterTls => {
                "DB cluster does not enforce TLS (its DB cluster parameter group allows plain connections)"
            }
            Self::MasterPasswordUnmanaged => "Master user password is not managed by Secrets Manager",
            Self::Rds25InstanceDefaultAdmin => "DB instance uses a default administrator user name",
            Self::Rds24ClusterDefaultAdmin => "DB cluster uses a default administrator user name",
            Self::Rds9LogExports => "Database does not publish logs to CloudWatch Logs",
            Self::Rds5InstanceMultiAz => "Production DB instance is not Multi-AZ",
            Self::Rds15ClusterMultiAz => "Production DB cluster is not Multi-AZ",
            Self::Rds13MinorVersionUpgrade => "DB instance does not take automatic minor version upgrades",
            Self::Rds35ClusterMinorVersionUpgrade => "DB cluster does not take automatic minor version upgrades",
            Self::ReplicaOfUnencrypted => "Read replica of an unencrypted database (it cannot be encrypted)",
            Self::GuardrailTampered => {
                "rdsguard's guardrail Service Control Policies were changed outside guardrail-manager"
            }
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule id {0:?} (known: {known})", known = RuleId::ALL.map(RuleId::as_str).join(", "))]
pub struct UnknownRule(pub String);

impl FromStr for RuleId {
    type Err = UnknownRule;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let wanted = raw.trim();
        Self::ALL
            .into_iter()
            .find(|rule| rule.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownRule(raw.to_owned()))
    }
}

/// Security Hub's severity labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Informational => "INFORMATIONAL",
            Self::Low => "LOW",
            Self::Medium => "MEDIUM",
            Self::High => "HIGH",
            Self::Critical => "CRITICAL",
        }
    }
}

/// What one rule concluded about one database.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Compliant,
    /// The rule does not apply to this resource (e.g. encryption of an Aurora member instance is
    /// judged on its cluster).
    NotApplicable(&'static str),
    /// The state needed to judge is missing: never act on it, log it.
    Unknown(&'static str),
    /// A violation, with the evidence that shows it.
    Violation(Value),
}
