//! The access pipeline-guard needs in one account and region: trails and detectors.

use std::sync::Arc;

use async_trait::async_trait;

use super::{AccountSessions, ClientCache, DetectorControl, SdkCloudTrail, SdkGuardDuty, SessionError, TrailLogging};
use crate::identity::{AccountId, AwsRegion};

#[derive(Clone)]
pub struct PipelinePorts {
    pub trails: Arc<dyn TrailLogging>,
    pub detectors: Arc<dyn DetectorControl>,
}

/// Hands out [`PipelinePorts`] for the account and region of a tampering call (a trail's home
/// region, a detector's region).
#[async_trait]
pub trait PipelineConnector: Send + Sync {
    async fn connect(&self, account: &AccountId, region: &AwsRegion) -> Result<PipelinePorts, SessionError>;

    /// The IAM role calls in `account` are made as, named in alerts ([`AccountSessions::acting_as`]);
    /// `None` when not known.
    async fn acting_as(&self, account: &AccountId, region: &AwsRegion) -> Option<String> {
        let _ = (account, region);
        None
    }
}

/// [`SdkCloudTrail`] and [`SdkGuardDuty`] for whichever account and region, through
/// [`AccountSessions`].
#[derive(Debug)]
pub struct SessionPipelineConnector {
    sessions: AccountSessions,
    clients: ClientCache<PipelinePorts>,
}

impl SessionPipelineConnector {
    pub fn new(sessions: AccountSessions) -> Self {
        Self { sessions, clients: ClientCache::default() }
    }
}

#[async_trait]
impl PipelineConnector for SessionPipelineConnector {
    async fn connect(&self, account: &AccountId, region: &AwsRegion) -> Result<PipelinePorts, SessionError> {
        self.clients
            .get_or_build(&self.sessions, account, region, |config| PipelinePorts {
                trails: Arc::new(SdkCloudTrail::new(aws_sdk_cloudtrail::Client::new(config))),
                detectors: Arc::new(SdkGuardDuty::new(aws_sdk_guardduty::Client::new(config))),
            })
            .await
    }

    async fn acting_as(&self, account: &AccountId, region: &AwsRegion) -> Option<String> {
        self.sessions.acting_as(account, region).await.ok()
    }
}
