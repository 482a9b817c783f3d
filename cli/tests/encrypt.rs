//! `rdsguard encrypt` end to end against moto, through the recording proxy (tests/src/proxy.rs), as
//! an operator runs it: plan (read-only), start --wait, cutover, rollback, for a DB instance and an
//! Aurora cluster, and a crash between steps resumed without repeating a finished step.
//!
//! Where moto differs from AWS, and what the tests do about it:
//! - snapshots, copies, restores and renames are `available` at once (AWS takes minutes to hours):
//!   `--wait` finds nothing to wait for, so the tests also drive the steps one run at a time;
//! - moto's RestoreDBInstanceFromDBSnapshot copies the old instance's settings into the new one and
//!   ignores boolean parameters set to false, so an equal end state alone would prove little: the
//!   tests also assert that the restore *request* named every setting (subnet group, both security
//!   groups, parameter group, IAM authentication, tags …);
//! - moto keeps a replica's ReadReplicaSourceDBInstanceIdentifier when its primary is renamed (AWS
//!   shows the new name): the replica test rewrites DescribeDBInstances to say what AWS says;
//! - moto's RestoreDBClusterFromSnapshot with KmsKeyId keeps the key but leaves StorageEncrypted
//!   false (AWS encrypts the restored cluster with that key): the proxy rewrites DescribeDBClusters
//!   to say what AWS says for such a cluster, and the test asserts the request carried the key.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

use rdsguard_tests::estate::HOME_REGION;
use rdsguard_tests::migration::{
    create_app_network, create_app_network_with, create_kms_key, create_kms_key_in, create_unencrypted_aurora,
    create_unencrypted_postgres, AppNetwork, APP_TAGS,
};
use rdsguard_tests::proxy::{On, Recorded};
use rdsguard_tests::{Fault, FaultProxy, MotoServer};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn encrypt(proxy: &FaultProxy, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_rdsguard"))
        .arg("encrypt")
        .args(args)
        .args(["--region", HOME_REGION, "--poll-seconds", "0"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_MAX_ATTEMPTS", "2")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("rdsguard runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ok(run: &Run, what: &str) {
    assert_eq!(run.code, Some(0), "{what}: stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
}

const WRITE_PREFIXES: [&str; 9] = ["Create", "Copy", "Restore", "Modify", "Add", "Remove", "Reboot", "Stop", "Start"];

fn writes(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.service == "rds")
        .filter(|r| WRITE_PREFIXES.iter().any(|p| r.action.starts_with(p)))
        .map(|r| r.action.clone())
        .collect()
}

/// The values of a query-protocol list parameter (`VpcSecurityGroupIds.VpcSecurityGroupId.1`, …).
fn list_param(request: &Recorded, prefix: &str) -> Vec<String> {
    let mut values: Vec<String> =
        request.form.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v.clone()).collect();
    values.sort();
    values
}

fn tag_value<'a>(tags: &'a [aws_sdk_rds::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

async fn instance(rds: &aws_sdk_rds::Client, id: &str) -> Option<aws_sdk_rds::types::DbInstance> {
    rds.describe_db_instances().db_instance_identifier(id).send().await.ok()?.db_instances.unwrap_or_default().pop()
}

async fn all_instances(rds: &aws_sdk_rds::Client) -> Vec<aws_sdk_rds::types::DbInstance> {
    rds.describe_db_instances().send().await.expect("list instances").db_instances.unwrap_or_default()
}

async fn cluster(rds: &aws_sdk_rds::Client, id: &str) -> Option<aws_sdk_rds::types::DbCluster> {
    rds.describe_db_clusters().db_cluster_identifier(id).send().await.ok()?.db_clusters.unwrap_or_default().pop()
}

/// moto (kept alive by the field), the recording proxy in front of it, and the unencrypted
/// `orders` instance in its own network with a customer-managed key to encrypt it with.
struct Orders {
    _moto: MotoServer,
    proxy: FaultProxy,
    rds: aws_sdk_rds::Client,
    network: AppNetwork,
    key_arn: String,
    alias: String,
}

impl Orders {
    async fn seed() -> Self {
        let moto = MotoServer::start();
        let proxy = FaultProxy::in_front_of(&moto);
        let rds = aws_sdk_rds::Client::new(&moto.sdk_config(HOME_REGION).await);
        let network = create_app_network(&moto, &rds).await;
        let (key_arn, alias) = create_kms_key(&moto, "orders-data").await;
        create_unencrypted_postgres(&rds, "orders", &network).await;
        Self { _moto: moto, proxy, rds, network, key_arn, alias }
    }
}

/// A DB instance with its own subnet group, two security groups, a custom parameter group, tags and
/// IAM authentication: plan writes nothing; start --wait ends "ready for cutover" with an empty
/// diff; cutover gives the encrypted database the old name with every setting equal, the old one
/// renamed and stopped and both snapshots kept; rollback gives the names back.
#[tokio::test]
async fn an_unencrypted_postgres_instance_is_migrated_cut_over_and_rolled_back() {
    let Orders { _moto, proxy, rds, network, key_arn, alias } = Orders::seed().await;

    // plan: every setting and how it is carried, the downtime, the key policy; no write call.
    let plan = encrypt(&proxy, &["plan", "--db", "orders", "--kms-key", &alias]);
    ok(&plan, "plan");
    for needle in [
        "orders-private-subnets",
        &network.security_groups.join(","),
        "orders-postgres14",
        "IAM database authentication",
        "team=payments",
        "is NOT in the new database",
        "kms:CreateGrant",
    ] {
        assert!(plan.stdout.contains(needle), "plan names {needle}:\n{}", plan.stdout);
    }
    assert_eq!(writes(&proxy.requests()), Vec::<String>::new(), "plan is read-only");

    let start = encrypt(&proxy, &["start", "--db", "orders", "--kms-key", &alias, "--wait"]);
    ok(&start, "start");
    assert!(start.stdout.contains("ready for cutover"), "{}", start.stdout);
    assert!(start.stdout.contains("settings diff: none"), "{}", start.stdout);

    // The restore named every setting itself (moto would have copied them anyway).
    let restores = proxy.calls_of("RestoreDBInstanceFromDBSnapshot");
    assert_eq!(restores.len(), 1, "one restore");
    let restore = &restores[0];
    assert_eq!(restore.param("DBSubnetGroupName"), Some("orders-private-subnets"));
    assert_eq!(list_param(restore, "VpcSecurityGroupIds."), network.security_groups);
    assert_eq!(restore.param("DBParameterGroupName"), Some("orders-postgres14"));
    assert_eq!(restore.param("EnableIAMDatabaseAuthentication"), Some("true"));
    assert_eq!(restore.param("DBInstanceClass"), Some("db.m6g.large"));
    assert_eq!(restore.param("Port"), Some("5433"));
    assert_eq!(restore.param("BackupRetentionPeriod"), Some("9"));
    assert_eq!(restore.param("CopyTagsToSnapshot"), Some("true"));
    assert!(restore.form.values().any(|v| v == "payments"), "the app's tags go with the restore");
    let copies = proxy.calls_of("CopyDBSnapshot");
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].param("KmsKeyId"), Some(alias.as_str()));
    assert!(proxy.requests().iter().all(|r| r.action != "DeleteDBInstance" && r.action != "DeleteDBSnapshot"));

    // Not cut over yet: the original still has its name and still serves.
    assert!(!instance(&rds, "orders").await.unwrap().storage_encrypted().unwrap_or(false));

    // Cutover refuses without confirmation when there is no terminal to ask on.
    let before = writes(&proxy.requests()).len();
    let refused = encrypt(&proxy, &["cutover", "--db", "orders"]);
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(writes(&proxy.requests()).len(), before, "nothing changed without confirmation");

    let cutover = encrypt(&proxy, &["cutover", "--db", "orders", "--yes", "--wait"]);
    ok(&cutover, "cutover");
    assert!(cutover.stdout.contains("cut over"), "{}", cutover.stdout);

    let new = instance(&rds, "orders").await.expect("orders exists");
    assert_eq!(new.storage_encrypted(), Some(true), "orders is encrypted now");
    assert_eq!(new.kms_key_id(), Some(key_arn.as_str()), "with the given key");
    assert_eq!(new.db_subnet_group().and_then(|g| g.db_subnet_group_name()), Some("orders-private-subnets"));
    let mut groups: Vec<String> =
        new.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).map(str::to_owned).collect();
    groups.sort();
    assert_eq!(groups, network.security_groups);
    assert_eq!(new.db_parameter_groups().first().and_then(|g| g.db_parameter_group_name()), Some("orders-postgres14"));
    assert_eq!(new.iam_database_authentication_enabled(), Some(true));
    assert_eq!(new.db_instance_class(), Some("db.m6g.large"));
    assert_eq!(new.allocated_storage(), Some(50));
    assert_eq!(new.backup_retention_period(), Some(9));
    assert_eq!(new.engine_version(), Some("14.6"));
    for (key, value) in APP_TAGS {
        assert_eq!(tag_value(new.tag_list(), key), Some(value), "tag {key}");
    }

    let everything = all_instances(&rds).await;
    let old = everything
        .iter()
        .find(|d| d.db_instance_identifier().is_some_and(|id| id.starts_with("orders-unencrypted-")))
        .expect("the old database is kept, renamed");
    assert_eq!(old.db_instance_status(), Some("stopped"));
    assert_eq!(old.storage_encrypted(), Some(false));
    let snapshots = rds.describe_db_snapshots().send().await.unwrap().db_snapshots.unwrap_or_default();
    let kept: Vec<&str> = snapshots
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .filter(|id| id.starts_with("orders-rdsguard-"))
        .collect();
    assert_eq!(kept.len(), 2, "the snapshot and its encrypted copy are kept: {kept:?}");

    let status = encrypt(&proxy, &["status", "--db", "orders"]);
    ok(&status, "status");
    assert!(status.stdout.contains("step cut-over"), "{}", status.stdout);

    let rollback = encrypt(&proxy, &["rollback", "--db", "orders", "--yes", "--wait"]);
    ok(&rollback, "rollback");
    let original = instance(&rds, "orders").await.expect("orders exists");
    assert_eq!(original.storage_encrypted(), Some(false), "orders is the original again");
    assert_eq!(original.db_instance_status(), Some("available"), "started again");
    let names: Vec<String> =
        all_instances(&rds).await.iter().filter_map(|d| d.db_instance_identifier()).map(str::to_owned).collect();
    assert!(names.iter().any(|n| n.starts_with("orders-encrypted-")), "the encrypted one is kept: {names:?}");
    assert!(!names.iter().any(|n| n.starts_with("orders-unencrypted-")), "{names:?}");
    assert!(proxy.requests().iter().all(|r| !r.action.starts_with("Delete")), "nothing is ever deleted");
}

/// Marks clusters restored with a KmsKeyId as encrypted, as AWS does (see the file's header).
fn aws_encrypts_restored_clusters(proxy: &FaultProxy, key_arn: String) {
    proxy.rewrite(On::action("DescribeDBClusters"), move |_, body| {
        let mut out = String::new();
        for (n, part) in body.split("<DBCluster>").enumerate() {
            if n > 0 {
                out.push_str("<DBCluster>");
            }
            let end = part.find("</DBCluster>").unwrap_or(part.len());
            let (cluster, rest) = part.split_at(end);
            if cluster.contains(&format!("<KmsKeyId>{key_arn}</KmsKeyId>")) {
                out.push_str(&cluster.replace(
                    "<StorageEncrypted>false</StorageEncrypted>",
                    "<StorageEncrypted>true</StorageEncrypted>",
                ));
            } else {
                out.push_str(cluster);
            }
            out.push_str(rest);
        }
        out
    });
}

/// An Aurora cluster with two members: the cluster snapshot is restored with the key, both members
/// are recreated with their class and promotion tier, and cutover gives the cluster its name.
#[tokio::test]
async fn an_unencrypted_aurora_cluster_with_two_members_is_migrated() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::in_front_of(&moto);
    let rds = aws_sdk_rds::Client::new(&moto.sdk_config(HOME_REGION).await);
    let network = create_app_network(&moto, &rds).await;
    let (key_arn, _) = create_kms_key(&moto, "ledger-data").await;
    create_unencrypted_aurora(&rds, "ledger", &network).await;
    aws_encrypts_restored_clusters(&proxy, key_arn.clone());

    let plan = encrypt(&proxy, &["plan", "--cluster", "ledger", "--kms-key", &key_arn]);
    ok(&plan, "plan");
    assert!(plan.stdout.contains("ledger-1") && plan.stdout.contains("ledger-2"), "{}", plan.stdout);
    assert!(plan.stdout.contains("db.r6g.xlarge"), "{}", plan.stdout);
    assert_eq!(writes(&proxy.requests()), Vec::<String>::new(), "plan is read-only");

    let start = encrypt(&proxy, &["start", "--cluster", "ledger", "--kms-key", &key_arn, "--wait"]);
    ok(&start, "start");
    assert!(start.stdout.contains("ready for cutover"), "{}\n{}", start.stdout, start.stderr);
    let restore = proxy.calls_of("RestoreDBClusterFromSnapshot");
    assert_eq!(restore.len(), 1);
    assert_eq!(restore[0].param("KmsKeyId"), Some(key_arn.as_str()), "Aurora encrypts on restore with the key");
    assert_eq!(restore[0].param("DBSubnetGroupName"), Some("orders-private-subnets"));
    assert_eq!(restore[0].param("DBClusterParameterGroupName"), Some("ledger-aurora-postgresql15"));
    assert_eq!(restore[0].param("EnableIAMDatabaseAuthentication"), Some("true"));
    assert_eq!(list_param(&restore[0], "VpcSecurityGroupIds."), network.security_groups);
    let members = proxy.calls_of("CreateDBInstance");
    assert_eq!(members.len(), 2, "both members recreated");
    let mut shapes: Vec<(String, String)> = members
        .iter()
        .map(|m| {
            (m.param("DBInstanceClass").unwrap_or("-").to_owned(), m.param("PromotionTier").unwrap_or("-").to_owned())
        })
        .collect();
    shapes.sort();
    assert_eq!(shapes, [("db.r6g.large".to_owned(), "0".to_owned()), ("db.r6g.xlarge".to_owned(), "2".to_owned())]);

    let cutover = encrypt(&proxy, &["cutover", "--cluster", "ledger", "--yes", "--wait"]);
    ok(&cutover, "cutover");
    let new = cluster(&rds, "ledger").await.expect("ledger exists");
    assert_eq!(new.kms_key_id(), Some(key_arn.as_str()), "encrypted with the key");
    assert_eq!(new.db_cluster_members().len(), 2, "with two members");
    assert_eq!(new.db_cluster_parameter_group(), Some("ledger-aurora-postgresql15"));
    assert_eq!(new.iam_database_authentication_enabled(), Some(true));
    for (key, value) in APP_TAGS {
        assert_eq!(tag_value(new.tag_list(), key), Some(value), "tag {key}");
    }
    let clusters = rds.describe_db_clusters().send().await.unwrap().db_clusters.unwrap_or_default();
    let old = clusters
        .iter()
        .find(|c| c.db_cluster_identifier().is_some_and(|id| id.starts_with("ledger-unencrypted-")))
        .expect("the old cluster is kept, renamed");
    assert_eq!(old.status(), Some("stopped"));
    assert!(proxy.requests().iter().all(|r| !r.action.starts_with("Delete")), "nothing is ever deleted");
}

/// A run that dies between steps (here: the encrypted copy fails for good after the snapshot was
/// taken) is picked up by the next run from what AWS shows: status names the next step, and the
/// snapshot is not taken again.
#[tokio::test]
async fn a_migration_that_crashed_between_steps_resumes_without_repeating_a_step() {
    let Orders { _moto, proxy, alias, .. } = Orders::seed().await;

    proxy.fail_always("CopyDBSnapshot", Fault::InternalError);
    let crashed = encrypt(&proxy, &["start", "--db", "orders", "--kms-key", &alias, "--wait"]);
    assert_eq!(crashed.code, Some(1), "the failed step fails the run: {}", crashed.stderr);
    assert!(crashed.stderr.contains("CopyDBSnapshot"), "{}", crashed.stderr);
    assert_eq!(proxy.count("CreateDBSnapshot"), 1);
    proxy.clear_faults();

    let status = encrypt(&proxy, &["status", "--db", "orders"]);
    ok(&status, "status");
    assert!(status.stdout.contains("step started"), "{}", status.stdout);
    assert!(status.stdout.contains("next: Do(Copy)"), "{}", status.stdout);

    let resumed = encrypt(&proxy, &["start", "--db", "orders", "--kms-key", &alias, "--wait"]);
    ok(&resumed, "resumed");
    assert!(resumed.stdout.contains("ready for cutover"), "{}", resumed.stdout);
    assert_eq!(proxy.count("CreateDBSnapshot"), 1, "the snapshot is not taken again");
    assert_eq!(proxy.served_calls_of("CopyDBSnapshot").len(), 1, "one copy reached RDS");
    assert_eq!(proxy.count("RestoreDBInstanceFromDBSnapshot"), 1);

    // A second start after ready repeats nothing either.
    let again = encrypt(&proxy, &["start", "--db", "orders", "--kms-key", &alias, "--wait"]);
    ok(&again, "again");
    assert_eq!(proxy.count("RestoreDBInstanceFromDBSnapshot"), 1);
    assert_eq!(proxy.count("CreateDBSnapshot"), 1);
}

/// `--consistent`: before the snapshot the source is renamed away from `<id>` (its DNS name stops
/// resolving) and rebooted (open sessions cut), so no write made after the snapshot can be lost;
/// cutover then gives the name to the encrypted database.
#[tokio::test]
async fn consistent_mode_fences_writers_before_the_snapshot() {
    let Orders { _moto, proxy, rds, key_arn, alias, .. } = Orders::seed().await;

    let plan = encrypt(&proxy, &["plan", "--db", "orders", "--kms-key", &alias, "--consistent"]);
    ok(&plan, "plan");
    assert!(plan.stdout.contains("no write after the snapshot is lost"), "{}", plan.stdout);

    let start = encrypt(&proxy, &["start", "--db", "orders", "--kms-key", &alias, "--consistent", "--wait"]);
    ok(&start, "start");
    assert!(start.stdout.contains("ready for cutover"), "{}", start.stdout);
    let order: Vec<String> = proxy
        .requests()
        .iter()
        .filter(|r| ["ModifyDBInstance", "RebootDBInstance", "CreateDBSnapshot"].contains(&r.action.as_str()))
        .map(|r| r.action.clone())
        .collect();
    assert_eq!(order[..3], ["ModifyDBInstance", "RebootDBInstance", "CreateDBSnapshot"], "fenced first: {order:?}");
    let fence = &proxy.calls_of("ModifyDBInstance")[0];
    assert_eq!(fence.param("DBInstanceIdentifier"), Some("orders"));
    assert!(fence.param("NewDBInstanceIdentifier").is_some_and(|n| n.starts_with("orders-unencrypted-")), "{fence:#?}");
    assert!(instance(&rds, "orders").await.is_none(), "no database answers to the name orders until cutover");

    let cutover = encrypt(&proxy, &["cutover", "--db", "orders", "--yes", "--wait"]);
    ok(&cutover, "cutover");
    let new = instance(&rds, "orders").await.expect("orders exists again");
    assert_eq!(new.kms_key_id(), Some(key_arn.as_str()));
    let everything = all_instances(&rds).await;
    let old = everything
        .iter()
        .find(|d| d.db_instance_identifier().is_some_and(|id| id.starts_with("orders-unencrypted-")))
        .expect("kept");
    assert_eq!(old.db_instance_status(), Some("stopped"));
}

/// Marks the unencrypted replicas of `primary` as replicas of its renamed self, as AWS shows it after a
/// rename (moto keeps the old name in ReadReplicaSourceDBInstanceIdentifier).
fn aws_follows_the_primary_rename(proxy: &FaultProxy, primary: &'static str) {
    proxy.rewrite(On::action("DescribeDBInstances"), move |_, body| {
        let parked = body
            .split("<DBInstanceIdentifier>")
            .skip(1)
            .filter_map(|rest| rest.split('<').next())
            .find(|id| id.starts_with(&format!("{primary}-unencrypted-")))
            .map(str::to_owned);
        let Some(parked) = parked else { return body.to_owned() };
        let mut out = String::new();
        for (n, part) in body.split("<DBInstance>").enumerate() {
            if n > 0 {
                out.push_str("<DBInstance>");
            }
            let old_replica = part.contains("<StorageEncrypted>false</StorageEncrypted>")
                && part.contains(&format!(
                    "<ReadReplicaSourceDBInstanceIdentifier>{primary}</ReadReplicaSourceDBInstanceIdentifier>"
                ));
            if old_replica && !part.contains(&format!("<DBInstanceIdentifier>{primary}</DBInstanceIdentifier>")) {
                out.push_str(&part.replace(
                    &format!(
                        "<ReadReplicaSourceDBInstanceIdentifier>{primary}</ReadReplicaSourceDBInstanceIdentifier>"
                    ),
                    &format!("<ReadReplicaSourceDBInstanceIdentifier>{parked}</ReadReplicaSourceDBInstanceIdentifier>"),
                ));
            } else {
                out.push_str(part);
            }
        }
        out
    });
}

/// A read replica of an unencrypted source cannot be encrypted: at cutover it is renamed away
/// (kept) and recreated, with its name, from the new encrypted primary.
#[tokio::test]
async fn read_replicas_are_recreated_from_the_encrypted_primary() {
    let Orders { _moto, proxy, rds, alias, .. } = Orders::seed().await;
    rds.create_db_instance_read_replica()
        .db_instance_identifier("orders-replica")
        .source_db_instance_identifier("orders")
        .db_instance_class("db.m6g.large")
        .send()
        .await
        .expect("replica");
    aws_follows_the_primary_rename(&proxy, "orders");

    let plan = encrypt(&proxy, &["plan", "--db", "orders", "--kms-key", &alias]);
    ok(&plan, "plan");
    assert!(plan.stdout.contains("recreate the read replicas orders-replica"), "{}", plan.stdout);
    ok(&encrypt(&proxy, &["start", "--db", "orders", "--kms-key", &alias, "--wait"]), "start");
    let cutover = encrypt(&proxy, &["cutover", "--db", "orders", "--yes", "--wait"]);
    ok(&cutover, "cutover");

    let replicas = proxy.calls_of("CreateDBInstanceReadReplica");
    assert_eq!(replicas.len(), 1, "{:#?}", proxy.actions());
    assert_eq!(replicas[0].param("SourceDBInstanceIdentifier"), Some("orders"));
    assert_eq!(replicas[0].param("DBInstanceIdentifier"), Some("orders-replica"));
    let new = instance(&rds, "orders-replica").await.expect("the replica has its name again");
    assert_eq!(new.read_replica_source_db_instance_identifier(), Some("orders"));
    let names: Vec<String> =
        all_instances(&rds).await.iter().filter_map(|d| d.db_instance_identifier()).map(str::to_owned).collect();
    assert!(names.iter().any(|n| n.starts_with("orders-replica-unencrypted-")), "the old replica is kept: {names:?}");
}

/// `--account` with `--role`: the migration runs in the member account through the assumed role
/// (moto keeps one estate per account: the database exists only in the member's).
#[tokio::test]
async fn a_member_accounts_database_is_migrated_through_the_assumed_role() {
    const MEMBER: &str = "111122223333";
    let moto = MotoServer::start();
    let proxy = FaultProxy::in_front_of(&moto);
    let member = moto.sdk_config_for_account(MEMBER, HOME_REGION).await;
    let rds = aws_sdk_rds::Client::new(&member);
    let network = create_app_network_with(&member, &rds).await;
    create_unencrypted_postgres(&rds, "orders", &network).await;
    let key = create_kms_key_in(&moto, MEMBER, "orders-data").await;

    let args = ["--db", "orders", "--account", MEMBER, "--role", "rdsguard-remediation-cli"];
    let plan = encrypt(&proxy, &[&["plan", "--kms-key", &key.1][..], &args].concat());
    ok(&plan, "plan");
    assert!(plan.stdout.contains("orders-private-subnets"), "{}", plan.stdout);
    let assumed: Vec<String> =
        proxy.calls_of("AssumeRole").iter().filter_map(|r| r.param("RoleArn").map(str::to_owned)).collect();
    assert!(!assumed.is_empty(), "the role is assumed");
    assert!(
        assumed.iter().all(|arn| *arn == format!("arn:aws:iam::{MEMBER}:role/rdsguard-remediation-cli")),
        "only the named role in the named account: {assumed:?}"
    );

    ok(&encrypt(&proxy, &[&["start", "--kms-key", &key.1, "--wait"][..], &args].concat()), "start");
    ok(&encrypt(&proxy, &[&["cutover", "--yes", "--wait"][..], &args].concat()), "cutover");
    let new = instance(&rds, "orders").await.expect("orders in the member account");
    assert_eq!(new.storage_encrypted(), Some(true));
    assert_eq!(new.kms_key_id(), Some(key.0.as_str()));
}
