//! How long an invocation may still work. Lambda gives each invocation a deadline (the function's
//! timeout); work that would run past it is lost with every alert it meant to send. Every step that
//! waits — confirming a fix, paging through a listing — asks the deadline first and, when time is
//! short, reports what it has (a fix not yet confirmed is `deferred`) instead of starting more.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What is kept back at the end of every invocation to publish alerts (and keep the undelivered
/// ones in the dead-letter queue): an SNS publish takes milliseconds, a retried one a few seconds.
pub const PUBLISH_RESERVE: Duration = Duration::from_secs(8);

/// The moment an invocation must have finished its work by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Option<Instant>,
}

impl Deadline {
    /// No deadline (tests, the command line): every step may take as long as it needs.
    pub fn none() -> Self {
        Self { at: None }
    }

    /// `duration` from now.
    pub fn after(duration: Duration) -> Self {
        Self { at: Some(Instant::now() + duration) }
    }

    /// From Lambda's deadline (milliseconds since the Unix epoch, `Lambda-Runtime-Deadline-Ms`).
    /// A deadline already past, or a clock that cannot be read, leaves no time at all.
    pub fn from_epoch_millis(deadline_ms: u64) -> Self {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(u128::MAX, |d| d.as_millis());
        let left = u128::from(deadline_ms).saturating_sub(now_ms);
        Self::after(Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX)))
    }

    /// Time left before the deadline (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.at.map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Whether `work` can still be started and finished with [`PUBLISH_RESERVE`] left to publish.
    pub fn allows(&self, work: Duration) -> bool {
        self.remaining().is_none_or(|left| left >= work + PUBLISH_RESERVE)
    }

    /// The deadline for work, keeping [`PUBLISH_RESERVE`] back for publishing.
    pub fn for_work(&self) -> Self {
        Self { at: self.at.map(|at| at.checked_sub(PUBLISH_RESERVE).unwrap_or(at)) }
    }

    /// Runs `work` in the time left for work ([`Self::for_work`]); `None` when it had not finished
    /// by then (it is dropped: a call in flight may still have reached AWS).
    pub async fn bound<F: std::future::Future>(&self, work: F) -> Option<F::Output> {
        match self.for_work().remaining() {
            None => Some(work.await),
            Some(left) => tokio::time::timeout(left, work).await.ok(),
        }
    }
}

impl Default for Deadline {
    fn default() -> Self {
        Self::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_deadline_allows_everything() {
        assert!(Deadline::none().allows(Duration::from_secs(3600)));
        assert_eq!(Deadline::none().remaining(), None);
    }

    #[test]
    fn a_short_deadline_keeps_the_publish_reserve() {
        let deadline = Deadline::after(Duration::from_secs(10));
        assert!(deadline.allows(Duration::from_secs(1)));
        assert!(!deadline.allows(Duration::from_secs(3)), "10 s left minus 8 s reserve leaves 2 s");
    }

    #[tokio::test]
    async fn bound_work_finishes_or_is_cut_at_the_deadline_for_work() {
        assert_eq!(Deadline::none().bound(async { 7 }).await, Some(7));
        let roomy = Deadline::after(PUBLISH_RESERVE + Duration::from_secs(5));
        assert_eq!(roomy.bound(async { 7 }).await, Some(7));
        let tight = Deadline::after(PUBLISH_RESERVE + Duration::from_millis(50));
        let started = Instant::now();
        assert_eq!(tight.bound(tokio::time::sleep(Duration::from_secs(5))).await, None);
        assert!(started.elapsed() < Duration::from_secs(2), "cut at the deadline: {:?}", started.elapsed());
    }

    #[test]
    fn a_past_epoch_deadline_leaves_no_time() {
        let deadline = Deadline::from_epoch_millis(1_000);
        assert_eq!(deadline.remaining(), Some(Duration::ZERO));
        assert!(!deadline.allows(Duration::ZERO));
    }

    #[test]
    fn an_epoch_deadline_a_minute_ahead_is_about_a_minute() {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let deadline = Deadline::from_epoch_millis(u64::try_from(now_ms + 60_000).unwrap_or(u64::MAX));
        let left = deadline.remaining().unwrap_or_default();
        assert!(left > Duration::from_secs(55) && left <= Duration::from_secs(60), "{left:?}");
    }
}
