//! Which database rules an event re-judges. Rules judge state, but not every change is a reason
//! to judge every rule again: the admin user name can only be chosen at creation, a replica's
//! encryption only when it is created, and alert-only rules would otherwise repeat their alert on
//! every unrelated modification.

use super::RuleId;

/// What kind of change to a database an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseChange {
    /// CreateDBInstance, CreateDBCluster.
    Create,
    /// ModifyDBInstance, ModifyDBCluster that leave the parameter group alone.
    Modify,
    /// ModifyDBInstance, ModifyDBCluster that switch the database to another parameter group.
    ModifyParameterGroup,
    /// RestoreDBInstanceFromDBSnapshot, RestoreDBInstanceToPointInTime, RestoreDB*FromS3,
    /// RestoreDBCluster*.
    Restore,
    /// CreateDBInstanceReadReplica.
    CreateReadReplica,
    /// One of RDS's own events (created, started, failover...): re-checks what rdsguard can fix
    /// and what may have been deferred while the database was busy.
    RdsNotification,
}

impl DatabaseChange {
    /// The change a CloudTrail event name reports (`None`: not a database change).
    pub fn of_api_call(event_name: &str, changes_parameter_group: bool) -> Option<Self> {
        Some(match event_name {
            "CreateDBInstance" | "CreateDBCluster" => Self::Create,
            "ModifyDBInstance" | "ModifyDBCluster" if changes_parameter_group => Self::ModifyParameterGroup,
            "ModifyDBInstance" | "ModifyDBCluster" => Self::Modify,
            "RestoreDBInstanceFromDBSnapshot"
            | "RestoreDBInstanceToPointInTime"
            | "RestoreDBClusterFromSnapshot"
            | "RestoreDBClusterToPointInTime"
            | "RestoreDBInstanceFromS3"
            | "RestoreDBClusterFromS3" => Self::Restore,
            "CreateDBInstanceReadReplica" => Self::CreateReadReplica,
            _ => return None,
        })
    }
}

impl RuleId {
    /// Whether a change of this kind re-judges the rule.
    pub fn judged_on(self, change: DatabaseChange) -> bool {
        use DatabaseChange::*;
        match self {
            // The foundation's rules and every rule rdsguard can fix: on any change, so that a fix
            // deferred while the database was busy happens when RDS reports it is ready.
            Self::Rds2PublicAccess
            | Self::Rds3InstanceEncryption
            | Self::Rds27ClusterEncryption
            | Self::RegionNotAllowed
            | Self::Rds8InstanceDeletionProtection
            | Self::Rds7ClusterDeletionProtection
            | Self::Rds11InstanceBackups
            | Self::Rds50ClusterBackups
            | Self::Rds13MinorVersionUpgrade
            | Self::Rds35ClusterMinorVersionUpgrade => true,
            Self::Rds38PostgresTls | Self::Rds39MysqlTls | Self::Rds44MariadbTls | Self::ClusterTls => {
                matches!(change, Create | ModifyParameterGroup | Restore | RdsNotification)
            }
            Self::Rds10InstanceIamAuth
            | Self::Rds12ClusterIamAuth
            | Self::MasterPasswordUnmanaged
            | Self::Rds9LogExports
            | Self::Rds5InstanceMultiAz
            | Self::Rds15ClusterMultiAz => matches!(change, Create | Modify | ModifyParameterGroup | Restore),
            Self::Rds25InstanceDefaultAdmin | Self::Rds24ClusterDefaultAdmin => matches!(change, Create | Restore),
            Self::ReplicaOfUnencrypted => change == CreateReadReplica,
            // Judged on snapshots, deletions, security groups, findings: never on a database change.
            Self::Ec2_19OpenToInternet
            | Self::SgSourceNotAllowed
            | Self::GuardDutyRdsThreat
            | Self::PipelineTampered
            | Self::Rds1SnapshotPublic
            | Self::SnapshotSharedOutside
            | Self::Rds4SnapshotUnencrypted
            | Self::DeletedWithoutSnapshot
            | Self::GuardrailTampered => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_map_to_changes() {
        let cases = [
            ("CreateDBInstance", false, Some(DatabaseChange::Create)),
            ("ModifyDBCluster", false, Some(DatabaseChange::Modify)),
            ("ModifyDBInstance", true, Some(DatabaseChange::ModifyParameterGroup)),
            ("RestoreDBClusterToPointInTime", false, Some(DatabaseChange::Restore)),
            ("CreateDBInstanceReadReplica", false, Some(DatabaseChange::CreateReadReplica)),
            ("DeleteDBInstance", false, None),
        ];
        for (name, group, expected) in cases {
            assert_eq!(DatabaseChange::of_api_call(name, group), expected, "{name}");
        }
    }

    #[test]
    fn which_rules_each_change_judges() {
        use DatabaseChange::*;
        let cases = [
            (RuleId::Rds25InstanceDefaultAdmin, Create, true),
            (RuleId::Rds25InstanceDefaultAdmin, Modify, false),
            (RuleId::Rds25InstanceDefaultAdmin, RdsNotification, false),
            (RuleId::ReplicaOfUnencrypted, CreateReadReplica, true),
            (RuleId::ReplicaOfUnencrypted, Create, false),
            (RuleId::Rds38PostgresTls, Modify, false),
            (RuleId::Rds38PostgresTls, ModifyParameterGroup, true),
            (RuleId::Rds10InstanceIamAuth, Modify, true),
            (RuleId::Rds10InstanceIamAuth, RdsNotification, false),
            (RuleId::Rds8InstanceDeletionProtection, RdsNotification, true),
            (RuleId::Rds2PublicAccess, CreateReadReplica, true),
            (RuleId::Rds1SnapshotPublic, Create, false),
        ];
        for (rule, change, expected) in cases {
            assert_eq!(rule.judged_on(change), expected, "{rule} on {change:?}");
        }
    }
}
