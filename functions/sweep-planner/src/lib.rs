//! sweep-planner: started by the EventBridge Scheduler schedule (`SweepSchedule`) or by hand, it
//! lists the targets — in organisation mode (`ORGANIZATION_ID` set) the ACTIVE accounts under
//! `SWEEP_OUS` (the whole organisation when unset), otherwise its own account — times the regions
//! (`SWEEP_REGIONS`, else every region enabled for the account: Account Management ListRegions per
//! account in organisation mode, EC2 DescribeRegions in single-account mode), and sends
//! one message `{"account": "...", "region": "..."}` per account-region to `SWEEP_QUEUE_URL`
//! (SendMessageBatch, 10 at a time), which sweep-worker consumes.

pub mod config;
pub mod planner;
pub mod regions;

pub use config::{PlannerConfig, ENV_ORGANIZATION_ID, ENV_SWEEP_OUS, ENV_SWEEP_QUEUE_URL, ENV_SWEEP_REGIONS};
pub use planner::{plan, PlanReport, PlannerError, Targets, FUNCTION_NAME, REGION_LISTING_CONCURRENCY};
pub use regions::{AccountRegions, EnabledRegions, SdkAccountRegions, SdkRegions};

use rdsguard::aws::{SdkOrganizations, SqsSweepQueue};

/// Every IAM action sweep-planner's code can call. It publishes no alert and assumes no role: only
/// listing accounts and regions and sending to its queue (its own account comes from
/// sts:GetCallerIdentity, which needs no permission). template.yaml grants exactly these.
pub fn iam_actions() -> Vec<&'static str> {
    let mut actions: Vec<&'static str> = [
        SdkOrganizations::ACCOUNT_LISTING_IAM_ACTIONS,
        SdkRegions::IAM_ACTIONS,
        SdkAccountRegions::IAM_ACTIONS,
        SqsSweepQueue::IAM_ACTIONS,
    ]
    .iter()
    .flat_map(|list| list.iter().copied())
    .collect();
    actions.sort_unstable();
    actions.dedup();
    actions
}
