//! Delivering a function's findings: one alert per finding, published to SNS; an alert SNS will not
//! take is kept in the dead-letter queue and fails the invocation, so nothing is lost.

use serde::Serialize;
use tracing::{error, warn};

use crate::alert::Alert;
use crate::aws::{AlertPublisher, AwsError, UndeliveredAlertSink};
use crate::finding::{EventContext, Finding};
use crate::remediate::ActionOutcome;

/// One finding as the invocation's JSON summary reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingSummary {
    pub rule: String,
    pub severity: String,
    pub resource: String,
    pub action: ActionOutcome,
    /// SNS message id; `None` when publishing failed or no alert was due.
    pub alert_message_id: Option<String>,
    /// Why no alert was published, when none was due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_note: Option<String>,
}

/// Some alerts could not be published (the invocation must fail so the event is retried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{failed} of {total} alerts could not be published; first error: {first}")]
pub struct PublishFailure {
    pub failed: usize,
    pub total: usize,
    pub first: AwsError,
}

/// Where alerts go.
#[derive(Clone, Copy)]
pub struct AlertDelivery<'a> {
    pub publisher: &'a dyn AlertPublisher,
    /// Keeps alerts SNS would not take (see [`UndeliveredAlertSink`]).
    pub undelivered: Option<&'a dyn UndeliveredAlertSink>,
    /// The rdsguard function raising the alerts.
    pub source: &'a str,
    /// The IAM role the function acted as in the resource's account (named in each alert).
    pub acted_as: Option<&'a str>,
}

/// A finding, what was done about it, and whether its alert is due (`Some(note)`: not alerted,
/// and why).
pub struct Outcome<'a> {
    pub finding: &'a Finding,
    pub action: ActionOutcome,
    pub suppressed: Option<&'static str>,
}

/// Publishes one alert per finding that is due one. Every finding is attempted even if an earlier
/// one failed; the summaries come back in order, and `Err` says how many could not be published.
pub async fn deliver(
    outcomes: Vec<Outcome<'_>>,
    context: &EventContext,
    delivery: AlertDelivery<'_>,
) -> Result<Vec<FindingSummary>, (Vec<FindingSummary>, PublishFailure)> {
    let mut summaries = Vec::with_capacity(outcomes.len());
    let mut errors: Vec<AwsError> = Vec::new();
    for Outcome { finding, action, suppressed } in outcomes {
        if let Some(note) = suppressed {
            summaries.push(FindingSummary {
                rule: finding.rule.as_str().to_owned(),
                severity: finding.severity.as_str().to_owned(),
                resource: finding.resource.clone(),
                action,
                alert_message_id: None,
                alert_note: Some(note.to_owned()),
            });
            continue;
        }
        let alert = Alert::new(finding, context, action, delivery.source).acting_as(delivery.acted_as);
        summaries.push(publish_one(alert, delivery, &mut errors).await);
    }
    finish(summaries, errors)
}

/// Publishes alerts that were built without a finding (e.g. [`crate::member_access`]), like
/// [`deliver`] does: every one attempted, undeliverable ones kept, `Err` if any failed.
pub async fn deliver_alerts(
    alerts: Vec<Alert>,
    delivery: AlertDelivery<'_>,
) -> Result<Vec<FindingSummary>, (Vec<FindingSummary>, PublishFailure)> {
    let mut summaries = Vec::with_capacity(alerts.len());
    let mut errors: Vec<AwsError> = Vec::new();
    for alert in alerts {
        summaries.push(publish_one(alert, delivery, &mut errors).await);
    }
    finish(summaries, errors)
}

async fn publish_one(alert: Alert, delivery: AlertDelivery<'_>, errors: &mut Vec<AwsError>) -> FindingSummary {
    let message_id = match delivery.publisher.publish(&alert).await {
        Ok(id) => Some(id),
        Err(e) => {
            error!(rule = %alert.rule, resource = %alert.resource, error = %e, "alert could not be published");
            keep_undelivered(delivery.undelivered, &alert, &e).await;
            errors.push(e);
            None
        }
    };
    FindingSummary {
        rule: alert.rule,
        severity: alert.severity,
        resource: alert.resource,
        action: alert.action,
        alert_message_id: message_id,
        alert_note: None,
    }
}

fn finish(
    summaries: Vec<FindingSummary>,
    errors: Vec<AwsError>,
) -> Result<Vec<FindingSummary>, (Vec<FindingSummary>, PublishFailure)> {
    match errors.first() {
        None => Ok(summaries),
        Some(first) => {
            let failure = PublishFailure { failed: errors.len(), total: summaries.len(), first: first.clone() };
            Err((summaries, failure))
        }
    }
}

/// Keeps an alert SNS would not take, so that it survives even if the retried event finds the
/// resource already compliant.
async fn keep_undelivered(sink: Option<&dyn UndeliveredAlertSink>, alert: &Alert, publish_error: &AwsError) {
    match sink {
        Some(sink) => match sink.keep(alert, publish_error).await {
            Ok(()) => {
                warn!(rule = %alert.rule, resource = %alert.resource, "undelivered alert kept in the dead-letter queue")
            }
            Err(e) => {
                error!(rule = %alert.rule, resource = %alert.resource, error = %e, "undelivered alert could not be kept either")
            }
        },
        None => warn!("no UNDELIVERED_ALERTS_QUEUE_URL: the undelivered alert survives only through the event's retry"),
    }
}
