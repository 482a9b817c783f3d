//! template.yaml against the code: each function's IAM policy grants exactly the actions its code
//! declares, its EventBridge rules match exactly the API calls it handles, and it is built,
//! configured and wired as the code expects. No AWS needed: the template is plain YAML
//! (long-form intrinsic functions only), read with serde_yaml.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rdsguard::aws::SdkEc2;
use rdsguard::event::detail_type;
use rdsguard::policy::{
    ENV_ALERT_TOPIC_ARN, ENV_ALLOWED_CIDRS, ENV_ALLOWED_REGIONS, ENV_EXEMPT_TAG_KEY, ENV_MEMBER_ROLE_NAME, ENV_MODE,
    ENV_RULE_ACTIONS, ENV_UNDELIVERED_ALERTS_QUEUE_URL,
};
use rdsguard_tests::template::{
    assert_same_set, at, event_pattern, function, granted_actions, resource, set_of, strings, template, template_text,
};
use serde_yaml::Value;

/// What the code says about one function; the template must agree.
struct FunctionSpec {
    logical_id: &'static str,
    binary: &'static str,
    iam_actions: Vec<&'static str>,
    /// Actions AWS authorises only on `Resource: "*"` (declared by the adapters).
    unscoped_actions: Vec<&'static str>,
    variables: Vec<&'static str>,
    /// (event name in the template, `source`, `detail.eventSource`, `detail.eventName`s).
    api_call_rules: Vec<(&'static str, &'static str, &'static str, Vec<&'static str>)>,
}

fn functions() -> Vec<FunctionSpec> {
    let common =
        [ENV_ALERT_TOPIC_ARN, ENV_MODE, ENV_RULE_ACTIONS, ENV_EXEMPT_TAG_KEY, ENV_MEMBER_ROLE_NAME, "RUST_LOG"];
    let [(ec2_source, security_group_calls), (rds_source, database_calls)] = network_guard::target::handled_api_calls();
    vec![
        FunctionSpec {
            logical_id: "RdsGuardFunction",
            binary: "rds-guard",
            iam_actions: rds_guard::iam_actions(),
            unscoped_actions: Vec::new(),
            variables: [&common[..], &[ENV_ALLOWED_REGIONS, ENV_UNDELIVERED_ALERTS_QUEUE_URL]].concat(),
            api_call_rules: vec![(
                "RdsApiCalls",
                "aws.rds",
                rds_guard::target::RDS_EVENT_SOURCE,
                rds_guard::target::handled_api_calls().collect(),
            )],
        },
        FunctionSpec {
            logical_id: "NetworkGuardFunction",
            binary: "network-guard",
            iam_actions: network_guard::iam_actions(),
            unscoped_actions: SdkEc2::INVENTORY_IAM_ACTIONS.to_vec(),
            variables: [&common[..], &[ENV_ALLOWED_CIDRS, ENV_UNDELIVERED_ALERTS_QUEUE_URL]].concat(),
            api_call_rules: vec![
                ("SecurityGroupApiCalls", "aws.ec2", ec2_source, security_group_calls.to_vec()),
                ("DatabaseNetworkApiCalls", "aws.rds", rds_source, database_calls.to_vec()),
            ],
        },
    ]
}

#[test]
fn each_function_policy_grants_exactly_the_actions_its_code_declares() {
    let template = template();
    for spec in functions() {
        let granted = granted_actions(&template, spec.logical_id, &spec.unscoped_actions);
        assert_same_set(&granted, &set_of(spec.iam_actions), &format!("{} IAM actions", spec.logical_id));
    }
}

#[test]
fn each_api_call_rule_matches_exactly_the_calls_the_code_handles() {
    let template = template();
    for spec in functions() {
        for (event, source, event_source, names) in spec.api_call_rules {
            let label = format!("{}.{event}", spec.logical_id);
            let pattern = event_pattern(&template, spec.logical_id, event);
            assert_eq!(strings(at(pattern, &["source"]), "source"), set_of([source]), "{label}");
            assert_eq!(
                strings(at(pattern, &["detail-type"]), "detail-type"),
                set_of([detail_type::CLOUDTRAIL_API_CALL]),
                "{label}"
            );
            assert_eq!(
                strings(at(pattern, &["detail", "eventSource"]), "eventSource"),
                set_of([event_source]),
                "{label}"
            );
            assert_same_set(
                &strings(at(pattern, &["detail", "eventName"]), "eventName"),
                &set_of(names),
                &format!("CloudTrail event names ({label})"),
            );
            let error_code = at(pattern, &["detail", "errorCode"]).as_sequence().expect("errorCode filter");
            assert_eq!(
                error_code.first().and_then(|f| f.get("exists")).and_then(Value::as_bool),
                Some(false),
                "{label}: failed calls changed nothing: the rule should filter them out"
            );
        }
    }
}

#[test]
fn rds_event_rule_delivers_instance_and_cluster_events() {
    let template = template();
    let pattern = event_pattern(&template, "RdsGuardFunction", "RdsDatabaseEvents");
    assert_eq!(strings(at(pattern, &["source"]), "source"), set_of(["aws.rds"]));
    assert_eq!(
        strings(at(pattern, &["detail-type"]), "detail-type"),
        set_of([detail_type::RDS_DB_INSTANCE_EVENT, detail_type::RDS_DB_CLUSTER_EVENT])
    );
    let categories = strings(at(pattern, &["detail", "EventCategories"]), "EventCategories");
    // creation / restoration finish deferred work on new databases; notification carries
    // RDS-EVENT-0088 "DB instance started", which finishes work deferred on stopped ones;
    // deletion ("DB instance deleted") resolves the findings the ledger held on the database.
    for category in ["creation", "restoration", "configuration change", "notification", "deletion"] {
        assert!(categories.contains(category), "RdsDatabaseEvents must match {category:?} events: {categories:?}");
    }
}

#[test]
fn each_function_is_built_and_run_as_a_rust_arm64_binary() {
    let template = template();
    for spec in functions() {
        let function = function(&template, spec.logical_id);
        assert_eq!(at(function, &["Metadata", "BuildMethod"]).as_str(), Some("rust-cargolambda"));
        assert_eq!(at(function, &["Metadata", "BuildProperties", "Binary"]).as_str(), Some(spec.binary));
        let properties = at(function, &["Properties"]);
        assert_eq!(at(properties, &["Runtime"]).as_str(), Some("provided.al2023"), "{}", spec.logical_id);
        assert_eq!(at(properties, &["Handler"]).as_str(), Some("bootstrap"), "{}", spec.logical_id);
        assert_eq!(strings(at(properties, &["Architectures"]), "Architectures"), set_of(["arm64"]));
    }
}

#[test]
fn alerts_are_encrypted_and_failed_events_are_kept() {
    let template = template();
    let topic = resource(&template, "AlertTopic");
    assert_eq!(at(topic, &["Type"]).as_str(), Some("AWS::SNS::Topic"));
    // A customer managed key, so that CloudWatch alarms can publish to the topic too.
    assert_eq!(at(topic, &["Properties", "KmsMasterKeyId", "Ref"]).as_str(), Some("AlertTopicKey"));
    assert_eq!(at(resource(&template, "AlertTopicKey"), &["Type"]).as_str(), Some("AWS::KMS::Key"));

    let queue = resource(&template, "DeadLetterQueue");
    assert_eq!(at(queue, &["Type"]).as_str(), Some("AWS::SQS::Queue"));
    assert_eq!(at(queue, &["Properties", "SqsManagedSseEnabled"]).as_bool(), Some(true));

    let allowed_sources = format!(
        "{:?}",
        at(resource(&template, "DeadLetterQueuePolicy"), &["Properties", "PolicyDocument", "Statement"])
    );
    for spec in functions() {
        let function = function(&template, spec.logical_id);
        let dlq = at(function, &["Properties", "DeadLetterQueue"]);
        assert_eq!(at(dlq, &["Type"]).as_str(), Some("SQS"));
        let target: Vec<&str> = at(dlq, &["TargetArn", "Fn::GetAtt"])
            .as_sequence()
            .expect("DeadLetterQueue.TargetArn is Fn::GetAtt [queue, Arn]")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(target, ["DeadLetterQueue", "Arn"], "{}", spec.logical_id);
        for (event, _) in at(function, &["Properties", "Events"]).as_mapping().expect("Events").iter() {
            let rule = format!("{}{}", spec.logical_id, event.as_str().unwrap_or_default());
            assert!(allowed_sources.contains(&rule), "the DLQ policy must let rule {rule} send undeliverable events");
        }
    }
}

#[test]
fn every_variable_the_code_reads_is_set() {
    let template = template();
    for spec in functions() {
        let variables = at(function(&template, spec.logical_id), &["Properties", "Environment", "Variables"]);
        for name in &spec.variables {
            assert!(variables.get(*name).is_some(), "{}: Environment.Variables has no {name}", spec.logical_id);
        }
        assert_eq!(at(variables, &[ENV_ALERT_TOPIC_ARN, "Ref"]).as_str(), Some("AlertTopic"));
        assert_eq!(at(variables, &[ENV_UNDELIVERED_ALERTS_QUEUE_URL, "Ref"]).as_str(), Some("DeadLetterQueue"));
    }
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
