//! RDS's own event notifications ("RDS DB Instance Event", "RDS DB Cluster Event").
//!
//! rds-guard listens to these to finish work it had to defer (a database that was still being
//! created or was stopped when the API call arrived) and to re-check after configuration changes.

use serde_json::Value;

use super::{detail_type, non_empty_str, EventError};
use crate::identity::{AccountId, AwsRegion};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdsSourceType {
    DbInstance,
    DbCluster,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RdsNativeEvent {
    pub source_type: RdsSourceType,
    /// Instance or cluster identifier, without the `rds:` prefix some events carry.
    pub source_identifier: String,
    pub source_arn: Option<String>,
    /// e.g. `RDS-EVENT-0005`; null in some events.
    pub rds_event_id: Option<String>,
    /// EventBridge event id, used as the event id of alerts.
    pub envelope_id: Option<String>,
    pub message: Option<String>,
    pub categories: Vec<String>,
    pub date: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
}

impl RdsNativeEvent {
    pub fn from_envelope(
        detail_type_name: &str,
        detail: &Value,
        envelope_account: Option<&str>,
        envelope_region: Option<&str>,
        envelope_id: Option<&str>,
    ) -> Result<Self, EventError> {
        let source_type = match detail_type_name {
            detail_type::RDS_DB_CLUSTER_EVENT => RdsSourceType::DbCluster,
            _ => RdsSourceType::DbInstance,
        };
        let source_arn = non_empty_str(detail, "SourceArn").map(str::to_owned);
        let arn_parts: Vec<&str> = source_arn.as_deref().map(|a| a.split(':').collect()).unwrap_or_default();
        let source_identifier = non_empty_str(detail, "SourceIdentifier")
            .map(|id| id.strip_prefix("rds:").unwrap_or(id))
            .or_else(|| arn_parts.get(6).copied())
            .filter(|id| !id.is_empty())
            .ok_or(EventError::MissingField("SourceIdentifier"))?;
        let categories = detail
            .get("EventCategories")
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(Self {
            source_type,
            source_identifier: source_identifier.to_owned(),
            rds_event_id: non_empty_str(detail, "EventID").map(str::to_owned),
            envelope_id: envelope_id.map(str::to_owned),
            message: non_empty_str(detail, "Message").map(str::to_owned),
            categories,
            date: non_empty_str(detail, "Date").map(str::to_owned),
            account: envelope_account.or(arn_parts.get(4).copied()).map(str::to_owned),
            region: envelope_region.or(arn_parts.get(3).copied()).map(str::to_owned),
            source_arn,
        })
    }

    pub fn account_id(&self) -> Result<AccountId, EventError> {
        let raw = self.account.as_deref().ok_or(EventError::MissingField("account"))?;
        Ok(AccountId::parse(raw)?)
    }

    pub fn aws_region(&self) -> Result<AwsRegion, EventError> {
        let raw = self.region.as_deref().ok_or(EventError::MissingField("region"))?;
        Ok(AwsRegion::parse(raw)?)
    }

    /// The id alerts cite: the EventBridge id, else RDS's event code.
    pub fn event_id(&self) -> Option<&str> {
        self.envelope_id.as_deref().or(self.rds_event_id.as_deref())
    }
}
