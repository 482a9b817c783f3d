//! What an invocation of a guard function ends in: [`InvocationOutcome`] when it succeeds (the
//! summary's `outcome`), [`InvocationError`] when it fails (Lambda retries the event, then keeps it
//! in the dead-letter queue; `errorType` is [`InvocationError::kind`]). One vocabulary for every
//! function, so the `errorType` strings in logs, metrics and the DLQ mean the same everywhere.

use std::convert::Infallible;

use serde::Serialize;

use crate::aws::{AwsError, SessionError};
use crate::event::EventError;
use crate::ledger::EventBusy;
use crate::recheck::RecheckSendFailure;
use crate::report::PublishFailure;

use super::InvocationFailure;

/// How a successful invocation ended (`outcome` in its summary, snake_case in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvocationOutcome {
    /// The resources the event named were read and judged (findings alerted, if any).
    Checked,
    /// Nothing for this function in the event, or a rule turned off; `reason` says which.
    Ignored,
    /// The member account's role could not be assumed: alerted as `failed`, not retried.
    Unreachable,
    /// One alert about what the event showed (tampering, a GuardDuty finding).
    Alerted,
    /// A finding update not worth another alert: logged only.
    Logged,
    /// The guardrails were applied (custom resource Create/Update).
    Applied,
    /// The guardrails were removed (custom resource Delete).
    Removed,
    /// A custom resource request answered FAILED (the invocation itself succeeded).
    Failed,
    /// The scheduled drift check found the organisation as planned.
    InSync,
}

impl InvocationOutcome {
    /// The word in the summary's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Checked => "checked",
            Self::Ignored => "ignored",
            Self::Unreachable => "unreachable",
            Self::Alerted => "alerted",
            Self::Logged => "logged",
            Self::Applied => "applied",
            Self::Removed => "removed",
            Self::Failed => "failed",
            Self::InSync => "in_sync",
        }
    }
}

impl std::fmt::Display for InvocationOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an invocation of a guard function failed. `F` is what only one function can fail with
/// (guardrail-manager's Organizations and CloudFormation failures), with its own `errorType`;
/// the other functions have nothing of their own ([`Infallible`]).
#[derive(Debug, thiserror::Error)]
pub enum InvocationError<F = Infallible> {
    /// The event is one the function handles, but it cannot be acted on safely (a field missing
    /// or malformed): nothing was done.
    #[error("{function} handles this event but cannot act on it safely: {error}")]
    Event { function: &'static str, error: EventError },
    /// No session in the resource's account (a transient STS failure; an account that is not set
    /// up is alerted instead).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// A resource's current state could not be read; `alerted` outcomes reached before were
    /// published first.
    #[error("cannot read {what}: {error}{}", reached(*.alerted))]
    Describe { what: String, error: AwsError, alerted: usize },
    /// The deadline came before these resources could be checked; `alerted` outcomes reached
    /// before were published first.
    #[error("the invocation's deadline came before {} could be checked{}", unchecked.join(", "), reached(*.alerted))]
    OutOfTime { unchecked: Vec<String>, alerted: usize },
    /// Some alerts could be neither published nor kept in the undelivered-alert queue.
    #[error(transparent)]
    Publish(#[from] PublishFailure),
    /// Some re-checks of deferred fixes could not be queued (the alerts were out first).
    #[error(transparent)]
    Recheck(#[from] RecheckSendFailure),
    /// Another invocation is handling the same event (a concurrent delivery) and had not finished
    /// by this one's deadline: nothing was done; Lambda delivers the event again.
    #[error(transparent)]
    EventBusy(#[from] EventBusy),
    /// A failure only this function has.
    #[error(transparent)]
    Function(F),
}

/// `; the N outcome(s) already reached were alerted first`, for the error message.
fn reached(alerted: usize) -> String {
    if alerted == 0 {
        String::new()
    } else {
        format!("; the {alerted} outcome(s) already reached were alerted first")
    }
}

impl<F> InvocationError<F> {
    /// The event `function` handles cannot be acted on.
    pub fn event(function: &'static str, error: impl Into<EventError>) -> Self {
        Self::Event { function, error: error.into() }
    }

    /// The resource state named by `what` could not be read (nothing alerted yet).
    pub fn describe(what: impl Into<String>, error: AwsError) -> Self {
        Self::Describe { what: what.into(), error, alerted: 0 }
    }

    /// Records that `n` outcomes were alerted before the invocation failed (for the message).
    pub fn after_alerting(mut self, n: usize) -> Self {
        if let Self::Describe { alerted, .. } | Self::OutOfTime { alerted, .. } = &mut self {
            *alerted = n;
        }
        self
    }
}

impl<F: InvocationFailure> InvocationError<F> {
    /// Short error type reported to Lambda (shows as `errorType` in logs and the DLQ).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Event { .. } => "UnusableEvent",
            Self::Session(_) => "AccountSessionFailed",
            Self::Describe { .. } => "DescribeFailed",
            Self::OutOfTime { .. } => "DeadlineReached",
            Self::Publish(_) => "AlertPublishFailed",
            Self::Recheck(_) => "RecheckSendFailed",
            Self::EventBusy(_) => "EventBeingHandled",
            Self::Function(failure) => failure.kind(),
        }
    }
}

impl<F: InvocationFailure> InvocationFailure for InvocationError<F> {
    fn kind(&self) -> &'static str {
        InvocationError::kind(self)
    }
}

/// A function with no failures of its own.
impl InvocationFailure for Infallible {
    fn kind(&self) -> &'static str {
        match *self {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied() -> AwsError {
        AwsError { operation: "DescribeSecurityGroups", code: Some("AccessDenied".into()), message: "no".into() }
    }

    #[test]
    fn every_shared_failure_keeps_its_error_type() {
        let cases: Vec<(InvocationError, &str)> = vec![
            (InvocationError::event("rds-guard", EventError::MissingField("x")), "UnusableEvent"),
            (InvocationError::Session(SessionError::OwnAccount("no".into())), "AccountSessionFailed"),
            (InvocationError::describe("security group sg-1", denied()), "DescribeFailed"),
            (InvocationError::OutOfTime { unchecked: vec!["sg-2".into()], alerted: 0 }, "DeadlineReached"),
            (InvocationError::Publish(PublishFailure { failed: 1, total: 1, first: denied() }), "AlertPublishFailed"),
            (InvocationError::EventBusy(EventBusy { key: "event#x".into(), lease_until: 1 }), "EventBeingHandled"),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
        }
    }

    #[test]
    fn the_message_says_what_was_alerted_before_the_failure() {
        let error: InvocationError = InvocationError::describe("security group sg-1", denied()).after_alerting(2);
        assert_eq!(
            error.to_string(),
            format!(
                "cannot read security group sg-1: {}; the 2 outcome(s) already reached were alerted first",
                denied()
            )
        );
        let error: InvocationError =
            InvocationError::OutOfTime { unchecked: vec!["sg-2".into(), "sg-3".into()], alerted: 0 };
        assert_eq!(error.to_string(), "the invocation's deadline came before sg-2, sg-3 could be checked");
        let error: InvocationError = InvocationError::event("network-guard", EventError::MissingField("groupId"));
        assert!(
            error.to_string().starts_with("network-guard handles this event but cannot act on it safely: "),
            "{error}"
        );
    }

    #[test]
    fn outcomes_serialise_as_the_summary_words() {
        let all = [
            InvocationOutcome::Checked,
            InvocationOutcome::Ignored,
            InvocationOutcome::Unreachable,
            InvocationOutcome::Alerted,
            InvocationOutcome::Logged,
            InvocationOutcome::Applied,
            InvocationOutcome::Removed,
            InvocationOutcome::Failed,
            InvocationOutcome::InSync,
        ];
        for outcome in all {
            assert_eq!(serde_json::to_value(outcome).unwrap(), serde_json::json!(outcome.as_str()));
        }
        assert_eq!(InvocationOutcome::InSync.as_str(), "in_sync");
    }
}
