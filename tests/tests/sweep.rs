//! Sweeps against moto: sweep-worker judges and fixes what existed before any event, one SQS
//! message per account-region, and answers the messages it could not finish as batch item
//! failures; sweep-planner fans the estate out into one message per account-region.
//!
//! Where moto differs from AWS: EventBridge Scheduler never fires in moto, so the planner is
//! invoked directly (as the schedule would, with an empty payload), and the SQS event source
//! mapping does not exist, so the worker is handed the SQS event Lambda would build.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_organizations::types::{CreateAccountState, OrganizationFeatureSet};
use rdsguard::aws::{AccountSessions, SdkOrganizations, SqsSweepQueue};
use rdsguard::kernel::Deadline;
use rdsguard::policy::Policy;
use rdsguard::startup::Plumbing;
use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::proxy::{Fault, FaultProxy};
use rdsguard_tests::{Estate, MOTO_ACCOUNT};
use serde_json::{json, Value};
use sweep_planner::{plan, PlannerConfig, SdkRegions, Targets};
use sweep_worker::{handle_batch, BatchReport, SweepWorker};

/// sweep-worker as its `main` wires it (without the ledger: `Plumbing::new`), its AWS calls going
/// to `config`'s endpoint.
fn worker(policy: Policy, config: aws_config::SdkConfig) -> SweepWorker {
    let plumbing = Plumbing::new(policy, config);
    SweepWorker {
        policy: plumbing.policy,
        sessions: Arc::new(plumbing.sessions),
        alerts: plumbing.alerts,
        undelivered: plumbing.undelivered,
        confirmation: rdsguard::remediate::Confirmation { attempts: 2, delay: std::time::Duration::from_millis(50) },
    }
}

/// The SQS event Lambda's event source mapping hands the worker: one record per `(id, body)`.
fn sqs_event(messages: &[(&str, Value)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("handle-{id}"),
                "body": body.to_string(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:rdsguard-sweep",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

fn failed_ids(report: &BatchReport) -> Vec<String> {
    report.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

#[tokio::test]
async fn a_public_database_that_existed_before_any_event_is_found_and_fixed_by_the_worker() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("legacy-db") }).await;
    // Not one event about it: the sweep is the only way it is seen.
    let worker = worker(estate.policy(&[]), estate.moto.sdk_config(HOME_REGION).await);

    let report = handle_batch(
        sqs_event(&[("m-1", json!({"account": MOTO_ACCOUNT, "region": HOME_REGION}))]),
        &worker,
        Deadline::none(),
    )
    .await
    .expect("the batch is handled");

    assert!(report.batch_item_failures.is_empty(), "{report:#?}");
    assert_eq!(report.messages[0].outcome, "swept", "{report:#?}");
    let db = estate.instance(&rds, "legacy-db").await.unwrap();
    assert_eq!(db.publicly_accessible, Some(false), "the sweep fixed public access");
    let alerts = estate.alerts().await;
    let public: Vec<_> = alerts.iter().filter(|a| a.rule() == "RDS.2").collect();
    assert_eq!(public.len(), 1, "one RDS.2 alert: {alerts:#?}");
    assert_eq!(public[0].body["resource_id"], "legacy-db");
    assert_eq!(public[0].body["account"], MOTO_ACCOUNT);
    assert_eq!(public[0].body["region"], HOME_REGION);
    assert_eq!(public[0].action_status(), "succeeded", "{:#?}", public[0].body);
    assert_eq!(public[0].body["action"]["kind"], "make_private");
    assert_eq!(public[0].body["event_name"], "ScheduledSweep");
    assert_eq!(public[0].body["source"], "sweep-worker", "{:#?}", public[0].body);

    // The next sweep finds it private: nothing more about RDS.2 arrives.
    let again = handle_batch(
        sqs_event(&[("m-2", json!({"account": MOTO_ACCOUNT, "region": HOME_REGION}))]),
        &worker,
        Deadline::none(),
    )
    .await
    .unwrap();
    assert!(again.batch_item_failures.is_empty(), "{again:#?}");
    let later = estate.alerts().await;
    assert!(later.iter().all(|a| a.rule() != "RDS.2"), "RDS.2 alerted again: {later:#?}");
}

#[tokio::test]
async fn a_region_that_cannot_be_listed_is_a_batch_item_failure_and_the_others_are_not() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("home-db") }).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    // The worker sweeps a batch's messages in order: the first DescribeDBInstances is the listing
    // of the first message's region (eu-west-1). AccessDenied is not retried.
    proxy.fail_first("DescribeDBInstances", 1, Fault::AccessDenied);
    let worker = worker(estate.policy(&[]), proxy.sdk_config(HOME_REGION).await);

    let report = handle_batch(
        sqs_event(&[
            ("denied", json!({"account": MOTO_ACCOUNT, "region": "eu-west-1"})),
            ("fine", json!({"account": MOTO_ACCOUNT, "region": HOME_REGION})),
            ("unreadable", json!({"account": "not-an-account", "region": HOME_REGION})),
        ]),
        &worker,
        Deadline::none(),
    )
    .await
    .expect("the batch is handled");

    let listed: Vec<_> = proxy.calls_of("DescribeDBInstances");
    assert!(!listed.is_empty());
    assert_eq!(failed_ids(&report), ["denied", "unreadable"], "{report:#?}");
    let denied = &report.messages[0];
    assert_eq!(denied.outcome, "partial");
    assert!(denied.errors.iter().any(|e| e.contains("DescribeDBInstances")), "{denied:#?}");
    assert_eq!(report.messages[1].outcome, "swept", "{report:#?}");
    // The healthy region was still swept and fixed.
    assert_eq!(estate.instance(&rds, "home-db").await.unwrap().publicly_accessible, Some(false));
    assert!(estate.alerts().await.iter().any(|a| a.rule() == "RDS.2" && a.body["resource_id"] == "home-db"));
}

async fn sweep_queue(estate: &Estate) -> String {
    let sqs = aws_sdk_sqs::Client::new(&estate.moto.sdk_config(HOME_REGION).await);
    sqs.create_queue().queue_name("rdsguard-sweep").send().await.unwrap().queue_url.unwrap()
}

/// Every message in the sweep queue, as (account, region).
async fn queued(estate: &Estate, queue_url: &str) -> Vec<(String, String)> {
    let sqs = aws_sdk_sqs::Client::new(&estate.moto.sdk_config(HOME_REGION).await);
    let mut found = Vec::new();
    loop {
        let messages =
            sqs.receive_message().queue_url(queue_url).max_number_of_messages(10).send().await.unwrap().messages;
        let messages = messages.unwrap_or_default();
        if messages.is_empty() {
            return found;
        }
        for m in messages {
            let body: Value = serde_json::from_str(m.body().unwrap()).unwrap();
            found.push((body["account"].as_str().unwrap().to_owned(), body["region"].as_str().unwrap().to_owned()));
            sqs.delete_message().queue_url(queue_url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
    }
}

async fn targets(estate: &Estate, queue_url: &str, vars: &[(&str, &str)], config: aws_config::SdkConfig) -> Targets {
    let mut all: Vec<(String, String)> = vec![("SWEEP_QUEUE_URL".into(), queue_url.to_owned())];
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let _ = estate;
    Targets {
        config: PlannerConfig::from_vars(all.into_iter().collect()).expect("planner configuration"),
        organizations: Arc::new(SdkOrganizations::new(aws_sdk_organizations::Client::new(&config))),
        sessions: Arc::new(AccountSessions::new(config.clone(), "")),
        regions: Arc::new(SdkRegions::new(aws_sdk_ec2::Client::new(&config))),
        queue: Arc::new(SqsSweepQueue::new(aws_sdk_sqs::Client::new(&config), queue_url)),
    }
}

#[tokio::test]
async fn the_planner_sends_one_message_per_region_of_its_own_account() {
    let estate = Estate::start().await;
    let queue_url = sweep_queue(&estate).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let config = proxy.sdk_config(HOME_REGION).await;

    // SWEEP_REGIONS given.
    let listed =
        targets(&estate, &queue_url, &[("SWEEP_REGIONS", "us-east-1,eu-west-1,ap-southeast-2")], config.clone());
    let report = plan(&listed.await).await.expect("planned");
    assert_eq!(report.messages_sent, 3);
    let got: BTreeSet<_> = queued(&estate, &queue_url).await.into_iter().collect();
    let want: BTreeSet<_> = ["us-east-1", "eu-west-1", "ap-southeast-2"]
        .iter()
        .map(|r| (MOTO_ACCOUNT.to_owned(), (*r).to_owned()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(proxy.count("DescribeRegions"), 0, "SWEEP_REGIONS set: no region listing");
    proxy.clear_requests();

    // Every enabled region (EC2 DescribeRegions): more than ten, so several batches of at most 10.
    let report = plan(&targets(&estate, &queue_url, &[], config).await).await.expect("planned");
    let got = queued(&estate, &queue_url).await;
    assert!(got.len() > 10, "moto lists {} regions", got.len());
    assert_eq!(got.len(), report.messages_sent);
    assert_eq!(got.iter().collect::<BTreeSet<_>>().len(), got.len(), "one message per account-region");
    assert!(got.iter().all(|(account, _)| account == MOTO_ACCOUNT));
    assert_eq!(got.iter().map(|(_, r)| r.clone()).collect::<BTreeSet<_>>().len(), report.regions.len());
    let batches = proxy.calls_of("SendMessageBatch");
    assert_eq!(batches.len(), report.messages_sent.div_ceil(10), "batches of 10");
}

#[tokio::test]
async fn the_planner_fans_out_the_active_accounts_under_sweep_ous() {
    let estate = Estate::start().await;
    let queue_url = sweep_queue(&estate).await;
    let config = estate.moto.sdk_config(HOME_REGION).await;
    let org = aws_sdk_organizations::Client::new(&config);
    let organization_id = org
        .create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap()
        .organization
        .unwrap()
        .id
        .unwrap();
    let root = org.list_roots().send().await.unwrap().roots.unwrap()[0].id.clone().unwrap();
    let workloads = org.create_organizational_unit().parent_id(&root).name("workloads").send().await.unwrap();
    let workloads = workloads.organizational_unit.unwrap().id.unwrap();
    let nested = org.create_organizational_unit().parent_id(&workloads).name("prod").send().await.unwrap();
    let nested = nested.organizational_unit.unwrap().id.unwrap();
    let mut members = Vec::new();
    for (i, parent) in [&workloads, &workloads, &nested].iter().enumerate() {
        let status = org
            .create_account()
            .account_name(format!("member-{i}"))
            .email(format!("member-{i}@example.com"))
            .send()
            .await
            .unwrap()
            .create_account_status
            .unwrap();
        assert_eq!(status.state, Some(CreateAccountState::Succeeded));
        let id = status.account_id.unwrap();
        org.move_account().account_id(&id).source_parent_id(&root).destination_parent_id(*parent).send().await.unwrap();
        members.push(id);
    }
    // An account outside the OU is not swept.
    org.create_account().account_name("outside").email("outside@example.com").send().await.unwrap();

    let vars = [
        ("ORGANIZATION_ID", organization_id.as_str()),
        ("SWEEP_OUS", workloads.as_str()),
        ("SWEEP_REGIONS", "us-east-1,eu-west-1"),
    ];
    let report = plan(&targets(&estate, &queue_url, &vars, config.clone()).await).await.expect("planned");
    members.sort();
    assert_eq!(report.accounts, members, "the three accounts under the OU, the nested one included");
    let got: BTreeSet<_> = queued(&estate, &queue_url).await.into_iter().collect();
    let want: BTreeSet<_> =
        members.iter().flat_map(|a| ["us-east-1", "eu-west-1"].map(|r| (a.clone(), r.to_owned()))).collect();
    assert_eq!(got, want);

    // SWEEP_OUS unset: the whole organisation (management account and the outside one too).
    let vars = [("ORGANIZATION_ID", organization_id.as_str()), ("SWEEP_REGIONS", "us-east-1")];
    let report = plan(&targets(&estate, &queue_url, &vars, config).await).await.expect("planned");
    assert_eq!(report.accounts.len(), 5, "{:?}", report.accounts);
    assert!(members.iter().all(|m| report.accounts.contains(m)));
    assert_eq!(queued(&estate, &queue_url).await.len(), 5);
}
