//! AWS capabilities behind narrow traits (ports), each with an SDK adapter. Every adapter
//! declares the IAM actions it calls in `*_IAM_ACTIONS` constants next to the calls; a test checks
//! that template.yaml grants exactly the union of what a function's adapters declare.

mod cloudtrail;
mod dynamodb;
mod dynamodb_claims;
mod ec2;
mod error;
mod guardduty;
mod kms;
mod organizations;
mod pipeline;
mod rds;
mod rds_listing;
mod rds_migration;
mod rds_migration_state;
mod rds_parameters;
mod rds_snapshots;
mod rds_sweep_cache;
mod regions;
mod securityhub;
mod session;
mod snapshot;
mod sns;
mod sns_batch;
mod sqs;

pub use cloudtrail::{SdkCloudTrail, TrailLogging};
pub use dynamodb::{open_scope, DynamoDbFindings, FINDING_ID_KEY, OPEN_INDEX, OPEN_SCOPE_ATTRIBUTE, TTL_ATTRIBUTE};
pub use ec2::{
    NetworkConnector, NetworkPorts, SdkEc2, SecurityGroupInventory, SecurityGroupPort, SecurityGroupRemediation,
    SessionNetworkConnector, NOT_FOUND_CODES as EC2_NOT_FOUND_CODES,
};
pub use error::AwsError;
pub use guardduty::{DetectorControl, DetectorState, SdkGuardDuty};
pub use kms::{RdsManagedKey, SdkKms, RDS_MANAGED_KEY_ALIAS};
pub use organizations::{
    AccountDirectory, Organization, OrganizationTree, ScpSummary, SdkOrganizations, ORGANIZATIONS_IAM_ACTIONS,
    ORGANIZATIONS_UNSCOPED_IAM_ACTIONS, SCP_TYPE,
};
pub use pipeline::{PipelineConnector, PipelinePorts, SessionPipelineConnector};
pub use rds::{
    DatabaseInventory, DatabaseNetworkInventory, DatabaseRemediation, RdsConnector, RdsGuardPort, RdsPort, SdkRds,
    SessionRdsConnector, SettingsChange,
};
pub use rds_listing::{EstateListing, SweepPort};
pub use rds_migration::{MigrationActions, MigrationInventory, MigrationPort};
pub use rds_parameters::{ParameterGroups, ParameterLookup};
pub use rds_snapshots::SnapshotSharing;
pub use regions::{sorted_regions, EnabledRegions, SdkRegions};
pub use securityhub::{sdk_finding, FindingsExport, SdkSecurityHub, SECURITY_HUB_BATCH_MAX};
pub use session::{member_role_name_for, AccountSessions, ClientCache, SessionError};
pub use snapshot::{
    ForensicSnapshots, ResponderConnector, ResponderPorts, SdkRdsSnapshots, SessionResponderConnector, SnapshotTaken,
    SNAPSHOT_EXISTS_CODES,
};
pub use sns::{AlertPublisher, SnsAlertPublisher};
pub use sns_batch::{SNS_BATCH_BYTES, SNS_BATCH_MAX, SNS_ENTRY_RETRIES};
pub use sqs::{
    RecheckQueue, SqsRecheckQueue, SqsSweepQueue, SqsUndeliveredAlerts, SweepQueue, UndeliveredAlertSink, SQS_BATCH_MAX,
};
