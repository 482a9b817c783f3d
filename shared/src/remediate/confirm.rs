//! Confirming a fix by reading the resource back: an API call that returned 200 is not proof.
//!
//! [`confirm`] is the one poller every fix uses: up to [`Confirmation::attempts`] reads,
//! [`Confirmation::delay`] apart, stopping early when a read shows the fix ([`Read::Ready`]) or
//! cannot go on ([`Read::Failed`]), and before a wait the invocation's [`Deadline`] would not
//! leave room for.

use std::time::Duration;

use crate::action::{ActionKind, ActionOutcome, ActionStatus};
use crate::kernel::Deadline;

/// How long to keep reading the state back after a change was accepted. RDS applies
/// `PubliclyAccessible` and starts a stop within seconds; this bounded check is not a wait for a
/// database to finish creating (that is deferred to RDS's own events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmation {
    pub attempts: u32,
    pub delay: Duration,
}

impl Default for Confirmation {
    /// Up to 6 reads, 2 s apart (at most 10 s of waiting).
    fn default() -> Self {
        Self { attempts: 6, delay: Duration::from_secs(2) }
    }
}

impl Confirmation {
    /// The waiting all attempts add up to (the delays between reads).
    pub fn waited(self) -> Duration {
        self.delay * self.attempts.saturating_sub(1)
    }
}

/// What one read back showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read<T, E> {
    /// The fix shows: stop reading.
    Ready(T),
    /// Not yet: read again after the delay.
    NotYet,
    /// Reading cannot go on (the resource is gone, the read failed): stop.
    Failed(E),
}

/// How confirming ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed<T, E> {
    /// A read showed the fix.
    Ready(T),
    /// A read failed.
    Failed(E),
    /// Every attempt read `NotYet`.
    NotYet,
    /// The deadline came before the next read could be waited for.
    DeadlineReached,
}

impl Confirmed<String, String> {
    /// The outcome of fix `kind` when confirming ended with a detail: `succeeded` (ready),
    /// `failed` (the read failed) or `deferred` with `deadline_detail` (the deadline came); `None`
    /// when every read said not yet (the caller says what still reads wrong).
    pub fn outcome(self, kind: ActionKind, deadline_detail: impl FnOnce() -> String) -> Option<ActionOutcome> {
        match self {
            Self::Ready(detail) => Some(ActionOutcome::new(kind, ActionStatus::Succeeded, detail)),
            Self::Failed(detail) => Some(ActionOutcome::new(kind, ActionStatus::Failed, detail)),
            Self::DeadlineReached => Some(ActionOutcome::new(kind, ActionStatus::Deferred, deadline_detail())),
            Self::NotYet => None,
        }
    }
}

/// Reads with `read` until it is [`Read::Ready`] or [`Read::Failed`], at most
/// `confirmation.attempts` times (at least once), `confirmation.delay` apart. Before each wait the
/// deadline must allow the delay plus `read_allowance` (what one read takes at most); the first
/// read is not gated (the caller checked the deadline before the fix).
pub async fn confirm<T, E>(
    confirmation: Confirmation,
    deadline: Deadline,
    read_allowance: Duration,
    mut read: impl AsyncFnMut() -> Read<T, E>,
) -> Confirmed<T, E> {
    for attempt in 0..confirmation.attempts.max(1) {
        if attempt > 0 {
            if !deadline.allows(confirmation.delay + read_allowance) {
                return Confirmed::DeadlineReached;
            }
            tokio::time::sleep(confirmation.delay).await;
        }
        match read().await {
            Read::Ready(value) => return Confirmed::Ready(value),
            Read::Failed(error) => return Confirmed::Failed(error),
            Read::NotYet => {}
        }
    }
    Confirmed::NotYet
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Confirmation = Confirmation { attempts: 3, delay: Duration::from_millis(1) };

    #[tokio::test]
    async fn reads_until_ready_failed_or_out_of_attempts() {
        let mut reads = 0;
        let ready: Confirmed<u32, ()> = confirm(QUICK, Deadline::none(), Duration::ZERO, async || {
            reads += 1;
            if reads == 2 {
                Read::Ready(reads)
            } else {
                Read::NotYet
            }
        })
        .await;
        assert_eq!(ready, Confirmed::Ready(2));

        let mut reads = 0;
        let never: Confirmed<(), ()> = confirm(QUICK, Deadline::none(), Duration::ZERO, async || {
            reads += 1;
            Read::NotYet
        })
        .await;
        assert_eq!((never, reads), (Confirmed::NotYet, 3));

        let failed: Confirmed<(), &str> =
            confirm(QUICK, Deadline::none(), Duration::ZERO, async || Read::Failed("gone")).await;
        assert_eq!(failed, Confirmed::Failed("gone"));
    }

    #[tokio::test]
    async fn reads_once_at_least_and_stops_before_a_wait_the_deadline_does_not_allow() {
        let none = Confirmation { attempts: 0, delay: Duration::from_millis(1) };
        let mut reads = 0;
        let once: Confirmed<(), ()> = confirm(none, Deadline::none(), Duration::ZERO, async || {
            reads += 1;
            Read::NotYet
        })
        .await;
        assert_eq!((once, reads), (Confirmed::NotYet, 1));

        let mut reads = 0;
        let close = Deadline::after(Duration::from_secs(1));
        let cut: Confirmed<(), ()> = confirm(QUICK, close, Duration::from_secs(3), async || {
            reads += 1;
            Read::NotYet
        })
        .await;
        assert_eq!((cut, reads), (Confirmed::DeadlineReached, 1));
        assert_eq!(QUICK.waited(), Duration::from_millis(2));
    }
}
