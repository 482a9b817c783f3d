//! Amazon RDS snapshots taken for forensics (guardduty-responder), and the access
//! guardduty-responder needs in one account and region.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::types::Tag;

use super::{AccountSessions, AwsError, ClientCache, NetworkPorts, RdsPort, SdkEc2, SdkRds, SessionError};
use crate::identity::{AccountId, AwsRegion};

/// RDS error codes meaning "a snapshot with that identifier exists already".
pub const SNAPSHOT_EXISTS_CODES: &[&str] =
    &["DBSnapshotAlreadyExists", "DBSnapshotAlreadyExistsFault", "DBClusterSnapshotAlreadyExistsFault"];

/// What RDS answered to a snapshot request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotTaken {
    pub identifier: String,
    pub arn: Option<String>,
    /// e.g. `creating`.
    pub status: Option<String>,
}

/// Takes a manual snapshot, tagged, for evidence.
#[async_trait]
pub trait ForensicSnapshots: Send + Sync {
    /// CreateDBSnapshot of a DB instance (not an Aurora member: those are snapshotted by cluster).
    async fn snapshot_instance(
        &self,
        instance: &str,
        snapshot: &str,
        tags: &[(String, String)],
    ) -> Result<SnapshotTaken, AwsError>;
    /// CreateDBClusterSnapshot of an Aurora or Multi-AZ DB cluster.
    async fn snapshot_cluster(
        &self,
        cluster: &str,
        snapshot: &str,
        tags: &[(String, String)],
    ) -> Result<SnapshotTaken, AwsError>;
}

/// Snapshots through the AWS SDK.
#[derive(Debug, Clone)]
pub struct SdkRdsSnapshots {
    client: aws_sdk_rds::Client,
}

impl SdkRdsSnapshots {
    /// IAM actions this adapter calls. Creating a snapshot with tags also needs
    /// rds:AddTagsToResource on the new snapshot.
    pub const IAM_ACTIONS: &'static [&'static str] =
        &["rds:CreateDBSnapshot", "rds:CreateDBClusterSnapshot", "rds:AddTagsToResource"];

    pub fn new(client: aws_sdk_rds::Client) -> Self {
        Self { client }
    }
}

fn rds_tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

#[async_trait]
impl ForensicSnapshots for SdkRdsSnapshots {
    async fn snapshot_instance(
        &self,
        instance: &str,
        snapshot: &str,
        tags: &[(String, String)],
    ) -> Result<SnapshotTaken, AwsError> {
        let output = self
            .client
            .create_db_snapshot()
            .db_instance_identifier(instance)
            .db_snapshot_identifier(snapshot)
            .set_tags(Some(rds_tags(tags)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateDBSnapshot", e))?;
        let taken = output.db_snapshot();
        Ok(SnapshotTaken {
            identifier: taken.and_then(|s| s.db_snapshot_identifier()).unwrap_or(snapshot).to_owned(),
            arn: taken.and_then(|s| s.db_snapshot_arn()).map(str::to_owned),
            status: taken.and_then(|s| s.status()).map(str::to_owned),
        })
    }

    async fn snapshot_cluster(
        &self,
        cluster: &str,
        snapshot: &str,
        tags: &[(String, String)],
    ) -> Result<SnapshotTaken, AwsError> {
        let output = self
            .client
            .create_db_cluster_snapshot()
            .db_cluster_identifier(cluster)
            .db_cluster_snapshot_identifier(snapshot)
            .set_tags(Some(rds_tags(tags)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateDBClusterSnapshot", e))?;
        let taken = output.db_cluster_snapshot();
        Ok(SnapshotTaken {
            identifier: taken.and_then(|s| s.db_cluster_snapshot_identifier()).unwrap_or(snapshot).to_owned(),
            arn: taken.and_then(|s| s.db_cluster_snapshot_arn()).map(str::to_owned),
            status: taken.and_then(|s| s.status()).map(str::to_owned),
        })
    }
}

/// What guardduty-responder needs in one account and region: the database (describe, make
/// private), its snapshots, and the security groups in front of it.
#[derive(Clone)]
pub struct ResponderPorts {
    pub databases: Arc<dyn RdsPort>,
    pub snapshots: Arc<dyn ForensicSnapshots>,
    pub network: NetworkPorts,
}

/// Hands out [`ResponderPorts`] for the account and region a finding is about.
#[async_trait]
pub trait ResponderConnector: Send + Sync {
    async fn connect(&self, account: &AccountId, region: &AwsRegion) -> Result<ResponderPorts, SessionError>;

    /// The IAM role calls in `account` are made as, named in alerts ([`AccountSessions::acting_as`]);
    /// `None` when not known.
    async fn acting_as(&self, account: &AccountId, region: &AwsRegion) -> Option<String> {
        let _ = (account, region);
        None
    }
}

/// [`SdkRds`] and [`SdkRdsSnapshots`] for whichever account and region, through [`AccountSessions`].
#[derive(Debug)]
pub struct SessionResponderConnector {
    sessions: AccountSessions,
    clients: ClientCache<ResponderPorts>,
}

impl SessionResponderConnector {
    pub fn new(sessions: AccountSessions) -> Self {
        Self { sessions, clients: ClientCache::default() }
    }
}

#[async_trait]
impl ResponderConnector for SessionResponderConnector {
    async fn connect(&self, account: &AccountId, region: &AwsRegion) -> Result<ResponderPorts, SessionError> {
        self.clients
            .get_or_build(&self.sessions, account, region, |config| {
                let client = aws_sdk_rds::Client::new(config);
                ResponderPorts {
                    databases: Arc::new(SdkRds::new(client.clone())),
                    snapshots: Arc::new(SdkRdsSnapshots::new(client.clone())),
                    network: NetworkPorts {
                        groups: Arc::new(SdkEc2::new(aws_sdk_ec2::Client::new(config))),
                        databases: Arc::new(SdkRds::new(client)),
                    },
                }
            })
            .await
    }

    async fn acting_as(&self, account: &AccountId, region: &AwsRegion) -> Option<String> {
        self.sessions.acting_as(account, region).await.ok()
    }
}
