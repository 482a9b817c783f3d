//! Lambda entry point: configuration and AWS clients once per container, then the runtime loop.
//! All behaviour lives in the library (`plan`). The payload (a schedule's or a hand-made one) is
//! not read: every invocation plans a whole sweep.

// The handler's future (SDK calls nested in the sweep) is deeper than the default layout query limit.
#![recursion_limit = "256"]

use std::sync::Arc;

use aws_config::Region;
use lambda_runtime::Error;
use rdsguard::aws::{AccountSessions, SdkOrganizations, SqsSweepQueue};
use rdsguard::kernel::serve;
use rdsguard::startup::config_or_exit;
use serde_json::Value;
use sweep_planner::{plan, PlannerConfig, SdkAccountRegions, SdkRegions, Targets};

#[tokio::main]
async fn main() -> Result<(), Error> {
    rdsguard::telemetry::init_lambda_logging();
    let config = config_or_exit(sweep_planner::FUNCTION_NAME, PlannerConfig::from_env());
    tracing::info!(organization = ?config.organization_id, ous = ?config.ous, regions = ?config.regions, "sweep-planner starting");
    let base = aws_config::load_from_env().await;
    // Organizations and Account Management are global services reached through us-east-1 (aws partition).
    let organizations_config = base.to_builder().region(Region::new("us-east-1")).build();
    let targets = Targets {
        organizations: Arc::new(SdkOrganizations::new(aws_sdk_organizations::Client::new(&organizations_config))),
        sessions: Arc::new(AccountSessions::new(base.clone(), "")),
        regions: Arc::new(SdkRegions::new(aws_sdk_ec2::Client::new(&base))),
        account_regions: Arc::new(SdkAccountRegions::new(aws_sdk_account::Client::new(&organizations_config))),
        queue: Arc::new(SqsSweepQueue::new(aws_sdk_sqs::Client::new(&base), config.queue_url.clone())),
        config,
    };
    serve(sweep_planner::FUNCTION_NAME, |_payload: Value, _invocation| {
        let targets = &targets;
        async move {
            let planned = plan(targets).await;
            if let Ok(report) = &planned {
                // Sweep coverage: what is due this period (the dashboard sets it against what was swept).
                let due = report.messages_sent as u64;
                rdsguard::metrics::emit_counts(
                    sweep_planner::FUNCTION_NAME,
                    &[(rdsguard::metrics::ACCOUNT_REGIONS_DUE, due)],
                );
            }
            planned
        }
    })
    .await
}
