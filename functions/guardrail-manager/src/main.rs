//! Lambda entry point: logging, configuration and AWS clients once per container, then the runtime
//! loop. All behaviour lives in the library (`handle_event`).

use std::sync::Arc;

use guardrail_manager::custom_resource::HttpResponseSender;
use guardrail_manager::{handle_event, GuardrailManager};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use rdsguard::aws::SdkOrganizations;
use rdsguard::guardrails::GuardrailSettings;
use rdsguard::policy::Policy;
use rdsguard::startup::{config_or_exit, Plumbing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rdsguard::telemetry::init_lambda_logging();
    let (policy, settings) = config_or_exit(
        "guardrail-manager",
        Policy::from_env().and_then(|policy| GuardrailSettings::from_env().map(|settings| (policy, settings))),
    );
    let responses = config_or_exit("guardrail-manager", HttpResponseSender::new());
    tracing::info!(policy = %policy.describe(), guardrails = %settings.describe(), "guardrail-manager starting");

    let base = aws_config::load_from_env().await;
    let organization = SdkOrganizations::new(aws_sdk_organizations::Client::new(&base));
    let plumbing = Plumbing::new(policy, base);
    let manager = GuardrailManager {
        policy: plumbing.policy,
        settings,
        organization: Arc::new(organization),
        alerts: plumbing.alerts,
        undelivered: plumbing.undelivered,
        responses: Arc::new(responses),
        function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
    };

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let manager = &manager;
        async move {
            handle_event(&event.payload, manager)
                .await
                .map_err(|e| Diagnostic { error_type: e.kind().to_owned(), error_message: e.to_string() })
        }
    }))
    .await
}
