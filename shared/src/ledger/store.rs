//! Where the ledger's items live: one narrow trait, with the DynamoDB adapter in
//! [`crate::aws::DynamoDbFindings`].

use async_trait::async_trait;

use super::item::LedgerItem;
use crate::aws::AwsError;

/// Why a store call did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The item changed since it was read (another invocation wrote it): read and judge again.
    #[error("finding {0} was changed by another invocation")]
    Conflict(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A stored item that cannot be read back.
    #[error("finding {id}: stored item is malformed: {why}")]
    Malformed { id: String, why: String },
}

#[async_trait]
pub trait FindingsStore: Send + Sync {
    /// The items with these ids that exist (any order).
    async fn get_many(&self, ids: &[String]) -> Result<Vec<LedgerItem>, StoreError>;

    /// Writes `item` if the stored item's version is still `expected` (`None`: only if there is no
    /// item yet); [`StoreError::Conflict`] otherwise.
    async fn put_if_version(&self, item: &LedgerItem, expected: Option<u64>) -> Result<(), StoreError>;

    /// The findings not resolved (open or exempt), or resolved with their last alert still owed
    /// (claimed or unpublished), of `account` in `region`, only those on `resource` (an ARN) when
    /// given. Read from an index, so it may lag the latest writes by a
    /// moment: what is resolved from it is judged again on a consistent read ([`Self::get_many`]).
    async fn unresolved_in(
        &self,
        account: &str,
        region: &str,
        resource: Option<&str>,
    ) -> Result<Vec<LedgerItem>, StoreError>;
}
