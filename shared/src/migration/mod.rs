//! Encrypting an unencrypted database (issue 18): snapshot → encrypted copy → restore under a new
//! identifier with every setting → verify → cutover (the new database takes the old name, so the
//! endpoint name stays) → rollback while the old database exists. Nothing is ever deleted.
//!
//! The migration is a state machine of idempotent steps ([`steps::next`], a pure function of what
//! AWS shows now). Its state lives in AWS alone: tags on the source, the snapshots and the new
//! database ([`names`]); a crashed or repeated run simply observes again and carries on.

pub mod continuation;
pub mod engine;
pub mod names;
pub mod plan;
pub mod settings;
pub mod steps;

pub use continuation::{continue_migration, migration_progressed, CUTOVER_APPROVED, TAG_CUTOVER};
pub use engine::{advance, observe, run, Observed, Progress};
pub use steps::{next, Mode, Next, Outcome, Phase, Step};
