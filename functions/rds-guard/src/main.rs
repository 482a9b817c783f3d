//! Lambda entry point: logging, configuration and AWS clients once per container, then the runtime
//! loop. All behaviour lives in the library (`handle_event`).

use std::sync::Arc;

use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use rds_guard::{handle_event, RdsGuard};
use rdsguard::aws::{AccountSessions, SessionRdsConnector, SnsAlertPublisher};
use rdsguard::policy::Policy;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rdsguard::telemetry::init_lambda_logging();
    let policy = Policy::from_env().map_err(|e| {
        tracing::error!(error = %e, "rds-guard configuration is invalid");
        format!("rds-guard configuration is invalid: {e}")
    })?;
    tracing::info!(policy = %policy.describe(), "rds-guard starting");

    let base = aws_config::load_from_env().await;
    let sns_config = base.to_builder().region(aws_config::Region::new(policy.alert_topic.region.to_string())).build();
    let alerts = SnsAlertPublisher::new(aws_sdk_sns::Client::new(&sns_config), policy.alert_topic.arn.clone());
    let rds = SessionRdsConnector::new(AccountSessions::new(base, policy.member_role_name.clone()));
    let guard = RdsGuard { policy, rds: Arc::new(rds), alerts: Arc::new(alerts) };

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let guard = &guard;
        async move {
            handle_event(&event.payload, guard)
                .await
                .map_err(|e| Diagnostic { error_type: e.kind().to_owned(), error_message: e.to_string() })
        }
    }))
    .await
}
