//! AWS Organizations: the Service Control Policy calls guardrail-manager's reconcile makes.
//!
//! Organizations is a global service reached through us-east-1; its calls work from the management
//! account or from an account the management account delegated policy management to.

use async_trait::async_trait;
use aws_sdk_organizations::types::{PolicyType, Tag};

use super::AwsError;

pub const SCP_TYPE: &str = "SERVICE_CONTROL_POLICY";

/// Error codes that mean "already as wanted".
pub const POLICY_TYPE_ALREADY_ENABLED: &str = "PolicyTypeAlreadyEnabledException";

/// An SCP as the listing calls return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScpSummary {
    pub id: String,
    pub name: String,
    pub arn: Option<String>,
    /// FullAWSAccess and other AWS managed policies.
    pub aws_managed: bool,
}

/// The Service Control Policy calls reconcile needs, and nothing else.
#[async_trait]
pub trait Organization: Send + Sync {
    /// Every SCP of the organisation (ListPolicies).
    async fn list_scps(&self) -> Result<Vec<ScpSummary>, AwsError>;
    /// A policy's document (DescribePolicy).
    async fn scp_content(&self, policy_id: &str) -> Result<String, AwsError>;
    async fn policy_tags(&self, policy_id: &str) -> Result<Vec<(String, String)>, AwsError>;
    /// Roots, OUs and accounts the policy is attached to (ListTargetsForPolicy).
    async fn targets_of(&self, policy_id: &str) -> Result<Vec<String>, AwsError>;
    /// SCPs attached directly to a root, OU or account (ListPoliciesForTarget).
    async fn scps_attached_to(&self, target_id: &str) -> Result<Vec<ScpSummary>, AwsError>;
    /// CreatePolicy with tags; returns the new policy id.
    async fn create_scp(
        &self,
        name: &str,
        description: &str,
        content: &str,
        tags: &[(String, String)],
    ) -> Result<String, AwsError>;
    async fn update_scp(&self, policy_id: &str, content: &str) -> Result<(), AwsError>;
    /// TagResource on a policy (puts back the managed tag someone removed).
    async fn tag_scp(&self, policy_id: &str, tags: &[(String, String)]) -> Result<(), AwsError>;
    async fn attach(&self, policy_id: &str, target_id: &str) -> Result<(), AwsError>;
    async fn detach(&self, policy_id: &str, target_id: &str) -> Result<(), AwsError>;
    async fn delete_scp(&self, policy_id: &str) -> Result<(), AwsError>;
    /// EnablePolicyType SERVICE_CONTROL_POLICY on a root (already enabled counts as done).
    async fn enable_scps(&self, root_id: &str) -> Result<(), AwsError>;
}

/// Where a root, OU or account sits in the organisation: what guardrail-manager needs to tell
/// whether a moved account left the guardrails' targets.
#[async_trait]
pub trait OrganizationTree: Send + Sync {
    /// The parent (root or OU id) of an OU or account (ListParents); `None` for a root.
    async fn parent_of(&self, child_id: &str) -> Result<Option<String>, AwsError>;
}

/// Every Organizations action [`SdkOrganizations`] calls. CreatePolicy with tags also needs
/// TagResource.
pub const ORGANIZATIONS_IAM_ACTIONS: &[&str] = &[
    "organizations:AttachPolicy",
    "organizations:CreatePolicy",
    "organizations:DeletePolicy",
    "organizations:DescribePolicy",
    "organizations:DetachPolicy",
    "organizations:EnablePolicyType",
    "organizations:ListParents",
    "organizations:ListPolicies",
    "organizations:ListPoliciesForTarget",
    "organizations:ListTagsForResource",
    "organizations:ListTargetsForPolicy",
    "organizations:TagResource",
    "organizations:UpdatePolicy",
];

/// Of [`ORGANIZATIONS_IAM_ACTIONS`], those AWS authorises only on `Resource: "*"`.
pub const ORGANIZATIONS_UNSCOPED_IAM_ACTIONS: &[&str] = &["organizations:ListPolicies"];

#[derive(Debug, Clone)]
pub struct SdkOrganizations {
    client: aws_sdk_organizations::Client,
}

impl SdkOrganizations {
    pub const IAM_ACTIONS: &'static [&'static str] = ORGANIZATIONS_IAM_ACTIONS;

    pub fn new(client: aws_sdk_organizations::Client) -> Self {
        Self { client }
    }
}

fn summary(policy: &aws_sdk_organizations::types::PolicySummary) -> Option<ScpSummary> {
    Some(ScpSummary {
        id: policy.id()?.to_owned(),
        name: policy.name().unwrap_or_default().to_owned(),
        arn: policy.arn().map(str::to_owned),
        aws_managed: policy.aws_managed(),
    })
}

#[async_trait]
impl OrganizationTree for SdkOrganizations {
    async fn parent_of(&self, child_id: &str) -> Result<Option<String>, AwsError> {
        if child_id.starts_with("r-") {
            return Ok(None);
        }
        let output = self
            .client
            .list_parents()
            .child_id(child_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListParents", e))?;
        Ok(output.parents().iter().find_map(|p| p.id()).map(str::to_owned))
    }
}

#[async_trait]
impl Organization for SdkOrganizations {
    async fn list_scps(&self) -> Result<Vec<ScpSummary>, AwsError> {
        let mut pages = self.client.list_policies().filter(PolicyType::ServiceControlPolicy).into_paginator().send();
        let mut policies = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListPolicies", e))?;
            policies.extend(page.policies().iter().filter_map(summary));
        }
        Ok(policies)
    }

    async fn scp_content(&self, policy_id: &str) -> Result<String, AwsError> {
        let output = self
            .client
            .describe_policy()
            .policy_id(policy_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribePolicy", e))?;
        output.policy().and_then(|p| p.content()).map(str::to_owned).ok_or_else(|| AwsError {
            operation: "DescribePolicy",
            code: None,
            message: format!("policy {policy_id} came back without content"),
        })
    }

    async fn policy_tags(&self, policy_id: &str) -> Result<Vec<(String, String)>, AwsError> {
        let mut pages = self.client.list_tags_for_resource().resource_id(policy_id).into_paginator().send();
        let mut tags = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListTagsForResource", e))?;
            tags.extend(page.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())));
        }
        Ok(tags)
    }

    async fn targets_of(&self, policy_id: &str) -> Result<Vec<String>, AwsError> {
        let mut pages = self.client.list_targets_for_policy().policy_id(policy_id).into_paginator().send();
        let mut targets = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListTargetsForPolicy", e))?;
            targets.extend(page.targets().iter().filter_map(|t| t.target_id()).map(str::to_owned));
        }
        Ok(targets)
    }

    async fn scps_attached_to(&self, target_id: &str) -> Result<Vec<ScpSummary>, AwsError> {
        let mut pages = self
            .client
            .list_policies_for_target()
            .target_id(target_id)
            .filter(PolicyType::ServiceControlPolicy)
            .into_paginator()
            .send();
        let mut policies = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListPoliciesForTarget", e))?;
            policies.extend(page.policies().iter().filter_map(summary));
        }
        Ok(policies)
    }

    async fn create_scp(
        &self,
        name: &str,
        description: &str,
        content: &str,
        tags: &[(String, String)],
    ) -> Result<String, AwsError> {
        let mut request = self
            .client
            .create_policy()
            .name(name)
            .description(description)
            .content(content)
            .r#type(PolicyType::ServiceControlPolicy);
        for (key, value) in tags {
            let tag = Tag::builder().key(key).value(value).build().map_err(|e| AwsError {
                operation: "CreatePolicy",
                code: None,
                message: format!("tag {key}={value}: {e}"),
            })?;
            request = request.tags(tag);
        }
        let output = request.send().await.map_err(|e| AwsError::from_sdk("CreatePolicy", e))?;
        output.policy().and_then(|p| p.policy_summary()).and_then(|s| s.id()).map(str::to_owned).ok_or_else(|| {
            AwsError { operation: "CreatePolicy", code: None, message: format!("no policy id returned for {name}") }
        })
    }

    async fn update_scp(&self, policy_id: &str, content: &str) -> Result<(), AwsError> {
        self.client
            .update_policy()
            .policy_id(policy_id)
            .content(content)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("UpdatePolicy", e))?;
        Ok(())
    }

    async fn tag_scp(&self, policy_id: &str, tags: &[(String, String)]) -> Result<(), AwsError> {
        let mut request = self.client.tag_resource().resource_id(policy_id);
        for (key, value) in tags {
            let tag = Tag::builder().key(key).value(value).build().map_err(|e| AwsError {
                operation: "TagResource",
                code: None,
                message: format!("tag {key}={value}: {e}"),
            })?;
            request = request.tags(tag);
        }
        request.send().await.map_err(|e| AwsError::from_sdk("TagResource", e))?;
        Ok(())
    }

    async fn attach(&self, policy_id: &str, target_id: &str) -> Result<(), AwsError> {
        self.client
            .attach_policy()
            .policy_id(policy_id)
            .target_id(target_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("AttachPolicy", e))?;
        Ok(())
    }

    async fn detach(&self, policy_id: &str, target_id: &str) -> Result<(), AwsError> {
        self.client
            .detach_policy()
            .policy_id(policy_id)
            .target_id(target_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DetachPolicy", e))?;
        Ok(())
    }

    async fn delete_scp(&self, policy_id: &str) -> Result<(), AwsError> {
        self.client
            .delete_policy()
            .policy_id(policy_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeletePolicy", e))?;
        Ok(())
    }

    async fn enable_scps(&self, root_id: &str) -> Result<(), AwsError> {
        match self
            .client
            .enable_policy_type()
            .root_id(root_id)
            .policy_type(PolicyType::ServiceControlPolicy)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let error = AwsError::from_sdk("EnablePolicyType", e);
                if error.code.as_deref() == Some(POLICY_TYPE_ALREADY_ENABLED) {
                    Ok(())
                } else {
                    Err(error)
                }
            }
        }
    }
}

/// The accounts a sweep covers: sweep-planner's only Organizations capability.
#[async_trait]
pub trait AccountDirectory: Send + Sync {
    /// The ACTIVE accounts of the organisation (`parents` empty), or those anywhere under the
    /// given roots or OUs (nested OUs included). Sorted, without repeats; every page read.
    async fn active_accounts(&self, parents: &[String]) -> Result<Vec<String>, AwsError>;
}

impl SdkOrganizations {
    /// IAM actions of [`AccountDirectory`]. Organizations authorises ListAccounts only on
    /// `Resource: "*"`; the two others on the root or OU they read.
    pub const ACCOUNT_LISTING_IAM_ACTIONS: &'static [&'static str] =
        &["organizations:ListAccounts", "organizations:ListAccountsForParent", "organizations:ListChildren"];

    /// Of [`Self::ACCOUNT_LISTING_IAM_ACTIONS`], those AWS authorises only on `Resource: "*"`.
    pub const ACCOUNT_LISTING_UNSCOPED_IAM_ACTIONS: &'static [&'static str] = &["organizations:ListAccounts"];
}

/// Whether Organizations lists the account as ACTIVE: `State` (the field AWS keeps), else the
/// `Status` it replaced (retired in 2026; what older emulators such as moto still send).
#[allow(deprecated)]
fn is_active(account: &aws_sdk_organizations::types::Account) -> bool {
    use aws_sdk_organizations::types::{AccountState, AccountStatus};
    match account.state() {
        Some(state) => *state == AccountState::Active,
        None => account.status() == Some(&AccountStatus::Active),
    }
}

impl SdkOrganizations {
    async fn accounts_directly_under(&self, parent: &str) -> Result<Vec<String>, AwsError> {
        let mut pages = self.client.list_accounts_for_parent().parent_id(parent).into_paginator().send();
        let mut accounts = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListAccountsForParent", e))?;
            accounts.extend(page.accounts().iter().filter(|a| is_active(a)).filter_map(|a| a.id()).map(str::to_owned));
        }
        Ok(accounts)
    }

    async fn child_ous(&self, parent: &str) -> Result<Vec<String>, AwsError> {
        let mut pages = self
            .client
            .list_children()
            .parent_id(parent)
            .child_type(aws_sdk_organizations::types::ChildType::OrganizationalUnit)
            .into_paginator()
            .send();
        let mut children = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListChildren", e))?;
            children.extend(page.children().iter().filter_map(|c| c.id()).map(str::to_owned));
        }
        Ok(children)
    }
}

#[async_trait]
impl AccountDirectory for SdkOrganizations {
    async fn active_accounts(&self, parents: &[String]) -> Result<Vec<String>, AwsError> {
        let mut accounts = Vec::new();
        if parents.is_empty() {
            let mut pages = self.client.list_accounts().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::from_sdk("ListAccounts", e))?;
                accounts
                    .extend(page.accounts().iter().filter(|a| is_active(a)).filter_map(|a| a.id()).map(str::to_owned));
            }
        } else {
            // Breadth first through the OU tree (an OU is at most five levels deep).
            let mut pending: Vec<String> = parents.to_vec();
            let mut seen = std::collections::BTreeSet::new();
            while let Some(parent) = pending.pop() {
                if !seen.insert(parent.clone()) {
                    continue;
                }
                accounts.extend(self.accounts_directly_under(&parent).await?);
                pending.extend(self.child_ous(&parent).await?);
            }
        }
        accounts.sort();
        accounts.dedup();
        Ok(accounts)
    }
}
