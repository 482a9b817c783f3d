//! What every function builds once per container, before the runtime loop: the configuration (a
//! mistake stops init with a message naming the variable), the alert publisher in the topic's
//! region, the dead-letter sink for undelivered alerts, the findings ledger (FINDINGS_TABLE) the
//! alerts pass through, and the account sessions.

use std::fmt::Display;
use std::sync::Arc;

use aws_config::{Region, SdkConfig};

use crate::aws::{
    AccountSessions, DynamoDbFindings, FindingsExport, SdkSecurityHub, SnsAlertPublisher, SqsRecheckQueue,
    SqsUndeliveredAlerts, UndeliveredAlertSink,
};
use crate::kernel::init_error;
use crate::ledger::{Ledger, LedgerConfig, LedgeredAlerts};
use crate::policy::Policy;
use crate::recheck::{RecheckingAlerts, Rechecks};
use crate::report::Alerting;

/// The configuration, or — logged once as JSON and reported to the Lambda Runtime API's init error
/// endpoint ([`crate::kernel::init_error`]), so the console shows the reason — exit status 1, which
/// Lambda reports as an init failure. Only for `main`.
pub fn config_or_exit<T, E: Display>(function: &str, config: Result<T, E>) -> T {
    match config {
        Ok(config) => config,
        Err(e) => {
            let message = format!("{function} configuration is invalid: {e}");
            tracing::error!(error = %e, "{function} configuration is invalid");
            let report = init_error::report_init_error_from_env(init_error::CONFIG_INVALID_ERROR_TYPE, &message);
            if let Some(Err(report)) = report {
                tracing::error!(error = %report, "the init error could not be reported");
            }
            std::process::exit(1);
        }
    }
}

/// Clients every function shares, built from its policy and the SDK configuration.
pub struct Plumbing {
    pub policy: Policy,
    /// Where alerts go (and what SNS would not take is kept).
    pub alerting: Alerting,
    pub sessions: AccountSessions,
}

impl Plumbing {
    /// What `function` (its name in alerts, e.g. `network-guard`) builds: as [`Self::new`], with
    /// sessions that assume the function's own member role (`<MEMBER_ROLE_NAME>-<function>`) in
    /// other accounts, and alerts that pass through the findings ledger configured in the
    /// environment ([`LedgerConfig::from_env`]; a bad value stops init). Every `main` uses this.
    pub fn for_function(function: &str, policy: Policy, base: SdkConfig) -> Self {
        let ledger = config_or_exit(function, LedgerConfig::from_env());
        // Security Hub takes a finding only in its own account: the export has its own sessions.
        let export = ledger.security_hub_export.then(|| {
            Arc::new(SdkSecurityHub::new(AccountSessions::for_function(
                base.clone(),
                &policy.member_role_name,
                function,
            ))) as Arc<dyn FindingsExport>
        });
        let mut plumbing = Self::new(policy, base.clone()).with_ledger_exporting(&ledger, &base, export);
        let max_attempts = config_or_exit(
            function,
            crate::recheck::max_attempts_from(std::env::var(crate::recheck::ENV_RECHECK_MAX_ATTEMPTS).ok().as_deref()),
        );
        let queue_url = std::env::var(crate::recheck::ENV_RECHECK_QUEUE_URL).ok().filter(|url| !url.trim().is_empty());
        plumbing = plumbing.with_rechecks(queue_url.as_deref(), max_attempts, &base);
        plumbing.sessions = AccountSessions::for_function(base, &plumbing.policy.member_role_name, function);
        plumbing
    }

    /// The same plumbing with its alerts passing through the findings ledger in `config.table`
    /// (DynamoDB, reached with `base`); unchanged when no table is configured. Logs which.
    pub fn with_ledger(self, config: &LedgerConfig, base: &SdkConfig) -> Self {
        self.with_ledger_exporting(config, base, None)
    }

    /// As [`Self::with_ledger`], the ledger exporting its transitions to `export` (AWS Security
    /// Hub when SECURITY_HUB_EXPORT=on).
    pub fn with_ledger_exporting(
        mut self,
        config: &LedgerConfig,
        base: &SdkConfig,
        export: Option<Arc<dyn FindingsExport>>,
    ) -> Self {
        tracing::info!(ledger = %config.describe(), "findings ledger");
        if let Some(table) = &config.table {
            let store = Arc::new(DynamoDbFindings::new(aws_sdk_dynamodb::Client::new(base), table.clone()));
            // The same table keeps each event's claim, so a repeated delivery is handled once.
            let mut ledger = Ledger::new(store.clone(), config.lifecycle).claiming_events_in(store);
            if let Some(export) = export {
                ledger = ledger.exporting_to(export);
            }
            self.alerting.alerts = Arc::new(LedgeredAlerts::new(self.alerting.alerts, ledger));
        }
        self
    }

    /// The same plumbing with deferred outcomes queued for a re-check on `queue_url` (SQS,
    /// reached with `base`; [`crate::recheck`]); unchanged without a URL. Logs which.
    pub fn with_rechecks(mut self, queue_url: Option<&str>, max_attempts: u32, base: &SdkConfig) -> Self {
        match queue_url {
            Some(url) => {
                tracing::info!(queue = url, max_attempts, "deferred outcomes are re-checked");
                let queue = SqsRecheckQueue::new(aws_sdk_sqs::Client::new(base), url);
                let rechecks = Rechecks::new(Arc::new(queue), max_attempts);
                self.alerting.alerts = Arc::new(RecheckingAlerts::new(self.alerting.alerts, rechecks));
            }
            None => tracing::info!("no RECHECK_QUEUE_URL: deferred outcomes are alerted, not re-checked"),
        }
        self
    }

    /// `base` is the SDK configuration from the environment (`aws_config::load_from_env`, which
    /// honours `AWS_ENDPOINT_URL`); SNS is reached in the alert topic's own region.
    pub fn new(policy: Policy, base: SdkConfig) -> Self {
        let sns_config = base.to_builder().region(Region::new(policy.alert_topic.region.to_string())).build();
        let alerts = SnsAlertPublisher::new(aws_sdk_sns::Client::new(&sns_config), policy.alert_topic.arn.clone());
        let undelivered = policy.undelivered_alerts_queue_url.as_ref().map(|url| {
            Arc::new(SqsUndeliveredAlerts::new(aws_sdk_sqs::Client::new(&base), url.clone()))
                as Arc<dyn UndeliveredAlertSink>
        });
        let sessions = AccountSessions::new(base, policy.member_role_name.clone());
        Self { policy, alerting: Alerting { alerts: Arc::new(alerts), undelivered }, sessions }
    }
}

impl Plumbing {
    /// IAM actions of what [`Plumbing`] builds: publishing alerts, keeping undelivered ones,
    /// queueing re-checks of deferred outcomes, the findings ledger, assuming member roles.
    pub const IAM_ACTIONS: [&'static [&'static str]; 5] = [
        SnsAlertPublisher::IAM_ACTIONS,
        SqsUndeliveredAlerts::IAM_ACTIONS,
        SqsRecheckQueue::IAM_ACTIONS,
        DynamoDbFindings::IAM_ACTIONS,
        AccountSessions::IAM_ACTIONS,
    ];
}

/// A function's IAM actions: [`Plumbing::IAM_ACTIONS`] plus its own adapters' declarations,
/// sorted, without repeats. template.yaml must grant exactly these (a test checks it).
pub fn function_iam_actions(adapters: &[&[&'static str]]) -> Vec<&'static str> {
    let mut actions: Vec<&'static str> =
        Plumbing::IAM_ACTIONS.iter().chain(adapters).flat_map(|list| list.iter().copied()).collect();
    actions.sort_unstable();
    actions.dedup();
    actions
}

/// The functions that act in member accounts, each through its own member role
/// (`<MEMBER_ROLE_NAME>-<function>`, templates/member.yaml). guardrail-manager works on the
/// organisation from the management side and assumes no member role.
pub const MEMBER_FUNCTIONS: [&str; 5] =
    ["rds-guard", "network-guard", "pipeline-guard", "guardduty-responder", "sweep-worker"];

/// The IAM actions a member role (templates/member.yaml) must allow: what the functions given call
/// in the accounts they watch — the union of their `iam_actions()` without the central plumbing
/// ([`Plumbing::IAM_ACTIONS`]: publishing alerts to the central topic, the central dead-letter
/// queue, assuming the member role itself), which stays in the central account. Called with one
/// function's actions, it is that function's member role. Sorted, without repeats. A test checks
/// member.yaml grants exactly these, role by role.
pub fn member_role_iam_actions(function_actions: &[&[&'static str]]) -> Vec<&'static str> {
    // The ledger's index, which some functions read, is central like the rest of the plumbing.
    let central: Vec<&str> = Plumbing::IAM_ACTIONS
        .iter()
        .chain([&DynamoDbFindings::INDEX_IAM_ACTIONS])
        .flat_map(|list| list.iter().copied())
        .collect();
    let mut actions: Vec<&'static str> =
        function_actions.iter().flat_map(|list| list.iter().copied()).filter(|a| !central.contains(a)).collect();
    actions.sort_unstable();
    actions.dedup();
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_role_actions_leave_the_central_plumbing_out() {
        let rds = function_iam_actions(&[&["rds:DescribeDBInstances", "rds:ModifyDBInstance"]]);
        let ec2 = function_iam_actions(&[&["ec2:DescribeSecurityGroups", "rds:DescribeDBInstances"]]);
        assert!(rds.contains(&"sns:Publish") && rds.contains(&"sts:AssumeRole"));
        assert!(rds.contains(&"dynamodb:PutItem") && rds.contains(&"dynamodb:BatchGetItem"));
        assert_eq!(
            member_role_iam_actions(&[&rds, &ec2]),
            ["ec2:DescribeSecurityGroups", "rds:DescribeDBInstances", "rds:ModifyDBInstance"]
        );
    }
}
