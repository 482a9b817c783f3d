//! The deployed suite's `migrate` action (`RULE_ACTIONS=RDS.3=migrate` / `RDS.27=migrate`): each
//! check of an unencrypted database carries its migration as far as AWS allows now, within the
//! invocation's deadline, and reports where it stands. Nothing is kept between invocations: the
//! next check (a re-check message, the sweep, or any event on the database) observes AWS again and
//! goes on, so a crash or a duplicate delivery repeats no finished step.

use std::time::Duration;

use super::engine::{advance, observe, Progress, Request};
use super::settings::Kind;
use super::steps::{Mode, Outcome, Phase};
use crate::action::{ActionKind, ActionOutcome, ActionStatus};
use crate::aws::MigrationPort;
use crate::kernel::Deadline;
use crate::policy::{MigrationCutover, MigrationSettings};

/// The tag on the source database that approves the cutover (`rdsguard:cutover=approved`).
pub const TAG_CUTOVER: &str = "rdsguard:cutover";
pub const CUTOVER_APPROVED: &str = "approved";

/// The time one step may take before the deadline stops the loop: a single RDS write or read.
const STEP_BUDGET: Duration = Duration::from_secs(10);

fn outcome(status: ActionStatus, detail: String) -> ActionOutcome {
    ActionOutcome::new(ActionKind::EncryptionMigration, status, detail)
}

/// Carries the migration of `identifier` on: start (snapshot → encrypted copy → restore → verify),
/// then cutover when approved or `MIGRATION_CUTOVER=auto`. Online mode: the source keeps serving
/// until cutover (see README "Encryption migration" for the writes that costs).
pub async fn continue_migration(
    rds: &dyn MigrationPort,
    kind: Kind,
    identifier: &str,
    settings: &MigrationSettings,
    deadline: Deadline,
) -> ActionOutcome {
    let request = Request { kms_key: settings.kms_key.clone(), mode: Mode::Online };
    let mut done: Vec<String> = Vec::new();
    let mut phase = Phase::Start;
    let mut last = None;
    loop {
        if !deadline.allows(STEP_BUDGET) {
            return outcome(
                ActionStatus::Deferred,
                with_done(&done, "the invocation's deadline is near: the next check goes on from here"),
            );
        }
        let progress = match advance(rds, kind, identifier, phase, &request, last.as_ref()).await {
            Ok(progress) => progress,
            Err(error) => return outcome(ActionStatus::Failed, with_done(&done, &format!("{error}"))),
        };
        match progress {
            Progress::Did(step) => {
                done.push(format!("{step:?}"));
                last = Some(step);
            }
            Progress::Waiting(what) => {
                return outcome(
                    ActionStatus::Deferred,
                    with_done(&done, &format!("waiting: {what}; the next check goes on from here")),
                )
            }
            Progress::Refused(why) => {
                return outcome(ActionStatus::Failed, with_done(&done, &format!("refused: {why}")))
            }
            Progress::Done(Outcome::Ready) if settings.cutover == MigrationCutover::Auto => phase = Phase::Cutover,
            Progress::Done(Outcome::Ready) => {
                // One read for both: the approval tag on the source, and the diff the alert carries.
                let obs = match observe(rds, kind, identifier).await {
                    Ok(obs) => obs,
                    Err(error) => {
                        return outcome(
                            ActionStatus::Deferred,
                            with_done(
                                &done,
                                &format!(
                                "ready, but the approval cannot be read ({error}); the next check goes on from here"
                            ),
                            ),
                        )
                    }
                };
                if obs.source.as_ref().and_then(|s| s.tag(TAG_CUTOVER)) != Some(CUTOVER_APPROVED) {
                    return outcome(
                        ActionStatus::NotAttempted,
                        with_done(
                            &done,
                            &format!(
                                "ready for cutover, waiting for approval: `rdsguard encrypt cutover --{} {identifier}` \
                                 or tag {identifier} {TAG_CUTOVER}={CUTOVER_APPROVED}. Writes made after the snapshot \
                                 are not in the encrypted copy. {}",
                                if kind == Kind::Cluster { "cluster" } else { "db" },
                                super::engine::status(&obs).replace('\n', " ")
                            ),
                        ),
                    );
                }
                phase = Phase::Cutover;
            }
            Progress::Done(Outcome::CutOver) => {
                return outcome(
                    ActionStatus::Succeeded,
                    with_done(
                        &done,
                        &format!(
                            "cut over: {identifier} is the encrypted database now (same endpoint name); the old one is \
                             kept, renamed and stopped, with both snapshots"
                        ),
                    ),
                )
            }
            Progress::Done(Outcome::RolledBack) => {
                return outcome(
                    ActionStatus::Skipped,
                    "the migration was rolled back: start it again with `rdsguard encrypt start`".to_owned(),
                )
            }
        }
    }
}

/// How an outcome's detail starts when the invocation did at least one step.
const PROGRESS: &str = "encryption migration: did ";

fn with_done(done: &[String], then: &str) -> String {
    if done.is_empty() {
        format!("encryption migration: {then}")
    } else {
        format!("{PROGRESS}{}; {then}", done.join(", "))
    }
}

/// Whether a `deferred` outcome is a migration that moved on in this check (a step done): it is
/// alerted, and its re-checks start over, where a fix that is merely still waiting is not.
pub fn migration_progressed(outcome: &ActionOutcome) -> bool {
    outcome.kind == ActionKind::EncryptionMigration
        && outcome.status == ActionStatus::Deferred
        && outcome.detail.starts_with(PROGRESS)
}
