//! Carrying out a database fix [`super::plan`] chose, then confirming it by reading the database
//! back: an API call that returned 200 is not proof the database is private.
//!
//! Every settings fix due on one database goes out in one ModifyDBInstance / ModifyDBCluster
//! ([`execute_settings`]), never with ApplyImmediately=true (see
//! [`crate::aws::DatabaseRemediation`]): modifications a DBA left for the maintenance window stay
//! there, and each fix's alert names them. Confirmation reads stop at the invocation's
//! [`Deadline`]; what is not confirmed by then is `deferred`, not lost.

use std::time::Duration;

use super::{Confirmation, Confirmed, Read};
use crate::action::{ActionKind, ActionOutcome, ActionStatus};
use crate::aws::{AwsError, DatabaseInventory, DatabaseRemediation, SettingsChange};
use crate::database::{Database, DatabaseKind, DatabaseState};
use crate::kernel::Deadline;
use crate::policy::Policy;

/// AWS error codes meaning "not in a state to accept this now".
const BUSY_ERROR_CODES: &[&str] =
    &["InvalidDBInstanceState", "InvalidDBInstanceStateFault", "InvalidDBClusterStateFault"];

/// What one read of the database takes at most, for deadline checks.
const READ_ALLOWANCE: Duration = Duration::from_secs(3);
/// What one write takes at most, with the SDK's retries.
const WRITE_ALLOWANCE: Duration = Duration::from_secs(5);

/// Runs one [`ActionKind`] that [`super::plan`] chose and confirms it. AWS errors become a `failed`
/// outcome carrying the error; they are not returned, so the alert still goes out. "Busy" errors
/// (another change or a concurrent delivery of the same event got there first) are `deferred`.
pub async fn execute<P>(
    kind: ActionKind,
    db: &Database,
    port: &P,
    policy: &Policy,
    confirm: Confirmation,
    deadline: Deadline,
) -> ActionOutcome
where
    P: DatabaseInventory + DatabaseRemediation + ?Sized,
{
    if kind == ActionKind::StopDatabase {
        return execute_stop(db, port, confirm, deadline).await;
    }
    execute_settings(&[kind], db, port, policy, confirm, deadline)
        .await
        .pop()
        .unwrap_or_else(|| ActionOutcome::new(kind, ActionStatus::NotAttempted, "nothing to execute"))
}

/// The setting a settings fix changes (`None`: `kind` is not one).
fn setting(kind: ActionKind, db: &Database, policy: &Policy, change: &mut SettingsChange) -> bool {
    match (kind, db.kind) {
        (ActionKind::MakePrivate, DatabaseKind::Instance) => change.publicly_accessible = Some(false),
        (ActionKind::EnableDeletionProtection, _) => change.deletion_protection = Some(true),
        (ActionKind::SetBackupRetention, _) => change.backup_retention_days = Some(policy.min_backup_retention_days),
        (ActionKind::EnableMinorVersionUpgrade, _) => change.auto_minor_version_upgrade = Some(true),
        _ => return false,
    }
    true
}

/// Runs the settings fixes `kinds` on one database as a single ModifyDBInstance / ModifyDBCluster,
/// then reads the database back until each is confirmed, the attempts run out or the deadline
/// comes. One outcome per kind, in order; a kind that is not a settings fix is `not_attempted`.
pub async fn execute_settings<P>(
    kinds: &[ActionKind],
    db: &Database,
    port: &P,
    policy: &Policy,
    confirm: Confirmation,
    deadline: Deadline,
) -> Vec<ActionOutcome>
where
    P: DatabaseInventory + DatabaseRemediation + ?Sized,
{
    let mut change = SettingsChange::default();
    let settable: Vec<bool> = kinds.iter().map(|kind| setting(*kind, db, policy, &mut change)).collect();
    let mut outcomes: Vec<Option<ActionOutcome>> = kinds
        .iter()
        .zip(&settable)
        .map(|(kind, ok)| (!ok).then(|| ActionOutcome::new(*kind, ActionStatus::NotAttempted, "nothing to execute")))
        .collect();
    if change.is_empty() {
        return outcomes.into_iter().flatten().collect();
    }
    let id = db.state.identifier.as_str();
    let operation = operation_name(db.kind);
    let request = format!("{operation} {} (ApplyImmediately=false)", change.describe().join(", "));
    let left_pending = left_pending_note(&db.state);
    let fill = |outcomes: &mut Vec<Option<ActionOutcome>>, status: ActionStatus, detail: &str| {
        for (slot, kind) in outcomes.iter_mut().zip(kinds) {
            if slot.is_none() {
                *slot = Some(ActionOutcome::new(*kind, status, format!("{detail}{left_pending}")));
            }
        }
    };

    if !deadline.allows(WRITE_ALLOWANCE) {
        fill(
            &mut outcomes,
            ActionStatus::Deferred,
            &format!("{request} not sent: the invocation's deadline is too close; re-checked later (the re-check queue, the next event or sweep)"),
        );
        return outcomes.into_iter().flatten().collect();
    }
    if let Err(error) = port.modify_settings(db.kind, id, &change).await {
        let (status, detail) = if is_busy(&error) {
            (ActionStatus::Deferred, format!("{error}; re-checked later (the re-check queue, the next event or sweep)"))
        } else {
            (ActionStatus::Failed, error.to_string())
        };
        fill(&mut outcomes, status, &detail);
        return outcomes.into_iter().flatten().collect();
    }

    let mut last_status = String::from("unread");
    let confirmed_all = super::confirm(confirm, deadline, READ_ALLOWANCE, async || {
        let after = match read(port, db.kind, id).await {
            Ok(Some(state)) => state,
            Ok(None) => return Read::Failed(format!("{request} accepted, but {id} no longer exists")),
            Err(error) => return Read::Failed(format!("{request} accepted; confirming failed: {error}")),
        };
        last_status = after.status.clone().unwrap_or_else(|| "unknown".into());
        for (slot, kind) in outcomes.iter_mut().zip(kinds) {
            if slot.is_none() {
                if let Some(detail) = confirmed(*kind, db, &after, policy.min_backup_retention_days, &request) {
                    *slot = Some(ActionOutcome::new(*kind, ActionStatus::Succeeded, format!("{detail}{left_pending}")));
                }
            }
        }
        if outcomes.iter().all(Option::is_some) {
            Read::Ready(())
        } else {
            Read::NotYet
        }
    })
    .await;
    match confirmed_all {
        Confirmed::Ready(()) => return outcomes.into_iter().flatten().collect(),
        Confirmed::Failed(detail) => {
            fill(&mut outcomes, ActionStatus::Failed, &detail);
            return outcomes.into_iter().flatten().collect();
        }
        Confirmed::DeadlineReached => {
            fill(
                &mut outcomes,
                ActionStatus::Deferred,
                &format!(
                    "{request} accepted; not confirmed before the invocation's deadline (status {last_status}); \
                     re-checked later (the re-check queue, the next event or sweep)"
                ),
            );
            return outcomes.into_iter().flatten().collect();
        }
        Confirmed::NotYet => {}
    }
    let waited = confirm.waited();
    for (slot, kind) in outcomes.iter_mut().zip(kinds) {
        if slot.is_none() {
            *slot = Some(ActionOutcome::new(
                *kind,
                ActionStatus::Deferred,
                format!(
                    "{request} accepted, but after {}s describe still reports {} (status {last_status}); \
                     re-checked later (the re-check queue, the next event or sweep){left_pending}",
                    waited.as_secs(),
                    still(*kind)
                ),
            ));
        }
    }
    outcomes.into_iter().flatten().collect()
}

/// The success detail when `after` shows `kind` applied (or accepted for the window), else `None`.
fn confirmed(kind: ActionKind, db: &Database, after: &DatabaseState, min_days: i32, operation: &str) -> Option<String> {
    let status = after.status.as_deref().unwrap_or("unknown");
    match kind {
        ActionKind::MakePrivate if after.publicly_accessible == Some(false) => {
            Some(format!("{operation} applied; PubliclyAccessible is now false (confirmed by describe)"))
        }
        ActionKind::EnableDeletionProtection if after.deletion_protection == Some(true) => {
            Some(format!("{operation} applied; DeletionProtection is now true (confirmed by describe)"))
        }
        ActionKind::EnableMinorVersionUpgrade if after.auto_minor_version_upgrade == Some(true) => {
            Some(format!("{operation} applied; AutoMinorVersionUpgrade is now true (confirmed by describe)"))
        }
        ActionKind::SetBackupRetention if after.backup_retention_days.is_some_and(|d| d >= min_days) => Some(format!(
            "{operation} applied; BackupRetentionPeriod is now {} days (confirmed by describe)",
            after.backup_retention_days.unwrap_or(min_days)
        )),
        ActionKind::SetBackupRetention if after.pending_backup_retention_days.is_some_and(|d| d >= min_days) => {
            let when = if turns_backups_on(db) {
                "in the next maintenance window (turning automated backups on from 0 briefly interrupts I/O, \
                 so rdsguard does not force it now)"
            } else {
                "as soon as possible"
            };
            Some(format!(
                "{operation} accepted; RDS applies BackupRetentionPeriod={min_days} {when} \
                 (PendingModifiedValues, status {status})"
            ))
        }
        _ => None,
    }
}

fn still(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::MakePrivate => "PubliclyAccessible=true",
        ActionKind::EnableDeletionProtection => "DeletionProtection=false",
        ActionKind::EnableMinorVersionUpgrade => "AutoMinorVersionUpgrade=false",
        ActionKind::SetBackupRetention => "a shorter BackupRetentionPeriod",
        _ => "the old value",
    }
}

/// `; left pending for the maintenance window: …` when the database had modifications waiting.
fn left_pending_note(state: &DatabaseState) -> String {
    if state.pending_modifications.is_empty() {
        String::new()
    } else {
        format!(
            "; left pending for the maintenance window (not applied early): {}",
            state.pending_modifications.join(", ")
        )
    }
}

/// StopDBInstance / StopDBCluster, confirmed by the status turning `stopping` or `stopped`.
async fn execute_stop<P>(db: &Database, port: &P, confirm: Confirmation, deadline: Deadline) -> ActionOutcome
where
    P: DatabaseInventory + DatabaseRemediation + ?Sized,
{
    let kind = ActionKind::StopDatabase;
    let id = db.state.identifier.as_str();
    let operation = match db.kind {
        DatabaseKind::Instance => "StopDBInstance",
        DatabaseKind::Cluster => "StopDBCluster",
    };
    if !deadline.allows(WRITE_ALLOWANCE) {
        return ActionOutcome::new(
            kind,
            ActionStatus::Deferred,
            format!("{operation} not sent: the invocation's deadline is too close; re-checked later (the re-check queue, the next event or sweep)"),
        );
    }
    let call = match db.kind {
        DatabaseKind::Instance => port.stop_instance(id).await,
        DatabaseKind::Cluster => port.stop_cluster(id).await,
    };
    if let Err(error) = call {
        if is_busy(&error) {
            return ActionOutcome::new(
                kind,
                ActionStatus::Deferred,
                format!("{error}; re-checked later (the re-check queue, the next event or sweep)"),
            );
        }
        return ActionOutcome::new(kind, ActionStatus::Failed, error.to_string());
    }
    let mut last = String::from("unread");
    let stopped = super::confirm(confirm, deadline, READ_ALLOWANCE, async || match read(port, db.kind, id).await {
        Ok(Some(after)) => {
            last = after.status.unwrap_or_else(|| "unknown".into());
            if matches!(last.as_str(), "stopping" | "stopped") {
                Read::Ready(format!("{operation} accepted; status is now {last}"))
            } else {
                Read::NotYet
            }
        }
        Ok(None) => Read::Failed(format!("{operation} accepted, but {id} no longer exists")),
        Err(error) => Read::Failed(format!("{operation} accepted; confirming failed: {error}")),
    })
    .await;
    if let Some(outcome) = stopped.outcome(kind, || {
        format!(
            "{operation} accepted; not confirmed before the invocation's deadline (status {last}); \
             re-checked later (the re-check queue, the next event or sweep)"
        )
    }) {
        return outcome;
    }
    let waited = confirm.waited();
    ActionOutcome::new(
        kind,
        ActionStatus::Failed,
        format!("{operation} accepted, but after {}s the status is still {last}", waited.as_secs()),
    )
}

async fn read<P>(port: &P, kind: DatabaseKind, id: &str) -> Result<Option<DatabaseState>, AwsError>
where
    P: DatabaseInventory + ?Sized,
{
    match kind {
        DatabaseKind::Instance => port.describe_instance(id).await,
        DatabaseKind::Cluster => port.describe_cluster(id).await,
    }
}

fn is_busy(error: &AwsError) -> bool {
    error.code.as_deref().is_some_and(|code| BUSY_ERROR_CODES.contains(&code))
}

/// Whether a retention fix switches automated backups on (from 0). RDS then interrupts I/O
/// briefly, so the change is left to the maintenance window (ApplyImmediately is never sent).
fn turns_backups_on(db: &Database) -> bool {
    db.state.backup_retention_days == Some(0)
}

fn operation_name(kind: DatabaseKind) -> &'static str {
    match kind {
        DatabaseKind::Instance => "ModifyDBInstance",
        DatabaseKind::Cluster => "ModifyDBCluster",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::policy::test_policy as policy;

    fn db(status: &str) -> Database {
        Database::instance(DatabaseState {
            identifier: "db1".into(),
            status: Some(status.into()),
            ..DatabaseState::default()
        })
    }

    /// A database port whose writes are accepted (or refused) and whose describes return a
    /// scripted state.
    struct ScriptedRds {
        write_error: Option<AwsError>,
        after: DatabaseState,
        /// Every ModifyDB* request, as sent.
        sent: std::sync::Mutex<Vec<SettingsChange>>,
    }

    impl ScriptedRds {
        fn new(write_error: Option<AwsError>, after: DatabaseState) -> Self {
            Self { write_error, after, sent: Default::default() }
        }
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
        async fn modify_settings(&self, _: DatabaseKind, _: &str, change: &SettingsChange) -> Result<(), AwsError> {
            self.sent.lock().unwrap().push(change.clone());
            self.write_error.clone().map_or(Ok(()), Err)
        }
        async fn stop_instance(&self, _: &str) -> Result<(), AwsError> {
            self.write_error.clone().map_or(Ok(()), Err)
        }
        async fn stop_cluster(&self, _: &str) -> Result<(), AwsError> {
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
                "AccessDenied: no",
            ),
        ];
        for (name, kind, write_error, after, status, detail) in cases {
            let port = ScriptedRds::new(write_error, after);
            let outcome = execute(kind, &db("available"), &port, &policy(&[]), quick, Deadline::none()).await;
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
                "RDS applies BackupRetentionPeriod=7 as soon as possible",
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
            let port = ScriptedRds::new(None, after);
            let outcome = execute(kind, &db("available"), &port, &policy(&[]), quick, Deadline::none()).await;
            assert_eq!(outcome.status, status, "{name}: {}", outcome.detail);
            assert!(outcome.detail.contains(detail), "{name}: {}", outcome.detail);
        }

        // Backups off: the fix waits for the maintenance window instead of interrupting I/O now.
        let mut backups_off = db("available");
        backups_off.state.backup_retention_days = Some(0);
        let port = ScriptedRds::new(
            None,
            with(|s| {
                s.backup_retention_days = Some(0);
                s.pending_backup_retention_days = Some(7)
            }),
        );
        let outcome =
            execute(ActionKind::SetBackupRetention, &backups_off, &port, &policy(&[]), quick, Deadline::none()).await;
        assert_eq!(outcome.status, Succeeded, "{}", outcome.detail);
        assert!(outcome.detail.contains("in the next maintenance window"), "{}", outcome.detail);
    }

    /// Two fixes due on one database go out as one ModifyDBInstance carrying both settings, and
    /// each outcome names the modifications left pending for the window.
    #[tokio::test]
    async fn fixes_on_one_database_are_one_request() {
        let quick = Confirmation { attempts: 2, delay: Duration::from_millis(1) };
        let mut before = db("available");
        before.state.pending_modifications = vec!["DBInstanceClass=db.r6g.large".into()];
        let mut after = before.state.clone();
        after.deletion_protection = Some(true);
        after.auto_minor_version_upgrade = Some(true);
        let port = ScriptedRds::new(None, after);
        let kinds = [ActionKind::EnableDeletionProtection, ActionKind::EnableMinorVersionUpgrade];
        let outcomes = execute_settings(&kinds, &before, &port, &policy(&[]), quick, Deadline::none()).await;
        let sent = port.sent.lock().unwrap().clone();
        assert_eq!(
            sent,
            [SettingsChange {
                deletion_protection: Some(true),
                auto_minor_version_upgrade: Some(true),
                ..SettingsChange::default()
            }]
        );
        assert_eq!(outcomes.len(), 2);
        for outcome in &outcomes {
            assert_eq!(outcome.status, ActionStatus::Succeeded, "{}", outcome.detail);
            assert!(outcome.detail.contains("left pending for the maintenance window"), "{}", outcome.detail);
            assert!(outcome.detail.contains("DBInstanceClass=db.r6g.large"), "{}", outcome.detail);
        }
    }

    /// With the deadline too close nothing is sent: the fix is deferred, not started and lost.
    #[tokio::test]
    async fn no_request_is_started_past_the_deadline() {
        let port = ScriptedRds::new(None, db("available").state);
        let outcome = execute(
            ActionKind::EnableDeletionProtection,
            &db("available"),
            &port,
            &policy(&[]),
            Confirmation::default(),
            Deadline::after(Duration::from_secs(1)),
        )
        .await;
        assert_eq!(outcome.status, ActionStatus::Deferred, "{}", outcome.detail);
        assert!(port.sent.lock().unwrap().is_empty());
    }
}
