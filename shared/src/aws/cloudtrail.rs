//! AWS CloudTrail: is a trail logging, and switching it back on.

use async_trait::async_trait;

use super::AwsError;

/// CloudTrail error codes meaning "no such trail (any more)".
const TRAIL_NOT_FOUND_CODES: &[&str] = &["TrailNotFoundException", "ResourceNotFoundException"];

/// What pipeline-guard reads and changes on a trail. `trail` is a trail name or ARN, as
/// CloudTrail's own API accepts; calls go to the trail's home region.
#[async_trait]
pub trait TrailLogging: Send + Sync {
    /// GetTrailStatus `IsLogging`. `Ok(None)`: the trail does not exist (any more).
    async fn is_logging(&self, trail: &str) -> Result<Option<bool>, AwsError>;
    /// StartLogging.
    async fn start_logging(&self, trail: &str) -> Result<(), AwsError>;
    /// The trail's tags (ListTags takes the trail's ARN).
    async fn trail_tags(&self, trail_arn: &str) -> Result<Vec<(String, String)>, AwsError>;
}

/// CloudTrail through the AWS SDK.
#[derive(Debug, Clone)]
pub struct SdkCloudTrail {
    client: aws_sdk_cloudtrail::Client,
}

impl SdkCloudTrail {
    /// IAM actions of the reads (scoped to trails in the template).
    pub const INVENTORY_IAM_ACTIONS: &'static [&'static str] = &["cloudtrail:GetTrailStatus", "cloudtrail:ListTags"];
    /// IAM actions of the writes.
    pub const REMEDIATION_IAM_ACTIONS: &'static [&'static str] = &["cloudtrail:StartLogging"];

    pub fn new(client: aws_sdk_cloudtrail::Client) -> Self {
        Self { client }
    }
}

fn is_not_found(error: &AwsError) -> bool {
    error.code.as_deref().is_some_and(|code| TRAIL_NOT_FOUND_CODES.contains(&code))
}

#[async_trait]
impl TrailLogging for SdkCloudTrail {
    async fn is_logging(&self, trail: &str) -> Result<Option<bool>, AwsError> {
        match self.client.get_trail_status().name(trail).send().await {
            Ok(status) => Ok(Some(status.is_logging().unwrap_or(false))),
            Err(e) => {
                let error = AwsError::from_sdk("GetTrailStatus", e);
                if is_not_found(&error) {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    async fn start_logging(&self, trail: &str) -> Result<(), AwsError> {
        self.client
            .start_logging()
            .name(trail)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("StartLogging", e))
    }

    async fn trail_tags(&self, trail_arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        let output = self
            .client
            .list_tags()
            .resource_id_list(trail_arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListTags", e))?;
        Ok(output
            .resource_tag_list()
            .iter()
            .flat_map(|resource| resource.tags_list())
            .map(|tag| (tag.key().to_owned(), tag.value().unwrap_or_default().to_owned()))
            .collect())
    }
}
