//! One finding as the ledger keeps it: its status, when it was first and last seen, how often, what
//! was last done about it, the evidence, and what was last alerted.

use serde::Serialize;

/// Where a finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    /// The resource violates the rule.
    Open,
    /// The rule holds again (or the resource is gone).
    Resolved,
    /// The resource is exempt from the rule (EXEMPT_TAG_KEY); alerted once.
    Exempt,
}

impl FindingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
            Self::Exempt => "exempt",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Open, Self::Resolved, Self::Exempt].into_iter().find(|s| s.as_str() == raw)
    }
}

/// Who resolved a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolvedBy {
    /// rdsguard's own fix, confirmed by reading the state back.
    Rdsguard,
    /// Someone or something else: a later check found the rule compliant.
    Other,
}

impl ResolvedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rdsguard => "rdsguard",
            Self::Other => "other",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Rdsguard, Self::Other].into_iter().find(|s| s.as_str() == raw)
    }
}

/// Where the alert of the finding's last transition stands. An invocation claims the alert (a
/// conditional write) before it publishes, so that of two concurrent invocations only one does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AlertState {
    /// Nothing is owed: the last alert due was published (or none ever was).
    Settled,
    /// An invocation claimed the alert at `at` (epoch seconds) and is publishing it.
    Claimed { at: i64, reason: String },
    /// The claimed alert could not be published: the next sighting alerts again.
    Unpublished { reason: String },
}

/// The ledger's item for one finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerItem {
    /// [`super::finding_id`] of (account, region, resource, rule).
    pub finding_id: String,
    pub rule: String,
    pub title: String,
    pub account: String,
    pub region: String,
    /// ARN of the resource (as in the alert).
    pub resource: String,
    pub resource_type: String,
    pub resource_id: String,
    /// The part of the resource the finding is about, when it is not the resource itself (a
    /// security group rule's ARN, see [`crate::finding::Finding::component_arn`]): with the rest,
    /// it gives the finding id back.
    pub component: Option<String>,
    pub status: FindingStatus,
    pub severity: String,
    /// Epoch seconds.
    pub first_seen: i64,
    pub last_seen: i64,
    /// Invocations that saw the violation.
    pub occurrences: u64,
    /// The last action's kind (`make_private`, `alert_only`...) and status (`succeeded`...).
    pub last_action: String,
    pub last_action_status: String,
    /// The evidence (the alert's `observed`), as compact JSON.
    pub evidence: String,
    /// The event of the last sighting (EventBridge delivers some twice; Lambda retries).
    pub last_event_id: Option<String>,
    /// When the last alert was published (epoch seconds), its reason and SNS message id.
    pub last_alerted: Option<i64>,
    pub last_alert_reason: Option<String>,
    pub last_alert_message_id: Option<String>,
    pub alert: AlertState,
    pub resolved_by: Option<ResolvedBy>,
    pub resolved_at: Option<i64>,
    /// DynamoDB TTL (epoch seconds): set on resolved items only, which then expire.
    pub expires_at: Option<i64>,
    /// Bumped by every write; writes are conditional on the version read.
    pub version: u64,
}
