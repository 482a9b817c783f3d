//! The rds-guard demo: a local AWS (moto server), a small estate seeded from the seed notes, the
//! sample events in events/rds-guard replayed through the real handler, and a report of findings,
//! actions and the alerts a subscriber received.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::ExitCode;

use aws_sdk_rds::types::DbInstance;
use rds_guard::handle_event;
use rdsguard_tests::estate::HOME_REGION;
use rdsguard_tests::Estate;

const HELP: &str = "\
rds-guard demo: runs rds-guard against a local AWS (moto server) and prints what it did.

USAGE:
    scripts/demo [EVENTS_DIR]
    cargo run -p rdsguard-tests --bin demo -- [EVENTS_DIR]

It starts moto server from .venv (run scripts/setup first), seeds two databases:
  cruddur-db-instance   us-east-1  postgres 14.6, db.t3.micro, master user root, publicly
                                   accessible, backup retention 0 (from the seed notes)
  analytics-replica-sp  sa-east-1  mysql, storage NOT encrypted, in a region that is not allowed
then replays every *.json event in EVENTS_DIR (default: events/rds-guard) through rds-guard with
    ALLOWED_REGIONS=us-east-1,eu-west-1   RULE_ACTIONS=RDSGUARD.REGION=stop   MODE=remediate
and prints the findings, the actions taken, the databases afterwards, and the alerts read back
from an SQS queue subscribed to the alert topic.";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{HELP}");
        return ExitCode::SUCCESS;
    }
    if args.len() > 1 || args.first().is_some_and(|a| a.starts_with('-')) {
        eprintln!("demo: unexpected arguments {args:?}\n\n{HELP}");
        return ExitCode::from(2);
    }
    let dir = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/rds-guard")));
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) => {
            eprintln!("demo: cannot read {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    files.sort();

    println!("== Starting the local AWS (moto server) and the alert topic");
    let estate = Estate::start().await;
    println!("   endpoint {}   topic {}", estate.moto.endpoint(), estate.topic_arn);

    println!("\n== Seeding the estate");
    let us = estate.rds(HOME_REGION).await;
    let sa = estate.rds("sa-east-1").await;
    us.create_db_instance()
        .db_instance_identifier("cruddur-db-instance")
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .engine_version("14.6")
        .master_username("root")
        .master_user_password("huEE33z2Qvl3834")
        .allocated_storage(20)
        .availability_zone("us-east-1a")
        .backup_retention_period(0)
        .port(5432)
        .multi_az(false)
        .db_name("cruddur")
        .storage_type("gp2")
        .publicly_accessible(true)
        .storage_encrypted(true)
        .deletion_protection(false)
        .send()
        .await
        .expect("seed cruddur-db-instance");
    sa.create_db_instance()
        .db_instance_identifier("analytics-replica-sp")
        .db_instance_class("db.t3.micro")
        .engine("mysql")
        .master_username("admin")
        .master_user_password("not-a-real-secret-1")
        .allocated_storage(20)
        .publicly_accessible(false)
        .storage_encrypted(false)
        .send()
        .await
        .expect("seed analytics-replica-sp");
    print_databases(&[("us-east-1", &us, "cruddur-db-instance"), ("sa-east-1", &sa, "analytics-replica-sp")], &estate)
        .await;

    let settings = [("ALLOWED_REGIONS", "us-east-1,eu-west-1"), ("RULE_ACTIONS", "RDSGUARD.REGION=stop")];
    let guard = estate.rds_guard(&settings).await;
    println!("\n== rds-guard policy: {}", guard.policy.describe());

    println!("\n== Replaying {} event(s) from {}", files.len(), dir.display());
    for file in &files {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let payload = match std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|e| format!("not JSON: {e}")))
        {
            Ok(payload) => payload,
            Err(e) => {
                println!("-- {name}: skipped ({e})");
                continue;
            }
        };
        match handle_event(&payload, &guard).await {
            Ok(summary) if summary.outcome == "ignored" => {
                println!("-- {name}: ignored: {}", summary.reason.unwrap_or_default())
            }
            Ok(summary) => {
                let event = summary.event_name.unwrap_or_default();
                let resource = summary.resource.unwrap_or_default();
                if summary.findings.is_empty() {
                    println!("-- {name}: {event} on {resource}: compliant, nothing to do");
                }
                for finding in summary.findings {
                    println!("-- {name}: {event} on {resource}");
                    println!(
                        "     {} {:<15} action {:?} -> {}: {}",
                        finding.severity,
                        finding.rule,
                        finding.action.kind,
                        finding.action.status.as_str(),
                        finding.action.detail
                    );
                }
            }
            Err(e) => println!("-- {name}: invocation failed ({}): {e}", e.kind()),
        }
    }

    println!("\n== The estate afterwards");
    print_databases(&[("us-east-1", &us, "cruddur-db-instance"), ("sa-east-1", &sa, "analytics-replica-sp")], &estate)
        .await;

    let alerts = estate.alerts().await;
    println!("\n== {} alert(s) received by the security team's queue", alerts.len());
    for alert in &alerts {
        println!("   {}", alert.subject);
        println!(
            "      actor {}  event {} ({})  attributes {:?}",
            alert.body["actor"].as_str().unwrap_or("-"),
            alert.body["event_name"].as_str().unwrap_or("-"),
            alert.body["event_id"].as_str().unwrap_or("-"),
            alert.attributes
        );
    }
    if let Some(first) = alerts.first() {
        println!(
            "\n== The first alert's message body\n{}",
            serde_json::to_string_pretty(&first.body).unwrap_or_default()
        );
    }
    ExitCode::SUCCESS
}

async fn print_databases(list: &[(&str, &aws_sdk_rds::Client, &str)], estate: &Estate) {
    for (region, client, id) in list {
        let db: Option<DbInstance> = estate.instance(client, id).await;
        match db {
            Some(db) => println!(
                "   {id:<22} {region:<10} status={:<9} PubliclyAccessible={:<5} StorageEncrypted={}",
                db.db_instance_status.unwrap_or_default(),
                db.publicly_accessible.unwrap_or_default(),
                db.storage_encrypted.unwrap_or_default()
            ),
            None => println!("   {id:<22} {region:<10} (gone)"),
        }
    }
}
