//! Deciding and carrying out what to do about a finding.
//!
//! Planning is pure: exemption, policy and the database's status decide whether to act now, defer
//! (RDS refuses changes while a database is `creating`, `modifying`, `stopped`...), or only alert.
//! Execution calls the remediation port, then reads the state back to confirm: an API call that
//! returned 200 is not proof the database is private.

mod confirm;
mod execute;

pub use confirm::{confirm, Confirmation, Confirmed, Read};
pub use execute::{execute, execute_settings};

pub use crate::action::{ActionKind, ActionOutcome, ActionStatus};
use crate::migration::names;

use crate::database::{Database, DatabaseKind};
use crate::policy::{Mode, Policy, RemediationProfile, RuleAction};
use crate::rules::RuleId;

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
        action @ (RuleAction::Remediate | RuleAction::Stop | RuleAction::Migrate) => Ok(action),
        RuleAction::Alert | RuleAction::Off => {
            let why = if policy.mode == Mode::AlertOnly {
                "MODE=alert: rdsguard changes nothing".to_owned()
            } else {
                let by_profile = policy.profile == RemediationProfile::Safe
                    && RemediationProfile::Strict.default_action(rule) != RuleAction::Alert;
                if by_profile {
                    format!(
                        "policy for {rule} is alert (REMEDIATION_PROFILE=safe: the fix could disturb a working \
                         client or deployment; opt in with RULE_ACTIONS={rule}={} or REMEDIATION_PROFILE=strict)",
                        RemediationProfile::Strict.default_action(rule)
                    )
                } else {
                    format!("policy for {rule} is alert")
                }
            };
            Err(ActionOutcome::new(ActionKind::AlertOnly, ActionStatus::NotAttempted, why))
        }
    }
}

/// The gate for a fix to a parameter group: the group is shared, so the change reaches every
/// database that uses it. It happens only when the policy lets the rule act and no database on the
/// group is exempt from it; otherwise the outcome says which database holds it back and names them
/// all. Both trigger paths (a database's own group, a change to the group) decide here.
pub fn shared_group_gate(
    rule: RuleId,
    group: &str,
    users: &[Database],
    policy: &Policy,
) -> Result<RuleAction, ActionOutcome> {
    let action = policy_gate(rule, &[], policy)?;
    let names: Vec<&str> = users.iter().map(|db| db.state.identifier.as_str()).collect();
    for db in users {
        if let Some(tag) = policy.exemption(&db.state.tags, rule) {
            return Err(ActionOutcome::new(
                ActionKind::None,
                ActionStatus::Skipped,
                format!(
                    "exempt: {} is tagged {tag}, and {group} is shared by {}: the group is left as it is",
                    db.state.identifier,
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(action)
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
        // The migration reads the database's state itself at every step (it waits, refuses or acts).
        Ok(RuleAction::Migrate) => {
            let tag = |key: &str| db.state.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
            if tag(names::TAG_ROLE) == Some("source") && tag(names::TAG_STEP) == Some("cut-over") {
                return Plan::Report(ActionOutcome::new(
                    ActionKind::EncryptionMigration,
                    ActionStatus::Skipped,
                    format!(
                        "the unencrypted original of {}, kept (stopped) by migration {} after its cutover: delete it \
                         once it is no longer needed (`rdsguard encrypt rollback` while it exists)",
                        tag(names::TAG_OF).unwrap_or("-"),
                        tag(names::TAG_MIGRATION).unwrap_or("-")
                    ),
                ));
            }
            return Plan::Act(ActionKind::EncryptionMigration);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::DatabaseState;

    use crate::policy::test_policy as policy;

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

    #[test]
    fn each_fixable_rule_plans_its_own_fix() {
        let p = policy(&[("REMEDIATION_PROFILE", "strict")]);
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
        let alert = policy(&[("REMEDIATION_PROFILE", "strict"), ("RULE_ACTIONS", "RDS.8=alert")]);
        assert_eq!(
            summary(&plan(RuleId::Rds8InstanceDeletionProtection, &db("available", &[]), &policy(&[]))),
            ("report AlertOnly".to_owned(), Some(ActionStatus::NotAttempted)),
            "the safe profile alerts RDS.8"
        );
        assert_eq!(
            summary(&plan(RuleId::Rds8InstanceDeletionProtection, &db("available", &[]), &alert)),
            ("report AlertOnly".to_owned(), Some(ActionStatus::NotAttempted))
        );
    }

    #[test]
    fn a_shared_group_is_fixed_only_when_no_database_on_it_is_exempt() {
        let strict = policy(&[("REMEDIATION_PROFILE", "strict")]);
        let named = |id: &str, tags: &[(&str, &str)]| {
            let mut d = db("available", tags);
            d.state.identifier = id.into();
            d
        };
        let rule = RuleId::Rds38PostgresTls;
        let plain = [named("a", &[]), named("b", &[])];
        assert_eq!(shared_group_gate(rule, "pg", &plain, &strict), Ok(RuleAction::Remediate));
        let one_exempt = [named("a", &[]), named("b", &[("rdsguard:exempt", "RDS.38")])];
        let Err(outcome) = shared_group_gate(rule, "pg", &one_exempt, &strict) else { panic!("expected a skip") };
        assert_eq!(outcome.status, ActionStatus::Skipped);
        assert!(outcome.detail.contains("b is tagged rdsguard:exempt=RDS.38"), "{}", outcome.detail);
        assert!(outcome.detail.contains("shared by a, b"), "{}", outcome.detail);
        let other_rule = [named("a", &[("rdsguard:exempt", "RDS.2")])];
        assert_eq!(shared_group_gate(rule, "pg", &other_rule, &strict), Ok(RuleAction::Remediate));
        let Err(outcome) = shared_group_gate(rule, "pg", &plain, &policy(&[])) else { panic!("safe alerts") };
        assert_eq!(outcome.status, ActionStatus::NotAttempted);
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
