//! sweep-worker's integration tests in one binary (one link, not one per file); each file is a module.
//! Run one file's tests with a name filter: `cargo test -p sweep-worker --test suite sample_payloads::`.

mod sample_payloads;
