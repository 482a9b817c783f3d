//! The demo: a local AWS (moto server), a small estate seeded from the seed notes, the sample
//! events in events/<function> replayed through the real handlers, and a report of findings,
//! actions, the estate afterwards and the alerts a subscriber received.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod network_guard;
mod rds_guard;
mod replay;

use std::path::PathBuf;
use std::process::ExitCode;

use rdsguard_tests::Estate;

const HELP: &str = "\
rdsguard demo: runs rds-guard and network-guard against a local AWS (moto server) and prints what
they did.

USAGE:
    scripts/demo [FUNCTION [EVENTS_DIR]]
    cargo run -p rdsguard-tests --bin demo -- [FUNCTION [EVENTS_DIR]]

FUNCTION is rds-guard or network-guard (default: both, one after the other). EVENTS_DIR replaces
the function's sample events (default: events/<FUNCTION>); every *.json file in it is replayed in
name order.

It starts moto server from .venv (run scripts/setup first) and seeds, for rds-guard:
  cruddur-db-instance   us-east-1  postgres 14.6, db.t3.micro, master user root, publicly
                                   accessible, backup retention 0 (from the seed notes)
  analytics-replica-sp  sa-east-1  mysql, storage NOT encrypted, in a region that is not allowed
replayed with ALLOWED_REGIONS=us-east-1,eu-west-1 RULE_ACTIONS=RDSGUARD.REGION=stop MODE=remediate;
and for network-guard:
  cruddur-db-sg         a security group in front of the postgres instance cruddur-orders-db,
                        admitting 10.0.0.0/16 (the app subnet) and, as the sample events did,
                        0.0.0.0/0 and ::/0 on 5432 and 0.0.0.0/0 on every tcp port
  cruddur-web-sg        a web server's group open to the world on 443 (no database behind it)
replayed with MODE=remediate. The sample events name the groups sg-0a1b2c3d4e5f67890 and
sg-0f1e2d3c4b5a69788; moto issues its own ids, so the demo puts those in the events' place.
Alerts are read back from an SQS queue subscribed to the alert topic.";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let usage = |why: &str| {
        eprintln!("demo: {why}\n\n{HELP}");
        ExitCode::from(2)
    };
    let (functions, dir): (Vec<&str>, Option<PathBuf>) = match args.as_slice() {
        [] => (vec!["rds-guard", "network-guard"], None),
        [function] => (vec![function.as_str()], None),
        [function, dir] => (vec![function.as_str()], Some(PathBuf::from(dir))),
        _ => return usage(&format!("unexpected arguments {args:?}")),
    };
    if let Some(unknown) = functions.iter().find(|f| !matches!(**f, "rds-guard" | "network-guard")) {
        return usage(&format!("unknown function {unknown:?} (expected rds-guard or network-guard)"));
    }

    println!("== Starting the local AWS (moto server) and the alert topic");
    let estate = Estate::start().await;
    println!("   endpoint {}   topic {}", estate.moto.endpoint(), estate.topic_arn);

    for function in functions {
        let dir = dir.clone().unwrap_or_else(|| replay::default_events_dir(function));
        let events = match replay::load_events(&dir) {
            Ok(events) => events,
            Err(e) => {
                eprintln!("demo: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("\n######## {function}: {} event(s) from {}", events.len(), dir.display());
        match function {
            "rds-guard" => rds_guard::run(&estate, &events).await,
            _ => network_guard::run(&estate, &events).await,
        }
        replay::print_alerts(&estate).await;
    }
    ExitCode::SUCCESS
}
