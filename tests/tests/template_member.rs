//! Organisation mode in the templates: templates/member.yaml against the code and against
//! template.yaml — each function's member role allows exactly what that function calls in member
//! accounts and trusts only that function's central role inside the organisation; every central rule has a forwarder
//! with the same pattern; every rule target retries and keeps what it cannot deliver; both
//! templates are cfn-lint clean.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::Command;

use rdsguard::aws::{member_role_name_for, SdkEc2, SdkKms};
use rdsguard::startup::{member_role_iam_actions, MEMBER_FUNCTIONS};
use rdsguard_tests::template::{
    at, function_statements, member_role_actions, member_role_statements, member_template, resource, set_of, strings,
    template, MEMBER_TEMPLATE_PATH, TEMPLATE_PATH,
};

const FUNCTIONS: [&str; 4] =
    ["RdsGuardFunction", "NetworkGuardFunction", "PipelineGuardFunction", "GuardDutyResponderFunction"];

/// Per function that acts in member accounts: (logical id prefix in both templates, the name it
/// has in alerts and role names, what the code says its member role must allow).
fn member_functions() -> Vec<(&'static str, &'static str, BTreeSet<String>)> {
    let declared = |actions: Vec<&'static str>| set_of(member_role_iam_actions(&[&actions]));
    vec![
        ("RdsGuard", rds_guard::FUNCTION_NAME, declared(rds_guard::iam_actions())),
        ("NetworkGuard", network_guard::FUNCTION_NAME, declared(network_guard::iam_actions())),
        ("PipelineGuard", pipeline_guard::FUNCTION_NAME, declared(pipeline_guard::iam_actions())),
        ("GuardDutyResponder", guardduty_responder::FUNCTION_NAME, declared(guardduty_responder::iam_actions())),
        ("SweepWorker", sweep_worker::FUNCTION_NAME, declared(sweep_worker::iam_actions())),
    ]
}

#[test]
fn the_functions_with_member_roles_are_the_ones_startup_names() {
    let names: Vec<&str> = member_functions().iter().map(|(_, name, _)| *name).collect();
    assert_eq!(names, MEMBER_FUNCTIONS);
}

#[test]
fn each_member_role_allows_exactly_what_its_function_declares_for_member_accounts() {
    let member = member_template();
    for (logical, function, expected) in member_functions() {
        let role_id = format!("{logical}MemberRole");
        let role = resource(&member, &role_id);
        assert_eq!(at(role, &["Type"]).as_str(), Some("AWS::IAM::Role"), "{role_id}");
        assert!(role.get("Properties").unwrap().get("Policies").is_none(), "{role_id}: only its managed policy");
        let arns = at(role, &["Properties", "ManagedPolicyArns"]).as_sequence().unwrap();
        assert_eq!(arns.len(), 1, "{role_id}: one policy, its function's");
        assert_eq!(at(&arns[0], &["Ref"]).as_str(), Some(format!("{logical}MemberPolicy").as_str()), "{role_id}");
        let mut granted = BTreeSet::new();
        for (s, statement) in member_role_statements(&member, &role_id).iter().enumerate() {
            let label = format!("{role_id} statement {s}");
            assert_eq!(at(statement, &["Effect"]).as_str(), Some("Allow"), "{label}");
            assert!(statement.get("NotAction").is_none(), "{label}: NotAction");
            let actions = strings(at(statement, &["Action"]), &label);
            let all_resources = at(statement, &["Resource"]).as_str() == Some("*");
            for action in &actions {
                assert!(!action.contains('*'), "{label}: wildcard action {action}");
                assert!(
                    !all_resources
                        || SdkEc2::INVENTORY_IAM_ACTIONS.contains(&action.as_str())
                        || SdkKms::IAM_ACTIONS.contains(&action.as_str()),
                    "{label}: Resource \"*\" for {action}, which supports resource-level permissions; scope it"
                );
            }
            granted.extend(actions);
        }
        let missing: Vec<&String> = expected.difference(&granted).collect();
        let extra: Vec<&String> = granted.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "templates/member.yaml {role_id} differs from member_role_iam_actions({function}'s iam_actions()):\n  \
             missing (add to {logical}MemberPolicy, scoped to ${{AWS::AccountId}}): {missing:?}\n  \
             extra (remove from {logical}MemberPolicy): {extra:?}"
        );
        for central in ["sns:Publish", "sqs:SendMessage", "sts:AssumeRole"] {
            assert!(!granted.contains(central), "{role_id} must not allow {central}");
        }
    }
}

#[test]
fn each_member_role_is_named_for_its_function_and_trusted_only_by_that_functions_role() {
    let member = member_template();
    let central = template();
    for (logical, function, _) in member_functions() {
        let role_id = format!("{logical}MemberRole");
        let role = resource(&member, &role_id);
        assert_eq!(
            at(role, &["Properties", "RoleName", "Fn::Sub"]).as_str(),
            Some(format!("${{MemberRoleName}}-{function}").as_str()),
            "{role_id}: named as rdsguard::aws::member_role_name_for names it"
        );
        assert_eq!(member_role_name_for("x", function), format!("x-{function}"));
        // IAM is global: one stack instance (RoleRegion) creates the roles; sweep-worker's only
        // when its central role is given (SweepWorkerRoleArn, optional so that existing StackSets
        // update without it).
        let condition = if logical == "SweepWorker" { "CreateSweepWorkerRole" } else { "CreateMemberRole" };
        assert_eq!(at(role, &["Condition"]).as_str(), Some(condition), "{role_id}");
        let statements = at(role, &["Properties", "AssumeRolePolicyDocument", "Statement"]).as_sequence().unwrap();
        assert_eq!(statements.len(), 1, "{role_id}: one trust statement");
        let trust = &statements[0];
        assert_eq!(at(trust, &["Effect"]).as_str(), Some("Allow"));
        assert_eq!(at(trust, &["Action"]).as_str(), Some("sts:AssumeRole"));
        let principal = at(trust, &["Principal"]);
        assert_eq!(principal.as_mapping().map(|m| m.len()), Some(1), "{role_id}: only AWS principals: {principal:?}");
        assert_eq!(
            at(principal, &["AWS", "Ref"]).as_str(),
            Some(format!("{logical}RoleArn").as_str()),
            "{role_id}: trusted by its own function's role only"
        );
        assert_eq!(
            at(trust, &["Condition", "StringEquals", "aws:PrincipalOrgID", "Ref"]).as_str(),
            Some("OrganizationId"),
            "{role_id}"
        );
        // The central stack hands out that function's role for the parameter...
        assert_eq!(
            at(&central, &["Outputs", &format!("{logical}FunctionRoleArn"), "Value", "Fn::GetAtt"])
                .as_sequence()
                .unwrap()[0]
                .as_str(),
            Some(format!("{logical}FunctionRole").as_str())
        );
        // ...and the central function may assume only its own member role.
        let assumes: Vec<String> = function_statements(&central, &format!("{logical}Function"))
            .into_iter()
            .filter(|st| strings(at(st, &["Action"]), "Action").contains("sts:AssumeRole"))
            .map(|st| at(&st, &["Resource", "Fn::Sub"]).as_str().unwrap_or("<not one Fn::Sub>").to_owned())
            .collect();
        assert_eq!(
            assumes,
            [format!("arn:${{AWS::Partition}}:iam::*:role/${{MemberRoleName}}-{function}")],
            "{logical}Function"
        );
    }
}

#[test]
fn the_upgrade_only_shared_role_exists_only_on_request_and_carries_the_four_policies() {
    let member = member_template();
    let shared = resource(&member, "MemberRole");
    assert_eq!(at(shared, &["Condition"]).as_str(), Some("CreateSharedMemberRole"));
    assert_eq!(at(&member, &["Parameters", "KeepSharedMemberRole", "Default"]).as_str(), Some("false"));
    let policies: BTreeSet<String> = at(shared, &["Properties", "ManagedPolicyArns"])
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| at(p, &["Ref"]).as_str().unwrap().to_owned())
        .collect();
    // The former shared role served the four event functions; sweep-worker never used it.
    let former = || member_functions().into_iter().filter(|(l, _, _)| *l != "SweepWorker");
    let expected: BTreeSet<String> = former().map(|(l, _, _)| format!("{l}MemberPolicy")).collect();
    assert_eq!(policies, expected);
    let union: BTreeSet<String> = former().flat_map(|(_, _, actions)| actions).collect();
    assert_eq!(member_role_actions("MemberRole"), union, "the former role's permissions, no more");
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
