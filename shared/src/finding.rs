//! A finding: one rule violated by one resource, with the evidence.

use serde::Serialize;
use serde_json::Value;

use crate::arn::Arn;
use crate::database::Database;
use crate::identity::{AccountId, AwsRegion};
use crate::rules::{RuleId, Severity};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub rule: RuleId,
    pub severity: Severity,
    pub title: &'static str,
    #[serde(skip)]
    pub short_title: &'static str,
    /// A few words for the alert subject that say more than the rule's short title (e.g. which
    /// port is open to which source); `None`: the short title.
    #[serde(skip)]
    pub headline: Option<String>,
    pub account: AccountId,
    pub region: AwsRegion,
    /// The CloudFormation type name, e.g. `AWS::RDS::DBInstance`, `AWS::EC2::SecurityGroup`.
    pub resource_type: &'static str,
    pub resource_id: String,
    /// The resource ARN (from Describe; built from its parts if RDS did not return one).
    pub resource: String,
    /// The state that shows the violation.
    pub observed: Value,
    /// When one resource holds several findings of one rule (a security group's ingress rules),
    /// the ARN of the part this one is about (`...:security-group-rule/sgr-...`): the findings
    /// ledger keys the finding by it. `None`: the resource itself.
    #[serde(skip)]
    pub component_arn: Option<String>,
}

impl Finding {
    pub fn new(rule: RuleId, db: &Database, account: &AccountId, region: &AwsRegion, observed: Value) -> Self {
        let resource = db.state.arn.clone().unwrap_or_else(|| {
            let kind = db.kind.resource_kind();
            Arn::rds(region.partition(), region.as_str(), account.as_str(), kind, &db.state.identifier).to_string()
        });
        Self {
            rule,
            severity: rule.severity(),
            title: rule.title(),
            short_title: rule.short_title(),
            headline: None,
            account: account.clone(),
            region: region.clone(),
            resource_type: db.kind.aws_type(),
            resource_id: db.state.identifier.clone(),
            resource,
            observed,
            component_arn: None,
        }
    }
}

impl Finding {
    /// A finding on any resource other than a database (security groups, snapshots, trails...).
    pub fn for_resource(
        rule: RuleId,
        account: &AccountId,
        region: &AwsRegion,
        resource_type: &'static str,
        resource_id: impl Into<String>,
        resource_arn: impl Into<String>,
        observed: Value,
    ) -> Self {
        Self {
            rule,
            severity: rule.severity(),
            title: rule.title(),
            short_title: rule.short_title(),
            headline: None,
            account: account.clone(),
            region: region.clone(),
            resource_type,
            resource_id: resource_id.into(),
            resource: resource_arn.into(),
            observed,
            component_arn: None,
        }
    }
}

impl Finding {
    /// The resource the findings ledger keys this finding by (see [`Finding::component_arn`]).
    pub fn ledger_resource(&self) -> &str {
        self.component_arn.as_deref().unwrap_or(&self.resource)
    }
}

/// What the event says happened: cited in every alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventContext {
    pub event_id: String,
    pub event_name: String,
    pub event_time: Option<String>,
    pub actor: String,
}
