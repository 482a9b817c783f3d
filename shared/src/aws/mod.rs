//! AWS capabilities behind narrow traits (ports), each with an SDK adapter. Every adapter
//! declares the IAM actions it calls in `*_IAM_ACTIONS` constants next to the calls; a test checks
//! that template.yaml grants exactly the union of what a function's adapters declare.

mod ec2;
mod error;
mod rds;
mod session;
mod sns;
mod sqs;

pub use ec2::{
    NetworkConnector, NetworkPorts, SdkEc2, SecurityGroupInventory, SecurityGroupPort, SecurityGroupRemediation,
    SessionNetworkConnector, NOT_FOUND_CODES as EC2_NOT_FOUND_CODES,
};
pub use error::AwsError;
pub use rds::{
    DatabaseInventory, DatabaseNetworkInventory, DatabaseRemediation, RdsConnector, RdsPort, SdkRds,
    SessionRdsConnector,
};
pub use session::{AccountSessions, SessionError};
pub use sns::{AlertPublisher, SnsAlertPublisher};
pub use sqs::{SqsUndeliveredAlerts, UndeliveredAlertSink};
