//! rds-guard: judges RDS DB instances, clusters, snapshots and parameter groups against the RDS
//! rulebook (public access, encryption, region, deletion protection, backups, TLS, IAM
//! authentication, master secret, admin name, logs, Multi-AZ, minor upgrades, public or shared
//! snapshots, deletions without a final snapshot) the moment the API call or RDS event arrives;
//! fixes what is safe to fix as the policy says, and alerts through SNS.

mod deletion;
pub mod handler;
pub mod target;

pub use handler::{handle_event, handle_event_within, DatabaseDetail, RdsGuard, Summary, FUNCTION_NAME};

use rdsguard::aws::{DynamoDbFindings, SdkRds};

/// Every IAM action rds-guard's code can call (the union of its adapters' declarations).
/// template.yaml must grant exactly these to the function; a test checks it.
pub fn iam_actions() -> Vec<&'static str> {
    rdsguard::startup::function_iam_actions(&[
        SdkRds::INVENTORY_IAM_ACTIONS,
        SdkRds::REMEDIATION_IAM_ACTIONS,
        SdkRds::SNAPSHOT_INVENTORY_IAM_ACTIONS,
        SdkRds::SNAPSHOT_SHARING_IAM_ACTIONS,
        SdkRds::PARAMETER_INVENTORY_IAM_ACTIONS,
        SdkRds::PARAMETER_REMEDIATION_IAM_ACTIONS,
        // The findings held on a resource that no longer exists, to resolve them.
        DynamoDbFindings::INDEX_IAM_ACTIONS,
        // Granted only when the stack's MigrationKmsKey is set (`RDS.3=migrate`; see template.yaml).
        SdkRds::MIGRATION_IAM_ACTIONS,
        SdkRds::MIGRATION_KMS_IAM_ACTIONS,
    ])
}
