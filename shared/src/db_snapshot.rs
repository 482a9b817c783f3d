//! A DB snapshot or DB cluster snapshot as rules see it: read from DescribeDB(Cluster)Snapshots and
//! DescribeDB(Cluster)SnapshotAttributes, never from the event.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotKind {
    /// A DB snapshot (of a DB instance).
    Instance,
    /// A DB cluster snapshot (Aurora or Multi-AZ DB cluster).
    Cluster,
}

impl SnapshotKind {
    /// The CloudFormation type name used in alerts.
    pub fn aws_type(self) -> &'static str {
        self.resource_kind().cloudformation_type()
    }

    /// The kind's names in CloudFormation and ARNs.
    pub fn resource_kind(self) -> crate::arn::RdsResourceKind {
        match self {
            Self::Instance => crate::arn::RdsResourceKind::DbSnapshot,
            Self::Cluster => crate::arn::RdsResourceKind::DbClusterSnapshot,
        }
    }

    pub fn describe_name(self) -> &'static str {
        match self {
            Self::Instance => "DB snapshot",
            Self::Cluster => "DB cluster snapshot",
        }
    }
}

/// The value of the `restore` attribute that makes a snapshot public.
pub const RESTORE_BY_ANYONE: &str = "all";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotState {
    pub identifier: String,
    pub arn: Option<String>,
    pub encrypted: Option<bool>,
    /// `manual`, `automated`, `shared`, `public`, `awsbackup`.
    pub snapshot_type: Option<String>,
    pub status: Option<String>,
    /// The DB instance or cluster it was taken from.
    pub source_database: Option<String>,
    pub engine: Option<String>,
    /// The KMS key it is encrypted with (a key ARN), as DescribeDB(Cluster)Snapshots reports it.
    pub kms_key_id: Option<String>,
    pub tags: Vec<(String, String)>,
    /// The `restore` attribute: account ids allowed to copy or restore it, or `all`. `None`: it could
    /// not be read.
    pub restore_shared_with: Option<Vec<String>>,
}

/// A snapshot: what it is plus its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub kind: SnapshotKind,
    pub state: SnapshotState,
}
