//! pipeline-guard: notices when someone switches off or weakens what watches the estate — CloudTrail
//! logging, GuardDuty detection, rdsguard's own EventBridge rules — alerts (CRITICAL; HIGH for a
//! failed attempt) naming who did it and from where, and switches logging and detection back on.

pub mod config;
pub mod handler;
pub mod restore;
pub mod tampering;
pub mod target;

pub use handler::{handle_event, handle_event_within, PipelineGuard, Summary, FUNCTION_NAME, RESTORE_ALLOWANCE};

use rdsguard::aws::{SdkCloudTrail, SdkGuardDuty};

/// Every IAM action pipeline-guard's code can call (the union of its adapters' declarations).
/// template.yaml must grant exactly these to the function; a test checks it.
pub fn iam_actions() -> Vec<&'static str> {
    rdsguard::startup::function_iam_actions(&[
        SdkCloudTrail::INVENTORY_IAM_ACTIONS,
        SdkCloudTrail::REMEDIATION_IAM_ACTIONS,
        SdkGuardDuty::INVENTORY_IAM_ACTIONS,
        SdkGuardDuty::REMEDIATION_IAM_ACTIONS,
    ])
}
