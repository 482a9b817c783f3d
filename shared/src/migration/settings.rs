//! What a migration carries from the unencrypted database to the encrypted one: every setting,
//! read from DescribeDBInstances / DescribeDBClusters, and how each one gets there.

use serde::Serialize;

/// A DB instance or an Aurora DB cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Instance,
    Cluster,
}

/// How a setting reaches the new database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum How {
    /// It is in the snapshot (engine, version, master user, data).
    Snapshot,
    /// A parameter of RestoreDBInstanceFromDBSnapshot / RestoreDBClusterFromSnapshot.
    Restore,
    /// A restore cannot take it: ModifyDBInstance / ModifyDBCluster after the restore.
    ModifyAfter,
    /// A parameter of CreateDBInstance for each new cluster member.
    PerMember,
}

impl How {
    pub fn describe(self, kind: Kind) -> &'static str {
        match (self, kind) {
            (Self::Snapshot, _) => "kept by the snapshot",
            (Self::Restore, Kind::Instance) => "RestoreDBInstanceFromDBSnapshot parameter",
            (Self::Restore, Kind::Cluster) => "RestoreDBClusterFromSnapshot parameter",
            (Self::ModifyAfter, Kind::Instance) => "ModifyDBInstance after the restore",
            (Self::ModifyAfter, Kind::Cluster) => "ModifyDBCluster after the restore",
            (Self::PerMember, _) => "CreateDBInstance of each member",
        }
    }
}

/// The settings carried over. `None`: not applicable to this kind of database (or not reported).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    pub engine: Option<String>,
    pub engine_version: Option<String>,
    pub master_username: Option<String>,
    pub instance_class: Option<String>,
    pub subnet_group: Option<String>,
    /// Sorted.
    pub security_groups: Vec<String>,
    pub parameter_group: Option<String>,
    pub option_group: Option<String>,
    pub storage_type: Option<String>,
    pub allocated_storage: Option<i32>,
    pub iops: Option<i32>,
    pub storage_throughput: Option<i32>,
    pub max_allocated_storage: Option<i32>,
    pub port: Option<i32>,
    pub multi_az: Option<bool>,
    pub publicly_accessible: Option<bool>,
    pub iam_auth: Option<bool>,
    pub backup_retention: Option<i32>,
    pub backup_window: Option<String>,
    pub maintenance_window: Option<String>,
    pub deletion_protection: Option<bool>,
    pub monitoring_interval: Option<i32>,
    pub monitoring_role_arn: Option<String>,
    pub performance_insights: Option<bool>,
    pub performance_insights_retention: Option<i32>,
    /// Sorted.
    pub log_exports: Vec<String>,
    pub ca_certificate: Option<String>,
    pub copy_tags_to_snapshot: Option<bool>,
    /// Whether Secrets Manager manages the master password.
    pub master_user_secret: Option<bool>,
    pub auto_minor_version_upgrade: Option<bool>,
    /// The database's own tags (rdsguard's `rdsguard:migration*` bookkeeping tags left out), sorted.
    pub tags: Vec<(String, String)>,
}

/// One setting as the plan shows it and the verification compares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub name: &'static str,
    pub value: String,
    pub how: How,
}

fn show<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string)
}

impl Settings {
    /// Every setting with its value and how it is carried, for `kind`. Settings that do not apply
    /// to the kind are left out (a cluster's class and storage live on its members or are Aurora's).
    pub fn rows(&self, kind: Kind) -> Vec<Row> {
        use How::*;
        let instance = kind == Kind::Instance;
        let mut rows = vec![
            ("engine", show(&self.engine), Snapshot),
            ("engine version", show(&self.engine_version), Snapshot),
            ("master username", show(&self.master_username), Snapshot),
            ("subnet group", show(&self.subnet_group), Restore),
            ("security groups", self.security_groups.join(","), Restore),
            (
                if instance { "parameter group" } else { "cluster parameter group" },
                show(&self.parameter_group),
                Restore,
            ),
            ("port", show(&self.port), Restore),
            ("IAM database authentication", show(&self.iam_auth), Restore),
            ("backup retention days", show(&self.backup_retention), Restore),
            ("backup window", show(&self.backup_window), Restore),
            ("maintenance window", show(&self.maintenance_window), ModifyAfter),
            ("deletion protection", show(&self.deletion_protection), Restore),
            ("log exports", self.log_exports.join(","), Restore),
            ("copy tags to snapshot", show(&self.copy_tags_to_snapshot), Restore),
            (
                "master user secret (Secrets Manager)",
                show(&self.master_user_secret),
                if instance { Restore } else { ModifyAfter },
            ),
            ("tags", self.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","), Restore),
        ];
        if instance {
            rows.extend([
                ("instance class", show(&self.instance_class), Restore),
                ("option group", show(&self.option_group), Restore),
                ("storage type", show(&self.storage_type), Restore),
                ("allocated storage GiB", show(&self.allocated_storage), Restore),
                ("IOPS", show(&self.iops), Restore),
                ("storage throughput", show(&self.storage_throughput), Restore),
                ("max allocated storage GiB", show(&self.max_allocated_storage), ModifyAfter),
                ("Multi-AZ", show(&self.multi_az), Restore),
                ("publicly accessible", show(&self.publicly_accessible), Restore),
                ("monitoring interval", show(&self.monitoring_interval), ModifyAfter),
                ("monitoring role", show(&self.monitoring_role_arn), ModifyAfter),
                ("Performance Insights", show(&self.performance_insights), ModifyAfter),
                ("Performance Insights retention days", show(&self.performance_insights_retention), ModifyAfter),
                ("CA certificate", show(&self.ca_certificate), Restore),
                ("auto minor version upgrade", show(&self.auto_minor_version_upgrade), Restore),
            ]);
        }
        rows.into_iter().map(|(name, value, how)| Row { name, value, how }).collect()
    }
}

/// A member instance of an Aurora cluster: recreated one for one in the new cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Member {
    pub identifier: String,
    pub status: Option<String>,
    pub writer: bool,
    pub instance_class: Option<String>,
    pub promotion_tier: Option<i32>,
    pub parameter_group: Option<String>,
    pub availability_zone: Option<String>,
    pub publicly_accessible: Option<bool>,
    pub monitoring_interval: Option<i32>,
    pub monitoring_role_arn: Option<String>,
    pub performance_insights: Option<bool>,
    pub ca_certificate: Option<String>,
    pub auto_minor_version_upgrade: Option<bool>,
}

impl Member {
    /// What must be equal between an old member and its new counterpart.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        vec![
            ("class", show(&self.instance_class)),
            ("promotion tier", show(&self.promotion_tier)),
            ("parameter group", show(&self.parameter_group)),
            ("publicly accessible", show(&self.publicly_accessible)),
            ("monitoring interval", show(&self.monitoring_interval)),
            ("Performance Insights", show(&self.performance_insights)),
            ("CA certificate", show(&self.ca_certificate)),
            ("auto minor version upgrade", show(&self.auto_minor_version_upgrade)),
        ]
    }
}

/// A database as the migration sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Db {
    pub kind: Option<Kind>,
    pub identifier: String,
    pub arn: String,
    pub status: String,
    pub encrypted: bool,
    /// The KMS key ARN, when encrypted.
    pub kms_key_id: Option<String>,
    /// The endpoint address (instances) or the cluster (writer) endpoint.
    pub endpoint: Option<String>,
    /// All tags, rdsguard's included.
    pub all_tags: Vec<(String, String)>,
    /// Instances: the read replicas of this instance.
    pub read_replicas: Vec<String>,
    /// Instances: the source, when this is a read replica.
    pub replica_source: Option<String>,
    /// Instances: the cluster this instance is a member of.
    pub cluster: Option<String>,
    pub settings: Settings,
    /// Clusters: the member instances, writer first.
    pub members: Vec<Member>,
}

impl Db {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.all_tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn status_is(&self, status: &str) -> bool {
        self.status.eq_ignore_ascii_case(status)
    }
}

/// A DB snapshot or DB cluster snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub identifier: String,
    pub status: String,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    /// When the snapshot's data was taken (ISO 8601): writes after it are not in it.
    pub created: Option<String>,
}

/// A setting that differs between the old database and the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub setting: String,
    pub source: String,
    pub target: String,
}

/// The settings of `target` that differ from `source` (members matched by position: writer
/// first, then by identifier).
pub fn differences(kind: Kind, source: &Db, target: &Db) -> Vec<Difference> {
    let mut out: Vec<Difference> = source
        .settings
        .rows(kind)
        .into_iter()
        .zip(target.settings.rows(kind))
        .filter(|(s, t)| s.value != t.value)
        .map(|(s, t)| Difference { setting: s.name.to_owned(), source: s.value, target: t.value })
        .collect();
    if kind == Kind::Cluster {
        if source.members.len() != target.members.len() {
            out.push(Difference {
                setting: "members".to_owned(),
                source: source.members.len().to_string(),
                target: target.members.len().to_string(),
            });
        }
        for (old, new) in source.members.iter().zip(&target.members) {
            for ((name, a), (_, b)) in old.rows().into_iter().zip(new.rows()) {
                if a != b {
                    out.push(Difference { setting: format!("member {} {name}", old.identifier), source: a, target: b });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(settings: Settings) -> Db {
        Db { settings, ..Db::default() }
    }

    #[test]
    fn only_settings_that_differ_are_reported() {
        let source = Settings {
            security_groups: vec!["sg-1".into(), "sg-2".into()],
            iam_auth: Some(true),
            parameter_group: Some("custom".into()),
            ..Settings::default()
        };
        let cases = [
            ("identical", source.clone(), vec![]),
            (
                "default parameter group",
                Settings { parameter_group: Some("default.postgres16".into()), ..source.clone() },
                vec!["parameter group"],
            ),
            (
                "a group missing",
                Settings { security_groups: vec!["sg-1".into()], ..source.clone() },
                vec!["security groups"],
            ),
            ("IAM auth off", Settings { iam_auth: Some(false), ..source.clone() }, vec!["IAM database authentication"]),
        ];
        for (name, target, expected) in cases {
            let found: Vec<String> =
                differences(Kind::Instance, &db(source.clone()), &db(target)).into_iter().map(|d| d.setting).collect();
            assert_eq!(found, expected, "{name}");
        }
    }

    #[test]
    fn cluster_members_are_compared_one_for_one() {
        let member = |id: &str, class: &str, tier: i32| Member {
            identifier: id.into(),
            instance_class: Some(class.into()),
            promotion_tier: Some(tier),
            ..Member::default()
        };
        let source =
            Db { members: vec![member("a", "db.r6g.large", 0), member("b", "db.r6g.large", 1)], ..Db::default() };
        let same =
            Db { members: vec![member("a-x", "db.r6g.large", 0), member("b-x", "db.r6g.large", 1)], ..Db::default() };
        assert!(differences(Kind::Cluster, &source, &same).is_empty());
        let short = Db { members: vec![member("a-x", "db.r6g.large", 2)], ..Db::default() };
        let found: Vec<String> = differences(Kind::Cluster, &source, &short).into_iter().map(|d| d.setting).collect();
        assert_eq!(found, ["members", "member a promotion tier"]);
    }
}
