//! The guardduty-responder handler: finding → database → alert or log → responses → one alert.

use std::sync::Arc;

use rdsguard::aws::ResponderConnector;
use rdsguard::database::{Database, DatabaseKind};
use rdsguard::finding::Finding;
use rdsguard::guardduty::{decide_alert, finding_console_url, sighting, AlertDecision, Response, Sighting};
use rdsguard::kernel::{triaged, Deadline, InvocationError, InvocationOutcome, InvocationSummary};
use rdsguard::ledger::{once_per_event, Once};
use rdsguard::member_access::session_failure_detail;
use rdsguard::policy::{Policy, RuleAction};
use rdsguard::recheck::{queue_messages, RecheckMessage, RecheckResource, ResourceRecheck};
use rdsguard::remediate::{ActionKind, ActionOutcome, ActionStatus, Confirmation};
use rdsguard::report::{deliver, Alerting, Outcome};
use rdsguard::rules::{RuleId, Severity};
use serde::Serialize;
use serde_json::{json, Map, Value};
use tracing::{error, info, warn};

use crate::config::ResponderConfig;
use crate::respond::{all, combined, run_responses};
use crate::target::{triage_payload, Threat};

/// Name of this function in alerts.
pub const FUNCTION_NAME: &str = "guardduty-responder";

/// Everything the handler needs, built once per container.
pub struct GuardDutyResponder {
    pub policy: Policy,
    pub config: ResponderConfig,
    pub connector: Arc<dyn ResponderConnector>,
    /// Where alerts go (and what SNS would not take is kept).
    pub alerting: Alerting,
    /// How long to read the state back after making a database private.
    pub confirmation: Confirmation,
}

/// What the invocation did: `alerted`, `logged` (an update not worth another alert) or `ignored`.
pub type Summary = InvocationSummary<ThreatDetail>;

/// guardduty-responder's own part of its [`Summary`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ThreatDetail {
    /// The GuardDuty finding's id and type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding_type: Option<String>,
    /// Each response's outcome, in the order they ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<ActionOutcome>,
}

impl ThreatDetail {
    fn of(threat: &Threat) -> Self {
        Self {
            finding_id: Some(threat.finding.id.clone()),
            finding_type: Some(threat.finding.finding_type.clone()),
            responses: Vec::new(),
        }
    }
}

fn without_alert(outcome: InvocationOutcome, reason: String, threat: Option<&Threat>) -> Summary {
    Summary::of(outcome, None).because(reason).with_detail(threat.map(ThreatDetail::of).unwrap_or_default())
}

/// Handles one event without a deadline (tests, the command line).
pub async fn handle_event(payload: &Value, responder: &GuardDutyResponder) -> Result<Summary, InvocationError> {
    handle_event_within(payload, responder, Deadline::none()).await
}

/// Handles one event, working until `deadline` (the invocation's, from the Lambda context) less
/// the time kept to publish: a response not confirmed by then is `deferred`, never lost.
pub async fn handle_event_within(
    payload: &Value,
    responder: &GuardDutyResponder,
    deadline: Deadline,
) -> Result<Summary, InvocationError> {
    let threat = match triaged(FUNCTION_NAME, triage_payload(payload)) {
        Ok(threat) => threat,
        Err(end) => return end,
    };
    if responder.policy.effective_action(RuleId::GuardDutyRdsThreat) == RuleAction::Off {
        let reason = "RULE_ACTIONS turns GUARDDUTY.RDS off".to_owned();
        warn!(%reason, finding = %threat.finding.id, "finding not alerted");
        return Ok(without_alert(InvocationOutcome::Ignored, reason, Some(&threat)));
    }
    let seen = sighting(&threat.finding);
    let why_alerted = match decide_alert(threat.finding.sample, &seen, threat.severity) {
        AlertDecision::Alert(why) => why,
        AlertDecision::LogOnly(why) => {
            info!(finding = %threat.finding.id, finding_type = %threat.finding.finding_type, severity = threat.severity.as_str(),
                  count = ?threat.finding.count, reason = %why, "finding update logged, not alerted");
            return Ok(without_alert(InvocationOutcome::Logged, why, Some(&threat)));
        }
    };

    // With the ledger on, a repeated delivery of the finding's event is not responded to again.
    let ledger = responder.alerting.ledger();
    let respond_and_alert = || respond_and_alert(&threat, why_alerted, &seen, responder, deadline);
    match once_per_event(ledger, FUNCTION_NAME, &threat.context, deadline, respond_and_alert).await? {
        Once::Handled(summary) => Ok(summary),
        Once::Repeated(reason) => {
            info!(finding = %threat.finding.id, %reason, "event ignored");
            Ok(without_alert(InvocationOutcome::Ignored, reason, Some(&threat)))
        }
    }
}

/// Runs the responses configured for the finding and alerts what they did.
async fn respond_and_alert(
    threat: &Threat,
    why_alerted: String,
    seen: &Sighting,
    responder: &GuardDutyResponder,
    deadline: Deadline,
) -> Result<Summary, InvocationError> {
    let responses = responder.config.responses.for_type(&threat.finding.finding_type);
    let (action, outcomes, acted_as) = respond(threat, responses, responder, deadline).await;
    let mut finding = Finding::for_resource(
        RuleId::GuardDutyRdsThreat,
        &threat.account,
        &threat.region,
        threat.database.kind.aws_type(),
        threat.database.identifier.clone(),
        threat.database.arn.clone(),
        observed(threat, seen, &why_alerted, &outcomes),
    );
    // Samples are tests of the pipeline: INFORMATIONAL, so they page nobody; the severity a real
    // finding would have is in observed.severity_label.
    finding.severity = if threat.finding.sample { Severity::Informational } else { threat.severity };
    finding.short_title = short_title(threat);
    info!(
        finding = %threat.finding.id, finding_type = %threat.finding.finding_type, resource = %finding.resource,
        severity = finding.severity.as_str(), why = %why_alerted, status = action.status.as_str(), detail = %action.detail,
        "GuardDuty finding"
    );
    let delivery = responder.alerting.delivery(FUNCTION_NAME).acting_as(acted_as.as_deref());
    let delivered = deliver(vec![Outcome { finding: &finding, action, suppressed: None }], &threat.context, delivery)
        .await
        .map_err(|(_, failure)| failure);
    // After the alert: a deferred isolation is re-checked as the rulebook's RDS.2 on the database.
    let queued = queue_messages(responder.alerting.rechecks(), &rechecks_of(threat, &outcomes)).await;
    let findings = delivered?;
    queued?;
    let detail = ThreatDetail { responses: outcomes, ..ThreatDetail::of(threat) };
    Ok(Summary::of(InvocationOutcome::Alerted, None).because(why_alerted).with_detail(detail).with_findings(findings))
}

/// The responses configured for this finding, run if they may be; returns the combined outcome for
/// the alert's `action`, each response's own outcome, and the role it acted as in the account (if
/// it acted there).
async fn respond(
    threat: &Threat,
    responses: &[Response],
    responder: &GuardDutyResponder,
    deadline: Deadline,
) -> (ActionOutcome, Vec<ActionOutcome>, Option<String>) {
    let not_attempted =
        |detail: String| (ActionOutcome::new(ActionKind::AlertOnly, ActionStatus::NotAttempted, detail), vec![], None);
    if threat.finding.sample {
        return not_attempted("GuardDuty sample finding: alerted as a sample; responses never run for samples".into());
    }
    if responses.is_empty() {
        return not_attempted(format!(
            "no response configured for {} (GUARDDUTY_RESPONSES)",
            threat.finding.finding_type
        ));
    }
    let (outcomes, acted_as) = if let Some(why) = &threat.inconsistency {
        (all(responses, ActionStatus::Skipped, why), None)
    } else if threat.finding.archived {
        let why = "the finding is archived in GuardDuty (triaged by someone): no response";
        (all(responses, ActionStatus::Skipped, why), None)
    } else {
        describe_and_run(threat, responses, responder, deadline).await
    };
    (combined(&outcomes), outcomes, acted_as)
}

async fn describe_and_run(
    threat: &Threat,
    responses: &[Response],
    responder: &GuardDutyResponder,
    deadline: Deadline,
) -> (Vec<ActionOutcome>, Option<String>) {
    let ports = match responder.connector.connect(&threat.account, &threat.region).await {
        Ok(ports) => ports,
        Err(e) => {
            error!(error = %e, account = %threat.account, "no session to respond with");
            return (all(responses, ActionStatus::Failed, &session_failure_detail(&threat.account, &e)), None);
        }
    };
    let acted_as = responder.connector.acting_as(&threat.account, &threat.region).await;
    let id = &threat.database.identifier;
    let described = match threat.database.kind {
        DatabaseKind::Instance => ports.databases.describe_instance(id).await.map(|s| s.map(Database::instance)),
        DatabaseKind::Cluster => ports.databases.describe_cluster(id).await.map(|s| s.map(Database::cluster)),
    };
    let outcomes = match described {
        Ok(Some(db)) => {
            run_responses(threat, &db, responses, &ports, &responder.policy, responder.confirmation, deadline).await
        }
        Ok(None) => {
            all(responses, ActionStatus::Skipped, &format!("database {id} no longer exists: nothing to respond on"))
        }
        Err(e) => all(responses, ActionStatus::Failed, &format!("cannot read the database: {e}")),
    };
    (outcomes, acted_as)
}

/// The re-checks of deferred responses: making the database private is RDS.2's fix, which the
/// re-check runs (with the rulebook's policy); a deferred snapshot or revoke is not re-run (the
/// alert says so; GuardDuty's next finding update runs the responses again).
fn rechecks_of(threat: &Threat, outcomes: &[ActionOutcome]) -> Vec<RecheckMessage> {
    let isolation_deferred =
        outcomes.iter().any(|o| o.kind == ActionKind::MakePrivate && o.status == ActionStatus::Deferred);
    let Some(resource) = RecheckResource::from_aws_type(threat.database.kind.aws_type()) else {
        return Vec::new();
    };
    if !isolation_deferred {
        return Vec::new();
    }
    vec![RecheckMessage::Resource(ResourceRecheck {
        account: threat.account.to_string(),
        region: threat.region.to_string(),
        resource,
        id: threat.database.identifier.clone(),
        rule: RuleId::Rds2PublicAccess.as_str().to_owned(),
        attempt: 1,
    })]
}

/// A few words for the subject, which SNS limits to 99 characters.
fn short_title(threat: &Threat) -> &'static str {
    let kind = threat.finding.finding_type.as_str();
    if threat.finding.sample {
        "SAMPLE finding"
    } else if kind.contains("SuccessfulBruteForce") {
        "brute-force login"
    } else if kind.contains("SuccessfulLogin") {
        "suspicious login"
    } else if kind.contains("FailedLogin") {
        "failed login attempts"
    } else if kind.starts_with("Discovery:") {
        "probed by bad IP"
    } else {
        RuleId::GuardDutyRdsThreat.short_title()
    }
}

/// What a responder needs, from the finding, in the alert's `observed`.
fn observed(threat: &Threat, seen: &Sighting, why_alerted: &str, responses: &[ActionOutcome]) -> Value {
    let f = &threat.finding;
    let mut o = Map::new();
    let mut put = |key: &str, value: Value| {
        if !value.is_null() {
            o.insert(key.to_owned(), value);
        }
    };
    put("sample", json!(f.sample));
    put("finding_id", json!(f.id));
    put("finding_type", json!(f.finding_type));
    put("finding_arn", json!(f.arn));
    put("guardduty_severity", json!(f.severity));
    put("severity_label", json!(threat.severity.as_str()));
    put("title", json!(f.title));
    put("description", json!(f.description));
    put("sighting", json!(if matches!(seen, Sighting::First(_)) { "first" } else { "update" }));
    put("why_alerted", json!(why_alerted));
    put("database", json!(f.database));
    put("db_user", json!(f.db_user));
    put("remote_ip", json!(f.remote_ip));
    if !f.login_attempts.is_empty() {
        put("login_attempts", json!(f.login_attempts));
    }
    put("unusual_behavior", f.unusual_behavior.clone().unwrap_or(Value::Null));
    put("count", json!(f.count));
    put("first_seen", json!(f.first_seen));
    put("last_seen", json!(f.last_seen));
    put("created_at", json!(f.created_at));
    put("updated_at", json!(f.updated_at));
    put("archived", json!(f.archived));
    put("console_url", json!(finding_console_url(&threat.region, &f.id)));
    if !responses.is_empty() {
        put("responses", json!(responses));
    }
    Value::Object(o)
}
