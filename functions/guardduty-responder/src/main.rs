//! Lambda entry point: logging, configuration and AWS clients once per container, then the runtime
//! loop. All behaviour lives in the library (`handle_event`).

use std::sync::Arc;

use guardduty_responder::config::ResponderConfig;
use guardduty_responder::{handle_event_within, GuardDutyResponder};
use lambda_runtime::Error;
use rdsguard::aws::SessionResponderConnector;
use rdsguard::kernel::serve_event_handler;
use rdsguard::policy::Policy;
use rdsguard::startup::{config_or_exit, Plumbing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    rdsguard::telemetry::init_lambda_logging();
    let (policy, config) = config_or_exit(
        "guardduty-responder",
        Policy::from_env()
            .map_err(|e| e.to_string())
            .and_then(|policy| ResponderConfig::from_env().map(|config| (policy, config)).map_err(|e| e.to_string())),
    );
    tracing::info!(policy = %policy.describe(), responses = %config.responses.describe(), "guardduty-responder starting");

    let plumbing =
        Plumbing::for_function(guardduty_responder::FUNCTION_NAME, policy, aws_config::load_from_env().await);
    let responder = GuardDutyResponder {
        connector: Arc::new(SessionResponderConnector::new(plumbing.sessions)),
        policy: plumbing.policy,
        config,
        alerting: plumbing.alerting,
        confirmation: Default::default(),
    };

    serve_event_handler(guardduty_responder::FUNCTION_NAME, &responder, handle_event_within).await
}
