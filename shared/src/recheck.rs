//! The re-check queue: a fix that RDS did not accept yet (database creating, modifying, backing
//! up, stopped by rdsguard), or accepted but not visible before the invocation's deadline, is
//! alerted `deferred` and *also* queued as one delayed SQS message naming the one resource
//! ([`RecheckMessage`]). sweep-worker consumes the queue and runs the one check again for that
//! resource; a fix still deferred is queued again with a longer delay ([`delay_seconds`], up to
//! SQS's 15 minutes), and after `RECHECK_MAX_ATTEMPTS` it is alerted `failed` ("still deferred
//! after …").
//!
//! The message is a serde enum tagged by `kind`: a new kind of continuation (e.g. the next step of
//! an encryption migration) is a new variant, dispatched by the consumer in one place.
//!
//! Sending never costs an alert: the alert is delivered first; a message that cannot be sent
//! fails the invocation as an alert that cannot be published does.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tracing::{error, info, warn};

use crate::action::{ActionOutcome, ActionStatus};
use crate::alert::Alert;
use crate::aws::{AlertPublisher, AwsError, RecheckQueue};
use crate::finding::Finding;
use crate::ledger::Ledger;

/// The queue's URL; unset: deferred outcomes are not re-checked (only alerted).
pub const ENV_RECHECK_QUEUE_URL: &str = "RECHECK_QUEUE_URL";
/// How many re-checks a deferred fix gets before it is alerted `failed` (sweep-worker).
pub const ENV_RECHECK_MAX_ATTEMPTS: &str = "RECHECK_MAX_ATTEMPTS";
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
/// The delay of the first re-check; each next one waits twice as long, up to [`MAX_DELAY_SECONDS`].
pub const FIRST_DELAY_SECONDS: u32 = 60;
/// SQS's largest DelaySeconds (15 minutes).
pub const MAX_DELAY_SECONDS: u32 = 900;

/// One message of the re-check queue, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecheckMessage {
    /// Run the check of one resource again for a rule whose fix was deferred.
    Resource(ResourceRecheck),
}

impl RecheckMessage {
    /// Reads a message body; `Ok(None)` when the body is not a re-check (it has no `kind`).
    pub fn parse(body: &str) -> Result<Option<Self>, String> {
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|e| format!("the message is not JSON: {e}"))?;
        if value.get("kind").is_none() {
            return Ok(None);
        }
        serde_json::from_value(value).map(Some).map_err(|e| format!("the re-check message cannot be read: {e}"))
    }

    /// How many times this message's subject was re-checked before (1 for the first re-check).
    pub fn attempt(&self) -> u32 {
        match self {
            Self::Resource(r) => r.attempt,
        }
    }
}

/// The kinds of resource a re-check can run the check of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecheckResource {
    DbInstance,
    DbCluster,
    DbSnapshot,
    DbClusterSnapshot,
    DbParameterGroup,
    DbClusterParameterGroup,
    SecurityGroup,
}

impl RecheckResource {
    /// From a finding's CloudFormation type; `None` for a type no check re-runs on its own.
    pub fn from_aws_type(resource_type: &str) -> Option<Self> {
        Some(match resource_type {
            "AWS::RDS::DBInstance" => Self::DbInstance,
            "AWS::RDS::DBCluster" => Self::DbCluster,
            "AWS::RDS::DBSnapshot" => Self::DbSnapshot,
            "AWS::RDS::DBClusterSnapshot" => Self::DbClusterSnapshot,
            "AWS::RDS::DBParameterGroup" => Self::DbParameterGroup,
            "AWS::RDS::DBClusterParameterGroup" => Self::DbClusterParameterGroup,
            "AWS::EC2::SecurityGroup" => Self::SecurityGroup,
            _ => return None,
        })
    }
}

/// The one resource to check again, and for which rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRecheck {
    pub account: String,
    pub region: String,
    pub resource: RecheckResource,
    /// The resource's identifier (DB identifier, snapshot or group name, security group id).
    pub id: String,
    /// The rule whose fix was deferred (e.g. `RDS.2`).
    pub rule: String,
    /// Which re-check this is: 1 for the first.
    pub attempt: u32,
}

impl ResourceRecheck {
    /// The first re-check of a deferred outcome; `None` when the outcome is not deferred or no
    /// check re-runs on the finding's resource type on its own (logged).
    pub fn for_deferred(finding: &Finding, action: &ActionOutcome) -> Option<Self> {
        if action.status != ActionStatus::Deferred {
            return None;
        }
        let Some(resource) = RecheckResource::from_aws_type(finding.resource_type) else {
            warn!(rule = %finding.rule, resource = %finding.resource, "deferred, but no check re-runs on this resource type: not re-checked");
            return None;
        };
        Some(Self {
            account: finding.account.to_string(),
            region: finding.region.to_string(),
            resource,
            id: finding.resource_id.clone(),
            rule: finding.rule.as_str().to_owned(),
            attempt: 1,
        })
    }

    /// The re-check after this one.
    pub fn next(&self) -> Self {
        Self { attempt: self.attempt + 1, ..self.clone() }
    }
}

/// The DelaySeconds of re-check `attempt` (1-based): 60 s, doubling, at most 900 s.
pub fn delay_seconds(attempt: u32) -> u32 {
    let doublings = attempt.saturating_sub(1).min(10);
    FIRST_DELAY_SECONDS.saturating_mul(1 << doublings).min(MAX_DELAY_SECONDS)
}

/// The time `attempts` re-checks wait in all (the sum of their delays), in seconds.
pub fn waited_seconds(attempts: u32) -> u32 {
    (1..=attempts).map(delay_seconds).sum()
}

/// The re-check queue and how many re-checks a deferred fix gets.
#[derive(Clone)]
pub struct Rechecks {
    queue: Arc<dyn RecheckQueue>,
    pub max_attempts: u32,
}

/// Some re-check messages could not be sent (the invocation fails so the event is retried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{failed} of {total} re-checks of deferred fixes could not be queued; first error: {first}")]
pub struct RecheckSendFailure {
    pub failed: usize,
    pub total: usize,
    pub first: AwsError,
}

/// `RECHECK_MAX_ATTEMPTS` is not a whole number from 1 to 100.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ENV_RECHECK_MAX_ATTEMPTS} must be a whole number from 1 to 100, got {0:?}")]
pub struct RecheckConfigError(pub String);

/// Reads `RECHECK_MAX_ATTEMPTS` (unset or empty: [`DEFAULT_MAX_ATTEMPTS`]).
pub fn max_attempts_from(raw: Option<&str>) -> Result<u32, RecheckConfigError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_MAX_ATTEMPTS),
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(RecheckConfigError(raw.to_owned())),
        },
    }
}

impl Rechecks {
    pub fn new(queue: Arc<dyn RecheckQueue>, max_attempts: u32) -> Self {
        Self { queue, max_attempts }
    }

    /// Sends one message, delayed by [`delay_seconds`] of its attempt.
    pub async fn send(&self, message: &RecheckMessage) -> Result<(), AwsError> {
        let body = serde_json::to_string(message).map_err(|e| AwsError {
            operation: "SendMessage",
            code: None,
            message: format!("re-check message could not be serialised: {e}"),
        })?;
        let delay = delay_seconds(message.attempt());
        self.queue.send_delayed(&body, delay).await?;
        info!(%body, delay_seconds = delay, "re-check queued");
        Ok(())
    }

    /// Sends every message (each is attempted even if an earlier one failed).
    pub async fn send_all(&self, messages: &[RecheckMessage]) -> Result<usize, RecheckSendFailure> {
        let mut errors = Vec::new();
        for message in messages {
            if let Err(e) = self.send(message).await {
                error!(error = %e, ?message, "re-check could not be queued");
                errors.push(e);
            }
        }
        match errors.first() {
            None => Ok(messages.len()),
            Some(first) => {
                Err(RecheckSendFailure { failed: errors.len(), total: messages.len(), first: first.clone() })
            }
        }
    }
}

/// Queues the first re-check of every deferred outcome among `findings`, after their alerts were
/// delivered. Without a queue (RECHECK_QUEUE_URL unset) nothing is sent. Returns how many were.
pub async fn queue_deferred<'a>(
    rechecks: Option<&Rechecks>,
    findings: impl IntoIterator<Item = (&'a Finding, &'a ActionOutcome)>,
) -> Result<usize, RecheckSendFailure> {
    let messages: Vec<RecheckMessage> = findings
        .into_iter()
        .filter_map(|(finding, action)| ResourceRecheck::for_deferred(finding, action))
        .map(RecheckMessage::Resource)
        .collect();
    queue_messages(rechecks, &messages).await
}

/// Queues `messages` (e.g. re-checks a function builds itself); without a queue, logs them.
pub async fn queue_messages(
    rechecks: Option<&Rechecks>,
    messages: &[RecheckMessage],
) -> Result<usize, RecheckSendFailure> {
    if messages.is_empty() {
        return Ok(0);
    }
    match rechecks {
        Some(rechecks) => rechecks.send_all(messages).await,
        None => {
            warn!(
                deferred = messages.len(),
                "no RECHECK_QUEUE_URL: deferred fixes are not re-checked until the next event or sweep"
            );
            Ok(0)
        }
    }
}

/// An alert publisher carrying the re-check queue (what [`crate::startup::Plumbing`] hands every
/// function when RECHECK_QUEUE_URL is set): the handlers reach the queue through the publisher
/// they already have, as they reach the findings ledger.
pub struct RecheckingAlerts {
    publisher: Arc<dyn AlertPublisher>,
    rechecks: Rechecks,
}

impl RecheckingAlerts {
    pub fn new(publisher: Arc<dyn AlertPublisher>, rechecks: Rechecks) -> Self {
        Self { publisher, rechecks }
    }
}

#[async_trait]
impl AlertPublisher for RecheckingAlerts {
    async fn publish(&self, alert: &Alert) -> Result<String, AwsError> {
        self.publisher.publish(alert).await
    }

    async fn publish_all(&self, alerts: &[Alert]) -> Vec<Result<String, AwsError>> {
        self.publisher.publish_all(alerts).await
    }

    fn ledger(&self) -> Option<&Ledger> {
        self.publisher.ledger()
    }

    fn rechecks(&self) -> Option<&Rechecks> {
        Some(&self.rechecks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_a_minute_up_to_fifteen_minutes() {
        let delays: Vec<u32> = (1..=9).map(delay_seconds).collect();
        assert_eq!(delays, [60, 120, 240, 480, 900, 900, 900, 900, 900]);
        assert_eq!(delay_seconds(0), 60);
        assert_eq!(delay_seconds(u32::MAX), 900);
        assert_eq!(waited_seconds(8), 60 + 120 + 240 + 480 + 4 * 900);
    }

    #[test]
    fn messages_are_tagged_by_kind_and_bodies_without_kind_are_not_rechecks() {
        let message = RecheckMessage::Resource(ResourceRecheck {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            resource: RecheckResource::DbInstance,
            id: "orders".into(),
            rule: "RDS.2".into(),
            attempt: 3,
        });
        let body = serde_json::to_string(&message).unwrap();
        assert!(body.contains(r#""kind":"resource""#), "{body}");
        assert!(body.contains(r#""resource":"db_instance""#), "{body}");
        assert_eq!(RecheckMessage::parse(&body), Ok(Some(message)));
        assert_eq!(RecheckMessage::parse(r#"{"account": "123456789012", "region": "eu-west-1"}"#), Ok(None));
        let unknown = RecheckMessage::parse(r#"{"kind": "teleport", "id": "x"}"#).unwrap_err();
        assert!(unknown.contains("cannot be read"), "{unknown}");
        assert!(RecheckMessage::parse("garbage").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn max_attempts_is_read_or_refused() {
        let cases: [(Option<&str>, Result<u32, ()>); 6] = [
            (None, Ok(8)),
            (Some(""), Ok(8)),
            (Some("3"), Ok(3)),
            (Some("0"), Err(())),
            (Some("101"), Err(())),
            (Some("x"), Err(())),
        ];
        for (raw, expected) in cases {
            assert_eq!(max_attempts_from(raw).map_err(|_| ()), expected, "{raw:?}");
        }
    }

    #[test]
    fn resource_types_map_to_what_a_check_re_runs_on() {
        let cases = [
            ("AWS::RDS::DBInstance", Some(RecheckResource::DbInstance)),
            ("AWS::RDS::DBClusterSnapshot", Some(RecheckResource::DbClusterSnapshot)),
            ("AWS::RDS::DBClusterParameterGroup", Some(RecheckResource::DbClusterParameterGroup)),
            ("AWS::EC2::SecurityGroup", Some(RecheckResource::SecurityGroup)),
            ("AWS::CloudTrail::Trail", None),
        ];
        for (aws_type, expected) in cases {
            assert_eq!(RecheckResource::from_aws_type(aws_type), expected, "{aws_type}");
        }
    }
}
