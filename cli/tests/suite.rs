//! The `rdsguard` command's integration tests in one binary (one link, not one per file); each file
//! is a module. Run one file's tests with a name filter: `cargo test -p rdsguard-cli --test suite scan::`.

mod encrypt;
mod findings;
mod guardrails;
mod scan;
