//! rds-guard: catches RDS DB instances and clusters that are public (RDS.2), unencrypted
//! (RDS.3 / RDS.27) or in a region that is not allowed (RDSGUARD.REGION) the moment the API call
//! or RDS event arrives; fixes or stops them as the policy says, and alerts through SNS.

pub mod handler;
pub mod target;

pub use handler::{handle_event, RdsGuard, RdsGuardError, Summary, FUNCTION_NAME};

use rdsguard::aws::SdkRds;

/// Every IAM action rds-guard's code can call (the union of its adapters' declarations).
/// template.yaml must grant exactly these to the function; a test checks it.
pub fn iam_actions() -> Vec<&'static str> {
    rdsguard::startup::function_iam_actions(&[SdkRds::INVENTORY_IAM_ACTIONS, SdkRds::REMEDIATION_IAM_ACTIONS])
}
