//! Lambda entry point: logging, configuration and AWS clients once per container, then the runtime
//! loop. All behaviour lives in the library (`handle_event`).

use std::sync::Arc;

use lambda_runtime::Error;
use pipeline_guard::config::PipelineConfig;
use pipeline_guard::{handle_event_within, PipelineGuard};
use rdsguard::aws::SessionPipelineConnector;
use rdsguard::kernel::serve_event_handler;
use rdsguard::policy::Policy;
use rdsguard::startup::{config_or_exit, Plumbing};

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

    let plumbing = Plumbing::for_function(pipeline_guard::FUNCTION_NAME, policy, aws_config::load_from_env().await);
    let guard = PipelineGuard {
        connector: Arc::new(SessionPipelineConnector::new(plumbing.sessions)),
        policy: plumbing.policy,
        config,
        alerting: plumbing.alerting,
        confirmation: Default::default(),
    };

    serve_event_handler(pipeline_guard::FUNCTION_NAME, &guard, handle_event_within).await
}
