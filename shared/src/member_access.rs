//! When rdsguard cannot act in a member account — its member role is missing there, or does not
//! trust the central functions (AssumeRole denied) — the event is answered with one alert per
//! resource it named, status `failed`, saying why and what to deploy. The invocation succeeds:
//! retrying cannot create the role, and a crash loop would only push the event into the
//! dead-letter queue with no one told. (An alert that cannot be published still fails the
//! invocation, as every alert does.)

use serde_json::json;

use crate::action::{ActionKind, ActionOutcome, ActionStatus};
use crate::alert::{Alert, ALERT_SCHEMA_VERSION};
use crate::aws::SessionError;
use crate::finding::EventContext;
use crate::identity::{AccountId, AwsRegion};
use crate::rules::Severity;

/// The `rule` of these alerts. Not a compliance rule of the estate (so not in `RuleId` and not
/// switchable by RULE_ACTIONS): it reports that rdsguard itself is blind in an account.
pub const MEMBER_ACCESS_RULE: &str = "RDSGUARD.MEMBER_ACCESS";
const TITLE: &str = "rdsguard cannot act in this account: the member role could not be assumed";
const SHORT_TITLE: &str = "member role not assumable";

/// A resource an event named, in an account rdsguard could not reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreachableResource {
    /// `AWS::RDS::DBInstance`, `AWS::EC2::SecurityGroup`...
    pub resource_type: &'static str,
    pub resource_id: String,
    pub resource_arn: String,
}

/// Whether a session error means "this member account is not set up for rdsguard" (answered with
/// an alert) rather than a fault of the function's own credentials (an invocation error).
/// Only a refusal from STS counts: a timeout, a connection failure or throttling stays an
/// invocation error, so the event is retried instead of being answered with a "deploy the member
/// stack" alert it does not deserve.
pub fn is_member_setup_error(error: &SessionError) -> bool {
    matches!(error, SessionError::AssumeRole { refused: true, .. })
}

/// What to do about an account whose member role cannot be assumed.
pub fn remedy(account: &AccountId) -> String {
    format!(
        "deploy rdsguard's member stack (templates/member.yaml, e.g. through the StackSet) to account {account}, \
         so that the role exists and trusts the central functions' roles; the event was not checked"
    )
}

/// The `detail` of an action that could not run because there was no session in the account:
/// the error, and for a member account that is not set up, what to do.
pub fn session_failure_detail(account: &AccountId, error: &SessionError) -> String {
    if is_member_setup_error(error) {
        format!("{error}; {}", remedy(account))
    } else {
        error.to_string()
    }
}

/// The failed-status alert for one resource in an account whose member role could not be assumed.
pub fn unreachable_alert(
    account: &AccountId,
    region: &AwsRegion,
    resource: &UnreachableResource,
    context: &EventContext,
    error: &SessionError,
    source: &str,
) -> Alert {
    let role_arn = match error {
        SessionError::AssumeRole { role_arn, .. } => Some(role_arn.clone()),
        SessionError::OwnAccount(_) => None,
    };
    let remedy = remedy(account);
    Alert {
        schema_version: ALERT_SCHEMA_VERSION,
        rule: MEMBER_ACCESS_RULE.to_owned(),
        title: TITLE.to_owned(),
        short_title: SHORT_TITLE.to_owned(),
        severity: Severity::High.as_str().to_owned(),
        account: account.to_string(),
        region: region.to_string(),
        resource: resource.resource_arn.clone(),
        resource_type: resource.resource_type,
        resource_id: resource.resource_id.clone(),
        actor: context.actor.clone(),
        event_id: context.event_id.clone(),
        event_name: context.event_name.clone(),
        event_time: context.event_time.clone(),
        observed: json!({"member_role_arn": role_arn, "error": error.to_string(), "remedy": remedy}),
        action: ActionOutcome::new(
            ActionKind::AssumeMemberRole,
            ActionStatus::Failed,
            session_failure_detail(account, error),
        ),
        source: source.to_owned(),
        acted_as: None,
        lifecycle: None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn the_alert_says_which_role_failed_and_what_to_do() {
        let error = SessionError::AssumeRole {
            role_arn: "arn:aws:iam::210987654321:role/rdsguard-remediation".into(),
            message: "AccessDenied: not authorized to perform sts:AssumeRole".into(),
            refused: true,
        };
        assert!(is_member_setup_error(&error));
        assert!(!is_member_setup_error(&SessionError::OwnAccount("expired token".into())));
        let throttled = SessionError::AssumeRole {
            role_arn: "arn:aws:iam::210987654321:role/rdsguard-remediation".into(),
            message: "Throttling: Rate exceeded".into(),
            refused: false,
        };
        assert!(!is_member_setup_error(&throttled), "a transient STS failure is retried, not blamed on setup");
        let resource = UnreachableResource {
            resource_type: "AWS::RDS::DBInstance",
            resource_id: "orders".into(),
            resource_arn: "arn:aws:rds:eu-west-1:210987654321:db:orders".into(),
        };
        let context = EventContext {
            event_id: "e-1".into(),
            event_name: "CreateDBInstance".into(),
            event_time: None,
            actor: "arn:aws:iam::210987654321:user/dev".into(),
        };
        let alert = unreachable_alert(
            &AccountId::parse("210987654321").unwrap(),
            &AwsRegion::parse("eu-west-1").unwrap(),
            &resource,
            &context,
            &error,
            "rds-guard",
        );
        let body: Value = serde_json::from_str(&alert.body().unwrap()).unwrap();
        assert_eq!(body["rule"], MEMBER_ACCESS_RULE);
        assert_eq!(body["severity"], "HIGH");
        assert_eq!(body["account"], "210987654321");
        assert_eq!(body["resource"], "arn:aws:rds:eu-west-1:210987654321:db:orders");
        assert_eq!(body["action"]["kind"], "assume_member_role");
        assert_eq!(body["action"]["status"], "failed");
        assert_eq!(body["acted_as"], Value::Null);
        assert_eq!(body["observed"]["member_role_arn"], "arn:aws:iam::210987654321:role/rdsguard-remediation");
        let detail = body["action"]["detail"].as_str().unwrap();
        assert!(detail.contains("AccessDenied") && detail.contains("templates/member.yaml"), "{detail}");
        assert_eq!(
            alert.subject(),
            "HIGH RDSGUARD.MEMBER_ACCESS orders (210987654321/eu-west-1): member role not assumable - failed"
        );
    }
}
