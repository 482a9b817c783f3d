//! Amazon RDS parameter groups: reading one parameter, setting it back, and finding the databases
//! that use a group (a change to a group changes every one of them).

use async_trait::async_trait;
use aws_sdk_rds::types::{ApplyMethod, Parameter};

use super::{AwsError, SdkRds};
use crate::database::{Database, DatabaseKind};

/// What a parameter group says about one parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterLookup {
    GroupNotFound,
    /// The group does not list the parameter (the engine has no such parameter).
    NotListed,
    Found {
        /// `ParameterValue`; `None`: left at the engine default.
        value: Option<String>,
        /// `user`, `system`, `engine-default`.
        source: Option<String>,
        /// `AllowedValues`, e.g. `0, 1` or `ON, OFF`.
        allowed_values: Option<String>,
    },
}

/// DB parameter groups (`DatabaseKind::Instance`) and DB cluster parameter groups
/// (`DatabaseKind::Cluster`).
#[async_trait]
pub trait ParameterGroups: Send + Sync {
    async fn parameter(&self, kind: DatabaseKind, group: &str, name: &str) -> Result<ParameterLookup, AwsError>;
    /// ModifyDB(Cluster)ParameterGroup with ApplyMethod=immediate (for dynamic parameters).
    async fn set_parameter(&self, kind: DatabaseKind, group: &str, name: &str, value: &str) -> Result<(), AwsError>;
    /// The DB instances (for a DB parameter group) or DB clusters (for a cluster parameter group)
    /// that use `group`, with their current state.
    async fn databases_using_parameter_group(&self, kind: DatabaseKind, group: &str)
        -> Result<Vec<Database>, AwsError>;
}

impl SdkRds {
    /// IAM actions of [`ParameterGroups`]'s reads (the databases are found with
    /// DescribeDBInstances / DescribeDBClusters, see `INVENTORY_IAM_ACTIONS`).
    pub const PARAMETER_INVENTORY_IAM_ACTIONS: &'static [&'static str] =
        &["rds:DescribeDBParameters", "rds:DescribeDBClusterParameters"];
    /// IAM actions of [`ParameterGroups::set_parameter`].
    pub const PARAMETER_REMEDIATION_IAM_ACTIONS: &'static [&'static str] =
        &["rds:ModifyDBParameterGroup", "rds:ModifyDBClusterParameterGroup"];
}

fn found(parameters: &[Parameter], name: &str) -> Option<ParameterLookup> {
    parameters.iter().find(|p| p.parameter_name() == Some(name)).map(|p| ParameterLookup::Found {
        value: p.parameter_value().map(str::to_owned),
        source: p.source().map(str::to_owned),
        allowed_values: p.allowed_values().map(str::to_owned),
    })
}

#[async_trait]
impl ParameterGroups for SdkRds {
    async fn parameter(&self, kind: DatabaseKind, group: &str, name: &str) -> Result<ParameterLookup, AwsError> {
        if let Some(kept) = self.sweep_cache.as_ref().and_then(|cache| cache.parameter(kind, group, name)) {
            return Ok(kept);
        }
        let lookup = self.read_parameter(kind, group, name).await?;
        if let Some(cache) = &self.sweep_cache {
            cache.keep_parameter(kind, group, name, &lookup);
        }
        Ok(lookup)
    }

    async fn set_parameter(&self, kind: DatabaseKind, group: &str, name: &str, value: &str) -> Result<(), AwsError> {
        if let Some(cache) = &self.sweep_cache {
            cache.written(kind, group);
        }
        self.write_parameter(kind, group, name, value).await
    }

    async fn databases_using_parameter_group(
        &self,
        kind: DatabaseKind,
        group: &str,
    ) -> Result<Vec<Database>, AwsError> {
        // One listing of the region's databases (EstateListing), kept to those on the group; in a
        // sweep, one listing for every group.
        let all = match self.sweep_cache.as_ref().and_then(|cache| cache.listing(kind)) {
            Some(all) => all,
            None => {
                let all = super::EstateListing::list_databases(self, kind).await?;
                if let Some(cache) = &self.sweep_cache {
                    cache.keep_listing(kind, &all);
                }
                all
            }
        };
        Ok(all.into_iter().filter(|db| db.state.parameter_group.as_deref() == Some(group)).collect())
    }
}

impl SdkRds {
    async fn read_parameter(&self, kind: DatabaseKind, group: &str, name: &str) -> Result<ParameterLookup, AwsError> {
        match kind {
            DatabaseKind::Instance => {
                let mut pages =
                    self.client.describe_db_parameters().db_parameter_group_name(group).into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = match page {
                        Ok(page) => page,
                        Err(e) if e.as_service_error().is_some_and(|s| s.is_db_parameter_group_not_found_fault()) => {
                            return Ok(ParameterLookup::GroupNotFound)
                        }
                        Err(e) => return Err(AwsError::from_sdk("DescribeDBParameters", e)),
                    };
                    if let Some(hit) = found(page.parameters(), name) {
                        return Ok(hit);
                    }
                }
                Ok(ParameterLookup::NotListed)
            }
            DatabaseKind::Cluster => {
                let mut pages = self
                    .client
                    .describe_db_cluster_parameters()
                    .db_cluster_parameter_group_name(group)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = match page {
                        Ok(page) => page,
                        Err(e) if e.as_service_error().is_some_and(|s| s.is_db_parameter_group_not_found_fault()) => {
                            return Ok(ParameterLookup::GroupNotFound)
                        }
                        Err(e) => return Err(AwsError::from_sdk("DescribeDBClusterParameters", e)),
                    };
                    if let Some(hit) = found(page.parameters(), name) {
                        return Ok(hit);
                    }
                }
                Ok(ParameterLookup::NotListed)
            }
        }
    }

    async fn write_parameter(&self, kind: DatabaseKind, group: &str, name: &str, value: &str) -> Result<(), AwsError> {
        let parameter = Parameter::builder()
            .parameter_name(name)
            .parameter_value(value)
            .apply_method(ApplyMethod::Immediate)
            .build();
        match kind {
            DatabaseKind::Instance => self
                .client
                .modify_db_parameter_group()
                .db_parameter_group_name(group)
                .parameters(parameter)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("ModifyDBParameterGroup", e)),
            DatabaseKind::Cluster => self
                .client
                .modify_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(group)
                .parameters(parameter)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("ModifyDBClusterParameterGroup", e)),
        }
    }
}
