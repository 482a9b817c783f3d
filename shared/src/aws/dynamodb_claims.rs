//! Event claims ([`crate::ledger::event_claim`]) in the findings table: one item per event and
//! function, key `event#<function>#<event id>#<event time>`, written with PutItem conditions and read
//! with a consistent BatchGetItem — the two actions the functions already have on the table.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::dynamodb::{DynamoDbFindings, FINDING_ID_KEY, TTL_ATTRIBUTE};
use super::AwsError;
use crate::ledger::{ClaimState, EventClaim, EventClaims, StoreError};

const STATE: &str = "claim_state";
const TOKEN: &str = "claim_token";
const CLAIMED_AT: &str = "claimed_at";
const LEASE_UNTIL: &str = "lease_until";

#[async_trait]
impl EventClaims for DynamoDbFindings {
    async fn try_claim(&self, claim: &EventClaim, now: i64) -> Result<bool, StoreError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(claim)))
            .condition_expression(
                "attribute_not_exists(#id) OR #state = :failed OR (#state = :handling AND #lease < :now)",
            )
            .expression_attribute_names("#id", FINDING_ID_KEY)
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_values(":failed", s(ClaimState::Failed.as_str()))
            .expression_attribute_values(":handling", s(ClaimState::Handling.as_str()))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        conditional(written.map(drop), "PutItem")
    }

    async fn read_claim(&self, key: &str) -> Result<Option<EventClaim>, StoreError> {
        let keys = KeysAndAttributes::builder()
            .keys(HashMap::from([(FINDING_ID_KEY.to_owned(), s(key))]))
            .consistent_read(true)
            .build()
            .map_err(|e| AwsError { operation: "BatchGetItem", code: None, message: e.to_string() })?;
        let output = self
            .client
            .batch_get_item()
            .request_items(&self.table, keys)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("BatchGetItem", e))?;
        if output.unprocessed_keys.as_ref().is_some_and(|u| u.contains_key(&self.table)) {
            return Err(AwsError {
                operation: "BatchGetItem",
                code: None,
                message: format!("claim {key} left unprocessed"),
            }
            .into());
        }
        output
            .responses
            .as_ref()
            .and_then(|r| r.get(&self.table))
            .and_then(|items| items.first())
            .map(decode)
            .transpose()
    }

    async fn settle_claim(&self, claim: &EventClaim) -> Result<(), StoreError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(claim)))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", TOKEN)
            .expression_attribute_values(":token", s(&claim.token))
            .send()
            .await;
        // Taken over by another invocation (this one ran past its lease): theirs stands.
        conditional(written.map(drop), "PutItem").map(drop)
    }
}

/// `Ok(true)` written, `Ok(false)` the condition did not hold.
fn conditional(
    result: Result<(), aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError>>,
    operation: &'static str,
) -> Result<bool, StoreError> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
        Err(e) => Err(AwsError::from_sdk(operation, e).into()),
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn encode(claim: &EventClaim) -> HashMap<String, AttributeValue> {
    [
        (FINDING_ID_KEY, s(&claim.key)),
        ("item_kind", s("event_claim")),
        (STATE, s(claim.state.as_str())),
        (TOKEN, s(&claim.token)),
        (CLAIMED_AT, n(claim.claimed_at)),
        (LEASE_UNTIL, n(claim.lease_until)),
        (TTL_ATTRIBUTE, n(claim.expires_at)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn decode(map: &HashMap<String, AttributeValue>) -> Result<EventClaim, StoreError> {
    let key = map.get(FINDING_ID_KEY).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let bad = |why: String| StoreError::Malformed { id: key.clone(), why };
    let text =
        |name: &str| map.get(name).and_then(|v| v.as_s().ok()).cloned().ok_or_else(|| bad(format!("no string {name}")));
    let number = |name: &str| {
        map.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|raw| raw.parse::<i64>().ok())
            .ok_or_else(|| bad(format!("no whole number {name}")))
    };
    let state = text(STATE)?;
    Ok(EventClaim {
        key: key.clone(),
        token: text(TOKEN)?,
        state: ClaimState::parse(&state).ok_or_else(|| bad(format!("unknown {STATE} {state:?}")))?,
        claimed_at: number(CLAIMED_AT)?,
        lease_until: number(LEASE_UNTIL)?,
        expires_at: number(TTL_ATTRIBUTE)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_survive_the_round_trip_and_bad_ones_are_refused() {
        for state in [ClaimState::Handling, ClaimState::Handled, ClaimState::Failed] {
            let claim = EventClaim {
                key: "event#rds-guard#e-1#2026-12-03T06:00:00Z".into(),
                token: "1-2-3".into(),
                state,
                claimed_at: 10,
                lease_until: 20,
                expires_at: 30,
            };
            assert_eq!(decode(&encode(&claim)).unwrap(), claim);
        }
        let mut broken = encode(&EventClaim {
            key: "event#x".into(),
            token: "t".into(),
            state: ClaimState::Handled,
            claimed_at: 1,
            lease_until: 2,
            expires_at: 3,
        });
        broken.insert(STATE.into(), s("done"));
        assert!(matches!(decode(&broken), Err(StoreError::Malformed { .. })));
    }
}
