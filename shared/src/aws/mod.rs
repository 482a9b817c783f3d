//! AWS capabilities behind narrow traits (ports), each with an SDK adapter. Every adapter
//! declares the IAM actions it calls in an `IAM_ACTIONS` constant next to the calls; a test checks
//! that template.yaml grants exactly the union of what a function's adapters declare.

mod error;
mod rds;
mod session;
mod sns;
mod sqs;

pub use error::AwsError;
pub use rds::{DatabaseInventory, DatabaseRemediation, RdsConnector, RdsPort, SdkRds, SessionRdsConnector};
pub use session::{AccountSessions, SessionError};
pub use sns::{AlertPublisher, SnsAlertPublisher};
pub use sqs::{SqsUndeliveredAlerts, UndeliveredAlertSink};
