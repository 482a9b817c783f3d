//! Per-event CPU cost of rds-guard, with no I/O: reading the event, then judging a database and
//! writing the alerts.
//!
//! Run: `cargo bench -p rdsguard --bench rds_guard_event` (or `scripts/bench`).
//!
//! - `parse_event/*`: `serde_json::from_str` of the raw event text (the Lambda runtime deserialises
//!   the payload too) + `rdsguard::event::parse_event`, on three real samples from
//!   `tests/fixtures/real-events`: a bare CloudTrail `CreateDBInstance` record, the same call in an
//!   EventBridge envelope, and an RDS native "DB instance created" event.
//! - `parse_event_only/*`: `parse_event` on an already deserialised `Value`.
//! - `evaluate/*`: `evaluate_database` + `remediate::plan` for each violation + `Alert::new`,
//!   `.subject()`, `.attributes()` and `.body()` (the alert JSON), i.e. everything rds-guard does
//!   between the Describe call and the SNS Publish call.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rdsguard::alert::Alert;
use rdsguard::database::{Database, DatabaseState};
use rdsguard::event::{parse_event, IncomingEvent};
use rdsguard::finding::{EventContext, Finding};
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::policy::{Policy, RuleAction};
use rdsguard::remediate::{plan, ActionKind, ActionOutcome, ActionStatus, Plan};
use rdsguard::rules::{evaluate_database, Verdict};
use serde_json::Value;

const CLOUDTRAIL_RECORD: &str =
    include_str!("../tests/fixtures/real-events/cloudtrail-CreateDBInstance-awsdocs-rds-user-guide.json");
const EVENTBRIDGE_CLOUDTRAIL: &str =
    include_str!("../tests/fixtures/real-events/eventbridge-cloudtrail-CreateDBInstance-flatironhealth.json");
const RDS_NATIVE: &str =
    include_str!("../tests/fixtures/real-events/rds-event-DBInstance-created-RDS-EVENT-0005-real-2021.json");

/// (bench name, raw JSON text, the event kind the sample must parse to).
const SAMPLES: [(&str, &str, &str); 3] = [
    ("cloudtrail_record_CreateDBInstance", CLOUDTRAIL_RECORD, "api_call"),
    ("eventbridge_cloudtrail_CreateDBInstance", EVENTBRIDGE_CLOUDTRAIL, "api_call"),
    ("rds_native_RDS-EVENT-0005", RDS_NATIVE, "rds_native"),
];

fn kind_of(event: &IncomingEvent) -> &'static str {
    match event {
        IncomingEvent::ApiCall(_) => "api_call",
        IncomingEvent::RdsNative(_) => "rds_native",
        IncomingEvent::Unsupported { .. } => "unsupported",
    }
}

/// Checks, outside the measurement, that a sample is read the way the bench claims: a bench of a
/// parse that fails early would measure nothing useful.
fn checked_value(name: &str, text: &str, want: &str) -> Value {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => panic!("{name}: sample is not JSON: {e}"),
    };
    match parse_event(&value) {
        Ok(event) if kind_of(&event) == want => value,
        Ok(event) => panic!("{name}: parsed as {}, expected {want}", kind_of(&event)),
        Err(e) => panic!("{name}: parse_event failed: {e}"),
    }
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_event");
    for (name, text, want) in SAMPLES {
        checked_value(name, text, want);
        group.bench_function(format!("{name}/{}B", text.len()), |b| {
            b.iter(|| {
                let value: Result<Value, _> = serde_json::from_str(black_box(text));
                value.map(|value| parse_event(&value).is_ok())
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("parse_event_only");
    for (name, text, want) in SAMPLES {
        let value = checked_value(name, text, want);
        group.bench_function(name, |b| b.iter(|| parse_event(black_box(&value))));
    }
    group.finish();
}

struct Scenario {
    name: &'static str,
    db: Database,
    region: AwsRegion,
    /// Violations the scenario must produce (checked before measuring).
    violations: usize,
}

/// Everything between Describe and Publish for one database: rules, plans, alerts (with their JSON
/// body). Returns the alert bodies' total length so nothing is optimised away.
fn judge(db: &Database, region: &AwsRegion, account: &AccountId, policy: &Policy, context: &EventContext) -> usize {
    let mut bytes = 0;
    for (rule, verdict) in evaluate_database(db, region, policy) {
        if policy.effective_action(rule) == RuleAction::Off {
            continue;
        }
        let Verdict::Violation(observed) = verdict else { continue };
        let finding = Finding::new(rule, db, account, region, observed);
        let outcome = match plan(rule, db, policy) {
            // Execution is I/O (ModifyDBInstance + Describe); stand in its successful result.
            Plan::Act(kind) => ActionOutcome {
                kind,
                status: ActionStatus::Succeeded,
                detail: "ModifyDBInstance applied; PubliclyAccessible is now false (confirmed by describe)".into(),
            },
            Plan::Report(outcome) => outcome,
        };
        let alert = Alert::new(&finding, context, outcome, "rds-guard");
        bytes += alert.subject().len();
        bytes += alert.attributes().iter().map(|(_, v)| v.len()).sum::<usize>();
        bytes += alert.body().map_or(0, |body| body.len());
    }
    bytes
}

fn count_violations(db: &Database, region: &AwsRegion, policy: &Policy) -> usize {
    evaluate_database(db, region, policy)
        .into_iter()
        .filter(|(rule, verdict)| {
            policy.effective_action(*rule) != RuleAction::Off && matches!(verdict, Verdict::Violation(_))
        })
        .count()
}

fn bench_evaluate(c: &mut Criterion) {
    let policy = match Policy::from_vars(vec![
        ("ALERT_TOPIC_ARN".into(), "arn:aws:sns:us-east-1:123456789012:rdsguard-alerts".into()),
        ("ALLOWED_REGIONS".into(), "us-east-1,eu-west-1".into()),
    ]) {
        Ok(policy) => policy,
        Err(e) => panic!("bench policy is invalid: {e}"),
    };
    let (Ok(account), Ok(us_east_1), Ok(sa_east_1)) =
        (AccountId::parse("123456789012"), AwsRegion::parse("us-east-1"), AwsRegion::parse("sa-east-1"))
    else {
        panic!("bench account/regions are invalid")
    };
    // The context the handler takes from the real CloudTrail sample.
    let context = match serde_json::from_str::<Value>(CLOUDTRAIL_RECORD).map(|v| parse_event(&v)) {
        Ok(Ok(IncomingEvent::ApiCall(call))) => EventContext {
            event_id: call.event_id,
            event_name: call.event_name,
            event_time: call.event_time,
            actor: call.actor,
        },
        other => panic!("CloudTrail sample did not parse to an API call: {other:?}"),
    };
    let state = |public: bool, encrypted: bool, status: &str| DatabaseState {
        identifier: "mydbinstance".into(),
        engine: Some("mysql".into()),
        status: Some(status.into()),
        publicly_accessible: Some(public),
        storage_encrypted: Some(encrypted),
        tags: vec![("team".into(), "data".into())],
        ..DatabaseState::default()
    };
    let scenarios = [
        Scenario {
            name: "compliant_instance",
            db: Database::instance(state(false, true, "available")),
            region: us_east_1.clone(),
            violations: 0,
        },
        Scenario {
            name: "public_instance_available",
            db: Database::instance(state(true, true, "available")),
            region: us_east_1,
            violations: 1,
        },
        Scenario {
            name: "public_unencrypted_wrong_region_creating",
            db: Database::instance(state(true, false, "creating")),
            region: sa_east_1,
            violations: 3,
        },
    ];

    let mut group = c.benchmark_group("evaluate");
    for scenario in &scenarios {
        let got = count_violations(&scenario.db, &scenario.region, &policy);
        assert_eq!(got, scenario.violations, "{}: violations", scenario.name);
        group.bench_function(format!("{}/{}_alerts", scenario.name, scenario.violations), |b| {
            b.iter(|| {
                judge(black_box(&scenario.db), black_box(&scenario.region), &account, black_box(&policy), &context)
            })
        });
    }
    group.finish();

    // One alert alone, to split rules+plan from writing the alert JSON.
    let db = Database::instance(state(true, true, "available"));
    let Some((rule, Verdict::Violation(observed))) =
        evaluate_database(&db, &scenarios[1].region, &policy).into_iter().next()
    else {
        panic!("expected an RDS.2 violation first")
    };
    let finding = Finding::new(rule, &db, &account, &scenarios[1].region, observed);
    let outcome = ActionOutcome { kind: ActionKind::MakePrivate, status: ActionStatus::Succeeded, detail: "ok".into() };
    c.bench_function("alert/new+body", |b| {
        b.iter(|| {
            let alert = Alert::new(black_box(&finding), black_box(&context), outcome.clone(), "rds-guard");
            alert.body().map(|body| body.len())
        })
    });
}

criterion_group!(benches, bench_parse, bench_evaluate);
criterion_main!(benches);
