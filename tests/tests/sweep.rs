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
use rdsguard_tests::proxy::{Fault, FaultProxy, On};
use rdsguard_tests::{Estate, MOTO_ACCOUNT};
use serde_json::{json, Value};
use sweep_planner::{plan, PlannerConfig, SdkAccountRegions, SdkRegions, Targets};
use sweep_worker::{handle_batch, BatchReport, SweepWorker};

/// sweep-worker as its `main` wires it (without the ledger: `Plumbing::new`), its AWS calls going
/// to `config`'s endpoint.
pub(crate) fn worker(policy: Policy, config: aws_config::SdkConfig) -> SweepWorker {
    let plumbing = Plumbing::new(policy, config);
    SweepWorker {
        policy: plumbing.policy,
        sessions: Arc::new(plumbing.sessions),
        alerting: plumbing.alerting,
        confirmation: rdsguard::remediate::Confirmation { attempts: 2, delay: std::time::Duration::from_millis(50) },
    }
}

/// The SQS event Lambda's event source mapping hands the worker: one record per `(id, body)`.
pub(crate) fn sqs_event(messages: &[(&str, Value)]) -> Value {
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

pub(crate) fn failed_ids(report: &BatchReport) -> Vec<String> {
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

pub(crate) async fn sweep_queue(estate: &Estate) -> String {
    let sqs = aws_sdk_sqs::Client::new(&estate.moto.sdk_config(HOME_REGION).await);
    sqs.create_queue().queue_name("rdsguard-sweep").send().await.unwrap().queue_url.unwrap()
}

/// Every message in the sweep queue, as (account, region).
pub(crate) async fn queued(estate: &Estate, queue_url: &str) -> Vec<(String, String)> {
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

pub(crate) async fn targets(
    estate: &Estate,
    queue_url: &str,
    vars: &[(&str, &str)],
    config: aws_config::SdkConfig,
) -> Targets {
    let mut all: Vec<(String, String)> = vec![("SWEEP_QUEUE_URL".into(), queue_url.to_owned())];
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let _ = estate;
    Targets {
        config: PlannerConfig::from_vars(all.into_iter().collect()).expect("planner configuration"),
        organizations: Arc::new(SdkOrganizations::new(aws_sdk_organizations::Client::new(&config))),
        sessions: Arc::new(AccountSessions::new(config.clone(), "")),
        regions: Arc::new(SdkRegions::new(aws_sdk_ec2::Client::new(&config))),
        account_regions: Arc::new(SdkAccountRegions::new(aws_sdk_account::Client::new(&config))),
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

/// An organisation in moto: three members under the OU `workloads` (one in a nested OU), one
/// account outside it, and moto's management account. Returns (organisation id, workloads OU,
/// the three members sorted).
/// A member account created in the organisation's root (moto creates it at once); its id.
async fn new_account(org: &aws_sdk_organizations::Client, name: &str) -> String {
    let created = org.create_account().account_name(name).email(format!("{name}@example.com")).send().await.unwrap();
    let status = created.create_account_status.unwrap();
    assert_eq!(status.state, Some(CreateAccountState::Succeeded));
    status.account_id.unwrap()
}

async fn organization(config: &aws_config::SdkConfig) -> (String, String, Vec<String>) {
    let org = aws_sdk_organizations::Client::new(config);
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
        let id = new_account(&org, &format!("member-{i}")).await;
        org.move_account().account_id(&id).source_parent_id(&root).destination_parent_id(*parent).send().await.unwrap();
        members.push(id);
    }
    // An account outside the OU is not swept.
    org.create_account().account_name("outside").email("outside@example.com").send().await.unwrap();
    members.sort();
    (organization_id, workloads, members)
}

#[tokio::test]
async fn the_planner_fans_out_the_active_accounts_under_sweep_ous() {
    let estate = Estate::start().await;
    let queue_url = sweep_queue(&estate).await;
    let config = estate.moto.sdk_config(HOME_REGION).await;
    let (organization_id, workloads, members) = organization(&config).await;

    let vars = [
        ("ORGANIZATION_ID", organization_id.as_str()),
        ("SWEEP_OUS", workloads.as_str()),
        ("SWEEP_REGIONS", "us-east-1,eu-west-1"),
    ];
    let report = plan(&targets(&estate, &queue_url, &vars, config.clone()).await).await.expect("planned");
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

const LEDGER_TABLE: &str = "rdsguard-findings";

/// sweep-worker with the findings ledger, as `main` wires it when FINDINGS_TABLE is set.
async fn ledgered_worker(estate: &Estate, config: aws_config::SdkConfig) -> SweepWorker {
    ledgered_worker_with(estate, config, &[]).await
}

/// [`ledgered_worker`] with the policy `settings`.
async fn ledgered_worker_with(
    estate: &Estate,
    config: aws_config::SdkConfig,
    settings: &[(&str, &str)],
) -> SweepWorker {
    let mut worker = worker(estate.policy(settings), config);
    let ledger = rdsguard::ledger::LedgerConfig::from_vars([("FINDINGS_TABLE".to_owned(), LEDGER_TABLE.to_owned())])
        .expect("ledger settings");
    let plumbing =
        estate.plumbing(&worker.policy).await.with_ledger(&ledger, &estate.moto.sdk_config(HOME_REGION).await);
    worker.alerting.alerts = plumbing.alerting.alerts;
    worker
}

async fn ledger_item(estate: &Estate, rule: &str, resource_id: &str) -> rdsguard::ledger::LedgerItem {
    let client = aws_sdk_dynamodb::Client::new(&estate.moto.sdk_config(HOME_REGION).await);
    let items = rdsguard::aws::DynamoDbFindings::new(client, LEDGER_TABLE).list(None).await.expect("scan the ledger");
    items
        .into_iter()
        .find(|i| i.rule == rule && i.resource_id == resource_id)
        .unwrap_or_else(|| panic!("no {rule} item for {resource_id}"))
}

#[tokio::test]
async fn a_complete_sweep_resolves_a_fixed_finding_in_the_ledger_and_a_partial_one_resolves_none() {
    let estate = Estate::start().await;
    rdsguard_tests::ledger::create_findings_table(&estate.moto, HOME_REGION, LEDGER_TABLE).await;
    let rds = estate.rds(HOME_REGION).await;
    // The seeds' instance has IAM authentication off: RDS.10, alerted only (nothing fixes it).
    estate.create_instance(&rds, &NewInstance::seed("iam-db")).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let worker = ledgered_worker(&estate, proxy.sdk_config(HOME_REGION).await).await;
    let sweep = |id: &str| sqs_event(&[(id, json!({"account": MOTO_ACCOUNT, "region": HOME_REGION}))]);

    let first = handle_batch(sweep("s-1"), &worker, Deadline::none()).await.unwrap();
    assert_eq!(first.messages[0].outcome, "swept", "{first:#?}");
    assert!(estate.alerts().await.iter().any(|a| a.rule() == "RDS.10" && a.body["transition"] == "new"));
    assert_eq!(ledger_item(&estate, "RDS.10", "iam-db").await.status, rdsguard::ledger::FindingStatus::Open);

    rds.modify_db_instance()
        .db_instance_identifier("iam-db")
        .enable_iam_database_authentication(true)
        .apply_immediately(true)
        .send()
        .await
        .expect("someone switches IAM authentication on");

    // A sweep whose cluster listing is denied is partial: the instance is seen compliant, yet
    // nothing is resolved (a finding it did not see may be in what it could not list).
    proxy.fail_first("DescribeDBClusters", 1, Fault::AccessDenied);
    let partial = handle_batch(sweep("s-2"), &worker, Deadline::none()).await.unwrap();
    assert_eq!(partial.messages[0].outcome, "partial", "{partial:#?}");
    assert_eq!(failed_ids(&partial), ["s-2"], "SQS delivers it again");
    let quiet = estate.alerts().await;
    assert!(quiet.iter().all(|a| a.rule() != "RDS.10"), "a partial sweep resolved RDS.10: {quiet:#?}");
    assert_eq!(ledger_item(&estate, "RDS.10", "iam-db").await.status, rdsguard::ledger::FindingStatus::Open);

    // The next complete sweep resolves it, once, as fixed by someone else.
    let complete = handle_batch(sweep("s-3"), &worker, Deadline::none()).await.unwrap();
    assert_eq!(complete.messages[0].outcome, "swept", "{complete:#?}");
    let alerts = estate.alerts().await;
    let resolved: Vec<_> = alerts.iter().filter(|a| a.rule() == "RDS.10").collect();
    assert_eq!(resolved.len(), 1, "{alerts:#?}");
    assert_eq!(resolved[0].body["transition"], "resolved");
    assert_eq!(resolved[0].body["resolved_by"], "other");
    assert_eq!(ledger_item(&estate, "RDS.10", "iam-db").await.status, rdsguard::ledger::FindingStatus::Resolved);
}

#[tokio::test]
async fn a_complete_sweep_resolves_the_findings_of_a_deleted_database_and_a_revoked_rule_and_a_partial_one_none() {
    let estate = Estate::start().await;
    rdsguard_tests::ledger::create_findings_table(&estate.moto, HOME_REGION, LEDGER_TABLE).await;
    let rds = estate.rds(HOME_REGION).await;
    let ec2 = estate.ec2(HOME_REGION).await;
    // The seeds' instance: several hardening findings, alerted only.
    estate.create_instance(&rds, &NewInstance::seed("doomed-db")).await;
    // A hardened database behind a group open to the internet on its port, alerted only here.
    estate.create_instance(&rds, &NewInstance::postgres("orders-db")).await;
    let group = estate.create_security_group(&ec2, "orders", &[]).await;
    estate.authorize(&ec2, &group, "tcp", (5432, 5432), &["0.0.0.0/0"]).await;
    rds.modify_db_instance()
        .db_instance_identifier("orders-db")
        .vpc_security_group_ids(&group)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let worker =
        ledgered_worker_with(&estate, proxy.sdk_config(HOME_REGION).await, &[("RULE_ACTIONS", "EC2.19=alert")]).await;
    let sweep = |id: &str| sqs_event(&[(id, json!({"account": MOTO_ACCOUNT, "region": HOME_REGION}))]);

    handle_batch(sweep("s-1"), &worker, Deadline::none()).await.unwrap();
    let first = estate.alerts().await;
    let doomed: BTreeSet<String> =
        first.iter().filter(|a| a.body["resource_id"] == "doomed-db").map(|a| a.rule().to_owned()).collect();
    assert!(!doomed.is_empty(), "{first:#?}");
    assert!(first.iter().any(|a| a.rule() == "EC2.19" && a.action_status() == "not_attempted"), "{first:#?}");

    // Someone deletes the database and revokes the rule.
    rds.delete_db_instance().db_instance_identifier("doomed-db").skip_final_snapshot(true).send().await.unwrap();
    estate.revoke(&ec2, &group, (5432, 5432), &["0.0.0.0/0"]).await;

    // A partial sweep (snapshots could not be listed) resolves nothing it did not see.
    proxy.fail_first("DescribeDBSnapshots", 1, Fault::AccessDenied);
    let partial = handle_batch(sweep("s-2"), &worker, Deadline::none()).await.unwrap();
    assert_eq!(partial.messages[0].outcome, "partial", "{partial:#?}");
    let quiet = estate.alerts().await;
    assert!(quiet.iter().all(|a| a.body["transition"] != "resolved"), "a partial sweep resolved: {quiet:#?}");

    // The next complete sweep resolves each of them once.
    let complete = handle_batch(sweep("s-3"), &worker, Deadline::none()).await.unwrap();
    assert_eq!(complete.messages[0].outcome, "swept", "{complete:#?}");
    let alerts = estate.alerts().await;
    let resolved: Vec<_> = alerts.iter().filter(|a| a.body["transition"] == "resolved").collect();
    let on_doomed: BTreeSet<String> =
        resolved.iter().filter(|a| a.body["resource_id"] == "doomed-db").map(|a| a.rule().to_owned()).collect();
    assert_eq!(on_doomed, doomed, "every finding of the deleted database: {alerts:#?}");
    assert!(resolved.iter().all(|a| a.body["resolved_by"] == "other"));
    let rule = resolved.iter().find(|a| a.rule() == "EC2.19").unwrap_or_else(|| panic!("{alerts:#?}"));
    assert!(rule.body["observed"]["resolution"].as_str().unwrap_or_default().contains("no longer there"));
    assert_eq!(resolved.len(), doomed.len() + 1, "{resolved:#?}");

    handle_batch(sweep("s-4"), &worker, Deadline::none()).await.unwrap();
    let after = estate.alerts().await;
    assert!(after.iter().all(|a| a.body["transition"] != "resolved"), "resolved once: {after:#?}");
}

/// 25 regions in each of two accounts: 50 account-regions.
const SCALE_REGIONS: [&str; 25] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "sa-east-1",
    "me-south-1",
    "af-south-1",
    "ap-east-1",
    "eu-central-2",
    "ap-south-2",
    "ap-southeast-3",
    "me-central-1",
];
const MEMBER_ACCOUNT: &str = "210987654321";
const DATABASES_PER_REGION: usize = 20;

#[tokio::test]
async fn fifty_account_regions_of_twenty_databases_are_swept_with_bounded_concurrency_and_throttling_retried() {
    let estate = Estate::start().await;
    let mut messages = Vec::new();
    for account in [MOTO_ACCOUNT, MEMBER_ACCOUNT] {
        for region in SCALE_REGIONS {
            let rds = estate.rds_in_account(account, region).await;
            for n in 0..DATABASES_PER_REGION {
                let id = format!("db-{n:02}");
                // One public database per account-region: each sweep has one fix to make.
                estate.create_instance(&rds, &NewInstance { public: n == 0, ..NewInstance::postgres(&id) }).await;
            }
            messages.push((format!("{account}-{region}"), json!({"account": account, "region": region})));
        }
    }
    let proxy = FaultProxy::in_front_of(&estate.moto);
    // RDS throttles the first listings of the burst (what a cold start of many workers meets).
    const THROTTLED: usize = 40;
    proxy.fail_first("DescribeDBInstances", THROTTLED, Fault::Throttle);
    let worker = std::rc::Rc::new(worker(estate.policy(&[]), proxy.sdk_config(HOME_REGION).await));

    // Lambda runs at most SweepConcurrency (10) workers at once, one message each; a message
    // answered as a batch item failure is delivered again by SQS.
    const CONCURRENCY: usize = 10;
    let in_flight = std::rc::Rc::new(std::cell::Cell::new((0usize, 0usize)));
    let mut pending: Vec<(String, Value)> = messages.clone();
    let mut swept: BTreeSet<String> = BTreeSet::new();
    let mut judged = 0;
    let mut rounds = 0;
    while !pending.is_empty() && rounds < 3 {
        rounds += 1;
        let local = tokio::task::LocalSet::new();
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        let mut handles = Vec::new();
        for (id, body) in pending.drain(..) {
            let (worker, limit, in_flight) = (worker.clone(), limit.clone(), in_flight.clone());
            handles.push(local.spawn_local(async move {
                let _permit = limit.acquire_owned().await.unwrap();
                let (now, peak) = in_flight.get();
                in_flight.set((now + 1, peak.max(now + 1)));
                let report = handle_batch(sqs_event(&[(&id, body.clone())]), &worker, Deadline::none()).await.unwrap();
                let (now, peak) = in_flight.get();
                in_flight.set((now - 1, peak));
                (id, body, report)
            }));
        }
        let results = local
            .run_until(async move {
                let mut results = Vec::new();
                for handle in handles {
                    results.push(handle.await.unwrap());
                }
                results
            })
            .await;
        for (id, body, report) in results {
            if report.batch_item_failures.is_empty() {
                judged += report.messages[0].resources_judged;
                swept.insert(id);
            } else {
                let errors = &report.messages[0].errors;
                assert!(
                    errors.iter().all(|e| e.contains("Throttling")),
                    "only throttling may fail a sweep: {errors:?}"
                );
                pending.push((id, body));
            }
        }
    }

    assert!(pending.is_empty(), "account-regions left unswept after {rounds} deliveries: {pending:?}");
    assert_eq!(swept.len(), 50);
    assert!(in_flight.get().1 <= CONCURRENCY, "peak {} sweeps at once", in_flight.get().1);
    let throttled = proxy.calls_of("DescribeDBInstances").iter().filter(|c| !c.reached_upstream()).count();
    assert_eq!(throttled, THROTTLED, "the throttling happened");
    assert!(judged >= 50 * DATABASES_PER_REGION, "every database judged: {judged}");
    // Every account-region's public database was found and fixed.
    let alerts = estate.alerts().await;
    let fixed: BTreeSet<String> = alerts
        .iter()
        .filter(|a| a.rule() == "RDS.2" && a.action_status() == "succeeded")
        .map(|a| format!("{}-{}", a.body["account"].as_str().unwrap(), a.body["region"].as_str().unwrap()))
        .collect();
    assert_eq!(fixed, swept, "one RDS.2 fix per account-region");
}

/// Each member enables its own opt-in regions, so in organisation mode the planner asks Account
/// Management (ListRegions with the member's AccountId) and sweeps each account in its own
/// regions. An account whose list is denied is swept in the planner's regions and named in the
/// report.
///
/// Where moto differs from AWS: moto does not implement Account Management's ListRegions, so the
/// proxy answers it in moto's place with each account's regions, and the test asserts on the
/// requests the SDK sent.
#[tokio::test]
async fn in_organisation_mode_each_account_is_swept_in_the_regions_enabled_for_it() {
    let estate = Estate::start().await;
    let queue_url = sweep_queue(&estate).await;
    let (organization_id, _, members) = organization(&estate.moto.sdk_config(HOME_REGION).await).await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let enabled: Vec<(Option<String>, Vec<&str>)> = vec![
        (None, vec!["eu-west-1", "us-east-1"]),
        (Some(members[0].clone()), vec!["ap-east-1", "us-east-1"]),
        (Some(members[1].clone()), vec!["eu-central-2"]),
    ];
    let denied = members[2].clone();
    let answers = enabled.clone();
    let refused = denied.clone();
    proxy.stand_in(On::ServiceAction("account".into(), "POST /listRegions".into()), move |request| {
        let asked = request.json().and_then(|body| body["AccountId"].as_str().map(str::to_owned));
        if asked.as_deref() == Some(refused.as_str()) {
            let body = json!({"__type": "AccessDeniedException", "message": "not authorized: account:ListRegions"});
            return (403, body.to_string());
        }
        // Any other account (the one outside the OU): us-west-2 only.
        let regions =
            answers.iter().find(|(account, _)| *account == asked).map_or(vec!["us-west-2"], |(_, r)| r.clone());
        let regions: Vec<Value> =
            regions.iter().map(|r| json!({"RegionName": r, "RegionOptStatus": "ENABLED"})).collect();
        (200, json!({"Regions": regions}).to_string())
    });
    let config = proxy.sdk_config(HOME_REGION).await;
    let vars = [("ORGANIZATION_ID", organization_id.as_str())];
    let report = plan(&targets(&estate, &queue_url, &vars, config).await).await.expect("planned");

    assert_eq!(report.regions_from_planner, vec![denied.clone()], "the denied account is named");
    let got: BTreeSet<(String, String)> = queued(&estate, &queue_url).await.into_iter().collect();
    for (account, regions) in &enabled {
        let account = account.clone().unwrap_or_else(|| MOTO_ACCOUNT.to_owned());
        let swept: BTreeSet<&str> = got.iter().filter(|(a, _)| *a == account).map(|(_, r)| r.as_str()).collect();
        assert_eq!(swept, regions.iter().copied().collect(), "{account} is swept in its own regions");
    }
    let planner_regions: BTreeSet<&str> = got.iter().filter(|(a, _)| *a == denied).map(|(_, r)| r.as_str()).collect();
    assert!(planner_regions.len() > 10 && planner_regions.contains("us-east-1"), "{planner_regions:?}");
    assert_eq!(proxy.count("DescribeRegions"), 1, "the planner's own regions are read once, for the fallback");

    let asked = proxy.calls_of("POST /listRegions");
    assert_eq!(asked.len(), 5, "one ListRegions per account (each fits one page)");
    let asked_for: Vec<Option<String>> =
        asked.iter().map(|r| r.json().unwrap()["AccountId"].as_str().map(str::to_owned)).collect();
    assert_eq!(asked_for.iter().filter(|a| a.is_none()).count(), 1, "the caller's own account asks without AccountId");
    assert!(!asked_for.contains(&Some(MOTO_ACCOUNT.to_owned())), "the management account's id is never passed");
    for request in &asked {
        let statuses = request.json().unwrap()["RegionOptStatusContains"].clone();
        assert_eq!(statuses, json!(["ENABLED", "ENABLED_BY_DEFAULT"]), "only regions that are on");
    }
}

/// AccessDenied from ListRegions means the same for every member (trusted access for Account
/// Management not enabled, or the planner outside the management or delegated administrator
/// account): the planner stops asking after the first answers — at most the calls already in
/// flight, `REGION_LISTING_CONCURRENCY` — and sweeps every account in its own enabled regions,
/// naming each in `regions_from_planner`.
#[tokio::test]
async fn in_organisation_mode_listregions_denied_is_asked_no_further_and_every_account_falls_back() {
    let estate = Estate::start().await;
    let queue_url = sweep_queue(&estate).await;
    let config = estate.moto.sdk_config(HOME_REGION).await;
    let (organization_id, _, mut members) = organization(&config).await;
    let org = aws_sdk_organizations::Client::new(&config);
    for i in 0..(2 * sweep_planner::REGION_LISTING_CONCURRENCY) {
        members.push(new_account(&org, &format!("extra-{i}")).await);
    }
    let proxy = FaultProxy::in_front_of(&estate.moto);
    proxy.stand_in(On::ServiceAction("account".into(), "POST /listRegions".into()), |_| {
        let body = json!({"__type": "AccessDeniedException", "message": "not authorized: account:ListRegions"});
        (403, body.to_string())
    });
    let vars = [("ORGANIZATION_ID", organization_id.as_str())];
    let report = plan(&targets(&estate, &queue_url, &vars, proxy.sdk_config(HOME_REGION).await).await)
        .await
        .expect("planned: a denied ListRegions is no failure");

    let accounts = report.accounts.len();
    assert!(accounts > 2 * sweep_planner::REGION_LISTING_CONCURRENCY, "{accounts} accounts");
    let asked = proxy.calls_of("POST /listRegions").len();
    assert!(
        (1..=sweep_planner::REGION_LISTING_CONCURRENCY).contains(&asked),
        "{asked} ListRegions calls for {accounts} accounts: no more once one was denied"
    );
    let mut from_planner = report.regions_from_planner.clone();
    from_planner.sort();
    let mut all = report.accounts.clone();
    all.sort();
    assert_eq!(from_planner, all, "every account is swept in the planner's regions, and named");
    assert_eq!(proxy.count("DescribeRegions"), 1, "the planner's own regions are read once");
    for account in &members {
        assert!(report.accounts.contains(account), "{account} is still swept");
    }
    assert!(report.regions.iter().any(|r| r == "us-east-1"), "{:?}", report.regions);
    // Each account in every one of the planner's regions (the queue's content is read back in
    // `in_organisation_mode_each_account_is_swept_in_the_regions_enabled_for_it`).
    assert_eq!(report.messages_sent, accounts * report.regions.len());
}
