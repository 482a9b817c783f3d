//! Deciding and carrying out what to do about a finding.
//!
//! Planning is pure: exemption, policy and the database's status decide whether to act now, defer
//! (RDS refuses changes while a database is `creating`, `modifying`, `stopped`...), or only alert.
//! Execution calls the remediation port, then reads the state back to confirm: an API call that
//! returned 200 is not proof the database is private.

use std::time::Duration;

use serde::Serialize;

use crate::aws::{DatabaseInventory, DatabaseRemediation};
use crate::database::{Database, DatabaseKind};
use crate::policy::{Mode, Policy, RuleAction};
use crate::rules::RuleId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// ModifyDBInstance PubliclyAccessible=false, ApplyImmediately=true.
    MakePrivate,
    /// StopDBInstance / StopDBCluster.
    StopDatabase,
    /// ModifyDBInstance / ModifyDBCluster DeletionProtection=true (RDS.8 / RDS.7).
    EnableDeletionProtection,
    /// ModifyDBInstance / ModifyDBCluster BackupRetentionPeriod=MIN_BACKUP_RETENTION_DAYS (RDS.11 / RDS.50).
    SetBackupRetention,
    /// ModifyDBInstance / ModifyDBCluster AutoMinorVersionUpgrade=true (RDS.13 / RDS.35).
    EnableMinorVersionUpgrade,
    /// ModifyDB(Cluster)ParameterGroup: the TLS parameter set back to enforced (RDS.38 / RDS.39).
    EnforceTls,
    /// ModifyDB(Cluster)SnapshotAttribute: `all` removed from `restore` (RDS.1).
    MakeSnapshotPrivate,
    /// ModifyDB(Cluster)SnapshotAttribute: untrusted accounts removed from `restore`.
    UnshareSnapshot,
    /// RevokeSecurityGroupIngress of exactly the offending rule, by SecurityGroupRuleId.
    RevokeIngress,
    /// CreateDBSnapshot / CreateDBClusterSnapshot for forensics (guardduty-responder).
    CreateSnapshot,
    /// The responses configured for a GuardDuty finding, taken together; each one's own outcome is
    /// listed in the alert (guardduty-responder).
    Responses,
    /// CloudTrail StartLogging on a trail someone stopped (pipeline-guard).
    StartLogging,
    /// GuardDuty UpdateDetector Enable=true on a detector someone disabled (pipeline-guard).
    EnableDetector,
    /// guardrail-manager re-applies its managed Service Control Policies (content, attachments).
    ReapplyGuardrails,
    /// sts:AssumeRole of the member role in the resource's account, before anything could be
    /// checked there (fails when the account is not set up: see [`crate::member_access`]).
    AssumeMemberRole,
    /// The policy says alert only.
    AlertOnly,
    /// Nothing is done (exempt resource).
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Succeeded,
    Failed,
    Deferred,
    Skipped,
    NotAttempted,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Deferred => "deferred",
            Self::Skipped => "skipped",
            Self::NotAttempted => "not_attempted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionOutcome {
    pub kind: ActionKind,
    pub status: ActionStatus,
    pub detail: String,
}

impl ActionOutcome {
    pub fn new(kind: ActionKind, status: ActionStatus, detail: impl Into<String>) -> Self {
        Self { kind, status, detail: detail.into() }
    }
}

/// What to do about one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Call AWS now.
    Act(ActionKind),
    /// Nothing to call now; report this outcome.
    Report(ActionOutcome),
}

/// Statuses in which RDS accepts ModifyDB* / StopDB* calls.
const ACTIONABLE_STATUSES: &[&str] = &["available", "backing-up", "storage-optimization", "incompatible-parameters"];
/// Statuses from which the database will come back by itself; the RDS event that marks the
/// end of it re-triggers the check.
const TRANSIENT_STATUSES: &[&str] = &[
    "creating",
    "modifying",
    "rebooting",
    "starting",
    "renaming",
    "upgrading",
    "maintenance",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "converting-to-vpc",
    "moving-to-vpc",
    "resetting-master-credentials",
    "backtracking",
    "migrating",
    "promoting",
    "preparing-data-migration",
    "stopping",
];
const GONE_STATUSES: &[&str] = &["deleting", "deleted", "failed", "inaccessible-encryption-credentials"];

/// The checks every plan starts with, on any resource: an exempt resource is left alone, and a
/// rule whose policy is `alert` (or `MODE=alert`) changes nothing. `Ok` carries the action the
/// policy asks for (`remediate` or `stop`); `Err` the outcome to report instead.
pub fn policy_gate(rule: RuleId, tags: &[(String, String)], policy: &Policy) -> Result<RuleAction, ActionOutcome> {
    if let Some(tag) = policy.exemption(tags, rule) {
        return Err(ActionOutcome::new(
            ActionKind::None,
            ActionStatus::Skipped,
            format!("exempt: resource is tagged {tag}"),
        ));
    }
    match policy.effective_action(rule) {
        action @ (RuleAction::Remediate | RuleAction::Stop) => Ok(action),
        RuleAction::Alert | RuleAction::Off => {
            let why = if policy.mode == Mode::AlertOnly {
                "MODE=alert: rdsguard changes nothing".to_owned()
            } else {
                format!("policy for {rule} is alert")
            };
            Err(ActionOutcome::new(ActionKind::AlertOnly, ActionStatus::NotAttempted, why))
        }
    }
}

/// The in-place fix for a rule over a database's own settings (`None`: it has none).
pub fn database_fix(rule: RuleId) -> Option<ActionKind> {
    match rule {
        // GUARDDUTY.RDS's make-private response takes the same path as RDS.2.
        RuleId::Rds2PublicAccess | RuleId::GuardDutyRdsThreat => Some(ActionKind::MakePrivate),
        RuleId::Rds8InstanceDeletionProtection | RuleId::Rds7ClusterDeletionProtection => {
            Some(ActionKind::EnableDeletionProtection)
        }
        RuleId::Rds11InstanceBackups | RuleId::Rds50ClusterBackups => Some(ActionKind::SetBackupRetention),
        RuleId::Rds13MinorVersionUpgrade | RuleId::Rds35ClusterMinorVersionUpgrade => {
            Some(ActionKind::EnableMinorVersionUpgrade)
        }
        _ => None,
    }
}

pub fn plan(rule: RuleId, db: &Database, policy: &Policy) -> Plan {
    let kind = match policy_gate(rule, &db.state.tags, policy) {
        Ok(RuleAction::Stop) => ActionKind::StopDatabase,
        Ok(_) => match database_fix(rule) {
            Some(kind) => kind,
            None => {
                return Plan::Report(ActionOutcome::new(
                    ActionKind::AlertOnly,
                    ActionStatus::NotAttempted,
                    format!("{rule} has no in-place fix"),
                ))
            }
        },
        Err(outcome) => return Plan::Report(outcome),
    };
    if kind == ActionKind::MakePrivate && db.kind == DatabaseKind::Cluster {
        return Plan::Report(ActionOutcome::new(
            kind,
            ActionStatus::Skipped,
            "a Multi-AZ DB cluster cannot be made private in place (ModifyDBCluster has no PubliclyAccessible): \
             restore it from a snapshot with PubliclyAccessible=false",
        ));
    }
    let status = db.state.status.as_deref().unwrap_or("unknown").to_ascii_lowercase();
    if kind == ActionKind::StopDatabase && matches!(status.as_str(), "stopped" | "stopping") {
        return Plan::Report(ActionOutcome::new(kind, ActionStatus::Skipped, format!("already {status}")));
    }
    if kind == ActionKind::StopDatabase && db.state.read_replica_source.is_some() {
        return Plan::Report(ActionOutcome::new(
            kind,
            ActionStatus::Skipped,
            "RDS cannot stop a read replica: promote it or delete it",
        ));
    }
    // StopDB* is accepted only from `available`; ModifyDBInstance also from a few busy states.
    let actionable = match kind {
        ActionKind::StopDatabase => status == "available",
        _ => ACTIONABLE_STATUSES.contains(&status.as_str()),
    };
    if actionable {
        return Plan::Act(kind);
    }
    if GONE_STATUSES.contains(&status.as_str()) {
        return Plan::Report(ActionOutcome::new(
            kind,
            ActionStatus::Skipped,
            format!("status is {status}; nothing to change"),
        ));
    }
    let when = if status == "stopped" {
        "when it is started (RDS event 'DB instance started')".to_owned()
    } else if TRANSIENT_STATUSES.contains(&status.as_str()) {
        "when RDS reports the change has finished".to_owned()
    } else {
        "on the next RDS event for it".to_owned()
    };
    Plan::Report(ActionOutcome::new(
        kind,
        ActionStatus::Deferred,
        format!("status is {status}: RDS does not accept the change yet; rechecked {when}"),
    ))
}

/// How long to keep reading the state back after a change was accepted. RDS applies
/// `PubliclyAccessible` and starts a stop within seconds; this bounded check is not a wait for a
/// database to finish creating (that is deferred to RDS's own events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmation {
    pub attempts: u32,
    pub delay: Duration,
}

impl Default for Confirmation {
    /// Up to 6 reads, 2 s apart (at most 10 s of waiting).
    fn default() -> Self {
        Self { attempts: 6, delay: Duration::from_secs(2) }
    }
}

/// AWS error codes meaning "not in a state to accept this now".
const BUSY_ERROR_CODES: &[&str] =
    &["InvalidDBInstanceState", "InvalidDBInstanceStateFault", "InvalidDBClusterStateFault"];

/// Runs an [`ActionKind`] that [`plan`] chose, then confirms it by describing the database again
/// (up to `confirm.attempts` times). AWS errors become a `failed` outcome carrying the error; they
/// are not returned, so the alert still goes out. "Busy" errors (another change or a concurrent
/// delivery of the same event got there first) are `deferred`.
pub async fn execute<P>(
    kind: ActionKind,
    db: &Database,
    port: &P,
    policy: &Policy,
    confirm: Confirmation,
) -> ActionOutcome
where
    P: DatabaseInventory + DatabaseRemediation + ?Sized,
{
    let id = db.state.identifier.as_str();
    let min_days = policy.min_backup_retention_days;
    let call = match (kind, db.kind) {
        (ActionKind::MakePrivate, DatabaseKind::Instance) => port.make_instance_private(id).await,
        (ActionKind::StopDatabase, DatabaseKind::Instance) => port.stop_instance(id).await,
        (ActionKind::StopDatabase, DatabaseKind::Cluster) => port.stop_cluster(id).await,
        (ActionKind::EnableDeletionProtection, kind) => port.enable_deletion_protection(kind, id).await,
        (ActionKind::SetBackupRetention, kind) => {
            port.set_backup_retention(kind, id, min_days, !turns_backups_on(db)).await
        }
        (ActionKind::EnableMinorVersionUpgrade, kind) => port.enable_auto_minor_version_upgrade(kind, id).await,
        (ActionKind::MakePrivate, DatabaseKind::Cluster)
        | (
            ActionKind::AlertOnly
            | ActionKind::None
            | ActionKind::RevokeIngress
            | ActionKind::CreateSnapshot
            | ActionKind::Responses
            | ActionKind::StartLogging
            | ActionKind::EnableDetector
            | ActionKind::EnforceTls
            | ActionKind::MakeSnapshotPrivate
            | ActionKind::UnshareSnapshot
            | ActionKind::ReapplyGuardrails
            | ActionKind::AssumeMemberRole,
            _,
        ) => return ActionOutcome::new(kind, ActionStatus::NotAttempted, "nothing to execute"),
    };
    let operation = operation_name(kind, db.kind);
    if let Err(error) = call {
        let busy = error.code.as_deref().is_some_and(|code| BUSY_ERROR_CODES.contains(&code));
        if busy {
            return ActionOutcome::new(
                kind,
                ActionStatus::Deferred,
                format!("{error}; rechecked on the next event for this database"),
            );
        }
        return ActionOutcome::new(kind, ActionStatus::Failed, error.to_string());
    }
    let mut last = String::new();
    for attempt in 0..confirm.attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(confirm.delay).await;
        }
        let after = match db.kind {
            DatabaseKind::Instance => port.describe_instance(id).await,
            DatabaseKind::Cluster => port.describe_cluster(id).await,
        };
        let after = match after {
            Ok(Some(state)) => state,
            Ok(None) => {
                return ActionOutcome::new(
                    kind,
                    ActionStatus::Failed,
                    format!("{operation} accepted, but {id} no longer exists"),
                )
            }
            Err(error) => {
                return ActionOutcome::new(
                    kind,
                    ActionStatus::Failed,
                    format!("{operation} accepted; confirming failed: {error}"),
                )
            }
        };
        let status = after.status.clone().unwrap_or_else(|| "unknown".into());
        match kind {
            ActionKind::MakePrivate if after.publicly_accessible == Some(false) => {
                return ActionOutcome::new(
                    kind,
                    ActionStatus::Succeeded,
                    format!("{operation} applied; PubliclyAccessible is now false (confirmed by describe)"),
                )
            }
            ActionKind::StopDatabase if matches!(status.as_str(), "stopping" | "stopped") => {
                return ActionOutcome::new(
                    kind,
                    ActionStatus::Succeeded,
                    format!("{operation} accepted; status is now {status}"),
                )
            }
            ActionKind::EnableDeletionProtection if after.deletion_protection == Some(true) => {
                return ActionOutcome::new(
                    kind,
                    ActionStatus::Succeeded,
                    format!("{operation} applied; DeletionProtection is now true (confirmed by describe)"),
                )
            }
            ActionKind::EnableMinorVersionUpgrade if after.auto_minor_version_upgrade == Some(true) => {
                return ActionOutcome::new(
                    kind,
                    ActionStatus::Succeeded,
                    format!("{operation} applied; AutoMinorVersionUpgrade is now true (confirmed by describe)"),
                )
            }
            ActionKind::SetBackupRetention if after.backup_retention_days.is_some_and(|d| d >= min_days) => {
                return ActionOutcome::new(
                    kind,
                    ActionStatus::Succeeded,
                    format!(
                        "{operation} applied; BackupRetentionPeriod is now {} days (confirmed by describe)",
                        after.backup_retention_days.unwrap_or(min_days)
                    ),
                )
            }
            ActionKind::SetBackupRetention if after.pending_backup_retention_days.is_some_and(|d| d >= min_days) => {
                let when = if turns_backups_on(db) {
                    "in the next maintenance window (turning automated backups on from 0 briefly interrupts I/O, \
                     so rdsguard does not force it now)"
                } else {
                    "now"
                };
                return ActionOutcome::new(
                    kind,
                    ActionStatus::Succeeded,
                    format!(
                        "{operation} accepted; RDS applies BackupRetentionPeriod={min_days} {when} \
                         (PendingModifiedValues, status {status})"
                    ),
                );
            }
            _ => last = status,
        }
    }
    let waited = confirm.delay * confirm.attempts.saturating_sub(1);
    let still = match kind {
        ActionKind::MakePrivate => Some("PubliclyAccessible=true"),
        ActionKind::EnableDeletionProtection => Some("DeletionProtection=false"),
        ActionKind::EnableMinorVersionUpgrade => Some("AutoMinorVersionUpgrade=false"),
        ActionKind::SetBackupRetention => Some("a shorter BackupRetentionPeriod"),
        _ => None,
    };
    match still {
        Some(still) => ActionOutcome::new(
            kind,
            ActionStatus::Deferred,
            format!(
                "{operation} accepted, but after {}s describe still reports {still} (status {last}); \
                 rechecked on the next event for this database",
                waited.as_secs()
            ),
        ),
        _ => ActionOutcome::new(
            kind,
            ActionStatus::Failed,
            format!("{operation} accepted, but after {}s the status is still {last}", waited.as_secs()),
        ),
    }
}

/// Whether a retention fix switches automated backups on (from 0). RDS then interrupts I/O
/// briefly, so the change is left to the maintenance window instead of applied at once.
fn turns_backups_on(db: &Database) -> bool {
    db.state.backup_retention_days == Some(0)
}

fn operation_name(kind: ActionKind, db: DatabaseKind) -> &'static str {
    match (kind, db) {
        (
            ActionKind::MakePrivate
            | ActionKind::EnableDeletionProtection
            | ActionKind::SetBackupRetention
            | ActionKind::EnableMinorVersionUpgrade,
            DatabaseKind::Instance,
        ) => "ModifyDBInstance",
        (
            ActionKind::EnableDeletionProtection
            | ActionKind::SetBackupRetention
            | ActionKind::EnableMinorVersionUpgrade,
            DatabaseKind::Cluster,
        ) => "ModifyDBCluster",
        (ActionKind::StopDatabase, DatabaseKind::Instance) => "StopDBInstance",
        (ActionKind::StopDatabase, DatabaseKind::Cluster) => "StopDBCluster",
        _ => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::AwsError;
    use crate::database::DatabaseState;

    fn policy(vars: &[(&str, &str)]) -> Policy {
        let mut all = vec![("ALERT_TOPIC_ARN".to_owned(), "arn:aws:sns:us-east-1:123456789012:t".to_owned())];
        all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Policy::from_vars(all).unwrap()
    }

    fn db(status: &str, tags: &[(&str, &str)]) -> Database {
        Database::instance(DatabaseState {
            identifier: "db1".into(),
            status: Some(status.into()),
            tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ..DatabaseState::default()
        })
    }

    fn summary(plan: &Plan) -> (String, Option<ActionStatus>) {
        match plan {
            Plan::Act(kind) => (format!("act {kind:?}"), None),
            Plan::Report(outcome) => (format!("report {:?}", outcome.kind), Some(outcome.status)),
        }
    }

    #[test]
    fn plans() {
        use ActionStatus::*;
        let defaults = policy(&[]);
        let alert_mode = policy(&[("MODE", "alert")]);
        let stop = policy(&[("RULE_ACTIONS", "RDS.3=stop")]);
        type Case<'a> = (&'a str, RuleId, Database, &'a Policy, &'a str, Option<ActionStatus>);
        let cases: Vec<Case> = vec![
            ("public, available", RuleId::Rds2PublicAccess, db("available", &[]), &defaults, "act MakePrivate", None),
            ("public, backing-up", RuleId::Rds2PublicAccess, db("backing-up", &[]), &defaults, "act MakePrivate", None),
            (
                "public, creating",
                RuleId::Rds2PublicAccess,
                db("creating", &[]),
                &defaults,
                "report MakePrivate",
                Some(Deferred),
            ),
            (
                "public, modifying",
                RuleId::Rds2PublicAccess,
                db("modifying", &[]),
                &defaults,
                "report MakePrivate",
                Some(Deferred),
            ),
            (
                "public, stopped",
                RuleId::Rds2PublicAccess,
                db("stopped", &[]),
                &defaults,
                "report MakePrivate",
                Some(Deferred),
            ),
            (
                "public, deleting",
                RuleId::Rds2PublicAccess,
                db("deleting", &[]),
                &defaults,
                "report MakePrivate",
                Some(Skipped),
            ),
            (
                "alert mode",
                RuleId::Rds2PublicAccess,
                db("available", &[]),
                &alert_mode,
                "report AlertOnly",
                Some(NotAttempted),
            ),
            (
                "exempt all",
                RuleId::Rds2PublicAccess,
                db("available", &[("rdsguard:exempt", "all")]),
                &defaults,
                "report None",
                Some(Skipped),
            ),
            (
                "exempt other rule",
                RuleId::Rds2PublicAccess,
                db("available", &[("rdsguard:exempt", "RDS.3")]),
                &defaults,
                "act MakePrivate",
                None,
            ),
            (
                "unencrypted, default alert",
                RuleId::Rds3InstanceEncryption,
                db("available", &[]),
                &defaults,
                "report AlertOnly",
                Some(NotAttempted),
            ),
            (
                "unencrypted, stop",
                RuleId::Rds3InstanceEncryption,
                db("available", &[]),
                &stop,
                "act StopDatabase",
                None,
            ),
            (
                "unencrypted, stop, already stopped",
                RuleId::Rds3InstanceEncryption,
                db("stopped", &[]),
                &stop,
                "report StopDatabase",
                Some(Skipped),
            ),
            (
                "multi-az cluster public",
                RuleId::Rds2PublicAccess,
                Database::cluster(DatabaseState {
                    identifier: "c".into(),
                    engine: Some("postgres".into()),
                    status: Some("available".into()),
                    ..DatabaseState::default()
                }),
                &defaults,
                "report MakePrivate",
                Some(Skipped),
            ),
            (
                "unencrypted, stop, backing-up",
                RuleId::Rds3InstanceEncryption,
                db("backing-up", &[]),
                &stop,
                "report StopDatabase",
                Some(Deferred),
            ),
            (
                "unencrypted, stop, creating",
                RuleId::Rds3InstanceEncryption,
                db("creating", &[]),
                &stop,
                "report StopDatabase",
                Some(Deferred),
            ),
        ];
        for (name, rule, database, policy, expected, status) in cases {
            let got = summary(&plan(rule, &database, policy));
            assert_eq!(got, (expected.to_owned(), status), "{name}");
        }
    }

    /// A database port whose writes are accepted (or refused) and whose describes return a
    /// scripted state.
    struct ScriptedRds {
        write_error: Option<AwsError>,
        after: DatabaseState,
    }

    #[async_trait::async_trait]
    impl DatabaseInventory for ScriptedRds {
        async fn describe_instance(&self, _: &str) -> Result<Option<DatabaseState>, AwsError> {
            Ok(Some(self.after.clone()))
        }
        async fn describe_cluster(&self, _: &str) -> Result<Option<DatabaseState>, AwsError> {
            Ok(Some(self.after.clone()))
        }
    }

    #[async_trait::async_trait]
    impl DatabaseRemediation for ScriptedRds {
        async fn make_instance_private(&self, _: &str) -> Result<(), AwsError> {
            self.write_error.clone().map_or(Ok(()), Err)
        }
        async fn stop_instance(&self, _: &str) -> Result<(), AwsError> {
            self.write_error.clone().map_or(Ok(()), Err)
        }
        async fn stop_cluster(&self, _: &str) -> Result<(), AwsError> {
            self.write_error.clone().map_or(Ok(()), Err)
        }
        async fn enable_deletion_protection(&self, _: DatabaseKind, _: &str) -> Result<(), AwsError> {
            self.write_error.clone().map_or(Ok(()), Err)
        }
        async fn set_backup_retention(&self, _: DatabaseKind, _: &str, _: i32, _: bool) -> Result<(), AwsError> {
            self.write_error.clone().map_or(Ok(()), Err)
        }
        async fn enable_auto_minor_version_upgrade(&self, _: DatabaseKind, _: &str) -> Result<(), AwsError> {
            self.write_error.clone().map_or(Ok(()), Err)
        }
    }

    fn state(status: &str, public: bool) -> DatabaseState {
        DatabaseState {
            identifier: "db1".into(),
            status: Some(status.into()),
            publicly_accessible: Some(public),
            ..DatabaseState::default()
        }
    }

    #[tokio::test]
    async fn execute_reports_what_describe_confirms() {
        use ActionStatus::*;
        let quick = Confirmation { attempts: 2, delay: Duration::from_millis(1) };
        let busy = AwsError {
            operation: "ModifyDBInstance",
            code: Some("InvalidDBInstanceState".into()),
            message: "busy".into(),
        };
        let denied = AwsError { operation: "StopDBInstance", code: Some("AccessDenied".into()), message: "no".into() };
        let cases = [
            (
                "private afterwards",
                ActionKind::MakePrivate,
                None,
                state("modifying", false),
                Succeeded,
                "PubliclyAccessible is now false",
            ),
            (
                "accepted, not yet applied",
                ActionKind::MakePrivate,
                None,
                state("available", true),
                Deferred,
                "still reports PubliclyAccessible=true",
            ),
            ("busy", ActionKind::MakePrivate, Some(busy), state("modifying", true), Deferred, "InvalidDBInstanceState"),
            (
                "stop accepted, stopping",
                ActionKind::StopDatabase,
                None,
                state("stopping", false),
                Succeeded,
                "status is now stopping",
            ),
            (
                "stop accepted, still available",
                ActionKind::StopDatabase,
                None,
                state("available", false),
                Failed,
                "status is still available",
            ),
            (
                "stop denied",
                ActionKind::StopDatabase,
                Some(denied),
                state("available", false),
                Failed,
                "StopDBInstance failed: AccessDenied: no",
            ),
        ];
        for (name, kind, write_error, after, status, detail) in cases {
            let port = ScriptedRds { write_error, after };
            let outcome = execute(kind, &db("available", &[]), &port, &policy(&[]), quick).await;
            assert_eq!(outcome.status, status, "{name}: {}", outcome.detail);
            assert!(outcome.detail.contains(detail), "{name}: {}", outcome.detail);
        }
    }

    #[tokio::test]
    async fn settings_fixes_are_confirmed_by_describe() {
        use ActionStatus::*;
        let quick = Confirmation { attempts: 2, delay: Duration::from_millis(1) };
        let with = |edit: fn(&mut DatabaseState)| {
            let mut s = state("available", false);
            edit(&mut s);
            s
        };
        let cases = [
            (
                "deletion protection on",
                ActionKind::EnableDeletionProtection,
                with(|s| s.deletion_protection = Some(true)),
                Succeeded,
                "DeletionProtection is now true",
            ),
            (
                "deletion protection still off",
                ActionKind::EnableDeletionProtection,
                with(|s| s.deletion_protection = Some(false)),
                Deferred,
                "still reports DeletionProtection=false",
            ),
            (
                "retention applied",
                ActionKind::SetBackupRetention,
                with(|s| s.backup_retention_days = Some(7)),
                Succeeded,
                "BackupRetentionPeriod is now 7 days",
            ),
            (
                "retention pending",
                ActionKind::SetBackupRetention,
                with(|s| {
                    s.backup_retention_days = Some(0);
                    s.pending_backup_retention_days = Some(7)
                }),
                Succeeded,
                "RDS applies BackupRetentionPeriod=7 now",
            ),
            (
                "retention unchanged",
                ActionKind::SetBackupRetention,
                with(|s| s.backup_retention_days = Some(1)),
                Deferred,
                "shorter BackupRetentionPeriod",
            ),
            (
                "minor upgrades on",
                ActionKind::EnableMinorVersionUpgrade,
                with(|s| s.auto_minor_version_upgrade = Some(true)),
                Succeeded,
                "AutoMinorVersionUpgrade is now true",
            ),
        ];
        for (name, kind, after, status, detail) in cases {
            let port = ScriptedRds { write_error: None, after };
            let outcome = execute(kind, &db("available", &[]), &port, &policy(&[]), quick).await;
            assert_eq!(outcome.status, status, "{name}: {}", outcome.detail);
            assert!(outcome.detail.contains(detail), "{name}: {}", outcome.detail);
        }

        // Backups off: the fix waits for the maintenance window instead of interrupting I/O now.
        let mut backups_off = db("available", &[]);
        backups_off.state.backup_retention_days = Some(0);
        let port = ScriptedRds {
            write_error: None,
            after: with(|s| {
                s.backup_retention_days = Some(0);
                s.pending_backup_retention_days = Some(7)
            }),
        };
        let outcome = execute(ActionKind::SetBackupRetention, &backups_off, &port, &policy(&[]), quick).await;
        assert_eq!(outcome.status, Succeeded, "{}", outcome.detail);
        assert!(outcome.detail.contains("in the next maintenance window"), "{}", outcome.detail);
    }

    #[test]
    fn each_fixable_rule_plans_its_own_fix() {
        let p = policy(&[]);
        let cases = [
            (RuleId::Rds8InstanceDeletionProtection, "act EnableDeletionProtection"),
            (RuleId::Rds11InstanceBackups, "act SetBackupRetention"),
            (RuleId::Rds13MinorVersionUpgrade, "act EnableMinorVersionUpgrade"),
            (RuleId::Rds35ClusterMinorVersionUpgrade, "act EnableMinorVersionUpgrade"),
            (RuleId::Rds10InstanceIamAuth, "report AlertOnly"),
        ];
        for (rule, expected) in cases {
            assert_eq!(summary(&plan(rule, &db("available", &[]), &p)).0, expected, "{rule}");
        }
        let alert = policy(&[("RULE_ACTIONS", "RDS.8=alert")]);
        assert_eq!(
            summary(&plan(RuleId::Rds8InstanceDeletionProtection, &db("available", &[]), &alert)),
            ("report AlertOnly".to_owned(), Some(ActionStatus::NotAttempted))
        );
    }

    #[test]
    fn read_replicas_are_not_stopped() {
        let p = policy(&[("RULE_ACTIONS", "RDS.3=stop")]);
        let mut replica = db("available", &[]);
        replica.state.read_replica_source = Some("primary".into());
        let Plan::Report(outcome) = plan(RuleId::Rds3InstanceEncryption, &replica, &p) else {
            panic!("expected a report")
        };
        assert_eq!(outcome.status, ActionStatus::Skipped);
        assert!(outcome.detail.contains("promote it or delete it"));
    }

    #[test]
    fn exempt_detail_names_the_tag() {
        let p = policy(&[]);
        let Plan::Report(outcome) =
            plan(RuleId::Rds2PublicAccess, &db("available", &[("rdsguard:exempt", "RDS.2")]), &p)
        else {
            panic!("expected a report")
        };
        assert_eq!(outcome.detail, "exempt: resource is tagged rdsguard:exempt=RDS.2");
    }
}
