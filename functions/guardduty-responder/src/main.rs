//! Lambda entry point: logging, configuration and AWS clients once per container, then the runtime
//! loop. All behaviour lives in the library (`handle_event`).

use std::sync::Arc;

use guardduty_responder::config::ResponderConfig;
use guardduty_responder::{handle_event, GuardDutyResponder};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use rdsguard::aws::{
    AccountSessions, SessionResponderConnector, SnsAlertPublisher, SqsUndeliveredAlerts, UndeliveredAlertSink,
};
use rdsguard::policy::Policy;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rdsguard::telemetry::init_lambda_logging();
    let (policy, config) = match Policy::from_env().and_then(|p| Ok((p, ResponderConfig::from_env()?))) {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(error = %e, "guardduty-responder configuration is invalid");
            std::process::exit(1);
        }
    };
    tracing::info!(policy = %policy.describe(), responses = %config.responses.describe(), "guardduty-responder starting");

    let base = aws_config::load_from_env().await;
    let sns_config = base.to_builder().region(aws_config::Region::new(policy.alert_topic.region.to_string())).build();
    let alerts = SnsAlertPublisher::new(aws_sdk_sns::Client::new(&sns_config), policy.alert_topic.arn.clone());
    let undelivered = policy.undelivered_alerts_queue_url.as_ref().map(|url| {
        Arc::new(SqsUndeliveredAlerts::new(aws_sdk_sqs::Client::new(&base), url.clone()))
            as Arc<dyn UndeliveredAlertSink>
    });
    let connector = SessionResponderConnector::new(AccountSessions::new(base, policy.member_role_name.clone()));
    let responder = GuardDutyResponder {
        policy,
        config,
        connector: Arc::new(connector),
        alerts: Arc::new(alerts),
        undelivered,
        confirmation: Default::default(),
    };

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let responder = &responder;
        async move {
            handle_event(&event.payload, responder)
                .await
                .map_err(|e| Diagnostic { error_type: e.kind().to_owned(), error_message: e.to_string() })
        }
    }))
    .await
}
