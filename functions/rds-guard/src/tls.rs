//! RDS.38 / RDS.39 / RDS.44 / RDSGUARD.CLUSTER_TLS: TLS enforced by the parameter group a database
//! uses. Judged when a database is created, restored or moved to another group, and when a group's
//! TLS parameter is changed or reset; fixed by setting the parameter back (it is dynamic: no
//! reboot), then confirmed by reading it again. A group is shared: both paths list the databases on
//! it and fix it only through [`shared_group_gate`] (no database on it exempt). AWS's default
//! groups cannot be modified, so a database on one is only alerted.

use rdsguard::aws::{AwsError, ParameterLookup, RdsGuardPort};
use rdsguard::database::{Database, DatabaseKind};
use rdsguard::finding::Finding;
use rdsguard::kernel::Deadline;
use rdsguard::policy::RuleAction;
use rdsguard::remediate::{policy_gate, shared_group_gate, ActionKind, ActionOutcome, ActionStatus};
use rdsguard::rules::{
    enforcing_value, is_on, tls_enforced, tls_parameter_for, DatabaseChange, TlsParameter, TlsReading, Verdict,
};
use serde_json::Value;
use tracing::info;

use crate::handler::{Checked, RdsGuard, RdsGuardError};
use crate::target::Target;

/// What one parameter-group call takes at most, for deadline checks.
const STEP_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(3);

fn group_noun(kind: DatabaseKind) -> &'static str {
    match kind {
        DatabaseKind::Instance => "DB parameter group",
        DatabaseKind::Cluster => "DB cluster parameter group",
    }
}

fn operation(kind: DatabaseKind) -> &'static str {
    match kind {
        DatabaseKind::Instance => "ModifyDBParameterGroup",
        DatabaseKind::Cluster => "ModifyDBClusterParameterGroup",
    }
}

/// The value that enforces TLS, spelled as this group's `AllowedValues` want it.
fn value_to_set(parameter: &TlsParameter, lookup: &ParameterLookup) -> &'static str {
    match lookup {
        ParameterLookup::Found { allowed_values, .. } => enforcing_value(parameter, allowed_values.as_deref()),
        ParameterLookup::GroupNotFound | ParameterLookup::NotListed => parameter.enforced_value,
    }
}

fn reading(group: &str, lookup: ParameterLookup) -> Option<TlsReading> {
    match lookup {
        ParameterLookup::Found { value, source, .. } => Some(TlsReading { group: group.to_owned(), value, source }),
        ParameterLookup::GroupNotFound | ParameterLookup::NotListed => None,
    }
}

/// The TLS rule over a database's own parameter group, if it applies to this change. `Err`: a read
/// failed (the caller alerts what it already reached, then fails the invocation).
pub(crate) async fn check_database_tls(
    target: &Target,
    db: &Database,
    change: DatabaseChange,
    rds: &dyn RdsGuardPort,
    guard: &RdsGuard,
    deadline: Deadline,
    checked: &mut Checked,
) -> Result<Option<(Finding, ActionOutcome)>, AwsError> {
    if !db.state.is_rds_engine() || db.is_cluster_member() {
        return Ok(None);
    }
    let Some(parameter) = tls_parameter_for(db) else { return Ok(None) };
    let rule = parameter.rule;
    if guard.policy.effective_action(rule) == RuleAction::Off || !rule.judged_on(change) {
        return Ok(None);
    }
    let Some(group) = db.state.parameter_group.as_deref() else {
        checked.undetermined(rule, &db.state.identifier, "DescribeDB* did not name the parameter group");
        return Ok(None);
    };
    let lookup = rds.parameter(db.kind, group, parameter.name).await?;
    if lookup == ParameterLookup::GroupNotFound {
        checked.undetermined(rule, &db.state.identifier, "the parameter group could not be found");
        return Ok(None);
    }
    let value = value_to_set(&parameter, &lookup);
    match tls_enforced(db, reading(group, lookup).as_ref()) {
        Verdict::Violation(mut observed) => {
            // Only worth listing the group's databases when this one would let the fix happen.
            let action = match policy_gate(rule, &db.state.tags, &guard.policy) {
                Err(outcome) => outcome,
                Ok(_) => match rds.databases_using_parameter_group(db.kind, group).await {
                    Err(error) => {
                        // Incomplete information: nothing is changed on a group whose users are unknown.
                        ActionOutcome::new(
                            ActionKind::EnforceTls,
                            ActionStatus::NotAttempted,
                            format!("the databases on {group} could not be listed, so it is left as it is: {error}"),
                        )
                    }
                    Ok(users) => {
                        list_databases(&mut observed, &users);
                        match shared_group_gate(rule, group, &users, &guard.policy) {
                            Err(outcome) => outcome,
                            Ok(_) => enforce(db.kind, group, &parameter, value, rds, guard, deadline).await,
                        }
                    }
                },
            };
            let finding = Finding::new(rule, db, &target.account, &target.region, observed);
            Ok(Some((finding, action)))
        }
        Verdict::Unknown(why) => {
            checked.undetermined(rule, &db.state.identifier, why);
            Ok(None)
        }
        Verdict::Compliant | Verdict::NotApplicable(_) => Ok(None),
    }
}

/// A parameter group whose TLS parameter was changed: judged for the databases that use it.
/// `Ok(Err(reason))`: nothing to judge.
pub(crate) async fn check_parameter_group(
    target: &Target,
    kind: DatabaseKind,
    group: &str,
    rds: &dyn RdsGuardPort,
    guard: &RdsGuard,
    deadline: Deadline,
) -> Result<Result<Checked, String>, RdsGuardError> {
    let users: Vec<Database> = rds
        .databases_using_parameter_group(kind, group)
        .await
        .map_err(RdsGuardError::Describe)?
        .into_iter()
        .filter(|db| db.state.is_rds_engine() && !db.is_cluster_member())
        .collect();
    let Some((first, parameter)) = users.iter().find_map(|db| tls_parameter_for(db).map(|p| (db, p))) else {
        return Ok(Err(format!(
            "no PostgreSQL, MySQL or MariaDB database uses {} {group}; it is judged when one is attached",
            group_noun(kind)
        )));
    };
    let rule = parameter.rule;
    if guard.policy.effective_action(rule) == RuleAction::Off {
        return Ok(Err(format!("{rule} is off")));
    }
    let arn = format!(
        "arn:{}:rds:{}:{}:{}:{group}",
        target.region.partition(),
        target.region,
        target.account,
        match kind {
            DatabaseKind::Instance => "pg",
            DatabaseKind::Cluster => "cluster-pg",
        }
    );
    let mut checked = Checked::new(arn.clone());
    let lookup = rds.parameter(kind, group, parameter.name).await.map_err(RdsGuardError::Describe)?;
    if lookup == ParameterLookup::GroupNotFound {
        return Ok(Err(format!("{} {group} no longer exists", group_noun(kind))));
    }
    let names: Vec<&str> = users.iter().map(|db| db.state.identifier.as_str()).collect();
    info!(group, databases = ?names, "checking parameter group");
    let value = value_to_set(&parameter, &lookup);
    match tls_enforced(first, reading(group, lookup).as_ref()) {
        Verdict::Violation(mut observed) => {
            list_databases(&mut observed, &users);
            let resource_type = match kind {
                DatabaseKind::Instance => "AWS::RDS::DBParameterGroup",
                DatabaseKind::Cluster => "AWS::RDS::DBClusterParameterGroup",
            };
            let finding =
                Finding::for_resource(rule, &target.account, &target.region, resource_type, group, arn, observed);
            // A group is shared: a database exempt from the rule keeps the whole group as it is.
            let action = match shared_group_gate(rule, group, &users, &guard.policy) {
                Err(outcome) => outcome,
                Ok(_) => enforce(kind, group, &parameter, value, rds, guard, deadline).await,
            };
            checked.findings.push((finding, action));
        }
        Verdict::Unknown(why) => checked.undetermined(rule, group, why),
        Verdict::Compliant | Verdict::NotApplicable(_) => {}
    }
    Ok(Ok(checked))
}

/// The databases on a group, named in the finding's evidence.
fn list_databases(observed: &mut Value, users: &[Database]) {
    if let Value::Object(map) = observed {
        let names: Vec<&str> = users.iter().map(|db| db.state.identifier.as_str()).collect();
        map.insert("Databases".to_owned(), names.into());
    }
}

/// Sets the TLS parameter back to enforced, then reads it until it says so or the deadline comes
/// (then `deferred`).
async fn enforce(
    kind: DatabaseKind,
    group: &str,
    parameter: &TlsParameter,
    value: &str,
    rds: &dyn RdsGuardPort,
    guard: &RdsGuard,
    deadline: Deadline,
) -> ActionOutcome {
    let action = ActionKind::EnforceTls;
    if group.starts_with("default.") {
        return ActionOutcome::new(
            action,
            ActionStatus::Skipped,
            format!(
                "{group} is an AWS default {} and cannot be modified: create a custom group with {}={} and attach it",
                group_noun(kind),
                parameter.name,
                value
            ),
        );
    }
    let operation = operation(kind);
    if !deadline.allows(STEP_ALLOWANCE) {
        return ActionOutcome::new(
            action,
            ActionStatus::Deferred,
            format!("{operation} not sent: the invocation's deadline is too close; rechecked on the next event"),
        );
    }
    if let Err(error) = rds.set_parameter(kind, group, parameter.name, value).await {
        return ActionOutcome::new(action, ActionStatus::Failed, error.to_string());
    }
    let confirm = guard.confirmation;
    let mut last = String::from("unread");
    for attempt in 0..confirm.attempts.max(1) {
        if attempt > 0 {
            if !deadline.allows(confirm.delay + STEP_ALLOWANCE) {
                return ActionOutcome::new(
                    action,
                    ActionStatus::Deferred,
                    format!(
                        "{operation} accepted; not confirmed before the invocation's deadline; rechecked on the next event"
                    ),
                );
            }
            tokio::time::sleep(confirm.delay).await;
        }
        match rds.parameter(kind, group, parameter.name).await {
            Ok(ParameterLookup::Found { value: Some(now), .. }) if is_on(&now) => {
                return ActionOutcome::new(
                    action,
                    ActionStatus::Succeeded,
                    format!("{operation} applied; {} is now {now} in {group} (confirmed by describe)", parameter.name),
                )
            }
            Ok(other) => last = format!("{other:?}"),
            Err(error) => {
                return ActionOutcome::new(
                    action,
                    ActionStatus::Failed,
                    format!("{operation} accepted; confirming failed: {error}"),
                )
            }
        }
    }
    ActionOutcome::new(
        action,
        ActionStatus::Failed,
        format!("{operation} accepted, but {} in {group} still reads {last}", parameter.name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_named_as_aws_does() {
        assert_eq!(operation(DatabaseKind::Cluster), "ModifyDBClusterParameterGroup");
        assert_eq!(group_noun(DatabaseKind::Instance), "DB parameter group");
        let found = ParameterLookup::Found {
            value: Some("0".into()),
            source: Some("user".into()),
            allowed_values: Some("OFF, ON".into()),
        };
        let mysql = tls_parameter_for(&Database::instance(rdsguard::database::DatabaseState {
            engine: Some("mysql".into()),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(value_to_set(&mysql, &found), "ON");
        assert_eq!(reading("g", found).map(|r| r.value), Some(Some("0".into())));
        assert_eq!(reading("g", ParameterLookup::NotListed), None);
    }
}
