//! AWS calls per event (README "AWS calls per event"): the real handlers, in a warm container (one
//! handler struct serving several events, as Lambda reuses it), send every call through the
//! recording proxy, and the calls of each kind of event are counted. At scale the number of calls
//! per event is what costs (API rate limits are per account and region); these tests keep it from
//! growing unnoticed. With the findings ledger on, its DynamoDB calls go through the proxy too.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use rds_guard::RdsGuard;
use rdsguard::aws::SessionNetworkConnector;
use rdsguard::ledger::LedgerConfig;
use rdsguard::policy::Policy;
use rdsguard::startup::Plumbing;
use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::events::{authorize_ingress, create_db_instance, rds_api_call};
use rdsguard_tests::ledger::create_findings_table;
use rdsguard_tests::{Estate, FaultProxy, MOTO_ACCOUNT};
use serde_json::json;

const TABLE: &str = "rdsguard-findings";

/// The calls recorded since the last clear, per action.
fn counted(proxy: &FaultProxy) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for action in proxy.actions() {
        *counts.entry(action).or_insert(0) += 1;
    }
    proxy.clear_requests();
    counts
}

fn total(counts: &BTreeMap<String, usize>) -> usize {
    counts.values().sum()
}

async fn plumbing(estate: &Estate, proxy: &FaultProxy, ledger: bool) -> (Policy, Plumbing) {
    let table = [("FINDINGS_TABLE", TABLE)];
    let extra: &[(&str, &str)] = if ledger { &table } else { &[] };
    let variables = estate.variables(extra);
    let policy = Policy::from_vars(variables.clone()).expect("policy");
    let config = proxy.sdk_config(HOME_REGION).await;
    let mut plumbing = Plumbing::new(policy.clone(), config.clone());
    if ledger {
        create_findings_table(&estate.moto, HOME_REGION, TABLE).await;
        plumbing = plumbing.with_ledger(&LedgerConfig::from_vars(variables).expect("ledger"), &config);
    }
    (policy, plumbing)
}

/// rds-guard: a public database created (fixed), a compliant one modified, an event it does not
/// handle; without and with the ledger.
#[tokio::test]
async fn rds_guard_calls_per_event_kind() {
    for ledger in [false, true] {
        let estate = Estate::start().await;
        let proxy = FaultProxy::in_front_of(&estate.moto);
        let rds = estate.rds(HOME_REGION).await;
        estate.create_instance(&rds, &NewInstance { public: true, ..NewInstance::postgres("public-db") }).await;
        estate.create_instance(&rds, &NewInstance::postgres("private-db")).await;
        let (policy, plumbing) = plumbing(&estate, &proxy, ledger).await;
        let guard = RdsGuard {
            rds: Arc::new(rdsguard::aws::SessionRdsConnector::new(plumbing.sessions)),
            policy,
            alerting: plumbing.alerting,
            confirmation: Default::default(),
        };
        let label = if ledger { "with the ledger" } else { "without the ledger" };
        // Warm the container: the first event pays what a container pays once.
        let warm = create_db_instance(MOTO_ACCOUNT, HOME_REGION, "private-db", false, true);
        rds_guard::handle_event(&warm, &guard).await.expect("warm-up");
        proxy.clear_requests();

        let mut public = create_db_instance(MOTO_ACCOUNT, HOME_REGION, "public-db", true, true);
        // The helpers' event ids are per call name; real CloudTrail ids are unique per event.
        public["detail"]["eventID"] = json!("e-public");
        rds_guard::handle_event(&public, &guard).await.expect("public database");
        let fixed = counted(&proxy);
        eprintln!("rds-guard {label}: a public database created and fixed: {} calls {fixed:?}", total(&fixed));
        assert_eq!(fixed.get("ModifyDBInstance"), Some(&1), "{label}: one fix: {fixed:?}");
        assert_eq!(fixed.get("PublishBatch"), Some(&1), "{label}: one alert: {fixed:?}");
        assert!(!fixed.contains_key("GetCallerIdentity"), "{label}: once per container, not per event: {fixed:?}");
        assert!(fixed.get("DescribeDBInstances").copied().unwrap_or(0) <= 3, "{label}: read, confirm: {fixed:?}");
        let budget = if ledger { 10 } else { 5 };
        assert!(total(&fixed) <= budget, "{label}: at most {budget}: {fixed:?}");

        let request = json!({"dBInstanceIdentifier": "private-db", "backupRetentionPeriod": 7});
        let modify = rds_api_call("ModifyDBInstance", MOTO_ACCOUNT, HOME_REGION, request, json!({}));
        rds_guard::handle_event(&modify, &guard).await.expect("compliant database");
        let compliant = counted(&proxy);
        eprintln!("rds-guard {label}: a compliant database modified: {} calls {compliant:?}", total(&compliant));
        assert!(
            !compliant.contains_key("ModifyDBInstance") && !compliant.contains_key("PublishBatch"),
            "{compliant:?}"
        );
        let budget = if ledger { 6 } else { 3 };
        assert!(total(&compliant) <= budget, "{label}: at most {budget}: {compliant:?}");

        let other = rds_api_call("DescribeDBInstances", MOTO_ACCOUNT, HOME_REGION, json!({}), json!({}));
        rds_guard::handle_event(&other, &guard).await.expect("ignored");
        let ignored = counted(&proxy);
        assert_eq!(total(&ignored), 0, "{label}: an event not handled costs no call: {ignored:?}");
    }
}

/// network-guard: a group opened to the world on 5432 in front of a database (revoked).
#[tokio::test]
async fn network_guard_calls_per_event_kind() {
    for ledger in [false, true] {
        let estate = Estate::start().await;
        let proxy = FaultProxy::in_front_of(&estate.moto);
        let ec2 = estate.ec2(HOME_REGION).await;
        let rds = estate.rds(HOME_REGION).await;
        let group = estate.create_security_group(&ec2, "orders", &[]).await;
        estate.create_instance_in_groups(&rds, &NewInstance::postgres("orders"), None, &[&group]).await;
        let (policy, plumbing) = plumbing(&estate, &proxy, ledger).await;
        let network = Arc::new(SessionNetworkConnector::new(plumbing.sessions));
        let guard = estate.network_guard_with(policy, network, plumbing.alerting);
        let label = if ledger { "with the ledger" } else { "without the ledger" };
        let warm = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 5432, &["10.0.0.0/8"]);
        network_guard::handle_event(&warm, &guard).await.expect("warm-up");
        proxy.clear_requests();

        estate.authorize(&ec2, &group, "tcp", (5432, 5432), &["0.0.0.0/0"]).await;
        let mut open = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 5432, &["0.0.0.0/0"]);
        open["detail"]["eventID"] = json!("e-open");
        network_guard::handle_event(&open, &guard).await.expect("open group");
        let revoked = counted(&proxy);
        eprintln!("network-guard {label}: a group opened and revoked: {} calls {revoked:?}", total(&revoked));
        assert_eq!(revoked.get("RevokeSecurityGroupIngress"), Some(&1), "{label}: {revoked:?}");
        assert_eq!(revoked.get("PublishBatch"), Some(&1), "{label}: {revoked:?}");
        assert!(!revoked.contains_key("GetCallerIdentity"), "{label}: {revoked:?}");
        let budget = if ledger { 13 } else { 8 };
        assert!(total(&revoked) <= budget, "{label}: at most {budget}: {revoked:?}");
    }
}

/// `sweep_region` of the moto account's home region through `config`: with the sweep's cache
/// (`SdkRds::for_sweep`, as sweep-worker and `rdsguard scan` connect) or an event's `SdkRds::new`.
async fn sweep_home_region(
    config: &aws_config::SdkConfig,
    policy: &Policy,
    for_sweep: bool,
) -> rdsguard::sweep::RegionSweep {
    let account = rdsguard::identity::AccountId::parse(MOTO_ACCOUNT).unwrap();
    let region = rdsguard::identity::AwsRegion::parse(HOME_REGION).unwrap();
    let scope = rdsguard::checks::CheckScope {
        account: &account,
        region: &region,
        policy,
        confirmation: Default::default(),
        deadline: rdsguard::kernel::Deadline::none(),
    };
    let client = aws_sdk_rds::Client::new(config);
    let rds = if for_sweep { rdsguard::aws::SdkRds::for_sweep(client) } else { rdsguard::aws::SdkRds::new(client) };
    sweep_with(scope, rds, config).await
}

/// `sweep_region` with `rds` as it is, in the home region.
async fn sweep_with(
    scope: rdsguard::checks::CheckScope<'_>,
    rds: rdsguard::aws::SdkRds,
    config: &aws_config::SdkConfig,
) -> rdsguard::sweep::RegionSweep {
    let network = rdsguard::aws::NetworkPorts {
        groups: Arc::new(rdsguard::aws::SdkEc2::new(aws_sdk_ec2::Client::new(config))),
        databases: Arc::new(rds.clone()),
    };
    rdsguard::sweep::sweep_region(scope, &rds, &network).await
}

/// A sweep of four PostgreSQL databases sharing one parameter group with `rds.force_ssl=0`: the
/// group's parameters are read once, not once per database (`SdkRds::for_sweep`); an event's
/// `SdkRds::new` reads per database.
#[tokio::test]
async fn a_sweep_reads_a_shared_parameter_group_once() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    estate.create_postgres_parameter_group(&rds, "shared-pg", "0").await;
    let names = ["pg-a", "pg-b", "pg-c", "pg-d"];
    for id in names {
        estate.create_instance(&rds, &NewInstance::postgres(id)).await;
        rds.modify_db_instance()
            .db_instance_identifier(id)
            .db_parameter_group_name("shared-pg")
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
    }
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let config = proxy.sdk_config(HOME_REGION).await;
    let policy = Policy::from_vars(estate.variables(&[])).expect("policy");
    let mut reads = Vec::new();
    for sweep in [true, false] {
        let swept = sweep_home_region(&config, &policy, sweep).await;
        assert!(swept.complete(), "{:?}", swept.errors);
        let tls: Vec<_> = swept.findings.iter().filter(|(f, _)| f.rule.as_str() == "RDS.38").collect();
        assert_eq!(tls.len(), names.len(), "every database on the group has the TLS finding: {tls:#?}");
        let counts = counted(&proxy);
        eprintln!("sweep (for_sweep: {sweep}) of 4 databases on one group: {} calls {counts:?}", total(&counts));
        reads.push((
            counts.get("DescribeDBParameters").copied().unwrap_or(0),
            counts.get("DescribeDBInstances").copied().unwrap_or(0),
        ));
    }
    // In a sweep the region's listing also serves the shared-group gate and the databases behind
    // the group (measured: 1 DescribeDBInstances); without the sweep's cache the gate lists again.
    assert_eq!(reads[0], (1, 1), "sweep: one parameter read for the shared group, one listing");
    assert_eq!(reads[1], (4, 2), "per database without the sweep's cache");
}

/// A sweep's calls do not grow with the databases or the security groups of an account-region:
/// one listing per kind serves the rules, the shared-group gate and the databases behind each
/// group; the groups and their rules are read together. The one per-resource read left is each
/// manual snapshot's `restore` attribute, which no RDS listing returns.
#[tokio::test]
async fn a_sweep_reads_databases_and_groups_in_listings_not_one_by_one() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    let ec2 = estate.ec2(HOME_REGION).await;
    let mut groups = Vec::new();
    for g in 0..4 {
        let id = estate.create_security_group(&ec2, &format!("front-{g}"), &[]).await;
        estate.authorize(&ec2, &id, "tcp", (5432, 5432), &["0.0.0.0/0"]).await;
        groups.push(id);
    }
    let names: Vec<String> = (0..12).map(|n| format!("db-{n:02}")).collect();
    for (n, id) in names.iter().enumerate() {
        let new = NewInstance::postgres(id);
        estate.create_instance_in_groups(&rds, &new, Some(5432), &[groups[n % groups.len()].as_str()]).await;
    }
    for id in names.iter().take(2) {
        let snapshot = format!("{id}-manual");
        rds.create_db_snapshot().db_instance_identifier(id).db_snapshot_identifier(snapshot).send().await.unwrap();
    }
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let config = proxy.sdk_config(HOME_REGION).await;
    let policy = Policy::from_vars(estate.variables(&[("MODE", "alert")])).expect("policy");
    let swept = sweep_home_region(&config, &policy, true).await;
    assert!(swept.complete(), "{:?}", swept.errors);
    assert_eq!(swept.judged.db_instances, 12);
    assert_eq!(swept.judged.snapshots, 2);
    assert_eq!(swept.judged.security_groups, 4, "every group in front of a database judged");
    let open: Vec<_> = swept.findings.iter().filter(|(f, _)| f.rule.as_str() == "EC2.19").collect();
    assert_eq!(open.len(), 4, "each group's world-open rule found: {open:#?}");
    assert!(
        open.iter().all(|(f, _)| f.severity > rdsguard::group_check::NO_DATABASE_SEVERITY),
        "the databases behind each group were known (no 'no database' downgrade): {open:#?}"
    );

    let counts = counted(&proxy);
    eprintln!("sweep of 12 databases, 4 groups, 2 snapshots: {} calls {counts:?}", total(&counts));
    for listing in ["DescribeDBInstances", "DescribeDBClusters", "DescribeSecurityGroups", "DescribeSecurityGroupRules"]
    {
        assert_eq!(counts.get(listing), Some(&1), "{listing} once for the account-region: {counts:?}");
    }
    assert_eq!(counts.get("DescribeDBSnapshots"), Some(&1), "the snapshot listing carries their state: {counts:?}");
    assert_eq!(counts.get("DescribeDBSnapshotAttributes"), Some(&2), "one attribute read per snapshot: {counts:?}");
    assert!(total(&counts) <= 9, "{} calls for 18 resources: {counts:?}", total(&counts));
}

/// The snapshots a sweep reads the `restore` attribute of: RDS cannot share a snapshot encrypted
/// with the AWS managed key `aws/rds` (nor any encrypted snapshot publicly), so with the key lookup
/// sweep-worker and `rdsguard scan` wire (`with_managed_key_lookup`), one ListAliases replaces
/// the attribute reads of such snapshots; a snapshot under a customer managed key or unencrypted
/// is still read, and still found when shared. When KMS refuses, every attribute is read and
/// nothing is missed.
#[tokio::test]
async fn a_sweep_reads_no_attribute_of_snapshots_encrypted_with_the_aws_managed_key() {
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    let kms = aws_sdk_kms::Client::new(&estate.moto.sdk_config(HOME_REGION).await);
    // On AWS an encrypted database without KmsKeyId is encrypted with aws/rds (created on first
    // use). moto writes "default_kms_key_id" instead, so the seed names the key; moto creates the
    // aws/rds key when it is first described, as AWS does when RDS first uses it.
    let managed = kms
        .describe_key()
        .key_id(rdsguard::aws::RDS_MANAGED_KEY_ALIAS)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    let customer = kms.create_key().description("orders").send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let seeds = [("managed-db", Some(managed.as_str())), ("customer-db", Some(customer.as_str())), ("plain-db", None)];
    for (id, key) in seeds {
        let new = NewInstance { encrypted: key.is_some(), kms_key_id: key, ..NewInstance::postgres(id) };
        estate.create_instance(&rds, &new).await;
        rds.create_db_snapshot()
            .db_instance_identifier(id)
            .db_snapshot_identifier(format!("{id}-manual"))
            .send()
            .await
            .unwrap();
    }
    let share = |snapshot: &'static str, with: &'static str| {
        rds.modify_db_snapshot_attribute()
            .db_snapshot_identifier(snapshot)
            .attribute_name("restore")
            .values_to_add(with)
            .send()
    };
    share("customer-db-manual", "210987654321").await.unwrap();
    share("plain-db-manual", "all").await.unwrap();

    let proxy = FaultProxy::in_front_of(&estate.moto);
    let config = proxy.sdk_config(HOME_REGION).await;
    let policy = Policy::from_vars(estate.variables(&[("MODE", "alert")])).expect("policy");
    let account = rdsguard::identity::AccountId::parse(MOTO_ACCOUNT).unwrap();
    let region = rdsguard::identity::AwsRegion::parse(HOME_REGION).unwrap();
    for kms_refuses in [false, true] {
        if kms_refuses {
            proxy.fail_always("ListAliases", rdsguard_tests::Fault::AccessDenied);
        }
        let scope = rdsguard::checks::CheckScope {
            account: &account,
            region: &region,
            policy: &policy,
            confirmation: Default::default(),
            deadline: rdsguard::kernel::Deadline::none(),
        };
        let keys = rdsguard::aws::SdkKms::new(aws_sdk_kms::Client::new(&config));
        let rds =
            rdsguard::aws::SdkRds::for_sweep(aws_sdk_rds::Client::new(&config)).with_managed_key_lookup(Arc::new(keys));
        let swept = sweep_with(scope, rds, &config).await;
        let label = if kms_refuses { "ListAliases refused" } else { "ListAliases served" };
        assert!(swept.complete(), "{label}: a refused key lookup is no error of the sweep: {:?}", swept.errors);
        assert_eq!(swept.judged.snapshots, 3, "{label}");
        let found = |rule: &str| -> Vec<String> {
            let mut ids: Vec<String> = swept
                .findings
                .iter()
                .filter(|(f, _)| f.rule.as_str() == rule)
                .map(|(f, _)| f.resource_id.clone())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(found("RDS.1"), ["plain-db-manual"], "{label}: the public snapshot found");
        assert_eq!(found("RDSGUARD.SNAPSHOT_SHARED"), ["customer-db-manual"], "{label}: the shared one found");
        let mut attribute_reads: Vec<String> = proxy
            .calls_of("DescribeDBSnapshotAttributes")
            .iter()
            .filter_map(|call| call.param("DBSnapshotIdentifier").map(str::to_owned))
            .collect();
        attribute_reads.sort();
        let counts = counted(&proxy);
        eprintln!("{label}: sweep of 3 snapshots: {} calls {counts:?}", total(&counts));
        assert_eq!(counts.get("ListAliases"), Some(&1), "{label}: asked once for the account-region: {counts:?}");
        let expected: &[&str] = if kms_refuses {
            &["customer-db-manual", "managed-db-manual", "plain-db-manual"]
        } else {
            &["customer-db-manual", "plain-db-manual"]
        };
        assert_eq!(attribute_reads, expected, "{label}: {counts:?}");
    }
}
