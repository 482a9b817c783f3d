//! The parameter-group check — RDS.38 / RDS.39 / RDS.44 / RDSGUARD.CLUSTER_TLS: TLS enforced by the parameter group a database
//! uses. Judged when a database is created, restored or moved to another group, and when a group's
//! TLS parameter is changed or reset; fixed by setting the parameter back (it is dynamic: no
//! reboot), then confirmed by reading it again. A group is shared: both paths list the databases on
//! it and fix it only through [`shared_group_gate`] (no database on it exempt). AWS's default
//! groups cannot be modified, so a database on one is only alerted.

use serde_json::Value;
use tracing::info;

use super::{CheckError, CheckOutcome, CheckScope, Checked};
use crate::action::{ActionKind, ActionOutcome, ActionStatus};
use crate::aws::{AwsError, ParameterLookup, RdsGuardPort};
use crate::database::{Database, DatabaseKind};
use crate::finding::Finding;
use crate::policy::RuleAction;
use crate::remediate::{confirm, policy_gate, shared_group_gate, Read};
use crate::rules::{
    enforcing_value, is_on, tls_enforced, tls_parameter_for, DatabaseChange, TlsParameter, TlsReading, Verdict,
};

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
pub async fn check_database_tls(
    scope: CheckScope<'_>,
    rds: &dyn RdsGuardPort,
    db: &Database,
    change: Option<DatabaseChange>,
    checked: &mut Checked,
) -> Result<Option<(Finding, ActionOutcome)>, AwsError> {
    if !db.state.is_rds_engine() || db.is_cluster_member() {
        return Ok(None);
    }
    let Some(parameter) = tls_parameter_for(db) else { return Ok(None) };
    let rule = parameter.rule;
    if scope.policy.effective_action(rule) == RuleAction::Off || !change.is_none_or(|c| rule.judged_on(c)) {
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
            let action = match policy_gate(rule, &db.state.tags, scope.policy) {
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
                        match shared_group_gate(rule, group, &users, scope.policy) {
                            Err(outcome) => outcome,
                            Ok(_) => enforce(scope, db.kind, group, &parameter, value, rds).await,
                        }
                    }
                },
            };
            let finding = Finding::new(rule, db, scope.account, scope.region, observed);
            Ok(Some((finding, action)))
        }
        Verdict::Unknown(why) => {
            checked.undetermined(rule, &db.state.identifier, why);
            Ok(None)
        }
        Verdict::Compliant => {
            checked.compliant.push(Finding::new(rule, db, scope.account, scope.region, Value::Null));
            Ok(None)
        }
        Verdict::NotApplicable(_) => Ok(None),
    }
}

/// A parameter group whose TLS parameter was changed (or, with no event, any group in use):
/// judged for the databases that use it.
pub async fn check_parameter_group(
    scope: CheckScope<'_>,
    rds: &dyn RdsGuardPort,
    kind: DatabaseKind,
    group: &str,
) -> Result<CheckOutcome, CheckError> {
    let users: Vec<Database> = rds
        .databases_using_parameter_group(kind, group)
        .await
        .map_err(CheckError::Describe)?
        .into_iter()
        .filter(|db| db.state.is_rds_engine() && !db.is_cluster_member())
        .collect();
    let Some((first, parameter)) = users.iter().find_map(|db| tls_parameter_for(db).map(|p| (db, p))) else {
        return Ok(CheckOutcome::NothingToCheck(format!(
            "no PostgreSQL, MySQL or MariaDB database uses {} {group}; it is judged when one is attached",
            group_noun(kind)
        )));
    };
    let rule = parameter.rule;
    if scope.policy.effective_action(rule) == RuleAction::Off {
        return Ok(CheckOutcome::NothingToCheck(format!("{rule} is off")));
    }
    let arn = crate::arn::Arn::rds(
        scope.region.partition(),
        scope.region.as_str(),
        scope.account.as_str(),
        kind.parameter_group_kind(),
        group,
    )
    .to_string();
    let mut checked = Checked::new(arn.clone());
    let lookup = rds.parameter(kind, group, parameter.name).await.map_err(CheckError::Describe)?;
    if lookup == ParameterLookup::GroupNotFound {
        return Ok(CheckOutcome::NothingToCheck(format!("{} {group} no longer exists", group_noun(kind))));
    }
    let names: Vec<&str> = users.iter().map(|db| db.state.identifier.as_str()).collect();
    info!(group, databases = ?names, "checking parameter group");
    let value = value_to_set(&parameter, &lookup);
    let resource_type = match kind {
        DatabaseKind::Instance => "AWS::RDS::DBParameterGroup",
        DatabaseKind::Cluster => "AWS::RDS::DBClusterParameterGroup",
    };
    let finding_on_group = |observed| {
        Finding::for_resource(rule, scope.account, scope.region, resource_type, group, arn.clone(), observed)
    };
    match tls_enforced(first, reading(group, lookup).as_ref()) {
        Verdict::Violation(mut observed) => {
            list_databases(&mut observed, &users);
            let finding = finding_on_group(observed);
            // A group is shared: a database exempt from the rule keeps the whole group as it is.
            let action = match shared_group_gate(rule, group, &users, scope.policy) {
                Err(outcome) => outcome,
                Ok(_) => enforce(scope, kind, group, &parameter, value, rds).await,
            };
            checked.findings.push((finding, action));
        }
        Verdict::Unknown(why) => checked.undetermined(rule, group, why),
        Verdict::Compliant => checked.compliant.push(finding_on_group(Value::Null)),
        Verdict::NotApplicable(_) => {}
    }
    Ok(CheckOutcome::Judged(checked))
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
    scope: CheckScope<'_>,
    kind: DatabaseKind,
    group: &str,
    parameter: &TlsParameter,
    value: &str,
    rds: &dyn RdsGuardPort,
) -> ActionOutcome {
    let deadline = scope.deadline;
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
            format!("{operation} not sent: the invocation's deadline is too close; re-checked later (the re-check queue, the next event or sweep)"),
        );
    }
    if let Err(error) = rds.set_parameter(kind, group, parameter.name, value).await {
        return ActionOutcome::new(action, ActionStatus::Failed, error.to_string());
    }
    let mut last = String::from("unread");
    let read = async || match rds.parameter(kind, group, parameter.name).await {
        Ok(ParameterLookup::Found { value: Some(now), .. }) if is_on(&now) => Read::Ready(format!(
            "{operation} applied; {} is now {now} in {group} (confirmed by describe)",
            parameter.name
        )),
        Ok(other) => {
            last = format!("{other:?}");
            Read::NotYet
        }
        Err(error) => Read::Failed(format!("{operation} accepted; confirming failed: {error}")),
    };
    let confirmed = confirm(scope.confirmation, deadline, STEP_ALLOWANCE, read).await;
    if let Some(outcome) = confirmed.outcome(action, || {
        format!("{operation} accepted; not confirmed before the invocation's deadline; re-checked later (the re-check queue, the next event or sweep)")
    }) {
        return outcome;
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
        let mysql = tls_parameter_for(&Database::instance(crate::database::DatabaseState {
            engine: Some("mysql".into()),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(value_to_set(&mysql, &found), "ON");
        assert_eq!(reading("g", found).map(|r| r.value), Some(Some("0".into())));
        assert_eq!(reading("g", ParameterLookup::NotListed), None);
    }
}
