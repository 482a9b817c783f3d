//! template.yaml's findings ledger against the code: the table the adapter expects (key, TTL
//! attribute), encrypted, recoverable, on demand; every function that records findings gets its
//! name and settings, and may call the ledger's actions on that table only.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rdsguard::aws::{DynamoDbFindings, FINDING_ID_KEY, TTL_ATTRIBUTE};
use rdsguard::ledger::config::{ENV_ALERT_ON_RESOLVE, ENV_FINDINGS_TABLE, ENV_REALERT_AFTER_DAYS};
use rdsguard::ledger::Lifecycle;
use rdsguard_tests::template::{at, function, resource, set_of, strings, template};
use serde_yaml::Value;

/// The functions whose alerts pass through the ledger (`Plumbing::for_function`).
const LEDGERED: [&str; 4] =
    ["RdsGuardFunction", "NetworkGuardFunction", "PipelineGuardFunction", "GuardDutyResponderFunction"];

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
}

#[test]
fn every_ledgered_function_is_configured_and_granted_the_table_only() {
    let template = template();
    for logical_id in LEDGERED {
        let variables = at(function(&template, logical_id), &["Properties", "Environment", "Variables"]);
        assert_eq!(at(variables, &[ENV_FINDINGS_TABLE, "Ref"]).as_str(), Some("FindingsTable"), "{logical_id}");
        assert_eq!(at(variables, &[ENV_ALERT_ON_RESOLVE, "Ref"]).as_str(), Some("AlertOnResolve"), "{logical_id}");
        assert_eq!(at(variables, &[ENV_REALERT_AFTER_DAYS, "Ref"]).as_str(), Some("RealertAfterDays"), "{logical_id}");

        let policies = at(function(&template, logical_id), &["Properties", "Policies"]).as_sequence().unwrap();
        let statements: Vec<&Value> =
            policies.iter().flat_map(|p| at(p, &["Statement"]).as_sequence().unwrap().iter()).collect();
        let ledger: Vec<&&Value> = statements
            .iter()
            .filter(|s| strings(at(s, &["Action"]), "Action").iter().any(|a| a.starts_with("dynamodb:")))
            .collect();
        assert_eq!(ledger.len(), 1, "{logical_id}: one statement for the ledger");
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
