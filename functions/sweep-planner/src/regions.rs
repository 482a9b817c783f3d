//! The regions enabled for the account: EC2 DescribeRegions (without AllRegions, so opt-in regions
//! the account has not enabled are left out — nothing can run there).

use async_trait::async_trait;
use rdsguard::aws::AwsError;
use rdsguard::identity::AwsRegion;

#[async_trait]
pub trait EnabledRegions: Send + Sync {
    async fn enabled_regions(&self) -> Result<Vec<AwsRegion>, AwsError>;
}

#[derive(Debug, Clone)]
pub struct SdkRegions {
    client: aws_sdk_ec2::Client,
}

impl SdkRegions {
    /// EC2 authorises DescribeRegions only on `Resource: "*"`.
    pub const IAM_ACTIONS: &'static [&'static str] = &["ec2:DescribeRegions"];

    pub fn new(client: aws_sdk_ec2::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl EnabledRegions for SdkRegions {
    async fn enabled_regions(&self) -> Result<Vec<AwsRegion>, AwsError> {
        let out = self.client.describe_regions().send().await.map_err(|e| AwsError::from_sdk("DescribeRegions", e))?;
        let mut regions: Vec<AwsRegion> =
            out.regions().iter().filter_map(|r| r.region_name()).filter_map(|r| AwsRegion::parse(r).ok()).collect();
        regions.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        regions.dedup_by(|a, b| a.as_str() == b.as_str());
        Ok(regions)
    }
}
