//! Lambda entry point: logging, configuration and AWS clients once per container, then the runtime
//! loop. All behaviour lives in the library (`handle_event`).

use std::sync::Arc;

use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use rds_guard::{handle_event, RdsGuard};
use rdsguard::aws::SessionRdsConnector;
use rdsguard::metrics::InvocationMetrics;
use rdsguard::policy::Policy;
use rdsguard::startup::{config_or_exit, Plumbing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rdsguard::telemetry::init_lambda_logging();
    let policy = config_or_exit("rds-guard", Policy::from_env());
    tracing::info!(policy = %policy.describe(), "rds-guard starting");

    let plumbing = Plumbing::new(policy, aws_config::load_from_env().await);
    let guard = RdsGuard {
        rds: Arc::new(SessionRdsConnector::new(plumbing.sessions)),
        policy: plumbing.policy,
        alerts: plumbing.alerts,
        undelivered: plumbing.undelivered,
        confirmation: Default::default(),
    };

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let guard = &guard;
        async move {
            let result = handle_event(&event.payload, guard).await;
            // One EMF line per invocation: events seen, findings, remediations by status, errors.
            match &result {
                Ok(summary) => InvocationMetrics::handled(&summary.findings).emit(rds_guard::FUNCTION_NAME),
                Err(_) => InvocationMetrics::failed().emit(rds_guard::FUNCTION_NAME),
            }
            result.map_err(|e| Diagnostic { error_type: e.kind().to_owned(), error_message: e.to_string() })
        }
    }))
    .await
}
