//! template.yaml against guardrail-manager's code: exactly the declared IAM actions (policy writes
//! only on rdsguard-tagged SCPs), the Organizations rule matches exactly the handled calls, every
//! setting reaches the function and the custom resource, and it deploys only where it can work.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use guardrail_manager::tamper::{HANDLED_CALLS, ORGANIZATIONS_EVENTBRIDGE_SOURCE, ORGANIZATIONS_SOURCE};
use rdsguard::aws::ORGANIZATIONS_UNSCOPED_IAM_ACTIONS;
use rdsguard::event::detail_type;
use rdsguard::guardrails::settings::{
    ENV_BREAK_GLASS_PRINCIPALS, ENV_GUARDRAILS, ENV_GUARDRAIL_TARGETS, ENV_POLICY_NAME_PREFIX,
    ENV_SECURITY_ADMIN_PRINCIPALS, ENV_SUITE_NAME_PREFIX,
};
use rdsguard::policy::{
    ENV_ALERT_TOPIC_ARN, ENV_ALLOWED_REGIONS, ENV_MODE, ENV_RULE_ACTIONS, ENV_UNDELIVERED_ALERTS_QUEUE_URL,
};
use rdsguard_tests::template::{
    assert_same_set, at, event_pattern, function, granted_actions, resource, set_of, strings, template,
};
use serde_yaml::Value;

const FUNCTION: &str = "GuardrailManagerFunction";

#[test]
fn guardrail_manager_is_granted_exactly_the_actions_its_code_declares() {
    let template = template();
    let granted = granted_actions(&template, FUNCTION, ORGANIZATIONS_UNSCOPED_IAM_ACTIONS);
    assert_same_set(&granted, &set_of(guardrail_manager::iam_actions()), "GuardrailManagerFunction IAM actions");
}

#[test]
fn policy_writes_are_limited_to_scps_tagged_as_rdsguards() {
    let template = template();
    let statements = at(function(&template, FUNCTION), &["Properties", "Policies"]).as_sequence().unwrap()[0]
        ["Statement"]
        .as_sequence()
        .unwrap()
        .clone();
    for (action, condition) in [
        ("organizations:CreatePolicy", "aws:RequestTag/rdsguard:managed-by"),
        ("organizations:TagResource", "aws:RequestTag/rdsguard:managed-by"),
        ("organizations:UpdatePolicy", "aws:ResourceTag/rdsguard:managed-by"),
        ("organizations:DeletePolicy", "aws:ResourceTag/rdsguard:managed-by"),
    ] {
        let statement = statements
            .iter()
            .find(|s| strings(at(s, &["Action"]), "Action").contains(action))
            .unwrap_or_else(|| panic!("no statement grants {action}"));
        let tag = at(statement, &["Condition", "StringEquals", condition]);
        assert_eq!(at(tag, &["Ref"]).as_str(), Some("GuardrailPolicyPrefix"), "{action}");
    }
    let tag_keys = |s: &Value| {
        s.get("Condition")
            .and_then(|c| c.get("ForAllValues:StringEquals"))
            .and_then(|c| c.get("aws:TagKeys"))
            .map(|keys| strings(keys, "aws:TagKeys"))
    };
    let tagging = statements
        .iter()
        .find(|s| strings(at(s, &["Action"]), "Action").contains("organizations:TagResource"))
        .unwrap();
    assert_eq!(tag_keys(tagging), Some(set_of(["rdsguard:managed-by"])), "TagResource may add no other tag");

    // Attach/Detach: on policy ARNs only with rdsguard's tag (never FullAWSAccess or a foreign
    // SCP), on root/OU/account ARNs without condition.
    for action in ["organizations:AttachPolicy", "organizations:DetachPolicy"] {
        let granting: Vec<&Value> =
            statements.iter().filter(|s| strings(at(s, &["Action"]), "Action").contains(action)).collect();
        assert!(!granting.is_empty(), "no statement grants {action}");
        for statement in granting {
            let resources = format!("{:?}", at(statement, &["Resource"]));
            if resources.contains(":policy/") {
                assert!(
                    !resources.contains(":root/") && !resources.contains(":ou/") && !resources.contains(":account/"),
                    "{action}: policy and target ARNs need separate statements: {resources}"
                );
                let tag = at(statement, &["Condition", "StringEquals", "aws:ResourceTag/rdsguard:managed-by"]);
                assert_eq!(at(tag, &["Ref"]).as_str(), Some("GuardrailPolicyPrefix"), "{action} on policies");
            } else {
                assert!(statement.get("Condition").is_none(), "{action} on targets: a tag condition would never match");
            }
        }
    }
}

#[test]
fn guardrail_manager_assumes_no_member_role() {
    assert!(!guardrail_manager::iam_actions().contains(&"sts:AssumeRole"));
    let template = template();
    let granted = granted_actions(&template, FUNCTION, ORGANIZATIONS_UNSCOPED_IAM_ACTIONS);
    assert!(!granted.contains("sts:AssumeRole"), "{granted:?}");
}

#[test]
fn organizations_rule_matches_exactly_the_calls_the_code_handles_failed_ones_included() {
    let template = template();
    let pattern = event_pattern(&template, FUNCTION, "OrganizationsCalls");
    assert_eq!(strings(at(pattern, &["source"]), "source"), set_of([ORGANIZATIONS_EVENTBRIDGE_SOURCE]));
    assert_eq!(strings(at(pattern, &["detail-type"]), "detail-type"), set_of([detail_type::CLOUDTRAIL_API_CALL]));
    assert_eq!(strings(at(pattern, &["detail", "eventSource"]), "eventSource"), set_of([ORGANIZATIONS_SOURCE]));
    assert_same_set(
        &strings(at(pattern, &["detail", "eventName"]), "eventName"),
        &set_of(HANDLED_CALLS.iter().copied()),
        "Organizations event names",
    );
    assert!(at(pattern, &["detail"]).get("errorCode").is_none(), "failed attempts are alerted too");
    let schedule = at(function(&template, FUNCTION), &["Properties", "Events", "DriftCheck"]);
    assert_eq!(at(schedule, &["Type"]).as_str(), Some("Schedule"));
}

#[test]
fn built_as_the_rust_arm64_binary_and_every_setting_reaches_it() {
    let template = template();
    let function = function(&template, FUNCTION);
    assert_eq!(at(function, &["Metadata", "BuildProperties", "Binary"]).as_str(), Some("guardrail-manager"));
    assert_eq!(at(function, &["Metadata", "BuildMethod"]).as_str(), Some("rust-cargolambda"));
    assert_eq!(strings(at(function, &["Properties", "Architectures"]), "Architectures"), set_of(["arm64"]));
    let variables = at(function, &["Properties", "Environment", "Variables"]);
    for name in [
        ENV_ALERT_TOPIC_ARN,
        ENV_MODE,
        ENV_RULE_ACTIONS,
        ENV_UNDELIVERED_ALERTS_QUEUE_URL,
        ENV_ALLOWED_REGIONS,
        ENV_GUARDRAILS,
        ENV_GUARDRAIL_TARGETS,
        ENV_BREAK_GLASS_PRINCIPALS,
        ENV_SECURITY_ADMIN_PRINCIPALS,
        ENV_SUITE_NAME_PREFIX,
        ENV_POLICY_NAME_PREFIX,
    ] {
        assert!(variables.get(name).is_some(), "GuardrailManagerFunction has no {name}");
    }
}

#[test]
fn the_custom_resource_is_updated_whenever_a_guardrail_setting_changes() {
    let template = template();
    let custom = resource(&template, "GuardrailPolicies");
    assert_eq!(at(custom, &["Type"]).as_str(), Some("Custom::Guardrails"));
    let properties = at(custom, &["Properties"]);
    let token: Vec<&str> = at(properties, &["ServiceToken", "Fn::GetAtt"])
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(token, [FUNCTION, "Arn"]);
    let referenced: Vec<&str> =
        properties.as_mapping().unwrap().values().filter_map(|v| v.get("Ref").and_then(Value::as_str)).collect();
    let variables = at(function(&template, FUNCTION), &["Properties", "Environment", "Variables"]);
    for (name, value) in variables.as_mapping().unwrap() {
        let Some(parameter) = value.get("Ref").and_then(Value::as_str) else { continue };
        let guardrail_setting = [
            ENV_GUARDRAILS,
            ENV_GUARDRAIL_TARGETS,
            ENV_ALLOWED_REGIONS,
            ENV_BREAK_GLASS_PRINCIPALS,
            ENV_SECURITY_ADMIN_PRINCIPALS,
            ENV_POLICY_NAME_PREFIX,
        ]
        .contains(&name.as_str().unwrap());
        if guardrail_setting {
            assert!(referenced.contains(&parameter), "changing {parameter} must update the custom resource");
        }
    }
}

#[test]
fn deployed_only_on_request_in_us_east_1_with_failed_events_kept() {
    let template = template();
    for name in [FUNCTION, "GuardrailPolicies", "GuardrailManagerLogGroup"] {
        assert_eq!(at(resource(&template, name), &["Condition"]).as_str(), Some("GuardrailsEnabled"), "{name}");
    }
    let assertion = &at(&template, &["Rules", "GuardrailsInUsEast1", "Assertions"]).as_sequence().unwrap()[0];
    let region: Vec<String> = at(assertion, &["Assert", "Fn::Equals"])
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| format!("{v:?}")))
        .collect();
    assert!(region.iter().any(|r| r.contains("AWS::Region")) && region.contains(&"us-east-1".to_owned()), "{region:?}");
    let dlq_sources = format!(
        "{:?}",
        at(resource(&template, "DeadLetterQueuePolicy"), &["Properties", "PolicyDocument", "Statement"])
    );
    for rule in ["GuardrailManagerFunctionOrganizationsCalls", "GuardrailManagerFunctionDriftCheck"] {
        assert!(dlq_sources.contains(rule), "the DLQ policy must let {rule} send undeliverable events");
    }
}
