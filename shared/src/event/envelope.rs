//! Telling apart the shapes an rdsguard function can be invoked with.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;

use super::{detail_type, non_empty_str, CloudTrailCall, EventError, RdsNativeEvent};

/// An event after the envelope has been opened.
#[derive(Debug, Clone, PartialEq)]
pub enum IncomingEvent {
    /// "AWS API Call via CloudTrail" (or a bare CloudTrail record, as in `detail`).
    ApiCall(CloudTrailCall),
    /// "RDS DB Instance Event" / "RDS DB Cluster Event".
    RdsNative(RdsNativeEvent),
    /// A well-formed envelope of a kind this code does not handle.
    Unsupported { detail_type: String, source: String },
}

/// Opens an EventBridge envelope, or accepts a bare CloudTrail record as sent by test tools and
/// some forwarders.
pub fn parse_event(payload: &Value) -> Result<IncomingEvent, EventError> {
    if !payload.is_object() {
        return Err(EventError::NotAnObject);
    }
    if payload.get("detail-type").is_some() || payload.get("detail").is_some() {
        let envelope: EventBridgeEvent<Value> =
            EventBridgeEvent::deserialize(payload).map_err(|e| EventError::BadEnvelope(e.to_string()))?;
        let account = envelope.account.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let region = envelope.region.as_deref().map(str::trim).filter(|s| !s.is_empty());
        return match envelope.detail_type.as_str() {
            detail_type::CLOUDTRAIL_API_CALL => Ok(IncomingEvent::ApiCall(CloudTrailCall::from_record(
                &envelope.detail,
                account,
                region,
                envelope.id.as_deref(),
            )?)),
            detail_type::RDS_DB_INSTANCE_EVENT | detail_type::RDS_DB_CLUSTER_EVENT => {
                Ok(IncomingEvent::RdsNative(RdsNativeEvent::from_envelope(
                    &envelope.detail_type,
                    &envelope.detail,
                    account,
                    region,
                    envelope.id.as_deref(),
                )?))
            }
            other => Ok(IncomingEvent::Unsupported { detail_type: other.to_owned(), source: envelope.source }),
        };
    }
    if non_empty_str(payload, "eventSource").is_some() && non_empty_str(payload, "eventName").is_some() {
        return Ok(IncomingEvent::ApiCall(CloudTrailCall::from_record(payload, None, None, None)?));
    }
    Err(EventError::UnknownShape)
}
