//! template.yaml's findings ledger against the code: the table the adapter expects (key, TTL
//! attribute), encrypted, recoverable, on demand; every function that records findings gets its
//! name and settings, and may call the ledger's actions on that table only.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rdsguard::aws::{
    DynamoDbFindings, SdkSecurityHub, FINDING_ID_KEY, OPEN_INDEX, OPEN_SCOPE_ATTRIBUTE, TTL_ATTRIBUTE,
};
use rdsguard::ledger::config::{
    ENV_ALERT_ON_RESOLVE, ENV_FINDINGS_TABLE, ENV_REALERT_AFTER_DAYS, ENV_SECURITY_HUB_EXPORT,
};
use rdsguard::ledger::Lifecycle;
use rdsguard_tests::template::{
    at, function, function_statements, member_template, resource, set_of, strings, template,
};
use serde_yaml::Value;

/// The ledgered functions that read the findings held open ([`DynamoDbFindings::INDEX_IAM_ACTIONS`],
/// on the table's index only) to resolve those they no longer see.
const READING_OPEN: [&str; 3] = ["RdsGuardFunction", "NetworkGuardFunction", "SweepWorkerFunction"];

/// The functions whose alerts pass through the ledger and go to Security Hub with the export on
/// (`Plumbing::for_function`).
const LEDGERED: [&str; 5] = [
    "RdsGuardFunction",
    "NetworkGuardFunction",
    "PipelineGuardFunction",
    "GuardDutyResponderFunction",
    "SweepWorkerFunction",
];
/// guardrail-manager's alerts pass through the ledger too, but are not exported.
const LEDGERED_NOT_EXPORTED: &str = "GuardrailManagerFunction";

#[test]
fn the_table_is_the_one_the_adapter_expects() {
    let template = template();
    let table = resource(&template, "FindingsTable");
    assert_eq!(at(table, &["Type"]).as_str(), Some("AWS::DynamoDB::Table"));
    let properties = at(table, &["Properties"]);
    assert_eq!(at(properties, &["BillingMode"]).as_str(), Some("PAY_PER_REQUEST"));
    let key = at(properties, &["KeySchema"]).as_sequence().expect("KeySchema");
    assert_eq!(key.len(), 1);
    assert_eq!(at(&key[0], &["AttributeName"]).as_str(), Some(FINDING_ID_KEY));
    assert_eq!(at(&key[0], &["KeyType"]).as_str(), Some("HASH"));
    let attributes = at(properties, &["AttributeDefinitions"]).as_sequence().expect("AttributeDefinitions");
    assert_eq!(at(&attributes[0], &["AttributeName"]).as_str(), Some(FINDING_ID_KEY));
    assert_eq!(at(&attributes[0], &["AttributeType"]).as_str(), Some("S"));
    assert_eq!(at(properties, &["SSESpecification", "SSEEnabled"]).as_bool(), Some(true));
    assert_eq!(
        at(properties, &["PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"]).as_bool(),
        Some(true)
    );
    assert_eq!(at(properties, &["TimeToLiveSpecification", "AttributeName"]).as_str(), Some(TTL_ATTRIBUTE));
    assert_eq!(at(properties, &["TimeToLiveSpecification", "Enabled"]).as_bool(), Some(true));
    let indexes = at(properties, &["GlobalSecondaryIndexes"]).as_sequence().expect("the open-findings index");
    assert_eq!(indexes.len(), 1);
    assert_eq!(at(&indexes[0], &["IndexName"]).as_str(), Some(OPEN_INDEX));
    let index_key: Vec<(&str, &str)> = at(&indexes[0], &["KeySchema"])
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| (at(k, &["AttributeName"]).as_str().unwrap(), at(k, &["KeyType"]).as_str().unwrap()))
        .collect();
    assert_eq!(index_key, [(OPEN_SCOPE_ATTRIBUTE, "HASH"), ("resource", "RANGE")]);
    assert_eq!(
        at(&indexes[0], &["Projection", "ProjectionType"]).as_str(),
        Some("ALL"),
        "the adapter decodes whole items"
    );
}

#[test]
fn every_ledgered_function_is_configured_and_granted_the_table_only() {
    let template = template();
    for logical_id in LEDGERED.into_iter().chain([LEDGERED_NOT_EXPORTED]) {
        let variables = at(function(&template, logical_id), &["Properties", "Environment", "Variables"]);
        assert_eq!(at(variables, &[ENV_FINDINGS_TABLE, "Ref"]).as_str(), Some("FindingsTable"), "{logical_id}");
        assert_eq!(at(variables, &[ENV_ALERT_ON_RESOLVE, "Ref"]).as_str(), Some("AlertOnResolve"), "{logical_id}");
        assert_eq!(at(variables, &[ENV_REALERT_AFTER_DAYS, "Ref"]).as_str(), Some("RealertAfterDays"), "{logical_id}");
        let export = variables.get(ENV_SECURITY_HUB_EXPORT).and_then(|v| v.get("Ref")).and_then(Value::as_str);
        let exported = logical_id != LEDGERED_NOT_EXPORTED;
        assert_eq!(export, exported.then_some("SecurityHubExport"), "{logical_id}");

        let statements = function_statements(&template, logical_id);
        let ledger: Vec<&Value> = statements
            .iter()
            .filter(|s| strings(at(s, &["Action"]), "Action").iter().any(|a| a.starts_with("dynamodb:")))
            .collect();
        let reads_open = READING_OPEN.contains(&logical_id);
        assert_eq!(ledger.len(), 1 + usize::from(reads_open), "{logical_id}: the table's statement (and the index's)");
        if reads_open {
            assert_eq!(
                strings(at(ledger[1], &["Action"]), "Action"),
                set_of(DynamoDbFindings::INDEX_IAM_ACTIONS.iter().copied())
            );
            assert_eq!(
                at(ledger[1], &["Resource", "Fn::Sub"]).as_str(),
                Some(format!("${{FindingsTable.Arn}}/index/{OPEN_INDEX}").as_str()),
                "{logical_id}: the index only"
            );
        }
        assert_eq!(
            strings(at(ledger[0], &["Action"]), "Action"),
            set_of(DynamoDbFindings::IAM_ACTIONS.iter().copied())
        );
        let target: Vec<&str> = at(ledger[0], &["Resource", "Fn::GetAtt"])
            .as_sequence()
            .expect("Resource is the table's Arn")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(target, ["FindingsTable", "Arn"], "{logical_id}");
    }
}

#[test]
fn ledger_parameters_match_the_code_defaults() {
    let template = template();
    let parameters = at(&template, &["Parameters"]);
    let defaults = Lifecycle::default();
    assert_eq!(
        at(parameters, &["AlertOnResolve", "Default"]).as_str(),
        Some(defaults.alert_on_resolve.to_string().as_str())
    );
    assert_eq!(at(parameters, &["RealertAfterDays", "Default"]).as_u64(), Some(u64::from(defaults.realert_after_days)));
    assert_eq!(at(parameters, &["RealertAfterDays", "MinValue"]).as_u64(), Some(0));
}

/// The export's policy: attached to `roles`, under `condition`, exactly the adapter's actions, each
/// scoped to the account's own Security Hub (no `Resource: "*"`).
fn assert_export_policy(policy: &Value, condition: &str, roles: &[String], what: &str) {
    assert_eq!(at(policy, &["Type"]).as_str(), Some("AWS::IAM::Policy"), "{what}");
    assert_eq!(at(policy, &["Condition"]).as_str(), Some(condition), "{what}: granted only when the export is on");
    let attached: Vec<String> = at(policy, &["Properties", "Roles"])
        .as_sequence()
        .unwrap()
        .iter()
        // A role that exists only under a condition is attached as Fn::If [cond, Ref, NoValue].
        .map(|r| match r.get("Fn::If").and_then(Value::as_sequence) {
            Some(branches) => at(&branches[1], &["Ref"]).as_str().unwrap().to_owned(),
            None => at(r, &["Ref"]).as_str().unwrap().to_owned(),
        })
        .collect();
    assert_eq!(attached, roles, "{what}");
    let statements = at(policy, &["Properties", "PolicyDocument", "Statement"]).as_sequence().unwrap();
    let mut actions = std::collections::BTreeSet::new();
    for statement in statements {
        assert_eq!(at(statement, &["Effect"]).as_str(), Some("Allow"));
        let resource = format!("{:?}", at(statement, &["Resource"]));
        assert!(resource.contains(":securityhub:") && !resource.contains("\"*\""), "{what}: {resource}");
        actions.extend(strings(at(statement, &["Action"]), "Action"));
    }
    assert_eq!(actions, set_of(SdkSecurityHub::IAM_ACTIONS.iter().copied()), "{what}");
}

#[test]
fn security_hub_is_granted_only_with_the_export_on_in_both_templates() {
    let template = template();
    assert_eq!(at(&template, &["Parameters", "SecurityHubExport", "Default"]).as_str(), Some("off"));
    let condition = at(&template, &["Conditions", "SecurityHubExportOn", "Fn::Equals"]).as_sequence().unwrap();
    assert_eq!(at(&condition[0], &["Ref"]).as_str(), Some("SecurityHubExport"));
    assert_eq!(condition[1].as_str(), Some("on"));
    let function_roles: Vec<String> = LEDGERED.iter().map(|f| format!("{f}Role")).collect();
    assert_export_policy(
        resource(&template, "SecurityHubExportPolicy"),
        "SecurityHubExportOn",
        &function_roles,
        "template.yaml",
    );
    for logical_id in LEDGERED {
        let policies = format!("{:?}", at(function(&template, logical_id), &["Properties", "Policies"]));
        assert!(!policies.contains("securityhub:"), "{logical_id}: Security Hub only through the conditional policy");
    }

    let member = member_template();
    assert_eq!(at(&member, &["Parameters", "SecurityHubExport", "Default"]).as_str(), Some("off"));
    let member_roles: Vec<String> = [
        "RdsGuardMemberRole",
        "NetworkGuardMemberRole",
        "PipelineGuardMemberRole",
        "GuardDutyResponderMemberRole",
        "SweepWorkerMemberRole",
    ]
    .map(str::to_owned)
    .to_vec();
    assert_export_policy(
        resource(&member, "SecurityHubExportMemberPolicy"),
        "ExportToSecurityHub",
        &member_roles,
        "member.yaml",
    );
}
