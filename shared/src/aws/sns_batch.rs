//! Publishing several alerts with SNS PublishBatch: up to 10 entries and 256 KiB a call, each entry
//! with its own subject and attributes. A call that answers with some entries failed is followed by
//! one with exactly those entries (when SNS says the fault was its own, not the request's), so a
//! published alert is never sent twice and a failed one is retried without the others.
//!
//! The batching is written against [`BatchSend`] so that its rules are tested without SNS; the SDK
//! adapter is [`super::SnsAlertPublisher`].

use std::collections::HashMap;

use async_trait::async_trait;

use super::AwsError;

/// SNS takes at most this many entries in one PublishBatch call.
pub const SNS_BATCH_MAX: usize = 10;
/// SNS takes at most this many bytes of messages (bodies and attributes) in one PublishBatch call.
pub const SNS_BATCH_BYTES: usize = 262_144;
/// Calls with only the failed entries after the first (entries SNS failed on its side).
pub const SNS_ENTRY_RETRIES: usize = 2;

/// One message of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchEntry {
    /// Unique within one call (SNS: up to 80 alphanumeric characters, `-` and `_`).
    pub id: String,
    pub subject: String,
    pub message: String,
    pub attributes: Vec<(&'static str, String)>,
}

impl BatchEntry {
    /// The bytes SNS counts against [`SNS_BATCH_BYTES`] (the subject counted too, to be safe).
    pub fn size(&self) -> usize {
        let attributes: usize =
            self.attributes.iter().map(|(name, value)| name.len() + "String".len() + value.len()).sum();
        self.message.len() + self.subject.len() + attributes
    }
}

/// An entry SNS did not publish.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryFailure {
    pub id: String,
    pub code: String,
    pub message: String,
    /// True when the request was at fault (sending it again would fail again).
    pub sender_fault: bool,
}

/// What one PublishBatch call answered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchAnswer {
    /// (entry id, SNS message id)
    pub successful: Vec<(String, String)>,
    pub failed: Vec<EntryFailure>,
}

/// One PublishBatch call (the SDK's own retries included).
#[async_trait]
pub trait BatchSend: Send + Sync {
    async fn send(&self, entries: &[BatchEntry]) -> Result<BatchAnswer, AwsError>;
}

/// Splits entries, in order, into calls of at most [`SNS_BATCH_MAX`] entries and
/// [`SNS_BATCH_BYTES`] bytes; an entry too large on its own gets a call of its own (SNS rejects it
/// and says why).
pub fn batches(entries: &[BatchEntry]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, entry) in entries.iter().enumerate() {
        let size = entry.size();
        if i > start && (i - start == SNS_BATCH_MAX || bytes + size > SNS_BATCH_BYTES) {
            ranges.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < entries.len() {
        ranges.push(start..entries.len());
    }
    ranges
}

/// Publishes every entry; one result per entry, in order: the SNS message id, or why it was not
/// published. A call that fails as a whole fails each of its entries (the SDK has retried it).
pub async fn publish_in_batches(sender: &dyn BatchSend, entries: &[BatchEntry]) -> Vec<Result<String, AwsError>> {
    let mut results: Vec<Option<Result<String, AwsError>>> = vec![None; entries.len()];
    let index: HashMap<&str, usize> = entries.iter().enumerate().map(|(i, e)| (e.id.as_str(), i)).collect();
    for range in batches(entries) {
        let mut pending: Vec<usize> = range.collect();
        for round in 0..=SNS_ENTRY_RETRIES {
            let call: Vec<BatchEntry> = pending.iter().map(|&i| entries[i].clone()).collect();
            let answer = match sender.send(&call).await {
                Ok(answer) => answer,
                Err(e) => {
                    for &i in &pending {
                        results[i] = Some(Err(e.clone()));
                    }
                    break;
                }
            };
            for (id, message_id) in answer.successful {
                if let Some(&i) = index.get(id.as_str()) {
                    results[i] = Some(Ok(message_id));
                }
            }
            let mut retry = Vec::new();
            for failure in answer.failed {
                let Some(&i) = index.get(failure.id.as_str()) else { continue };
                let last = round == SNS_ENTRY_RETRIES;
                if failure.sender_fault || last {
                    results[i] = Some(Err(entry_error(&failure)));
                } else {
                    retry.push(i);
                }
            }
            // An entry SNS answered neither way is not assumed published.
            for &i in &pending {
                if results[i].is_none() && !retry.contains(&i) {
                    results[i] = Some(Err(AwsError {
                        operation: "PublishBatch",
                        code: None,
                        message: format!("SNS did not answer for entry {}", entries[i].id),
                    }));
                }
            }
            if retry.is_empty() {
                break;
            }
            pending = retry;
        }
    }
    results
        .into_iter()
        .zip(entries)
        .map(|(result, entry)| {
            result.unwrap_or_else(|| {
                Err(AwsError { operation: "PublishBatch", code: None, message: format!("entry {} not sent", entry.id) })
            })
        })
        .collect()
}

fn entry_error(failure: &EntryFailure) -> AwsError {
    AwsError { operation: "PublishBatch", code: Some(failure.code.clone()), message: failure.message.clone() }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn entry(id: usize, bytes: usize) -> BatchEntry {
        BatchEntry { id: format!("a{id}"), subject: String::new(), message: "x".repeat(bytes), attributes: vec![] }
    }

    /// (case, entries, the calls as (first, past-the-last) entry indices)
    type Case = (&'static str, Vec<BatchEntry>, Vec<(usize, usize)>);

    #[test]
    fn calls_hold_at_most_ten_entries_and_256_kib() {
        let small = |n: usize| (0..n).map(|i| entry(i, 100)).collect::<Vec<_>>();
        let cases: Vec<Case> = vec![
            ("none", vec![], vec![]),
            ("one", small(1), vec![(0, 1)]),
            ("ten", small(10), vec![(0, 10)]),
            ("eleven", small(11), vec![(0, 10), (10, 11)]),
            ("twenty-one", small(21), vec![(0, 10), (10, 20), (20, 21)]),
            ("size splits before ten", (0..4).map(|i| entry(i, 100_000)).collect(), vec![(0, 2), (2, 4)]),
            ("exactly 256 KiB fits", vec![entry(0, 131_072), entry(1, 131_072)], vec![(0, 2)]),
            (
                "too large alone gets its own call",
                vec![entry(0, 10), entry(1, 300_000), entry(2, 10)],
                vec![(0, 1), (1, 2), (2, 3)],
            ),
        ];
        for (name, entries, expected) in cases {
            let got: Vec<(usize, usize)> = batches(&entries).into_iter().map(|r| (r.start, r.end)).collect();
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn size_counts_body_subject_and_attributes() {
        let e = BatchEntry {
            id: "a0".into(),
            subject: "sub".into(),
            message: "body".into(),
            attributes: vec![("rule", "RDS.2".into())],
        };
        assert_eq!(e.size(), 4 + 3 + 4 + 6 + 5);
    }

    /// One scripted answer: the entry ids to fail and whether by the sender, or the call failing.
    type Step = Result<Vec<(&'static str, bool)>, AwsError>;

    /// Answers each call from a script: per call, the entry ids to fail and whether by the sender.
    struct Scripted {
        calls: Mutex<Vec<Vec<String>>>,
        script: Mutex<Vec<Step>>,
    }

    impl Scripted {
        fn new(script: Vec<Step>) -> Self {
            Self { calls: Mutex::new(vec![]), script: Mutex::new(script) }
        }
    }

    #[async_trait]
    impl BatchSend for Scripted {
        async fn send(&self, entries: &[BatchEntry]) -> Result<BatchAnswer, AwsError> {
            self.calls.lock().unwrap().push(entries.iter().map(|e| e.id.clone()).collect());
            let mut script = self.script.lock().unwrap();
            let step = if script.is_empty() { Ok(vec![]) } else { script.remove(0) };
            let failing = step?;
            let mut answer = BatchAnswer::default();
            for e in entries {
                match failing.iter().find(|(id, _)| *id == e.id) {
                    Some((_, sender_fault)) => answer.failed.push(EntryFailure {
                        id: e.id.clone(),
                        code: if *sender_fault { "InvalidParameter" } else { "InternalError" }.into(),
                        message: "no".into(),
                        sender_fault: *sender_fault,
                    }),
                    None => answer.successful.push((e.id.clone(), format!("m-{}", e.id))),
                }
            }
            Ok(answer)
        }
    }

    fn outcome(results: &[Result<String, AwsError>]) -> Vec<String> {
        results
            .iter()
            .map(|r| match r {
                Ok(id) => id.clone(),
                Err(e) => format!("err {}", e.code.as_deref().unwrap_or("-")),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_partly_failed_batch_retries_exactly_the_failed_entries() {
        let entries: Vec<_> = (0..3).map(|i| entry(i, 10)).collect();
        let sns = Scripted::new(vec![Ok(vec![("a1", false)]), Ok(vec![])]);
        let results = publish_in_batches(&sns, &entries).await;
        assert_eq!(outcome(&results), ["m-a0", "m-a1", "m-a2"]);
        assert_eq!(*sns.calls.lock().unwrap(), vec![vec!["a0", "a1", "a2"], vec!["a1"]]);
    }

    #[tokio::test]
    async fn a_sender_fault_is_not_retried_and_a_lasting_fault_stops_after_the_retries() {
        let entries: Vec<_> = (0..3).map(|i| entry(i, 10)).collect();
        let sns = Scripted::new(vec![
            Ok(vec![("a0", true), ("a2", false)]),
            Ok(vec![("a2", false)]),
            Ok(vec![("a2", false)]),
        ]);
        let results = publish_in_batches(&sns, &entries).await;
        assert_eq!(outcome(&results), ["err InvalidParameter", "m-a1", "err InternalError"]);
        assert_eq!(*sns.calls.lock().unwrap(), vec![vec!["a0", "a1", "a2"], vec!["a2"], vec!["a2"]]);
    }

    #[tokio::test]
    async fn a_call_failing_as_a_whole_fails_its_entries_only() {
        let entries: Vec<_> = (0..12).map(|i| entry(i, 10)).collect();
        let denied =
            AwsError { operation: "PublishBatch", code: Some("AuthorizationError".into()), message: "no".into() };
        let sns = Scripted::new(vec![Ok(vec![]), Err(denied)]);
        let results = publish_in_batches(&sns, &entries).await;
        let outcome = outcome(&results);
        assert!(outcome[..10].iter().all(|o| o.starts_with("m-")), "{outcome:?}");
        assert_eq!(&outcome[10..], ["err AuthorizationError", "err AuthorizationError"]);
        assert_eq!(sns.calls.lock().unwrap().len(), 2);
    }
}
