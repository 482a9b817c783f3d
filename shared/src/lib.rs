//! rdsguard's shared library.
//!
//! The flow every function follows (see README "Architecture"):
//! parse the event tolerantly ([`event`]) → describe the resource's current state ([`aws`]) →
//! judge it with pure rules ([`rules`]) under the configured [`policy`] → plan and run the
//! remediation ([`remediate`]) → publish one alert per finding ([`alert`]).

pub mod action;
pub mod alert;
pub mod arn;
pub mod aws;
pub mod checks;
pub mod database;
pub mod db_snapshot;
pub mod event;
pub mod finding;
pub mod group_check;
pub mod guardduty;
pub mod guardrails;
pub mod identity;
pub mod kernel;
pub mod ledger;
pub mod network;
pub mod policy;
pub mod recheck;
pub mod remediate;
pub mod report;
pub mod rules;
pub mod securityhub;
pub mod startup;
pub mod sweep;
pub mod telemetry;
// Issue 7: organisation-wide deployment.
pub mod member_access;
pub mod metrics;
// Issue 18: encrypting an unencrypted database.
pub mod migration;
