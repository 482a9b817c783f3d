//! Lambda entry point: logging, configuration and AWS clients once per container, then the runtime
//! loop. All behaviour lives in the library (`handle_event`).
//!
//! Invalid guardrail settings do not stop init: CloudFormation would then wait an hour for its
//! custom resource answer. The function starts and answers every request FAILED with the reason.

use std::sync::Arc;

use guardrail_manager::custom_resource::HttpResponseSender;
use guardrail_manager::{handle_event, handle_unconfigured, GuardrailManager};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use rdsguard::aws::SdkOrganizations;
use rdsguard::guardrails::GuardrailSettings;
use rdsguard::policy::Policy;
use rdsguard::startup::{config_or_exit, Plumbing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rdsguard::telemetry::init_lambda_logging();
    let policy = config_or_exit("guardrail-manager", Policy::from_env());
    let responses = config_or_exit("guardrail-manager", HttpResponseSender::new());
    let settings = GuardrailSettings::from_env().map_err(|e| e.to_string());
    match &settings {
        Ok(settings) => {
            tracing::info!(policy = %policy.describe(), guardrails = %settings.describe(), "guardrail-manager starting")
        }
        Err(problem) => {
            tracing::error!(%problem, "guardrail-manager configuration is invalid; every request will be refused")
        }
    }

    let base = aws_config::load_from_env().await;
    let organization = SdkOrganizations::new(aws_sdk_organizations::Client::new(&base));
    let plumbing = Plumbing::new(policy, base);
    let responses = Arc::new(responses);
    let manager = settings.map(|settings| GuardrailManager {
        policy: plumbing.policy,
        settings,
        organization: Arc::new(organization),
        alerts: plumbing.alerts,
        undelivered: plumbing.undelivered,
        responses: responses.clone(),
        function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
    });

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (manager, responses) = (&manager, responses.as_ref());
        async move {
            let result = match manager {
                Ok(manager) => handle_event(&event.payload, manager).await,
                Err(problem) => handle_unconfigured(&event.payload, problem, responses).await,
            };
            result.map_err(|e| Diagnostic { error_type: e.kind().to_owned(), error_message: e.to_string() })
        }
    }))
    .await
}
