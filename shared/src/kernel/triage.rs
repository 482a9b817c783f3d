//! The first step every event handler takes: triage says whether an event is the function's
//! business ([`Triage`]); [`handle_triaged`] then turns the answer into the invocation's course —
//! an unreadable event fails the invocation (Lambda retries it, then the DLQ keeps it), one that is
//! not the function's business ends it `ignored` with the reason, and the rest is handled once per
//! event (with the ledger on, a repeated delivery is `ignored` as a repeat; see [`once_per_event`]).

use std::future::Future;

use tracing::{error, info};

use super::{Deadline, InvocationError, InvocationSummary};
use crate::event::{EventError, Triage};
use crate::finding::EventContext;
use crate::ledger::{once_per_event, Ledger, Once};

/// Where an unreadable event leads: an error log line and the invocation's error.
fn unreadable_event(function: &'static str, error: EventError) -> InvocationError {
    error!(%function, error = %error, "event could not be read");
    InvocationError::event(function, error)
}

/// An event triage ignored, summed up (and logged).
fn ignored_event<D: Default>(reason: String, context: Option<&EventContext>) -> InvocationSummary<D> {
    info!(%reason, event_id = context.map(|c| c.event_id.as_str()), "event ignored");
    InvocationSummary::ignored(reason, context)
}

/// The work triage found, or how the invocation ends without it: `ignored` for an event that is
/// not the function's business, the invocation's error for one that cannot be read.
pub fn triaged<T, D: Default>(
    function: &'static str,
    triage: Result<Triage<T>, EventError>,
) -> Result<T, Result<InvocationSummary<D>, InvocationError>> {
    match triage {
        Ok(Triage::Handle(work)) => Ok(work),
        Ok(Triage::Ignore(reason)) => Err(Ok(ignored_event(reason, None))),
        Err(e) => Err(Err(unreadable_event(function, e))),
    }
}

/// Runs `handle` once per event (see [`once_per_event`]): a repeated delivery is `ignored`.
pub async fn handle_once<D: Default, Fut>(
    ledger: Option<&Ledger>,
    function: &'static str,
    context: &EventContext,
    deadline: Deadline,
    handle: impl FnOnce() -> Fut,
) -> Result<InvocationSummary<D>, InvocationError>
where
    Fut: Future<Output = Result<InvocationSummary<D>, InvocationError>>,
{
    match once_per_event(ledger, function, context, deadline, handle).await? {
        Once::Handled(summary) => Ok(summary),
        Once::Repeated(reason) => Ok(ignored_event(reason, Some(context))),
    }
}

/// Runs `handle` for the event triage found to be the function's business, once per event (the
/// event's context is `context` of it), and sums up the others.
/// `W` is what triage returns (the work itself, or a box of it); `handle` takes the work.
pub async fn handle_triaged<W, T: ?Sized, D: Default>(
    function: &'static str,
    triage: Result<Triage<W>, EventError>,
    ledger: Option<&Ledger>,
    deadline: Deadline,
    context: impl FnOnce(&T) -> &EventContext,
    handle: impl AsyncFnOnce(&T) -> Result<InvocationSummary<D>, InvocationError>,
) -> Result<InvocationSummary<D>, InvocationError>
where
    W: std::borrow::Borrow<T>,
{
    let work = match triaged(function, triage) {
        Ok(work) => work,
        Err(end) => return end,
    };
    let work = work.borrow();
    handle_once(ledger, function, context(work), deadline, || handle(work)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{InvocationOutcome, NoDetail};

    fn context() -> EventContext {
        EventContext {
            event_id: "e-1".into(),
            event_name: "ModifyDBInstance".into(),
            event_time: None,
            actor: "alice".into(),
        }
    }

    async fn run(
        triage: Result<Triage<EventContext>, EventError>,
    ) -> Result<InvocationSummary<NoDetail>, InvocationError> {
        handle_triaged(
            "test",
            triage,
            None,
            Deadline::none(),
            |c| c,
            async |c: &EventContext| Ok(InvocationSummary::of(InvocationOutcome::Checked, Some(c))),
        )
        .await
    }

    #[tokio::test]
    async fn work_is_handled_ignored_events_are_summed_up_and_unreadable_ones_fail() {
        let handled = run(Ok(Triage::Handle(context()))).await.unwrap();
        assert_eq!(handled.outcome, InvocationOutcome::Checked);
        assert_eq!(handled.event_id.as_deref(), Some("e-1"));

        let ignored = run(Ok(Triage::Ignore("not ours".into()))).await.unwrap();
        assert_eq!(ignored.outcome, InvocationOutcome::Ignored);
        assert_eq!(ignored.reason.as_deref(), Some("not ours"));

        let failed = run(Err(EventError::UnknownShape)).await.unwrap_err();
        assert_eq!(
            failed.to_string(),
            InvocationError::<std::convert::Infallible>::event("test", EventError::UnknownShape).to_string()
        );
    }
}
