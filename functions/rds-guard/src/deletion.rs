//! RDSGUARD.DELETE_NO_SNAPSHOT: a database deleted without a final snapshot. Judged on the call
//! itself (the database is gone); there is nothing left to fix, so it is a CRITICAL alert.

use rdsguard::arn::Arn;
use rdsguard::database::DatabaseKind;
use rdsguard::finding::Finding;
use rdsguard::policy::{Policy, RuleAction};
use rdsguard::remediate::{policy_gate, ActionKind, ActionOutcome, ActionStatus};
use rdsguard::rules::{deleted_without_final_snapshot, RuleId, Verdict};
use serde_json::Value;

use crate::handler::Checked;
use crate::target::Target;

const RULE: RuleId = RuleId::DeletedWithoutSnapshot;

/// Tags as CloudTrail's response lists them (`tagList: [{key, value}]`).
fn response_tags(response: &Value) -> Vec<(String, String)> {
    let list = response.get("tagList").or_else(|| response.get("TagList")).and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .filter_map(|tag| {
            let text =
                |k: &str, k2: &str| tag.get(k).or_else(|| tag.get(k2)).and_then(Value::as_str).map(str::to_owned);
            Some((text("key", "Key")?, text("value", "Value").unwrap_or_default()))
        })
        .collect()
}

/// `Err(reason)`: nothing to report.
pub(crate) fn judge_deletion(
    target: &Target,
    kind: DatabaseKind,
    identifier: &str,
    request: &Value,
    response: &Value,
    policy: &Policy,
) -> Result<Checked, String> {
    if policy.effective_action(RULE) == RuleAction::Off {
        return Err(format!("{RULE} is off"));
    }
    let arn_key = match kind {
        DatabaseKind::Instance => "dBInstanceArn",
        DatabaseKind::Cluster => "dBClusterArn",
    };
    let arn = response.get(arn_key).and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| {
        let (region, account) = (&target.region, &target.account);
        Arn::rds(region.partition(), region.as_str(), account.as_str(), kind.resource_kind(), identifier).to_string()
    });
    let mut checked = Checked::new(arn.clone());
    match deleted_without_final_snapshot(request, response) {
        Verdict::Violation(observed) => {
            let finding = Finding::for_resource(
                RULE,
                &target.account,
                &target.region,
                kind.aws_type(),
                identifier,
                arn,
                observed,
            );
            let action = match policy_gate(RULE, &response_tags(response), policy) {
                Err(exempt) if exempt.kind == ActionKind::None => exempt,
                _ => ActionOutcome::new(
                    ActionKind::AlertOnly,
                    ActionStatus::NotAttempted,
                    "the database is already deleted: nothing to undo; restore from retained automated backups, if any",
                ),
            };
            checked.findings.push((finding, action));
        }
        Verdict::Unknown(why) => checked.undetermined(RULE, identifier, why),
        Verdict::Compliant | Verdict::NotApplicable(_) => {}
    }
    Ok(checked)
}
