//! Test and demo support: a moto server per test, SDK configuration pointing at it, seeding of
//! databases, an SNS topic whose alerts are read back through a subscribed SQS queue, and builders
//! for the events AWS sends.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod estate;
pub mod events;
pub mod ledger;
pub mod migration;
pub mod moto;
pub mod network;
pub mod organization;
pub mod proxy;
pub mod scp_organization;
pub mod template;
pub mod threat_events;
pub mod watchers;

pub use estate::{Estate, ReceivedAlert};
pub use moto::MotoServer;
pub use proxy::{Fault, FaultProxy, On, Times};

/// The account moto uses for callers that did not assume a role.
pub const MOTO_ACCOUNT: &str = "123456789012";
