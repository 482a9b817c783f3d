//! Amazon SQS: keeping alerts that SNS would not take.
//!
//! When publishing fails after rds-guard already changed a database, a retry of the event finds
//! the database compliant and would never alert: the alert itself must be kept. It is written to
//! the dead-letter queue (as JSON, with the publish error) before the invocation fails.

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageAttributeValue;

use super::AwsError;
use crate::alert::Alert;

#[async_trait]
pub trait UndeliveredAlertSink: Send + Sync {
    async fn keep(&self, alert: &Alert, publish_error: &AwsError) -> Result<(), AwsError>;
}

#[derive(Debug, Clone)]
pub struct SqsUndeliveredAlerts {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsUndeliveredAlerts {
    /// IAM actions this adapter calls.
    pub const IAM_ACTIONS: &'static [&'static str] = &["sqs:SendMessage"];

    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }
}

fn string_attribute(value: String) -> Result<MessageAttributeValue, AwsError> {
    MessageAttributeValue::builder().data_type("String").string_value(value).build().map_err(|e| AwsError {
        operation: "SendMessage",
        code: None,
        message: e.to_string(),
    })
}

#[async_trait]
impl UndeliveredAlertSink for SqsUndeliveredAlerts {
    async fn keep(&self, alert: &Alert, publish_error: &AwsError) -> Result<(), AwsError> {
        let body = alert.body().map_err(|e| AwsError {
            operation: "SendMessage",
            code: None,
            message: format!("alert could not be serialised: {e}"),
        })?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes("kind", string_attribute("undelivered-alert".to_owned())?)
            .message_attributes("publish_error", string_attribute(publish_error.to_string())?)
            .message_attributes("subject", string_attribute(alert.subject())?)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("SendMessage", e))
    }
}

/// The sweep queue: sweep-planner sends one message per account-region.
#[async_trait]
pub trait SweepQueue: Send + Sync {
    /// SendMessageBatch of at most [`SQS_BATCH_MAX`] `(id, body)` entries; returns the ids of the
    /// entries SQS did not take (with its reason), the others were sent.
    async fn send_batch(&self, entries: &[(String, String)]) -> Result<Vec<(String, String)>, AwsError>;
}

/// SendMessageBatch takes at most 10 entries.
pub const SQS_BATCH_MAX: usize = 10;

#[derive(Debug, Clone)]
pub struct SqsSweepQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsSweepQueue {
    /// IAM actions this adapter calls: SendMessageBatch is authorised as sqs:SendMessage.
    pub const IAM_ACTIONS: &'static [&'static str] = &["sqs:SendMessage"];

    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }
}

#[async_trait]
impl SweepQueue for SqsSweepQueue {
    async fn send_batch(&self, entries: &[(String, String)]) -> Result<Vec<(String, String)>, AwsError> {
        let mut request = self.client.send_message_batch().queue_url(&self.queue_url);
        for (id, body) in entries {
            let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(id)
                .message_body(body)
                .build()
                .map_err(|e| AwsError { operation: "SendMessageBatch", code: None, message: e.to_string() })?;
            request = request.entries(entry);
        }
        let output = request.send().await.map_err(|e| AwsError::from_sdk("SendMessageBatch", e))?;
        Ok(output
            .failed()
            .iter()
            .map(|f| (f.id().to_owned(), format!("{}: {}", f.code(), f.message().unwrap_or_default())))
            .collect())
    }
}

/// The re-check queue ([`crate::recheck`]): one delayed message per deferred outcome.
#[async_trait]
pub trait RecheckQueue: Send + Sync {
    /// SendMessage of `body`, delivered after `delay_seconds` (SQS takes 0 to 900).
    async fn send_delayed(&self, body: &str, delay_seconds: u32) -> Result<(), AwsError>;
}

#[derive(Debug, Clone)]
pub struct SqsRecheckQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsRecheckQueue {
    /// IAM actions this adapter calls.
    pub const IAM_ACTIONS: &'static [&'static str] = &["sqs:SendMessage"];

    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }
}

#[async_trait]
impl RecheckQueue for SqsRecheckQueue {
    async fn send_delayed(&self, body: &str, delay_seconds: u32) -> Result<(), AwsError> {
        let delay = i32::try_from(delay_seconds.min(900)).unwrap_or(900);
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("SendMessage", e))
    }
}
