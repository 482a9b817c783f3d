//! Lambda entry point: logging, configuration and AWS clients once per container, then the runtime
//! loop. All behaviour lives in the library (`handle_event`).

use std::sync::Arc;

use lambda_runtime::Error;
use network_guard::{handle_event_within, NetworkGuard};
use rdsguard::aws::SessionNetworkConnector;
use rdsguard::kernel::serve_event_handler;
use rdsguard::policy::Policy;
use rdsguard::startup::{config_or_exit, Plumbing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    rdsguard::telemetry::init_lambda_logging();
    let policy = config_or_exit("network-guard", Policy::from_env());
    tracing::info!(policy = %policy.describe(), "network-guard starting");

    let plumbing = Plumbing::for_function(network_guard::FUNCTION_NAME, policy, aws_config::load_from_env().await);
    let guard = NetworkGuard {
        network: Arc::new(SessionNetworkConnector::new(plumbing.sessions)),
        policy: plumbing.policy,
        alerting: plumbing.alerting,
        confirmation: Default::default(),
    };

    serve_event_handler(network_guard::FUNCTION_NAME, &guard, handle_event_within).await
}
