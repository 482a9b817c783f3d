//! Per-event CPU cost of network-guard, with no I/O.
//!
//! Run: `cargo bench -p network-guard --bench network_guard_event` (or `scripts/bench`).
//!
//! - `triage/*`: `serde_json::from_str` of the raw event text + `target::triage_payload` (envelope,
//!   CloudTrail record, group ids, the requested ingress) on the real AuthorizeSecurityGroupIngress
//!   sample (bare CloudTrail record) and on events/network-guard/01 (EventBridge envelope, IPv4 and
//!   IPv6).
//! - `judge/*`: everything between the Describe calls and the revoke/publish calls for one group:
//!   `evaluate_ingress` on every ingress rule, and for each violation the finding, `policy_gate`,
//!   and the alert (`Alert::new`, `.subject()`, `.attributes()`, `.body()`). Groups of 4 rules (two
//!   of them open to the world) and of 60 rules (EC2's default quota of inbound rules per group;
//!   every tenth open to the world).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use network_guard::target::{triage_payload, Triage};
use rdsguard::alert::Alert;
use rdsguard::finding::{EventContext, Finding};
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::network::{IngressRule, RuleSource, SECURITY_GROUP_TYPE};
use rdsguard::policy::Policy;
use rdsguard::remediate::{policy_gate, ActionKind, ActionOutcome, ActionStatus};
use rdsguard::rules::{evaluate_ingress, DatabasePorts, Verdict};
use serde_json::Value;

const REAL_AUTHORIZE: &str = include_str!(
    "../../../shared/tests/fixtures/real-events/cloudtrail-AuthorizeSecurityGroupIngress-port22-world-go-sdk-panther.json"
);
const SAMPLE_AUTHORIZE: &str = include_str!("../../../events/network-guard/01-authorize-postgres-to-the-world.json");

fn triage(text: &str) -> usize {
    let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    match triage_payload(&value) {
        Ok(Triage::Handle(target)) => target.groups.len() + target.requested.len(),
        _ => 0,
    }
}

fn rule(i: usize, open: bool) -> IngressRule {
    let cidr = match (open, i % 2) {
        (true, 0) => "0.0.0.0/0".to_owned(),
        (true, _) => "::/0".to_owned(),
        (false, _) => format!("10.{}.0.0/16", i % 250),
    };
    IngressRule {
        rule_id: format!("sgr-{i:017x}"),
        group_id: "sg-0a1b2c3d4e5f67890".into(),
        protocol: "tcp".into(),
        from_port: Some(5432),
        to_port: Some(5432),
        source: RuleSource::from_cidr(&cidr),
        description: None,
    }
}

fn judge(rules: &[IngressRule], ports: &DatabasePorts, policy: &Policy, context: &EventContext) -> usize {
    let account = AccountId::parse("123456789012").unwrap_or_else(|e| panic!("{e}"));
    let region = AwsRegion::parse("us-east-1").unwrap_or_else(|e| panic!("{e}"));
    let mut bytes = 0;
    for rule in rules {
        for (rule_id, verdict) in evaluate_ingress(rule, ports, &policy.allowed_cidrs) {
            let Verdict::Violation(observed) = verdict else { continue };
            let finding =
                Finding::for_resource(rule_id, &account, &region, SECURITY_GROUP_TYPE, &rule.group_id, "arn", observed);
            let action = match policy_gate(rule_id, &[], policy) {
                Ok(_) => ActionOutcome::new(ActionKind::RevokeIngress, ActionStatus::Succeeded, "revoked"),
                Err(outcome) => outcome,
            };
            let alert = Alert::new(&finding, context, action, "network-guard");
            bytes += alert.subject().len() + alert.attributes().len() + alert.body().map(|b| b.len()).unwrap_or(0);
        }
    }
    bytes
}

fn benches(c: &mut Criterion) {
    assert!(triage(REAL_AUTHORIZE) == 2, "the real sample is checked: one group, one requested rule");
    assert!(triage(SAMPLE_AUTHORIZE) == 3, "the sample event is checked: one group, two requested rules");
    let mut group = c.benchmark_group("triage");
    group.bench_function("cloudtrail_record_AuthorizeSecurityGroupIngress", |b| {
        b.iter(|| triage(black_box(REAL_AUTHORIZE)))
    });
    group.bench_function("eventbridge_AuthorizeSecurityGroupIngress_v4_v6", |b| {
        b.iter(|| triage(black_box(SAMPLE_AUTHORIZE)))
    });
    group.finish();

    let policy = Policy::from_vars([("ALERT_TOPIC_ARN".to_owned(), "arn:aws:sns:us-east-1:123456789012:t".to_owned())])
        .unwrap_or_else(|e| panic!("{e}"));
    let context = EventContext {
        event_id: "e-1".into(),
        event_name: "AuthorizeSecurityGroupIngress".into(),
        event_time: None,
        actor: "arn:aws:sts::123456789012:assumed-role/DevOps/mallory".into(),
    };
    let ports = DatabasePorts::from_listening([5432]);
    let small: Vec<IngressRule> = (0..4).map(|i| rule(i, i < 2)).collect();
    let quota: Vec<IngressRule> = (0..60).map(|i| rule(i, i % 10 == 0)).collect();
    assert!(judge(&small, &ports, &policy, &context) > 0 && judge(&quota, &ports, &policy, &context) > 0);
    let mut group = c.benchmark_group("judge");
    group.bench_function("group_of_4_rules_2_open", |b| b.iter(|| judge(black_box(&small), &ports, &policy, &context)));
    group
        .bench_function("group_of_60_rules_6_open", |b| b.iter(|| judge(black_box(&quota), &ports, &policy, &context)));
    group.finish();
}

criterion_group!(network_guard, benches);
criterion_main!(network_guard);
