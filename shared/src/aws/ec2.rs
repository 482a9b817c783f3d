//! Amazon EC2 security groups: reading a group and its rules, revoking an ingress rule.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, SecurityGroupRule};

use super::rds::DatabaseNetworkInventory;
use super::{AccountSessions, AwsError, ClientCache, SdkRds, SessionError};
use crate::identity::{AccountId, AwsRegion};
use crate::network::{GroupRef, IngressRule, RuleSource, SecurityGroup};

/// EC2 error codes meaning "that group / rule does not exist (any more)".
pub const NOT_FOUND_CODES: &[&str] = &[
    "InvalidGroup.NotFound",
    "InvalidGroupId.NotFound",
    "InvalidPermission.NotFound",
    "InvalidSecurityGroupRuleId.NotFound",
];

/// Reads a security group and its ingress rules.
#[async_trait]
pub trait SecurityGroupInventory: Send + Sync {
    /// `Ok(None)`: the group does not exist (any more).
    async fn describe_group(&self, group: &GroupRef) -> Result<Option<SecurityGroup>, AwsError>;
    /// Every ingress rule of the group, one source each.
    async fn ingress_rules(&self, group_id: &str) -> Result<Vec<IngressRule>, AwsError>;

    /// The groups among `ids` that exist (a sweep's groups read together: the SDK adapter asks
    /// for up to [`GROUPS_PER_CALL`] in one call; this default reads them one by one).
    async fn describe_groups(&self, ids: &[String]) -> Result<Vec<SecurityGroup>, AwsError> {
        let mut found = Vec::new();
        for id in ids {
            found.extend(self.describe_group(&GroupRef::Id(id.clone())).await?);
        }
        Ok(found)
    }

    /// The ingress rules of every group among `ids` (each one's group in [`IngressRule::group_id`]).
    async fn ingress_rules_of(&self, ids: &[String]) -> Result<Vec<IngressRule>, AwsError> {
        let mut found = Vec::new();
        for id in ids {
            found.extend(self.ingress_rules(id).await?);
        }
        Ok(found)
    }
}

/// Group ids asked for in one DescribeSecurityGroups / DescribeSecurityGroupRules call (EC2 takes
/// up to 200 values in a filter).
pub const GROUPS_PER_CALL: usize = 200;

/// The only write network-guard makes.
#[async_trait]
pub trait SecurityGroupRemediation: Send + Sync {
    /// RevokeSecurityGroupIngress of one rule, by its SecurityGroupRuleId (nothing else is touched).
    async fn revoke_ingress_rule(&self, group_id: &str, rule_id: &str) -> Result<(), AwsError>;
}

/// Both security group capabilities, as one account+region's client provides them.
pub trait SecurityGroupPort: SecurityGroupInventory + SecurityGroupRemediation {}
impl<T: SecurityGroupInventory + SecurityGroupRemediation> SecurityGroupPort for T {}

/// What network-guard needs in one account and region.
#[derive(Clone)]
pub struct NetworkPorts {
    pub groups: Arc<dyn SecurityGroupPort>,
    pub databases: Arc<dyn DatabaseNetworkInventory>,
}

/// Hands out network access for the account and region an event happened in.
#[async_trait]
pub trait NetworkConnector: Send + Sync {
    async fn connect(&self, account: &AccountId, region: &AwsRegion) -> Result<NetworkPorts, SessionError>;

    /// The IAM role calls in `account` are made as, named in alerts ([`AccountSessions::acting_as`]);
    /// `None` when not known.
    async fn acting_as(&self, account: &AccountId, region: &AwsRegion) -> Option<String> {
        let _ = (account, region);
        None
    }
}

/// Security groups through the AWS SDK.
#[derive(Debug, Clone)]
pub struct SdkEc2 {
    client: aws_sdk_ec2::Client,
}

impl SdkEc2 {
    /// IAM actions of [`SecurityGroupInventory`]. EC2 authorises Describe* calls only on
    /// `Resource: "*"` (they have no resource-level permissions).
    pub const INVENTORY_IAM_ACTIONS: &'static [&'static str] =
        &["ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules"];
    /// IAM actions of [`SecurityGroupRemediation`] (scoped to security groups in the template).
    pub const REMEDIATION_IAM_ACTIONS: &'static [&'static str] = &["ec2:RevokeSecurityGroupIngress"];

    pub fn new(client: aws_sdk_ec2::Client) -> Self {
        Self { client }
    }
}

fn is_not_found(error: &AwsError) -> bool {
    error.code.as_deref().is_some_and(|code| NOT_FOUND_CODES.contains(&code))
}

fn ingress_rule(rule: &SecurityGroupRule) -> Option<IngressRule> {
    if rule.is_egress() == Some(true) {
        return None;
    }
    let source = if let Some(cidr) = rule.cidr_ipv4().or(rule.cidr_ipv6()) {
        RuleSource::from_cidr(cidr)
    } else if let Some(list) = rule.prefix_list_id() {
        RuleSource::PrefixList(list.to_owned())
    } else if let Some(group) = rule.referenced_group_info().and_then(|g| g.group_id()) {
        RuleSource::SecurityGroup(group.to_owned())
    } else {
        RuleSource::Unreadable("source (no CIDR, prefix list or group)".to_owned())
    };
    Some(IngressRule {
        rule_id: rule.security_group_rule_id()?.to_owned(),
        group_id: rule.group_id().unwrap_or_default().to_owned(),
        protocol: rule.ip_protocol().unwrap_or_default().to_owned(),
        from_port: rule.from_port(),
        to_port: rule.to_port(),
        source,
        description: rule.description().filter(|d| !d.is_empty()).map(str::to_owned),
    })
}

#[async_trait]
impl SecurityGroupInventory for SdkEc2 {
    async fn describe_group(&self, group: &GroupRef) -> Result<Option<SecurityGroup>, AwsError> {
        let request = match group {
            GroupRef::Id(id) => self.client.describe_security_groups().group_ids(id),
            GroupRef::Name(name) => self.client.describe_security_groups().group_names(name),
        };
        let output = match request.send().await {
            Ok(output) => output,
            Err(e) => {
                let error = AwsError::from_sdk("DescribeSecurityGroups", e);
                return if is_not_found(&error) { Ok(None) } else { Err(error) };
            }
        };
        Ok(output.security_groups().first().and_then(security_group))
    }

    async fn ingress_rules(&self, group_id: &str) -> Result<Vec<IngressRule>, AwsError> {
        self.ingress_rules_of(&[group_id.to_owned()]).await
    }

    async fn describe_groups(&self, ids: &[String]) -> Result<Vec<SecurityGroup>, AwsError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(GROUPS_PER_CALL) {
            // A filter, not GroupIds: a group deleted since the listing is absent, not an error.
            let filter = Filter::builder().name("group-id").set_values(Some(chunk.to_vec())).build();
            let mut pages = self.client.describe_security_groups().filters(filter).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
                found.extend(page.security_groups().iter().filter_map(security_group));
            }
        }
        Ok(found)
    }

    async fn ingress_rules_of(&self, ids: &[String]) -> Result<Vec<IngressRule>, AwsError> {
        let mut rules = Vec::new();
        for chunk in ids.chunks(GROUPS_PER_CALL) {
            let filter = Filter::builder().name("group-id").set_values(Some(chunk.to_vec())).build();
            let mut pages = self.client.describe_security_group_rules().filters(filter).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::from_sdk("DescribeSecurityGroupRules", e))?;
                rules.extend(page.security_group_rules().iter().filter_map(ingress_rule));
            }
        }
        Ok(rules)
    }
}

fn security_group(group: &aws_sdk_ec2::types::SecurityGroup) -> Option<SecurityGroup> {
    Some(SecurityGroup {
        id: group.group_id()?.to_owned(),
        name: group.group_name().map(str::to_owned),
        vpc_id: group.vpc_id().map(str::to_owned),
        owner_id: group.owner_id().map(str::to_owned),
        tags: group
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
            .collect(),
    })
}

#[async_trait]
impl SecurityGroupRemediation for SdkEc2 {
    async fn revoke_ingress_rule(&self, group_id: &str, rule_id: &str) -> Result<(), AwsError> {
        let output = self
            .client
            .revoke_security_group_ingress()
            .group_id(group_id)
            .security_group_rule_ids(rule_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("RevokeSecurityGroupIngress", e))?;
        // EC2 answers 200 with Return=false (or lists the rule as unknown) when nothing matched.
        if output.r#return() == Some(false) || !output.unknown_ip_permissions().is_empty() {
            return Err(AwsError {
                operation: "RevokeSecurityGroupIngress",
                code: Some("InvalidPermission.NotFound".to_owned()),
                message: format!("{rule_id} was not revoked: EC2 reported it unknown"),
            });
        }
        Ok(())
    }
}

/// [`SdkEc2`] and [`SdkRds`] for whichever account and region, through [`AccountSessions`].
#[derive(Debug)]
pub struct SessionNetworkConnector {
    sessions: AccountSessions,
    clients: ClientCache<NetworkPorts>,
}

impl SessionNetworkConnector {
    pub fn new(sessions: AccountSessions) -> Self {
        Self { sessions, clients: ClientCache::default() }
    }
}

#[async_trait]
impl NetworkConnector for SessionNetworkConnector {
    async fn connect(&self, account: &AccountId, region: &AwsRegion) -> Result<NetworkPorts, SessionError> {
        self.clients
            .get_or_build(&self.sessions, account, region, |config| NetworkPorts {
                groups: Arc::new(SdkEc2::new(aws_sdk_ec2::Client::new(config))),
                databases: Arc::new(SdkRds::new(aws_sdk_rds::Client::new(config))),
            })
            .await
    }

    async fn acting_as(&self, account: &AccountId, region: &AwsRegion) -> Option<String> {
        self.sessions.acting_as(account, region).await.ok()
    }
}
