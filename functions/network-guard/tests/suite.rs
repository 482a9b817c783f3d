//! network-guard's integration tests in one binary (one link, not one per file); each file is a module.
//! Run one file's tests with a name filter: `cargo test -p network-guard --test suite real_events::`.

mod real_events;
mod sample_payloads;
