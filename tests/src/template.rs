//! Reading template.yaml in tests: the template is plain YAML (long-form intrinsic functions only),
//! read with serde_yaml, and checked against what the code declares.

use std::collections::BTreeSet;

use serde_yaml::Value;

pub const TEMPLATE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");

pub fn template_text() -> String {
    std::fs::read_to_string(TEMPLATE_PATH).expect("template.yaml is readable at the workspace root")
}

pub fn template() -> Value {
    serde_yaml::from_str(&template_text()).expect("template.yaml is valid YAML (long-form intrinsics only)")
}

/// `value[key1][key2]...`, failing with the path that is missing.
pub fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    let mut current = value;
    for (i, key) in path.iter().enumerate() {
        current = current.get(*key).unwrap_or_else(|| panic!("template.yaml has no {}", path[..=i].join(".")));
    }
    current
}

pub fn resource<'a>(template: &'a Value, name: &str) -> &'a Value {
    at(template, &["Resources", name])
}

/// A function resource (checked to be an `AWS::Serverless::Function`).
pub fn function<'a>(template: &'a Value, logical_id: &str) -> &'a Value {
    let function = resource(template, logical_id);
    assert_eq!(at(function, &["Type"]).as_str(), Some("AWS::Serverless::Function"), "{logical_id}");
    function
}

/// A scalar string, or a list of them, as a set (IAM `Action`, event pattern values).
pub fn strings(value: &Value, what: &str) -> BTreeSet<String> {
    match value {
        Value::String(s) => BTreeSet::from([s.clone()]),
        Value::Sequence(items) => items
            .iter()
            .map(|item| item.as_str().unwrap_or_else(|| panic!("{what}: {item:?} is not a string")).to_owned())
            .collect(),
        other => panic!("{what}: expected a string or a list of strings, found {other:?}"),
    }
}

pub fn set_of<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

/// Fails with what is extra and what is missing, not just "not equal".
pub fn assert_same_set(found: &BTreeSet<String>, expected: &BTreeSet<String>, what: &str) {
    let extra: Vec<&String> = found.difference(expected).collect();
    let missing: Vec<&String> = expected.difference(found).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "{what} in template.yaml differ from the code:\n  in the template but not the code (extra): {extra:?}\n  \
         in the code but not the template (missing): {missing:?}"
    );
}

/// The pattern of one of a function's EventBridge rules.
pub fn event_pattern<'a>(template: &'a Value, logical_id: &str, event: &str) -> &'a Value {
    let event = at(function(template, logical_id), &["Properties", "Events", event]);
    assert_eq!(at(event, &["Type"]).as_str(), Some("EventBridgeRule"));
    at(event, &["Properties", "Pattern"])
}

/// Every statement of a function's inline policies, in order. A conditional document (`Fn::If:
/// [Condition, document, Ref: AWS::NoValue]`) counts with what it grants when its condition holds.
pub fn function_statements(template: &Value, logical_id: &str) -> Vec<Value> {
    at(function(template, logical_id), &["Properties", "Policies"])
        .as_sequence()
        .expect("Policies is a list")
        .iter()
        .map(unconditional)
        .flat_map(|policy| at(policy, &["Statement"]).as_sequence().cloned().unwrap_or_default())
        .collect()
}

/// The branch of an `Fn::If` taken when its condition holds; anything else as it is.
pub fn unconditional(value: &Value) -> &Value {
    value.get("Fn::If").and_then(|branches| branches.get(1)).unwrap_or(value)
}

/// Every action the function's inline policies grant, checking that each statement is an Allow
/// without NotAction or wildcard actions, and that `Resource: "*"` appears only for actions in
/// `unscoped` (those AWS authorises only on "*", as the code declares).
pub fn granted_actions(template: &Value, logical_id: &str, unscoped: &[&str]) -> BTreeSet<String> {
    let policies = at(function(template, logical_id), &["Properties", "Policies"])
        .as_sequence()
        .expect("Policies is a list of inline policy documents");
    assert!(!policies.is_empty(), "{logical_id} has no inline policies");
    let mut granted = BTreeSet::new();
    for (p, policy) in policies.iter().enumerate() {
        let policy = unconditional(policy);
        let statements = at(policy, &["Statement"]).as_sequence().unwrap_or_else(|| {
            panic!("{logical_id} Policies[{p}] must be an inline document with a Statement list, not a SAM policy template")
        });
        for (s, statement) in statements.iter().enumerate() {
            let label = format!("{logical_id}.Policies[{p}].Statement[{s}]");
            assert_eq!(at(statement, &["Effect"]).as_str(), Some("Allow"), "{label}: only Allow statements");
            assert!(statement.get("NotAction").is_none(), "{label}: NotAction grants far too much");
            let resource = statement.get("Resource").unwrap_or_else(|| panic!("{label} has no Resource"));
            let wildcard = |v: &Value| v.as_str() == Some("*");
            let all_resources =
                wildcard(resource) || resource.as_sequence().is_some_and(|items| items.iter().any(wildcard));
            let actions = strings(at(statement, &["Action"]), &format!("{label}.Action"));
            for action in &actions {
                assert!(!action.contains('*'), "{label}: wildcard action {action:?}");
                assert!(
                    !all_resources || unscoped.contains(&action.as_str()),
                    "{label}: Resource \"*\" for {action}, which supports resource-level permissions; scope it"
                );
            }
            granted.extend(actions);
        }
    }
    granted
}

/// templates/member.yaml, the member-account stack (issue 7).
pub const MEMBER_TEMPLATE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../templates/member.yaml");

pub fn member_template() -> Value {
    let text = std::fs::read_to_string(MEMBER_TEMPLATE_PATH).expect("templates/member.yaml is readable");
    serde_yaml::from_str(&text).expect("templates/member.yaml is valid YAML (long-form intrinsics only)")
}

/// Every action a member role of templates/member.yaml (by logical id) allows.
pub fn member_role_actions(role: &str) -> BTreeSet<String> {
    let member = member_template();
    let mut actions = BTreeSet::new();
    for statement in member_role_statements(&member, role) {
        actions.extend(strings(at(&statement, &["Action"]), "member role Action"));
    }
    actions
}

/// The statements of every managed policy a member role of templates/member.yaml carries (by
/// logical id, e.g. `NetworkGuardMemberRole`).
pub fn member_role_statements(member: &Value, role: &str) -> Vec<Value> {
    let arns =
        at(resource(member, role), &["Properties", "ManagedPolicyArns"]).as_sequence().expect("ManagedPolicyArns");
    let mut statements = Vec::new();
    for arn in arns {
        let policy = at(arn, &["Ref"]).as_str().expect("ManagedPolicyArns are Refs to the stack's policies");
        let document = at(resource(member, policy), &["Properties", "PolicyDocument", "Statement"]);
        statements.extend(document.as_sequence().expect("Statement list").iter().map(|s| unconditional(s).clone()));
    }
    statements
}
