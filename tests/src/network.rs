//! Security groups on moto: groups with ingress rules in front of databases, and network-guard
//! wired as its `main` wires it.

use std::sync::Arc;

use network_guard::NetworkGuard;
use rdsguard::aws::{NetworkConnector, SessionNetworkConnector};

use crate::estate::NewInstance;
use crate::Estate;

/// An ingress rule as a test reads it back: (rule id, source, from port, to port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRule {
    pub rule_id: String,
    pub source: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
}

impl Estate {
    pub async fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.moto.sdk_config(region).await)
    }

    /// A security group in the region's default VPC, tagged with `tags`.
    pub async fn create_security_group(&self, ec2: &aws_sdk_ec2::Client, name: &str, tags: &[(&str, &str)]) -> String {
        let id = ec2
            .create_security_group()
            .group_name(name)
            .description(format!("{name} (rdsguard test)"))
            .send()
            .await
            .expect("create security group")
            .group_id
            .expect("group id");
        if !tags.is_empty() {
            let tags = tags.iter().map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(*k).value(*v).build());
            ec2.create_tags().resources(&id).set_tags(Some(tags.collect())).send().await.expect("tag group");
        }
        id
    }

    /// Adds one ingress rule per source: tcp `from`-`to` (or all traffic for protocol "-1").
    pub async fn authorize(
        &self,
        ec2: &aws_sdk_ec2::Client,
        group_id: &str,
        protocol: &str,
        (from, to): (i32, i32),
        sources: &[&str],
    ) {
        use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range};
        let mut permission = IpPermission::builder().ip_protocol(protocol);
        if protocol != "-1" {
            permission = permission.from_port(from).to_port(to);
        }
        for source in sources {
            permission = if source.contains(':') {
                permission.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(*source).build())
            } else {
                permission.ip_ranges(IpRange::builder().cidr_ip(*source).build())
            };
        }
        ec2.authorize_security_group_ingress()
            .group_id(group_id)
            .ip_permissions(permission.build())
            .send()
            .await
            .expect("authorize ingress");
    }

    /// Revokes `protocol` `from`-`to` from each IPv4 `source` (someone else's revoke, in tests).
    pub async fn revoke(&self, ec2: &aws_sdk_ec2::Client, group_id: &str, (from, to): (i32, i32), sources: &[&str]) {
        use aws_sdk_ec2::types::{IpPermission, IpRange};
        let mut permission = IpPermission::builder().ip_protocol("tcp").from_port(from).to_port(to);
        for source in sources {
            permission = permission.ip_ranges(IpRange::builder().cidr_ip(*source).build());
        }
        ec2.revoke_security_group_ingress()
            .group_id(group_id)
            .ip_permissions(permission.build())
            .send()
            .await
            .expect("revoke ingress");
    }

    /// The group's ingress rules as EC2 reports them now.
    pub async fn ingress_rules(&self, ec2: &aws_sdk_ec2::Client, group_id: &str) -> Vec<ReadRule> {
        let filter = aws_sdk_ec2::types::Filter::builder().name("group-id").values(group_id).build();
        let rules = ec2
            .describe_security_group_rules()
            .filters(filter)
            .send()
            .await
            .expect("describe rules")
            .security_group_rules
            .unwrap_or_default();
        rules
            .into_iter()
            .filter(|r| r.is_egress != Some(true))
            .map(|r| ReadRule {
                rule_id: r.security_group_rule_id.unwrap_or_default(),
                source: r
                    .cidr_ipv4
                    .or(r.cidr_ipv6)
                    .or(r.referenced_group_info.and_then(|g| g.group_id))
                    .unwrap_or_default(),
                from_port: r.from_port,
                to_port: r.to_port,
            })
            .collect()
    }

    /// A DB instance behind `groups`.
    pub async fn create_instance_in_groups(
        &self,
        rds: &aws_sdk_rds::Client,
        new: &NewInstance<'_>,
        port: Option<i32>,
        groups: &[&str],
    ) {
        rds.create_db_instance()
            .db_instance_identifier(new.id)
            .db_instance_class("db.t3.micro")
            .engine(new.engine)
            .master_username("root")
            .master_user_password("huEE33z2Qvl383")
            .allocated_storage(20)
            .publicly_accessible(new.public)
            .storage_encrypted(new.encrypted)
            .set_kms_key_id(new.kms_key_id.map(str::to_owned))
            .set_port(port)
            .set_vpc_security_group_ids(Some(groups.iter().map(|g| (*g).to_owned()).collect()))
            .send()
            .await
            .expect("create instance in groups");
    }

    /// network-guard wired exactly as its `main` wires it, against moto, with extra settings.
    pub async fn network_guard(&self, settings: &[(&str, &str)]) -> NetworkGuard {
        let policy = self.policy(settings);
        let plumbing = self.plumbing(&policy).await;
        let network: Arc<dyn NetworkConnector> = Arc::new(SessionNetworkConnector::new(plumbing.sessions));
        self.network_guard_with(policy, network, plumbing.alerting)
    }

    /// network-guard with its AWS access replaced (to stage races against the real one).
    pub fn network_guard_with(
        &self,
        policy: rdsguard::policy::Policy,
        network: Arc<dyn NetworkConnector>,
        alerting: rdsguard::report::Alerting,
    ) -> NetworkGuard {
        NetworkGuard { policy, network, alerting, confirmation: Default::default() }
    }
}
