//! The calls that switch off or weaken what watches the estate, and what each one means.

/// One kind of tampering, as told by CloudTrail's eventSource and eventName (and, for
/// UpdateDetector, its request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tampering {
    StopLogging,
    DeleteTrail,
    UpdateTrail,
    PutEventSelectors,
    DeleteDetector,
    /// UpdateDetector with `enable: false`.
    DisableDetector,
    /// UpdateDetector that sets protection features (RDS login monitoring, S3 logs...) DISABLED.
    DisableDetectorFeatures,
    /// DisassociateFromAdministratorAccount / DisassociateFromMasterAccount: a member leaves its
    /// GuardDuty administrator, whose findings then no longer include this account.
    LeaveAdministrator,
    /// DeleteMembers: an administrator drops member accounts.
    DeleteMembers,
    DisableRule,
    DeleteRule,
    RemoveTargets,
}

/// What the call was aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watcher {
    Trail,
    Detector,
    SuiteRule,
}

impl Watcher {
    /// The CloudFormation type name used in alerts.
    pub fn resource_type(self) -> &'static str {
        match self {
            Self::Trail => "AWS::CloudTrail::Trail",
            Self::Detector => "AWS::GuardDuty::Detector",
            Self::SuiteRule => "AWS::Events::Rule",
        }
    }
}

pub const CLOUDTRAIL_SOURCE: &str = "cloudtrail.amazonaws.com";
pub const GUARDDUTY_SOURCE: &str = "guardduty.amazonaws.com";
pub const EVENTS_SOURCE: &str = "events.amazonaws.com";

/// Every (eventSource, eventName) pipeline-guard handles. Matching on both matters: several
/// services have calls of the same name.
pub const HANDLED_CALLS: &[(&str, &str, Tampering)] = &[
    (CLOUDTRAIL_SOURCE, "StopLogging", Tampering::StopLogging),
    (CLOUDTRAIL_SOURCE, "DeleteTrail", Tampering::DeleteTrail),
    (CLOUDTRAIL_SOURCE, "UpdateTrail", Tampering::UpdateTrail),
    (CLOUDTRAIL_SOURCE, "PutEventSelectors", Tampering::PutEventSelectors),
    (GUARDDUTY_SOURCE, "DeleteDetector", Tampering::DeleteDetector),
    // Refined from the request: enable=false, or features set DISABLED (see target.rs).
    (GUARDDUTY_SOURCE, "UpdateDetector", Tampering::DisableDetector),
    (GUARDDUTY_SOURCE, "DisassociateFromMasterAccount", Tampering::LeaveAdministrator),
    (GUARDDUTY_SOURCE, "DisassociateFromAdministratorAccount", Tampering::LeaveAdministrator),
    (GUARDDUTY_SOURCE, "DeleteMembers", Tampering::DeleteMembers),
    (EVENTS_SOURCE, "DisableRule", Tampering::DisableRule),
    (EVENTS_SOURCE, "DeleteRule", Tampering::DeleteRule),
    (EVENTS_SOURCE, "RemoveTargets", Tampering::RemoveTargets),
];

/// The EventBridge `source` of each eventSource's "AWS API Call via CloudTrail" events.
pub const EVENTBRIDGE_SOURCES: &[(&str, &str)] =
    &[(CLOUDTRAIL_SOURCE, "aws.cloudtrail"), (GUARDDUTY_SOURCE, "aws.guardduty"), (EVENTS_SOURCE, "aws.events")];

/// The event names pipeline-guard handles from one eventSource.
pub fn handled_calls(event_source: &str) -> impl Iterator<Item = &'static str> + '_ {
    HANDLED_CALLS.iter().filter(move |(source, _, _)| *source == event_source).map(|(_, name, _)| *name)
}

impl Tampering {
    pub fn watcher(self) -> Watcher {
        match self {
            Self::StopLogging | Self::DeleteTrail | Self::UpdateTrail | Self::PutEventSelectors => Watcher::Trail,
            Self::DeleteDetector
            | Self::DisableDetector
            | Self::DisableDetectorFeatures
            | Self::LeaveAdministrator
            | Self::DeleteMembers => Watcher::Detector,
            Self::DisableRule | Self::DeleteRule | Self::RemoveTargets => Watcher::SuiteRule,
        }
    }

    /// For alert subjects (which SNS limits to 99 characters): what happened, in a few words.
    pub fn short_title(self) -> &'static str {
        match self {
            Self::StopLogging => "trail logging stopped",
            Self::DeleteTrail => "trail deleted",
            Self::UpdateTrail => "trail reconfigured",
            Self::PutEventSelectors => "trail selectors changed",
            Self::DeleteDetector => "detector deleted",
            Self::DisableDetector => "detector disabled",
            Self::DisableDetectorFeatures => "detector features disabled",
            Self::LeaveAdministrator => "left GuardDuty administrator",
            Self::DeleteMembers => "GuardDuty members removed",
            Self::DisableRule => "suite rule disabled",
            Self::DeleteRule => "suite rule deleted",
            Self::RemoveTargets => "suite rule targets removed",
        }
    }

    /// For alert subjects of a call that failed.
    pub fn attempt_short_title(self) -> &'static str {
        match self {
            Self::StopLogging => "tried to stop trail logging",
            Self::DeleteTrail => "tried to delete trail",
            Self::UpdateTrail => "tried to reconfigure trail",
            Self::PutEventSelectors => "tried to change selectors",
            Self::DeleteDetector => "tried to delete detector",
            Self::DisableDetector => "tried to disable detector",
            Self::DisableDetectorFeatures => "tried to disable features",
            Self::LeaveAdministrator => "tried to leave administrator",
            Self::DeleteMembers => "tried to remove members",
            Self::DisableRule => "tried to disable suite rule",
            Self::DeleteRule => "tried to delete suite rule",
            Self::RemoveTargets => "tried to remove rule targets",
        }
    }

    /// The alert title: what the call does to the estate's defences.
    pub fn title(self) -> &'static str {
        match self {
            Self::StopLogging => "CloudTrail logging was stopped: API calls on this trail are no longer recorded",
            Self::DeleteTrail => "A CloudTrail trail was deleted: its API call record ends here",
            Self::UpdateTrail => "A CloudTrail trail was reconfigured: its destination or coverage may have changed",
            Self::PutEventSelectors => {
                "CloudTrail event selectors were changed: some API calls may no longer be recorded"
            }
            Self::DeleteDetector => "A GuardDuty detector was deleted: threat detection is off in this region",
            Self::DisableDetector => "A GuardDuty detector was disabled: threat detection is off in this region",
            Self::DisableDetectorFeatures => {
                "GuardDuty protection features were disabled (for example RDS login activity monitoring)"
            }
            Self::LeaveAdministrator => {
                "The account left its GuardDuty administrator: its findings no longer reach the security team"
            }
            Self::DeleteMembers => {
                "Member accounts were removed from GuardDuty: their findings no longer reach the administrator"
            }
            Self::DisableRule => {
                "An rdsguard EventBridge rule was disabled: the events it delivers no longer reach rdsguard"
            }
            Self::DeleteRule => {
                "An rdsguard EventBridge rule was deleted: the events it delivered no longer reach rdsguard"
            }
            Self::RemoveTargets => {
                "Targets were removed from an rdsguard EventBridge rule: its events may no longer reach rdsguard"
            }
        }
    }

    /// Why nothing is restored automatically, for what pipeline-guard does not undo; `None` for
    /// what it switches back on (StopLogging, DisableDetector).
    pub fn why_not_restored(self) -> Option<&'static str> {
        match self {
            Self::StopLogging | Self::DisableDetector => None,
            Self::DeleteTrail => Some("a deleted trail cannot be restored (its configuration is gone): recreate it with CreateTrail and StartLogging"),
            Self::UpdateTrail => Some("the previous trail configuration is not known to rdsguard: compare RequestParameters with your baseline and restore it with UpdateTrail"),
            Self::PutEventSelectors => Some("the previous event selectors are not known to rdsguard: compare RequestParameters with your baseline and restore them with PutEventSelectors"),
            Self::DeleteDetector => Some("a deleted detector cannot be restored (its findings and settings are gone): create a new one with CreateDetector and re-enable its protection plans"),
            Self::DisableDetectorFeatures => Some("re-enable the features with UpdateDetector Features=[{Name, Status: ENABLED}] after checking why they were disabled"),
            Self::LeaveAdministrator => Some("re-joining needs an invitation from the administrator account (CreateMembers, then AcceptAdministratorInvitation in this account)"),
            Self::DeleteMembers => Some("the administrator must add the accounts again (CreateMembers) and they must accept the invitation"),
            Self::DisableRule => Some("re-enable the rule with EnableRule (or redeploy the stack) after checking who disabled it"),
            Self::DeleteRule => Some("a deleted rule cannot be restored by rdsguard: redeploy the stack to recreate it"),
            Self::RemoveTargets => Some("redeploy the stack to restore the rule's targets"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_is_named_once_per_source() {
        let mut seen = std::collections::BTreeSet::new();
        for (source, name, _) in HANDLED_CALLS {
            assert!(seen.insert((*source, *name)), "{source} {name} listed twice");
            assert!(EVENTBRIDGE_SOURCES.iter().any(|(s, _)| s == source), "{source} has no EventBridge source");
        }
        assert_eq!(handled_calls(CLOUDTRAIL_SOURCE).count(), 4);
        assert_eq!(handled_calls(GUARDDUTY_SOURCE).count(), 5);
        assert_eq!(handled_calls(EVENTS_SOURCE).count(), 3);
    }

    #[test]
    fn only_logging_and_detectors_are_restored() {
        for (_, _, kind) in HANDLED_CALLS {
            let restored = matches!(kind, Tampering::StopLogging | Tampering::DisableDetector);
            assert_eq!(kind.why_not_restored().is_none(), restored, "{kind:?}");
            assert!(kind.short_title().len() <= 28 && kind.attempt_short_title().len() <= 28, "{kind:?}");
        }
    }
}
