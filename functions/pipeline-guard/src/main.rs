//! Lambda entry point: logging, configuration and AWS clients once per container, then the runtime
//! loop. All behaviour lives in the library (`handle_event`).

use std::sync::Arc;

use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use pipeline_guard::config::PipelineConfig;
use pipeline_guard::{handle_event, PipelineGuard};
use rdsguard::aws::{
    AccountSessions, SessionPipelineConnector, SnsAlertPublisher, SqsUndeliveredAlerts, UndeliveredAlertSink,
};
use rdsguard::policy::Policy;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rdsguard::telemetry::init_lambda_logging();
    let (policy, config) = match Policy::from_env().and_then(|p| Ok((p, PipelineConfig::from_env()?))) {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(error = %e, "pipeline-guard configuration is invalid");
            std::process::exit(1);
        }
    };
    tracing::info!(policy = %policy.describe(), suite_rule_prefix = %config.suite_rule_prefix, "pipeline-guard starting");

    let base = aws_config::load_from_env().await;
    let sns_config = base.to_builder().region(aws_config::Region::new(policy.alert_topic.region.to_string())).build();
    let alerts = SnsAlertPublisher::new(aws_sdk_sns::Client::new(&sns_config), policy.alert_topic.arn.clone());
    let undelivered = policy.undelivered_alerts_queue_url.as_ref().map(|url| {
        Arc::new(SqsUndeliveredAlerts::new(aws_sdk_sqs::Client::new(&base), url.clone()))
            as Arc<dyn UndeliveredAlertSink>
    });
    let connector = SessionPipelineConnector::new(AccountSessions::new(base, policy.member_role_name.clone()));
    let guard = PipelineGuard {
        policy,
        config,
        connector: Arc::new(connector),
        alerts: Arc::new(alerts),
        undelivered,
        confirmation: Default::default(),
    };

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
