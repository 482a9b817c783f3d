//! Lambda entry point: logging, configuration and AWS clients once per container, then the runtime
//! loop. All behaviour lives in the library (`handle_batch`).

// The handler's future (SDK calls nested in the sweep) is deeper than the default layout query limit.
#![recursion_limit = "256"]

use std::sync::Arc;

use lambda_runtime::Error;
use rdsguard::kernel::serve;
use rdsguard::policy::Policy;
use rdsguard::startup::{config_or_exit, Plumbing};
use serde_json::Value;
use sweep_worker::{handle_batch, SweepWorker};

#[tokio::main]
async fn main() -> Result<(), Error> {
    rdsguard::telemetry::init_lambda_logging();
    let policy = config_or_exit(sweep_worker::FUNCTION_NAME, Policy::from_env());
    tracing::info!(policy = %policy.describe(), "sweep-worker starting");

    let plumbing = Plumbing::for_function(sweep_worker::FUNCTION_NAME, policy, aws_config::load_from_env().await);
    let worker = SweepWorker {
        policy: plumbing.policy,
        sessions: Arc::new(plumbing.sessions),
        alerting: plumbing.alerting,
        confirmation: Default::default(),
    };

    serve(sweep_worker::FUNCTION_NAME, |payload: Value, invocation| {
        let worker = &worker;
        async move {
            let handled = handle_batch(payload, worker, invocation.deadline).await;
            if let Ok(report) = &handled {
                rdsguard::metrics::emit_counts(sweep_worker::FUNCTION_NAME, &report.coverage());
            }
            handled
        }
    })
    .await
}
