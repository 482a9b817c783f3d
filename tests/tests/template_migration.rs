//! The encryption migration's permissions (`RDS.3=migrate`, README "Encryption migration") exist
//! only where it can run: under the `MigrationEnabled` condition (MigrationKmsKey set) in
//! template.yaml and templates/member.yaml, KMS limited to the configured alias and to use through
//! RDS; and every function that reads RULE_ACTIONS gets the migration's settings, so a
//! `RDS.3=migrate` without a key fails every function's start with the same message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rdsguard::aws::SdkRds;
use rdsguard::policy::{ENV_MIGRATION_CUTOVER, ENV_MIGRATION_KMS_KEY, ENV_RULE_ACTIONS};
use rdsguard_tests::template::{at, member_template, resource, strings, template};
use serde_yaml::Value;

/// Actions only the migration calls (everything else it calls, rds-guard calls anyway).
fn migration_only() -> Vec<&'static str> {
    let others: Vec<&str> = [
        SdkRds::INVENTORY_IAM_ACTIONS,
        SdkRds::REMEDIATION_IAM_ACTIONS,
        SdkRds::SNAPSHOT_INVENTORY_IAM_ACTIONS,
        SdkRds::SNAPSHOT_SHARING_IAM_ACTIONS,
        SdkRds::PARAMETER_INVENTORY_IAM_ACTIONS,
        SdkRds::PARAMETER_REMEDIATION_IAM_ACTIONS,
    ]
    .concat();
    SdkRds::MIGRATION_IAM_ACTIONS
        .iter()
        .chain(SdkRds::MIGRATION_KMS_IAM_ACTIONS)
        .copied()
        .filter(|a| !others.contains(a))
        .collect()
}

/// Every (statement, under MigrationEnabled?) in a list of statements or policy documents.
fn statements(items: &[Value], conditional: bool, out: &mut Vec<(Value, bool)>) {
    for item in items {
        if let Some(branches) = item.get("Fn::If") {
            let condition = branches.get(0).and_then(Value::as_str);
            let taken = branches.get(1).expect("a true branch").clone();
            statements(&[taken], conditional || condition == Some("MigrationEnabled"), out);
        } else if let Some(inner) = item.get("Statement").and_then(Value::as_sequence) {
            statements(inner, conditional, out);
        } else {
            out.push((item.clone(), conditional));
        }
    }
}

fn check(label: &str, found: &[(Value, bool)]) {
    let only = migration_only();
    assert!(only.contains(&"rds:RestoreDBInstanceFromDBSnapshot") && only.contains(&"kms:CreateGrant"));
    let mut seen = Vec::new();
    for (statement, conditional) in found {
        let actions = strings(at(statement, &["Action"]), label);
        for action in actions.iter().filter(|a| only.contains(&a.as_str())) {
            assert!(conditional, "{label}: {action} is granted outside the MigrationEnabled condition");
            seen.push(action.clone());
        }
        // The migration's KMS actions (not the sweep's ListAliases, which reads alias names only).
        if actions.iter().any(|a| SdkRds::MIGRATION_KMS_IAM_ACTIONS.contains(&a.as_str())) {
            let condition = at(statement, &["Condition"]);
            assert_eq!(
                at(condition, &["ForAnyValue:StringEquals", "kms:ResourceAliases", "Ref"]).as_str(),
                Some("MigrationKmsKey"),
                "{label}: KMS only on the configured key"
            );
            assert_eq!(
                at(condition, &["StringLike", "kms:ViaService"]).as_str(),
                Some("rds.*.amazonaws.com"),
                "{label}: KMS only through RDS"
            );
        }
    }
    for action in &only {
        assert!(seen.iter().any(|s| s == action), "{label}: {action} is not granted under MigrationEnabled");
    }
}

#[test]
fn the_migration_is_granted_only_under_its_condition_and_kms_only_on_its_key() {
    let central = template();
    let member = member_template();
    for function in ["RdsGuard", "SweepWorker"] {
        let logical = format!("{function}Function");
        let policies = at(resource(&central, &logical), &["Properties", "Policies"]).as_sequence().unwrap();
        let mut found = Vec::new();
        statements(policies, false, &mut found);
        check(&logical, &found);

        let policy = format!("{function}MemberPolicy");
        let document =
            at(resource(&member, &policy), &["Properties", "PolicyDocument", "Statement"]).as_sequence().unwrap();
        let mut found = Vec::new();
        statements(document, false, &mut found);
        check(&policy, &found);
    }
}

#[test]
fn every_function_that_reads_rule_actions_gets_the_migration_settings() {
    let central = template();
    let resources = at(&central, &["Resources"]).as_mapping().unwrap();
    let mut functions = 0;
    for (name, body) in resources {
        let Some(variables) =
            body.get("Properties").and_then(|p| p.get("Environment")).and_then(|e| e.get("Variables"))
        else {
            continue;
        };
        if variables.get(ENV_RULE_ACTIONS).is_none() {
            continue;
        }
        functions += 1;
        for (variable, parameter) in
            [(ENV_MIGRATION_KMS_KEY, "MigrationKmsKey"), (ENV_MIGRATION_CUTOVER, "MigrationCutover")]
        {
            assert_eq!(
                variables.get(variable).and_then(|v| v.get("Ref")).and_then(Value::as_str),
                Some(parameter),
                "{name:?}: {variable}"
            );
        }
    }
    assert!(functions >= 6, "{functions}");
}
