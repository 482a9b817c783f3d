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
