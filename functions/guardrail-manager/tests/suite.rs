//! guardrail-manager's integration tests in one binary (one link, not one per file); each file is a module.
//! Run one file's tests with a name filter: `cargo test -p guardrail-manager --test suite policy_grammar::`.

mod policy_grammar;
mod sample_payloads;
