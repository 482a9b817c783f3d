//! The alerts of one invocation, gathered while the findings are judged and published together at
//! the end ([`AlertPublisher::publish_all`]: SNS PublishBatch, 10 a call), each then settled on its
//! ledger claim, kept in the dead-letter queue if SNS would not take it, and reported in its place
//! among the invocation's summaries.

use tracing::error;

use super::{keep_undelivered, AlertDelivery, FindingSummary};
use crate::alert::Alert;
use crate::aws::{AlertPublisher, AwsError};
use crate::ledger::{Ledger, LedgerItem};

struct Pending {
    slot: usize,
    alert: Alert,
    claim: Option<LedgerItem>,
}

#[derive(Default)]
pub(super) struct Outbox {
    summaries: Vec<FindingSummary>,
    pending: Vec<Pending>,
}

impl Outbox {
    /// A finding reported without an alert.
    pub(super) fn quiet(&mut self, summary: FindingSummary) {
        self.summaries.push(summary);
    }

    /// An alert to publish; `claim`: the ledger claim to settle with its outcome. Returns its
    /// summary, to be completed by the caller (finding id, ledger error) before the next call.
    pub(super) fn queue(&mut self, alert: Alert, claim: Option<LedgerItem>) -> &mut FindingSummary {
        let summary = FindingSummary {
            finding_id: alert.lifecycle.as_ref().map(|l| l.finding_id.clone()),
            rule: alert.rule.clone(),
            severity: alert.severity.clone(),
            resource: alert.resource.clone(),
            action: alert.action.clone(),
            alert_message_id: None,
            alert_note: None,
            ledger_error: None,
        };
        let slot = self.summaries.len();
        self.summaries.push(summary);
        self.pending.push(Pending { slot, alert, claim });
        &mut self.summaries[slot]
    }

    /// Publishes every queued alert; with a ledger, records each outcome on its claim (a failure
    /// to record is logged and reported: the alert is out, at worst the next sighting repeats
    /// it). Returns the summaries in order and the errors of the alerts not published.
    pub(super) async fn flush(
        self,
        ledger: Option<&Ledger>,
        delivery: AlertDelivery<'_>,
    ) -> (Vec<FindingSummary>, Vec<AwsError>) {
        let Outbox { mut summaries, pending } = self;
        let alerts: Vec<Alert> = pending.iter().map(|p| p.alert.clone()).collect();
        let results = if alerts.is_empty() { Vec::new() } else { publish(delivery.publisher, &alerts).await };
        let mut errors = Vec::new();
        for (Pending { slot, alert, claim }, published) in pending.into_iter().zip(results) {
            if let (Some(ledger), Some(claim)) = (ledger, &claim) {
                let recorded = match &published {
                    Ok(id) => ledger.published(claim, id).await,
                    Err(_) => ledger.unpublished(claim).await,
                };
                if let Err(e) = recorded {
                    error!(rule = %alert.rule, resource = %alert.resource, error = %e, "alert outcome not recorded in the findings ledger");
                    summaries[slot].ledger_error = Some(e.to_string());
                }
            }
            match published {
                Ok(id) => summaries[slot].alert_message_id = Some(id),
                Err(e) => {
                    error!(rule = %alert.rule, resource = %alert.resource, error = %e, "alert could not be published");
                    keep_undelivered(delivery.undelivered, &alert, &e).await;
                    errors.push(e);
                }
            }
        }
        (summaries, errors)
    }
}

/// One result per alert, whatever the publisher answers.
async fn publish(publisher: &dyn AlertPublisher, alerts: &[Alert]) -> Vec<Result<String, AwsError>> {
    let mut results = publisher.publish_all(alerts).await;
    results.truncate(alerts.len());
    while results.len() < alerts.len() {
        results.push(Err(AwsError {
            operation: "PublishBatch",
            code: None,
            message: "the publisher returned no result for this alert".into(),
        }));
    }
    results
}
