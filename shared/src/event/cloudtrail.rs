//! A CloudTrail record, read tolerantly.
//!
//! Real records differ by age and caller: `requestParameters` often omits what AWS defaulted (it
//! then appears only in `responseElements`), key casing varies (`dBInstanceIdentifier`,
//! `DBInstanceIdentifier`), `userIdentity` may lack `arn`, failed calls carry `errorCode` and a null
//! `responseElements`, and sanitised samples use placeholder account ids. The strict
//! `aws_lambda_events` CloudTrail type rejects several of these, so the record is kept as JSON and
//! read through the accessors below.

use serde_json::Value;

use super::{non_empty_str, EventError};
use crate::identity::{AccountId, AwsRegion};

#[derive(Debug, Clone, PartialEq)]
pub struct CloudTrailCall {
    /// CloudTrail `eventID` (falls back to the EventBridge envelope id).
    pub event_id: String,
    pub event_name: String,
    /// e.g. `rds.amazonaws.com`.
    pub event_source: String,
    pub event_time: Option<String>,
    /// `awsRegion` (or the envelope's region), unvalidated.
    pub region: Option<String>,
    /// The account the call was made in, unvalidated: envelope `account`, then
    /// `recipientAccountId`, then `userIdentity.accountId`.
    pub account: Option<String>,
    /// Who made the call: principal ARN where known.
    pub actor: String,
    /// Where the call came from: `sourceIPAddress` (an IP, or an AWS service name such as
    /// `cloudformation.amazonaws.com`, or "AWS Internal").
    pub source_ip_address: Option<String>,
    /// `userAgent`: the SDK, CLI or console the call was made with.
    pub user_agent: Option<String>,
    /// Set when the call failed; a failed call changed nothing.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub request: Value,
    pub response: Value,
}

impl CloudTrailCall {
    /// Reads a CloudTrail record. `envelope_*` come from the EventBridge envelope when there is one.
    pub fn from_record(
        record: &Value,
        envelope_account: Option<&str>,
        envelope_region: Option<&str>,
        envelope_id: Option<&str>,
    ) -> Result<Self, EventError> {
        if !record.is_object() {
            return Err(EventError::NotAnObject);
        }
        let event_name = non_empty_str(record, "eventName").ok_or(EventError::MissingField("eventName"))?;
        let event_source = non_empty_str(record, "eventSource").ok_or(EventError::MissingField("eventSource"))?;
        let event_id = non_empty_str(record, "eventID")
            .or(envelope_id.map(str::trim).filter(|s| !s.is_empty()))
            .ok_or(EventError::MissingField("eventID"))?;
        let identity = record.get("userIdentity").unwrap_or(&Value::Null);
        let account = envelope_account
            .or_else(|| non_empty_str(record, "recipientAccountId"))
            .or_else(|| non_empty_str(identity, "accountId"));
        let region = non_empty_str(record, "awsRegion").or(envelope_region);
        Ok(Self {
            event_id: event_id.to_owned(),
            event_name: event_name.to_owned(),
            event_source: event_source.to_owned(),
            event_time: non_empty_str(record, "eventTime").map(str::to_owned),
            region: region.map(str::to_owned),
            account: account.map(str::to_owned),
            actor: actor_of(identity),
            source_ip_address: non_empty_str(record, "sourceIPAddress").map(str::to_owned),
            user_agent: non_empty_str(record, "userAgent").map(str::to_owned),
            error_code: non_empty_str(record, "errorCode").map(str::to_owned),
            error_message: non_empty_str(record, "errorMessage").map(str::to_owned),
            request: record.get("requestParameters").cloned().unwrap_or(Value::Null),
            response: record.get("responseElements").cloned().unwrap_or(Value::Null),
        })
    }

    /// The account the call was made in, validated.
    pub fn account_id(&self) -> Result<AccountId, EventError> {
        let raw = self.account.as_deref().ok_or(EventError::MissingField("account"))?;
        Ok(AccountId::parse(raw)?)
    }

    /// The region the call was made in, validated.
    pub fn aws_region(&self) -> Result<AwsRegion, EventError> {
        let raw = self.region.as_deref().ok_or(EventError::MissingField("awsRegion"))?;
        Ok(AwsRegion::parse(raw)?)
    }

    /// A request parameter by name, compared without regard to case (`dBInstanceIdentifier` and
    /// `DBInstanceIdentifier` are the same parameter).
    pub fn request_param(&self, name: &str) -> Option<&Value> {
        get_ignore_case(&self.request, name)
    }

    /// A response element by name, compared without regard to case.
    pub fn response_element(&self, name: &str) -> Option<&Value> {
        get_ignore_case(&self.response, name)
    }

    /// A non-empty string parameter: the request first, then the response.
    pub fn string_param(&self, name: &str) -> Option<&str> {
        [self.request_param(name), self.response_element(name)]
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::trim)
            .find(|s| !s.is_empty())
    }
}

fn get_ignore_case<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    let map = object.as_object()?;
    map.get(name).or_else(|| map.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value))
}

/// The most specific name CloudTrail gives for the caller.
fn actor_of(identity: &Value) -> String {
    if let Some(arn) = non_empty_str(identity, "arn") {
        return arn.to_owned();
    }
    let kind = non_empty_str(identity, "type");
    if kind == Some("Root") {
        if let Some(account) = non_empty_str(identity, "accountId") {
            return format!("root of account {account}");
        }
    }
    if let Some(service) = non_empty_str(identity, "invokedBy") {
        return service.to_owned();
    }
    if let Some(principal) = non_empty_str(identity, "principalId") {
        return match kind {
            Some(kind) => format!("{kind} {principal}"),
            None => principal.to_owned(),
        };
    }
    kind.map(str::to_owned).unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(identity: Value) -> Value {
        json!({
            "eventID": "e-1", "eventName": "ModifyDBInstance", "eventSource": "rds.amazonaws.com",
            "awsRegion": "eu-west-1", "recipientAccountId": "111122223333", "userIdentity": identity,
            "requestParameters": {"DBInstanceIdentifier": "db1"},
            "responseElements": {"dBInstanceIdentifier": "db1", "publiclyAccessible": true}
        })
    }

    #[test]
    fn actor_prefers_the_arn_and_falls_back_sensibly() {
        let cases = [
            (json!({"type": "IAMUser", "arn": "arn:aws:iam::1:user/a"}), "arn:aws:iam::1:user/a"),
            (json!({"type": "Root", "accountId": "111122223333"}), "root of account 111122223333"),
            (json!({"invokedBy": "cloudformation.amazonaws.com"}), "cloudformation.amazonaws.com"),
            (json!({"type": "AWSService", "principalId": "AIDA1"}), "AWSService AIDA1"),
            (json!({"type": "AWSAccount"}), "AWSAccount"),
            (json!({}), "unknown"),
            (Value::Null, "unknown"),
        ];
        for (identity, expected) in cases {
            let call = CloudTrailCall::from_record(&record(identity.clone()), None, None, None);
            assert_eq!(call.map(|c| c.actor).as_deref(), Ok(expected), "{identity}");
        }
    }

    #[test]
    fn parameters_are_found_case_insensitively_request_first() {
        let call = CloudTrailCall::from_record(&record(json!({})), None, None, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(call.string_param("dBInstanceIdentifier"), Some("db1"));
        assert_eq!(call.response_element("PubliclyAccessible"), Some(&json!(true)));
        assert_eq!(call.request_param("publiclyAccessible"), None);
    }

    #[test]
    fn envelope_account_wins_and_is_validated() {
        let call = CloudTrailCall::from_record(&record(json!({})), Some("999988887777"), None, None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(call.account_id().map(|a| a.to_string()), Ok("999988887777".to_owned()));
        let mut odd = record(json!({}));
        odd["recipientAccountId"] = json!("<MEMBER_ACCT_ID>");
        let call = CloudTrailCall::from_record(&odd, None, None, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(call.account_id().is_err());
    }

    #[test]
    fn missing_required_fields_are_named() {
        let mut no_id = record(json!({}));
        no_id.as_object_mut().map(|m| m.remove("eventID"));
        assert_eq!(
            CloudTrailCall::from_record(&no_id, None, None, None).err(),
            Some(EventError::MissingField("eventID"))
        );
        assert!(CloudTrailCall::from_record(&no_id, None, None, Some("envelope-id")).is_ok());
        let mut no_name = record(json!({}));
        no_name["eventName"] = json!("");
        assert_eq!(
            CloudTrailCall::from_record(&no_name, None, None, None).err(),
            Some(EventError::MissingField("eventName"))
        );
    }
}
