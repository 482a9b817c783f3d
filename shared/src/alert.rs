//! The alert a security team receives: one SNS message per finding.
//!
//! Body: JSON (documented in README "Alert format"). Subject: one readable ASCII line of at most
//! 100 characters, as SNS requires. Message attributes carry `severity`, `rule`, `account` and
//! `action_status` so subscriptions can filter.

use serde::Serialize;
use serde_json::Value;

use crate::action::{ActionKind, ActionOutcome, ActionStatus};
use crate::finding::{EventContext, Finding};
use crate::ledger::{AlertLifecycle, AlertReason, LedgerItem};
use crate::rules::Severity;

/// Version of the alert body; bumped on any incompatible change.
pub const ALERT_SCHEMA_VERSION: &str = "1";
/// SNS wants subjects "less than 100 characters".
const SUBJECT_MAX: usize = 99;
/// The fewest characters of a resource id a shortened subject keeps (with `...` in the middle).
const MIN_SUBJECT_ID: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub schema_version: &'static str,
    pub rule: String,
    pub title: String,
    #[serde(skip)]
    pub short_title: String,
    pub severity: String,
    pub account: String,
    pub region: String,
    /// ARN of the resource.
    pub resource: String,
    /// `AWS::RDS::DBInstance`, `AWS::RDS::DBCluster`, `AWS::EC2::SecurityGroup`...
    pub resource_type: &'static str,
    pub resource_id: String,
    pub actor: String,
    pub event_id: String,
    pub event_name: String,
    pub event_time: Option<String>,
    pub observed: Value,
    pub action: ActionOutcome,
    /// The rdsguard function that raised it.
    pub source: String,
    /// The IAM role rdsguard acted as in the resource's account: the member role it assumed
    /// (`arn:<partition>:iam::<account>:role/<MEMBER_ROLE_NAME>`) or, in its own account, the
    /// function's own role. `null` when it could not act there at all (see `action.detail`).
    pub acted_as: Option<String>,
    /// `finding_id`, `finding_status`, `first_seen`, `occurrences`, `transition` (and
    /// `resolved_by`) from the findings ledger; absent when FINDINGS_TABLE is unset or the ledger
    /// could not be reached.
    #[serde(flatten)]
    pub lifecycle: Option<AlertLifecycle>,
}

impl Alert {
    pub fn new(finding: &Finding, event: &EventContext, action: ActionOutcome, source: &str) -> Self {
        Self {
            schema_version: ALERT_SCHEMA_VERSION,
            rule: finding.rule.as_str().to_owned(),
            title: finding.title.to_owned(),
            short_title: finding.headline.clone().unwrap_or_else(|| finding.short_title.to_owned()),
            severity: finding.severity.as_str().to_owned(),
            account: finding.account.to_string(),
            region: finding.region.to_string(),
            resource: finding.resource.clone(),
            resource_type: finding.resource_type,
            resource_id: finding.resource_id.clone(),
            actor: event.actor.clone(),
            event_id: event.event_id.clone(),
            event_name: event.event_name.clone(),
            event_time: event.event_time.clone(),
            observed: finding.observed.clone(),
            action,
            source: source.to_owned(),
            acted_as: None,
            lifecycle: None,
        }
    }

    /// The INFORMATIONAL alert that a finding was resolved by someone other than rdsguard:
    /// `cleared` is the rule found compliant on the resource, `item` the ledger's record of it.
    /// A finding cleared because it is no longer seen ([`crate::ledger::unseen`]) says why in
    /// `observed.resolution`.
    pub fn resolved(cleared: &Finding, event: &EventContext, item: &LedgerItem, source: &str) -> Self {
        let why = cleared.observed[crate::ledger::unseen::RESOLUTION_KEY].as_str().unwrap_or("the rule holds again");
        let detail = format!(
            "resolved by someone other than rdsguard: {why} (first seen {}, seen {} times); \
             nothing for rdsguard to do",
            crate::ledger::rfc3339(item.first_seen),
            item.occurrences
        );
        let mut alert =
            Self::new(cleared, event, ActionOutcome::new(ActionKind::None, ActionStatus::NotAttempted, detail), source);
        alert.severity = Severity::Informational.as_str().to_owned();
        // What was wrong while it was open, for the reader of the resolution.
        let last = serde_json::from_str::<Value>(&item.evidence).unwrap_or(Value::String(item.evidence.clone()));
        let mut observed = serde_json::json!({ "compliant": true, "evidence_while_open": last });
        if let (Some(map), Value::Object(said)) = (observed.as_object_mut(), &cleared.observed) {
            map.extend(said.clone());
        }
        alert.observed = observed;
        alert.lifecycle = Some(AlertLifecycle::of(item, AlertReason::Resolved));
        alert
    }

    /// The alert an earlier invocation owed (it acted, then could neither publish nor keep its
    /// alert) published by the next check, which found `cleared` compliant: the action and status
    /// the ledger recorded in `item`, and what was wrong before.
    pub fn owed(cleared: &Finding, event: &EventContext, item: &LedgerItem, source: &str) -> Self {
        let word = |raw: &str| serde_json::Value::String(raw.to_owned());
        let kind = serde_json::from_value(word(&item.last_action)).unwrap_or(ActionKind::None);
        let status = serde_json::from_value(word(&item.last_action_status)).unwrap_or(ActionStatus::Succeeded);
        let detail = format!(
            "{}: {} {} on an earlier delivery of this event, whose alert could not be published; \
             this check finds the rule holding",
            item.last_action,
            item.last_action_status,
            item.last_event_id.as_deref().map(|id| format!("(event {id})")).unwrap_or_default()
        );
        let mut alert = Self::new(cleared, event, ActionOutcome::new(kind, status, detail), source);
        alert.severity = item.severity.clone();
        let last = serde_json::from_str::<Value>(&item.evidence).unwrap_or(Value::String(item.evidence.clone()));
        alert.observed = serde_json::json!({ "compliant": true, "evidence_before_the_action": last });
        alert.lifecycle = Some(AlertLifecycle::of(item, AlertReason::Unpublished));
        alert
    }

    /// The same alert, with what the ledger knows of the finding.
    pub fn with_lifecycle(mut self, lifecycle: Option<AlertLifecycle>) -> Self {
        self.lifecycle = lifecycle;
        self
    }

    /// The status word at the end of the subject: the action's, or `resolved`.
    fn outcome_word(&self) -> &str {
        match &self.lifecycle {
            Some(l) if l.transition == AlertReason::Resolved.as_str() => "resolved",
            _ => self.action.status.as_str(),
        }
    }

    /// The same alert, naming the role rdsguard acted as (see [`Alert::acted_as`]).
    pub fn acting_as(mut self, role: Option<&str>) -> Self {
        self.acted_as = role.map(str::to_owned);
        self
    }

    /// e.g. `CRITICAL RDS.2 cruddur-db-instance (123456789012/us-east-1): publicly accessible - succeeded`
    pub fn subject(&self) -> String {
        let readable = |text: &str| -> String {
            text.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' }).collect()
        };
        let compose = |resource_id: &str, with_region: bool| {
            let place = if with_region { format!("{}/{}", self.account, self.region) } else { self.account.clone() };
            readable(&format!("{} {} {resource_id} ({place}): {}", self.severity, self.rule, self.short_title))
        };
        // The outcome is what a reader scans for, then what is wrong: a long subject gives up the
        // region (it is in the body), then the middle of the resource id, then the end of the
        // title, never the outcome.
        let tail = readable(&format!(" - {}", self.outcome_word()));
        let fits = |head: &str| head.len() + tail.len() <= SUBJECT_MAX;
        let head = compose(&self.resource_id, true);
        if fits(&head) {
            return format!("{head}{tail}");
        }
        let head = compose(&self.resource_id, false);
        if fits(&head) {
            return format!("{head}{tail}");
        }
        let id = readable(&self.resource_id);
        let room_for_id = SUBJECT_MAX.saturating_sub(head.len() - id.len() + tail.len());
        if room_for_id >= MIN_SUBJECT_ID {
            let keep = room_for_id - 3;
            let (front, back) = (keep - keep / 3, keep / 3);
            return format!("{}{tail}", compose(&format!("{}...{}", &id[..front], &id[id.len() - back..]), false));
        }
        let room = SUBJECT_MAX.saturating_sub(tail.len() + 3);
        if room >= SUBJECT_MAX / 2 {
            format!("{}...{tail}", &head[..room])
        } else {
            // An outcome word too long to keep (never one of rdsguard's own) is cut like the rest.
            let full = format!("{head}{tail}");
            format!("{}...", &full[..SUBJECT_MAX - 3])
        }
    }

    /// SNS message attributes (all strings).
    pub fn attributes(&self) -> [(&'static str, String); 4] {
        [
            ("severity", self.severity.clone()),
            ("rule", self.rule.clone()),
            ("account", self.account.clone()),
            ("action_status", self.action.status.as_str().to_owned()),
        ]
    }

    pub fn body(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::database::{Database, DatabaseState};
    use crate::identity::{AccountId, AwsRegion};
    use crate::rules::RuleId;

    fn alert(id: &str) -> Alert {
        let db = Database::instance(DatabaseState { identifier: id.into(), ..DatabaseState::default() });
        let finding = Finding::new(
            RuleId::Rds2PublicAccess,
            &db,
            &AccountId::parse("123456789012").unwrap(),
            &AwsRegion::parse("us-east-1").unwrap(),
            json!({"PubliclyAccessible": true}),
        );
        let event = EventContext {
            event_id: "e-1".into(),
            event_name: "CreateDBInstance".into(),
            event_time: None,
            actor: "arn:aws:iam::123456789012:user/andrew".into(),
        };
        let action =
            ActionOutcome { kind: ActionKind::MakePrivate, status: ActionStatus::Succeeded, detail: "ok".into() };
        Alert::new(&finding, &event, action, "rds-guard")
    }

    #[test]
    fn body_has_the_documented_fields() {
        let body: Value = serde_json::from_str(&alert("cruddur-db-instance").body().unwrap()).unwrap();
        for key in [
            "rule",
            "title",
            "severity",
            "account",
            "region",
            "resource",
            "actor",
            "event_id",
            "event_name",
            "observed",
            "action",
            "acted_as",
        ] {
            assert!(body.get(key).is_some(), "missing {key}");
        }
        assert_eq!(body["rule"], "RDS.2");
        assert_eq!(body["severity"], "CRITICAL");
        assert_eq!(body["resource"], "arn:aws:rds:us-east-1:123456789012:db:cruddur-db-instance");
        assert_eq!(body["resource_type"], "AWS::RDS::DBInstance");
        assert_eq!(body["action"], json!({"kind": "make_private", "status": "succeeded", "detail": "ok"}));
        assert_eq!(body["acted_as"], Value::Null);
    }

    #[test]
    fn body_names_the_role_rdsguard_acted_as() {
        let role = "arn:aws:iam::210987654321:role/rdsguard-remediation";
        let body: Value = serde_json::from_str(&alert("db").acting_as(Some(role)).body().unwrap()).unwrap();
        assert_eq!(body["acted_as"], role);
    }

    #[test]
    fn subject_is_readable_ascii_and_short() {
        let short = alert("cruddur-db-instance").subject();
        assert_eq!(
            short,
            "CRITICAL RDS.2 cruddur-db-instance (123456789012/us-east-1): publicly accessible - succeeded"
        );
        let long = alert(&format!("orders-{}-primary", "x".repeat(60))).subject();
        assert_eq!(long.len(), 99);
        assert!(long.starts_with("CRITICAL RDS.2 orders-x"), "{long}");
        assert!(
            long.contains("...") && long.ends_with("-primary (123456789012): publicly accessible - succeeded"),
            "the id gives up its middle; the title and outcome survive: {long}"
        );
        let mut titled = alert("db");
        titled.short_title = "t".repeat(200);
        let cut = titled.subject();
        assert_eq!(cut.len(), 99);
        assert!(cut.ends_with("ttt... - succeeded"), "a long title is cut before the outcome: {cut}");
        let odd = alert("d\u{e9}j\u{e0}\nvu").subject();
        assert!(odd.is_ascii() && !odd.contains('\n'), "{odd}");
    }

    #[test]
    fn attributes_allow_filtering() {
        let attrs = alert("db").attributes();
        assert_eq!(attrs[0], ("severity", "CRITICAL".to_owned()));
        assert_eq!(attrs[3], ("action_status", "succeeded".to_owned()));
    }
}
