//! The opt-in responses to a finding about a database: a forensic snapshot, making a public
//! instance private, and revoking world-open ingress on its security groups. Each reports its own outcome; none
//! stops the alert.

use rdsguard::aws::{ForensicSnapshots, NetworkPorts, RdsPort, ResponderPorts, SNAPSHOT_EXISTS_CODES};
use rdsguard::database::{Database, DatabaseKind};
use rdsguard::finding::Finding;
use rdsguard::group_check::check_security_group_within;
use rdsguard::guardduty::{snapshot_identifier, Response};
use rdsguard::kernel::Deadline;
use rdsguard::network::GroupRef;
use rdsguard::policy::Policy;
use rdsguard::remediate::{execute, plan, policy_gate, ActionKind, ActionOutcome, ActionStatus, Confirmation, Plan};
use rdsguard::rules::RuleId;

use crate::target::Threat;

const RULE: RuleId = RuleId::GuardDutyRdsThreat;

/// The [`ActionKind`] each response reports as.
pub fn kind_of(response: Response) -> ActionKind {
    match response {
        Response::Snapshot => ActionKind::CreateSnapshot,
        Response::MakePrivate => ActionKind::MakePrivate,
        Response::RevokeOpenIngress => ActionKind::RevokeIngress,
    }
}

/// The same outcome for every response (when none could run for one reason).
pub fn all(responses: &[Response], status: ActionStatus, detail: &str) -> Vec<ActionOutcome> {
    responses.iter().map(|r| ActionOutcome::new(kind_of(*r), status, detail)).collect()
}

/// Runs the responses, in order, against the described database.
pub async fn run_responses(
    threat: &Threat,
    db: &Database,
    responses: &[Response],
    ports: &ResponderPorts,
    policy: &Policy,
    confirm: Confirmation,
    deadline: Deadline,
) -> Vec<ActionOutcome> {
    if let Err(gated) = policy_gate(RULE, &db.state.tags, policy) {
        return responses.iter().map(|r| ActionOutcome { kind: kind_of(*r), ..gated.clone() }).collect();
    }
    let mut outcomes = Vec::with_capacity(responses.len());
    for response in responses {
        outcomes.push(match response {
            Response::Snapshot => snapshot(threat, db, ports.snapshots.as_ref()).await,
            Response::MakePrivate => make_private(db, ports.databases.as_ref(), policy, confirm, deadline).await,
            Response::RevokeOpenIngress => {
                revoke_open_ingress(threat, db, &ports.network, policy, confirm, deadline).await
            }
        });
    }
    outcomes
}

/// Tags on the forensic snapshot, naming the finding it was taken for.
pub fn snapshot_tags(threat: &Threat) -> Vec<(String, String)> {
    vec![
        ("rdsguard:reason".to_owned(), "forensics".to_owned()),
        ("rdsguard:guardduty-finding-id".to_owned(), threat.finding.id.clone()),
        ("rdsguard:guardduty-finding-type".to_owned(), threat.finding.finding_type.chars().take(256).collect()),
    ]
}

/// CreateDBSnapshot of a standalone instance; CreateDBClusterSnapshot of an Aurora member's
/// cluster or of a cluster (RDS snapshots Aurora storage per cluster).
async fn snapshot(threat: &Threat, db: &Database, snapshots: &dyn ForensicSnapshots) -> ActionOutcome {
    let name = snapshot_identifier(&threat.finding.id);
    let tags = snapshot_tags(threat);
    let (operation, result) = match (db.kind, db.state.cluster_identifier.as_deref()) {
        (DatabaseKind::Instance, None) => {
            ("CreateDBSnapshot", snapshots.snapshot_instance(&db.state.identifier, &name, &tags).await)
        }
        (DatabaseKind::Instance, Some(cluster)) => {
            ("CreateDBClusterSnapshot", snapshots.snapshot_cluster(cluster, &name, &tags).await)
        }
        (DatabaseKind::Cluster, _) => {
            ("CreateDBClusterSnapshot", snapshots.snapshot_cluster(&db.state.identifier, &name, &tags).await)
        }
    };
    match result {
        Ok(taken) => ActionOutcome::new(
            ActionKind::CreateSnapshot,
            ActionStatus::Succeeded,
            format!(
                "{operation} accepted: snapshot {} is {}{}",
                taken.identifier,
                taken.status.as_deref().unwrap_or("being created"),
                taken.arn.map(|arn| format!(" ({arn})")).unwrap_or_default()
            ),
        ),
        Err(e) if e.code.as_deref().is_some_and(|c| SNAPSHOT_EXISTS_CODES.contains(&c)) => ActionOutcome::new(
            ActionKind::CreateSnapshot,
            ActionStatus::Skipped,
            format!("forensic snapshot {name} already exists (taken when this finding was alerted before)"),
        ),
        Err(e) => ActionOutcome::new(ActionKind::CreateSnapshot, ActionStatus::Failed, e.to_string()),
    }
}

/// As RDS.2 does: ModifyDBInstance PubliclyAccessible=false, confirmed by describe. Only a public
/// instance is changed.
async fn make_private(
    db: &Database,
    rds: &dyn RdsPort,
    policy: &Policy,
    confirm: Confirmation,
    deadline: Deadline,
) -> ActionOutcome {
    let skipped = |detail: &str| ActionOutcome::new(ActionKind::MakePrivate, ActionStatus::Skipped, detail);
    if db.kind == DatabaseKind::Cluster && db.state.is_aurora() {
        return skipped("an Aurora cluster has no PubliclyAccessible setting (its instances do): nothing changed");
    }
    match db.state.publicly_accessible {
        Some(false) => return skipped("not publicly accessible: nothing to change"),
        None => return skipped("RDS did not report PubliclyAccessible: nothing changed"),
        Some(true) => {}
    }
    match plan(RULE, db, policy) {
        Plan::Act(ActionKind::MakePrivate) => {
            execute(ActionKind::MakePrivate, db, rds, policy, confirm, deadline).await
        }
        Plan::Act(other) => {
            ActionOutcome::new(other, ActionStatus::NotAttempted, "GUARDDUTY.RDS responses only make databases private")
        }
        Plan::Report(outcome) => outcome,
    }
}

/// As network-guard does (EC2.19): on each VPC security group the database is behind, judge every
/// ingress rule and revoke, by SecurityGroupRuleId, those that admit the whole internet to a
/// database port; confirmed by reading the rules again. The groups' own exemption tag and the
/// policy for EC2.19 (`RULE_ACTIONS`, `MODE`) apply, exactly as in network-guard.
async fn revoke_open_ingress(
    threat: &Threat,
    db: &Database,
    network: &NetworkPorts,
    policy: &Policy,
    confirm: Confirmation,
    deadline: Deadline,
) -> ActionOutcome {
    let outcome = |status, detail: String| ActionOutcome::new(ActionKind::RevokeIngress, status, detail);
    if db.state.security_groups.is_empty() {
        return outcome(
            ActionStatus::Skipped,
            format!("{} is behind no VPC security group: nothing to revoke", db.state.identifier),
        );
    }
    let mut parts: Vec<ActionOutcome> = Vec::new();
    for group in &db.state.security_groups {
        let group_ref = GroupRef::Id(group.clone());
        let checked = check_security_group_within(
            &group_ref,
            &threat.account,
            &threat.region,
            network,
            policy,
            confirm,
            deadline,
        )
        .await;
        match checked {
            Ok(Some(check)) => {
                let world_open: Vec<&(Finding, ActionOutcome)> =
                    check.findings.iter().filter(|(f, _)| f.rule == RuleId::Ec2_19OpenToInternet).collect();
                if world_open.is_empty() {
                    parts.push(outcome(
                        ActionStatus::Skipped,
                        format!("{group}: no rule admits the internet to a database port"),
                    ));
                }
                parts.extend(world_open.into_iter().map(|(_, action)| action.clone()));
            }
            Ok(None) => parts.push(outcome(ActionStatus::Skipped, format!("{group} no longer exists"))),
            Err(e) => parts.push(outcome(ActionStatus::Failed, format!("cannot read {group}: {e}"))),
        }
    }
    let mut summary = combined(&parts);
    summary.kind = ActionKind::RevokeIngress;
    summary
}

/// The responses taken together, for the alert's `action`: the worst status wins (failed, then
/// deferred, then succeeded, then skipped, then not_attempted); the detail lists each response.
pub fn combined(outcomes: &[ActionOutcome]) -> ActionOutcome {
    let rank = |status: ActionStatus| match status {
        ActionStatus::Failed => 4,
        ActionStatus::Deferred => 3,
        ActionStatus::Succeeded => 2,
        ActionStatus::Skipped => 1,
        ActionStatus::NotAttempted => 0,
    };
    let status = outcomes.iter().map(|o| o.status).max_by_key(|s| rank(*s)).unwrap_or(ActionStatus::NotAttempted);
    let detail: Vec<String> =
        outcomes.iter().map(|o| format!("{} {}: {}", kind_name(o.kind), o.status.as_str(), o.detail)).collect();
    ActionOutcome::new(ActionKind::Responses, status, detail.join("; "))
}

/// The name an [`ActionKind`] has in alerts.
pub fn kind_name(kind: ActionKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| format!("{kind:?}"))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use rdsguard::aws::{AwsError, SnapshotTaken};
    use rdsguard::database::DatabaseState;
    use serde_json::json;

    use super::*;
    use crate::target::{triage_payload, Triage};

    /// Records which snapshot call was made; answers with `error` if set.
    #[derive(Default)]
    struct RecordingSnapshots {
        calls: Mutex<Vec<String>>,
        error: Option<AwsError>,
    }

    #[async_trait]
    impl ForensicSnapshots for RecordingSnapshots {
        async fn snapshot_instance(
            &self,
            db: &str,
            name: &str,
            _: &[(String, String)],
        ) -> Result<SnapshotTaken, AwsError> {
            self.calls.lock().unwrap().push(format!("instance {db} -> {name}"));
            self.error
                .clone()
                .map_or(Ok(SnapshotTaken { identifier: name.into(), arn: None, status: Some("creating".into()) }), Err)
        }
        async fn snapshot_cluster(
            &self,
            db: &str,
            name: &str,
            _: &[(String, String)],
        ) -> Result<SnapshotTaken, AwsError> {
            self.calls.lock().unwrap().push(format!("cluster {db} -> {name}"));
            self.error
                .clone()
                .map_or(Ok(SnapshotTaken { identifier: name.into(), arn: None, status: Some("creating".into()) }), Err)
        }
    }

    fn threat() -> Threat {
        let finding = json!({"id": "f00d", "type": "CredentialAccess:RDS/TorIPCaller.SuccessfulLogin", "severity": 8,
            "accountId": "123456789012", "region": "us-east-1",
            "resource": {"resourceType": "RDSDBInstance", "rdsDbInstanceDetails": {"dbInstanceIdentifier": "db1"}}});
        match triage_payload(&finding) {
            Ok(Triage::Handle(t)) => *t,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn aurora_members_are_snapshotted_by_cluster() {
        let state = |id: &str, cluster: Option<&str>| DatabaseState {
            identifier: id.into(),
            cluster_identifier: cluster.map(str::to_owned),
            ..DatabaseState::default()
        };
        let cases = [
            (Database::instance(state("db1", None)), "instance db1 -> rdsguard-gd-f00d", "CreateDBSnapshot accepted"),
            (
                Database::instance(state("db1", Some("aurora-1"))),
                "cluster aurora-1 -> rdsguard-gd-f00d",
                "CreateDBClusterSnapshot accepted",
            ),
            (
                Database::cluster(state("limitless-1", None)),
                "cluster limitless-1 -> rdsguard-gd-f00d",
                "CreateDBClusterSnapshot accepted",
            ),
        ];
        for (db, call, detail) in cases {
            let port = RecordingSnapshots::default();
            let outcome = snapshot(&threat(), &db, &port).await;
            assert_eq!(*port.calls.lock().unwrap(), [call]);
            assert_eq!(outcome.status, ActionStatus::Succeeded);
            assert!(outcome.detail.starts_with(detail) && outcome.detail.contains("is creating"), "{}", outcome.detail);
        }
        let exists = RecordingSnapshots {
            error: Some(AwsError {
                operation: "CreateDBSnapshot",
                code: Some("DBSnapshotAlreadyExists".into()),
                message: "x".into(),
            }),
            ..RecordingSnapshots::default()
        };
        let outcome = snapshot(&threat(), &Database::instance(state("db1", None)), &exists).await;
        assert_eq!(outcome.status, ActionStatus::Skipped, "{}", outcome.detail);
        let denied = RecordingSnapshots {
            error: Some(AwsError {
                operation: "CreateDBSnapshot",
                code: Some("AccessDenied".into()),
                message: "no".into(),
            }),
            ..RecordingSnapshots::default()
        };
        let outcome = snapshot(&threat(), &Database::instance(state("db1", None)), &denied).await;
        assert_eq!(
            (outcome.status, outcome.detail.as_str()),
            (ActionStatus::Failed, "CreateDBSnapshot failed: AccessDenied: no")
        );
    }

    fn outcome(kind: ActionKind, status: ActionStatus) -> ActionOutcome {
        ActionOutcome::new(kind, status, "d")
    }

    #[test]
    fn the_worst_status_speaks_for_all_responses() {
        use ActionStatus::*;
        let cases = [
            (vec![Succeeded, Skipped], Succeeded),
            (vec![Succeeded, Failed], Failed),
            (vec![Skipped, Deferred, Succeeded], Deferred),
            (vec![NotAttempted, Skipped], Skipped),
            (vec![NotAttempted], NotAttempted),
            (vec![], NotAttempted),
        ];
        for (statuses, expected) in cases {
            let outcomes: Vec<ActionOutcome> =
                statuses.iter().map(|s| outcome(ActionKind::CreateSnapshot, *s)).collect();
            assert_eq!(combined(&outcomes).status, expected, "{statuses:?}");
        }
        let both =
            combined(&[outcome(ActionKind::CreateSnapshot, Succeeded), outcome(ActionKind::MakePrivate, Skipped)]);
        assert_eq!(both.kind, ActionKind::Responses);
        assert_eq!(both.detail, "create_snapshot succeeded: d; make_private skipped: d");
    }
}
