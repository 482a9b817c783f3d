//! Delivering a function's findings: one alert per finding, published to SNS; an alert SNS will not
//! take is kept in the dead-letter queue and fails the invocation, so nothing is lost.
//!
//! With the findings ledger on (FINDINGS_TABLE: the publisher carries it, see
//! [`AlertPublisher::ledger`]), only findings whose state changed are alerted (README "Findings
//! lifecycle"); the ledger never costs an alert: a finding it cannot read or write is alerted anyway,
//! logged, and counted (`LedgerErrors`).

mod outbox;

use std::sync::Arc;

use outbox::Outbox;
use serde::Serialize;
use tracing::{error, warn};

use crate::action::ActionOutcome;
use crate::alert::Alert;
use crate::aws::{AlertPublisher, AwsError, UndeliveredAlertSink};
use crate::finding::{EventContext, Finding};
use crate::ledger::{id_of, key_of, violation_of, AlertLifecycle, AlertReason, Gate, LedgerItem, QuietReason, Seen};

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
    /// The finding's ledger id (when the ledger is on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding_id: Option<String>,
    /// Why the ledger could not be used for this finding (it was alerted anyway).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_error: Option<String>,
}

impl FindingSummary {
    fn quiet(finding: &Finding, action: ActionOutcome, note: &str) -> Self {
        Self {
            rule: finding.rule.as_str().to_owned(),
            severity: finding.severity.as_str().to_owned(),
            resource: finding.resource.clone(),
            action,
            alert_message_id: None,
            alert_note: Some(note.to_owned()),
            finding_id: None,
            ledger_error: None,
        }
    }
}

/// Some alerts could not be published (the invocation must fail so the event is retried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{failed} of {total} alerts could not be published; first error: {first}")]
pub struct PublishFailure {
    pub failed: usize,
    pub total: usize,
    pub first: AwsError,
}

/// Where a function's alerts go, as its handler holds it: the publisher (SNS, through the findings
/// ledger and the re-check queue where they are configured) and the queue that keeps what SNS
/// would not take.
#[derive(Clone)]
pub struct Alerting {
    pub alerts: Arc<dyn AlertPublisher>,
    /// Keeps alerts SNS would not take (see [`UndeliveredAlertSink`]).
    pub undelivered: Option<Arc<dyn UndeliveredAlertSink>>,
}

impl Alerting {
    /// The delivery of alerts raised by `source` (the function's name).
    pub fn delivery<'a>(&'a self, source: &'a str) -> AlertDelivery<'a> {
        AlertDelivery {
            publisher: self.alerts.as_ref(),
            undelivered: self.undelivered.as_deref(),
            source,
            acted_as: None,
        }
    }

    /// The findings ledger the alerts pass through, when it is on.
    pub fn ledger(&self) -> Option<&crate::ledger::Ledger> {
        self.alerts.ledger()
    }

    /// Where deferred fixes are queued for a re-check, when that is configured.
    pub fn rechecks(&self) -> Option<&crate::recheck::Rechecks> {
        self.alerts.rechecks()
    }
}

/// Where one invocation's alerts go.
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

impl<'a> AlertDelivery<'a> {
    /// The same delivery, naming the role acted as in the resource's account.
    pub fn acting_as(self, role: Option<&'a str>) -> Self {
        Self { acted_as: role, ..self }
    }
}

/// A finding, what was done about it, and whether its alert is due (`Some(note)`: not alerted,
/// and why).
pub struct Outcome<'a> {
    pub finding: &'a Finding,
    pub action: ActionOutcome,
    pub suppressed: Option<&'static str>,
}

/// Publishes one alert per finding that is due one, all of them together at the end (SNS
/// PublishBatch). Every finding is attempted even if another failed; the summaries come back in
/// order, and `Err` says how many could not be published.
pub async fn deliver(
    outcomes: Vec<Outcome<'_>>,
    context: &EventContext,
    delivery: AlertDelivery<'_>,
) -> Result<Vec<FindingSummary>, (Vec<FindingSummary>, PublishFailure)> {
    deliver_judged(outcomes, &[], context, delivery).await
}

/// As [`deliver`], also telling the ledger which rules the check found compliant on the resource
/// (`cleared`: findings built for those rules, `observed` being the compliant state), so that it
/// resolves what it held open for them and alerts a resolution by someone else once. Without the
/// ledger, `cleared` is not used.
pub async fn deliver_judged(
    outcomes: Vec<Outcome<'_>>,
    cleared: &[Finding],
    context: &EventContext,
    delivery: AlertDelivery<'_>,
) -> Result<Vec<FindingSummary>, (Vec<FindingSummary>, PublishFailure)> {
    let mut outbox = Outbox::default();
    let Some(ledger) = delivery.publisher.ledger() else {
        for Outcome { finding, action, suppressed } in outcomes {
            match suppressed {
                Some(note) => outbox.quiet(FindingSummary::quiet(finding, action, note)),
                None => {
                    let alert = Alert::new(finding, context, action, delivery.source).acting_as(delivery.acted_as);
                    outbox.queue(alert, None);
                }
            }
        }
        let (summaries, errors) = outbox.flush(None, delivery).await;
        return finish(summaries, errors);
    };

    // Suppressed findings (a routine RDS notification) bypass the ledger, as they bypass alerting.
    let mut sightings: Vec<(crate::ledger::FindingKey, Seen)> = outcomes
        .iter()
        .filter(|o| o.suppressed.is_none())
        .map(|o| (key_of(o.finding), violation_of(o.finding, &o.action, &context.event_id)))
        .collect();
    sightings.extend(cleared.iter().map(|f| (key_of(f), Seen::Compliant)));
    let mut gates = ledger.judge(&sightings).await.into_iter();
    let mut transitions: Vec<LedgerItem> = Vec::new();

    for Outcome { finding, action, suppressed } in outcomes {
        if let Some(note) = suppressed {
            outbox.quiet(FindingSummary::quiet(finding, action, note));
            continue;
        }
        let alert = Alert::new(finding, context, action.clone(), delivery.source).acting_as(delivery.acted_as);
        match gates.next() {
            Some(Gate::Quiet { reason, .. }) => {
                let mut summary = FindingSummary::quiet(finding, action, reason.note());
                summary.finding_id = Some(id_of(finding));
                outbox.quiet(summary);
            }
            Some(Gate::Alert { reason, claim }) => {
                let alert = alert.with_lifecycle(Some(AlertLifecycle::of(&claim, reason)));
                outbox.queue(alert, Some(claim.clone()));
                transitions.push(claim);
            }
            Some(Gate::Unavailable(e)) => {
                error!(rule = %finding.rule, resource = %finding.resource, error = %e, "findings ledger unavailable; alerting anyway");
                let summary = outbox.queue(alert, None);
                summary.finding_id = Some(id_of(finding));
                summary.ledger_error = Some(e.to_string());
            }
            None => {
                error!(rule = %finding.rule, "findings ledger returned fewer verdicts than findings; alerting anyway");
                outbox.queue(alert, None).ledger_error = Some("no verdict from the ledger".to_owned());
            }
        }
    }
    for (finding, gate) in cleared.iter().zip(gates) {
        match gate {
            Gate::Alert { reason: AlertReason::Unpublished, claim } => {
                let alert = Alert::owed(finding, context, &claim, delivery.source).acting_as(delivery.acted_as);
                outbox.queue(alert, Some(claim.clone()));
                transitions.push(claim);
            }
            Gate::Alert { claim, .. } => {
                let alert = Alert::resolved(finding, context, &claim, delivery.source).acting_as(delivery.acted_as);
                outbox.queue(alert, Some(claim.clone()));
                transitions.push(claim);
            }
            Gate::Quiet { reason: QuietReason::ResolveAlertOff | QuietReason::ExemptResolved, item: Some(item) } => {
                // Resolved just now without an alert (ALERT_ON_RESOLVE=false): still a transition.
                transitions.push(item);
            }
            Gate::Unavailable(e) => {
                // Nothing is lost: the finding stays open in the ledger and resolves on a later check.
                error!(rule = %finding.rule, resource = %finding.resource, error = %e, "findings ledger unavailable; resolution not recorded");
            }
            Gate::Quiet { .. } => {}
        }
    }
    let (summaries, errors) = outbox.flush(Some(ledger), delivery).await;
    if let Err(e) = ledger.export(&transitions).await {
        error!(error = %e, findings = transitions.len(), "findings not exported to Security Hub");
    }
    finish(summaries, errors)
}

/// Publishes alerts that were built without a finding (e.g. [`crate::member_access`]), like
/// [`deliver`] does: every one attempted, undeliverable ones kept, `Err` if any failed.
pub async fn deliver_alerts(
    alerts: Vec<Alert>,
    delivery: AlertDelivery<'_>,
) -> Result<Vec<FindingSummary>, (Vec<FindingSummary>, PublishFailure)> {
    let mut outbox = Outbox::default();
    for alert in alerts {
        outbox.queue(alert, None);
    }
    let (summaries, errors) = outbox.flush(None, delivery).await;
    finish(summaries, errors)
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
pub(super) async fn keep_undelivered(sink: Option<&dyn UndeliveredAlertSink>, alert: &Alert, publish_error: &AwsError) {
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
