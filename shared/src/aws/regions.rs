//! The regions enabled for the account a client's credentials belong to: EC2 DescribeRegions
//! without AllRegions, so opt-in regions the account has not enabled are left out (nothing can run
//! there). Used by sweep-planner (its own account) and `rdsguard scan` (each scanned account).

use async_trait::async_trait;

use super::AwsError;
use crate::identity::AwsRegion;

#[async_trait]
pub trait EnabledRegions: Send + Sync {
    async fn enabled_regions(&self) -> Result<Vec<AwsRegion>, AwsError>;
}

/// Region names as [`AwsRegion`]s, sorted, without duplicates; names that are not regions dropped.
pub fn sorted_regions(names: impl Iterator<Item = String>) -> Vec<AwsRegion> {
    let mut regions: Vec<AwsRegion> = names.filter_map(|r| AwsRegion::parse(&r).ok()).collect();
    regions.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    regions.dedup_by(|a, b| a.as_str() == b.as_str());
    regions
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
        Ok(sorted_regions(out.regions().iter().filter_map(|r| r.region_name().map(str::to_owned))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_are_sorted_deduplicated_and_non_regions_dropped() {
        let names = ["us-east-1", "eu-west-1", "us-east-1", "", "not a region"].map(str::to_owned);
        let got: Vec<String> = sorted_regions(names.into_iter()).iter().map(|r| r.as_str().to_owned()).collect();
        assert_eq!(got, ["eu-west-1", "us-east-1"]);
    }
}
