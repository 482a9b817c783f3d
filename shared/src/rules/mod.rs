//! Rules: pure functions from a database's current state to a verdict.
//!
//! Identifiers follow AWS Security Hub controls where one exists (`RDS.2`, `RDS.3`, `RDS.27`), so
//! alerts line up with what security teams already track; the rest use `RDSGUARD.*`.

mod database;
mod network;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;

pub use database::{
    cluster_storage_encrypted, evaluate_database, instance_publicly_accessible, instance_storage_encrypted,
    region_allowed,
};
pub use network::{admitted_from_evidence, evaluate_ingress, DatabasePorts, WELL_KNOWN_DATABASE_PORTS};

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
    /// RDSGUARD.GUARDRAIL: someone other than guardrail-manager changed, detached, deleted or
    /// switched off the Service Control Policies it manages (or the scheduled check found them
    /// drifted from the configuration).
    GuardrailTampered,
}

impl RuleId {
    /// Rules judged on a database's own state (rds-guard).
    pub const DATABASE: [RuleId; 4] =
        [Self::Rds2PublicAccess, Self::Rds3InstanceEncryption, Self::Rds27ClusterEncryption, Self::RegionNotAllowed];
    /// Rules judged on the security groups in front of databases (network-guard).
    pub const NETWORK: [RuleId; 2] = [Self::Ec2_19OpenToInternet, Self::SgSourceNotAllowed];

    pub const ALL: [RuleId; 9] = [
        Self::Rds2PublicAccess,
        Self::Rds3InstanceEncryption,
        Self::Rds27ClusterEncryption,
        Self::RegionNotAllowed,
        Self::Ec2_19OpenToInternet,
        Self::SgSourceNotAllowed,
        Self::GuardDutyRdsThreat,
        Self::PipelineTampered,
        Self::GuardrailTampered,
    ];

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
            Self::GuardrailTampered => "RDSGUARD.GUARDRAIL",
        }
    }

    /// The rule's usual severity. GUARDDUTY.RDS findings carry GuardDuty's own (mapped) severity and
    /// a failed RDSGUARD.PIPELINE attempt is HIGH; the functions set those on the finding.
    pub fn severity(self) -> Severity {
        match self {
            Self::Rds2PublicAccess | Self::Ec2_19OpenToInternet | Self::PipelineTampered | Self::GuardrailTampered => {
                Severity::Critical
            }
            Self::Rds3InstanceEncryption | Self::Rds27ClusterEncryption => Severity::Medium,
            Self::RegionNotAllowed | Self::SgSourceNotAllowed | Self::GuardDutyRdsThreat => Severity::High,
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
