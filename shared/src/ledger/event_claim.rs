//! Each event handled once (README "Reliability"): EventBridge and Lambda deliver at least once, so
//! the same event can arrive twice, one delivery after the other or two at the same moment. With
//! the findings ledger on, a function claims the event in the ledger's table before it reads or
//! fixes anything, and only the claim's holder goes on:
//!
//! - no claim yet, or the last one `failed` (its invocation failed and Lambda is retrying it), or
//!   one whose holder ran past its deadline: this invocation takes it (one conditional PutItem);
//! - the event is `handled`: a repeated delivery, ignored with the reason (nothing fixed, nothing
//!   alerted);
//! - another invocation holds it now: this one waits for that one to finish (polling the claim)
//!   and then ignores the event, or takes it over if that one failed. If its own deadline comes
//!   first, it fails ([`EventBusy`]) and Lambda delivers it again later: never lost.
//!
//! A claim lasts until its holder's deadline (Lambda stops the invocation then), so a holder that
//! vanished (out of memory, killed) blocks nobody past it. The ledger unreachable is not a reason
//! to drop an event: the invocation goes on unclaimed (a duplicate is possible, a loss is not).
//! Handled events are remembered for [`REMEMBER_HANDLED_SECONDS`] (the table's TTL removes them).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::store::StoreError;
use super::Ledger;
use crate::finding::EventContext;
use crate::kernel::Deadline;

/// Claims are items of the findings table whose key starts with this (finding ids are hex).
pub const EVENT_CLAIM_PREFIX: &str = "event#";
/// How long a handled event is remembered: EventBridge retries a delivery for up to 24 hours and
/// Lambda keeps an asynchronous event for up to 6; a week covers both with room.
pub const REMEMBER_HANDLED_SECONDS: i64 = 7 * 24 * 3600;
/// How long a claim is held without a deadline (the command line, tests): Lambda's longest timeout.
pub const LEASE_WITHOUT_DEADLINE: Duration = Duration::from_secs(15 * 60);
/// How often a claim held by another invocation is read again while waiting for it.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Claim attempts when the stored claim keeps changing between the write and the read.
const ATTEMPTS: usize = 4;

/// Where an event's handling stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimState {
    /// An invocation is handling it (until `lease_until`).
    Handling,
    /// An invocation handled it: later deliveries are repeats.
    Handled,
    /// The invocation that held it failed: Lambda's retry may take it.
    Failed,
}

impl ClaimState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Handling => "handling",
            Self::Handled => "handled",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Handling, Self::Handled, Self::Failed].into_iter().find(|s| s.as_str() == raw)
    }
}

/// One event's claim, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventClaim {
    /// [`claim_key`]: `event#<function>#<event id>#<event time>`.
    pub key: String,
    /// Which invocation holds it (unique per claim attempt).
    pub token: String,
    pub state: ClaimState,
    /// Epoch seconds.
    pub claimed_at: i64,
    /// Epoch seconds: the holder's deadline; past it the claim may be taken over.
    pub lease_until: i64,
    /// Epoch seconds: the table's TTL attribute.
    pub expires_at: i64,
}

/// Where claims are kept: one narrow trait ([`crate::aws::DynamoDbFindings`] is the adapter).
#[async_trait]
pub trait EventClaims: Send + Sync {
    /// Writes `claim` (state [`ClaimState::Handling`]) if there is no claim for its key, or the
    /// stored one failed, or is handling with `lease_until` before `now`. `Ok(false)`: not written.
    async fn try_claim(&self, claim: &EventClaim, now: i64) -> Result<bool, StoreError>;

    /// The stored claim for `key`, read consistently.
    async fn read_claim(&self, key: &str) -> Result<Option<EventClaim>, StoreError>;

    /// Writes `claim` if the stored claim still carries its token (nobody took it over).
    async fn settle_claim(&self, claim: &EventClaim) -> Result<(), StoreError>;
}

/// Another invocation is handling this event and did not finish before this one's deadline: this
/// invocation fails so that Lambda delivers the event again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "event {key} is being handled by another invocation (claimed until {lease_until}, epoch seconds) \
     and this invocation's deadline came first; Lambda delivers it again"
)]
pub struct EventBusy {
    pub key: String,
    pub lease_until: i64,
}

/// What a function does with one delivery.
#[derive(Debug)]
pub enum Once<R> {
    /// It was this delivery's to handle: what handling it returned.
    Handled(R),
    /// The event was handled already (by an earlier delivery or a concurrent one): the reason.
    Repeated(String),
}

/// The key of `context`'s event for `function`. The event time is part of it because a GuardDuty
/// finding keeps its id across updates (each update is a new event to respond to).
pub fn claim_key(function: &str, context: &EventContext) -> String {
    format!("{EVENT_CLAIM_PREFIX}{function}#{}#{}", context.event_id, context.event_time.as_deref().unwrap_or(""))
}

fn now_seconds() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

fn new_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Runs `handle` for `context`'s event unless the ledger says it was handled already (see the
/// module). Without a ledger, or with its claims unreachable, `handle` runs unclaimed.
pub async fn once_per_event<R, E, Fut>(
    ledger: Option<&Ledger>,
    function: &str,
    context: &EventContext,
    deadline: Deadline,
    handle: impl FnOnce() -> Fut,
) -> Result<Once<R>, E>
where
    Fut: Future<Output = Result<R, E>>,
    E: From<EventBusy>,
{
    let Some(claims) = ledger.and_then(Ledger::event_claims) else {
        return handle().await.map(Once::Handled);
    };
    let key = claim_key(function, context);
    let held = match claim(claims.as_ref(), &key, deadline).await {
        Claim::Held(claim) => Some(claim),
        Claim::Unclaimed => None,
        Claim::Repeated(reason) => return Ok(Once::Repeated(reason)),
        Claim::Busy(busy) => {
            tracing::warn!(%busy, "event busy elsewhere; failing so that Lambda delivers it again");
            return Err(busy.into());
        }
    };
    let result = handle().await;
    if let Some(mut claim) = held {
        claim.state = if result.is_ok() { ClaimState::Handled } else { ClaimState::Failed };
        if let Err(e) = claims.settle_claim(&claim).await {
            // Handled but not recorded: a repeat would be handled again (and find it compliant).
            // Failed but not recorded: Lambda's retry comes after this deadline, when the claim
            // has lapsed, so it can take it.
            tracing::warn!(key = %claim.key, state = claim.state.as_str(), error = %e, "event claim not settled");
        }
    }
    result.map(Once::Handled)
}

enum Claim {
    Held(EventClaim),
    Unclaimed,
    Repeated(String),
    Busy(EventBusy),
}

async fn claim(claims: &dyn EventClaims, key: &str, deadline: Deadline) -> Claim {
    let now = now_seconds();
    let lease = deadline.remaining().unwrap_or(LEASE_WITHOUT_DEADLINE);
    let claim = EventClaim {
        key: key.to_owned(),
        token: new_token(),
        state: ClaimState::Handling,
        claimed_at: now,
        lease_until: now + lease.as_secs() as i64 + 1,
        expires_at: now + REMEMBER_HANDLED_SECONDS,
    };
    let unclaimed = |what: &str, e: StoreError| {
        tracing::warn!(%key, error = %e, "event claim could not be {what}: handling the event unclaimed");
        Claim::Unclaimed
    };
    let mut attempts = 0;
    loop {
        match claims.try_claim(&claim, now_seconds()).await {
            Ok(true) => return Claim::Held(claim),
            Ok(false) => {}
            Err(e) => return unclaimed("written", e),
        }
        let stored = match claims.read_claim(key).await {
            Ok(stored) => stored,
            Err(e) => return unclaimed("read", e),
        };
        match stored {
            Some(stored) if stored.state == ClaimState::Handled => {
                return Claim::Repeated(format!(
                    "a repeated delivery: this event was handled already (claimed at {} by another invocation)",
                    super::rfc3339(stored.claimed_at)
                ))
            }
            Some(stored) if stored.state == ClaimState::Handling && stored.lease_until >= now_seconds() => {
                // Held by another invocation: wait for it, as long as this invocation may.
                if !deadline.allows(POLL_INTERVAL) {
                    return Claim::Busy(EventBusy { key: key.to_owned(), lease_until: stored.lease_until });
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
            // Failed, lapsed or gone since the write: try again (a few times, if it keeps changing).
            _ => {
                attempts += 1;
                if attempts >= ATTEMPTS {
                    return unclaimed("taken", StoreError::Conflict(key.to_owned()));
                }
            }
        }
    }
}

impl Ledger {
    /// The ledger keeping event claims in `claims` (the findings table, when FINDINGS_TABLE is set).
    pub fn claiming_events_in(mut self, claims: Arc<dyn EventClaims>) -> Self {
        self.claims = Some(claims);
        self
    }

    /// Where event claims are kept, if anywhere.
    pub fn event_claims(&self) -> Option<&Arc<dyn EventClaims>> {
        self.claims.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use crate::ledger::transition::Lifecycle;

    /// Claims in memory, with DynamoDB's conditions.
    #[derive(Default)]
    struct MemoryClaims {
        items: Mutex<HashMap<String, EventClaim>>,
        down: bool,
    }

    #[async_trait]
    impl EventClaims for MemoryClaims {
        async fn try_claim(&self, claim: &EventClaim, now: i64) -> Result<bool, StoreError> {
            if self.down {
                return Err(StoreError::Conflict("down".into()));
            }
            let mut items = self.items.lock().unwrap();
            let free = match items.get(&claim.key) {
                None => true,
                Some(c) => c.state == ClaimState::Failed || (c.state == ClaimState::Handling && c.lease_until < now),
            };
            if free {
                items.insert(claim.key.clone(), claim.clone());
            }
            Ok(free)
        }
        async fn read_claim(&self, key: &str) -> Result<Option<EventClaim>, StoreError> {
            Ok(self.items.lock().unwrap().get(key).cloned())
        }
        async fn settle_claim(&self, claim: &EventClaim) -> Result<(), StoreError> {
            let mut items = self.items.lock().unwrap();
            if items.get(&claim.key).is_some_and(|c| c.token == claim.token) {
                items.insert(claim.key.clone(), claim.clone());
            }
            Ok(())
        }
    }

    struct NoFindings;
    #[async_trait]
    impl crate::ledger::FindingsStore for NoFindings {
        async fn get_many(&self, _: &[String]) -> Result<Vec<crate::ledger::LedgerItem>, StoreError> {
            Ok(Vec::new())
        }
        async fn put_if_version(&self, _: &crate::ledger::LedgerItem, _: Option<u64>) -> Result<(), StoreError> {
            Ok(())
        }
        async fn unresolved_in(
            &self,
            _: &str,
            _: &str,
            _: Option<&str>,
        ) -> Result<Vec<crate::ledger::LedgerItem>, StoreError> {
            Ok(Vec::new())
        }
    }

    fn ledger(claims: Arc<MemoryClaims>) -> Ledger {
        Ledger::new(Arc::new(NoFindings), Lifecycle::default()).claiming_events_in(claims)
    }

    fn context(id: &str) -> EventContext {
        EventContext {
            event_id: id.into(),
            event_name: "ModifyDBInstance".into(),
            event_time: Some("2026-12-03T06:00:00Z".into()),
            actor: "alice".into(),
        }
    }

    async fn run(
        ledger: &Ledger,
        id: &str,
        deadline: Deadline,
        result: Result<u32, EventBusy>,
        ran: &AtomicU64,
    ) -> Result<Once<u32>, EventBusy> {
        once_per_event(Some(ledger), "rds-guard", &context(id), deadline, || async {
            ran.fetch_add(1, Ordering::SeqCst);
            result
        })
        .await
    }

    #[tokio::test]
    async fn a_repeated_delivery_is_not_handled_again_but_a_failed_one_is() {
        let claims = Arc::new(MemoryClaims::default());
        let ledger = ledger(claims.clone());
        let ran = AtomicU64::new(0);
        assert!(matches!(run(&ledger, "e-1", Deadline::none(), Ok(1), &ran).await, Ok(Once::Handled(1))));
        let again = run(&ledger, "e-1", Deadline::none(), Ok(2), &ran).await;
        assert!(matches!(&again, Ok(Once::Repeated(reason)) if reason.contains("repeated delivery")), "{again:?}");
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        // Another event is its own.
        assert!(matches!(run(&ledger, "e-2", Deadline::none(), Ok(3), &ran).await, Ok(Once::Handled(3))));
        // A failed invocation's retry handles the event.
        let busy = EventBusy { key: "k".into(), lease_until: 0 };
        assert!(run(&ledger, "e-3", Deadline::none(), Err(busy), &ran).await.is_err());
        assert_eq!(
            claims.read_claim(&claim_key("rds-guard", &context("e-3"))).await.unwrap().unwrap().state,
            ClaimState::Failed
        );
        assert!(matches!(run(&ledger, "e-3", Deadline::none(), Ok(4), &ran).await, Ok(Once::Handled(4))));
        assert_eq!(ran.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_claim_held_elsewhere_is_waited_for_then_failed_when_this_deadline_comes() {
        let claims = Arc::new(MemoryClaims::default());
        let ledger = ledger(claims.clone());
        let key = claim_key("rds-guard", &context("e-1"));
        let now = now_seconds();
        let held = EventClaim {
            key: key.clone(),
            token: "other".into(),
            state: ClaimState::Handling,
            claimed_at: now,
            lease_until: now + 600,
            expires_at: now + 600,
        };
        claims.items.lock().unwrap().insert(key.clone(), held.clone());
        let ran = AtomicU64::new(0);
        let deadline = Deadline::after(crate::kernel::PUBLISH_RESERVE + Duration::from_millis(1_200));
        let started = std::time::Instant::now();
        let ended = run(&ledger, "e-1", deadline, Ok(1), &ran).await;
        assert!(matches!(&ended, Err(busy) if busy.key == key), "{ended:?}");
        assert!(started.elapsed() >= POLL_INTERVAL, "waited for the other invocation first");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        // The other one finishes while this one waits: a repeat.
        let finisher = {
            let claims = claims.clone();
            let mut done = held.clone();
            done.state = ClaimState::Handled;
            async move {
                tokio::time::sleep(Duration::from_millis(700)).await;
                claims.settle_claim(&done).await.unwrap();
            }
        };
        let (ended, ()) = tokio::join!(run(&ledger, "e-1", Deadline::none(), Ok(1), &ran), finisher);
        assert!(matches!(ended, Ok(Once::Repeated(_))), "{ended:?}");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        // A claim whose holder ran past its deadline is taken over.
        let mut lapsed = held;
        lapsed.key = claim_key("rds-guard", &context("e-2"));
        lapsed.lease_until = now - 1;
        claims.items.lock().unwrap().insert(lapsed.key.clone(), lapsed);
        assert!(matches!(run(&ledger, "e-2", Deadline::none(), Ok(5), &ran).await, Ok(Once::Handled(5))));
    }

    #[tokio::test]
    async fn unreachable_claims_never_cost_an_event() {
        let claims = Arc::new(MemoryClaims { down: true, ..MemoryClaims::default() });
        let ledger = ledger(claims);
        let ran = AtomicU64::new(0);
        for _ in 0..2 {
            assert!(matches!(run(&ledger, "e-1", Deadline::none(), Ok(1), &ran).await, Ok(Once::Handled(1))));
        }
        assert_eq!(ran.load(Ordering::SeqCst), 2, "handled unclaimed, each time");
        // No ledger at all: handled as before.
        let ended: Result<Once<u32>, EventBusy> =
            once_per_event(None, "rds-guard", &context("e-1"), Deadline::none(), || async { Ok(7) }).await;
        assert!(matches!(ended, Ok(Once::Handled(7))));
    }

    #[test]
    fn keys_and_states() {
        let key = claim_key("guardduty-responder", &context("f-1"));
        assert_eq!(key, "event#guardduty-responder#f-1#2026-12-03T06:00:00Z");
        for state in [ClaimState::Handling, ClaimState::Handled, ClaimState::Failed] {
            assert_eq!(ClaimState::parse(state.as_str()), Some(state));
        }
        assert_eq!(ClaimState::parse("done"), None);
    }
}
