//! Planning a sweep: targets (accounts × regions) → one queue message per account-region.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::stream::{self, StreamExt};

use rdsguard::aws::{AccountDirectory, AccountSessions, AwsError, SessionError, SweepQueue, SQS_BATCH_MAX};
use rdsguard::identity::AwsRegion;
use rdsguard::report::FindingSummary;
use serde::Serialize;
use serde_json::json;
use tracing::{info, warn};

use crate::config::PlannerConfig;
use crate::regions::{AccountRegions, EnabledRegions};

pub const FUNCTION_NAME: &str = "sweep-planner";

/// ListRegions calls in flight at once in organisation mode (Account Management throttles bursts;
/// the SDK's adaptive retry absorbs the rest).
pub const REGION_LISTING_CONCURRENCY: usize = 8;

/// How many times entries SendMessageBatch did not take are sent again before the invocation fails.
pub const SEND_ATTEMPTS: usize = 3;

/// Everything the planner needs, built once per container.
pub struct Targets {
    pub config: PlannerConfig,
    /// The organisation's accounts (used in organisation mode only).
    pub organizations: Arc<dyn AccountDirectory>,
    /// The planner's own account (single-account mode).
    pub sessions: Arc<AccountSessions>,
    /// The planner's own account's enabled regions (single-account mode, and the fallback).
    pub regions: Arc<dyn EnabledRegions>,
    /// Each member's enabled regions (organisation mode, SWEEP_REGIONS unset).
    pub account_regions: Arc<dyn AccountRegions>,
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
    /// Every region planned for some account.
    pub regions: Vec<String>,
    /// Accounts whose own enabled regions could not be read (ListRegions denied or failing): they
    /// are swept in the planner's enabled regions instead, and an opt-in region enabled only for
    /// them is not swept (logged with the reason).
    pub regions_from_planner: Vec<String>,
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
    let (planned, regions_from_planner) = regions_per_account(targets, accounts).await?;
    let messages: Vec<String> = planned
        .iter()
        .flat_map(|(account, regions)| {
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
    let mut regions: Vec<String> =
        planned.iter().flat_map(|(_, regions)| regions.iter().map(|r| r.as_str().to_owned())).collect();
    regions.sort_unstable();
    regions.dedup();
    let accounts: Vec<String> = planned.into_iter().map(|(account, _)| account).collect();
    info!(accounts = accounts.len(), regions = regions.len(), messages = sent, "sweep planned");
    Ok(PlanReport { accounts, regions, regions_from_planner, messages_sent: sent, no_findings: Vec::new() })
}

type Planned = Vec<(String, Vec<AwsRegion>)>;

/// The regions to sweep in each account: SWEEP_REGIONS when set; in single-account mode the
/// planner's enabled regions; in organisation mode each account's own (ListRegions), falling back
/// to the planner's for an account whose list cannot be read (returned as the second value).
async fn regions_per_account(targets: &Targets, accounts: Vec<String>) -> Result<(Planned, Vec<String>), PlannerError> {
    if !targets.config.regions.is_empty() {
        let regions = &targets.config.regions;
        return Ok((accounts.into_iter().map(|a| (a, regions.clone())).collect(), Vec::new()));
    }
    if targets.config.organization_id.is_none() {
        let regions = targets.regions.enabled_regions().await.map_err(PlannerError::Regions)?;
        return Ok((accounts.into_iter().map(|a| (a, regions.clone())).collect(), Vec::new()));
    }
    let own = targets.sessions.own_account().await?.to_string();
    // Denied once is denied for all (trusted access for Account Management not enabled, or the
    // planner not in the management or delegated administrator account): stop asking.
    let denied = AtomicBool::new(false);
    let listed: Vec<(String, Option<Vec<AwsRegion>>)> = stream::iter(accounts)
        .map(|account| {
            let (own, denied) = (&own, &denied);
            async move {
                if denied.load(Ordering::Relaxed) {
                    return (account, None);
                }
                let asked = (account != *own).then_some(account.as_str());
                let listed = match targets.account_regions.regions_enabled_for(asked).await {
                    Ok(regions) if !regions.is_empty() => Some(regions),
                    Ok(_) => {
                        warn!(%account, "ListRegions listed no enabled region; using the planner's");
                        None
                    }
                    Err(e) if e.code.as_deref().is_some_and(|c| c.contains("AccessDenied")) => {
                        if !denied.swap(true, Ordering::Relaxed) {
                            warn!(%account, error = %e,
                                "cannot read the members' enabled regions: every account is swept in the planner's \
                                 enabled regions, and opt-in regions enabled only for a member are missed. Enable \
                                 trusted access for AWS Account Management (aws organizations \
                                 enable-aws-service-access --service-principal account.amazonaws.com) and run the \
                                 planner in the management or delegated administrator account");
                        }
                        None
                    }
                    Err(e) => {
                        warn!(%account, error = %e, "cannot read the account's enabled regions; using the planner's");
                        None
                    }
                };
                (account, listed)
            }
        })
        .buffered(REGION_LISTING_CONCURRENCY)
        .collect()
        .await;
    let fallback = if listed.iter().any(|(_, regions)| regions.is_none()) {
        Some(targets.regions.enabled_regions().await.map_err(PlannerError::Regions)?)
    } else {
        None
    };
    let mut from_planner = Vec::new();
    let planned = listed
        .into_iter()
        .map(|(account, regions)| match (regions, &fallback) {
            (Some(regions), _) => (account, regions),
            (None, fallback) => {
                from_planner.push(account.clone());
                (account, fallback.clone().unwrap_or_default())
            }
        })
        .collect();
    Ok((planned, from_planner))
}
