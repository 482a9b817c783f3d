//! The sweep-worker handler: SQS batch → per message (account, region) → connect through the
//! member session → [`sweep_region`] → deliver every finding (the findings ledger included) →
//! the message's outcome. Messages that failed are answered as `batchItemFailures`, the others are
//! deleted from the queue by Lambda.

use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use rdsguard::aws::{AccountSessions, NetworkPorts, SdkEc2, SdkKms, SdkRds};
use rdsguard::checks::CheckScope;
use rdsguard::finding::EventContext;
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::kernel::Deadline;
use rdsguard::ledger::{once_per_event, EventBusy, Once};
use rdsguard::policy::Policy;
use rdsguard::recheck::{queue_deferred, RecheckMessage};
use rdsguard::remediate::Confirmation;
use rdsguard::report::{deliver_judged, Alerting, FindingSummary, Outcome};
use rdsguard::sweep::{sweep_region, RegionSweep};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{error, info, warn};

use crate::recheck::recheck_resource;

/// Name of this function in alerts and in its member role's name.
pub const FUNCTION_NAME: &str = "sweep-worker";

/// The event name alerts cite for a finding a sweep made.
pub const SWEEP_EVENT_NAME: &str = "ScheduledSweep";

/// One message of the sweep queue: the account-region to sweep (no `kind`: a message with one is
/// a re-check, [`RecheckMessage`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepRequest {
    pub account: String,
    pub region: String,
}

/// Everything the handler needs, built once per container.
pub struct SweepWorker {
    pub policy: Policy,
    /// Sessions in member accounts through `<MEMBER_ROLE_NAME>-sweep-worker` (own account: the
    /// function's own role).
    pub sessions: Arc<AccountSessions>,
    /// Where alerts go (and what SNS would not take is kept).
    pub alerting: Alerting,
    pub confirmation: Confirmation,
}

/// Why a whole invocation failed (not one message: those are batch item failures).
#[derive(Debug, thiserror::Error)]
pub enum SweepWorkerError {
    #[error("sweep-worker expects an SQS event ({{\"Records\": [...]}}): {0}")]
    NotAnSqsEvent(String),
}

impl SweepWorkerError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotAnSqsEvent(_) => "UnusableEvent",
        }
    }
}

impl rdsguard::kernel::InvocationFailure for SweepWorkerError {
    fn kind(&self) -> &'static str {
        SweepWorkerError::kind(self)
    }
}

/// What one message's sweep did.
#[derive(Debug, Clone, Serialize)]
pub struct MessageReport {
    pub message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `swept` (complete), `partial` (some listing or check failed), `rechecked` (a re-check
    /// message ran), `repeated` (with the ledger: SQS delivered a message already handled, or
    /// handled meanwhile by a concurrent delivery; nothing done), `failed` (nothing swept, an alert
    /// could not be published or a re-check could not be queued).
    pub outcome: &'static str,
    pub resources_judged: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// The invocation's answer: Lambda reads `batchItemFailures`; the rest is for logs and tests.
#[derive(Debug, Clone, Serialize)]
pub struct BatchReport {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<BatchItemFailure>,
    pub messages: Vec<MessageReport>,
    pub findings: Vec<FindingSummary>,
}

impl rdsguard::kernel::InvocationReport for BatchReport {
    fn findings(&self) -> &[FindingSummary] {
        &self.findings
    }
}

impl BatchReport {
    /// The sweep-coverage counts of this batch (EMF, [`rdsguard::metrics::emit_counts`]).
    pub fn coverage(&self) -> [(&'static str, u64); 3] {
        let count = |outcome: &str| self.messages.iter().filter(|m| m.outcome == outcome).count() as u64;
        [
            (rdsguard::metrics::ACCOUNT_REGIONS_SWEPT, count("swept")),
            (rdsguard::metrics::ACCOUNT_REGIONS_PARTIAL, count("partial")),
            (rdsguard::metrics::RECHECKS_RUN, count("rechecked")),
        ]
    }

    /// The SQS batch response Lambda expects (only the failures).
    pub fn response(&self) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = self.batch_item_failures.clone();
        response
    }
}

/// Handles one SQS batch, message after message (one sweep at a time per invocation: the
/// function's reserved concurrency is the number of account-regions swept at once). A message
/// fails when it cannot be read, when its account cannot be reached, when the sweep was partial
/// or when an alert could not be published; outcomes reached are published in every case.
pub async fn handle_batch(
    payload: Value,
    worker: &SweepWorker,
    deadline: Deadline,
) -> Result<BatchReport, SweepWorkerError> {
    let event: SqsEvent =
        serde_json::from_value(payload).map_err(|e| SweepWorkerError::NotAnSqsEvent(e.to_string()))?;
    let mut report = BatchReport { batch_item_failures: Vec::new(), messages: Vec::new(), findings: Vec::new() };
    for message in &event.records {
        let message_id = message.message_id.clone().unwrap_or_default();
        let (outcome, findings) = handle_message(message, worker, deadline).await;
        let failed = matches!(outcome.outcome, "failed" | "partial");
        if failed {
            warn!(message_id = %message_id, outcome = outcome.outcome, errors = ?outcome.errors, "sweep message failed; SQS delivers it again");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            report.batch_item_failures.push(failure);
        }
        report.messages.push(outcome);
        report.findings.extend(findings);
    }
    Ok(report)
}

fn failed(message_id: &str, request: Option<&SweepRequest>, error: String) -> MessageReport {
    MessageReport {
        message_id: message_id.to_owned(),
        account: request.map(|r| r.account.clone()),
        region: request.map(|r| r.region.clone()),
        outcome: "failed",
        resources_judged: 0,
        errors: vec![error],
    }
}

/// Parses a message body into a checked account and region.
pub fn parse_request(body: &str) -> Result<(SweepRequest, AccountId, AwsRegion), String> {
    let request: SweepRequest = serde_json::from_str(body)
        .map_err(|e| format!("the message is not {{\"account\": \"...\", \"region\": \"...\"}}: {e}"))?;
    let (account, region) = parse_request_parts(&request)?;
    Ok((request, account, region))
}

fn parse_request_parts(request: &SweepRequest) -> Result<(AccountId, AwsRegion), String> {
    let account = AccountId::parse(&request.account).map_err(|e| format!("account: {e}"))?;
    let region = AwsRegion::parse(&request.region).map_err(|e| format!("region: {e}"))?;
    Ok((account, region))
}

/// What one message asks for: a sweep of an account-region (sweep-planner's messages, no `kind`)
/// or a re-check (a [`RecheckMessage`], tagged by `kind`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerMessage {
    Sweep(SweepRequest),
    Recheck(RecheckMessage),
}

/// Reads a message body of either queue.
pub fn parse_message(body: &str) -> Result<WorkerMessage, String> {
    match RecheckMessage::parse(body)? {
        Some(recheck) => Ok(WorkerMessage::Recheck(recheck)),
        None => parse_request(body).map(|(request, _, _)| WorkerMessage::Sweep(request)),
    }
}

async fn handle_message(
    message: &SqsMessage,
    worker: &SweepWorker,
    deadline: Deadline,
) -> (MessageReport, Vec<FindingSummary>) {
    let message_id = message.message_id.clone().unwrap_or_default();
    let parsed = match parse_message(message.body.as_deref().unwrap_or_default()) {
        Ok(parsed) => parsed,
        Err(e) => {
            error!(message_id = %message_id, error = %e, "message could not be read");
            return (failed(&message_id, None, e), Vec::new());
        }
    };
    if !deadline.allows(rdsguard::kernel::PUBLISH_RESERVE) {
        return (failed(&message_id, None, "no time left in this invocation".to_owned()), Vec::new());
    }
    once_per_message(&message_id, parsed, worker, deadline).await
}

/// A message's end that SQS must deliver again: its sweep or re-check did not finish
/// (`failed`/`partial`), or another invocation still holds the same message at this one's deadline.
enum Unfinished {
    Ended(MessageReport, Vec<FindingSummary>),
    Busy(EventBusy),
}

impl From<EventBusy> for Unfinished {
    fn from(busy: EventBusy) -> Self {
        Self::Busy(busy)
    }
}

/// Runs the message once (with the ledger: claimed in its table by SQS message id, as the event
/// functions claim events), so a message SQS delivers twice — one after the other, or to two
/// invocations at once — is not fixed or alerted twice. A message that did not finish leaves its
/// claim `failed`, so SQS's next delivery is handled.
async fn once_per_message(
    message_id: &str,
    message: WorkerMessage,
    worker: &SweepWorker,
    deadline: Deadline,
) -> (MessageReport, Vec<FindingSummary>) {
    let claim = EventContext {
        event_id: format!("sqs:{message_id}"),
        event_name: "SweepMessage".to_owned(),
        event_time: None,
        actor: FUNCTION_NAME.to_owned(),
    };
    let handled = once_per_event(worker.alerting.ledger(), FUNCTION_NAME, &claim, deadline, || async {
        // Boxed: the sweep's future nested in the claim's is past the compiler's layout depth.
        let (report, findings) = Box::pin(dispatch(message_id, message, worker, deadline)).await;
        match report.outcome {
            "failed" | "partial" => Err(Unfinished::Ended(report, findings)),
            _ => Ok((report, findings)),
        }
    })
    .await;
    match handled {
        Ok(Once::Handled(done)) => done,
        Err(Unfinished::Ended(report, findings)) => (report, findings),
        Ok(Once::Repeated(reason)) => {
            info!(message_id, %reason, "repeated delivery of a sweep message: nothing done");
            let report = MessageReport {
                message_id: message_id.to_owned(),
                account: None,
                region: None,
                outcome: "repeated",
                resources_judged: 0,
                errors: Vec::new(),
            };
            (report, Vec::new())
        }
        Err(Unfinished::Busy(busy)) => (failed(message_id, None, busy.to_string()), Vec::new()),
    }
}

/// The one place a message's kind picks what runs.
async fn dispatch(
    message_id: &str,
    message: WorkerMessage,
    worker: &SweepWorker,
    deadline: Deadline,
) -> (MessageReport, Vec<FindingSummary>) {
    match message {
        WorkerMessage::Sweep(request) => sweep_message(message_id, &request, worker, deadline).await,
        WorkerMessage::Recheck(RecheckMessage::Resource(recheck)) => {
            recheck_resource(message_id, &recheck, worker, deadline).await
        }
    }
}

/// Clients in one account-region, through the member session.
pub(crate) struct Connected {
    pub rds: SdkRds,
    pub network: NetworkPorts,
    pub acted_as: Option<String>,
}

/// Connects to `account`/`region` with the SDK's adaptive retry (RDS's API rate limits are per
/// account and region: it slows down on throttling instead of failing).
pub(crate) async fn connect(
    worker: &SweepWorker,
    account: &AccountId,
    region: &AwsRegion,
) -> Result<Connected, String> {
    let config = match worker.sessions.config_for(account, region).await {
        Ok(config) => config,
        Err(e) => {
            error!(%account, %region, error = %e, "cannot reach the account-region");
            return Err(e.to_string());
        }
    };
    let acted_as = worker.sessions.acting_as(account, region).await.ok();
    let rds_config = aws_sdk_rds::config::Builder::from(&config).retry_config(RetryConfig::adaptive()).build();
    let ec2_config = aws_sdk_ec2::config::Builder::from(&config).retry_config(RetryConfig::adaptive()).build();
    let kms = SdkKms::new(aws_sdk_kms::Client::new(&config));
    let rds = SdkRds::for_sweep(aws_sdk_rds::Client::from_conf(rds_config)).with_managed_key_lookup(Arc::new(kms));
    let network = NetworkPorts {
        groups: Arc::new(SdkEc2::new(aws_sdk_ec2::Client::from_conf(ec2_config))),
        databases: Arc::new(rds.clone()),
    };
    Ok(Connected { rds, network, acted_as })
}

async fn sweep_message(
    message_id: &str,
    request: &SweepRequest,
    worker: &SweepWorker,
    deadline: Deadline,
) -> (MessageReport, Vec<FindingSummary>) {
    let (account, region) = match parse_request_parts(request) {
        Ok(parsed) => parsed,
        Err(e) => return (failed(message_id, Some(request), e), Vec::new()),
    };
    let connected = match connect(worker, &account, &region).await {
        Ok(connected) => connected,
        Err(e) => return (failed(message_id, Some(request), e), Vec::new()),
    };
    let scope = CheckScope {
        account: &account,
        region: &region,
        policy: &worker.policy,
        confirmation: worker.confirmation,
        deadline: deadline.for_work(),
    };
    let sweep = sweep_region(scope, &connected.rds, &connected.network).await;
    deliver(message_id, request, sweep, connected.acted_as.as_deref(), worker).await
}

/// Alerts every finding of `sweep` through the ledger. Rules judged compliant are passed on only
/// when the sweep is complete: a partial sweep resolves nothing.
async fn deliver(
    message_id: &str,
    request: &SweepRequest,
    sweep: RegionSweep,
    acted_as: Option<&str>,
    worker: &SweepWorker,
) -> (MessageReport, Vec<FindingSummary>) {
    let complete = sweep.complete();
    let context = EventContext {
        event_id: format!("sweep:{message_id}"),
        event_name: SWEEP_EVENT_NAME.to_owned(),
        event_time: None,
        actor: FUNCTION_NAME.to_owned(),
    };
    let due: Vec<Outcome<'_>> = sweep
        .findings
        .iter()
        .map(|(finding, action)| {
            info!(
                rule = %finding.rule, resource = %finding.resource, action = ?action.kind,
                status = action.status.as_str(), detail = %action.detail, "finding"
            );
            Outcome { finding, action: action.clone(), suppressed: None }
        })
        .collect();
    // A complete sweep also resolves what the ledger holds here that it no longer sees.
    let mut cleared: Vec<rdsguard::finding::Finding> = Vec::new();
    if complete {
        cleared.extend(sweep.compliant.iter().cloned());
        if let Some(ledger) = worker.alerting.ledger() {
            let held = ledger.held(sweep.account.as_str(), sweep.region.as_str(), None).await;
            cleared.extend(sweep.no_longer_seen(&held, &worker.policy));
        }
    }
    let delivery = worker.alerting.delivery(FUNCTION_NAME).acting_as(acted_as);
    let mut errors = sweep.errors.clone();
    let delivered = deliver_judged(due, &cleared, &context, delivery).await;
    // After the alerts: a re-check of every deferred fix.
    let queued = queue_deferred(worker.alerting.rechecks(), sweep.findings.iter().map(|(f, a)| (f, a))).await;
    let delivered = match (delivered, queued) {
        (Ok(findings), Err(failure)) => Err((findings, failure.to_string())),
        (Err((findings, failure)), _) => Err((findings, failure.to_string())),
        (Ok(findings), Ok(_)) => Ok(findings),
    };
    let findings = match delivered {
        Ok(findings) => findings,
        Err((findings, failure)) => {
            errors.push(failure);
            let report = MessageReport {
                message_id: message_id.to_owned(),
                account: Some(request.account.clone()),
                region: Some(request.region.clone()),
                outcome: "failed",
                resources_judged: sweep.judged.total(),
                errors,
            };
            return (report, findings);
        }
    };
    info!(
        account = %sweep.account, region = %sweep.region, judged = sweep.judged.total(),
        findings = findings.len(), complete, "account-region swept"
    );
    let report = MessageReport {
        message_id: message_id.to_owned(),
        account: Some(request.account.clone()),
        region: Some(request.region.clone()),
        outcome: if complete { "swept" } else { "partial" },
        resources_judged: sweep.judged.total(),
        errors,
    };
    (report, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_or_refused_with_a_reason() {
        let cases: [(&str, Result<(), &str>); 5] = [
            (r#"{"account": "123456789012", "region": "eu-west-1"}"#, Ok(())),
            (r#"{"account": "12345", "region": "eu-west-1"}"#, Err("account")),
            (r#"{"account": "123456789012", "region": "not a region"}"#, Err("region")),
            (r#"{"account": "123456789012"}"#, Err("is not")),
            ("garbage", Err("is not")),
        ];
        for (body, expected) in cases {
            match (parse_request(body), expected) {
                (Ok((request, account, region)), Ok(())) => {
                    assert_eq!(account.as_str(), request.account);
                    assert_eq!(region.as_str(), request.region);
                }
                (Err(e), Err(part)) => assert!(e.contains(part), "{body}: {e}"),
                (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
            }
        }
    }
}
