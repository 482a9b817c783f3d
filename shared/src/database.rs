//! The current state of a database, as read from DescribeDBInstances / DescribeDBClusters.
//! Rules judge this, never the event.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseKind {
    /// An RDS DB instance (standalone, Aurora member or Multi-AZ DB cluster member).
    Instance,
    /// An Aurora DB cluster or a Multi-AZ DB cluster.
    Cluster,
}

impl DatabaseKind {
    /// The name AWS uses in ARNs and alerts.
    pub fn aws_type(self) -> &'static str {
        self.resource_kind().cloudformation_type()
    }

    /// The kind's names in CloudFormation and ARNs.
    pub fn resource_kind(self) -> crate::arn::RdsResourceKind {
        match self {
            Self::Instance => crate::arn::RdsResourceKind::DbInstance,
            Self::Cluster => crate::arn::RdsResourceKind::DbCluster,
        }
    }

    /// The kind of parameter group a database of this kind uses (DB / DB cluster parameter group).
    pub fn parameter_group_kind(self) -> crate::arn::RdsResourceKind {
        match self {
            Self::Instance => crate::arn::RdsResourceKind::DbParameterGroup,
            Self::Cluster => crate::arn::RdsResourceKind::DbClusterParameterGroup,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatabaseState {
    pub identifier: String,
    pub arn: Option<String>,
    pub engine: Option<String>,
    /// `DBInstanceStatus` / cluster `Status`, e.g. `available`, `creating`, `stopped`.
    pub status: Option<String>,
    /// Unknown (None) for Aurora clusters, where public access is set per instance.
    pub publicly_accessible: Option<bool>,
    pub storage_encrypted: Option<bool>,
    /// For instances: the cluster the instance belongs to (Aurora or Multi-AZ DB cluster).
    pub cluster_identifier: Option<String>,
    pub tags: Vec<(String, String)>,
    /// For read replicas: the source instance (RDS cannot stop a read replica).
    pub read_replica_source: Option<String>,
    /// VPC security group ids the database is behind.
    pub security_groups: Vec<String>,
    pub engine_version: Option<String>,
    pub deletion_protection: Option<bool>,
    /// Days of automated backups; 0: automated backups are off.
    pub backup_retention_days: Option<i32>,
    /// A retention change RDS has accepted but not applied yet (`PendingModifiedValues`).
    pub pending_backup_retention_days: Option<i32>,
    /// A Multi-AZ change waiting for the maintenance window (`PendingModifiedValues.MultiAZ`).
    pub pending_multi_az: Option<bool>,
    /// An IAM authentication change waiting for the window.
    pub pending_iam_database_authentication: Option<bool>,
    /// Every modification waiting for the maintenance window, as `Name=value` (from
    /// `PendingModifiedValues`): named in alerts so a fix is seen to have left them pending.
    pub pending_modifications: Vec<String>,
    pub iam_database_authentication: Option<bool>,
    /// Whether Secrets Manager manages the master password (`MasterUserSecret` present).
    pub master_password_managed: Option<bool>,
    pub master_username: Option<String>,
    /// `EnabledCloudwatchLogsExports`; empty: no logs go to CloudWatch Logs.
    pub log_exports: Option<Vec<String>>,
    pub multi_az: Option<bool>,
    pub auto_minor_version_upgrade: Option<bool>,
    /// The DB parameter group (instances) or DB cluster parameter group (clusters) in use.
    pub parameter_group: Option<String>,
}

impl DatabaseState {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Aurora engines are `aurora`, `aurora-mysql`, `aurora-postgresql`.
    pub fn is_aurora(&self) -> bool {
        self.engine.as_deref().is_some_and(|e| e.starts_with("aurora"))
    }

    /// DocumentDB and Neptune clusters are listed by the RDS API too, but none of these rules
    /// apply to them.
    pub fn is_rds_engine(&self) -> bool {
        !self.engine.as_deref().is_some_and(|e| e.starts_with("docdb") || e.starts_with("neptune"))
    }

    /// The engine family rules that depend on the engine speak of.
    pub fn engine_family(&self) -> EngineFamily {
        EngineFamily::of(self.engine.as_deref())
    }

    pub fn status_is(&self, wanted: &str) -> bool {
        self.status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(wanted))
    }
}

/// Engines grouped the way settings differ between them (TLS parameter, IAM authentication).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineFamily {
    /// `postgres`, `aurora-postgresql`.
    PostgreSql,
    /// `mysql`, `mariadb`, `aurora-mysql`, `aurora`.
    MySql,
    /// Oracle, SQL Server, Db2, custom engines: no IAM authentication, TLS set by option group.
    Other,
    Unknown,
}

impl EngineFamily {
    pub fn of(engine: Option<&str>) -> Self {
        let Some(engine) = engine.map(str::to_ascii_lowercase) else { return Self::Unknown };
        if engine.contains("postgres") {
            Self::PostgreSql
        } else if engine.contains("mysql") || engine == "mariadb" || engine == "aurora" {
            Self::MySql
        } else {
            Self::Other
        }
    }
}

/// A database as rules see it: what it is plus its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub kind: DatabaseKind,
    pub state: DatabaseState,
}

impl Database {
    pub fn instance(state: DatabaseState) -> Self {
        Self { kind: DatabaseKind::Instance, state }
    }

    pub fn cluster(state: DatabaseState) -> Self {
        Self { kind: DatabaseKind::Cluster, state }
    }

    /// A member of a cluster keeps storage and (for Multi-AZ DB clusters) network settings on the
    /// cluster.
    pub fn is_cluster_member(&self) -> bool {
        self.kind == DatabaseKind::Instance && self.state.cluster_identifier.is_some()
    }

    /// A Multi-AZ DB cluster (not Aurora): public access is a cluster setting.
    pub fn is_multi_az_db_cluster(&self) -> bool {
        self.kind == DatabaseKind::Cluster && !self.state.is_aurora()
    }
}
