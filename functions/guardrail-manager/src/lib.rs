//! guardrail-manager: rdsguard's preventive guardrails. Keeps the Service Control Policies of the
//! guardrail catalogue (`rdsguard::guardrails`) applied to the configured roots, OUs and accounts:
//! created and removed with the stack (custom resource), re-applied with a CRITICAL alert when
//! someone changes them (CloudTrail Organizations events), and checked for drift on a schedule.
//! The `rdsguard guardrails` command line (crate `rdsguard-cli`, built on [`cli`]) renders, plans
//! and applies the same way.

pub mod cli;
pub mod custom_resource;
pub mod handler;
pub mod membership;
pub mod tamper;

pub use handler::{
    handle_event, handle_event_within, handle_unconfigured, GuardrailFailure, GuardrailManager, GuardrailManagerError,
    Summary, FUNCTION_NAME, REAPPLY_ALLOWANCE,
};

use rdsguard::aws::{DynamoDbFindings, SdkOrganizations, SnsAlertPublisher, SqsUndeliveredAlerts};

/// Every IAM action guardrail-manager's code can call. template.yaml must grant exactly these.
/// Of the shared plumbing it uses only the alert publisher, the undelivered-alerts queue and the
/// findings ledger: it acts with its own role in the management (or delegated administrator)
/// account and never assumes a member role, so `sts:AssumeRole` (`AccountSessions`) is not granted.
pub fn iam_actions() -> Vec<&'static str> {
    let mut actions = [
        SnsAlertPublisher::IAM_ACTIONS,
        SqsUndeliveredAlerts::IAM_ACTIONS,
        DynamoDbFindings::IAM_ACTIONS,
        SdkOrganizations::IAM_ACTIONS,
    ]
    .concat();
    actions.sort_unstable();
    actions.dedup();
    actions
}
