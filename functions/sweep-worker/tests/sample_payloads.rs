//! The sample payloads in events/sweep-worker (for `cargo lambda invoke --data-file` and
//! `sam local invoke -e`) are SQS batches as Lambda delivers them: from the sweep queue, two
//! account-regions to sweep and one message a hand-made send got wrong, which the worker refuses
//! with the reason; from the re-check queue, the second re-check of a deferred fix.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use aws_lambda_events::event::sqs::SqsEvent;
use rdsguard::recheck::{RecheckMessage, RecheckResource};
use sweep_worker::handler::{parse_message, parse_request, WorkerMessage};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/sweep-worker/01-sweep-queue-batch.json");
const RECHECK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/sweep-worker/02-recheck-queue-message.json");

#[test]
fn the_sample_batch_names_two_account_regions_and_one_bad_message() {
    let event: SqsEvent = serde_json::from_str(&std::fs::read_to_string(SAMPLE).unwrap()).expect("an SQS event");
    let read: Vec<Result<String, String>> = event
        .records
        .iter()
        .map(|record| {
            parse_request(record.body.as_deref().unwrap_or_default())
                .map(|(_, account, region)| format!("{account}/{region}"))
        })
        .collect();
    assert_eq!(read[0].as_deref(), Ok("123456789012/us-east-1"));
    assert_eq!(read[1].as_deref(), Ok("123456789012/sa-east-1"));
    let refused = read[2].as_ref().unwrap_err();
    assert!(refused.starts_with("account: "), "{refused}");
}

#[test]
fn the_sample_recheck_names_one_database_and_its_attempt() {
    let event: SqsEvent = serde_json::from_str(&std::fs::read_to_string(RECHECK).unwrap()).expect("an SQS event");
    assert_eq!(event.records.len(), 1);
    let body = event.records[0].body.as_deref().unwrap_or_default();
    match parse_message(body).expect("a re-check message") {
        WorkerMessage::Recheck(RecheckMessage::Resource(recheck)) => {
            assert_eq!((recheck.resource, recheck.id.as_str()), (RecheckResource::DbInstance, "orders-db"));
            assert_eq!((recheck.rule.as_str(), recheck.attempt), ("RDS.2", 2));
        }
        other => panic!("{other:?}"),
    }
}
