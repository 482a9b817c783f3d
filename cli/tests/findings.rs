//! `rdsguard findings list` as an operator runs it, against a ledger table on moto.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

use rdsguard::aws::DynamoDbFindings;
use rdsguard::ledger::{transition, FindingKey, FindingsStore, Lifecycle, Seen, Violation};
use rdsguard_tests::ledger::create_findings_table;
use rdsguard_tests::MotoServer;
use serde_json::Value;

const TABLE: &str = "findings";

fn key(rule: &str, db: &str) -> FindingKey {
    let resource = format!("arn:aws:rds:us-east-1:123456789012:db:{db}");
    FindingKey {
        finding_id: rdsguard::ledger::finding_id("123456789012", "us-east-1", &resource, rule),
        rule: rule.into(),
        title: "title".into(),
        account: "123456789012".into(),
        region: "us-east-1".into(),
        resource,
        resource_type: "AWS::RDS::DBInstance".into(),
        resource_id: db.into(),
        component: None,
    }
}

fn seen(severity: &str, fixed: bool) -> Seen {
    Seen::Violation(Violation {
        severity: severity.into(),
        evidence: "{}".into(),
        action_kind: if fixed { "make_private" } else { "alert_only" }.into(),
        action_status: if fixed { "succeeded" } else { "not_attempted" }.into(),
        exempt: false,
        fixed,
        event_id: "e-1".into(),
    })
}

async fn seed(moto: &MotoServer) {
    let client = create_findings_table(moto, "us-east-1", TABLE).await;
    let store = DynamoDbFindings::new(client, TABLE);
    for (key, seen) in [(key("RDS.10", "a"), seen("MEDIUM", false)), (key("RDS.2", "b"), seen("CRITICAL", true))] {
        let item = transition(None, &key, &seen, 1_800_000_000, &Lifecycle::default()).next.unwrap();
        store.put_if_version(&item, None).await.unwrap();
    }
}

fn rdsguard(moto: &MotoServer, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_rdsguard"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("FINDINGS_TABLE", TABLE)
        .output()
        .expect("rdsguard runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn findings_list_reads_the_ledger_in_every_format() {
    let moto = MotoServer::start();
    seed(&moto).await;

    let (ok, table, err) = rdsguard(&moto, &["findings", "list"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("STATUS"), "{table}");
    assert!(lines[1].starts_with("open") && lines[1].contains("RDS.10"), "{table}");
    assert!(lines[2].starts_with("resolved") && lines[2].contains("RDS.2"), "{table}");

    let (ok, open, err) = rdsguard(&moto, &["findings", "list", "--status", "open", "--format", "json"]);
    assert!(ok, "{err}");
    let open: Value = serde_json::from_str(&open).unwrap();
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["rule"], "RDS.10");

    let (ok, csv, err) = rdsguard(&moto, &["findings", "list", "--format", "csv"]);
    assert!(ok, "{err}");
    assert_eq!(csv.lines().count(), 3, "{csv}");

    let (ok, asff, err) = rdsguard(&moto, &["findings", "list", "--status", "resolved", "--format", "asff"]);
    assert!(ok, "{err}");
    let asff: Value = serde_json::from_str(&asff).unwrap();
    assert_eq!(asff["Findings"][0]["Compliance"]["Status"], "PASSED");
    assert_eq!(asff["Findings"][0]["RecordState"], "ARCHIVED");

    let (ok, _, err) = rdsguard(&moto, &["findings", "list", "--table", "missing"]);
    assert!(!ok);
    assert!(err.starts_with("rdsguard: "), "{err}");
}
