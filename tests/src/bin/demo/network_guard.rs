//! The network-guard scene: a database's security group opened to the internet on 5432 (IPv4 and
//! IPv6) and on every port, next to a web server's group open on 443.

use network_guard::handle_event;
use rdsguard::kernel::InvocationOutcome;
use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::Estate;

use crate::replay;

/// The group ids the sample events in events/network-guard name.
const SAMPLE_DB_GROUP: &str = "sg-0a1b2c3d4e5f67890";
const SAMPLE_WEB_GROUP: &str = "sg-0f1e2d3c4b5a69788";

pub async fn run(estate: &Estate, events: &[(String, String)]) {
    println!("\n== Seeding the estate");
    let ec2 = estate.ec2(HOME_REGION).await;
    let rds = estate.rds(HOME_REGION).await;
    let db_group = estate.create_security_group(&ec2, "cruddur-db-sg", &[]).await;
    let web_group = estate.create_security_group(&ec2, "cruddur-web-sg", &[]).await;
    estate.authorize(&ec2, &db_group, "tcp", (5432, 5432), &["10.0.0.0/16", "0.0.0.0/0", "::/0"]).await;
    estate.authorize(&ec2, &db_group, "tcp", (0, 65535), &["0.0.0.0/0"]).await;
    estate.authorize(&ec2, &web_group, "tcp", (443, 443), &["0.0.0.0/0"]).await;
    estate.create_instance_in_groups(&rds, &NewInstance::postgres("cruddur-orders-db"), None, &[&db_group]).await;
    println!(
        "   postgres cruddur-orders-db behind {db_group} (cruddur-db-sg); {web_group} (cruddur-web-sg) has no database"
    );
    println!("   (the sample events' {SAMPLE_DB_GROUP} is {db_group} here, {SAMPLE_WEB_GROUP} is {web_group})");
    print_groups(estate, &ec2, &[("cruddur-db-sg", &db_group), ("cruddur-web-sg", &web_group)]).await;

    let guard = estate.network_guard(&[]).await;
    println!("\n== network-guard policy: {}", guard.policy.describe());

    println!("\n== Replaying the events");
    for (name, text) in events {
        let text = text.replace(SAMPLE_DB_GROUP, &db_group).replace(SAMPLE_WEB_GROUP, &web_group);
        let Some(payload) = replay::parse(name, &text) else { continue };
        match handle_event(&payload, &guard).await {
            Ok(summary) if summary.outcome == InvocationOutcome::Ignored => {
                println!("-- {name}: ignored: {}", summary.reason.unwrap_or_default())
            }
            Ok(summary) => {
                let event = summary.event_name.clone().unwrap_or_default();
                for group in &summary.detail.groups {
                    let databases: Vec<String> =
                        group.databases.iter().map(|d| format!("{} :{}", d.identifier, d.port.unwrap_or(0))).collect();
                    println!(
                        "-- {name}: {event} on {} ({}): {} ingress rules checked against ports {:?} ({}); databases: {}",
                        group.group,
                        group.status,
                        group.ingress_rules_checked,
                        group.ports_judged,
                        group.ports_basis.unwrap_or("-"),
                        if databases.is_empty() { "none".to_owned() } else { databases.join(", ") }
                    );
                }
                if summary.findings.is_empty() {
                    println!("     compliant, nothing to do");
                }
                for finding in &summary.findings {
                    replay::print_finding(finding);
                }
            }
            Err(e) => println!("-- {name}: invocation failed ({}): {e}", e.kind()),
        }
    }

    println!("\n== The estate afterwards");
    print_groups(estate, &ec2, &[("cruddur-db-sg", &db_group), ("cruddur-web-sg", &web_group)]).await;
}

async fn print_groups(estate: &Estate, ec2: &aws_sdk_ec2::Client, groups: &[(&str, &str)]) {
    for (name, id) in groups {
        let rules = estate.ingress_rules(ec2, id).await;
        let shown: Vec<String> = rules
            .iter()
            .map(|r| match (r.from_port, r.to_port) {
                (Some(from), Some(to)) if from == to => format!("{from} from {}", r.source),
                (Some(from), Some(to)) => format!("{from}-{to} from {}", r.source),
                _ => format!("all from {}", r.source),
            })
            .collect();
        println!(
            "   {name:<15} {id}  ingress: {}",
            if shown.is_empty() { "none".to_owned() } else { shown.join("; ") }
        );
    }
}
