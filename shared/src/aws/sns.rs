//! Amazon SNS: publishing alerts.

use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;

use super::AwsError;
use crate::alert::Alert;
use crate::ledger::Ledger;
use crate::recheck::Rechecks;

/// Delivers an alert; returns the SNS message id.
#[async_trait]
pub trait AlertPublisher: Send + Sync {
    async fn publish(&self, alert: &Alert) -> Result<String, AwsError>;

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
    /// IAM actions this adapter calls.
    pub const IAM_ACTIONS: &'static [&'static str] = &["sns:Publish"];

    /// `client` must be configured for the topic's region.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self { client, topic_arn: topic_arn.into() }
    }
}

#[async_trait]
impl AlertPublisher for SnsAlertPublisher {
    async fn publish(&self, alert: &Alert) -> Result<String, AwsError> {
        let body = alert.body().map_err(|e| AwsError {
            operation: "Publish",
            code: None,
            message: format!("alert could not be serialised: {e}"),
        })?;
        let mut request = self.client.publish().topic_arn(&self.topic_arn).subject(alert.subject()).message(body);
        for (name, value) in alert.attributes() {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| AwsError { operation: "Publish", code: None, message: e.to_string() })?;
            request = request.message_attributes(name, attribute);
        }
        let output = request.send().await.map_err(|e| AwsError::from_sdk("Publish", e))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}
