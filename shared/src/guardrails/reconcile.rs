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
        // A policy deleted since the listing is simply not there any more.
        let Some(tags) = gone_is_none(organization.policy_tags(&policy.id).await)? else { continue };
        if !is_managed(settings, &policy.name, &tags) {
            state.unmanaged_with_prefix_ids.insert(policy.id, policy.name.clone());
            state.unmanaged_with_prefix.insert(policy.name);
            continue;
        }
        let Some(content) = gone_is_none(organization.scp_content(&policy.id).await)? else { continue };
        let Some(targets) = gone_is_none(organization.targets_of(&policy.id).await)? else { continue };
        managed_ids.insert(policy.id.clone());
        state.managed.push(ManagedPolicy {
            id: policy.id,
            name: policy.name,
            content,
            targets: targets.into_iter().collect(),
        });
    }
    // The quota only matters where policies will be attached: removal reads no target (one may no
    // longer exist, and removal must still work).
    if settings.guardrails.is_empty() {
        return Ok(state);
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

/// Organizations error codes meaning a policy or target no longer exists, or the policy is no
/// longer attached: for a detach or a delete, the change is already made. (DetachPolicy documents
/// TargetNotFoundException; the OU and account variants are what some endpoints answer for a
/// deleted OU or a closed account.)
pub const ALREADY_GONE_CODES: &[&str] = &[
    "AccountNotFoundException",
    "OrganizationalUnitNotFoundException",
    "PolicyNotAttachedException",
    "PolicyNotFoundException",
    "TargetNotFoundException",
];

fn already_gone(error: &AwsError) -> bool {
    error.code.as_deref().is_some_and(|code| ALREADY_GONE_CODES.contains(&code))
}

/// A read of a policy that vanished meanwhile: `None`.
fn gone_is_none<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.code.as_deref() == Some("PolicyNotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

/// A detach or delete whose object is already gone is done.
fn done_if_gone(result: Result<(), AwsError>, change: &Change) -> Result<(), AwsError> {
    match result {
        Err(e) if already_gone(&e) => {
            info!(change = %change, code = e.code.as_deref().unwrap_or_default(), "already done");
            Ok(())
        }
        other => other,
    }
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
            Change::DetachPolicy { id, target, .. } => {
                done_if_gone(organization.detach(id, target).await, change).map_err(failed)?
            }
            Change::AttachPolicy { name, target } => {
                let id = ids.get(name).ok_or_else(|| failed(unknown(name)))?;
                organization.attach(id, target).await.map_err(failed)?;
            }
            Change::DeletePolicy { id, name } => {
                done_if_gone(organization.delete_scp(id).await, change).map_err(failed)?;
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::aws::ScpSummary;

    fn gone(operation: &'static str, code: &str) -> AwsError {
        AwsError { operation, code: Some(code.to_owned()), message: format!("{code} (test)") }
    }

    /// An organisation whose managed policy is listed but whose target OU was deleted and whose
    /// policy vanishes between observe and apply.
    #[derive(Default)]
    struct VanishingOrg {
        calls: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Organization for VanishingOrg {
        async fn list_scps(&self) -> Result<Vec<ScpSummary>, AwsError> {
            Ok(vec![ScpSummary {
                id: "p-1".to_owned(),
                name: "rdsguard-guardrails-1".to_owned(),
                arn: None,
                aws_managed: false,
            }])
        }
        async fn scp_content(&self, _: &str) -> Result<String, AwsError> {
            Ok("{}".to_owned())
        }
        async fn policy_tags(&self, _: &str) -> Result<Vec<(String, String)>, AwsError> {
            Ok(vec![(MANAGED_TAG_KEY.to_owned(), "rdsguard-guardrails".to_owned())])
        }
        async fn targets_of(&self, _: &str) -> Result<Vec<String>, AwsError> {
            Ok(vec!["ou-ab12-abcdefgh".to_owned(), "r-ab12".to_owned()])
        }
        async fn scps_attached_to(&self, target: &str) -> Result<Vec<ScpSummary>, AwsError> {
            self.calls.lock().unwrap().push(format!("ListPoliciesForTarget {target}"));
            Err(gone("ListPoliciesForTarget", "TargetNotFoundException"))
        }
        async fn create_scp(&self, _: &str, _: &str, _: &str, _: &[(String, String)]) -> Result<String, AwsError> {
            Err(gone("CreatePolicy", "AccessDeniedException"))
        }
        async fn update_scp(&self, _: &str, _: &str) -> Result<(), AwsError> {
            Err(gone("UpdatePolicy", "AccessDeniedException"))
        }
        async fn tag_scp(&self, _: &str, _: &[(String, String)]) -> Result<(), AwsError> {
            Err(gone("TagResource", "AccessDeniedException"))
        }
        async fn attach(&self, _: &str, _: &str) -> Result<(), AwsError> {
            Err(gone("AttachPolicy", "AccessDeniedException"))
        }
        async fn detach(&self, policy: &str, target: &str) -> Result<(), AwsError> {
            self.calls.lock().unwrap().push(format!("DetachPolicy {policy} {target}"));
            let code = if target.starts_with("ou-") { "TargetNotFoundException" } else { "PolicyNotAttachedException" };
            Err(gone("DetachPolicy", code))
        }
        async fn delete_scp(&self, policy: &str) -> Result<(), AwsError> {
            self.calls.lock().unwrap().push(format!("DeletePolicy {policy}"));
            Err(gone("DeletePolicy", "PolicyNotFoundException"))
        }
        async fn enable_scps(&self, _: &str) -> Result<(), AwsError> {
            Ok(())
        }
    }

    fn settings() -> GuardrailSettings {
        GuardrailSettings::from_vars([
            ("GUARDRAILS".to_owned(), "deny-unencrypted-rds".to_owned()),
            ("GUARDRAIL_TARGETS".to_owned(), "ou-ab12-abcdefgh,r-ab12".to_owned()),
        ])
        .unwrap()
    }

    #[tokio::test]
    async fn removal_succeeds_when_a_target_or_the_policy_is_already_gone() {
        let org = VanishingOrg::default();
        let done = reconcile(&org, &settings().removal()).await.unwrap();
        assert_eq!(done.plan.changes.len(), 3, "{}", done.plan.render());
        assert!(done.policies.is_empty());
        assert_eq!(
            *org.calls.lock().unwrap(),
            ["DetachPolicy p-1 ou-ab12-abcdefgh", "DetachPolicy p-1 r-ab12", "DeletePolicy p-1"],
            "removal reads no target"
        );
    }

    #[tokio::test]
    async fn other_errors_still_fail_and_applying_still_reads_the_targets() {
        let org = VanishingOrg::default();
        let error = reconcile(&org, &settings()).await.unwrap_err();
        assert!(matches!(&error, ReconcileError::Observe(e) if e.operation == "ListPoliciesForTarget"), "{error}");
    }
}
