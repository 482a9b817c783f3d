//! Amazon DynamoDB: the findings ledger's table (FINDINGS_TABLE).
//!
//! One item per finding, partition key `finding_id` (string). Reads are strongly consistent
//! (BatchGetItem with ConsistentRead); every write is a PutItem conditional on the version read
//! (`attribute_not_exists(finding_id)` for a new item), so of two invocations racing on one finding
//! only one write wins. Resolved items carry `expires_at`, the table's TTL attribute. The same
//! table keeps each event's claim ([`crate::ledger::event_claim`], keys `event#…`; the adapter is
//! in `dynamodb_claims.rs`), with the same two actions.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::AwsError;
use crate::ledger::event_claim::EVENT_CLAIM_PREFIX;
use crate::ledger::{AlertState, FindingStatus, FindingsStore, LedgerItem, ResolvedBy, StoreError};

/// The table's partition key.
pub const FINDING_ID_KEY: &str = "finding_id";
/// The table's TTL attribute (template.yaml `TimeToLiveSpecification`).
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The sparse global secondary index of the findings not resolved (open or exempt), or resolved
/// with their last alert still owed: partition key [`OPEN_SCOPE_ATTRIBUTE`], sort key `resource`,
/// every attribute projected. Any other item carries no `open_scope` and so is not in the index.
/// template.yaml creates it.
pub const OPEN_INDEX: &str = "open-by-scope";
/// `<account>/<region>` of a finding not resolved ([`open_scope`]).
pub const OPEN_SCOPE_ATTRIBUTE: &str = "open_scope";
/// BatchGetItem takes at most 100 keys.
const BATCH_GET_MAX: usize = 100;

#[derive(Debug, Clone)]
pub struct DynamoDbFindings {
    pub(super) client: aws_sdk_dynamodb::Client,
    pub(super) table: String,
}

impl DynamoDbFindings {
    /// IAM actions the functions call (granted on the table only).
    pub const IAM_ACTIONS: &'static [&'static str] = &["dynamodb:BatchGetItem", "dynamodb:PutItem"];
    /// IAM actions on the table's [`OPEN_INDEX`] (the findings not resolved of one account-region
    /// or resource), granted on `<table ARN>/index/open-by-scope` only.
    pub const INDEX_IAM_ACTIONS: &'static [&'static str] = &["dynamodb:Query"];
    /// IAM actions `rdsguard findings list` calls (with the operator's credentials).
    pub const LIST_IAM_ACTIONS: &'static [&'static str] = &["dynamodb:Scan"];

    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Every item, optionally only those with `status` (a Scan: the CLI's listing).
    pub async fn list(&self, status: Option<FindingStatus>) -> Result<Vec<LedgerItem>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut request = self.client.scan().table_name(&self.table).set_exclusive_start_key(start.take());
            if let Some(status) = status {
                request = request
                    .filter_expression("#s = :s")
                    .expression_attribute_names("#s", "status")
                    .expression_attribute_values(":s", AttributeValue::S(status.as_str().to_owned()));
            }
            let output = request.send().await.map_err(|e| AwsError::from_sdk("Scan", e))?;
            // The table also keeps event claims (crate::ledger::event_claim): not findings.
            let findings = output.items().iter().filter(|item| {
                !item
                    .get(FINDING_ID_KEY)
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|id| id.starts_with(EVENT_CLAIM_PREFIX))
            });
            for item in findings {
                items.push(decode(item)?);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }
}

#[async_trait]
impl FindingsStore for DynamoDbFindings {
    async fn get_many(&self, ids: &[String]) -> Result<Vec<LedgerItem>, StoreError> {
        let mut items = Vec::new();
        for chunk in ids.chunks(BATCH_GET_MAX) {
            let mut keys: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|id| HashMap::from([(FINDING_ID_KEY.to_owned(), AttributeValue::S(id.clone()))]))
                .collect();
            // DynamoDB may leave keys unprocessed under load: ask again for those (a few times).
            for _ in 0..4 {
                if keys.is_empty() {
                    break;
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| AwsError { operation: "BatchGetItem", code: None, message: e.to_string() })?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("BatchGetItem", e))?;
                for item in output.responses.as_ref().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                    items.push(decode(item)?);
                }
                keys =
                    output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|k| k.keys).unwrap_or_default();
            }
            if !keys.is_empty() {
                return Err(AwsError {
                    operation: "BatchGetItem",
                    code: None,
                    message: format!("{} keys still unprocessed after retries", keys.len()),
                }
                .into());
            }
        }
        Ok(items)
    }

    async fn put_if_version(&self, item: &LedgerItem, expected: Option<u64>) -> Result<(), StoreError> {
        let mut request = self.client.put_item().table_name(&self.table).set_item(Some(encode(item)));
        request = match expected {
            None => request
                .condition_expression("attribute_not_exists(#id)")
                .expression_attribute_names("#id", FINDING_ID_KEY),
            Some(version) => request
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", AttributeValue::N(version.to_string())),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Err(StoreError::Conflict(item.finding_id.clone()))
            }
            Err(e) => Err(AwsError::from_sdk("PutItem", e).into()),
        }
    }

    async fn unresolved_in(
        &self,
        account: &str,
        region: &str,
        resource: Option<&str>,
    ) -> Result<Vec<LedgerItem>, StoreError> {
        let condition = if resource.is_some() { "#s = :s AND #r = :r" } else { "#s = :s" };
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(OPEN_INDEX)
                .key_condition_expression(condition)
                .expression_attribute_names("#s", OPEN_SCOPE_ATTRIBUTE)
                .expression_attribute_values(":s", s(&open_scope(account, region)))
                .set_exclusive_start_key(start.take());
            if let Some(resource) = resource {
                request =
                    request.expression_attribute_names("#r", "resource").expression_attribute_values(":r", s(resource));
            }
            let output = request.send().await.map_err(|e| AwsError::from_sdk("Query", e))?;
            for item in output.items() {
                items.push(decode(item)?);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }
}

/// The [`OPEN_SCOPE_ATTRIBUTE`] value of a finding of `account` in `region`.
pub fn open_scope(account: &str, region: &str) -> String {
    format!("{account}/{region}")
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn encode(item: &LedgerItem) -> HashMap<String, AttributeValue> {
    let mut map: HashMap<String, AttributeValue> = [
        (FINDING_ID_KEY, s(&item.finding_id)),
        ("rule", s(&item.rule)),
        ("title", s(&item.title)),
        ("account", s(&item.account)),
        ("region", s(&item.region)),
        ("resource", s(&item.resource)),
        ("resource_type", s(&item.resource_type)),
        ("resource_id", s(&item.resource_id)),
        ("status", s(item.status.as_str())),
        ("severity", s(&item.severity)),
        ("first_seen", n(item.first_seen)),
        ("last_seen", n(item.last_seen)),
        ("occurrences", n(item.occurrences)),
        ("last_action", s(&item.last_action)),
        ("last_action_status", s(&item.last_action_status)),
        ("evidence", s(&item.evidence)),
        ("version", n(item.version)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut optional = |name: &str, value: Option<AttributeValue>| {
        if let Some(value) = value {
            map.insert(name.to_owned(), value);
        }
    };
    optional("component", item.component.as_deref().map(s));
    // The sparse index of findings still to be reported on: resolved items leave it once their
    // last alert is settled (an alert still owed keeps them there, for the check that sends it).
    let indexed = item.status != FindingStatus::Resolved || item.alert != AlertState::Settled;
    optional(OPEN_SCOPE_ATTRIBUTE, indexed.then(|| s(&open_scope(&item.account, &item.region))));
    optional("last_event_id", item.last_event_id.as_deref().map(s));
    optional("last_alerted", item.last_alerted.map(n));
    optional("last_alert_reason", item.last_alert_reason.as_deref().map(s));
    optional("last_alert_message_id", item.last_alert_message_id.as_deref().map(s));
    optional("resolved_by", item.resolved_by.map(|r| s(r.as_str())));
    optional("resolved_at", item.resolved_at.map(n));
    optional(TTL_ATTRIBUTE, item.expires_at.map(n));
    match &item.alert {
        AlertState::Settled => optional("alert_state", Some(s("settled"))),
        AlertState::Claimed { at, reason } => {
            optional("alert_state", Some(s("claimed")));
            optional("alert_claimed_at", Some(n(at)));
            optional("alert_reason", Some(s(reason)));
        }
        AlertState::Unpublished { reason } => {
            optional("alert_state", Some(s("unpublished")));
            optional("alert_reason", Some(s(reason)));
        }
    }
    map
}

fn decode(map: &HashMap<String, AttributeValue>) -> Result<LedgerItem, StoreError> {
    let id = map.get(FINDING_ID_KEY).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let bad = |why: String| StoreError::Malformed { id: id.clone(), why };
    let text = |name: &str| -> Result<String, StoreError> {
        map.get(name).and_then(|v| v.as_s().ok()).cloned().ok_or_else(|| bad(format!("no string {name}")))
    };
    let optional_text = |name: &str| map.get(name).and_then(|v| v.as_s().ok()).cloned();
    let optional_number = |name: &str| -> Result<Option<i64>, StoreError> {
        match map.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(value) => value
                .as_n()
                .ok()
                .and_then(|raw| raw.parse().ok())
                .map(Some)
                .ok_or_else(|| bad(format!("{name} is not a whole number"))),
        }
    };
    let number = |name: &str| optional_number(name)?.ok_or_else(|| bad(format!("no number {name}")));
    let count = |name: &str| u64::try_from(number(name)?).map_err(|_| bad(format!("{name} is negative")));
    let status = text("status")?;
    let alert = match optional_text("alert_state").as_deref() {
        None | Some("settled") => AlertState::Settled,
        Some("claimed") => AlertState::Claimed {
            at: number("alert_claimed_at")?,
            reason: optional_text("alert_reason").unwrap_or_default(),
        },
        Some("unpublished") => AlertState::Unpublished { reason: optional_text("alert_reason").unwrap_or_default() },
        Some(other) => return Err(bad(format!("unknown alert_state {other:?}"))),
    };
    Ok(LedgerItem {
        finding_id: id.clone(),
        rule: text("rule")?,
        title: optional_text("title").unwrap_or_default(),
        account: text("account")?,
        region: text("region")?,
        resource: text("resource")?,
        resource_type: optional_text("resource_type").unwrap_or_default(),
        resource_id: optional_text("resource_id").unwrap_or_default(),
        component: optional_text("component"),
        status: FindingStatus::parse(&status).ok_or_else(|| bad(format!("unknown status {status:?}")))?,
        severity: text("severity")?,
        first_seen: number("first_seen")?,
        last_seen: number("last_seen")?,
        occurrences: count("occurrences")?,
        last_action: optional_text("last_action").unwrap_or_default(),
        last_action_status: optional_text("last_action_status").unwrap_or_default(),
        evidence: optional_text("evidence").unwrap_or_default(),
        last_event_id: optional_text("last_event_id"),
        last_alerted: optional_number("last_alerted")?,
        last_alert_reason: optional_text("last_alert_reason"),
        last_alert_message_id: optional_text("last_alert_message_id"),
        alert,
        resolved_by: optional_text("resolved_by").as_deref().and_then(ResolvedBy::parse),
        resolved_at: optional_number("resolved_at")?,
        expires_at: optional_number(TTL_ATTRIBUTE)?,
        version: count("version")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(alert: AlertState) -> LedgerItem {
        LedgerItem {
            finding_id: "abc".into(),
            rule: "RDS.10".into(),
            title: "IAM authentication".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            resource: "arn:aws:rds:us-east-1:123456789012:db:db1".into(),
            resource_type: "AWS::RDS::DBInstance".into(),
            resource_id: "db1".into(),
            component: None,
            status: FindingStatus::Resolved,
            severity: "MEDIUM".into(),
            first_seen: 1,
            last_seen: 2,
            occurrences: 3,
            last_action: "alert_only".into(),
            last_action_status: "not_attempted".into(),
            evidence: "{}".into(),
            last_event_id: Some("e-1".into()),
            last_alerted: Some(2),
            last_alert_reason: Some("new".into()),
            last_alert_message_id: Some("m-1".into()),
            alert,
            resolved_by: Some(ResolvedBy::Other),
            resolved_at: Some(2),
            expires_at: Some(99),
            version: 4,
        }
    }

    #[test]
    fn items_survive_the_round_trip() {
        for alert in [
            AlertState::Settled,
            AlertState::Claimed { at: 7, reason: "resolved".into() },
            AlertState::Unpublished { reason: "new".into() },
        ] {
            let original = item(alert);
            assert_eq!(decode(&encode(&original)).unwrap(), original);
        }
        let encoded = encode(&item(AlertState::Settled));
        assert_eq!(encoded.get(TTL_ATTRIBUTE), Some(&AttributeValue::N("99".into())));
        assert_eq!(encoded.get("version"), Some(&AttributeValue::N("4".into())));
    }

    #[test]
    fn malformed_items_are_refused_not_guessed() {
        let mut encoded = encode(&item(AlertState::Settled));
        encoded.insert("status".into(), AttributeValue::S("maybe".into()));
        assert!(matches!(decode(&encoded), Err(StoreError::Malformed { .. })));
        let mut encoded = encode(&item(AlertState::Settled));
        encoded.insert("occurrences".into(), AttributeValue::N("-1".into()));
        assert!(matches!(decode(&encoded), Err(StoreError::Malformed { .. })));
    }
}
