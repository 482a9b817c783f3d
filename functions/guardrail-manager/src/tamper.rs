//! The Organizations calls that can weaken the managed guardrails, read from CloudTrail.

use rdsguard::event::CloudTrailCall;
use rdsguard::guardrails::{GuardrailSettings, OrgState};

pub const ORGANIZATIONS_SOURCE: &str = "organizations.amazonaws.com";
/// EventBridge `source` of Organizations' "AWS API Call via CloudTrail" events (delivered in
/// us-east-1 only).
pub const ORGANIZATIONS_EVENTBRIDGE_SOURCE: &str = "aws.organizations";

/// Every Organizations call guardrail-manager handles: changes to the managed policies, and the
/// membership calls of [`crate::membership`].
pub const HANDLED_CALLS: &[&str] = &[
    "AttachPolicy",
    "DeletePolicy",
    "DetachPolicy",
    "DisablePolicyType",
    "MoveAccount",
    "RemoveAccountFromOrganization",
    "TagResource",
    "UntagResource",
    "UpdatePolicy",
];

/// The tagging calls: removing or changing `rdsguard:managed-by` takes a policy out of
/// management (and its name then blocks every plan).
pub const TAG_CALLS: &[&str] = &["TagResource", "UntagResource"];

/// The policy a call names: `policyId`, or `resourceId` for the tagging calls.
pub fn policy_id_of(call: &CloudTrailCall) -> Option<&str> {
    if TAG_CALLS.contains(&call.event_name.as_str()) {
        call.string_param("resourceId").filter(|id| id.starts_with("p-"))
    } else {
        call.string_param("policyId")
    }
}

/// What the call did to the guardrails, in a few words (alert subjects).
pub fn short_title(event_name: &str, failed: bool) -> &'static str {
    match (event_name, failed) {
        (_, true) => "tried to change guardrail SCPs",
        ("UpdatePolicy", _) => "guardrail SCP edited",
        ("DetachPolicy", _) => "guardrail SCP detached",
        ("DeletePolicy", _) => "guardrail SCP deleted",
        ("AttachPolicy", _) => "guardrail SCP attached elsewhere",
        ("DisablePolicyType", _) => "SCPs disabled on the root",
        ("TagResource" | "UntagResource", _) => "guardrail SCP tags changed",
        ("MoveAccount", _) => "account moved out of guardrails",
        ("RemoveAccountFromOrganization", _) => "account left the organisation",
        _ => "guardrail SCPs drifted",
    }
}

/// Which managed policy (or root) the call was aimed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aim {
    /// The policy id, or the root id for DisablePolicyType.
    pub resource_id: String,
    pub resource_type: &'static str,
    /// The policy's name when it is a managed one.
    pub policy_name: Option<String>,
}

/// Why a handled call is not about the managed guardrails.
pub type NotOurs = String;

/// Decides whether the call concerns the guardrails rdsguard manages. `state` is the organisation
/// as read after the call; `drifted` says whether it differs from the settings.
pub fn aim(
    call: &CloudTrailCall,
    settings: &GuardrailSettings,
    state: &OrgState,
    drifted: bool,
) -> Result<Aim, NotOurs> {
    if call.event_name == "DisablePolicyType" {
        let policy_type = call.string_param("policyType").unwrap_or_default();
        if policy_type != rdsguard::aws::SCP_TYPE {
            return Err(format!("DisablePolicyType of {policy_type:?}, not SERVICE_CONTROL_POLICY"));
        }
        let root = call.string_param("rootId").unwrap_or("unknown root").to_owned();
        return Ok(Aim { resource_id: root, resource_type: "AWS::Organizations::Root", policy_name: None });
    }
    let Some(policy_id) = policy_id_of(call) else {
        return Err(format!("{} names no policy", call.event_name));
    };
    let managed = state.managed.iter().find(|p| p.id == policy_id);
    let policy = |name: Option<String>| Aim {
        resource_id: policy_id.to_owned(),
        resource_type: "AWS::Organizations::Policy",
        policy_name: name,
    };
    match (managed, call.event_name.as_str()) {
        (Some(p), _) => Ok(policy(Some(p.name.clone()))),
        // A deleted policy cannot be looked up any more: it was ours if ours are now missing.
        (None, "DeletePolicy") if drifted => Ok(policy(None)),
        _ => Err(format!(
            "policy {policy_id} is not a guardrail policy managed under the prefix {}",
            settings.policy_name_prefix
        )),
    }
}

/// Whether the call was made by this very function (its own re-apply), which is not tampering:
/// the actor must be exactly the function's own session,
/// `arn:<partition>:sts::<account>:assumed-role/<execution role>/<session>`, as STS
/// GetCallerIdentity reported it at start. The session name alone proves nothing: whoever calls
/// AssumeRole chooses it.
pub fn made_by_self(actor: &str, own_session_arn: Option<&str>) -> bool {
    let Some(own) = own_session_arn.filter(|arn| arn.contains(":assumed-role/")) else {
        return false;
    };
    actor == own
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_calls_are_recognised_by_role_and_session_not_by_session_name_alone() {
        let own = "arn:aws:sts::111122223333:assumed-role/rdsguard-GuardrailManagerRole-X/rdsguard-guardrail-manager";
        assert!(made_by_self(own, Some(own)));
        assert!(!made_by_self(own, None));
        // Anyone allowed to assume some role can name the session after the function.
        assert!(!made_by_self("arn:aws:sts::111122223333:assumed-role/Mallory/rdsguard-guardrail-manager", Some(own)));
        assert!(!made_by_self(
            "arn:aws:sts::444455556666:assumed-role/rdsguard-GuardrailManagerRole-X/rdsguard-guardrail-manager",
            Some(own)
        ));
        assert!(
            !made_by_self(
                "arn:aws:iam::111122223333:user/rdsguard-guardrail-manager",
                Some("arn:aws:iam::111122223333:user/rdsguard-guardrail-manager")
            ),
            "only a role session is ever the function"
        );
    }

    #[test]
    fn titles_fit_alert_subjects() {
        for name in HANDLED_CALLS {
            assert!(short_title(name, false).len() <= 32 && short_title(name, true).len() <= 32, "{name}");
        }
    }
}
