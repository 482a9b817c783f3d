//! Lambda entry point: logging, configuration and AWS clients once per container, then the runtime
//! loop. All behaviour lives in the library (`handle_event`).

use std::sync::Arc;

use lambda_runtime::Error;
use rds_guard::{handle_event_within, RdsGuard};
use rdsguard::aws::SessionRdsConnector;
use rdsguard::kernel::serve;
use rdsguard::policy::Policy;
use rdsguard::startup::{config_or_exit, Plumbing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rdsguard::telemetry::init_lambda_logging();
    let policy = config_or_exit("rds-guard", Policy::from_env());
    tracing::info!(policy = %policy.describe(), "rds-guard starting");

    let plumbing = Plumbing::for_function(rds_guard::FUNCTION_NAME, policy, aws_config::load_from_env().await);
    let guard = RdsGuard {
        rds: Arc::new(SessionRdsConnector::new(plumbing.sessions)),
        policy: plumbing.policy,
        alerts: plumbing.alerts,
        undelivered: plumbing.undelivered,
        confirmation: Default::default(),
    };

    serve(rds_guard::FUNCTION_NAME, |payload: Value, invocation| {
        let guard = &guard;
        async move { handle_event_within(&payload, guard, invocation.deadline).await }
    })
    .await
}
