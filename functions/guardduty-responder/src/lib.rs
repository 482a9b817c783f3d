//! guardduty-responder: answers GuardDuty findings about databases (RDS Protection's suspicious
//! logins, and any finding on an RDS resource) with one alert that carries what a responder needs,
//! and — where configured per finding type — a forensic snapshot and a public-access fix.

pub mod config;
pub mod handler;
pub mod respond;
pub mod target;

pub use handler::{handle_event, handle_event_within, GuardDutyResponder, Summary, ThreatDetail, FUNCTION_NAME};

use rdsguard::aws::{SdkEc2, SdkRds, SdkRdsSnapshots};

/// Every IAM action guardduty-responder's code can call (the union of its adapters'
/// declarations). template.yaml must grant exactly these to the function; a test checks it.
pub fn iam_actions() -> Vec<&'static str> {
    rdsguard::startup::function_iam_actions(&[
        SdkRds::INVENTORY_IAM_ACTIONS,
        SdkRds::MAKE_PRIVATE_IAM_ACTIONS,
        SdkRdsSnapshots::IAM_ACTIONS,
        SdkEc2::INVENTORY_IAM_ACTIONS,
        SdkEc2::REMEDIATION_IAM_ACTIONS,
    ])
}
