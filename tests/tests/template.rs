//! template.yaml against the code: the function's IAM policy grants exactly the actions the code
//! declares, the EventBridge rule matches exactly the API calls the code handles, and the function
//! is built, configured and wired as the code expects. No AWS needed: the template is plain YAML
//! (long-form intrinsic functions only), read with serde_yaml.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;

use rds_guard::target::{handled_api_calls, RDS_EVENT_SOURCE};
use rdsguard::event::detail_type;
use rdsguard::policy::{
    ENV_ALERT_TOPIC_ARN, ENV_ALLOWED_REGIONS, ENV_EXEMPT_TAG_KEY, ENV_MEMBER_ROLE_NAME, ENV_MODE, ENV_RULE_ACTIONS,
    ENV_UNDELIVERED_ALERTS_QUEUE_URL,
};
use serde_yaml::Value;

const TEMPLATE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
const FUNCTION: &str = "RdsGuardFunction";

fn template_text() -> String {
    std::fs::read_to_string(TEMPLATE_PATH).expect("template.yaml is readable at the workspace root")
}

fn template() -> Value {
    serde_yaml::from_str(&template_text()).expect("template.yaml is valid YAML (long-form intrinsics only)")
}

/// `value[key1][key2]...`, failing with the path that is missing.
fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    let mut current = value;
    for (i, key) in path.iter().enumerate() {
        current = current.get(*key).unwrap_or_else(|| panic!("template.yaml has no {}", path[..=i].join(".")));
    }
    current
}

fn resource<'a>(template: &'a Value, name: &str) -> &'a Value {
    at(template, &["Resources", name])
}

fn function(template: &Value) -> &Value {
    let function = resource(template, FUNCTION);
    assert_eq!(at(function, &["Type"]).as_str(), Some("AWS::Serverless::Function"));
    function
}

/// A scalar string, or a list of them, as a set (IAM `Action`, event pattern values).
fn strings(value: &Value, what: &str) -> BTreeSet<String> {
    match value {
        Value::String(s) => BTreeSet::from([s.clone()]),
        Value::Sequence(items) => items
            .iter()
            .map(|item| item.as_str().unwrap_or_else(|| panic!("{what}: {item:?} is not a string")).to_owned())
            .collect(),
        other => panic!("{what}: expected a string or a list of strings, found {other:?}"),
    }
}

fn set_of<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

/// Fails with what is extra and what is missing, not just "not equal".
fn assert_same_set(found: &BTreeSet<String>, expected: &BTreeSet<String>, what: &str) {
    let extra: Vec<&String> = found.difference(expected).collect();
    let missing: Vec<&String> = expected.difference(found).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "{what} in template.yaml differ from the code:\n  in the template but not the code (extra): {extra:?}\n  \
         in the code but not the template (missing): {missing:?}"
    );
}

fn event_pattern<'a>(template: &'a Value, event: &str) -> &'a Value {
    let event = at(function(template), &["Properties", "Events", event]);
    assert_eq!(at(event, &["Type"]).as_str(), Some("EventBridgeRule"));
    at(event, &["Properties", "Pattern"])
}

#[test]
fn function_policy_grants_exactly_the_actions_the_code_declares() {
    let template = template();
    let policies = at(function(&template), &["Properties", "Policies"])
        .as_sequence()
        .expect("Policies is a list of inline policy documents");
    assert!(!policies.is_empty(), "the function has no inline policies");

    let mut granted = BTreeSet::new();
    for (p, policy) in policies.iter().enumerate() {
        let statements = at(policy, &["Statement"]).as_sequence().unwrap_or_else(|| {
            panic!("Policies[{p}] must be an inline document with a Statement list, not a SAM policy template")
        });
        for (s, statement) in statements.iter().enumerate() {
            let label = format!("Policies[{p}].Statement[{s}]");
            assert_eq!(at(statement, &["Effect"]).as_str(), Some("Allow"), "{label}: only Allow statements expected");
            assert!(statement.get("NotAction").is_none(), "{label}: NotAction grants far too much");
            let resource = statement.get("Resource").unwrap_or_else(|| panic!("{label} has no Resource"));
            let wildcard = |v: &Value| v.as_str() == Some("*");
            let all_resources =
                wildcard(resource) || resource.as_sequence().is_some_and(|items| items.iter().any(wildcard));
            assert!(!all_resources, "{label}: Resource \"*\" grants every resource; scope it");
            for action in strings(at(statement, &["Action"]), &format!("{label}.Action")) {
                assert!(!action.contains('*'), "{label}: wildcard action {action:?}");
                granted.insert(action);
            }
        }
    }
    assert_same_set(&granted, &set_of(rds_guard::iam_actions()), "IAM actions");
}

#[test]
fn api_call_rule_matches_exactly_the_calls_the_code_handles() {
    let template = template();
    let pattern = event_pattern(&template, "RdsApiCalls");
    assert_eq!(strings(at(pattern, &["source"]), "source"), set_of(["aws.rds"]));
    assert_eq!(strings(at(pattern, &["detail-type"]), "detail-type"), set_of([detail_type::CLOUDTRAIL_API_CALL]));
    assert_eq!(strings(at(pattern, &["detail", "eventSource"]), "eventSource"), set_of([RDS_EVENT_SOURCE]));
    assert_same_set(
        &strings(at(pattern, &["detail", "eventName"]), "eventName"),
        &set_of(handled_api_calls()),
        "CloudTrail event names (RdsApiCalls rule)",
    );
    let error_code = at(pattern, &["detail", "errorCode"]).as_sequence().expect("errorCode filter");
    assert_eq!(
        error_code.first().and_then(|f| f.get("exists")).and_then(Value::as_bool),
        Some(false),
        "failed calls changed nothing: the rule should filter them out"
    );
}

#[test]
fn rds_event_rule_delivers_instance_and_cluster_events() {
    let template = template();
    let pattern = event_pattern(&template, "RdsDatabaseEvents");
    assert_eq!(strings(at(pattern, &["source"]), "source"), set_of(["aws.rds"]));
    assert_eq!(
        strings(at(pattern, &["detail-type"]), "detail-type"),
        set_of([detail_type::RDS_DB_INSTANCE_EVENT, detail_type::RDS_DB_CLUSTER_EVENT])
    );
    let categories = strings(at(pattern, &["detail", "EventCategories"]), "EventCategories");
    // creation / restoration finish deferred work on new databases; notification carries
    // RDS-EVENT-0088 "DB instance started", which finishes work deferred on stopped ones.
    for category in ["creation", "restoration", "configuration change", "notification"] {
        assert!(categories.contains(category), "RdsDatabaseEvents must match {category:?} events: {categories:?}");
    }
}

#[test]
fn function_is_built_and_run_as_a_rust_arm64_binary() {
    let template = template();
    let function = function(&template);
    assert_eq!(at(function, &["Metadata", "BuildMethod"]).as_str(), Some("rust-cargolambda"));
    assert_eq!(at(function, &["Metadata", "BuildProperties", "Binary"]).as_str(), Some("rds-guard"));
    let properties = at(function, &["Properties"]);
    assert_eq!(at(properties, &["Runtime"]).as_str(), Some("provided.al2023"));
    assert_eq!(at(properties, &["Handler"]).as_str(), Some("bootstrap"));
    assert_eq!(strings(at(properties, &["Architectures"]), "Architectures"), set_of(["arm64"]));
}

#[test]
fn alerts_are_encrypted_and_failed_events_are_kept() {
    let template = template();
    let topic = resource(&template, "AlertTopic");
    assert_eq!(at(topic, &["Type"]).as_str(), Some("AWS::SNS::Topic"));
    assert!(at(topic, &["Properties", "KmsMasterKeyId"]).as_str().is_some_and(|k| !k.is_empty()));

    let queue = resource(&template, "DeadLetterQueue");
    assert_eq!(at(queue, &["Type"]).as_str(), Some("AWS::SQS::Queue"));
    assert_eq!(at(queue, &["Properties", "SqsManagedSseEnabled"]).as_bool(), Some(true));

    let dlq = at(function(&template), &["Properties", "DeadLetterQueue"]);
    assert_eq!(at(dlq, &["Type"]).as_str(), Some("SQS"));
    let target: Vec<&str> = at(dlq, &["TargetArn", "Fn::GetAtt"])
        .as_sequence()
        .expect("DeadLetterQueue.TargetArn is Fn::GetAtt [queue, Arn]")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(target, ["DeadLetterQueue", "Arn"]);
}

#[test]
fn every_variable_the_code_reads_is_set() {
    let template = template();
    let variables = at(function(&template), &["Properties", "Environment", "Variables"]);
    for name in [
        ENV_ALERT_TOPIC_ARN,
        ENV_ALLOWED_REGIONS,
        ENV_MODE,
        ENV_RULE_ACTIONS,
        ENV_EXEMPT_TAG_KEY,
        ENV_MEMBER_ROLE_NAME,
        ENV_UNDELIVERED_ALERTS_QUEUE_URL,
        "RUST_LOG",
    ] {
        assert!(variables.get(name).is_some(), "Environment.Variables has no {name}");
    }
    assert_eq!(at(variables, &[ENV_ALERT_TOPIC_ARN, "Ref"]).as_str(), Some("AlertTopic"));
    assert_eq!(at(variables, &[ENV_UNDELIVERED_ALERTS_QUEUE_URL, "Ref"]).as_str(), Some("DeadLetterQueue"));
}

#[test]
fn template_uses_no_short_form_intrinsics() {
    let text = template_text();
    let short: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with('#'))
        .filter(|(_, line)| {
            [" !Ref", " !Sub", " !GetAtt", " !If", " !Join", " !Equals", " !Not", " !Select"]
                .iter()
                .any(|tag| line.contains(tag))
        })
        .map(|(i, line)| (i + 1, line))
        .collect();
    assert!(
        short.is_empty(),
        "short-form tags break the YAML parse in this test; use Ref:/Fn::Sub:/Fn::GetAtt: {short:?}"
    );
}
