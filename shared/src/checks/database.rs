//! The database check: describe, judge every rule over the database's own state (and its parameter
//! group's TLS setting), plan and carry out the fixes — stops first, then every settings fix in one
//! ModifyDB* — and return each finding with its outcome.

use tracing::info;

use super::parameter_group::check_database_tls;
use super::{CheckError, CheckOutcome, CheckScope, Checked};
use crate::aws::RdsGuardPort;
use crate::database::{Database, DatabaseKind};
use crate::finding::Finding;
use crate::migration::settings::Kind as MigrationKind;
use crate::migration::{continue_migration, names};
use crate::policy::RuleAction;
use crate::remediate::{execute, execute_settings, plan, ActionKind, ActionOutcome, ActionStatus, Plan};
use crate::rules::{evaluate_database, DatabaseChange, RuleId, Verdict};

/// Checks one database. `identifiers` are described in order and the first that exists is the
/// database (an event may name a database by old and new identifier); `change` is what triggered
/// the check (`None`: no event, every rule is judged).
pub async fn check_database(
    scope: CheckScope<'_>,
    rds: &dyn RdsGuardPort,
    kind: DatabaseKind,
    identifiers: &[String],
    change: Option<DatabaseChange>,
) -> Result<CheckOutcome, CheckError> {
    let Some(db) = describe_database(rds, kind, identifiers).await? else {
        let (region, account) = (scope.region, scope.account);
        let arn = |id: &String| {
            crate::arn::Arn::rds(region.partition(), region.as_str(), account.as_str(), kind.resource_kind(), id)
                .to_string()
        };
        return Ok(CheckOutcome::Gone {
            resources: identifiers.iter().map(arn).collect(),
            reason: format!(
                "{} {} does not exist in {account}/{region} (deleted, or never created)",
                kind_name(kind),
                identifiers.join(" / "),
            ),
        });
    };
    Ok(CheckOutcome::Judged(judge_database(scope, rds, db, change).await))
}

/// Judges a database already described (or listed, as a sweep does), fixes what the policy says,
/// and returns the findings. A read that fails after fixes were made is kept in
/// [`Checked::failure`] next to them.
pub async fn judge_database(
    scope: CheckScope<'_>,
    rds: &dyn RdsGuardPort,
    db: Database,
    change: Option<DatabaseChange>,
) -> Checked {
    info!(
        account = %scope.account, region = %scope.region, db = %db.state.identifier, status = ?db.state.status,
        ?change, "checking database"
    );
    let policy = scope.policy;
    let mut checked = Checked::new(db.state.arn.clone().unwrap_or_else(|| db.state.identifier.clone()));
    let mut findings = Vec::new();
    for (rule, verdict) in evaluate_database(&db, scope.region, policy) {
        if policy.effective_action(rule) == RuleAction::Off || !change.is_none_or(|c| rule.judged_on(c)) {
            continue;
        }
        match verdict {
            Verdict::Violation(observed) => {
                findings.push(Finding::new(rule, &db, scope.account, scope.region, observed))
            }
            Verdict::Unknown(why) => checked.undetermined(rule, &db.state.identifier, why),
            Verdict::Compliant => {
                checked.compliant.push(Finding::new(rule, &db, scope.account, scope.region, serde_json::Value::Null))
            }
            Verdict::NotApplicable(_) => {}
        }
    }
    let outcomes = act_on_findings(scope, &findings, &db, rds).await;
    checked.findings.extend(findings.into_iter().zip(outcomes));

    // After the fixes: a failure here must not cost the outcomes above their alerts.
    match check_database_tls(scope, rds, &db, change, &mut checked).await {
        Ok(Some(tls)) => checked.findings.push(tls),
        Ok(None) => {}
        Err(error) => checked.failed(CheckError::Describe(error)),
    }
    checked
}

/// Plans and carries out the action for each finding (in the findings' order). Stops run first: RDS
/// refuses a stop while a modification is under way, and a stopped database is fixed when started.
/// Every settings fix due then goes out in one ModifyDBInstance / ModifyDBCluster.
async fn act_on_findings(
    scope: CheckScope<'_>,
    findings: &[Finding],
    db: &Database,
    rds: &dyn RdsGuardPort,
) -> Vec<ActionOutcome> {
    let policy = scope.policy;
    let plans: Vec<Plan> = findings.iter().map(|f| plan(f.rule, db, policy)).collect();
    let mut outcomes: Vec<Option<ActionOutcome>> = vec![None; plans.len()];
    let mut stopped_for: Option<RuleId> = None;
    for (i, planned) in plans.iter().enumerate() {
        if *planned != Plan::Act(ActionKind::StopDatabase) {
            continue;
        }
        // Two rules may both say "stop" (e.g. unencrypted and in a forbidden region): stop once.
        outcomes[i] = Some(match stopped_for {
            Some(rule) => ActionOutcome::new(
                ActionKind::StopDatabase,
                ActionStatus::Skipped,
                format!("already stopped for {rule}"),
            ),
            None => {
                let outcome =
                    execute(ActionKind::StopDatabase, db, rds, policy, scope.confirmation, scope.deadline).await;
                if outcome.status == ActionStatus::Succeeded {
                    stopped_for = findings.get(i).map(|f| f.rule);
                }
                outcome
            }
        });
    }
    let mut settings: Vec<(usize, ActionKind)> = Vec::new();
    for (i, planned) in plans.into_iter().enumerate() {
        if outcomes[i].is_some() {
            continue;
        }
        outcomes[i] = match (planned, stopped_for) {
            (Plan::Act(kind), Some(rule)) => Some(ActionOutcome::new(
                kind,
                ActionStatus::Deferred,
                format!(
                    "stopped by rdsguard for {rule}; rechecked when it is started again (RDS event 'DB instance started')"
                ),
            )),
            (Plan::Act(ActionKind::EncryptionMigration), None) => Some(migrate(scope, db, rds).await),
            (Plan::Act(kind), None) => {
                settings.push((i, kind));
                None
            }
            (Plan::Report(outcome), _) => Some(outcome),
        };
    }
    if !settings.is_empty() {
        let kinds: Vec<ActionKind> = settings.iter().map(|(_, kind)| *kind).collect();
        let done = execute_settings(&kinds, db, rds, policy, scope.confirmation, scope.deadline).await;
        for ((i, _), outcome) in settings.into_iter().zip(done) {
            outcomes[i] = Some(outcome);
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| ActionOutcome::new(ActionKind::None, ActionStatus::NotAttempted, "no plan")))
        .collect()
}

/// RDS.3 / RDS.27 `migrate`: the encryption migration carried as far as it goes now.
async fn migrate(scope: CheckScope<'_>, db: &Database, rds: &dyn RdsGuardPort) -> ActionOutcome {
    let Some(settings) = &scope.policy.migration else {
        return ActionOutcome::new(
            ActionKind::EncryptionMigration,
            ActionStatus::Failed,
            "migrate needs MIGRATION_KMS_KEY (the KMS key to encrypt with)",
        );
    };
    let kind = match db.kind {
        DatabaseKind::Instance => MigrationKind::Instance,
        DatabaseKind::Cluster => MigrationKind::Cluster,
    };
    // A source renamed away mid-migration (consistent mode, or between cutover's two renames) is
    // still the migration of the name it had: observed under that name, never a new migration.
    let tag = |key: &str| db.state.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let original = match (tag(names::TAG_ROLE), tag(names::TAG_OF)) {
        (Some("source"), Some(of)) => of,
        _ => db.state.identifier.as_str(),
    };
    continue_migration(rds, kind, original, settings, scope.deadline).await
}

/// Describes the identifiers in order; the first that exists is the database.
pub async fn describe_database(
    rds: &dyn RdsGuardPort,
    kind: DatabaseKind,
    identifiers: &[String],
) -> Result<Option<Database>, CheckError> {
    for identifier in identifiers {
        let state = match kind {
            DatabaseKind::Instance => rds.describe_instance(identifier).await,
            DatabaseKind::Cluster => rds.describe_cluster(identifier).await,
        }
        .map_err(CheckError::Describe)?;
        if let Some(state) = state {
            return Ok(Some(match kind {
                DatabaseKind::Instance => Database::instance(state),
                DatabaseKind::Cluster => Database::cluster(state),
            }));
        }
    }
    Ok(None)
}

fn kind_name(kind: DatabaseKind) -> &'static str {
    match kind {
        DatabaseKind::Instance => "DB instance",
        DatabaseKind::Cluster => "DB cluster",
    }
}
