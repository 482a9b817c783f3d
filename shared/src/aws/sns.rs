//! Amazon SNS: publishing alerts.

use async_trait::async_trait;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

use super::sns_batch::{publish_in_batches, BatchAnswer, BatchEntry, BatchSend, EntryFailure};
use super::AwsError;
use crate::alert::Alert;
use crate::ledger::Ledger;
use crate::recheck::Rechecks;

/// Delivers an alert; returns the SNS message id.
#[async_trait]
pub trait AlertPublisher: Send + Sync {
    async fn publish(&self, alert: &Alert) -> Result<String, AwsError>;

    /// Publishes the alerts of one invocation; one result per alert, in order. By default one
    /// [`Self::publish`] each; the SNS adapter sends them with PublishBatch.
    async fn publish_all(&self, alerts: &[Alert]) -> Vec<Result<String, AwsError>> {
        let mut results = Vec::with_capacity(alerts.len());
        for alert in alerts {
            results.push(self.publish(alert).await);
        }
        results
    }

    /// The findings ledger alerts pass through on their way here (FINDINGS_TABLE), if any. The
    /// publisher carries it so that every function's delivery ([`crate::report::deliver`]) uses
    /// it without each handler naming it; see [`crate::ledger::LedgeredAlerts`].
    fn ledger(&self) -> Option<&Ledger> {
        None
    }

    /// The re-check queue deferred outcomes are sent to after their alerts (RECHECK_QUEUE_URL),
    /// if any; carried like the ledger, see [`crate::recheck::RecheckingAlerts`].
    fn rechecks(&self) -> Option<&Rechecks> {
        None
    }
}

#[derive(Debug, Clone)]
pub struct SnsAlertPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsAlertPublisher {
    /// IAM actions this adapter calls: Publish and PublishBatch (which IAM authorises as
    /// `sns:Publish`; there is no `sns:PublishBatch` action).
    pub const IAM_ACTIONS: &'static [&'static str] = &["sns:Publish"];

    /// `client` must be configured for the topic's region.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self { client, topic_arn: topic_arn.into() }
    }
}

#[async_trait]
impl AlertPublisher for SnsAlertPublisher {
    async fn publish(&self, alert: &Alert) -> Result<String, AwsError> {
        let body = body_of(alert, "Publish")?;
        let mut request = self.client.publish().topic_arn(&self.topic_arn).subject(alert.subject()).message(body);
        for (name, value) in alert.attributes() {
            request = request.message_attributes(name, string_attribute(&value, "Publish")?);
        }
        let output = request.send().await.map_err(|e| AwsError::from_sdk("Publish", e))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }

    /// One PublishBatch call per 10 alerts (or 256 KiB); a partly failed call is followed by one
    /// with exactly the failed entries ([`super::sns_batch`]).
    async fn publish_all(&self, alerts: &[Alert]) -> Vec<Result<String, AwsError>> {
        let mut entries = Vec::with_capacity(alerts.len());
        let mut slots = Vec::with_capacity(alerts.len());
        for (i, alert) in alerts.iter().enumerate() {
            match body_of(alert, "PublishBatch") {
                Ok(message) => {
                    slots.push(Ok(entries.len()));
                    let attributes = alert.attributes().into_iter().collect();
                    entries.push(BatchEntry { id: format!("a{i}"), subject: alert.subject(), message, attributes });
                }
                Err(e) => slots.push(Err(e)),
            }
        }
        let mut published = publish_in_batches(self, &entries).await.into_iter();
        slots
            .into_iter()
            .map(|slot| match slot {
                Ok(_) => published.next().unwrap_or_else(|| {
                    Err(AwsError { operation: "PublishBatch", code: None, message: "no result for the alert".into() })
                }),
                Err(e) => Err(e),
            })
            .collect()
    }
}

#[async_trait]
impl BatchSend for SnsAlertPublisher {
    async fn send(&self, entries: &[BatchEntry]) -> Result<BatchAnswer, AwsError> {
        let mut request = self.client.publish_batch().topic_arn(&self.topic_arn);
        for entry in entries {
            let mut built =
                PublishBatchRequestEntry::builder().id(&entry.id).subject(&entry.subject).message(&entry.message);
            for (name, value) in &entry.attributes {
                built = built.message_attributes(*name, string_attribute(value, "PublishBatch")?);
            }
            let built = built.build().map_err(|e| AwsError {
                operation: "PublishBatch",
                code: None,
                message: e.to_string(),
            })?;
            request = request.publish_batch_request_entries(built);
        }
        let output = request.send().await.map_err(|e| AwsError::from_sdk("PublishBatch", e))?;
        Ok(BatchAnswer {
            successful: output
                .successful()
                .iter()
                .map(|ok| (ok.id().unwrap_or_default().to_owned(), ok.message_id().unwrap_or_default().to_owned()))
                .collect(),
            failed: output
                .failed()
                .iter()
                .map(|failed| EntryFailure {
                    id: failed.id().to_owned(),
                    code: failed.code().to_owned(),
                    message: failed.message().unwrap_or_default().to_owned(),
                    sender_fault: failed.sender_fault(),
                })
                .collect(),
        })
    }
}

fn body_of(alert: &Alert, operation: &'static str) -> Result<String, AwsError> {
    alert.body().map_err(|e| AwsError { operation, code: None, message: format!("alert could not be serialised: {e}") })
}

fn string_attribute(value: &str, operation: &'static str) -> Result<MessageAttributeValue, AwsError> {
    MessageAttributeValue::builder().data_type("String").string_value(value).build().map_err(|e| AwsError {
        operation,
        code: None,
        message: e.to_string(),
    })
}
