//! Runs the migration's steps against RDS: observe, decide ([`super::next`]), do one step, repeat.

use std::time::Duration;

use super::names::{self, TAG_KEY, TAG_MIGRATION, TAG_MODE, TAG_OF, TAG_REPLICAS, TAG_ROLE, TAG_STEP};
use super::settings::{Db, Kind};
use super::steps::{next, Mode, Next, Observation, Outcome, Phase, Step};
use crate::aws::{AwsError, MigrationInventory, MigrationPort};

pub type Observed = Observation;

/// What one call of [`advance`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Did(Step),
    Waiting(String),
    Done(Outcome),
    Refused(String),
}

/// Reads what AWS shows of the migration of `original` (read calls only).
pub async fn observe(rds: &dyn MigrationInventory, kind: Kind, original: &str) -> Result<Observation, AwsError> {
    let all = rds.databases(kind).await?;
    let of_original = |d: &&Db| d.tag(TAG_OF) == Some(original);
    let source = all
        .iter()
        .filter(of_original)
        .filter(|d| d.tag(TAG_ROLE) == Some("source"))
        .max_by_key(|d| d.tag(TAG_MIGRATION).unwrap_or_default().to_owned())
        .or_else(|| all.iter().find(|d| d.identifier == original && d.tag(TAG_ROLE).is_none()))
        .cloned();
    let migration = source.as_ref().and_then(|s| s.tag(TAG_MIGRATION)).map(str::to_owned);
    let (mut target, mut snapshot, mut encrypted_copy) = (None, None, None);
    if let Some(migration) = &migration {
        target = all
            .iter()
            .filter(of_original)
            .find(|d| d.tag(TAG_ROLE) == Some("target") && d.tag(TAG_MIGRATION) == Some(migration))
            .cloned();
        snapshot = rds.snapshot(kind, &names::snapshot(original, migration)).await?;
        if kind == Kind::Instance {
            encrypted_copy = rds.snapshot(kind, &names::encrypted_copy(original, migration)).await?;
        }
    }
    Ok(Observation { kind: Some(kind), original: original.to_owned(), source, target, snapshot, encrypted_copy, all })
}

/// A new migration id: the UTC minute it starts, `yyyymmddHHMM`.
pub fn new_migration_id() -> String {
    let now = aws_sdk_rds::primitives::DateTime::from(std::time::SystemTime::now());
    let text = now.fmt(aws_sdk_rds::primitives::DateTimeFormat::DateTime).unwrap_or_default();
    text.chars().filter(char::is_ascii_digit).take(12).collect()
}

fn pairs(tags: &[(&str, &str)]) -> Vec<(String, String)> {
    tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Settings of `Begin`: the key and mode a new migration uses.
#[derive(Debug, Clone)]
pub struct Request {
    pub kms_key: String,
    pub mode: Mode,
}

/// Observes, decides and does at most one step. `just_done` is the step the caller did last: when
/// AWS does not show its effect yet (a rename takes a moment to appear), it is not sent again but
/// waited for.
pub async fn advance(
    rds: &dyn MigrationPort,
    kind: Kind,
    original: &str,
    phase: Phase,
    request: &Request,
    just_done: Option<&Step>,
) -> Result<Progress, AwsError> {
    let obs = observe(rds, kind, original).await?;
    let step = match next(phase, &obs, &new_migration_id()) {
        Next::Do(step) if Some(&step) == just_done => {
            return Ok(Progress::Waiting(format!("AWS does not show the effect of {step:?} yet")))
        }
        Next::Do(step) => step,
        Next::Wait(what) => return Ok(Progress::Waiting(what)),
        Next::Done(outcome) => return Ok(Progress::Done(outcome)),
        Next::Refuse(why) => return Ok(Progress::Refused(why)),
    };
    perform(rds, &obs, &step, request).await?;
    Ok(Progress::Did(step))
}

async fn perform(rds: &dyn MigrationPort, obs: &Observation, step: &Step, request: &Request) -> Result<(), AwsError> {
    let kind = obs.kind();
    let original = obs.original.as_str();
    // `next` only returns a step when the source exists.
    let Some(source) = &obs.source else { return Ok(()) };
    let migration = obs.migration().unwrap_or_default().to_owned();
    let key = source.tag(TAG_KEY).unwrap_or(&request.kms_key).to_owned();
    let bookkeeping = |role: &str| pairs(&[(TAG_MIGRATION, &migration), (TAG_OF, original), (TAG_ROLE, role)]);
    let milestone = |value: &str| pairs(&[(TAG_STEP, value)]);
    match step {
        Step::Begin { migration } => {
            let replicas = source.read_replicas.join(" ");
            let mut tags = pairs(&[
                (TAG_MIGRATION, migration),
                (TAG_OF, original),
                (TAG_ROLE, "source"),
                (TAG_MODE, request.mode.as_tag()),
                (TAG_KEY, &request.kms_key),
                (TAG_STEP, "started"),
            ]);
            if !replicas.is_empty() {
                tags.push((TAG_REPLICAS.to_owned(), replicas));
            }
            rds.tag(&source.arn, &tags).await
        }
        Step::Fence => rds.rename(kind, &source.identifier, &names::parked(original, &migration)).await,
        Step::CutSessions => {
            match kind {
                Kind::Instance => rds.reboot_instance(&source.identifier).await?,
                Kind::Cluster => {
                    for member in &source.members {
                        rds.reboot_instance(&member.identifier).await?;
                    }
                }
            }
            rds.tag(&source.arn, &milestone("fenced")).await
        }
        Step::Snapshot => {
            rds.create_snapshot(
                kind,
                &source.identifier,
                &names::snapshot(original, &migration),
                &bookkeeping("snapshot"),
            )
            .await
        }
        Step::Copy => {
            rds.copy_snapshot_encrypted(
                &names::snapshot(original, &migration),
                &names::encrypted_copy(original, &migration),
                &key,
                &bookkeeping("snapshot"),
            )
            .await
        }
        Step::Restore => {
            let from = match kind {
                Kind::Instance => names::encrypted_copy(original, &migration),
                Kind::Cluster => names::snapshot(original, &migration),
            };
            let mut tags = source.settings.tags.clone();
            tags.extend(bookkeeping("target"));
            rds.restore(kind, &from, source, &names::target(original, &migration), &key, &tags).await
        }
        Step::CreateMember { member, new_id } => {
            let Some(target) = &obs.target else { return Ok(()) };
            let engine = source.settings.engine.clone().unwrap_or_default();
            rds.create_member(&target.identifier, &engine, member, new_id, &bookkeeping("member")).await
        }
        Step::ApplySettings => {
            let Some(target) = &obs.target else { return Ok(()) };
            let differs = super::settings::differences(kind, source, target);
            if !differs.is_empty() {
                rds.apply_settings(kind, &target.identifier, &source.settings, &target.settings).await?;
                let missing: Vec<(String, String)> =
                    source.settings.tags.iter().filter(|t| !target.settings.tags.contains(t)).cloned().collect();
                if !missing.is_empty() {
                    rds.tag(&target.arn, &missing).await?;
                }
            }
            rds.tag(&target.arn, &milestone("settings-applied")).await
        }
        Step::MarkReady => rds.tag(&source.arn, &milestone("ready")).await,
        Step::RenameSourceAway => rds.rename(kind, &source.identifier, &names::parked(original, &migration)).await,
        Step::RenameTargetIn => {
            let Some(target) = &obs.target else { return Ok(()) };
            rds.rename(kind, &target.identifier, original).await
        }
        Step::StopSource => rds.stop(kind, &source.identifier).await,
        Step::Rename { from, to } => rds.rename(Kind::Instance, from, to).await,
        Step::CreateReplica { like } => {
            let parked = names::parked(like, &migration);
            let Some(old) = obs.named(&parked) else { return Ok(()) };
            rds.create_read_replica(original, old, like).await
        }
        Step::MarkCutOver => rds.tag(&source.arn, &milestone("cut-over")).await,
        Step::RenameTargetAway => {
            let Some(target) = &obs.target else { return Ok(()) };
            rds.rename(kind, &target.identifier, &names::target(original, &migration)).await
        }
        Step::StartSource => rds.start(kind, &source.identifier).await,
        Step::RenameSourceBack => rds.rename(kind, &source.identifier, original).await,
        Step::MarkRolledBack => rds.tag(&source.arn, &milestone("rolled-back")).await,
    }
}

/// Drives `phase` as far as it goes: every step that can be done now; with `poll`, also waits
/// for AWS (sleeping `poll` between looks, reporting each wait through `progress`) until done.
pub async fn run(
    rds: &dyn MigrationPort,
    kind: Kind,
    original: &str,
    phase: Phase,
    request: &Request,
    poll: Option<Duration>,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Progress, AwsError> {
    let mut last: Option<Step> = None;
    loop {
        let step = advance(rds, kind, original, phase, request, last.as_ref()).await?;
        progress(&step);
        match (&step, poll) {
            (Progress::Did(done), _) => last = Some(done.clone()),
            (Progress::Waiting(_), Some(pause)) => {
                last = None;
                tokio::time::sleep(pause).await
            }
            _ => return Ok(step),
        }
    }
}

/// `rdsguard encrypt status`: where the migration stands, from an observation.
pub fn status(obs: &Observation) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let Some(source) = &obs.source else { return format!("no database {} and no migration of it\n", obs.original) };
    let Some(migration) = obs.migration() else {
        return format!("{}: no migration (encrypted: {})\n", obs.original, source.encrypted);
    };
    let _ = writeln!(
        out,
        "migration {migration} of {} ({} mode), step {}",
        obs.original,
        obs.mode().as_tag(),
        obs.milestone().unwrap_or("-")
    );
    let _ = writeln!(out, "  old database: {} ({}, encrypted: {})", source.identifier, source.status, source.encrypted);
    for (label, snap) in [("snapshot", &obs.snapshot), ("encrypted copy", &obs.encrypted_copy)] {
        if let Some(s) = snap {
            let _ = writeln!(
                out,
                "  {label}: {} ({}, encrypted: {}, taken {})",
                s.identifier,
                s.status,
                s.encrypted,
                s.created.as_deref().unwrap_or("-")
            );
        }
    }
    match &obs.target {
        Some(t) => {
            let _ = writeln!(
                out,
                "  new database: {} ({}, encrypted: {}, key {})",
                t.identifier,
                t.status,
                t.encrypted,
                t.kms_key_id.as_deref().unwrap_or("-")
            );
            let differs = super::settings::differences(obs.kind(), source, t);
            if differs.is_empty() {
                let _ = writeln!(out, "  settings diff: none");
            } else {
                for d in differs {
                    let _ = writeln!(out, "  settings diff: {}: old {} / new {}", d.setting, d.source, d.target);
                }
            }
        }
        None => {
            let _ = writeln!(out, "  new database: not yet");
        }
    }
    let phase = match obs.milestone() {
        Some("ready") => Phase::Cutover,
        Some("cut-over") | Some("rolled-back") => return out,
        _ => Phase::Start,
    };
    let _ = writeln!(out, "  next: {:?}", next(phase, obs, "-"));
    out
}
