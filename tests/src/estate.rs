//! A small AWS estate on moto: databases to guard, the alert topic, and a queue subscribed to it
//! so tests and the demo can read the alerts that were really published.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_rds::types::{DbCluster, DbInstance, Tag};
use rds_guard::RdsGuard;
use rdsguard::aws::SessionRdsConnector;
use rdsguard::policy::Policy;
use rdsguard::startup::Plumbing;
use serde_json::Value;

use crate::{FaultProxy, MotoServer};

pub const HOME_REGION: &str = "us-east-1";

pub struct Estate {
    pub moto: MotoServer,
    pub topic_arn: String,
    pub queue_url: String,
    /// Stands in for the stack's dead-letter queue (UNDELIVERED_ALERTS_QUEUE_URL).
    pub dead_letter_queue_url: String,
}

/// An alert as a subscriber receives it.
#[derive(Debug, Clone)]
pub struct ReceivedAlert {
    pub subject: String,
    pub body: Value,
    pub attributes: BTreeMap<String, String>,
}

impl ReceivedAlert {
    pub fn rule(&self) -> &str {
        self.body["rule"].as_str().unwrap_or_default()
    }

    pub fn action_status(&self) -> &str {
        self.body["action"]["status"].as_str().unwrap_or_default()
    }
}

/// A database to seed.
#[derive(Debug, Clone)]
pub struct NewInstance<'a> {
    pub id: &'a str,
    pub engine: &'a str,
    pub public: bool,
    pub encrypted: bool,
    /// The KMS key of an encrypted database (`None`: moto's own default, `default_kms_key_id`; AWS
    /// would use `aws/rds`).
    pub kms_key_id: Option<&'a str>,
    pub tags: &'a [(&'a str, &'a str)],
    /// `true`: everything the rulebook asks for besides `public`/`encrypted` (deletion protection,
    /// 7 days of backups, IAM authentication, a Secrets Manager master password, a custom admin
    /// name, logs to CloudWatch Logs). `false`: the seeds' instance (no deletion protection,
    /// backups off, master user `root` with a plain password).
    pub hardened: bool,
}

impl<'a> NewInstance<'a> {
    pub fn postgres(id: &'a str) -> Self {
        Self { id, engine: "postgres", public: false, encrypted: true, kms_key_id: None, tags: &[], hardened: true }
    }

    /// The seeds' instance: backup retention 0, no deletion protection, master user root.
    pub fn seed(id: &'a str) -> Self {
        Self { hardened: false, ..Self::postgres(id) }
    }
}

impl Estate {
    /// Starts moto and creates the alert topic (KMS-encrypted, like template.yaml's) with a queue
    /// subscribed to it.
    pub async fn start() -> Self {
        let moto = MotoServer::start();
        let config = moto.sdk_config(HOME_REGION).await;
        let sns = aws_sdk_sns::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let topic_arn = sns
            .create_topic()
            .name("rdsguard-alerts")
            .attributes("KmsMasterKeyId", "alias/aws/sns")
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .expect("topic arn");
        let queue_url = sqs
            .create_queue()
            .queue_name("security-team-inbox")
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("url");
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
            .expect("queue arn");
        sns.subscribe().topic_arn(&topic_arn).protocol("sqs").endpoint(queue_arn).send().await.expect("subscribe");
        let dead_letter_queue_url =
            sqs.create_queue().queue_name("rdsguard-dlq").send().await.expect("create DLQ").queue_url.expect("url");
        Self { moto, topic_arn, queue_url, dead_letter_queue_url }
    }

    pub async fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.moto.sdk_config(region).await)
    }

    pub async fn rds_in_account(&self, account: &str, region: &str) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.moto.sdk_config_for_account(account, region).await)
    }

    /// Creates PostgreSQL 14 parameter group `name` with `rds.force_ssl` set to `force_ssl`.
    pub async fn create_postgres_parameter_group(&self, rds: &aws_sdk_rds::Client, name: &str, force_ssl: &str) {
        rds.create_db_parameter_group()
            .db_parameter_group_name(name)
            .db_parameter_group_family("postgres14")
            .description(name)
            .send()
            .await
            .expect("create parameter group");
        self.set_force_ssl(rds, name, force_ssl).await;
    }

    /// Sets `rds.force_ssl` to `value` in parameter group `name` (immediately), as someone would.
    pub async fn set_force_ssl(&self, rds: &aws_sdk_rds::Client, name: &str, value: &str) {
        let parameter = aws_sdk_rds::types::Parameter::builder()
            .parameter_name("rds.force_ssl")
            .parameter_value(value)
            .apply_method(aws_sdk_rds::types::ApplyMethod::Immediate)
            .build();
        rds.modify_db_parameter_group()
            .db_parameter_group_name(name)
            .parameters(parameter)
            .send()
            .await
            .expect("set rds.force_ssl");
    }

    pub async fn create_instance(&self, rds: &aws_sdk_rds::Client, new: &NewInstance<'_>) -> DbInstance {
        let request = rds
            .create_db_instance()
            .db_instance_identifier(new.id)
            .db_instance_class("db.t3.micro")
            .engine(new.engine)
            .set_engine_version((new.engine == "postgres").then(|| "14.6".to_owned()))
            .allocated_storage(20)
            .publicly_accessible(new.public)
            .storage_encrypted(new.encrypted)
            .set_kms_key_id(new.kms_key_id.map(str::to_owned));
        let mut request = if new.hardened {
            let log = if new.engine.contains("postgres") { "postgresql" } else { "error" };
            request
                .master_username("app_owner")
                .manage_master_user_password(true)
                .backup_retention_period(7)
                .deletion_protection(true)
                .enable_iam_database_authentication(true)
                .enable_cloudwatch_logs_exports(log)
                .auto_minor_version_upgrade(true)
        } else {
            request
                .master_username("root")
                .master_user_password("huEE33z2Qvl383")
                .backup_retention_period(0)
                .deletion_protection(false)
        };
        for (key, value) in new.tags {
            request = request.tags(Tag::builder().key(*key).value(*value).build());
        }
        request.send().await.expect("create instance").db_instance.expect("instance")
    }

    pub async fn create_aurora_cluster(&self, rds: &aws_sdk_rds::Client, id: &str, encrypted: bool) -> DbCluster {
        rds.create_db_cluster()
            .db_cluster_identifier(id)
            .engine("aurora-postgresql")
            .master_username("app_owner")
            .manage_master_user_password(true)
            .backup_retention_period(7)
            .deletion_protection(true)
            .enable_iam_database_authentication(true)
            .enable_cloudwatch_logs_exports("postgresql")
            .storage_encrypted(encrypted)
            .send()
            .await
            .expect("create cluster")
            .db_cluster
            .expect("cluster")
    }

    pub async fn instance(&self, rds: &aws_sdk_rds::Client, id: &str) -> Option<DbInstance> {
        rds.describe_db_instances().db_instance_identifier(id).send().await.ok()?.db_instances.unwrap_or_default().pop()
    }

    pub async fn cluster(&self, rds: &aws_sdk_rds::Client, id: &str) -> Option<DbCluster> {
        rds.describe_db_clusters().db_cluster_identifier(id).send().await.ok()?.db_clusters.unwrap_or_default().pop()
    }

    /// Drains the subscribed queue: every alert published so far, in order.
    pub async fn alerts(&self) -> Vec<ReceivedAlert> {
        let sqs = aws_sdk_sqs::Client::new(&self.moto.sdk_config(HOME_REGION).await);
        let mut alerts = Vec::new();
        loop {
            let messages = sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive")
                .messages
                .unwrap_or_default();
            if messages.is_empty() {
                return alerts;
            }
            for message in messages {
                let envelope: Value = serde_json::from_str(message.body().unwrap_or("{}")).expect("SNS envelope");
                let body = serde_json::from_str(envelope["Message"].as_str().unwrap_or("null")).expect("alert JSON");
                let attributes = envelope["MessageAttributes"]
                    .as_object()
                    .map(|m| {
                        m.iter().map(|(k, v)| (k.clone(), v["Value"].as_str().unwrap_or_default().to_owned())).collect()
                    })
                    .unwrap_or_default();
                alerts.push(ReceivedAlert {
                    subject: envelope["Subject"].as_str().unwrap_or_default().to_owned(),
                    body,
                    attributes,
                });
                if let Some(handle) = message.receipt_handle() {
                    sqs.delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("delete");
                }
            }
        }
    }

    /// Bodies of the messages in the dead-letter queue (drained).
    pub async fn dead_letters(&self) -> Vec<Value> {
        let sqs = aws_sdk_sqs::Client::new(&self.moto.sdk_config(HOME_REGION).await);
        let messages = sqs
            .receive_message()
            .queue_url(&self.dead_letter_queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        messages.iter().map(|m| serde_json::from_str(m.body().unwrap_or("null")).expect("JSON body")).collect()
    }

    /// rds-guard wired exactly as its `main` wires it, against moto, with extra settings.
    pub async fn rds_guard(&self, settings: &[(&str, &str)]) -> RdsGuard {
        self.rds_guard_with_policy(self.policy(settings)).await
    }

    /// rds-guard whose AWS calls go through `proxy` (to record them, fault them or rewrite answers);
    /// the Estate helpers keep talking to moto directly.
    pub async fn rds_guard_through(&self, proxy: &FaultProxy, settings: &[(&str, &str)]) -> RdsGuard {
        let policy = self.policy(settings);
        let plumbing = Plumbing::new(policy.clone(), proxy.sdk_config(HOME_REGION).await);
        RdsGuard {
            policy,
            rds: Arc::new(SessionRdsConnector::new(plumbing.sessions)),
            alerting: plumbing.alerting,
            confirmation: rdsguard::remediate::Confirmation {
                attempts: 2,
                delay: std::time::Duration::from_millis(50),
            },
        }
    }

    pub async fn rds_guard_with_policy(&self, policy: Policy) -> RdsGuard {
        let plumbing = self.plumbing(&policy).await;
        let rds = SessionRdsConnector::new(plumbing.sessions);
        RdsGuard { policy, rds: Arc::new(rds), alerting: plumbing.alerting, confirmation: Default::default() }
    }

    /// The policy a function reads from its environment, with the stack's topic and dead-letter
    /// queue and extra `settings`.
    pub fn policy(&self, settings: &[(&str, &str)]) -> Policy {
        Policy::from_vars(self.variables(settings)).expect("policy")
    }

    /// The variables a function reads: the stack's topic and dead-letter queue, and `settings`.
    pub fn variables(&self, settings: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut vars = vec![
            ("ALERT_TOPIC_ARN".to_owned(), self.topic_arn.clone()),
            ("UNDELIVERED_ALERTS_QUEUE_URL".to_owned(), self.dead_letter_queue_url.clone()),
        ];
        vars.extend(settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        vars
    }

    /// What every function's `main` builds from the policy ([`Plumbing`]), against moto.
    pub async fn plumbing(&self, policy: &Policy) -> Plumbing {
        Plumbing::new(policy.clone(), self.moto.sdk_config(HOME_REGION).await)
    }
}
