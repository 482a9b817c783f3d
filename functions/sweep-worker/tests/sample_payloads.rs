//! The sample payload in events/sweep-worker (for `cargo lambda invoke --data-file` and
//! `sam local invoke -e`) is an SQS batch as Lambda delivers it: two account-regions to sweep and one
//! message a hand-made send got wrong, which the worker refuses with the reason.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use aws_lambda_events::event::sqs::SqsEvent;
use sweep_worker::handler::parse_request;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/sweep-worker/01-sweep-queue-batch.json");

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
