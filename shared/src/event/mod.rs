//! Incoming events: the EventBridge envelope (or a bare CloudTrail record), CloudTrail API calls
//! and RDS's own event notifications. Parsing is tolerant of real-world variation and never
//! panics; it refuses only what cannot be understood, with a reason a human can act on.

mod cloudtrail;
mod envelope;
mod guardduty;
mod rds_native;
mod triage;

pub use cloudtrail::CloudTrailCall;
pub use envelope::{parse_event, IncomingEvent};
pub use guardduty::{
    parse_guardduty_event, FindingDatabase, FindingDbUser, FindingLoginAttempts, FindingRemoteIp, GuardDutyEvent,
    GuardDutyFinding,
};
pub use rds_native::{RdsNativeEvent, RdsSourceType};
pub use triage::{read_event, Triage};

/// Why an event could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("payload is not a JSON object")]
    NotAnObject,
    #[error("payload is neither an EventBridge envelope (detail-type + detail) nor a CloudTrail record (eventSource + eventName)")]
    UnknownShape,
    #[error("EventBridge envelope is malformed: {0}")]
    BadEnvelope(String),
    #[error("event has no usable {0}")]
    MissingField(&'static str),
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
}

/// Detail types rdsguard understands.
pub mod detail_type {
    pub const CLOUDTRAIL_API_CALL: &str = "AWS API Call via CloudTrail";
    pub const RDS_DB_INSTANCE_EVENT: &str = "RDS DB Instance Event";
    pub const RDS_DB_CLUSTER_EVENT: &str = "RDS DB Cluster Event";
    pub const GUARDDUTY_FINDING: &str = "GuardDuty Finding";
}

/// Non-empty string at `key` of a JSON object.
pub(crate) fn non_empty_str<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(serde_json::Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}
