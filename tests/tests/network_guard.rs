//! network-guard end to end against moto server with the real SDK: security groups and databases
//! are created in moto, the event AWS would send is handed to the real handler, and the tests look
//! at what a user would see — the group's rules afterwards and the alerts that arrived.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use network_guard::handle_event;
use rdsguard::aws::{
    AwsError, NetworkConnector, NetworkPorts, SecurityGroupInventory, SecurityGroupRemediation, SessionError,
    SessionNetworkConnector,
};
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::network::{GroupRef, IngressRule, SecurityGroup};
use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::events::{authorize_ingress, modify_security_group_rule, rds_api_call};
use rdsguard_tests::network::ReadRule;
use rdsguard_tests::{Estate, ReceivedAlert, MOTO_ACCOUNT};
use serde_json::json;

const POSTGRES: (i32, i32) = (5432, 5432);

fn sources(rules: &[ReadRule]) -> Vec<&str> {
    let mut sources: Vec<&str> = rules.iter().map(|r| r.source.as_str()).collect();
    sources.sort_unstable();
    sources
}

fn alert_for<'a>(alerts: &'a [ReceivedAlert], cidr: &str) -> &'a ReceivedAlert {
    alerts
        .iter()
        .find(|a| a.body["observed"]["rule"]["source"] == cidr)
        .unwrap_or_else(|| panic!("no alert for {cidr}: {alerts:#?}"))
}

/// A postgres instance behind a group open on 5432 to 0.0.0.0/0, ::/0 and 10.0.0.0/16.
async fn open_postgres(estate: &Estate, settings_tags: &[(&str, &str)]) -> String {
    let ec2 = estate.ec2(HOME_REGION).await;
    let rds = estate.rds(HOME_REGION).await;
    let group = estate.create_security_group(&ec2, "orders-db", settings_tags).await;
    estate.authorize(&ec2, &group, "tcp", POSTGRES, &["0.0.0.0/0", "::/0", "10.0.0.0/16"]).await;
    estate.create_instance_in_groups(&rds, &NewInstance::postgres("orders-db"), None, &[&group]).await;
    group
}

#[tokio::test]
async fn world_open_rules_on_the_database_port_are_revoked_and_the_private_one_stays() {
    let estate = Estate::start().await;
    let group = open_postgres(&estate, &[]).await;
    let guard = estate.network_guard(&[]).await;

    let event = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 5432, &["0.0.0.0/0", "::/0"]);
    let summary = handle_event(&event, &guard).await.expect("handled");

    let ec2 = estate.ec2(HOME_REGION).await;
    assert_eq!(sources(&estate.ingress_rules(&ec2, &group).await), ["10.0.0.0/16"]);
    assert_eq!(summary.findings.len(), 2, "{summary:#?}");
    assert_eq!(summary.detail.requested.len(), 2, "the call's claim is reported: {:?}", summary.detail.requested);
    assert_eq!(summary.detail.groups[0].databases[0].identifier, "orders-db");
    assert_eq!(summary.detail.groups[0].ports_judged, [5432]);

    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 2, "one alert per offending rule: {alerts:#?}");
    for cidr in ["0.0.0.0/0", "::/0"] {
        let alert = alert_for(&alerts, cidr);
        let body = &alert.body;
        assert_eq!(body["rule"], "EC2.19");
        assert_eq!(body["severity"], "CRITICAL");
        assert_eq!(body["account"], MOTO_ACCOUNT);
        assert_eq!(body["region"], HOME_REGION);
        assert_eq!(body["resource_type"], "AWS::EC2::SecurityGroup");
        assert_eq!(body["resource_id"], group.as_str());
        assert_eq!(body["resource"], format!("arn:aws:ec2:{HOME_REGION}:{MOTO_ACCOUNT}:security-group/{group}"));
        assert_eq!(body["actor"], format!("arn:aws:iam::{MOTO_ACCOUNT}:user/andrew"));
        assert_eq!(body["event_name"], "AuthorizeSecurityGroupIngress");
        assert_eq!(body["source"], "network-guard");
        let observed = &body["observed"];
        assert!(observed["rule"]["security_group_rule_id"].as_str().unwrap().starts_with("sgr-"));
        assert_eq!(
            (observed["rule"]["from_port"].as_i64(), observed["rule"]["to_port"].as_i64()),
            (Some(5432), Some(5432))
        );
        assert_eq!(observed["database_ports_admitted"], json!([5432]));
        assert_eq!(observed["group"]["id"], group.as_str());
        assert_eq!(observed["databases_exposed"][0]["identifier"], "orders-db");
        assert_eq!(observed["databases_exposed"][0]["port"], 5432);
        assert_eq!(body["action"]["kind"], "revoke_ingress");
        assert_eq!(alert.action_status(), "succeeded", "{body:#}");
        assert!(body["action"]["detail"].as_str().unwrap().contains("confirmed gone"));
        assert_eq!(alert.attributes["severity"], "CRITICAL");
        assert_eq!(alert.attributes["rule"], "EC2.19");
        assert_eq!(alert.attributes["action_status"], "succeeded");
        assert_eq!(
            alert.subject,
            format!("CRITICAL EC2.19 {group} ({MOTO_ACCOUNT}/{HOME_REGION}): 5432 open to {cidr} - succeeded")
        );
        assert!(alert.subject.len() <= 100);
    }
}

#[tokio::test]
async fn the_same_event_again_changes_nothing_and_says_nothing() {
    let estate = Estate::start().await;
    let group = open_postgres(&estate, &[]).await;
    let guard = estate.network_guard(&[]).await;
    let event = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 5432, &["0.0.0.0/0", "::/0"]);

    handle_event(&event, &guard).await.expect("first delivery");
    assert_eq!(estate.alerts().await.len(), 2);
    let again = handle_event(&event, &guard).await.expect("second delivery");

    assert!(again.findings.is_empty(), "{again:#?}");
    assert!(estate.alerts().await.is_empty());
    let ec2 = estate.ec2(HOME_REGION).await;
    assert_eq!(sources(&estate.ingress_rules(&ec2, &group).await), ["10.0.0.0/16"]);
}

#[tokio::test]
async fn a_full_port_range_and_an_all_traffic_rule_are_caught() {
    let estate = Estate::start().await;
    let ec2 = estate.ec2(HOME_REGION).await;
    let rds = estate.rds(HOME_REGION).await;
    let group = estate.create_security_group(&ec2, "wide-open", &[]).await;
    estate.authorize(&ec2, &group, "tcp", (0, 65535), &["0.0.0.0/0"]).await;
    estate.authorize(&ec2, &group, "-1", (0, 0), &["::/0"]).await;
    estate.authorize(&ec2, &group, "tcp", (1024, 2048), &["0.0.0.0/0"]).await;
    estate.create_instance_in_groups(&rds, &NewInstance::postgres("wide-db"), None, &[&group]).await;

    let event = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 0, &["0.0.0.0/0"]);
    let summary = handle_event(&event, &estate.network_guard(&[]).await).await.expect("handled");

    let left = estate.ingress_rules(&ec2, &group).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!((left[0].from_port, left[0].to_port), (Some(1024), Some(2048)), "1024-2048 misses 5432 and stays");
    assert_eq!(summary.findings.len(), 2);
    assert!(estate.alerts().await.iter().all(|a| a.rule() == "EC2.19" && a.action_status() == "succeeded"));
}

#[tokio::test]
async fn a_group_without_databases_is_judged_on_well_known_ports_and_https_is_left_alone() {
    let estate = Estate::start().await;
    let ec2 = estate.ec2(HOME_REGION).await;
    let group = estate.create_security_group(&ec2, "web", &[]).await;
    estate.authorize(&ec2, &group, "tcp", (443, 443), &["0.0.0.0/0", "::/0"]).await;

    let event = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 443, &["0.0.0.0/0", "::/0"]);
    let summary = handle_event(&event, &estate.network_guard(&[]).await).await.expect("handled");

    assert!(summary.findings.is_empty(), "{summary:#?}");
    assert_eq!(summary.detail.groups[0].ingress_rules_checked, 2);
    assert!(summary.detail.groups[0].databases.is_empty());
    assert_eq!(sources(&estate.ingress_rules(&ec2, &group).await), ["0.0.0.0/0", "::/0"]);
    assert!(estate.alerts().await.is_empty());

    // The same group opened on Redis, a well-known database port, is alerted — but no database
    // is behind it, so nothing is revoked.
    estate.authorize(&ec2, &group, "tcp", (6379, 6379), &["0.0.0.0/0"]).await;
    let event = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 6379, &["0.0.0.0/0"]);
    let summary = handle_event(&event, &estate.network_guard(&[]).await).await.expect("handled");
    assert_eq!(summary.findings.len(), 1);
    let alerts = estate.alerts().await;
    assert_eq!(alerts[0].body["observed"]["ports_basis"], "well-known database ports (no database uses the group)");
    assert_eq!(alerts[0].action_status(), "not_attempted");
    assert_eq!(estate.ingress_rules(&ec2, &group).await.len(), 3, "the https rules and the redis rule stay");
}

#[tokio::test]
async fn a_world_open_all_traffic_rule_on_a_group_no_database_uses_is_alerted_and_stays() {
    let estate = Estate::start().await;
    let ec2 = estate.ec2(HOME_REGION).await;
    let group = estate.create_security_group(&ec2, "bastion", &[]).await;
    estate.authorize(&ec2, &group, "-1", (0, 0), &["0.0.0.0/0"]).await;

    // MODE remediate and EC2.19 remediated: the policy would revoke; the missing database does not.
    let event = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 0, &["0.0.0.0/0"]);
    let summary = handle_event(&event, &estate.network_guard(&[("MODE", "remediate")]).await).await.expect("handled");

    assert_eq!(sources(&estate.ingress_rules(&ec2, &group).await), ["0.0.0.0/0"], "the rule is still there");
    assert_eq!(summary.findings.len(), 1, "{summary:#?}");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert.rule(), "EC2.19");
    assert_eq!(alert.action_status(), "not_attempted");
    assert_eq!(alert.body["severity"], "MEDIUM", "lower than a database's CRITICAL");
    assert_eq!(alert.attributes["severity"], "MEDIUM");
    let detail = alert.body["action"]["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("no database uses {group}")), "{detail}");
    assert!(detail.contains("not revoked"), "{detail}");
    assert_eq!(alert.body["observed"]["databases_exposed"], json!([]));
}

#[tokio::test]
async fn two_halves_of_ipv4_in_front_of_a_database_are_both_revoked() {
    let estate = Estate::start().await;
    let ec2 = estate.ec2(HOME_REGION).await;
    let rds = estate.rds(HOME_REGION).await;
    let group = estate.create_security_group(&ec2, "halves", &[]).await;
    estate.authorize(&ec2, &group, "tcp", POSTGRES, &["0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/16"]).await;
    estate.create_instance_in_groups(&rds, &NewInstance::postgres("halves-db"), None, &[&group]).await;

    let event = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 5432, &["0.0.0.0/1", "128.0.0.0/1"]);
    let summary = handle_event(&event, &estate.network_guard(&[("MODE", "remediate")]).await).await.expect("handled");

    assert_eq!(sources(&estate.ingress_rules(&ec2, &group).await), ["10.0.0.0/16"], "the private range stays");
    assert_eq!(summary.findings.len(), 2, "{summary:#?}");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    for cidr in ["0.0.0.0/1", "128.0.0.0/1"] {
        let alert = alert_for(&alerts, cidr);
        assert_eq!(alert.rule(), "EC2.19");
        assert_eq!(alert.body["severity"], "CRITICAL");
        assert_eq!(alert.action_status(), "succeeded", "{:#}", alert.body);
        assert_eq!(
            alert.body["observed"]["whole_internet_by_union"],
            json!(["0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/16"])
        );
        assert_eq!(alert.body["observed"]["databases_exposed"][0]["identifier"], "halves-db");
    }
}

#[tokio::test]
async fn attaching_an_open_group_to_a_database_on_a_non_default_port_closes_that_port() {
    let estate = Estate::start().await;
    let ec2 = estate.ec2(HOME_REGION).await;
    let rds = estate.rds(HOME_REGION).await;
    let group = estate.create_security_group(&ec2, "legacy", &[]).await;
    estate.authorize(&ec2, &group, "tcp", (6543, 6543), &["0.0.0.0/0"]).await;
    estate.authorize(&ec2, &group, "tcp", POSTGRES, &["0.0.0.0/0"]).await;
    estate.create_instance_in_groups(&rds, &NewInstance::postgres("pgbouncer-db"), Some(6543), &[&group]).await;

    let event = rds_api_call(
        "CreateDBInstance",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": "pgbouncer-db", "engine": "postgres", "port": 6543,
               "vpcSecurityGroupIds": [group]}),
        json!({"dBInstanceIdentifier": "pgbouncer-db", "vpcSecurityGroups": [{"vpcSecurityGroupId": group, "status": "active"}]}),
    );
    let summary = handle_event(&event, &estate.network_guard(&[]).await).await.expect("handled");

    assert_eq!(summary.detail.groups[0].ports_judged, [6543], "the database's own port, not the engine default");
    let left = estate.ingress_rules(&ec2, &group).await;
    assert_eq!(left.iter().map(|r| r.from_port).collect::<Vec<_>>(), [Some(5432)], "5432 reaches no database here");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].body["event_name"], "CreateDBInstance");
    assert_eq!(alerts[0].body["observed"]["databases_exposed"][0]["port"], 6543);
}

#[tokio::test]
async fn a_rule_widened_by_modify_security_group_rules_is_revoked() {
    let estate = Estate::start().await;
    let ec2 = estate.ec2(HOME_REGION).await;
    let rds = estate.rds(HOME_REGION).await;
    let group = estate.create_security_group(&ec2, "mysql", &[]).await;
    estate.authorize(&ec2, &group, "tcp", (3306, 3306), &["10.0.0.0/16"]).await;
    estate
        .create_instance_in_groups(
            &rds,
            &NewInstance { engine: "mysql", ..NewInstance::postgres("shop-db") },
            None,
            &[&group],
        )
        .await;
    let rule_id = estate.ingress_rules(&ec2, &group).await[0].rule_id.clone();
    ec2.modify_security_group_rules()
        .group_id(&group)
        .security_group_rules(
            aws_sdk_ec2::types::SecurityGroupRuleUpdate::builder()
                .security_group_rule_id(&rule_id)
                .security_group_rule(
                    aws_sdk_ec2::types::SecurityGroupRuleRequest::builder()
                        .ip_protocol("tcp")
                        .from_port(3306)
                        .to_port(3306)
                        .cidr_ipv4("0.0.0.0/0")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("modify rule");

    let event = modify_security_group_rule(MOTO_ACCOUNT, HOME_REGION, &group, &rule_id, (3306, 3306), "0.0.0.0/0");
    let summary = handle_event(&event, &estate.network_guard(&[]).await).await.expect("handled");

    assert_eq!(summary.findings.len(), 1, "{summary:#?}");
    assert!(estate.ingress_rules(&ec2, &group).await.is_empty());
    let alerts = estate.alerts().await;
    assert_eq!(alerts[0].body["observed"]["rule"]["security_group_rule_id"], rule_id.as_str());
    assert_eq!(alerts[0].body["event_name"], "ModifySecurityGroupRules");
}

#[tokio::test]
async fn an_exempt_group_is_reported_and_left_open() {
    let estate = Estate::start().await;
    let group = open_postgres(&estate, &[("rdsguard:exempt", "EC2.19")]).await;

    let event = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 5432, &["0.0.0.0/0"]);
    handle_event(&event, &estate.network_guard(&[]).await).await.expect("handled");

    let ec2 = estate.ec2(HOME_REGION).await;
    assert_eq!(estate.ingress_rules(&ec2, &group).await.len(), 3);
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 2);
    for alert in &alerts {
        assert_eq!(alert.action_status(), "skipped");
        assert_eq!(alert.body["action"]["detail"], "exempt: resource is tagged rdsguard:exempt=EC2.19");
    }
}

#[tokio::test]
async fn alert_mode_changes_nothing() {
    let estate = Estate::start().await;
    let group = open_postgres(&estate, &[]).await;

    let event = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 5432, &["0.0.0.0/0", "::/0"]);
    handle_event(&event, &estate.network_guard(&[("MODE", "alert")]).await).await.expect("handled");

    let ec2 = estate.ec2(HOME_REGION).await;
    assert_eq!(estate.ingress_rules(&ec2, &group).await.len(), 3);
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 2);
    assert!(alerts.iter().all(|a| a.action_status() == "not_attempted"), "{alerts:#?}");
}

#[tokio::test]
async fn sources_outside_allowed_cidrs_are_reported_and_known_ones_are_not() {
    let estate = Estate::start().await;
    let ec2 = estate.ec2(HOME_REGION).await;
    let rds = estate.rds(HOME_REGION).await;
    let group = estate.create_security_group(&ec2, "office-db", &[]).await;
    estate.authorize(&ec2, &group, "tcp", POSTGRES, &["203.0.113.0/25", "198.51.100.0/24"]).await;
    estate.create_instance_in_groups(&rds, &NewInstance::postgres("office-db"), None, &[&group]).await;

    let settings = [("ALLOWED_CIDRS", "203.0.113.0/24")];
    let event = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 5432, &["198.51.100.0/24"]);
    handle_event(&event, &estate.network_guard(&settings).await).await.expect("handled");

    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule(), "RDSGUARD.SG_SOURCE");
    assert_eq!(alerts[0].body["severity"], "HIGH");
    assert_eq!(alerts[0].body["observed"]["rule"]["source"], "198.51.100.0/24");
    assert_eq!(alerts[0].action_status(), "not_attempted", "RDSGUARD.SG_SOURCE alerts by default");
    assert_eq!(estate.ingress_rules(&ec2, &group).await.len(), 2);

    // Switched to remediate, the unlisted source is revoked and the office range stays.
    let settings = [("ALLOWED_CIDRS", "203.0.113.0/24"), ("RULE_ACTIONS", "RDSGUARD.SG_SOURCE=remediate")];
    handle_event(&event, &estate.network_guard(&settings).await).await.expect("handled");
    assert_eq!(sources(&estate.ingress_rules(&ec2, &group).await), ["203.0.113.0/25"]);
    assert_eq!(estate.alerts().await[0].action_status(), "succeeded");
}

/// EC2 access that lets someone else revoke each rule just before network-guard does.
struct RacingAdmin {
    inner: Arc<dyn NetworkConnector>,
    admin: aws_sdk_ec2::Client,
}

struct RacingGroups {
    inner: NetworkPorts,
    admin: aws_sdk_ec2::Client,
}

#[async_trait]
impl NetworkConnector for RacingAdmin {
    async fn connect(&self, account: &AccountId, region: &AwsRegion) -> Result<NetworkPorts, SessionError> {
        let inner = self.inner.connect(account, region).await?;
        let databases = inner.databases.clone();
        Ok(NetworkPorts { groups: Arc::new(RacingGroups { inner, admin: self.admin.clone() }), databases })
    }
}

#[async_trait]
impl SecurityGroupInventory for RacingGroups {
    async fn describe_group(&self, group: &GroupRef) -> Result<Option<SecurityGroup>, AwsError> {
        self.inner.groups.describe_group(group).await
    }
    async fn ingress_rules(&self, group_id: &str) -> Result<Vec<IngressRule>, AwsError> {
        self.inner.groups.ingress_rules(group_id).await
    }
}

#[async_trait]
impl SecurityGroupRemediation for RacingGroups {
    async fn revoke_ingress_rule(&self, group_id: &str, rule_id: &str) -> Result<(), AwsError> {
        self.admin
            .revoke_security_group_ingress()
            .group_id(group_id)
            .security_group_rule_ids(rule_id)
            .send()
            .await
            .expect("the admin revokes first");
        self.inner.groups.revoke_ingress_rule(group_id, rule_id).await
    }
}

#[tokio::test]
async fn a_rule_already_gone_is_reported_skipped_without_failing_the_invocation() {
    let estate = Estate::start().await;
    let group = open_postgres(&estate, &[]).await;
    let policy = estate.policy(&[]);
    let plumbing = estate.plumbing(&policy).await;
    let racing = RacingAdmin {
        inner: Arc::new(SessionNetworkConnector::new(plumbing.sessions)),
        admin: estate.ec2(HOME_REGION).await,
    };
    let guard = estate.network_guard_with(policy, Arc::new(racing), plumbing.alerting);

    let event = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, &group, 5432, &["0.0.0.0/0", "::/0"]);
    let summary = handle_event(&event, &guard).await.expect("no error, so no retry storm");

    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 2);
    for alert in &alerts {
        assert_eq!(alert.action_status(), "skipped", "{:#}", alert.body);
        assert!(alert.body["action"]["detail"].as_str().unwrap().contains("already gone"));
    }
    assert!(summary.findings.iter().all(|f| f.alert_message_id.is_some()));
    let ec2 = estate.ec2(HOME_REGION).await;
    assert_eq!(sources(&estate.ingress_rules(&ec2, &group).await), ["10.0.0.0/16"]);
    assert!(estate.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_group_that_no_longer_exists_is_reported_not_found() {
    let estate = Estate::start().await;
    let event = authorize_ingress(MOTO_ACCOUNT, HOME_REGION, "sg-0123456789abcdef0", 5432, &["0.0.0.0/0"]);
    let summary = handle_event(&event, &estate.network_guard(&[]).await).await.expect("handled");
    assert_eq!(summary.detail.groups[0].status, "not found");
    assert!(summary.findings.is_empty());
    assert!(estate.alerts().await.is_empty());
}

/// The real EC2 access, except that describing one chosen group fails as a throttled or denied
/// call would (moto has no fault injection).
struct UnreadableGroup {
    inner: Arc<dyn NetworkConnector>,
    group: String,
}

struct UnreadableGroupPorts {
    inner: NetworkPorts,
    group: String,
}

#[async_trait]
impl NetworkConnector for UnreadableGroup {
    async fn connect(&self, account: &AccountId, region: &AwsRegion) -> Result<NetworkPorts, SessionError> {
        let inner = self.inner.connect(account, region).await?;
        let databases = inner.databases.clone();
        Ok(NetworkPorts { groups: Arc::new(UnreadableGroupPorts { inner, group: self.group.clone() }), databases })
    }
}

#[async_trait]
impl SecurityGroupInventory for UnreadableGroupPorts {
    async fn describe_group(&self, group: &GroupRef) -> Result<Option<SecurityGroup>, AwsError> {
        if *group == GroupRef::Id(self.group.clone()) {
            return Err(AwsError {
                operation: "DescribeSecurityGroups",
                code: Some("RequestLimitExceeded".into()),
                message: "Request limit exceeded.".into(),
            });
        }
        self.inner.groups.describe_group(group).await
    }
    async fn ingress_rules(&self, group_id: &str) -> Result<Vec<IngressRule>, AwsError> {
        self.inner.groups.ingress_rules(group_id).await
    }
}

#[async_trait]
impl SecurityGroupRemediation for UnreadableGroupPorts {
    async fn revoke_ingress_rule(&self, group_id: &str, rule_id: &str) -> Result<(), AwsError> {
        self.inner.groups.revoke_ingress_rule(group_id, rule_id).await
    }
}

#[tokio::test]
async fn when_the_second_group_cannot_be_read_the_first_groups_revocation_is_alerted_and_the_invocation_fails() {
    let estate = Estate::start().await;
    let ec2 = estate.ec2(HOME_REGION).await;
    let rds = estate.rds(HOME_REGION).await;
    let first = estate.create_security_group(&ec2, "first", &[]).await;
    let second = estate.create_security_group(&ec2, "second", &[]).await;
    estate.authorize(&ec2, &first, "tcp", POSTGRES, &["0.0.0.0/0"]).await;
    estate.authorize(&ec2, &second, "tcp", POSTGRES, &["0.0.0.0/0"]).await;
    estate.create_instance_in_groups(&rds, &NewInstance::postgres("two-groups-db"), None, &[&first, &second]).await;
    let policy = estate.policy(&[]);
    let plumbing = estate.plumbing(&policy).await;
    let unreadable =
        UnreadableGroup { inner: Arc::new(SessionNetworkConnector::new(plumbing.sessions)), group: second.clone() };
    let guard = estate.network_guard_with(policy, Arc::new(unreadable), plumbing.alerting);

    let event = rds_api_call(
        "CreateDBInstance",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"dBInstanceIdentifier": "two-groups-db", "engine": "postgres", "vpcSecurityGroupIds": [first, second]}),
        json!({"dBInstanceIdentifier": "two-groups-db"}),
    );
    let error = handle_event(&event, &guard).await.expect_err("the second group was not judged: retry the event");

    assert_eq!(error.kind(), "DescribeFailed");
    assert!(error.to_string().contains(&second), "{error}");
    assert!(error.to_string().contains("1 outcome(s) already reached were alerted"), "{error}");
    assert!(estate.ingress_rules(&ec2, &first).await.is_empty(), "the first group was fixed");
    assert_eq!(estate.ingress_rules(&ec2, &second).await.len(), 1, "nothing done on what could not be read");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].body["resource_id"], first.as_str());
    assert_eq!(alerts[0].action_status(), "succeeded");
    assert!(estate.dead_letters().await.is_empty(), "the alert was delivered, not kept");
}
