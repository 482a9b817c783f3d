//! Organisation membership changes that take an account out from under the guardrails without
//! touching a policy: MoveAccount out of a targeted OU, and RemoveAccountFromOrganization. SCPs
//! follow the tree, so the account simply stops inheriting them. These are alerted, never undone:
//! moving an account back changes every policy it inherits, a decision for the security team.

use std::collections::BTreeSet;

use rdsguard::aws::{AwsError, OrganizationTree};
use rdsguard::event::{CloudTrailCall, EventError};
use rdsguard::guardrails::TargetId;
use serde_json::{json, Value};

/// The membership calls guardrail-manager handles.
pub const MEMBERSHIP_CALLS: &[&str] = &["MoveAccount", "RemoveAccountFromOrganization"];

/// Organisations nest OUs at most five deep under the root; the walk stops well after that so a
/// misbehaving API cannot keep it going.
const MAX_TREE_DEPTH: usize = 10;

/// What a membership call did to the guardrails.
#[derive(Debug, Clone, PartialEq)]
pub enum Membership {
    /// The guardrails still apply to the account as before (or never did); the reason says which.
    Unaffected(String),
    /// The account no longer inherits the guardrails attached to `lost`, and perhaps those of
    /// `possibly_lost` (OUs it may have been under when it left the organisation).
    Escaped { account_id: String, lost: Vec<String>, possibly_lost: Vec<String>, observed: Value },
}

#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("could not read where the account sits in the organisation: {0}")]
    Tree(#[from] AwsError),
}

/// The configured targets that apply to an account: the account itself, or a root or OU on its
/// path (`path` runs from its parent up to the root).
pub fn covering_targets<'a>(targets: &'a [TargetId], account_id: &str, path: &[String]) -> BTreeSet<&'a str> {
    targets
        .iter()
        .map(TargetId::as_str)
        .filter(|target| *target == account_id || path.iter().any(|node| node == target))
        .collect()
}

/// `start` and its ancestors up to the root (ListParents, one call per level). A walk that does
/// not end at a root is an error, never a shorter path: a wrong path would mean a wrong verdict.
async fn path_from(tree: &dyn OrganizationTree, start: &str) -> Result<Vec<String>, AwsError> {
    let mut path = vec![start.to_owned()];
    loop {
        let last = path.last().map(String::as_str).unwrap_or(start);
        if last.starts_with("r-") {
            return Ok(path);
        }
        if path.len() > MAX_TREE_DEPTH {
            break;
        }
        match tree.parent_of(last).await? {
            Some(parent) => path.push(parent),
            None => break,
        }
    }
    Err(AwsError {
        operation: "ListParents",
        code: None,
        message: format!("walking up from {start} did not reach a root: {}", path.join(" > ")),
    })
}

fn required<'a>(call: &'a CloudTrailCall, name: &'static str) -> Result<&'a str, EventError> {
    call.string_param(name).ok_or(EventError::MissingField(name))
}

/// Judges a successful MoveAccount or RemoveAccountFromOrganization against the targets.
pub async fn judge(
    call: &CloudTrailCall,
    targets: &[TargetId],
    tree: &dyn OrganizationTree,
) -> Result<Membership, MembershipError> {
    let account_id = required(call, "accountId")?;
    if targets.is_empty() {
        return Ok(Membership::Unaffected("no guardrail targets are configured".to_owned()));
    }
    match call.event_name.as_str() {
        "RemoveAccountFromOrganization" => {
            // The account is gone: where it sat cannot be read any more. A targeted root or the
            // account itself certainly applied; a targeted OU may have.
            let (lost, possibly_lost): (Vec<&TargetId>, Vec<&TargetId>) = targets
                .iter()
                .filter(|t| t.as_str() == account_id || !t.as_str().chars().all(|c| c.is_ascii_digit()))
                .partition(|t| t.as_str() == account_id || t.as_str().starts_with("r-"));
            if lost.is_empty() && possibly_lost.is_empty() {
                return Ok(Membership::Unaffected(format!(
                    "account {account_id} was not a guardrail target and no root or OU is targeted"
                )));
            }
            Ok(Membership::Escaped {
                account_id: account_id.to_owned(),
                lost: lost.iter().map(|t| t.as_str().to_owned()).collect(),
                possibly_lost: possibly_lost.iter().map(|t| t.as_str().to_owned()).collect(),
                observed: json!({
                    "AccountId": account_id,
                    "Consequence": "no Service Control Policy applies to the account any more, rdsguard's guardrails included",
                }),
            })
        }
        _ => {
            let source = required(call, "sourceParentId")?;
            let destination = required(call, "destinationParentId")?;
            let before = path_from(tree, source).await?;
            let after = path_from(tree, destination).await?;
            let still = covering_targets(targets, account_id, &after);
            let lost: Vec<String> =
                covering_targets(targets, account_id, &before).difference(&still).map(|t| (*t).to_owned()).collect();
            if lost.is_empty() {
                return Ok(Membership::Unaffected(format!(
                    "account {account_id} moved from {source} to {destination} without leaving a guardrail target"
                )));
            }
            Ok(Membership::Escaped {
                account_id: account_id.to_owned(),
                lost,
                possibly_lost: vec![],
                observed: json!({
                    "AccountId": account_id,
                    "SourceParentId": source,
                    "DestinationParentId": destination,
                    "PathBefore": before,
                    "PathAfter": after,
                    "StillUnder": still,
                }),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(raw: &[&str]) -> Vec<TargetId> {
        raw.iter().map(|r| TargetId::parse(r).unwrap()).collect()
    }

    #[test]
    fn which_targets_cover_an_account() {
        // (case, targets, the account's path from its parent up to the root, covering targets)
        let cases = [
            ("root covers everyone", &["r-ab12"][..], &["ou-ab12-11111111", "r-ab12"][..], &["r-ab12"][..]),
            (
                "OU higher up the path",
                &["ou-ab12-11111111"],
                &["ou-ab12-22222222", "ou-ab12-11111111", "r-ab12"],
                &["ou-ab12-11111111"],
            ),
            ("another OU", &["ou-ab12-33333333"], &["ou-ab12-11111111", "r-ab12"], &[]),
            ("the account itself", &["111122223333"], &["r-ab12"], &["111122223333"]),
            ("another account", &["444455556666"], &["r-ab12"], &[]),
        ];
        for (name, targets, path, expected) in cases {
            let path: Vec<String> = path.iter().map(|n| (*n).to_owned()).collect();
            let targets = ids(targets);
            let covering: Vec<&str> = covering_targets(&targets, "111122223333", &path).into_iter().collect();
            assert_eq!(covering, expected, "{name}");
        }
    }
}
