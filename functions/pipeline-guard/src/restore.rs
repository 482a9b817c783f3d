//! Switching logging and detection back on, confirmed by reading the state back.
//!
//! Each restore first reads the current state (a trail that is logging again, or a detector that
//! is enabled again, needs nothing; one that no longer exists cannot be restored), then applies the
//! exemption tag and the policy (`RULE_ACTIONS` for RDSGUARD.PIPELINE, `MODE`), then makes the one
//! call and re-reads until the state shows it worked.

use rdsguard::aws::{AwsError, DetectorControl, TrailLogging};
use rdsguard::policy::Policy;
use std::time::Duration;

use rdsguard::action::{ActionKind, ActionOutcome, ActionStatus};
use rdsguard::kernel::Deadline;
use rdsguard::remediate::{self, policy_gate, Confirmation, Confirmed, Read};
use rdsguard::rules::RuleId;

const RULE: RuleId = RuleId::PipelineTampered;

/// StartLogging on a trail someone stopped. `trail` is the name or ARN from the call; `trail_arn`
/// its ARN (ListTags wants one).
pub async fn restore_logging(
    trail: &str,
    trail_arn: &str,
    trails: &dyn TrailLogging,
    policy: &Policy,
    confirm: Confirmation,
) -> ActionOutcome {
    let outcome = |status, detail: String| ActionOutcome::new(ActionKind::StartLogging, status, detail);
    match trails.is_logging(trail).await {
        Err(e) => return outcome(ActionStatus::Failed, format!("cannot read the trail's status: {e}")),
        Ok(None) => {
            return outcome(ActionStatus::Skipped, format!("trail {trail} no longer exists: nothing to restart"))
        }
        Ok(Some(true)) => {
            return outcome(ActionStatus::Skipped, "the trail is logging again (GetTrailStatus IsLogging=true)".into())
        }
        Ok(Some(false)) => {}
    }
    let tags = match trails.trail_tags(trail_arn).await {
        Ok(tags) => tags,
        Err(e) => {
            return outcome(ActionStatus::Failed, format!("cannot read the trail's tags to check exemption: {e}"))
        }
    };
    if let Err(gated) = policy_gate(RULE, &tags, policy) {
        return gated;
    }
    if let Err(e) = trails.start_logging(trail).await {
        return outcome(ActionStatus::Failed, e.to_string());
    }
    let confirmed = confirm_state(confirm, async || trails.is_logging(trail).await.map(|s| s == Some(true))).await;
    match confirmed {
        Ok(true) => {
            outcome(ActionStatus::Succeeded, "StartLogging applied; GetTrailStatus reports IsLogging=true".into())
        }
        Ok(false) => outcome(
            ActionStatus::Failed,
            format!(
                "StartLogging accepted, but after {}s GetTrailStatus still reports IsLogging=false",
                waited(confirm)
            ),
        ),
        Err(e) => {
            outcome(ActionStatus::Failed, format!("StartLogging accepted, but the status cannot be read back: {e}"))
        }
    }
}

/// UpdateDetector Enable=true on a detector someone disabled.
pub async fn restore_detector(
    detector_id: &str,
    detectors: &dyn DetectorControl,
    policy: &Policy,
    confirm: Confirmation,
) -> ActionOutcome {
    let outcome = |status, detail: String| ActionOutcome::new(ActionKind::EnableDetector, status, detail);
    let detector = match detectors.detector(detector_id).await {
        Err(e) => return outcome(ActionStatus::Failed, format!("cannot read the detector: {e}")),
        Ok(None) => {
            return outcome(
                ActionStatus::Skipped,
                format!("detector {detector_id} no longer exists: nothing to enable"),
            )
        }
        Ok(Some(detector)) => detector,
    };
    if detector.is_enabled() {
        return outcome(ActionStatus::Skipped, "the detector is enabled again (GetDetector Status=ENABLED)".into());
    }
    if let Err(gated) = policy_gate(RULE, &detector.tags, policy) {
        return gated;
    }
    if let Err(e) = detectors.enable_detector(detector_id).await {
        return outcome(ActionStatus::Failed, e.to_string());
    }
    let confirmed = confirm_state(confirm, async || {
        detectors.detector(detector_id).await.map(|d| d.is_some_and(|d| d.is_enabled()))
    })
    .await;
    match confirmed {
        Ok(true) => outcome(
            ActionStatus::Succeeded,
            "UpdateDetector Enable=true applied; GetDetector reports Status=ENABLED".into(),
        ),
        Ok(false) => outcome(
            ActionStatus::Failed,
            format!(
                "UpdateDetector accepted, but after {}s GetDetector does not report Status=ENABLED",
                waited(confirm)
            ),
        ),
        Err(e) => {
            outcome(ActionStatus::Failed, format!("UpdateDetector accepted, but the status cannot be read back: {e}"))
        }
    }
}

/// Reads the state with [`rdsguard::remediate::confirm`] (pipeline-guard's restores are bounded by
/// `confirm` alone) until it is as wanted: `Ok(false)` when every read said not yet.
async fn confirm_state(
    confirm: Confirmation,
    mut read: impl AsyncFnMut() -> Result<bool, AwsError>,
) -> Result<bool, AwsError> {
    let confirmed = remediate::confirm(confirm, Deadline::none(), Duration::ZERO, async || match read().await {
        Ok(true) => Read::Ready(()),
        Ok(false) => Read::NotYet,
        Err(error) => Read::Failed(error),
    })
    .await;
    match confirmed {
        Confirmed::Ready(()) => Ok(true),
        Confirmed::Failed(error) => Err(error),
        Confirmed::NotYet | Confirmed::DeadlineReached => Ok(false),
    }
}

fn waited(confirm: Confirmation) -> u64 {
    confirm.waited().as_secs()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use async_trait::async_trait;
    use rdsguard::aws::DetectorState;

    use super::*;

    const QUICK: Confirmation = Confirmation { attempts: 2, delay: Duration::from_millis(1) };

    fn policy(vars: &[(&str, &str)]) -> Policy {
        let mut all = vec![("ALERT_TOPIC_ARN".to_owned(), "arn:aws:sns:us-east-1:123456789012:t".to_owned())];
        all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Policy::from_vars(all).unwrap()
    }

    /// A trail whose status answers are scripted, one per read (the last repeats).
    struct ScriptedTrail {
        statuses: Mutex<Vec<Result<Option<bool>, AwsError>>>,
        tags: Vec<(String, String)>,
        start_error: Option<AwsError>,
        started: Mutex<u32>,
    }

    fn trail(statuses: Vec<Result<Option<bool>, AwsError>>) -> ScriptedTrail {
        ScriptedTrail { statuses: Mutex::new(statuses), tags: Vec::new(), start_error: None, started: Mutex::new(0) }
    }

    #[async_trait]
    impl TrailLogging for ScriptedTrail {
        async fn is_logging(&self, _: &str) -> Result<Option<bool>, AwsError> {
            let mut statuses = self.statuses.lock().unwrap();
            if statuses.len() > 1 {
                statuses.remove(0)
            } else {
                statuses[0].clone()
            }
        }
        async fn start_logging(&self, _: &str) -> Result<(), AwsError> {
            *self.started.lock().unwrap() += 1;
            self.start_error.clone().map_or(Ok(()), Err)
        }
        async fn trail_tags(&self, _: &str) -> Result<Vec<(String, String)>, AwsError> {
            Ok(self.tags.clone())
        }
    }

    fn error(operation: &'static str, code: &str) -> AwsError {
        AwsError { operation, code: Some(code.into()), message: "no".into() }
    }

    #[tokio::test]
    async fn logging_is_restarted_and_confirmed_or_left_alone_with_a_reason() {
        use ActionStatus::*;
        let defaults = policy(&[]);
        let alert_mode = policy(&[("MODE", "alert")]);
        let rule_alert = policy(&[("RULE_ACTIONS", "RDSGUARD.PIPELINE=alert")]);
        let exempt_tags = vec![("rdsguard:exempt".to_owned(), "RDSGUARD.PIPELINE".to_owned())];
        type Case<'a> = (&'a str, ScriptedTrail, &'a Policy, ActionStatus, &'a str, u32);
        let cases: Vec<Case> = vec![
            ("restarted", trail(vec![Ok(Some(false)), Ok(Some(true))]), &defaults, Succeeded, "IsLogging=true", 1),
            (
                "slow to show",
                trail(vec![Ok(Some(false)), Ok(Some(false)), Ok(Some(true))]),
                &defaults,
                Succeeded,
                "IsLogging=true",
                1,
            ),
            ("never shows", trail(vec![Ok(Some(false))]), &defaults, Failed, "still reports IsLogging=false", 1),
            ("already logging", trail(vec![Ok(Some(true))]), &defaults, Skipped, "logging again", 0),
            ("gone", trail(vec![Ok(None)]), &defaults, Skipped, "no longer exists", 0),
            (
                "unreadable",
                trail(vec![Err(error("GetTrailStatus", "AccessDenied"))]),
                &defaults,
                Failed,
                "GetTrailStatus failed: AccessDenied",
                0,
            ),
            ("alert mode", trail(vec![Ok(Some(false))]), &alert_mode, NotAttempted, "MODE=alert", 0),
            (
                "rule set to alert",
                trail(vec![Ok(Some(false))]),
                &rule_alert,
                NotAttempted,
                "policy for RDSGUARD.PIPELINE is alert",
                0,
            ),
            (
                "exempt",
                ScriptedTrail { tags: exempt_tags.clone(), ..trail(vec![Ok(Some(false))]) },
                &defaults,
                Skipped,
                "exempt: resource is tagged rdsguard:exempt=RDSGUARD.PIPELINE",
                0,
            ),
            (
                "start refused",
                ScriptedTrail {
                    start_error: Some(error("StartLogging", "AccessDenied")),
                    ..trail(vec![Ok(Some(false))])
                },
                &defaults,
                Failed,
                "StartLogging failed: AccessDenied",
                1,
            ),
        ];
        for (name, port, policy, status, detail, starts) in cases {
            let outcome =
                restore_logging("t", "arn:aws:cloudtrail:us-east-1:123456789012:trail/t", &port, policy, QUICK).await;
            assert_eq!(outcome.status, status, "{name}: {}", outcome.detail);
            assert!(outcome.detail.contains(detail), "{name}: {}", outcome.detail);
            assert_eq!(*port.started.lock().unwrap(), starts, "{name}: StartLogging calls");
        }
    }

    struct ScriptedDetector {
        states: Mutex<Vec<Option<&'static str>>>,
        enabled: Mutex<u32>,
    }

    #[async_trait]
    impl DetectorControl for ScriptedDetector {
        async fn detector(&self, _: &str) -> Result<Option<DetectorState>, AwsError> {
            let mut states = self.states.lock().unwrap();
            let state = if states.len() > 1 { states.remove(0) } else { states[0] };
            Ok(state.map(|status| DetectorState { status: status.to_owned(), tags: Vec::new() }))
        }
        async fn enable_detector(&self, _: &str) -> Result<(), AwsError> {
            *self.enabled.lock().unwrap() += 1;
            Ok(())
        }
    }

    #[tokio::test]
    async fn detectors_are_enabled_and_confirmed() {
        use ActionStatus::*;
        let cases = [
            ("enabled", vec![Some("DISABLED"), Some("ENABLED")], Succeeded, "Status=ENABLED", 1),
            ("stays disabled", vec![Some("DISABLED")], Failed, "does not report Status=ENABLED", 1),
            ("already enabled", vec![Some("ENABLED")], Skipped, "enabled again", 0),
            ("deleted", vec![None], Skipped, "no longer exists", 0),
        ];
        for (name, states, status, detail, calls) in cases {
            let port = ScriptedDetector { states: Mutex::new(states), enabled: Mutex::new(0) };
            let outcome = restore_detector("d1", &port, &policy(&[]), QUICK).await;
            assert_eq!(outcome.status, status, "{name}: {}", outcome.detail);
            assert!(outcome.detail.contains(detail), "{name}: {}", outcome.detail);
            assert_eq!(*port.enabled.lock().unwrap(), calls, "{name}");
        }
    }
}
