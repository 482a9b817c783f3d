//! Amazon GuardDuty: is a detector enabled, and enabling it again.

use async_trait::async_trait;

use super::AwsError;

/// A detector as GetDetector reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorState {
    /// `ENABLED` or `DISABLED`.
    pub status: String,
    pub tags: Vec<(String, String)>,
}

impl DetectorState {
    pub fn is_enabled(&self) -> bool {
        self.status.eq_ignore_ascii_case("ENABLED")
    }
}

/// What pipeline-guard reads and changes on a GuardDuty detector.
#[async_trait]
pub trait DetectorControl: Send + Sync {
    /// GetDetector. `Ok(None)`: the detector does not exist (any more) in this account and region.
    async fn detector(&self, detector_id: &str) -> Result<Option<DetectorState>, AwsError>;
    /// UpdateDetector Enable=true (nothing else is changed).
    async fn enable_detector(&self, detector_id: &str) -> Result<(), AwsError>;
}

/// GuardDuty through the AWS SDK.
#[derive(Debug, Clone)]
pub struct SdkGuardDuty {
    client: aws_sdk_guardduty::Client,
}

impl SdkGuardDuty {
    /// IAM actions of the reads (scoped to detectors in the template).
    pub const INVENTORY_IAM_ACTIONS: &'static [&'static str] = &["guardduty:GetDetector"];
    /// IAM actions of the writes.
    pub const REMEDIATION_IAM_ACTIONS: &'static [&'static str] = &["guardduty:UpdateDetector"];

    pub fn new(client: aws_sdk_guardduty::Client) -> Self {
        Self { client }
    }
}

/// GuardDuty answers an unknown detector id with BadRequestException ("...the input detectorId is
/// not owned by the current account").
fn is_not_found(error: &AwsError) -> bool {
    let code = error.code.as_deref().unwrap_or_default();
    matches!(code, "BadRequestException" | "InvalidInputException" | "ResourceNotFoundException")
        && error.message.contains("not owned")
        || code == "ResourceNotFoundException"
}

#[async_trait]
impl DetectorControl for SdkGuardDuty {
    async fn detector(&self, detector_id: &str) -> Result<Option<DetectorState>, AwsError> {
        match self.client.get_detector().detector_id(detector_id).send().await {
            Ok(detector) => Ok(Some(DetectorState {
                status: detector.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                tags: detector
                    .tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            })),
            Err(e) => {
                let error = AwsError::from_sdk("GetDetector", e);
                if is_not_found(&error) {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    async fn enable_detector(&self, detector_id: &str) -> Result<(), AwsError> {
        self.client
            .update_detector()
            .detector_id(detector_id)
            .enable(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("UpdateDetector", e))
    }
}
