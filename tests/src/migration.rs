//! Seeding for the encryption-migration tests (`rdsguard encrypt`): a KMS key (moto's KMS, through
//! its JSON protocol: the suite itself never calls KMS, RDS does on its behalf), and an unencrypted
//! database with every setting a migration must carry: its own subnet group, two security groups, a
//! custom parameter group, tags and IAM authentication.

use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_rds::types::Tag;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use crate::estate::HOME_REGION;
use crate::MotoServer;

/// One call of moto's KMS (JSON 1.1 protocol; moto does not check the signature).
async fn kms(moto: &MotoServer, access_key: &str, target: &str, body: Value) -> Value {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let request = hyper::Request::post(format!("{}/", moto.endpoint()))
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("X-Amz-Target", format!("TrentService.{target}"))
        .header(
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={access_key}/20261201/{HOME_REGION}/kms/aws4_request, SignedHeaders=host, Signature=0"
            ),
        )
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("KMS request");
    let response = client.request(request).await.expect("KMS answers");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("KMS body").to_bytes();
    assert!(status.is_success(), "KMS {target}: {status} {}", String::from_utf8_lossy(&bytes));
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// A customer-managed key in HOME_REGION with `alias`: (key ARN, alias name).
pub async fn create_kms_key(moto: &MotoServer, alias: &str) -> (String, String) {
    create_key(moto, "testing", alias).await
}

/// The same in `account` (moto's KMS in that account, reached with an assumed role's key).
pub async fn create_kms_key_in(moto: &MotoServer, account: &str, alias: &str) -> (String, String) {
    let config = moto.sdk_config_for_account(account, HOME_REGION).await;
    let provider = config.credentials_provider().expect("credentials");
    let credentials = provider.provide_credentials().await.expect("assumed-role credentials");
    create_key(moto, credentials.access_key_id(), alias).await
}

async fn create_key(moto: &MotoServer, access_key: &str, alias: &str) -> (String, String) {
    let key = kms(moto, access_key, "CreateKey", json!({ "Description": "rdsguard migration test key" })).await;
    let arn = key["KeyMetadata"]["Arn"].as_str().expect("key ARN").to_owned();
    let id = key["KeyMetadata"]["KeyId"].as_str().expect("key id").to_owned();
    let alias = format!("alias/{alias}");
    kms(moto, access_key, "CreateAlias", json!({ "AliasName": alias, "TargetKeyId": id })).await;
    (arn, alias)
}

/// The network and parameter group an application database lives in.
pub struct AppNetwork {
    pub subnet_group: String,
    /// Two security groups, sorted.
    pub security_groups: Vec<String>,
    pub parameter_group: String,
    pub cluster_parameter_group: String,
}

pub async fn create_app_network(moto: &MotoServer, rds: &aws_sdk_rds::Client) -> AppNetwork {
    create_app_network_with(&moto.sdk_config(HOME_REGION).await, rds).await
}

/// The same with `config`'s credentials (another account's, for example).
pub async fn create_app_network_with(config: &aws_config::SdkConfig, rds: &aws_sdk_rds::Client) -> AppNetwork {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let vpc = ec2.create_vpc().cidr_block("10.40.0.0/16").send().await.expect("vpc").vpc.expect("vpc");
    let vpc_id = vpc.vpc_id().expect("vpc id").to_owned();
    let mut subnets = Vec::new();
    for (cidr, zone) in [("10.40.1.0/24", "us-east-1a"), ("10.40.2.0/24", "us-east-1b")] {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(cidr)
            .availability_zone(zone)
            .send()
            .await
            .expect("subnet")
            .subnet
            .expect("subnet");
        subnets.push(subnet.subnet_id().expect("subnet id").to_owned());
    }
    let subnet_group = "orders-private-subnets".to_owned();
    rds.create_db_subnet_group()
        .db_subnet_group_name(&subnet_group)
        .db_subnet_group_description("the application's private subnets")
        .set_subnet_ids(Some(subnets))
        .send()
        .await
        .expect("subnet group");
    let mut security_groups = Vec::new();
    for name in ["orders-db-app", "orders-db-admin"] {
        let group = ec2
            .create_security_group()
            .group_name(name)
            .description(name)
            .vpc_id(&vpc_id)
            .send()
            .await
            .expect("security group");
        security_groups.push(group.group_id().expect("group id").to_owned());
    }
    security_groups.sort();
    let parameter_group = "orders-postgres14".to_owned();
    rds.create_db_parameter_group()
        .db_parameter_group_name(&parameter_group)
        .db_parameter_group_family("postgres14")
        .description("the application's settings")
        .send()
        .await
        .expect("parameter group");
    let cluster_parameter_group = "ledger-aurora-postgresql15".to_owned();
    rds.create_db_cluster_parameter_group()
        .db_cluster_parameter_group_name(&cluster_parameter_group)
        .db_parameter_group_family("aurora-postgresql15")
        .description("the application's cluster settings")
        .send()
        .await
        .expect("cluster parameter group");
    AppNetwork { subnet_group, security_groups, parameter_group, cluster_parameter_group }
}

pub const APP_TAGS: [(&str, &str); 2] = [("team", "payments"), ("cost-center", "cc-4711")];

/// An unencrypted postgres instance with every setting set away from its default.
pub async fn create_unencrypted_postgres(rds: &aws_sdk_rds::Client, id: &str, network: &AppNetwork) {
    let mut request = rds
        .create_db_instance()
        .db_instance_identifier(id)
        .db_instance_class("db.m6g.large")
        .engine("postgres")
        .engine_version("14.6")
        .master_username("app_owner")
        .master_user_password("huEE33z2Qvl383")
        .allocated_storage(50)
        .storage_type("gp3")
        .port(5433)
        .db_subnet_group_name(&network.subnet_group)
        .set_vpc_security_group_ids(Some(network.security_groups.clone()))
        .db_parameter_group_name(&network.parameter_group)
        .enable_iam_database_authentication(true)
        .backup_retention_period(9)
        .preferred_backup_window("03:10-03:40")
        .preferred_maintenance_window("sun:05:00-sun:05:30")
        .copy_tags_to_snapshot(true)
        .enable_cloudwatch_logs_exports("postgresql")
        .storage_encrypted(false);
    for (key, value) in APP_TAGS {
        request = request.tags(Tag::builder().key(key).value(value).build());
    }
    request.send().await.expect("create the unencrypted instance");
}

/// An unencrypted Aurora PostgreSQL cluster with two members (writer and reader, different
/// promotion tiers).
pub async fn create_unencrypted_aurora(rds: &aws_sdk_rds::Client, id: &str, network: &AppNetwork) -> Vec<String> {
    let mut request = rds
        .create_db_cluster()
        .db_cluster_identifier(id)
        .engine("aurora-postgresql")
        .engine_version("15.4")
        .master_username("app_owner")
        .master_user_password("huEE33z2Qvl383")
        .db_subnet_group_name(&network.subnet_group)
        .set_vpc_security_group_ids(Some(network.security_groups.clone()))
        .db_cluster_parameter_group_name(&network.cluster_parameter_group)
        .enable_iam_database_authentication(true)
        .backup_retention_period(9)
        .port(5433)
        .copy_tags_to_snapshot(true)
        .storage_encrypted(false);
    for (key, value) in APP_TAGS {
        request = request.tags(Tag::builder().key(key).value(value).build());
    }
    request.send().await.expect("create the unencrypted cluster");
    let mut members = Vec::new();
    for (n, (class, tier)) in [("db.r6g.large", 0), ("db.r6g.xlarge", 2)].into_iter().enumerate() {
        let member = format!("{id}-{}", n + 1);
        rds.create_db_instance()
            .db_instance_identifier(&member)
            .db_cluster_identifier(id)
            .engine("aurora-postgresql")
            .db_instance_class(class)
            .promotion_tier(tier)
            .send()
            .await
            .expect("create a cluster member");
        members.push(member);
    }
    members
}
