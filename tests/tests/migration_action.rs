//! The deployed suite's `migrate` action (RULE_ACTIONS=RDS.3=migrate, MIGRATION_KMS_KEY): rds-guard,
//! the real handler and SDK against moto, starts the same migration as `rdsguard encrypt start`,
//! stops at "ready for cutover" until approved (the tag rdsguard:cutover=approved, or
//! MIGRATION_CUTOVER=auto), and an alert at each step says where it stands.
//!
//! Where moto differs from AWS: snapshots, copies and restores are `available` at once, so one
//! invocation reaches "ready" (on AWS each check goes as far as RDS allows and reports `deferred`
//! while a snapshot or restore is under way; the next check — a re-check message, the sweep or any
//! event — goes on from what AWS shows).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use aws_sdk_rds::types::Tag;
use rds_guard::handle_event;
use rdsguard_tests::estate::{ReceivedAlert, HOME_REGION};
use rdsguard_tests::events::create_db_instance;
use rdsguard_tests::migration::{create_app_network, create_kms_key, create_unencrypted_postgres};
use rdsguard_tests::{Estate, FaultProxy, MOTO_ACCOUNT};

fn rds3(alerts: &[ReceivedAlert]) -> Vec<&ReceivedAlert> {
    alerts.iter().filter(|a| a.rule() == "RDS.3").collect()
}

fn detail(alert: &ReceivedAlert) -> &str {
    alert.body["action"]["detail"].as_str().unwrap_or_default()
}

async fn names(rds: &aws_sdk_rds::Client) -> Vec<String> {
    let all = rds.describe_db_instances().send().await.unwrap().db_instances.unwrap_or_default();
    let mut names: Vec<String> = all.iter().filter_map(|d| d.db_instance_identifier()).map(str::to_owned).collect();
    names.sort();
    names
}

/// Default MIGRATION_CUTOVER=approval: the first check migrates to "ready for cutover" and alerts
/// so, renaming nothing; after the owner tags the database rdsguard:cutover=approved, the next
/// check cuts over: `orders` is encrypted with the key, the original kept renamed and stopped.
#[tokio::test]
async fn migrate_runs_to_ready_then_cuts_over_once_approved() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    let network = create_app_network(&estate.moto, &rds).await;
    let (key_arn, alias) = create_kms_key(&estate.moto, "rds-data").await;
    create_unencrypted_postgres(&rds, "orders", &network).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let guard =
        estate.rds_guard_through(&proxy, &[("RULE_ACTIONS", "RDS.3=migrate"), ("MIGRATION_KMS_KEY", &alias)]).await;
    let event = create_db_instance(MOTO_ACCOUNT, HOME_REGION, "orders", false, false);

    handle_event(&event, &guard).await.expect("handled");
    let alerts = estate.alerts().await;
    let first = rds3(&alerts);
    assert_eq!(first.len(), 1, "{alerts:#?}");
    assert_eq!(first[0].body["action"]["kind"], "encryption_migration");
    assert_eq!(first[0].action_status(), "not_attempted", "{}", detail(first[0]));
    for needle in ["ready for cutover", "rdsguard:cutover=approved", "settings diff: none"] {
        assert!(detail(first[0]).contains(needle), "{needle}: {}", detail(first[0]));
    }
    assert_eq!(proxy.count("RestoreDBInstanceFromDBSnapshot"), 1);
    let before = names(&rds).await;
    assert!(before.contains(&"orders".to_owned()));
    let original = rds.describe_db_instances().db_instance_identifier("orders").send().await.unwrap();
    assert_eq!(original.db_instances()[0].storage_encrypted(), Some(false), "not cut over without approval");

    // The same event again (a duplicate delivery): nothing is repeated, nothing renamed.
    handle_event(&event, &guard).await.expect("handled");
    assert_eq!(proxy.count("CreateDBSnapshot"), 1);
    assert_eq!(proxy.count("RestoreDBInstanceFromDBSnapshot"), 1);
    assert_eq!(names(&rds).await, before);

    let arn = original.db_instances()[0].db_instance_arn().unwrap().to_owned();
    rds.add_tags_to_resource()
        .resource_name(&arn)
        .tags(Tag::builder().key("rdsguard:cutover").value("approved").build())
        .send()
        .await
        .unwrap();
    handle_event(&event, &guard).await.expect("handled");
    let alerts = estate.alerts().await;
    let cut = rds3(&alerts);
    let last = cut.last().expect("an alert for the cutover");
    assert_eq!(last.action_status(), "succeeded", "{}", detail(last));
    assert!(detail(last).contains("cut over"), "{}", detail(last));
    let now = rds.describe_db_instances().db_instance_identifier("orders").send().await.unwrap();
    let orders = &now.db_instances()[0];
    assert_eq!(orders.storage_encrypted(), Some(true));
    assert_eq!(orders.kms_key_id(), Some(key_arn.as_str()));
    let parked = names(&rds).await.into_iter().find(|n| n.starts_with("orders-unencrypted-")).expect("kept");
    let old = rds.describe_db_instances().db_instance_identifier(&parked).send().await.unwrap();
    assert_eq!(old.db_instances()[0].db_instance_status(), Some("stopped"));
    assert!(proxy.requests().iter().all(|r| !r.action.starts_with("Delete")), "nothing is deleted");
    assert!(
        proxy.calls_of("ModifyDBInstance").iter().all(|m| m.param("NewDBInstanceIdentifier").is_some()),
        "the only modifications are the cutover's renames"
    );

    // The kept original is not migrated again: it is reported, never touched.
    let writes_before = proxy.requests().len();
    handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, &parked, false, false), &guard).await.expect("handled");
    let alerts = estate.alerts().await;
    let kept = rds3(&alerts).into_iter().last().expect("an alert for the kept original");
    assert_eq!(kept.action_status(), "skipped", "{}", detail(kept));
    assert!(detail(kept).contains("unencrypted original of orders"), "{}", detail(kept));
    assert!(
        proxy.requests()[writes_before..].iter().all(|r| r.action.starts_with("Describe") || r.service != "rds"),
        "only reads for the kept original"
    );
}

/// MIGRATION_CUTOVER=auto: one check goes from the unencrypted database to the encrypted one under
/// the same name.
#[tokio::test]
async fn migrate_with_automatic_cutover_finishes_in_one_check() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    let network = create_app_network(&estate.moto, &rds).await;
    let (key_arn, _) = create_kms_key(&estate.moto, "rds-data").await;
    create_unencrypted_postgres(&rds, "orders", &network).await;
    let guard = estate
        .rds_guard(&[("RULE_ACTIONS", "RDS.3=migrate"), ("MIGRATION_KMS_KEY", &key_arn), ("MIGRATION_CUTOVER", "auto")])
        .await;

    handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "orders", false, false), &guard)
        .await
        .expect("handled");
    let alerts = estate.alerts().await;
    let alert = rds3(&alerts).into_iter().next().expect("RDS.3 alert");
    assert_eq!(alert.action_status(), "succeeded", "{}", detail(alert));
    let now = rds.describe_db_instances().db_instance_identifier("orders").send().await.unwrap();
    assert_eq!(now.db_instances()[0].storage_encrypted(), Some(true));
    assert_eq!(now.db_instances()[0].kms_key_id(), Some(key_arn.as_str()));
}

/// `migrate` is never a default, and without a key the configuration is refused at start.
#[tokio::test]
async fn migrate_is_opt_in_and_needs_a_key() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    let network = create_app_network(&estate.moto, &rds).await;
    create_unencrypted_postgres(&rds, "orders", &network).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    for profile in ["safe", "strict"] {
        let guard = estate.rds_guard_through(&proxy, &[("REMEDIATION_PROFILE", profile)]).await;
        handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "orders", false, false), &guard)
            .await
            .expect("handled");
    }
    assert_eq!(proxy.count("CreateDBSnapshot"), 0, "no migration unless RULE_ACTIONS says migrate");
    let err = rdsguard::policy::Policy::from_vars(estate.variables(&[("RULE_ACTIONS", "RDS.3=migrate")])).unwrap_err();
    assert!(err.to_string().contains("MIGRATION_KMS_KEY"), "{err}");
}

/// On AWS a snapshot takes minutes: the check that started the migration reports `deferred` and
/// queues a re-check (RECHECK_QUEUE_URL); sweep-worker, handed that message, goes on from what AWS
/// shows — the snapshot is not taken again — to "ready for cutover". moto's snapshots are
/// `available` at once, so the proxy makes the first check see the snapshot still `creating`.
#[tokio::test]
async fn a_migration_waiting_on_rds_is_continued_by_the_recheck_message() {
    use crate::recheck::{recheck_queue, sent, sqs_event, with_rechecks, worker};
    use rdsguard::kernel::Deadline;
    use rdsguard_tests::On;

    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    let network = create_app_network(&estate.moto, &rds).await;
    let (_, alias) = create_kms_key(&estate.moto, "rds-data").await;
    create_unencrypted_postgres(&rds, "orders", &network).await;
    let queue_url = recheck_queue(&estate).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    proxy.rewrite(On::action("DescribeDBSnapshots"), |_, body| {
        body.replace("<Status>available</Status>", "<Status>creating</Status>")
    });
    let settings = [("RULE_ACTIONS", "RDS.3=migrate"), ("MIGRATION_KMS_KEY", alias.as_str())];
    let mut guard = estate.rds_guard_through(&proxy, &settings).await;
    guard.alerting.alerts = with_rechecks(guard.alerting.alerts, &proxy, &queue_url, 8).await;

    handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "orders", false, false), &guard)
        .await
        .expect("handled");
    let first = estate.alerts().await;
    let started = rds3(&first);
    assert_eq!(started.len(), 1, "{first:#?}");
    assert_eq!(started[0].action_status(), "deferred", "{}", detail(started[0]));
    assert!(detail(started[0]).contains("did Begin"), "{}", detail(started[0]));
    assert!(detail(started[0]).contains("is creating"), "{}", detail(started[0]));
    assert_eq!(proxy.count("CopyDBSnapshot"), 0, "nothing is copied from a snapshot still being taken");
    let queued = sent(&proxy);
    assert_eq!(queued.len(), 1, "one re-check: {queued:#?}");

    // The re-check arrives once RDS has finished the snapshot.
    proxy.clear_rewrites();
    let mut worker = worker(estate.policy(&settings), proxy.sdk_config(HOME_REGION).await);
    worker.alerting.alerts = with_rechecks(worker.alerting.alerts, &proxy, &queue_url, 8).await;
    let report = sweep_worker::handle_batch(sqs_event("m-1", &queued[0].0), &worker, Deadline::none()).await.unwrap();
    assert!(report.batch_item_failures.is_empty(), "{report:#?}");

    let after = estate.alerts().await;
    let ready = rds3(&after);
    assert_eq!(ready.len(), 1, "one alert for the step reached: {after:#?}");
    assert_eq!(ready[0].action_status(), "not_attempted", "{}", detail(ready[0]));
    assert!(detail(ready[0]).contains("ready for cutover"), "{}", detail(ready[0]));
    assert_eq!(proxy.count("CreateDBSnapshot"), 1, "the snapshot is not taken again");
    assert_eq!(proxy.count("CopyDBSnapshot"), 1);
    assert_eq!(proxy.count("RestoreDBInstanceFromDBSnapshot"), 1);
    assert_eq!(sent(&proxy).len(), 1, "ready waits for approval: nothing more to re-check");
}

/// A cutover that died between its two renames (the original already renamed away, the encrypted
/// database not yet renamed in) is finished by the next check — even one triggered by an event
/// on the renamed original, which is judged as the migration of the name it had.
#[tokio::test]
async fn a_cutover_interrupted_between_its_renames_is_finished_from_the_renamed_original() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    let network = create_app_network(&estate.moto, &rds).await;
    let (key_arn, alias) = create_kms_key(&estate.moto, "rds-data").await;
    create_unencrypted_postgres(&rds, "orders", &network).await;
    let guard = estate.rds_guard(&[("RULE_ACTIONS", "RDS.3=migrate"), ("MIGRATION_KMS_KEY", &alias)]).await;
    handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, "orders", false, false), &guard)
        .await
        .expect("handled");

    let source = rds.describe_db_instances().db_instance_identifier("orders").send().await.unwrap();
    let source = &source.db_instances()[0];
    let migration = source.tag_list().iter().find(|t| t.key() == Some("rdsguard:migration")).unwrap();
    let parked = format!("orders-unencrypted-{}", &migration.value().unwrap()[..8]);
    rds.add_tags_to_resource()
        .resource_name(source.db_instance_arn().unwrap())
        .tags(Tag::builder().key("rdsguard:cutover").value("approved").build())
        .send()
        .await
        .unwrap();
    // The first rename of the cutover happened; the invocation died before the second.
    rds.modify_db_instance()
        .db_instance_identifier("orders")
        .new_db_instance_identifier(&parked)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    estate.alerts().await;

    handle_event(&create_db_instance(MOTO_ACCOUNT, HOME_REGION, &parked, false, false), &guard).await.expect("handled");
    let alerts = estate.alerts().await;
    let done = rds3(&alerts).into_iter().last().expect("an RDS.3 alert");
    assert_eq!(done.action_status(), "succeeded", "{}", detail(done));
    let now = rds.describe_db_instances().db_instance_identifier("orders").send().await.unwrap();
    assert_eq!(now.db_instances()[0].kms_key_id(), Some(key_arn.as_str()), "orders is the encrypted one");
    let old = rds.describe_db_instances().db_instance_identifier(&parked).send().await.unwrap();
    assert_eq!(old.db_instances()[0].db_instance_status(), Some("stopped"));
}
