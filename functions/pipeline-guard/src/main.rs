//! Lambda entry point: logging, configuration and AWS clients once per container, then the runtime
//! loop. All behaviour lives in the library (`handle_event`).

use std::sync::Arc;

use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use pipeline_guard::config::PipelineConfig;
use pipeline_guard::{handle_event, PipelineGuard};
use rdsguard::aws::SessionPipelineConnector;
use rdsguard::metrics::InvocationMetrics;
use rdsguard::policy::Policy;
use rdsguard::startup::{config_or_exit, Plumbing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rdsguard::telemetry::init_lambda_logging();
    let (policy, config) = config_or_exit(
        "pipeline-guard",
        Policy::from_env()
            .map_err(|e| e.to_string())
            .and_then(|policy| PipelineConfig::from_env().map(|config| (policy, config)).map_err(|e| e.to_string())),
    );
    tracing::info!(policy = %policy.describe(), suite_rule_prefix = %config.suite_rule_prefix, "pipeline-guard starting");

    let plumbing = Plumbing::new(policy, aws_config::load_from_env().await);
    let guard = PipelineGuard {
        connector: Arc::new(SessionPipelineConnector::new(plumbing.sessions)),
        policy: plumbing.policy,
        config,
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
                Ok(summary) => InvocationMetrics::handled(&summary.findings).emit(pipeline_guard::FUNCTION_NAME),
                Err(_) => InvocationMetrics::failed().emit(pipeline_guard::FUNCTION_NAME),
            }
            result.map_err(|e| Diagnostic { error_type: e.kind().to_owned(), error_message: e.to_string() })
        }
    }))
    .await
}
