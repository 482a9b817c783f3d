//! AWS KMS as a sweep asks it: which key is the account's AWS managed key for RDS (`aws/rds`) in
//! the region. RDS cannot share a snapshot encrypted with that key with any other account (nor an
//! encrypted snapshot publicly), so a sweep does not read the `restore` attribute of such a
//! snapshot: one ListAliases per account-region instead of one DescribeDBSnapshotAttributes per
//! snapshot.

use async_trait::async_trait;

use super::AwsError;

/// The alias of the AWS managed key RDS encrypts with when no key is named.
pub const RDS_MANAGED_KEY_ALIAS: &str = "alias/aws/rds";

#[async_trait]
pub trait RdsManagedKey: Send + Sync + std::fmt::Debug {
    /// The key id behind `alias/aws/rds` in the client's account and region; `None` when the alias
    /// has no key yet (no database there was ever encrypted with it).
    async fn rds_managed_key_id(&self) -> Result<Option<String>, AwsError>;
}

#[derive(Debug, Clone)]
pub struct SdkKms {
    client: aws_sdk_kms::Client,
}

impl SdkKms {
    /// KMS authorises ListAliases only on `Resource: "*"`. It only reads: DescribeKey on an AWS
    /// alias would create the managed key when it does not exist yet.
    pub const IAM_ACTIONS: &'static [&'static str] = &["kms:ListAliases"];

    pub fn new(client: aws_sdk_kms::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl RdsManagedKey for SdkKms {
    async fn rds_managed_key_id(&self) -> Result<Option<String>, AwsError> {
        let mut pages = self.client.list_aliases().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListAliases", e))?;
            if let Some(alias) = page.aliases().iter().find(|a| a.alias_name() == Some(RDS_MANAGED_KEY_ALIAS)) {
                return Ok(alias.target_key_id().filter(|id| !id.is_empty()).map(str::to_owned));
            }
        }
        Ok(None)
    }
}

/// Whether `kms_key_id` (as DescribeDB(Cluster)Snapshots reports it: a key ARN, or a key id) names
/// the key `managed_key_id`.
pub fn is_key(kms_key_id: &str, managed_key_id: &str) -> bool {
    !managed_key_id.is_empty()
        && (kms_key_id == managed_key_id
            || kms_key_id
                .strip_suffix(managed_key_id)
                .is_some_and(|head| head.starts_with("arn:") && head.ends_with(":key/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_key_names_the_managed_key_by_arn_or_id_only() {
        let id = "f5f30938-abed-41a2-a0f6-5482d02a2489";
        let cases = [
            (format!("arn:aws:kms:eu-west-1:123456789012:key/{id}"), true),
            (format!("arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/{id}"), true),
            (id.to_owned(), true),
            (format!("arn:aws:kms:eu-west-1:123456789012:key/other-{id}"), false),
            (format!("arn:aws:kms:eu-west-1:123456789012:alias/{id}"), false),
            ("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-0000-0000-0000-000000000000".to_owned(), false),
            (String::new(), false),
        ];
        for (kms_key_id, expected) in cases {
            assert_eq!(is_key(&kms_key_id, id), expected, "{kms_key_id}");
        }
        assert!(!is_key("", ""), "no managed key names nothing");
    }
}
