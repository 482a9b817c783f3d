//! The ledger at work: reads the items of one invocation's findings, applies [`transition`] to
//! each, writes the result conditionally on the version read and, when an alert is due, claims it
//! in that same write. Of two invocations racing on one finding only one write wins; the other
//! reads the winner's item and judges again, finding the transition taken. After publishing, the
//! claim is settled with the SNS message id (or marked unpublished, so the next sighting alerts).
//!
//! Errors never cost an alert: a finding whose item cannot be read or written comes back as
//! [`Gate::Unavailable`] and is alerted anyway.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::item::{AlertState, LedgerItem};
use super::store::{FindingsStore, StoreError};
use super::transition::{transition, AlertReason, Due, FindingKey, Lifecycle, QuietReason, Seen};
use crate::aws::{AwsError, FindingsExport};

/// Reads and writes of one item before giving up on a finding that keeps changing under us.
const ATTEMPTS: usize = 4;

/// What the ledger says about one finding.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Publish the alert; `claim` is the item as written (settle it with [`Ledger::published`]).
    Alert { reason: AlertReason, claim: LedgerItem },
    /// No alert; `item` is the item as stored now, if there is one.
    Quiet { reason: QuietReason, item: Option<LedgerItem> },
    /// The ledger could not be used for this finding: alert anyway.
    Unavailable(StoreError),
}

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The findings ledger: a store and the lifecycle settings.
#[derive(Clone)]
pub struct Ledger {
    store: Arc<dyn FindingsStore>,
    lifecycle: Lifecycle,
    clock: Clock,
    export: Option<Arc<dyn FindingsExport>>,
    /// Where each event's claim is kept ([`super::event_claim`]), if anywhere.
    pub(super) claims: Option<Arc<dyn super::event_claim::EventClaims>>,
}

fn system_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

impl Ledger {
    pub fn new(store: Arc<dyn FindingsStore>, lifecycle: Lifecycle) -> Self {
        Self { store, lifecycle, clock: Arc::new(system_now), export: None, claims: None }
    }

    /// The same ledger exporting every transition to `export` (SECURITY_HUB_EXPORT=on).
    pub fn exporting_to(mut self, export: Arc<dyn FindingsExport>) -> Self {
        self.export = Some(export);
        self
    }

    /// Exports the items of this invocation's transitions, if an export is configured. Never
    /// fails the delivery: the caller logs the error.
    pub async fn export(&self, items: &[LedgerItem]) -> Result<(), AwsError> {
        match &self.export {
            Some(export) if !items.is_empty() => export.export(items).await,
            _ => Ok(()),
        }
    }

    /// The same ledger reading the time (epoch seconds) from `clock` (tests).
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// The findings held not resolved in `account`/`region` (on `resource` only, when given; see
    /// [`FindingsStore::unresolved_in`]), to find those a check no longer sees
    /// ([`super::unseen`]). None when the ledger cannot be read (logged: nothing is resolved then,
    /// and nothing is lost, the findings stay open for a later check).
    pub async fn held(&self, account: &str, region: &str, resource: Option<&str>) -> Vec<LedgerItem> {
        match self.store.unresolved_in(account, region, resource).await {
            Ok(items) => items,
            Err(error) => {
                tracing::error!(account, region, resource, %error, "findings ledger unavailable; findings no longer seen are not resolved");
                Vec::new()
            }
        }
    }

    /// Judges what one invocation saw, in order (one read of all items first; a finding that
    /// appears twice is judged against its own first write).
    pub async fn judge(&self, sightings: &[(FindingKey, Seen)]) -> Vec<Gate> {
        let now = (self.clock)();
        let mut ids: Vec<String> = sightings.iter().map(|(key, _)| key.finding_id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut known: HashMap<String, LedgerItem> = match self.store.get_many(&ids).await {
            Ok(items) => items.into_iter().map(|item| (item.finding_id.clone(), item)).collect(),
            Err(e) => return sightings.iter().map(|_| Gate::Unavailable(e.clone())).collect(),
        };
        let mut gates = Vec::with_capacity(sightings.len());
        for (key, seen) in sightings {
            let gate = self.judge_one(key, seen, now, &mut known).await;
            gates.push(gate);
        }
        gates
    }

    async fn judge_one(
        &self,
        key: &FindingKey,
        seen: &Seen,
        now: i64,
        known: &mut HashMap<String, LedgerItem>,
    ) -> Gate {
        let mut last_conflict = StoreError::Conflict(key.finding_id.clone());
        for _ in 0..ATTEMPTS {
            let previous = known.get(&key.finding_id);
            let result = transition(previous, key, seen, now, &self.lifecycle);
            let Some(mut next) = result.next else {
                let reason = match result.due {
                    Due::Quiet(reason) => reason,
                    // `transition` always stores what it alerts; no alert without a claim.
                    Due::Alert(_) => QuietReason::SeenAgain,
                };
                return Gate::Quiet { reason, item: previous.cloned() };
            };
            if let Due::Alert(reason) = result.due {
                next.alert = AlertState::Claimed { at: now, reason: reason.as_str().to_owned() };
            }
            let expected = previous.map(|item| item.version);
            match self.store.put_if_version(&next, expected).await {
                Ok(()) => {
                    known.insert(key.finding_id.clone(), next.clone());
                    return match result.due {
                        Due::Alert(reason) => Gate::Alert { reason, claim: next },
                        Due::Quiet(reason) => Gate::Quiet { reason, item: Some(next) },
                    };
                }
                Err(conflict @ StoreError::Conflict(_)) => {
                    last_conflict = conflict;
                    match self.store.get_many(std::slice::from_ref(&key.finding_id)).await {
                        Ok(items) => match items.into_iter().next() {
                            Some(item) => known.insert(key.finding_id.clone(), item),
                            None => known.remove(&key.finding_id),
                        },
                        Err(e) => return Gate::Unavailable(e),
                    };
                }
                Err(e) => return Gate::Unavailable(e),
            }
        }
        Gate::Unavailable(last_conflict)
    }

    /// Records that the claimed alert was published as SNS message `message_id`.
    pub async fn published(&self, claim: &LedgerItem, message_id: &str) -> Result<(), StoreError> {
        let now = (self.clock)();
        self.settle(claim, |item| {
            item.last_alerted = Some(now);
            item.last_alert_reason = claim_reason(claim);
            item.last_alert_message_id = Some(message_id.to_owned());
            item.alert = AlertState::Settled;
        })
        .await
    }

    /// Records that the claimed alert could not be published: the next sighting alerts again.
    pub async fn unpublished(&self, claim: &LedgerItem) -> Result<(), StoreError> {
        let reason = claim_reason(claim).unwrap_or_default();
        self.settle(claim, |item| item.alert = AlertState::Unpublished { reason: reason.clone() }).await
    }

    /// Applies `change` to the stored item as long as it still carries `claim`'s claim (others may
    /// have counted a sighting since, copying the claim; a newer claim is left alone).
    async fn settle(&self, claim: &LedgerItem, change: impl Fn(&mut LedgerItem)) -> Result<(), StoreError> {
        let mut current = claim.clone();
        for _ in 0..ATTEMPTS {
            if current.alert != claim.alert {
                return Ok(());
            }
            let mut next = current.clone();
            change(&mut next);
            next.version = current.version + 1;
            match self.store.put_if_version(&next, Some(current.version)).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict(_)) => {
                    match self.store.get_many(std::slice::from_ref(&claim.finding_id)).await?.into_iter().next() {
                        Some(item) => current = item,
                        None => return Ok(()),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict(claim.finding_id.clone()))
    }
}

fn claim_reason(claim: &LedgerItem) -> Option<String> {
    match &claim.alert {
        AlertState::Claimed { reason, .. } | AlertState::Unpublished { reason } => Some(reason.clone()),
        AlertState::Settled => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::ledger::transition::Violation;
    use crate::ledger::FindingStatus;

    /// An in-memory store with DynamoDB's conditional-write semantics; `interfere` writes a
    /// competing version of the item just before the next conditional write.
    #[derive(Default)]
    struct MemoryStore {
        items: Mutex<HashMap<String, LedgerItem>>,
        interfere: Mutex<Option<LedgerItem>>,
        down: bool,
    }

    #[async_trait]
    impl FindingsStore for MemoryStore {
        async fn get_many(&self, ids: &[String]) -> Result<Vec<LedgerItem>, StoreError> {
            if self.down {
                return Err(AwsError { operation: "BatchGetItem", code: None, message: "unreachable".into() }.into());
            }
            let items = self.items.lock().unwrap();
            Ok(ids.iter().filter_map(|id| items.get(id).cloned()).collect())
        }

        async fn put_if_version(&self, item: &LedgerItem, expected: Option<u64>) -> Result<(), StoreError> {
            let mut items = self.items.lock().unwrap();
            if let Some(competing) = self.interfere.lock().unwrap().take() {
                items.insert(competing.finding_id.clone(), competing);
            }
            if items.get(&item.finding_id).map(|i| i.version) != expected {
                return Err(StoreError::Conflict(item.finding_id.clone()));
            }
            items.insert(item.finding_id.clone(), item.clone());
            Ok(())
        }

        async fn unresolved_in(
            &self,
            account: &str,
            region: &str,
            resource: Option<&str>,
        ) -> Result<Vec<LedgerItem>, StoreError> {
            let items = self.items.lock().unwrap();
            Ok(items
                .values()
                .filter(|i| i.status != FindingStatus::Resolved || i.alert != AlertState::Settled)
                .filter(|i| i.account == account && i.region == region)
                .filter(|i| resource.is_none_or(|r| i.resource == r))
                .cloned()
                .collect())
        }
    }

    fn key() -> FindingKey {
        FindingKey {
            finding_id: "f1".into(),
            rule: "RDS.10".into(),
            title: "t".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            resource: "arn:aws:rds:us-east-1:123456789012:db:db1".into(),
            resource_type: "AWS::RDS::DBInstance".into(),
            resource_id: "db1".into(),
            component: None,
        }
    }

    fn seen() -> Seen {
        seen_in("e-1")
    }

    fn seen_in(event: &str) -> Seen {
        Seen::Violation(Violation {
            severity: "MEDIUM".into(),
            evidence: "{}".into(),
            action_kind: "alert_only".into(),
            action_status: "not_attempted".into(),
            exempt: false,
            fixed: false,
            event_id: event.into(),
        })
    }

    fn ledger(store: &Arc<MemoryStore>) -> Ledger {
        Ledger::new(store.clone(), Lifecycle::default()).with_clock(|| 1_800_000_000)
    }

    #[tokio::test]
    async fn alerts_once_then_counts_and_settles_the_claim() {
        let store = Arc::new(MemoryStore::default());
        let ledger = ledger(&store);
        let first = ledger.judge(&[(key(), seen())]).await;
        let Gate::Alert { reason: AlertReason::NewFinding, claim } = &first[0] else { panic!("{first:?}") };
        ledger.published(claim, "m-1").await.unwrap();
        for (event, reason, expected) in [("e-1", QuietReason::SameEvent, 2), ("e-2", QuietReason::SeenAgain, 3)] {
            let again = ledger.judge(&[(key(), seen_in(event))]).await;
            let Gate::Quiet { reason: got, item: Some(item) } = &again[0] else { panic!("{again:?}") };
            assert_eq!((*got, item.occurrences), (reason, expected));
        }
        let stored = store.items.lock().unwrap()["f1"].clone();
        assert_eq!((stored.occurrences, stored.alert, stored.status), (3, AlertState::Settled, FindingStatus::Open));
        assert_eq!(stored.last_alert_message_id.as_deref(), Some("m-1"));
        assert_eq!(stored.last_alert_reason.as_deref(), Some("new"));
    }

    #[tokio::test]
    async fn a_lost_race_reads_the_winner_and_does_not_alert_again() {
        let store = Arc::new(MemoryStore::default());
        let ledger = ledger(&store);
        // Another invocation creates the item (and claims its alert) between our read and write.
        let rival = transition(None, &key(), &seen(), 1_800_000_000, &Lifecycle::default()).next.unwrap();
        let rival = LedgerItem { alert: AlertState::Claimed { at: 1_800_000_000, reason: "new".into() }, ..rival };
        *store.interfere.lock().unwrap() = Some(rival.clone());
        let gates = ledger.judge(&[(key(), seen())]).await;
        let Gate::Quiet { reason: QuietReason::AlertInFlight, item: Some(item) } = &gates[0] else {
            panic!("{gates:?}")
        };
        assert_eq!(item.occurrences, 2);
        // The rival settles its claim though we wrote since: the claim we copied is still its own.
        ledger.published(&rival, "m-rival").await.unwrap();
        let stored = store.items.lock().unwrap()["f1"].clone();
        assert_eq!((stored.alert, stored.occurrences), (AlertState::Settled, 2));
        assert_eq!(stored.last_alert_message_id.as_deref(), Some("m-rival"));
    }

    #[tokio::test]
    async fn an_unpublished_claim_alerts_on_the_next_sighting() {
        let store = Arc::new(MemoryStore::default());
        let ledger = ledger(&store);
        let Gate::Alert { claim, .. } = ledger.judge(&[(key(), seen())]).await.remove(0) else { panic!() };
        ledger.unpublished(&claim).await.unwrap();
        let retry = ledger.judge(&[(key(), seen())]).await;
        assert!(matches!(retry[0], Gate::Alert { reason: AlertReason::Unpublished, .. }), "{retry:?}");
    }

    #[tokio::test]
    async fn an_unreachable_store_gates_nothing() {
        let store = Arc::new(MemoryStore { down: true, ..MemoryStore::default() });
        let gates = ledger(&store).judge(&[(key(), seen()), (key(), Seen::Compliant)]).await;
        assert_eq!(gates.len(), 2);
        assert!(gates.iter().all(|g| matches!(g, Gate::Unavailable(StoreError::Aws(_)))), "{gates:?}");
    }
}
