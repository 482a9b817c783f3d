//! Re-check messages ([`rdsguard::recheck`]): the one check of one resource, run again for a rule
//! whose fix was deferred. The fix done now is alerted (`succeeded`, `failed`); one still deferred
//! is queued again with a longer delay, quietly, until `RECHECK_MAX_ATTEMPTS`, where it is alerted
//! `failed` with "still deferred after …". A rule found compliant is handed to the findings
//! ledger, which resolves the finding.

use rdsguard::action::{ActionOutcome, ActionStatus};
use rdsguard::checks::{check_database, check_parameter_group, check_snapshot, CheckOutcome, CheckScope, Checked};
use rdsguard::database::DatabaseKind;
use rdsguard::db_snapshot::SnapshotKind;
use rdsguard::finding::{EventContext, Finding};
use rdsguard::group_check::check_security_group_within;
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::kernel::Deadline;
use rdsguard::migration::migration_progressed;
use rdsguard::network::GroupRef;
use rdsguard::recheck::{
    queue_messages, waited_seconds, RecheckMessage, RecheckResource, ResourceRecheck, DEFAULT_MAX_ATTEMPTS,
};
use rdsguard::report::{deliver_judged, FindingSummary, Outcome};
use rdsguard::rules::RuleId;
use tracing::{error, info, warn};

use crate::handler::{connect, MessageReport, SweepWorker, FUNCTION_NAME};

/// The event name alerts cite for a finding a re-check made.
pub const RECHECK_EVENT_NAME: &str = "DeferredRecheck";

const STILL_DEFERRED: &str = "still deferred: queued for another re-check";
const OTHER_RULE: &str = "not re-alerted on a re-check of another rule (its own re-check or event alerts it)";

/// What running the check again concluded.
struct Rerun {
    findings: Vec<(Finding, ActionOutcome)>,
    compliant: Vec<Finding>,
    failure: Option<String>,
}

impl From<Checked> for Rerun {
    fn from(checked: Checked) -> Self {
        Self {
            findings: checked.findings,
            compliant: checked.compliant,
            failure: checked.failure.map(|f| f.to_string()),
        }
    }
}

/// Handles one re-check message.
pub(crate) async fn recheck_resource(
    message_id: &str,
    recheck: &ResourceRecheck,
    worker: &SweepWorker,
    deadline: Deadline,
) -> (MessageReport, Vec<FindingSummary>) {
    let report = |outcome: &'static str, errors: Vec<String>| MessageReport {
        message_id: message_id.to_owned(),
        account: Some(recheck.account.clone()),
        region: Some(recheck.region.clone()),
        outcome,
        resources_judged: 0,
        errors,
    };
    let parsed = AccountId::parse(&recheck.account)
        .map_err(|e| format!("account: {e}"))
        .and_then(|a| AwsRegion::parse(&recheck.region).map(|r| (a, r)).map_err(|e| format!("region: {e}")))
        .and_then(|(a, r)| recheck.rule.parse::<RuleId>().map(|_| (a, r)).map_err(|e| format!("rule: {e}")));
    let (account, region) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            error!(message_id, error = %e, "re-check message could not be used");
            return (report("failed", vec![e]), Vec::new());
        }
    };
    let connected = match connect(worker, &account, &region).await {
        Ok(connected) => connected,
        Err(e) => return (report("failed", vec![e]), Vec::new()),
    };
    let scope = CheckScope {
        account: &account,
        region: &region,
        policy: &worker.policy,
        confirmation: worker.confirmation,
        deadline: deadline.for_work(),
    };
    let rerun = match rerun_check(scope, recheck, &connected.rds, &connected.network).await {
        Ok(Some(rerun)) => rerun,
        Ok(None) => return (report("rechecked", Vec::new()), Vec::new()),
        Err(e) => {
            error!(message_id, error = %e, "re-check could not read the resource; SQS delivers it again");
            return (report("failed", vec![e]), Vec::new());
        }
    };

    let max_attempts = worker.alerting.rechecks().map_or(DEFAULT_MAX_ATTEMPTS, |r| r.max_attempts);
    let mut continuation = None;
    let mut due = Vec::with_capacity(rerun.findings.len());
    for (finding, action) in &rerun.findings {
        let (action, suppressed) = if finding.rule.as_str() == recheck.rule {
            judge_again(recheck, action, max_attempts, &mut continuation)
        } else if matches!(action.status, ActionStatus::Succeeded | ActionStatus::Failed) {
            (action.clone(), None)
        } else {
            (action.clone(), Some(OTHER_RULE))
        };
        info!(rule = %finding.rule, resource = %finding.resource, status = action.status.as_str(), detail = %action.detail, "re-checked finding");
        due.push(Outcome { finding, action, suppressed });
    }
    let context = EventContext {
        event_id: format!("recheck:{message_id}"),
        event_name: RECHECK_EVENT_NAME.to_owned(),
        event_time: None,
        actor: FUNCTION_NAME.to_owned(),
    };
    let delivery = worker.alerting.delivery(FUNCTION_NAME).acting_as(connected.acted_as.as_deref());
    let cleared: &[Finding] = if rerun.failure.is_none() { &rerun.compliant } else { &[] };
    let mut errors: Vec<String> = rerun.failure.into_iter().collect();
    let findings = match deliver_judged(due, cleared, &context, delivery).await {
        Ok(findings) => findings,
        Err((findings, failure)) => {
            errors.push(failure.to_string());
            findings
        }
    };
    // After the alerts: the next re-check of a fix still deferred.
    let next: Vec<RecheckMessage> = continuation.into_iter().map(RecheckMessage::Resource).collect();
    if let Err(failure) = queue_messages(worker.alerting.rechecks(), &next).await {
        errors.push(failure.to_string());
    }
    let mut done = report(if errors.is_empty() { "rechecked" } else { "failed" }, errors);
    done.resources_judged = 1;
    (done, findings)
}

/// The outcome of the re-checked rule: done now (alerted), still deferred (quiet, queued again)
/// or still deferred at the last attempt (alerted `failed`).
fn judge_again(
    recheck: &ResourceRecheck,
    action: &ActionOutcome,
    max_attempts: u32,
    continuation: &mut Option<ResourceRecheck>,
) -> (ActionOutcome, Option<&'static str>) {
    if action.status != ActionStatus::Deferred {
        return (action.clone(), None);
    }
    // An encryption migration that did a step is alerted (one alert per step), and its re-checks
    // start over: only a migration that stops moving runs out of attempts.
    if migration_progressed(action) {
        continuation.get_or_insert_with(|| ResourceRecheck { attempt: 1, ..recheck.clone() });
        return (action.clone(), None);
    }
    if recheck.attempt >= max_attempts {
        let minutes = waited_seconds(recheck.attempt).div_ceil(60);
        let detail = format!(
            "still deferred after {} re-checks over {minutes} minutes (RECHECK_MAX_ATTEMPTS={max_attempts}): {}",
            recheck.attempt, action.detail
        );
        warn!(rule = %recheck.rule, id = %recheck.id, %detail, "giving up re-checking");
        return (ActionOutcome::new(action.kind, ActionStatus::Failed, detail), None);
    }
    continuation.get_or_insert_with(|| recheck.next());
    (action.clone(), Some(STILL_DEFERRED))
}

/// Runs the check of the message's resource (`Ok(None)`: it is gone, or nothing uses it).
async fn rerun_check(
    scope: CheckScope<'_>,
    recheck: &ResourceRecheck,
    rds: &rdsguard::aws::SdkRds,
    network: &rdsguard::aws::NetworkPorts,
) -> Result<Option<Rerun>, String> {
    let id = recheck.id.clone();
    let outcome = match recheck.resource {
        RecheckResource::DbInstance => check_database(scope, rds, DatabaseKind::Instance, &[id], None).await,
        RecheckResource::DbCluster => check_database(scope, rds, DatabaseKind::Cluster, &[id], None).await,
        RecheckResource::DbSnapshot => check_snapshot(scope, rds, SnapshotKind::Instance, &id, None).await,
        RecheckResource::DbClusterSnapshot => check_snapshot(scope, rds, SnapshotKind::Cluster, &id, None).await,
        RecheckResource::DbParameterGroup => check_parameter_group(scope, rds, DatabaseKind::Instance, &id).await,
        RecheckResource::DbClusterParameterGroup => check_parameter_group(scope, rds, DatabaseKind::Cluster, &id).await,
        RecheckResource::SecurityGroup => {
            let group = GroupRef::Id(id);
            let checked = check_security_group_within(
                &group,
                scope.account,
                scope.region,
                network,
                scope.policy,
                scope.confirmation,
                scope.deadline,
            )
            .await
            .map_err(|e| format!("security group {group}: {e}"))?;
            return Ok(checked.map(|check| Rerun { findings: check.findings, compliant: Vec::new(), failure: None }));
        }
    };
    match outcome.map_err(|e| e.to_string())? {
        CheckOutcome::Judged(checked) => Ok(Some(checked.into())),
        CheckOutcome::NothingToCheck(reason) | CheckOutcome::Gone { reason, .. } => {
            info!(%reason, id = %recheck.id, "nothing to re-check");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdsguard::action::ActionKind;

    fn recheck(attempt: u32) -> ResourceRecheck {
        ResourceRecheck {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            resource: RecheckResource::DbInstance,
            id: "orders".into(),
            rule: "RDS.2".into(),
            attempt,
        }
    }

    #[test]
    fn a_fix_still_deferred_is_queued_again_quietly_until_the_last_attempt_fails_it() {
        let deferred = ActionOutcome::new(ActionKind::MakePrivate, ActionStatus::Deferred, "status is modifying");
        let done = ActionOutcome::new(ActionKind::MakePrivate, ActionStatus::Succeeded, "private");
        let moved_on = ActionOutcome::new(
            ActionKind::EncryptionMigration,
            ActionStatus::Deferred,
            "encryption migration: did Copy; waiting: encrypted copy orders-x is creating; the next check goes on from here",
        );
        let migration_waiting = ActionOutcome::new(
            ActionKind::EncryptionMigration,
            ActionStatus::Deferred,
            "encryption migration: waiting: encrypted copy orders-x is creating; the next check goes on from here",
        );
        let cases = [
            (recheck(1), &deferred, Some(STILL_DEFERRED), ActionStatus::Deferred, Some(2)),
            (recheck(7), &deferred, Some(STILL_DEFERRED), ActionStatus::Deferred, Some(8)),
            (recheck(8), &deferred, None, ActionStatus::Failed, None),
            (recheck(3), &done, None, ActionStatus::Succeeded, None),
            (recheck(8), &moved_on, None, ActionStatus::Deferred, Some(1)),
            (recheck(8), &migration_waiting, None, ActionStatus::Failed, None),
        ];
        for (message, action, suppressed, status, next) in cases {
            let mut continuation = None;
            let (outcome, note) = judge_again(&message, action, 8, &mut continuation);
            assert_eq!((note, outcome.status), (suppressed, status), "attempt {}", message.attempt);
            assert_eq!(continuation.map(|c| c.attempt), next, "attempt {}", message.attempt);
            if status == ActionStatus::Failed {
                assert!(
                    outcome.detail.starts_with("still deferred after 8 re-checks over 75 minutes"),
                    "{}",
                    outcome.detail
                );
                assert!(outcome.detail.ends_with(&action.detail), "{}", outcome.detail);
            }
        }
    }
}
