//! Guardrails: Service Control Policies for RDS managed as code (guardrail-manager and the
//! `rdsguard` command line). The catalogue ([`catalogue`]) turns settings into statements,
//! [`packing`] fits them into as few documents as AWS's quotas allow, [`plan`] diffs them against
//! the organisation, and [`reconcile`] reads the organisation and makes the changes.

pub mod catalogue;
pub mod packing;
pub mod plan;
pub mod reconcile;
pub mod settings;

pub use catalogue::{desired_statements, Guardrail};
pub use packing::{pack, PackingError, MAX_POLICIES_PER_TARGET, MAX_POLICY_CHARS};
pub use plan::{desired_policies, plan, Change, DesiredPolicy, ManagedPolicy, OrgState, Plan, PlanError};
pub use reconcile::{apply, is_managed, observe, plan_for, reconcile, ReconcileError, Reconciled};
pub use settings::{GuardrailSettings, TargetId, MANAGED_TAG_KEY};
