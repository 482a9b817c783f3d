//! Checks as a library: one per subject — a database ([`check_database`]), a snapshot
//! ([`check_snapshot`]), a parameter group ([`check_parameter_group`]); security groups are checked
//! by [`crate::group_check`]. Each takes where it runs ([`CheckScope`]: account, region, policy,
//! deadline), the subject, and the change that triggered it *or none*, and returns the findings
//! with what was done about each. rds-guard's event handler is triage + check + deliver; a sweep or
//! the `rdsguard` command line calls the same checks with no event (`change: None` judges every
//! rule).

mod database;
mod parameter_group;
mod snapshot;

use tracing::{error, warn};

pub use database::{check_database, describe_database, judge_database};
pub use parameter_group::{check_database_tls, check_parameter_group};
pub use snapshot::{check_snapshot, judge_snapshot, snapshot_judged_on, SnapshotChange};

use crate::aws::AwsError;
use crate::finding::Finding;
use crate::identity::{AccountId, AwsRegion};
use crate::kernel::Deadline;
use crate::policy::Policy;
use crate::remediate::{ActionOutcome, Confirmation};
use crate::rules::RuleId;

/// Where a check runs and by which rules: the resource's account and region, the policy, how long
/// to confirm a fix, and the invocation's deadline.
#[derive(Clone, Copy)]
pub struct CheckScope<'a> {
    pub account: &'a AccountId,
    pub region: &'a AwsRegion,
    pub policy: &'a Policy,
    pub confirmation: Confirmation,
    pub deadline: Deadline,
}

/// Why a check could not finish: returned when nothing was reached yet, otherwise kept in
/// [`Checked::failure`] next to the findings that were.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("cannot read the resource's current state: {0}")]
    Describe(AwsError),
}

impl<F> From<CheckError> for crate::kernel::InvocationError<F> {
    fn from(error: CheckError) -> Self {
        match error {
            CheckError::Describe(e) => Self::describe("the resource's current state", e),
        }
    }
}

/// What a check concluded about its subject.
#[derive(Debug)]
pub enum CheckOutcome {
    Judged(Checked),
    /// Nothing to judge (nothing this check covers uses the resource), and why.
    NothingToCheck(String),
    /// The resource does not exist (deleted, or never created): `resources` are the ARNs it was
    /// looked for under (findings held on them resolve), `reason` says so.
    Gone {
        resources: Vec<String>,
        reason: String,
    },
}

/// The findings of one check and what was done about each, ready to be alerted.
#[derive(Debug)]
pub struct Checked {
    /// The resource checked (its ARN).
    pub resource: String,
    pub findings: Vec<(Finding, ActionOutcome)>,
    /// Rules that could not judge for lack of state (nothing was done about them).
    pub undetermined: Vec<String>,
    /// Rules judged compliant (the findings ledger resolves what it held open for them).
    pub compliant: Vec<Finding>,
    /// A later step of the check failed after these findings were reached: they are alerted first,
    /// then the invocation fails with this so the event is retried.
    pub failure: Option<CheckError>,
}

impl Checked {
    pub fn new(resource: String) -> Self {
        Self { resource, findings: Vec::new(), undetermined: Vec::new(), compliant: Vec::new(), failure: None }
    }

    /// Records a verdict that could not be reached (nothing is done about it).
    pub fn undetermined(&mut self, rule: RuleId, resource: &str, why: &str) {
        warn!(%rule, resource, why, "rule could not judge; nothing done");
        self.undetermined.push(format!("{rule}: {why}"));
    }

    /// Records a step that failed after outcomes were reached (the first one is kept).
    pub fn failed(&mut self, failure: CheckError) {
        error!(error = %failure, "a step of the check failed; the outcomes reached are alerted, then the invocation fails");
        self.failure.get_or_insert(failure);
    }
}
