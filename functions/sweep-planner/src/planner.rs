//! Planning a sweep: targets (accounts × regions) → one queue message per account-region.

use std::sync::Arc;

use rdsguard::aws::{AccountDirectory, AccountSessions, AwsError, SessionError, SweepQueue, SQS_BATCH_MAX};
use rdsguard::identity::AwsRegion;
use rdsguard::report::FindingSummary;
use serde::Serialize;
use serde_json::json;
use tracing::{info, warn};

use crate::config::PlannerConfig;
use crate::regions::EnabledRegions;

pub const FUNCTION_NAME: &str = "sweep-planner";

/// How many times entries SendMessageBatch did not take are sent again before the invocation fails.
pub const SEND_ATTEMPTS: usize = 3;

/// Everything the planner needs, built once per container.
pub struct Targets {
    pub config: PlannerConfig,
    /// The organisation's accounts (used in organisation mode only).
    pub organizations: Arc<dyn AccountDirectory>,
    /// The planner's own account (single-account mode).
    pub sessions: Arc<AccountSessions>,
    pub regions: Arc<dyn EnabledRegions>,
    pub queue: Arc<dyn SweepQueue>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlannerError {
    #[error("cannot list the organisation's accounts: {0}")]
    Accounts(AwsError),
    #[error(transparent)]
    OwnAccount(#[from] SessionError),
    #[error("cannot list the enabled regions (set SWEEP_REGIONS): {0}")]
    Regions(AwsError),
    #[error("sent {sent} of {due} sweep messages; the rest failed: {reason}")]
    Send { sent: usize, due: usize, reason: String },
}

impl PlannerError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Accounts(_) => "ListAccountsFailed",
            Self::OwnAccount(_) => "AccountSessionFailed",
            Self::Regions(_) => "DescribeRegionsFailed",
            Self::Send { .. } => "SendMessageBatchFailed",
        }
    }
}

impl rdsguard::kernel::InvocationFailure for PlannerError {
    fn kind(&self) -> &'static str {
        PlannerError::kind(self)
    }
}

/// What the invocation planned and sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub messages_sent: usize,
    #[serde(skip)]
    no_findings: Vec<FindingSummary>,
}

impl rdsguard::kernel::InvocationReport for PlanReport {
    fn findings(&self) -> &[FindingSummary] {
        &self.no_findings
    }
}

/// Lists the targets and sends one message per account-region. Fails (the scheduler retries) when
/// a listing fails or some message could not be sent after [`SEND_ATTEMPTS`]; the messages sent
/// before stay sent (a region swept twice is harmless: the ledger alerts transitions only).
pub async fn plan(targets: &Targets) -> Result<PlanReport, PlannerError> {
    let accounts = match &targets.config.organization_id {
        Some(_) => targets.organizations.active_accounts(&targets.config.ous).await.map_err(PlannerError::Accounts)?,
        None => vec![targets.sessions.own_account().await?.to_string()],
    };
    let regions: Vec<AwsRegion> = if targets.config.regions.is_empty() {
        targets.regions.enabled_regions().await.map_err(PlannerError::Regions)?
    } else {
        targets.config.regions.clone()
    };
    let messages: Vec<String> = accounts
        .iter()
        .flat_map(|account| {
            regions.iter().map(move |region| json!({"account": account, "region": region.as_str()}).to_string())
        })
        .collect();
    let due = messages.len();
    let mut sent = 0;
    for chunk in messages.chunks(SQS_BATCH_MAX) {
        let mut pending: Vec<(String, String)> =
            chunk.iter().enumerate().map(|(i, body)| (i.to_string(), body.clone())).collect();
        let mut last_reason = String::new();
        for attempt in 1..=SEND_ATTEMPTS {
            let failed = match targets.queue.send_batch(&pending).await {
                Ok(failed) => failed,
                Err(e) => {
                    last_reason = e.to_string();
                    warn!(attempt, error = %e, "SendMessageBatch failed");
                    continue;
                }
            };
            sent += pending.len() - failed.len();
            if failed.is_empty() {
                pending.clear();
                break;
            }
            last_reason = failed.iter().map(|(id, why)| format!("entry {id}: {why}")).collect::<Vec<_>>().join("; ");
            warn!(attempt, failed = failed.len(), reason = %last_reason, "SendMessageBatch did not take every entry");
            pending.retain(|(id, _)| failed.iter().any(|(f, _)| f == id));
        }
        if !pending.is_empty() {
            return Err(PlannerError::Send { sent, due, reason: last_reason });
        }
    }
    info!(accounts = accounts.len(), regions = regions.len(), messages = sent, "sweep planned");
    Ok(PlanReport {
        accounts,
        regions: regions.iter().map(|r| r.as_str().to_owned()).collect(),
        messages_sent: sent,
        no_findings: Vec::new(),
    })
}
