//! Whether a GuardDuty finding event is worth an alert, without keeping state.
//!
//! GuardDuty publishes a new finding to EventBridge within about 5 minutes of creating it, and that
//! event already includes every occurrence of the first 5 minutes. Later occurrences are aggregated
//! into the same finding id and published again, at most once per the detector's
//! FindingPublishingFrequency (15 minutes, 1 hour or 6 hours; 6 hours by default), with a larger
//! `service.count` and a later `updatedAt`. So, statelessly:
//!
//! * **First sight**: `updatedAt` is at most 5 minutes after `createdAt` — only the first
//!   publication can be. When either timestamp is missing or unreadable: `service.count` is 1 (or
//!   absent). First sight is always alerted.
//! * **Update**: anything else. An update is alerted when the finding is HIGH or CRITICAL now, so
//!   every rise *into* HIGH or CRITICAL is alerted, and a finding that stays HIGH is re-alerted at
//!   most once per publishing interval, which is also a reminder that the attack goes on. An update
//!   that is LOW or MEDIUM is only logged: telling a rise from LOW to MEDIUM apart from a finding
//!   that was MEDIUM all along needs the previous severity, which the event does not carry; rdsguard
//!   accepts that gap rather than keep a state store.
//! * **Sample findings** (`service.additionalInfo.sample`) are always alerted, as samples.

use crate::event::GuardDutyFinding;
use crate::rules::Severity;

/// How long after `createdAt` GuardDuty's first publication of a finding can be updated.
pub const FIRST_PUBLICATION_WINDOW_SECS: f64 = 300.0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sighting {
    /// The first publication of this finding id; the reason says how that was told.
    First(String),
    /// A later publication of a finding already seen.
    Update(String),
}

pub fn sighting(finding: &GuardDutyFinding) -> Sighting {
    let created = finding.created_at.as_deref().and_then(seconds_since_epoch);
    let updated = finding.updated_at.as_deref().and_then(seconds_since_epoch);
    if let (Some(created), Some(updated)) = (created, updated) {
        let after = updated - created;
        return if after <= FIRST_PUBLICATION_WINDOW_SECS {
            Sighting::First(format!("updatedAt is {after:.0}s after createdAt: GuardDuty's first publication"))
        } else {
            Sighting::Update(format!(
                "updatedAt is {} after createdAt (count {}): a later publication of an existing finding",
                human_duration(after),
                finding.count.map_or_else(|| "unknown".to_owned(), |c| c.to_string())
            ))
        };
    }
    match finding.count {
        None | Some(0 | 1) => Sighting::First(format!(
            "createdAt/updatedAt unreadable; count is {}",
            finding.count.map_or_else(|| "absent".to_owned(), |c| c.to_string())
        )),
        Some(count) => {
            Sighting::Update(format!("createdAt/updatedAt unreadable; count is {count}: an existing finding"))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertDecision {
    Alert(String),
    LogOnly(String),
}

pub fn decide_alert(sample: bool, sighting: &Sighting, severity: Severity) -> AlertDecision {
    match sighting {
        _ if sample => {
            AlertDecision::Alert("GuardDuty sample finding (alerted as a sample, never responded to)".into())
        }
        Sighting::First(why) => AlertDecision::Alert(format!("first sight ({why})")),
        Sighting::Update(why) if severity >= Severity::High => {
            AlertDecision::Alert(format!("update of a {} finding ({why})", severity.as_str()))
        }
        Sighting::Update(why) => AlertDecision::LogOnly(format!(
            "update of a {} finding, alerted when first seen ({why})",
            severity.as_str()
        )),
    }
}

/// An RFC 3339 timestamp (`2022-12-07T10:28:35.948Z`) as seconds since the epoch.
fn seconds_since_epoch(raw: &str) -> Option<f64> {
    use aws_sdk_rds::primitives::{DateTime, DateTimeFormat};
    let time = DateTime::from_str(raw.trim(), DateTimeFormat::DateTime).ok()?;
    Some(time.secs() as f64 + f64::from(time.subsec_nanos()) / 1e9)
}

fn human_duration(seconds: f64) -> String {
    let minutes = (seconds / 60.0).round() as i64;
    if minutes < 120 {
        format!("{minutes} min")
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::event::{parse_guardduty_event, GuardDutyEvent};

    fn finding(created: Value, updated: Value, count: Value, sample: bool) -> GuardDutyFinding {
        let payload = json!({"id": "f", "type": "Discovery:RDS/TorIPCaller", "severity": 5,
            "createdAt": created, "updatedAt": updated,
            "service": {"count": count, "additionalInfo": {"sample": sample}}});
        match parse_guardduty_event(&payload) {
            Ok(GuardDutyEvent::Finding(f)) => *f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn first_sight_and_updates() {
        let t0 = json!("2026-11-23T09:00:00.000Z");
        let cases = [
            ("same instant", t0.clone(), json!("2026-11-23T09:00:00.000Z"), json!(1), true),
            ("first 5 minutes aggregated", t0.clone(), json!("2026-11-23T09:04:59.999Z"), json!(7), true),
            ("exactly 5 minutes", t0.clone(), json!("2026-11-23T09:05:00Z"), json!(7), true),
            ("15 min later", t0.clone(), json!("2026-11-23T09:15:00.000Z"), json!(2), false),
            ("6 h later", t0.clone(), json!("2026-11-23T15:00:00Z"), json!(40), false),
            ("clock skew", t0.clone(), json!("2026-11-23T08:59:58Z"), json!(1), true),
            ("no timestamps, count 1", json!(null), json!(null), json!(1), true),
            ("no timestamps, no count", json!(null), json!(null), json!(null), true),
            ("unreadable timestamps, count 5", json!("yesterday"), json!("today"), json!(5), false),
            ("one timestamp, count 2", t0.clone(), json!(null), json!(2), false),
        ];
        for (name, created, updated, count, first) in cases {
            let got = sighting(&finding(created, updated, count, false));
            assert_eq!(matches!(got, Sighting::First(_)), first, "{name}: {got:?}");
        }
    }

    #[test]
    fn which_events_alert() {
        use Severity::*;
        let first = Sighting::First("new".into());
        let update = Sighting::Update("again".into());
        let cases = [
            (false, &first, Low, true),
            (false, &first, Critical, true),
            (false, &update, Low, false),
            (false, &update, Medium, false),
            (false, &update, High, true),
            (false, &update, Critical, true),
            (true, &update, Low, true),
            (true, &first, Medium, true),
        ];
        for (sample, sighting, severity, alerted) in cases {
            let decision = decide_alert(sample, sighting, severity);
            assert_eq!(matches!(decision, AlertDecision::Alert(_)), alerted, "{sample} {sighting:?} {severity:?}");
        }
        let AlertDecision::Alert(why) = decide_alert(true, &update, Low) else { panic!() };
        assert!(why.contains("sample"), "{why}");
        let AlertDecision::LogOnly(why) = decide_alert(false, &update, Medium) else { panic!() };
        assert!(why.contains("MEDIUM") && why.contains("again"), "{why}");
    }

    #[test]
    fn the_reason_says_how_far_apart_the_timestamps_are() {
        let f = finding(json!("2026-11-23T09:00:00Z"), json!("2026-11-23T15:00:00Z"), json!(40), false);
        let Sighting::Update(why) = sighting(&f) else { panic!() };
        assert!(why.contains("6.0 h after createdAt (count 40)"), "{why}");
    }
}
