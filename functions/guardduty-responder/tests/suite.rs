//! guardduty-responder's integration tests in one binary (one link, not one per file); each file is a module.
//! Run one file's tests with a name filter: `cargo test -p guardduty-responder --test suite real_events::`.

mod real_events;
mod sample_payloads;
