//! The lifecycle of a finding as a pure function: what the ledger held before, and what this
//! invocation saw, give the item to store and whether an alert is due, and why.
//!
//! Alerts go out on transitions only: a new finding; an action outcome that changed; evidence or
//! severity that changed; a finding that came back after it was resolved; an exemption (alerted
//! once); a resolution by someone other than rdsguard (INFORMATIONAL, unless ALERT_ON_RESOLVE is
//! false); a reminder when a finding is still open REALERT_AFTER_DAYS after its last alert; and an
//! alert that was claimed but never published. rdsguard's own confirmed fix resolves the finding at
//! once and its `succeeded` alert is the only one. The same open finding seen again only counts.

use super::item::{AlertState, FindingStatus, LedgerItem, ResolvedBy};

/// A claim older than this (Lambda's longest timeout) belongs to an invocation that is over: its
/// alert is owed again.
pub const CLAIM_TIMEOUT_SECS: i64 = 900;
/// How long a resolved item stays in the table (its DynamoDB TTL).
pub const RESOLVED_RETENTION_DAYS: i64 = 90;
const DAY_SECS: i64 = 86_400;

/// The settings of the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    /// One INFORMATIONAL alert when someone other than rdsguard resolves a finding (ALERT_ON_RESOLVE).
    pub alert_on_resolve: bool,
    /// Re-alert an open finding this many days after its last alert; 0 = never (REALERT_AFTER_DAYS).
    pub realert_after_days: u32,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self { alert_on_resolve: true, realert_after_days: 7 }
    }
}

/// Who a finding is about: what a new item is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingKey {
    pub finding_id: String,
    pub rule: String,
    pub title: String,
    pub account: String,
    pub region: String,
    pub resource: String,
    pub resource_type: String,
    pub resource_id: String,
    /// See [`LedgerItem::component`].
    pub component: Option<String>,
}

/// A violation as this invocation saw it, with what was done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub severity: String,
    /// Compact JSON of the evidence.
    pub evidence: String,
    pub action_kind: String,
    pub action_status: String,
    /// The resource is exempt from the rule (nothing was done).
    pub exempt: bool,
    /// rdsguard's fix succeeded and was confirmed: the rule holds now.
    pub fixed: bool,
    /// The event this invocation handles.
    pub event_id: String,
}

/// What this invocation saw for one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Violation(Violation),
    /// The rule holds (checked), or the resource is gone.
    Compliant,
}

/// Why an alert is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertReason {
    NewFinding,
    /// Resolved (or exempt) before, violated again.
    Reopened,
    ActionChanged,
    SeverityChanged,
    EvidenceChanged,
    Exempted,
    /// Resolved by someone other than rdsguard (the INFORMATIONAL "resolved" alert).
    Resolved,
    /// Still open REALERT_AFTER_DAYS after the last alert.
    Reminder,
    /// An earlier invocation claimed the alert but could not publish it.
    Unpublished,
}

impl AlertReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewFinding => "new",
            Self::Reopened => "reopened",
            Self::ActionChanged => "action_changed",
            Self::SeverityChanged => "severity_changed",
            Self::EvidenceChanged => "evidence_changed",
            Self::Exempted => "exempted",
            Self::Resolved => "resolved",
            Self::Reminder => "reminder",
            Self::Unpublished => "unpublished_retry",
        }
    }
}

/// Why no alert is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietReason {
    /// The same open finding, nothing changed since its last alert.
    SeenAgain,
    /// Exempt, and alerted as such already.
    StillExempt,
    /// Already resolved, still compliant.
    StillResolved,
    /// Compliant, and the ledger never held it.
    NotTracked,
    /// Resolved by someone else, and ALERT_ON_RESOLVE=false.
    ResolveAlertOff,
    /// An exempt finding's rule holds now.
    ExemptResolved,
    /// Another invocation claimed this alert moments ago and is publishing it.
    AlertInFlight,
    /// The same event again (a duplicate delivery or a concurrent invocation), nothing changed.
    SameEvent,
}

impl QuietReason {
    /// The note in the invocation summary.
    pub fn note(self) -> &'static str {
        match self {
            Self::SeenAgain => "finding unchanged since its last alert (ledger)",
            Self::StillExempt => "exempt finding, alerted once already (ledger)",
            Self::StillResolved => "finding already resolved (ledger)",
            Self::NotTracked => "compliant, not in the ledger",
            Self::ResolveAlertOff => "resolved by someone else; ALERT_ON_RESOLVE=false",
            Self::ExemptResolved => "exempt finding now compliant (ledger)",
            Self::AlertInFlight => "another invocation is publishing this alert (ledger)",
            Self::SameEvent => "the same event was judged already, nothing changed (ledger)",
        }
    }
}

/// Alert or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Alert(AlertReason),
    Quiet(QuietReason),
}

/// The item to store (`None`: nothing to write) and whether an alert is due.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub next: Option<LedgerItem>,
    pub due: Due,
}

/// The heart of the ledger. `previous`: the stored item, if any; `now`: epoch seconds. The next
/// item's version is one more than the previous one's (1 for a new item); its alert state is the
/// previous one's — the caller claims the alert (see [`AlertState::Claimed`]) when one is due.
pub fn transition(
    previous: Option<&LedgerItem>,
    key: &FindingKey,
    seen: &Seen,
    now: i64,
    lifecycle: &Lifecycle,
) -> Transition {
    match (previous, seen) {
        (None, Seen::Compliant) => Transition { next: None, due: Due::Quiet(QuietReason::NotTracked) },
        (None, Seen::Violation(violation)) => {
            let mut item = new_item(key, violation, now);
            set_status(&mut item, violation, now);
            let reason = if violation.exempt { AlertReason::Exempted } else { AlertReason::NewFinding };
            Transition { next: Some(item), due: Due::Alert(reason) }
        }
        (Some(previous), Seen::Violation(violation)) => seen_again(previous, violation, now, lifecycle),
        (Some(previous), Seen::Compliant) => now_compliant(previous, now, lifecycle),
    }
}

fn new_item(key: &FindingKey, violation: &Violation, now: i64) -> LedgerItem {
    LedgerItem {
        finding_id: key.finding_id.clone(),
        rule: key.rule.clone(),
        title: key.title.clone(),
        account: key.account.clone(),
        region: key.region.clone(),
        resource: key.resource.clone(),
        resource_type: key.resource_type.clone(),
        resource_id: key.resource_id.clone(),
        component: key.component.clone(),
        status: FindingStatus::Open,
        severity: violation.severity.clone(),
        first_seen: now,
        last_seen: now,
        occurrences: 1,
        last_action: violation.action_kind.clone(),
        last_action_status: violation.action_status.clone(),
        evidence: violation.evidence.clone(),
        last_event_id: Some(violation.event_id.clone()),
        last_alerted: None,
        last_alert_reason: None,
        last_alert_message_id: None,
        alert: AlertState::Settled,
        resolved_by: None,
        resolved_at: None,
        expires_at: None,
        version: 1,
    }
}

/// Open, exempt, or resolved by rdsguard's confirmed fix.
fn set_status(item: &mut LedgerItem, violation: &Violation, now: i64) {
    if violation.fixed {
        resolve(item, ResolvedBy::Rdsguard, now);
    } else {
        item.status = if violation.exempt { FindingStatus::Exempt } else { FindingStatus::Open };
        item.resolved_by = None;
        item.resolved_at = None;
        item.expires_at = None;
    }
}

fn resolve(item: &mut LedgerItem, by: ResolvedBy, now: i64) {
    item.status = FindingStatus::Resolved;
    item.resolved_by = Some(by);
    item.resolved_at = Some(now);
    item.expires_at = Some(now + RESOLVED_RETENTION_DAYS * DAY_SECS);
}

/// Whether the previous item still owes an alert nobody is publishing.
fn owes_alert(previous: &LedgerItem, now: i64) -> bool {
    match &previous.alert {
        AlertState::Settled => false,
        AlertState::Claimed { at, .. } => now - at >= CLAIM_TIMEOUT_SECS,
        AlertState::Unpublished { .. } => true,
    }
}

fn claim_in_flight(previous: &LedgerItem, now: i64) -> bool {
    matches!(&previous.alert, AlertState::Claimed { at, .. } if now - at < CLAIM_TIMEOUT_SECS)
}

fn seen_again(previous: &LedgerItem, violation: &Violation, now: i64, lifecycle: &Lifecycle) -> Transition {
    let mut next = previous.clone();
    next.version = previous.version + 1;
    next.last_seen = now;
    next.occurrences = previous.occurrences + 1;
    next.severity = violation.severity.clone();
    next.evidence = violation.evidence.clone();
    next.last_action = violation.action_kind.clone();
    next.last_action_status = violation.action_status.clone();
    next.last_event_id = Some(violation.event_id.clone());
    set_status(&mut next, violation, now);

    let action_changed =
        previous.last_action != violation.action_kind || previous.last_action_status != violation.action_status;
    let reminder_due = lifecycle.realert_after_days > 0
        && previous.status == FindingStatus::Open
        && now - previous.last_alerted.unwrap_or(previous.first_seen)
            >= i64::from(lifecycle.realert_after_days) * DAY_SECS;
    // A second invocation of the event that made this item what it is (two concurrent deliveries:
    // one fixed the database while the other was reading it) sees nothing new.
    let same_event = previous.last_event_id.as_deref() == Some(violation.event_id.as_str())
        && !action_changed
        && previous.severity == violation.severity
        && previous.evidence == violation.evidence;
    let reason = match previous.status {
        _ if same_event => None,
        FindingStatus::Resolved => Some(AlertReason::Reopened),
        FindingStatus::Exempt if violation.exempt => None,
        FindingStatus::Exempt => Some(AlertReason::Reopened),
        FindingStatus::Open if violation.exempt => Some(AlertReason::Exempted),
        FindingStatus::Open if action_changed => Some(AlertReason::ActionChanged),
        FindingStatus::Open if previous.severity != violation.severity => Some(AlertReason::SeverityChanged),
        FindingStatus::Open if previous.evidence != violation.evidence => Some(AlertReason::EvidenceChanged),
        FindingStatus::Open if reminder_due => Some(AlertReason::Reminder),
        FindingStatus::Open => None,
    };
    let reason = reason.or_else(|| owes_alert(previous, now).then_some(AlertReason::Unpublished));
    let due = match reason {
        Some(reason) => Due::Alert(reason),
        None if claim_in_flight(previous, now) => Due::Quiet(QuietReason::AlertInFlight),
        None if same_event => Due::Quiet(QuietReason::SameEvent),
        None if previous.status == FindingStatus::Exempt => Due::Quiet(QuietReason::StillExempt),
        None => Due::Quiet(QuietReason::SeenAgain),
    };
    Transition { next: Some(next), due }
}

fn now_compliant(previous: &LedgerItem, now: i64, lifecycle: &Lifecycle) -> Transition {
    let due = match previous.status {
        // Fixed by an invocation whose alert could not be published (SNS and the undelivered
        // queue down; Lambda retries the event): the retry finds the rule holding and owes that
        // alert, published now (never lost to the fix having worked).
        FindingStatus::Resolved if owes_alert(previous, now) => {
            let mut next = previous.clone();
            next.version = previous.version + 1;
            next.last_seen = now;
            return Transition { next: Some(next), due: Due::Alert(AlertReason::Unpublished) };
        }
        FindingStatus::Resolved => return Transition { next: None, due: Due::Quiet(QuietReason::StillResolved) },
        FindingStatus::Exempt => Due::Quiet(QuietReason::ExemptResolved),
        FindingStatus::Open if lifecycle.alert_on_resolve => Due::Alert(AlertReason::Resolved),
        FindingStatus::Open => Due::Quiet(QuietReason::ResolveAlertOff),
    };
    let mut next = previous.clone();
    next.version = previous.version + 1;
    next.last_seen = now;
    resolve(&mut next, ResolvedBy::Other, now);
    if !matches!(due, Due::Alert(_)) {
        // Whatever an earlier invocation owed was about the violation, which is over.
        next.alert = AlertState::Settled;
    }
    Transition { next: Some(next), due }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;
    const DAY: i64 = DAY_SECS;

    fn key() -> FindingKey {
        FindingKey {
            finding_id: "f1".into(),
            rule: "RDS.10".into(),
            title: "IAM authentication".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            resource: "arn:aws:rds:us-east-1:123456789012:db:db1".into(),
            resource_type: "AWS::RDS::DBInstance".into(),
            resource_id: "db1".into(),
            component: None,
        }
    }

    fn violation(action: &str, status: &str) -> Violation {
        Violation {
            severity: "MEDIUM".into(),
            evidence: r#"{"IAMDatabaseAuthenticationEnabled":false}"#.into(),
            action_kind: action.into(),
            action_status: status.into(),
            exempt: false,
            fixed: action != "alert_only" && status == "succeeded",
            event_id: "e-1".into(),
        }
    }

    fn alert_only() -> Violation {
        violation("alert_only", "not_attempted")
    }

    fn exempt() -> Violation {
        Violation { exempt: true, ..violation("none", "skipped") }
    }

    /// The item a first sighting of `v` at T0 (event `e-0`) stores, alerted and settled.
    fn stored(v: &Violation) -> LedgerItem {
        let first = Violation { event_id: "e-0".into(), ..v.clone() };
        let mut item = transition(None, &key(), &Seen::Violation(first), T0, &Lifecycle::default())
            .next
            .expect("a violation is stored");
        item.last_alerted = Some(T0);
        item
    }

    fn open() -> LedgerItem {
        stored(&alert_only())
    }

    /// (name, stored item, what is seen, now, settings, expected verdict, expected status after).
    type Case = (&'static str, Option<LedgerItem>, Seen, i64, Lifecycle, Due, Option<FindingStatus>);

    #[test]
    fn transitions() {
        let lifecycle = Lifecycle::default();
        let no_resolve_alert = Lifecycle { alert_on_resolve: false, ..lifecycle };
        let never_remind = Lifecycle { realert_after_days: 0, ..lifecycle };
        let higher = Violation { severity: "HIGH".into(), ..alert_only() };
        let other_evidence = Violation { evidence: r#"{"x":1}"#.into(), ..alert_only() };
        let resolved_by_fix = stored(&violation("make_private", "succeeded"));
        let resolved_elsewhere = transition(Some(&open()), &key(), &Seen::Compliant, T0 + 10, &lifecycle).next.unwrap();
        let claimed = |at| LedgerItem { alert: AlertState::Claimed { at, reason: "new".into() }, ..open() };
        let unpublished = LedgerItem { alert: AlertState::Unpublished { reason: "new".into() }, ..open() };
        use AlertReason as A;
        use Due::{Alert, Quiet};
        use FindingStatus::{Exempt, Open, Resolved};
        use QuietReason as Q;
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("new finding", None, Seen::Violation(alert_only()), T0, lifecycle, Alert(A::NewFinding), Some(Open)),
            ("new, fixed at once", None, Seen::Violation(violation("make_private", "succeeded")), T0, lifecycle, Alert(A::NewFinding), Some(Resolved)),
            ("new, exempt", None, Seen::Violation(exempt()), T0, lifecycle, Alert(A::Exempted), Some(Exempt)),
            ("compliant, never seen", None, Seen::Compliant, T0, lifecycle, Quiet(Q::NotTracked), None),
            ("same open finding again", Some(open()), Seen::Violation(alert_only()), T0 + 60, lifecycle, Quiet(Q::SeenAgain), Some(Open)),
            ("same event again", Some(open()), Seen::Violation(Violation { event_id: "e-0".into(), ..alert_only() }), T0 + 60, lifecycle, Quiet(Q::SameEvent), Some(Open)),
            ("fixed, the same event's twin sees it", Some(stored(&violation("make_private", "succeeded"))), Seen::Violation(Violation { event_id: "e-0".into(), ..violation("make_private", "succeeded") }), T0 + 1, lifecycle, Quiet(Q::SameEvent), Some(Resolved)),
            ("same event, action changed", Some(stored(&violation("make_private", "deferred"))), Seen::Violation(Violation { event_id: "e-0".into(), ..violation("make_private", "succeeded") }), T0 + 1, lifecycle, Alert(A::ActionChanged), Some(Resolved)),
            ("deferred -> succeeded", Some(stored(&violation("make_private", "deferred"))), Seen::Violation(violation("make_private", "succeeded")), T0 + 60, lifecycle, Alert(A::ActionChanged), Some(Resolved)),
            ("deferred -> failed", Some(stored(&violation("make_private", "deferred"))), Seen::Violation(violation("make_private", "failed")), T0 + 60, lifecycle, Alert(A::ActionChanged), Some(Open)),
            ("failed again", Some(stored(&violation("make_private", "failed"))), Seen::Violation(violation("make_private", "failed")), T0 + 60, lifecycle, Quiet(Q::SeenAgain), Some(Open)),
            ("severity changed", Some(open()), Seen::Violation(higher), T0 + 60, lifecycle, Alert(A::SeverityChanged), Some(Open)),
            ("evidence changed", Some(open()), Seen::Violation(other_evidence), T0 + 60, lifecycle, Alert(A::EvidenceChanged), Some(Open)),
            ("fixed by rdsguard, then compliant", Some(resolved_by_fix.clone()), Seen::Compliant, T0 + 60, lifecycle, Quiet(Q::StillResolved), None),
            ("fixed, its alert unpublished, then compliant", Some(LedgerItem { alert: AlertState::Unpublished { reason: "new".into() }, ..resolved_by_fix.clone() }), Seen::Compliant, T0 + 60, lifecycle, Alert(A::Unpublished), Some(Resolved)),
            ("resolved by someone else", Some(open()), Seen::Compliant, T0 + 60, lifecycle, Alert(A::Resolved), Some(Resolved)),
            ("resolved elsewhere, ALERT_ON_RESOLVE=false", Some(open()), Seen::Compliant, T0 + 60, no_resolve_alert, Quiet(Q::ResolveAlertOff), Some(Resolved)),
            ("resolved, still compliant", Some(resolved_elsewhere.clone()), Seen::Compliant, T0 + 60, lifecycle, Quiet(Q::StillResolved), None),
            ("resolved, violated again", Some(resolved_elsewhere), Seen::Violation(alert_only()), T0 + 60, lifecycle, Alert(A::Reopened), Some(Open)),
            ("fixed, broken and fixed again", Some(resolved_by_fix), Seen::Violation(violation("make_private", "succeeded")), T0 + 60, lifecycle, Alert(A::Reopened), Some(Resolved)),
            ("open finding exempted", Some(open()), Seen::Violation(exempt()), T0 + 60, lifecycle, Alert(A::Exempted), Some(Exempt)),
            ("exempt seen again", Some(stored(&exempt())), Seen::Violation(exempt()), T0 + 60, lifecycle, Quiet(Q::StillExempt), Some(Exempt)),
            ("exemption removed", Some(stored(&exempt())), Seen::Violation(alert_only()), T0 + 60, lifecycle, Alert(A::Reopened), Some(Open)),
            ("exempt, now compliant", Some(stored(&exempt())), Seen::Compliant, T0 + 60, lifecycle, Quiet(Q::ExemptResolved), Some(Resolved)),
            ("open 6 days 23 h", Some(open()), Seen::Violation(alert_only()), T0 + 7 * DAY - 3600, lifecycle, Quiet(Q::SeenAgain), Some(Open)),
            ("open 7 days: reminder", Some(open()), Seen::Violation(alert_only()), T0 + 7 * DAY, lifecycle, Alert(A::Reminder), Some(Open)),
            ("open a year, REALERT_AFTER_DAYS=0", Some(open()), Seen::Violation(alert_only()), T0 + 365 * DAY, never_remind, Quiet(Q::SeenAgain), Some(Open)),
            ("exempt a year: no reminder", Some(stored(&exempt())), Seen::Violation(exempt()), T0 + 365 * DAY, lifecycle, Quiet(Q::StillExempt), Some(Exempt)),
            ("claimed moments ago by another invocation", Some(claimed(T0)), Seen::Violation(alert_only()), T0 + 1, lifecycle, Quiet(Q::AlertInFlight), Some(Open)),
            ("claim of an invocation long over", Some(claimed(T0)), Seen::Violation(alert_only()), T0 + CLAIM_TIMEOUT_SECS, lifecycle, Alert(A::Unpublished), Some(Open)),
            ("claimed alert could not be published", Some(unpublished), Seen::Violation(alert_only()), T0 + 60, lifecycle, Alert(A::Unpublished), Some(Open)),
        ];
        for (name, previous, seen, now, lifecycle, due, status) in cases {
            let result = transition(previous.as_ref(), &key(), &seen, now, &lifecycle);
            assert_eq!(result.due, due, "{name}");
            assert_eq!(result.next.as_ref().map(|item| item.status), status, "{name}");
            if let (Some(previous), Some(next)) = (&previous, &result.next) {
                assert_eq!(next.version, previous.version + 1, "{name}: every write bumps the version");
                assert_eq!(next.first_seen, previous.first_seen, "{name}: first_seen is kept");
            }
        }
    }

    #[test]
    fn sightings_count_and_keep_first_seen() {
        let lifecycle = Lifecycle::default();
        let seen = Seen::Violation(alert_only());
        let first = transition(None, &key(), &seen, T0, &lifecycle).next.unwrap();
        let second = transition(Some(&first), &key(), &seen, T0 + 60, &lifecycle).next.unwrap();
        let third = transition(Some(&second), &key(), &seen, T0 + 120, &lifecycle).next.unwrap();
        assert_eq!((first.occurrences, second.occurrences, third.occurrences), (1, 2, 3));
        assert_eq!((third.first_seen, third.last_seen, third.version), (T0, T0 + 120, 3));
        assert_eq!((third.last_action.as_str(), third.last_action_status.as_str()), ("alert_only", "not_attempted"));
        assert_eq!(third.evidence, r#"{"IAMDatabaseAuthenticationEnabled":false}"#);
    }

    #[test]
    fn resolution_records_who_and_expires_the_item() {
        let lifecycle = Lifecycle::default();
        let fixed = transition(None, &key(), &Seen::Violation(violation("make_private", "succeeded")), T0, &lifecycle)
            .next
            .unwrap();
        assert_eq!(fixed.resolved_by, Some(ResolvedBy::Rdsguard));
        assert_eq!(fixed.expires_at, Some(T0 + RESOLVED_RETENTION_DAYS * DAY));
        let elsewhere = transition(Some(&open()), &key(), &Seen::Compliant, T0 + 5, &lifecycle).next.unwrap();
        assert_eq!((elsewhere.resolved_by, elsewhere.resolved_at), (Some(ResolvedBy::Other), Some(T0 + 5)));
        assert_eq!(elsewhere.occurrences, 1, "a compliant check is not an occurrence of the violation");
        let reopened =
            transition(Some(&elsewhere), &key(), &Seen::Violation(alert_only()), T0 + 9, &lifecycle).next.unwrap();
        assert_eq!((reopened.resolved_by, reopened.resolved_at, reopened.expires_at), (None, None, None));
        assert_eq!(reopened.occurrences, 2);
    }
}
