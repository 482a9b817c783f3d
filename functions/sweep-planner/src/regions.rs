//! The regions enabled for an account.
//!
//! - [`SdkRegions`] (shared): EC2 DescribeRegions in the planner's own account. Used in
//!   single-account mode, and for a member whose own list cannot be read.
//! - [`SdkAccountRegions`]: AWS Account Management ListRegions, which the management account (or
//!   the delegated administrator for Account Management) may call with a member's `AccountId`. Each
//!   member enables its own opt-in regions, so in organisation mode every account is swept in the
//!   regions enabled *for it*, not in the planner's.

use async_trait::async_trait;
use aws_sdk_account::types::RegionOptStatus;
use rdsguard::aws::{sorted_regions, AwsError};
pub use rdsguard::aws::{EnabledRegions, SdkRegions};
use rdsguard::identity::AwsRegion;

/// The regions enabled for one account of the organisation.
#[async_trait]
pub trait AccountRegions: Send + Sync {
    /// `None`: the caller's own account (ListRegions refuses the management account's own id).
    async fn regions_enabled_for(&self, account: Option<&str>) -> Result<Vec<AwsRegion>, AwsError>;
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
        Ok(sorted_regions(names.into_iter()))
    }
}
