//! The regions enabled for an account.
//!
//! - [`SdkRegions`]: EC2 DescribeRegions in the planner's own account (without AllRegions, so
//!   opt-in regions the account has not enabled are left out: nothing can run there). Used in
//!   single-account mode, and for a member whose own list cannot be read.
//! - [`SdkAccountRegions`]: AWS Account Management ListRegions, which the management account (or
//!   the delegated administrator for Account Management) may call with a member's `AccountId`. Each
//!   member enables its own opt-in regions, so in organisation mode every account is swept in the
//!   regions enabled *for it*, not in the planner's.

use async_trait::async_trait;
use aws_sdk_account::types::RegionOptStatus;
use rdsguard::aws::AwsError;
use rdsguard::identity::AwsRegion;

#[async_trait]
pub trait EnabledRegions: Send + Sync {
    async fn enabled_regions(&self) -> Result<Vec<AwsRegion>, AwsError>;
}

/// The regions enabled for one account of the organisation.
#[async_trait]
pub trait AccountRegions: Send + Sync {
    /// `None`: the caller's own account (ListRegions refuses the management account's own id).
    async fn regions_enabled_for(&self, account: Option<&str>) -> Result<Vec<AwsRegion>, AwsError>;
}

fn sorted(names: impl Iterator<Item = String>) -> Vec<AwsRegion> {
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
        Ok(sorted(out.regions().iter().filter_map(|r| r.region_name().map(str::to_owned))))
    }
}

#[derive(Debug, Clone)]
pub struct SdkAccountRegions {
    client: aws_sdk_account::Client,
}

impl SdkAccountRegions {
    /// On the caller's account (`account`) and on members (`accountInOrganization`); the
    /// organisation must have trusted access enabled for Account Management.
    pub const IAM_ACTIONS: &'static [&'static str] = &["account:ListRegions"];
    /// ListRegions' largest page.
    const PAGE: i32 = 50;

    pub fn new(client: aws_sdk_account::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl AccountRegions for SdkAccountRegions {
    async fn regions_enabled_for(&self, account: Option<&str>) -> Result<Vec<AwsRegion>, AwsError> {
        let mut pages = self
            .client
            .list_regions()
            .set_account_id(account.map(str::to_owned))
            .region_opt_status_contains(RegionOptStatus::Enabled)
            .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
            .max_results(Self::PAGE)
            .into_paginator()
            .send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListRegions", e))?;
            names.extend(page.regions().iter().filter_map(|r| r.region_name().map(str::to_owned)));
        }
        Ok(sorted(names.into_iter()))
    }
}
