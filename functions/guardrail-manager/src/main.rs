//! Lambda entry point: logging, configuration and AWS clients once per container, then the runtime
//! loop. All behaviour lives in the library (`handle_event`).
//!
//! An invalid configuration (the shared policy or the guardrail settings) does not stop init:
//! CloudFormation would then wait an hour for its custom resource answer, and a rollback's Delete
//! would fail. The function starts and answers Create/Update FAILED with the reason, and Delete by
//! removing what its physical id names (see `handle_unconfigured`).

use std::sync::Arc;

use guardrail_manager::custom_resource::HttpResponseSender;
use guardrail_manager::{handle_event_within, handle_unconfigured, GuardrailManager};
use lambda_runtime::Error;
use rdsguard::aws::{Organization, OrganizationTree, SdkOrganizations};
use rdsguard::guardrails::GuardrailSettings;
use rdsguard::kernel::serve;
use rdsguard::ledger::LedgerConfig;
use rdsguard::policy::Policy;
use rdsguard::startup::{config_or_exit, Plumbing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rdsguard::telemetry::init_lambda_logging();
    let responses = Arc::new(config_or_exit("guardrail-manager", HttpResponseSender::new()));
    let configuration = match (Policy::from_env(), GuardrailSettings::from_env(), LedgerConfig::from_env()) {
        (Ok(policy), Ok(settings), Ok(ledger)) => {
            tracing::info!(policy = %policy.describe(), guardrails = %settings.describe(), "guardrail-manager starting");
            Ok((policy, settings, ledger))
        }
        (policy, settings, ledger) => {
            let problems: Vec<String> = [
                policy.err().map(|e| e.to_string()),
                settings.err().map(|e| e.to_string()),
                ledger.err().map(|e| e.to_string()),
            ]
            .into_iter()
            .flatten()
            .collect();
            let problem = problems.join("; ");
            tracing::error!(%problem, "guardrail-manager configuration is invalid; custom resource requests will be answered, everything else refused");
            Err(problem)
        }
    };

    let base = aws_config::load_from_env().await;
    let organizations = Arc::new(SdkOrganizations::new(aws_sdk_organizations::Client::new(&base)));
    let organization: Arc<dyn Organization> = organizations.clone();
    let tree: Arc<dyn OrganizationTree> = organizations;
    let own_session_arn = own_session_arn(&base).await;
    let manager = configuration.map(|(policy, settings, ledger)| {
        // Its alerts pass through the findings ledger (no Security Hub export: see README).
        let plumbing = Plumbing::new(policy, base.clone()).with_ledger(&ledger, &base);
        GuardrailManager {
            policy: plumbing.policy,
            settings,
            organization: organization.clone(),
            tree: tree.clone(),
            alerting: plumbing.alerting,
            responses: responses.clone(),
            own_session_arn,
        }
    });

    serve(guardrail_manager::FUNCTION_NAME, |payload: Value, invocation| {
        let (manager, responses, organization) = (&manager, responses.as_ref(), organization.as_ref());
        async move {
            match manager {
                Ok(manager) => handle_event_within(&payload, manager, invocation.deadline).await,
                Err(problem) => handle_unconfigured(&payload, problem, responses, organization).await,
            }
        }
    })
    .await
}

/// The function's own session ARN, asked of STS once (GetCallerIdentity needs no permission).
/// Without it every change is treated as someone else's: the function's own re-applies are then
/// alerted too, which is noisy but never hides tampering.
async fn own_session_arn(base: &aws_config::SdkConfig) -> Option<String> {
    match aws_sdk_sts::Client::new(base).get_caller_identity().send().await {
        Ok(identity) => identity.arn().map(str::to_owned),
        Err(e) => {
            tracing::warn!(error = %rdsguard::aws::AwsError::from_sdk("GetCallerIdentity", e), "own identity unknown: the function's own changes will be alerted as tampering");
            None
        }
    }
}
