//! network-guard: revokes security group ingress rules that open a database port to the whole
//! internet (EC2.19: `0.0.0.0/0`, `::/0`) or, with ALLOWED_CIDRS set, to an unlisted source
//! (RDSGUARD.SG_SOURCE) — every such rule, by its SecurityGroupRuleId, leaving the others alone —
//! and alerts through SNS, one alert per offending rule.

pub mod handler;
pub mod target;

pub use handler::{
    handle_event, handle_event_within, GroupSummary, GroupsDetail, NetworkGuard, Summary, FUNCTION_NAME,
};

use rdsguard::aws::{DynamoDbFindings, SdkEc2, SdkRds};

/// Every IAM action network-guard's code can call (the union of its adapters' declarations).
/// template.yaml must grant exactly these to the function; a test checks it.
pub fn iam_actions() -> Vec<&'static str> {
    rdsguard::startup::function_iam_actions(&[
        SdkEc2::INVENTORY_IAM_ACTIONS,
        SdkEc2::REMEDIATION_IAM_ACTIONS,
        SdkRds::INVENTORY_IAM_ACTIONS,
        // The findings held on a group, to resolve those it no longer sees.
        DynamoDbFindings::INDEX_IAM_ACTIONS,
    ])
}
