//! The rds-guard scene: the seed notes' public instance (no deletion protection, backups off,
//! master user root, a parameter group that does not force TLS), a snapshot of it that is then
//! shared with everyone, an unencrypted database in a region that is not allowed and a snapshot of
//! it, a parameter change that turns TLS off, and a deletion without a final snapshot.

use aws_sdk_rds::types::DbInstance;
use rds_guard::handle_event;
use rdsguard::kernel::InvocationOutcome;
use rdsguard_tests::estate::HOME_REGION;
use rdsguard_tests::Estate;

use crate::replay;

pub async fn run(estate: &Estate, events: &[(String, String)]) {
    println!("\n== Seeding the estate");
    let us = estate.rds(HOME_REGION).await;
    let sa = estate.rds("sa-east-1").await;
    us.create_db_parameter_group()
        .db_parameter_group_name(TLS_GROUP)
        .db_parameter_group_family("postgres14")
        .description("cruddur's parameters")
        .send()
        .await
        .expect("seed parameter group");
    set_force_ssl(&us, "0").await;
    us.create_db_instance()
        .db_instance_identifier("cruddur-db-instance")
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .engine_version("14.6")
        .db_parameter_group_name(TLS_GROUP)
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
    us.create_db_snapshot()
        .db_instance_identifier("cruddur-db-instance")
        .db_snapshot_identifier("cruddur-before-migration")
        .send()
        .await
        .expect("seed snapshot");
    us.modify_db_snapshot_attribute()
        .db_snapshot_identifier("cruddur-before-migration")
        .attribute_name("restore")
        .values_to_add("all")
        .send()
        .await
        .expect("share snapshot publicly");
    sa.create_db_snapshot()
        .db_instance_identifier("analytics-replica-sp")
        .db_snapshot_identifier("analytics-before-upgrade")
        .send()
        .await
        .expect("seed unencrypted snapshot");
    print_databases(&[("us-east-1", &us, "cruddur-db-instance"), ("sa-east-1", &sa, "analytics-replica-sp")], estate)
        .await;
    print_snapshot(&us, "cruddur-before-migration").await;
    print_force_ssl(&us).await;

    let settings = [("ALLOWED_REGIONS", "us-east-1,eu-west-1"), ("RULE_ACTIONS", "RDSGUARD.REGION=stop")];
    let guard = estate.rds_guard(&settings).await;
    println!("\n== rds-guard policy: {}", guard.policy.describe());

    println!("\n== Replaying the events");
    for (name, text) in events {
        let Some(payload) = replay::parse(name, text) else { continue };
        match handle_event(&payload, &guard).await {
            Ok(summary) if summary.outcome == InvocationOutcome::Ignored => {
                println!("-- {name}: ignored: {}", summary.reason.unwrap_or_default())
            }
            Ok(summary) => {
                let event = summary.event_name.unwrap_or_default();
                let resource = summary.detail.resource.unwrap_or_default();
                if summary.findings.is_empty() {
                    println!("-- {name}: {event} on {resource}: compliant, nothing to do");
                } else {
                    println!("-- {name}: {event} on {resource}");
                }
                for finding in &summary.findings {
                    replay::print_finding(finding);
                }
            }
            Err(e) => println!("-- {name}: invocation failed ({}): {e}", e.kind()),
        }
    }

    println!("\n== The estate afterwards");
    print_databases(&[("us-east-1", &us, "cruddur-db-instance"), ("sa-east-1", &sa, "analytics-replica-sp")], estate)
        .await;
    print_snapshot(&us, "cruddur-before-migration").await;
    print_force_ssl(&us).await;
}

/// The parameter group the seed instance uses (`events/rds-guard/07` names it).
const TLS_GROUP: &str = "cruddur-postgres14";

async fn set_force_ssl(client: &aws_sdk_rds::Client, value: &str) {
    let parameter = aws_sdk_rds::types::Parameter::builder()
        .parameter_name("rds.force_ssl")
        .parameter_value(value)
        .apply_method(aws_sdk_rds::types::ApplyMethod::Immediate)
        .build();
    client
        .modify_db_parameter_group()
        .db_parameter_group_name(TLS_GROUP)
        .parameters(parameter)
        .send()
        .await
        .expect("set rds.force_ssl");
}

async fn print_force_ssl(client: &aws_sdk_rds::Client) {
    let value = match client.describe_db_parameters().db_parameter_group_name(TLS_GROUP).send().await {
        Ok(out) => out
            .parameters()
            .iter()
            .find(|p| p.parameter_name() == Some("rds.force_ssl"))
            .and_then(|p| p.parameter_value())
            .unwrap_or("(engine default)")
            .to_owned(),
        Err(e) => format!("cannot read ({e})"),
    };
    println!("   parameter group {TLS_GROUP:<17} rds.force_ssl = {value}");
}

async fn print_snapshot(client: &aws_sdk_rds::Client, id: &str) {
    let restore = match client.describe_db_snapshot_attributes().db_snapshot_identifier(id).send().await {
        Ok(out) => out
            .db_snapshot_attributes_result()
            .map(|r| r.db_snapshot_attributes().iter().flat_map(|a| a.attribute_values().to_vec()).collect::<Vec<_>>())
            .unwrap_or_default(),
        Err(e) => {
            println!("   snapshot {id}: cannot read ({e})");
            return;
        }
    };
    println!("   snapshot {id:<24} restorable by [{}]", restore.join(", "));
}

async fn print_databases(list: &[(&str, &aws_sdk_rds::Client, &str)], estate: &Estate) {
    for (region, client, id) in list {
        let db: Option<DbInstance> = estate.instance(client, id).await;
        match db {
            Some(db) => println!(
                "   {id:<22} {region:<10} status={:<9} PubliclyAccessible={:<5} StorageEncrypted={:<5} \
                 DeletionProtection={:<5} BackupRetentionPeriod={}",
                db.db_instance_status.unwrap_or_default(),
                db.publicly_accessible.unwrap_or_default(),
                db.storage_encrypted.unwrap_or_default(),
                db.deletion_protection.unwrap_or_default(),
                db.backup_retention_period.unwrap_or_default()
            ),
            None => println!("   {id:<22} {region:<10} (gone)"),
        }
    }
}
