//! template.yaml against the code, for pipeline-guard and guardduty-responder (what
//! tests/tests/template.rs checks for rds-guard): each function's IAM policy grants exactly the
//! actions its code declares, scoped (Resource "*" only where AWS allows nothing else); its EventBridge rules match exactly the
//! events its code handles (and pipeline-guard's do not filter failed calls out); it is built as a
//! Rust arm64 binary; failed events go to the dead-letter queue, which accepts them from its
//! rules; and every variable its code reads is set.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pipeline_guard::config::ENV_SUITE_RULE_PREFIX;
use pipeline_guard::tampering::{handled_calls, EVENTBRIDGE_SOURCES};
use rdsguard::aws::SdkEc2;
use rdsguard::event::detail_type;
use rdsguard::guardduty::ENV_GUARDDUTY_RESPONSES;
use rdsguard::policy::{
    ENV_ALERT_TOPIC_ARN, ENV_EXEMPT_TAG_KEY, ENV_MEMBER_ROLE_NAME, ENV_MODE, ENV_RULE_ACTIONS,
    ENV_UNDELIVERED_ALERTS_QUEUE_URL,
};
use rdsguard_tests::template::{
    assert_same_set, at, event_pattern, function, function_statements, granted_actions, set_of, strings, template,
};
use serde_yaml::Value;

const PIPELINE_GUARD: &str = "PipelineGuardFunction";
const GUARDDUTY_RESPONDER: &str = "GuardDutyResponderFunction";

/// pipeline-guard's rules: (event name in template.yaml, eventSource).
const PIPELINE_RULES: [(&str, &str); 3] = [
    ("TrailTampering", "cloudtrail.amazonaws.com"),
    ("DetectorTampering", "guardduty.amazonaws.com"),
    ("SuiteRuleTampering", "events.amazonaws.com"),
];

#[test]
fn each_function_is_granted_exactly_the_actions_its_code_declares() {
    let template = template();
    assert_same_set(
        &granted_actions(&template, PIPELINE_GUARD, &[]),
        &set_of(pipeline_guard::iam_actions()),
        "pipeline-guard IAM actions",
    );
    assert_same_set(
        &granted_actions(&template, GUARDDUTY_RESPONDER, SdkEc2::INVENTORY_IAM_ACTIONS),
        &set_of(guardduty_responder::iam_actions()),
        "guardduty-responder IAM actions",
    );
}

#[test]
fn forensic_snapshots_can_only_be_created_and_tagged_under_rdsguards_names() {
    let template = template();
    for statement in &function_statements(&template, GUARDDUTY_RESPONDER) {
        let actions = strings(at(statement, &["Action"]), "Action");
        if !actions.iter().any(|a| a == "rds:AddTagsToResource" || a.starts_with("rds:Create")) {
            continue;
        }
        let resources = serde_yaml::to_string(at(statement, &["Resource"])).unwrap();
        for line in resources.lines().filter(|l| l.contains("snapshot:")) {
            assert!(line.contains("snapshot:rdsguard-gd-*"), "{actions:?} on {line}");
        }
        if actions.contains("rds:AddTagsToResource") {
            assert!(
                !resources.contains(":db:") && !resources.contains(":cluster:"),
                "tags only snapshots: {resources}"
            );
        }
    }
}

#[test]
fn pipeline_rules_match_exactly_the_calls_the_code_handles_failed_ones_included() {
    let template = template();
    for (event, event_source) in PIPELINE_RULES {
        let pattern = event_pattern(&template, PIPELINE_GUARD, event);
        let eventbridge_source = EVENTBRIDGE_SOURCES.iter().find(|(s, _)| *s == event_source).unwrap().1;
        assert_eq!(strings(at(pattern, &["source"]), "source"), set_of([eventbridge_source]), "{event}");
        assert_eq!(
            strings(at(pattern, &["detail-type"]), "detail-type"),
            set_of([detail_type::CLOUDTRAIL_API_CALL]),
            "{event}"
        );
        assert_eq!(strings(at(pattern, &["detail", "eventSource"]), "eventSource"), set_of([event_source]), "{event}");
        assert_same_set(
            &strings(at(pattern, &["detail", "eventName"]), "eventName"),
            &set_of(handled_calls(event_source)),
            &format!("CloudTrail event names ({event} rule)"),
        );
        assert!(
            at(pattern, &["detail"]).get("errorCode").is_none(),
            "{event}: failed calls are alerted as attempts, the rule must not filter them out"
        );
    }
    let events = at(function(&template, PIPELINE_GUARD), &["Properties", "Events"]).as_mapping().unwrap();
    assert_eq!(events.len(), PIPELINE_RULES.len(), "one rule per service, no others");
}

#[test]
fn guardduty_rule_delivers_every_finding() {
    let template = template();
    let pattern = event_pattern(&template, GUARDDUTY_RESPONDER, "GuardDutyFindings");
    assert_eq!(strings(at(pattern, &["source"]), "source"), set_of(["aws.guardduty"]));
    assert_eq!(strings(at(pattern, &["detail-type"]), "detail-type"), set_of([detail_type::GUARDDUTY_FINDING]));
    // Findings that are not about databases reach the function and are acknowledged there.
    assert!(pattern.get("detail").is_none(), "no detail filter: {pattern:?}");
}

#[test]
fn functions_are_built_and_run_as_rust_arm64_binaries() {
    let template = template();
    for (name, binary) in [(PIPELINE_GUARD, "pipeline-guard"), (GUARDDUTY_RESPONDER, "guardduty-responder")] {
        let function = function(&template, name);
        assert_eq!(at(function, &["Metadata", "BuildMethod"]).as_str(), Some("rust-cargolambda"), "{name}");
        assert_eq!(at(function, &["Metadata", "BuildProperties", "Binary"]).as_str(), Some(binary), "{name}");
        let properties = at(function, &["Properties"]);
        assert_eq!(at(properties, &["Runtime"]).as_str(), Some("provided.al2023"), "{name}");
        assert_eq!(at(properties, &["Handler"]).as_str(), Some("bootstrap"), "{name}");
        assert_eq!(strings(at(properties, &["Architectures"]), "Architectures"), set_of(["arm64"]), "{name}");
    }
}

#[test]
fn failed_events_are_kept_in_the_dead_letter_queue() {
    let template = template();
    let allowed_rules: Vec<String> =
        at(template.get("Resources").unwrap(), &["DeadLetterQueuePolicy", "Properties", "PolicyDocument", "Statement"])
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|s| at(s, &["Condition", "ArnEquals", "aws:SourceArn"]).as_sequence().unwrap())
            // A conditional function's rule is listed as Fn::If [condition, its ARN, AWS::NoValue].
            .map(|arn| arn.get("Fn::If").and_then(|branches| branches.get(1)).unwrap_or(arn))
            .map(|arn| at(arn, &["Fn::GetAtt"]).as_sequence().unwrap()[0].as_str().unwrap().to_owned())
            .collect();
    for name in [PIPELINE_GUARD, GUARDDUTY_RESPONDER] {
        let properties = at(function(&template, name), &["Properties"]);
        let dlq = at(properties, &["DeadLetterQueue"]);
        assert_eq!(at(dlq, &["Type"]).as_str(), Some("SQS"), "{name}");
        let target: Vec<&str> =
            at(dlq, &["TargetArn", "Fn::GetAtt"]).as_sequence().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(target, ["DeadLetterQueue", "Arn"], "{name}");
        for (event, definition) in at(properties, &["Events"]).as_mapping().unwrap() {
            let event = event.as_str().unwrap();
            let dead_letters = at(definition, &["Properties", "DeadLetterConfig", "Arn", "Fn::GetAtt"]);
            assert_eq!(dead_letters.as_sequence().unwrap()[0].as_str(), Some("DeadLetterQueue"), "{name}.{event}");
            // SAM names the generated rule <Function><Event>; the queue policy must let it in.
            let rule = format!("{name}{event}");
            assert!(allowed_rules.contains(&rule), "DeadLetterQueuePolicy does not accept {rule}: {allowed_rules:?}");
        }
    }
}

#[test]
fn every_variable_the_code_reads_is_set() {
    let template = template();
    let common = [
        ENV_ALERT_TOPIC_ARN,
        ENV_MODE,
        ENV_RULE_ACTIONS,
        ENV_EXEMPT_TAG_KEY,
        ENV_MEMBER_ROLE_NAME,
        ENV_UNDELIVERED_ALERTS_QUEUE_URL,
        "RUST_LOG",
    ];
    for (name, own) in [(PIPELINE_GUARD, ENV_SUITE_RULE_PREFIX), (GUARDDUTY_RESPONDER, ENV_GUARDDUTY_RESPONSES)] {
        let variables = at(function(&template, name), &["Properties", "Environment", "Variables"]);
        for variable in common.iter().chain([&own]) {
            assert!(variables.get(*variable).is_some(), "{name}: Environment.Variables has no {variable}");
        }
        assert_eq!(at(variables, &[ENV_ALERT_TOPIC_ARN, "Ref"]).as_str(), Some("AlertTopic"), "{name}");
        assert_eq!(
            at(variables, &[ENV_UNDELIVERED_ALERTS_QUEUE_URL, "Ref"]).as_str(),
            Some("DeadLetterQueue"),
            "{name}"
        );
    }
    let pipeline = at(function(&template, PIPELINE_GUARD), &["Properties", "Environment", "Variables"]);
    assert_eq!(at(pipeline, &[ENV_SUITE_RULE_PREFIX, "Fn::Sub"]).as_str(), Some("${AWS::StackName}-"));
    let responder = at(function(&template, GUARDDUTY_RESPONDER), &["Properties", "Environment", "Variables"]);
    assert_eq!(at(responder, &[ENV_GUARDDUTY_RESPONSES, "Ref"]).as_str(), Some("GuardDutyResponses"));
    assert_eq!(
        at(&template, &["Parameters", "GuardDutyResponses", "Default"]).as_str(),
        Some(""),
        "opt-in: none by default"
    );
}
