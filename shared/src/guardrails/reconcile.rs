//! Reconcile: read the organisation ([`observe`]), diff it against the settings ([`plan`]) and,
//! when asked, make the changes ([`apply`]). Only policies carrying both the name prefix and the
//! managed tag are ever changed; every other policy is only counted against the per-target quota.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use tracing::info;

use super::plan::{plan, Change, ManagedPolicy, OrgState, Plan, PlanError};
use super::settings::{GuardrailSettings, MANAGED_TAG_KEY};
use crate::aws::{AwsError, Organization};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    #[error("reading the organisation failed: {0}")]
    Observe(AwsError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("applying `{change}` failed after {done} of {total} change(s): {error}")]
    Apply { change: String, done: usize, total: usize, error: AwsError },
}

/// Whether a policy is one rdsguard manages under these settings: its name starts with
/// `<prefix>-` and it is tagged `rdsguard:managed-by=<prefix>`.
pub fn is_managed(settings: &GuardrailSettings, name: &str, tags: &[(String, String)]) -> bool {
    name.starts_with(&format!("{}-", settings.policy_name_prefix))
        && tags.iter().any(|(k, v)| k == MANAGED_TAG_KEY && v == &settings.policy_name_prefix)
}

/// Reads what the plan needs: managed policies (content and targets), same-prefix policies that
/// are not managed, and the other SCPs attached to each desired target.
pub async fn observe(organization: &dyn Organization, settings: &GuardrailSettings) -> Result<OrgState, AwsError> {
    let prefix = format!("{}-", settings.policy_name_prefix);
    let mut state = OrgState::default();
    let mut managed_ids = BTreeSet::new();
    for policy in organization.list_scps().await? {
        if policy.aws_managed || !policy.name.starts_with(&prefix) {
            continue;
        }
        let tags = organization.policy_tags(&policy.id).await?;
        if !is_managed(settings, &policy.name, &tags) {
            state.unmanaged_with_prefix.insert(policy.name);
            continue;
        }
        let content = organization.scp_content(&policy.id).await?;
        let targets = organization.targets_of(&policy.id).await?.into_iter().collect();
        managed_ids.insert(policy.id.clone());
        state.managed.push(ManagedPolicy { id: policy.id, name: policy.name, content, targets });
    }
    for target in &settings.targets {
        let foreign: Vec<String> = organization
            .scps_attached_to(target.as_str())
            .await?
            .into_iter()
            .filter(|p| !managed_ids.contains(&p.id))
            .map(|p| p.name)
            .collect();
        state.foreign_attached.insert(target.as_str().to_owned(), foreign);
    }
    Ok(state)
}

/// The plan for the organisation as it is now.
pub async fn plan_for(
    organization: &dyn Organization,
    settings: &GuardrailSettings,
) -> Result<(Plan, OrgState), ReconcileError> {
    let state = observe(organization, settings).await.map_err(ReconcileError::Observe)?;
    Ok((plan(settings, &state)?, state))
}

/// Makes the plan's changes in order; stops at the first failure (what was done stays done, and
/// the next run plans the rest). Returns the ids of the managed policies afterwards, by name.
pub async fn apply(
    organization: &dyn Organization,
    settings: &GuardrailSettings,
    plan: &Plan,
    state: &OrgState,
) -> Result<BTreeMap<String, String>, ReconcileError> {
    let mut ids: BTreeMap<String, String> = state.managed.iter().map(|p| (p.name.clone(), p.id.clone())).collect();
    let tags = vec![(MANAGED_TAG_KEY.to_owned(), settings.policy_name_prefix.clone())];
    let total = plan.changes.len();
    for (done, change) in plan.changes.iter().enumerate() {
        let failed = |error: AwsError| ReconcileError::Apply { change: change.to_string(), done, total, error };
        let unknown = |name: &str| AwsError {
            operation: "AttachPolicy",
            code: None,
            message: format!("policy {name} has no id (it was neither found nor created)"),
        };
        match change {
            Change::CreatePolicy { name, content } => {
                let description = "rdsguard guardrails (managed by guardrail-manager; changes are reverted)";
                let id = organization.create_scp(name, description, content, &tags).await.map_err(failed)?;
                ids.insert(name.clone(), id);
            }
            Change::UpdatePolicy { id, content, .. } => organization.update_scp(id, content).await.map_err(failed)?,
            Change::DetachPolicy { id, target, .. } => organization.detach(id, target).await.map_err(failed)?,
            Change::AttachPolicy { name, target } => {
                let id = ids.get(name).ok_or_else(|| failed(unknown(name)))?;
                organization.attach(id, target).await.map_err(failed)?;
            }
            Change::DeletePolicy { id, name } => {
                organization.delete_scp(id).await.map_err(failed)?;
                ids.remove(name);
            }
        }
        info!(change = %change, "guardrail change applied");
    }
    Ok(ids)
}

/// What one reconcile did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    pub plan: Plan,
    /// Managed policy ids by name after the changes.
    pub policies: BTreeMap<String, String>,
}

/// Observe, plan, log the plan, apply it.
pub async fn reconcile(
    organization: &dyn Organization,
    settings: &GuardrailSettings,
) -> Result<Reconciled, ReconcileError> {
    let (plan, state) = plan_for(organization, settings).await?;
    info!(plan = %plan.render(), "guardrail plan");
    let policies = apply(organization, settings, &plan, &state).await?;
    Ok(Reconciled { plan, policies })
}
