//! sweep-worker: sweeps one account and region per SQS message (`{"account": "...", "region": "..."}`,
//! sent by sweep-planner) — every DB instance, DB cluster, manual DB (cluster) snapshot, parameter
//! group in use and security group in front of a database, judged by the same checks, policy,
//! exemptions and remediation as the event functions ([`rdsguard::sweep::sweep_region`]), each
//! finding alerted through the findings ledger. Messages whose region could not be swept
//! completely, or whose alerts could not be published, are reported as batch item failures
//! (`ReportBatchItemFailures`): SQS delivers them again and, in the end, keeps them in the sweep
//! dead-letter queue.
//!
//! It also consumes the re-check queue ([`rdsguard::recheck`]): a message with a `kind` runs the
//! one check of one resource again for a deferred fix ([`recheck`]).

pub mod handler;
pub mod recheck;

pub use handler::{
    handle_batch, parse_message, BatchReport, SweepRequest, SweepWorker, SweepWorkerError, WorkerMessage, FUNCTION_NAME,
};
pub use recheck::RECHECK_EVENT_NAME;

use rdsguard::aws::{DynamoDbFindings, SdkEc2, SdkKms, SdkRds};

/// Every IAM action sweep-worker's code can call (the union of its adapters' declarations).
/// template.yaml must grant exactly these to the function, and templates/member.yaml the member
/// side of them to its member role; tests check both.
pub fn iam_actions() -> Vec<&'static str> {
    rdsguard::startup::function_iam_actions(&[
        SdkRds::LISTING_IAM_ACTIONS,
        SdkRds::INVENTORY_IAM_ACTIONS,
        SdkRds::REMEDIATION_IAM_ACTIONS,
        SdkRds::SNAPSHOT_INVENTORY_IAM_ACTIONS,
        SdkRds::SNAPSHOT_SHARING_IAM_ACTIONS,
        SdkRds::PARAMETER_INVENTORY_IAM_ACTIONS,
        SdkRds::PARAMETER_REMEDIATION_IAM_ACTIONS,
        SdkEc2::INVENTORY_IAM_ACTIONS,
        SdkEc2::REMEDIATION_IAM_ACTIONS,
        // Which key is aws/rds, so the snapshots encrypted with it (unshareable) cost no attribute read.
        SdkKms::IAM_ACTIONS,
        // The findings held in the account-region, to resolve those a complete sweep no longer sees.
        DynamoDbFindings::INDEX_IAM_ACTIONS,
        // Granted only when the stack's MigrationKmsKey is set (`RDS.3=migrate`; see template.yaml).
        SdkRds::MIGRATION_IAM_ACTIONS,
        SdkRds::MIGRATION_KMS_IAM_ACTIONS,
    ])
}
