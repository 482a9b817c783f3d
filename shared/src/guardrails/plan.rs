//! The plan: what must change in the organisation for its managed SCPs to match the desired
//! guardrails. Pure: the organisation's state comes in as data ([`OrgState`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::catalogue::desired_statements;
use super::packing::{pack, PackingError, MAX_POLICIES_PER_TARGET};
use super::settings::GuardrailSettings;

/// One SCP document the settings call for, with its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredPolicy {
    pub name: String,
    pub content: String,
}

/// The SCP documents the settings call for: `<prefix>-1`, `<prefix>-2`...
pub fn desired_policies(settings: &GuardrailSettings) -> Result<Vec<DesiredPolicy>, PackingError> {
    let documents = pack(&desired_statements(settings))?;
    Ok(documents
        .into_iter()
        .enumerate()
        .map(|(i, content)| DesiredPolicy { name: format!("{}-{}", settings.policy_name_prefix, i + 1), content })
        .collect())
}

/// A policy rdsguard manages (name prefix and tag both match), as found in the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub id: String,
    pub name: String,
    pub content: String,
    pub targets: BTreeSet<String>,
}

/// What reconcile needs to know about the organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgState {
    pub managed: Vec<ManagedPolicy>,
    /// Names of policies that carry the name prefix but not the managed tag: never touched.
    pub unmanaged_with_prefix: BTreeSet<String>,
    /// The same policies by id (id → name): a policy of ours whose managed tag was removed shows
    /// up here.
    pub unmanaged_with_prefix_ids: BTreeMap<String, String>,
    /// For each desired target, the names of SCPs attached to it that rdsguard does not manage
    /// (FullAWSAccess included): they count against the 5-per-target quota.
    pub foreign_attached: BTreeMap<String, Vec<String>>,
}

/// One change to the organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    CreatePolicy { name: String, content: String },
    UpdatePolicy { id: String, name: String, content: String },
    DetachPolicy { id: String, name: String, target: String },
    AttachPolicy { name: String, target: String },
    DeletePolicy { id: String, name: String },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreatePolicy { name, content } => write!(f, "+ create policy {name} ({} characters)", content.len()),
            Self::UpdatePolicy { id, name, content } => {
                write!(f, "~ update policy {name} ({id}) to the desired content ({} characters)", content.len())
            }
            Self::DetachPolicy { id, name, target } => write!(f, "- detach policy {name} ({id}) from {target}"),
            Self::AttachPolicy { name, target } => write!(f, "+ attach policy {name} to {target}"),
            Self::DeletePolicy { id, name } => write!(f, "- delete policy {name} ({id})"),
        }
    }
}

/// The changes, in the order they must be made: create and update first, detach before attach
/// (so a target never needs more than its quota), delete last (a policy must be detached first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// One line per change, or a line saying there is nothing to do.
    pub fn render(&self) -> String {
        if self.changes.is_empty() {
            return "no changes: the organisation matches the desired guardrails".to_owned();
        }
        let lines: Vec<String> = self.changes.iter().map(Change::to_string).collect();
        format!("{} change(s):\n{}", lines.len(), lines.join("\n"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Packing(#[from] PackingError),
    #[error(
        "target {target} would need {needed} SCPs but AWS allows at most {MAX_POLICIES_PER_TARGET} per target: \
         {foreign} already attached that rdsguard does not manage ({names}) plus {managed} rdsguard guardrail \
         document(s); detach a policy from it or enable fewer guardrails"
    )]
    TooManyPolicies { target: String, needed: usize, foreign: usize, names: String, managed: usize },
    #[error(
        "a policy named {0} exists but is not tagged as managed by rdsguard; rdsguard never changes policies it \
         does not manage: rename it or choose another POLICY_NAME_PREFIX"
    )]
    NameTaken(String),
}

/// Compares documents as JSON, so formatting and key order do not count as a difference.
fn same_content(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<Value>(a), serde_json::from_str::<Value>(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The plan that makes the organisation match `settings`. Managed policies not wanted any more are
/// detached from every target and deleted; wanted ones are created or updated and attached to
/// exactly the configured targets.
pub fn plan(settings: &GuardrailSettings, state: &OrgState) -> Result<Plan, PlanError> {
    let desired = desired_policies(settings)?;
    let targets: BTreeSet<String> = if desired.is_empty() {
        BTreeSet::new()
    } else {
        settings.targets.iter().map(|t| t.as_str().to_owned()).collect()
    };
    for policy in &desired {
        if state.unmanaged_with_prefix.contains(&policy.name) {
            return Err(PlanError::NameTaken(policy.name.clone()));
        }
    }
    for target in &targets {
        let foreign = state.foreign_attached.get(target).map(Vec::as_slice).unwrap_or_default();
        let needed = foreign.len() + desired.len();
        if needed > MAX_POLICIES_PER_TARGET {
            return Err(PlanError::TooManyPolicies {
                target: target.clone(),
                needed,
                foreign: foreign.len(),
                names: foreign.join(", "),
                managed: desired.len(),
            });
        }
    }

    let by_name: BTreeMap<&str, &ManagedPolicy> = state.managed.iter().map(|p| (p.name.as_str(), p)).collect();
    let wanted: BTreeSet<&str> = desired.iter().map(|p| p.name.as_str()).collect();
    let (mut writes, mut detaches, mut attaches, mut deletes) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for policy in &desired {
        let attached = match by_name.get(policy.name.as_str()) {
            None => {
                writes.push(Change::CreatePolicy { name: policy.name.clone(), content: policy.content.clone() });
                BTreeSet::new()
            }
            Some(existing) => {
                if !same_content(&existing.content, &policy.content) {
                    writes.push(Change::UpdatePolicy {
                        id: existing.id.clone(),
                        name: policy.name.clone(),
                        content: policy.content.clone(),
                    });
                }
                for target in existing.targets.difference(&targets) {
                    detaches.push(Change::DetachPolicy {
                        id: existing.id.clone(),
                        name: existing.name.clone(),
                        target: target.clone(),
                    });
                }
                existing.targets.clone()
            }
        };
        for target in targets.difference(&attached) {
            attaches.push(Change::AttachPolicy { name: policy.name.clone(), target: target.clone() });
        }
    }
    for existing in state.managed.iter().filter(|p| !wanted.contains(p.name.as_str())) {
        for target in &existing.targets {
            detaches.push(Change::DetachPolicy {
                id: existing.id.clone(),
                name: existing.name.clone(),
                target: target.clone(),
            });
        }
        deletes.push(Change::DeletePolicy { id: existing.id.clone(), name: existing.name.clone() });
    }
    Ok(Plan { changes: [writes, detaches, attaches, deletes].concat() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(guardrails: &str, targets: &str) -> GuardrailSettings {
        GuardrailSettings::from_vars([
            ("GUARDRAILS".to_owned(), guardrails.to_owned()),
            ("GUARDRAIL_TARGETS".to_owned(), targets.to_owned()),
            ("ALLOWED_REGIONS".to_owned(), "eu-west-1,eu-central-1".to_owned()),
            ("BREAK_GLASS_PRINCIPALS".to_owned(), "arn:aws:iam::*:role/BreakGlass".to_owned()),
        ])
        .unwrap()
    }

    fn managed(id: &str, name: &str, content: &str, targets: &[&str]) -> ManagedPolicy {
        ManagedPolicy {
            id: id.to_owned(),
            name: name.to_owned(),
            content: content.to_owned(),
            targets: targets.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    fn in_sync(settings: &GuardrailSettings) -> OrgState {
        let managed = desired_policies(settings)
            .unwrap()
            .into_iter()
            .enumerate()
            .map(|(i, p)| ManagedPolicy {
                id: format!("p-{i}"),
                name: p.name,
                content: p.content,
                targets: settings.targets.iter().map(|t| t.as_str().to_owned()).collect(),
            })
            .collect();
        OrgState { managed, ..OrgState::default() }
    }

    #[test]
    fn an_empty_organisation_gets_created_and_attached() {
        let settings = settings("deny-unencrypted-rds,protect-databases", "r-ab12,123456789012");
        let plan = plan(&settings, &OrgState::default()).unwrap();
        let lines: Vec<String> = plan.changes.iter().map(Change::to_string).collect();
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(lines[0].starts_with("+ create policy rdsguard-guardrails-1 ("), "{lines:#?}");
        assert_eq!(lines[1], "+ attach policy rdsguard-guardrails-1 to 123456789012");
        assert_eq!(lines[2], "+ attach policy rdsguard-guardrails-1 to r-ab12");
    }

    #[test]
    fn matching_organisation_plans_nothing_even_if_formatted_differently() {
        let settings = settings("deny-unencrypted-rds,rds-region-lock", "r-ab12");
        let mut state = in_sync(&settings);
        assert!(plan(&settings, &state).unwrap().is_empty());
        let pretty: Value = serde_json::from_str(&state.managed[0].content).unwrap();
        state.managed[0].content = serde_json::to_string_pretty(&pretty).unwrap();
        assert!(plan(&settings, &state).unwrap().is_empty(), "whitespace is not drift");
        assert_eq!(
            plan(&settings, &state).unwrap().render(),
            "no changes: the organisation matches the desired guardrails"
        );
    }

    #[test]
    fn tampered_content_and_targets_are_put_back() {
        let settings = settings("deny-unencrypted-rds", "r-ab12");
        let mut state = in_sync(&settings);
        state.managed[0].content = r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned();
        state.managed[0].targets = BTreeSet::from(["ou-ab12-abcdefgh".to_owned()]);
        let plan = plan(&settings, &state).unwrap();
        let kinds: Vec<String> = plan.changes.iter().map(Change::to_string).collect();
        assert_eq!(
            kinds,
            [
                format!(
                    "~ update policy rdsguard-guardrails-1 (p-0) to the desired content ({} characters)",
                    desired_policies(&settings).unwrap()[0].content.len()
                ),
                "- detach policy rdsguard-guardrails-1 (p-0) from ou-ab12-abcdefgh".to_owned(),
                "+ attach policy rdsguard-guardrails-1 to r-ab12".to_owned(),
            ]
        );
    }

    #[test]
    fn removal_detaches_and_deletes_only_managed_policies() {
        let settings = settings("deny-unencrypted-rds", "r-ab12,123456789012");
        let mut state = in_sync(&settings);
        state.managed.push(managed("p-old", "rdsguard-guardrails-2", "{}", &["r-ab12"]));
        state.foreign_attached.insert("r-ab12".to_owned(), vec!["FullAWSAccess".to_owned()]);
        let plan = plan(&settings.removal(), &state).unwrap();
        let lines: Vec<String> = plan.changes.iter().map(Change::to_string).collect();
        assert_eq!(
            lines,
            [
                "- detach policy rdsguard-guardrails-1 (p-0) from 123456789012",
                "- detach policy rdsguard-guardrails-1 (p-0) from r-ab12",
                "- detach policy rdsguard-guardrails-2 (p-old) from r-ab12",
                "- delete policy rdsguard-guardrails-1 (p-0)",
                "- delete policy rdsguard-guardrails-2 (p-old)",
            ]
        );
    }

    #[test]
    fn quota_of_five_per_target_counts_what_is_already_attached() {
        let settings = settings("deny-unencrypted-rds", "r-ab12,ou-ab12-abcdefgh");
        let mut state = OrgState::default();
        let four: Vec<String> = ["FullAWSAccess", "a", "b", "c"].map(str::to_owned).to_vec();
        state.foreign_attached.insert("r-ab12".to_owned(), four.clone());
        assert!(plan(&settings, &state).is_ok(), "4 foreign + 1 managed = 5 is at the limit");
        state.foreign_attached.insert("ou-ab12-abcdefgh".to_owned(), [four, vec!["d".to_owned()]].concat());
        let error = plan(&settings, &state).unwrap_err().to_string();
        assert!(
            error.starts_with("target ou-ab12-abcdefgh would need 6 SCPs but AWS allows at most 5 per target")
                && error.contains("FullAWSAccess, a, b, c, d"),
            "{error}"
        );
    }

    #[test]
    fn a_foreign_policy_with_our_name_is_never_taken_over() {
        let settings = settings("protect-databases", "r-ab12");
        let state = OrgState {
            unmanaged_with_prefix: BTreeSet::from(["rdsguard-guardrails-1".to_owned()]),
            ..OrgState::default()
        };
        let error = plan(&settings, &state).unwrap_err();
        assert_eq!(error, PlanError::NameTaken("rdsguard-guardrails-1".to_owned()));
    }
}
