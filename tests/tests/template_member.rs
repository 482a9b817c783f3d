//! Organisation mode in the templates: templates/member.yaml against the code and against
//! template.yaml — the member role allows exactly what the functions call in member accounts and
//! trusts only the central functions inside the organisation; every central rule has a forwarder
//! with the same pattern; every rule target retries and keeps what it cannot deliver; both
//! templates are cfn-lint clean.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::Command;

use rdsguard::aws::SdkEc2;
use rdsguard::startup::member_role_iam_actions;
use rdsguard_tests::template::{
    at, member_template, resource, set_of, strings, template, MEMBER_TEMPLATE_PATH, TEMPLATE_PATH,
};

const FUNCTIONS: [&str; 4] =
    ["RdsGuardFunction", "NetworkGuardFunction", "PipelineGuardFunction", "GuardDutyResponderFunction"];

/// What the code says the member role must allow.
fn declared_member_actions() -> BTreeSet<String> {
    let per_function = [
        rds_guard::iam_actions(),
        network_guard::iam_actions(),
        pipeline_guard::iam_actions(),
        guardduty_responder::iam_actions(),
    ];
    let lists: Vec<&[&'static str]> = per_function.iter().map(Vec::as_slice).collect();
    set_of(member_role_iam_actions(&lists))
}

#[test]
fn member_role_allows_exactly_what_the_functions_declare_for_member_accounts() {
    let member = member_template();
    let role = resource(&member, "MemberRole");
    assert_eq!(at(role, &["Type"]).as_str(), Some("AWS::IAM::Role"));
    let mut granted = BTreeSet::new();
    for policy in at(role, &["Properties", "Policies"]).as_sequence().expect("Policies list") {
        for (s, statement) in at(policy, &["PolicyDocument", "Statement"]).as_sequence().unwrap().iter().enumerate() {
            let label = format!("MemberRole statement {s}");
            assert_eq!(at(statement, &["Effect"]).as_str(), Some("Allow"), "{label}");
            assert!(statement.get("NotAction").is_none(), "{label}: NotAction");
            let actions = strings(at(statement, &["Action"]), &label);
            let all_resources = at(statement, &["Resource"]).as_str() == Some("*");
            for action in &actions {
                assert!(!action.contains('*'), "{label}: wildcard action {action}");
                assert!(
                    !all_resources || SdkEc2::INVENTORY_IAM_ACTIONS.contains(&action.as_str()),
                    "{label}: Resource \"*\" for {action}, which supports resource-level permissions; scope it"
                );
            }
            granted.extend(actions);
        }
    }
    let expected = declared_member_actions();
    let missing: Vec<&String> = expected.difference(&granted).collect();
    let extra: Vec<&String> = granted.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "templates/member.yaml MemberRole differs from rdsguard::startup::member_role_iam_actions() over the four \
         functions' iam_actions():\n  missing (add these to MemberRole, scoped to ${{AWS::AccountId}}): {missing:?}\n  \
         extra (remove these from MemberRole): {extra:?}"
    );
    // The central plumbing stays central.
    for central in ["sns:Publish", "sqs:SendMessage", "sts:AssumeRole"] {
        assert!(!granted.contains(central), "MemberRole must not allow {central}");
    }
}

#[test]
fn member_role_trusts_only_the_central_functions_inside_the_organisation() {
    let member = member_template();
    let role = resource(&member, "MemberRole");
    assert_eq!(at(role, &["Properties", "RoleName", "Ref"]).as_str(), Some("MemberRoleName"));
    // IAM is global: one stack instance (RoleRegion) creates the role.
    assert_eq!(at(role, &["Condition"]).as_str(), Some("CreateMemberRole"));
    let statements = at(role, &["Properties", "AssumeRolePolicyDocument", "Statement"]).as_sequence().unwrap();
    assert_eq!(statements.len(), 1, "one trust statement");
    let trust = &statements[0];
    assert_eq!(at(trust, &["Effect"]).as_str(), Some("Allow"));
    assert_eq!(at(trust, &["Action"]).as_str(), Some("sts:AssumeRole"));
    let principal = at(trust, &["Principal"]);
    assert_eq!(principal.as_mapping().map(|m| m.len()), Some(1), "only AWS principals: {principal:?}");
    assert_eq!(at(principal, &["AWS", "Ref"]).as_str(), Some("CentralFunctionRoleArns"));
    assert_eq!(at(trust, &["Condition", "StringEquals", "aws:PrincipalOrgID", "Ref"]).as_str(), Some("OrganizationId"));
    // The central stack hands out exactly the four function roles for that parameter.
    let central = template();
    let output = at(&central, &["Outputs", "MemberRoleTrustedArns", "Value", "Fn::Join"]).as_sequence().unwrap();
    let roles: BTreeSet<String> = output[1]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| at(v, &["Fn::GetAtt"]).as_sequence().unwrap()[0].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(roles, FUNCTIONS.iter().map(|f| format!("{f}Role")).collect::<BTreeSet<_>>());
}

#[test]
fn every_central_rule_has_a_forwarder_with_the_same_pattern_retries_and_a_dead_letter_queue() {
    let central = template();
    let member = member_template();
    let mut expected_forwarders = BTreeSet::new();
    for function in FUNCTIONS {
        let events = at(resource(&central, function), &["Properties", "Events"]).as_mapping().unwrap();
        for (name, event) in events {
            let name = name.as_str().unwrap();
            let forwarder_id = format!("Forward{name}");
            expected_forwarders.insert(forwarder_id.clone());
            let forwarder = member["Resources"].get(&forwarder_id).unwrap_or_else(|| {
                panic!(
                    "templates/member.yaml has no {forwarder_id}: member accounts would not forward {function}.{name}"
                )
            });
            assert_eq!(at(forwarder, &["Type"]).as_str(), Some("AWS::Events::Rule"));
            assert_eq!(
                at(forwarder, &["Properties", "EventPattern"]),
                at(event, &["Properties", "Pattern"]),
                "{forwarder_id} must forward exactly what {function}.{name} matches"
            );
            let targets = at(forwarder, &["Properties", "Targets"]).as_sequence().unwrap();
            assert_eq!(targets.len(), 1, "{forwarder_id}");
            let target = &targets[0];
            assert_eq!(at(target, &["Arn", "Ref"]).as_str(), Some("CentralEventBusArn"), "{forwarder_id}");
            assert!(target.get("RoleArn").is_some(), "{forwarder_id}: event-bus targets need a role");
            assert!(at(target, &["RetryPolicy", "MaximumRetryAttempts"]).as_u64().is_some(), "{forwarder_id}");
            let dlq = at(target, &["DeadLetterConfig", "Arn", "Fn::GetAtt"]).as_sequence().unwrap();
            assert_eq!(dlq[0].as_str(), Some("ForwarderDeadLetterQueue"), "{forwarder_id}");

            // The central side of the same rule: on the central bus in organisation mode, with
            // retries and the dead-letter queue.
            let properties = at(event, &["Properties"]);
            let bus = at(properties, &["EventBusName", "Fn::If"]).as_sequence().unwrap();
            assert_eq!(bus[0].as_str(), Some("OrganizationMode"), "{function}.{name}");
            assert_eq!(at(&bus[1], &["Ref"]).as_str(), Some("CentralEventBus"), "{function}.{name}");
            assert_eq!(at(&bus[2], &["Ref"]).as_str(), Some("AWS::NoValue"), "{function}.{name}");
            assert!(at(properties, &["RetryPolicy", "MaximumRetryAttempts"]).as_u64().is_some());
            let central_dlq = at(properties, &["DeadLetterConfig", "Arn", "Fn::GetAtt"]).as_sequence().unwrap();
            assert_eq!(central_dlq[0].as_str(), Some("DeadLetterQueue"), "{function}.{name}");
        }
    }
    let forwarders: BTreeSet<String> = member["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Events::Rule"))
        .map(|(id, _)| id.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(forwarders, expected_forwarders, "forwarders without a central rule, or the other way round");
}

#[test]
fn central_bus_accepts_events_only_from_the_organisation() {
    let central = template();
    let bus = resource(&central, "CentralEventBus");
    assert_eq!(at(bus, &["Type"]).as_str(), Some("AWS::Events::EventBus"));
    assert_eq!(at(bus, &["Condition"]).as_str(), Some("OrganizationMode"));
    let policy = resource(&central, "CentralEventBusPolicy");
    assert_eq!(at(policy, &["Type"]).as_str(), Some("AWS::Events::EventBusPolicy"));
    let statement = at(policy, &["Properties", "Statement"]);
    assert_eq!(at(statement, &["Action"]).as_str(), Some("events:PutEvents"));
    assert_eq!(
        at(statement, &["Condition", "StringEquals", "aws:PrincipalOrgID", "Ref"]).as_str(),
        Some("OrganizationId")
    );
}

#[test]
fn events_waiting_in_the_dead_letter_queue_raise_an_alarm_on_the_alert_topic() {
    let central = template();
    let alarm = resource(&central, "DeadLetterQueueAlarm");
    assert_eq!(at(alarm, &["Type"]).as_str(), Some("AWS::CloudWatch::Alarm"));
    let properties = at(alarm, &["Properties"]);
    // Each new arrival alarms (the queue's depth would stay in ALARM while old messages sit).
    assert_eq!(at(properties, &["MetricName"]).as_str(), Some("NumberOfMessagesSent"));
    assert_eq!(at(properties, &["Statistic"]).as_str(), Some("Sum"));
    assert_eq!(at(properties, &["ComparisonOperator"]).as_str(), Some("GreaterThanThreshold"));
    assert_eq!(at(properties, &["Threshold"]).as_u64(), Some(0));
    let queue = at(&at(properties, &["Dimensions"]).as_sequence().unwrap()[0], &["Value", "Fn::GetAtt"]);
    assert_eq!(queue.as_sequence().unwrap()[0].as_str(), Some("DeadLetterQueue"));
    let actions = at(properties, &["AlarmActions"]).as_sequence().unwrap();
    assert_eq!(at(&actions[0], &["Ref"]).as_str(), Some("AlertTopic"));
}

#[test]
fn both_templates_are_cfn_lint_clean() {
    let cfn_lint = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/cfn-lint");
    assert!(std::path::Path::new(cfn_lint).exists(), "cfn-lint not found at {cfn_lint}: run scripts/setup");
    for path in [TEMPLATE_PATH, MEMBER_TEMPLATE_PATH] {
        let output = Command::new(cfn_lint).arg(path).output().expect("cfn-lint runs");
        assert!(
            output.status.success(),
            "cfn-lint {path}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
