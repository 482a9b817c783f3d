//! The guardrail catalogue: each guardrail is a switchable, parameterised set of SCP statements.
//!
//! Service Control Policies never grant: every statement here is a `Deny` that narrows what the
//! accounts below a target may do, whatever their IAM policies say. The management account is never
//! affected by SCPs.

use serde_json::{json, Value};

use super::settings::GuardrailSettings;

/// One guardrail of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Guardrail {
    /// Deny rds:CreateDBInstance / rds:CreateDBCluster when rds:StorageEncrypted is false.
    DenyUnencryptedRds,
    /// Deny every RDS action requested in a region outside ALLOWED_REGIONS.
    RdsRegionLock,
    /// Deny every regional service outside ALLOWED_REGIONS (global services excepted). Opt-in.
    RegionLockAll,
    /// Deny deleting DB instances, clusters and global clusters except to break-glass principals.
    ProtectDatabases,
    /// Deny switching off CloudTrail and GuardDuty and changing rdsguard's own resources, except to
    /// the security admin principals.
    ProtectPipeline,
}

impl Guardrail {
    pub const ALL: [Guardrail; 5] = [
        Self::DenyUnencryptedRds,
        Self::RdsRegionLock,
        Self::RegionLockAll,
        Self::ProtectDatabases,
        Self::ProtectPipeline,
    ];

    /// The name used in `GUARDRAILS` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DenyUnencryptedRds => "deny-unencrypted-rds",
            Self::RdsRegionLock => "rds-region-lock",
            Self::RegionLockAll => "region-lock-all",
            Self::ProtectDatabases => "protect-databases",
            Self::ProtectPipeline => "protect-pipeline",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let wanted = raw.trim();
        Self::ALL.into_iter().find(|g| g.as_str().eq_ignore_ascii_case(wanted))
    }

    /// What the guardrail prevents, and what it does not.
    pub fn description(self) -> &'static str {
        match self {
            Self::DenyUnencryptedRds => {
                "denies CreateDBInstance/CreateDBCluster with StorageEncrypted=false. Restores from snapshots, \
                 point-in-time restores and read replicas do not carry rds:StorageEncrypted, and a create call \
                 that omits StorageEncrypted is not matched either: rds-guard's RDS.3/RDS.27 detection still \
                 covers those"
            }
            Self::RdsRegionLock => {
                "denies every RDS action requested in a region outside ALLOWED_REGIONS; break-glass principals and \
                 rdsguard's member roles are exempt"
            }
            Self::RegionLockAll => {
                "denies every regional service outside ALLOWED_REGIONS, except AWS's documented global services \
                 (IAM, Organizations, STS, Route 53, CloudFront, Support...); break-glass principals, rdsguard's member \
                 roles and StackSets execution roles (which deploy the forwarders in every region) are exempt"
            }
            Self::ProtectDatabases => {
                "denies DeleteDBInstance, DeleteDBCluster and DeleteGlobalCluster except to BREAK_GLASS_PRINCIPALS. \
                 RDS has no condition key for the DeletionProtection parameter, so switching deletion protection \
                 off cannot be singled out by an SCP; with deletion denied, switching it off gains nothing"
            }
            Self::ProtectPipeline => {
                "denies stopping, deleting or reconfiguring CloudTrail trails, deleting, disabling or leaving \
                 GuardDuty, and changing rdsguard's own functions, rules, topic and roles, except to \
                 SECURITY_ADMIN_PRINCIPALS (required), pipeline-guard's member role (MEMBER_ROLE_NAME-pipeline-guard) and \
                 StackSets execution roles (stacksets-exec-*)"
            }
        }
    }
}

/// Actions of AWS's global services (and the few global calls of regional ones), which
/// `aws:RequestedRegion` reports as us-east-1 whatever the caller's region: a region lock on "all
/// services" must leave them out or it would lock every account out of IAM, Organizations, STS...
/// From the AWS Organizations documentation example "Deny access to AWS based on the requested
/// AWS Region".
pub const GLOBAL_SERVICE_ACTIONS: &[&str] = &[
    "a4b:*",
    "acm:*",
    "aws-marketplace-management:*",
    "aws-marketplace:*",
    "aws-portal:*",
    "budgets:*",
    "ce:*",
    "chime:*",
    "cloudfront:*",
    "config:*",
    "cur:*",
    "directconnect:*",
    "ec2:DescribeRegions",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpnGateways",
    "fms:*",
    "globalaccelerator:*",
    "health:*",
    "iam:*",
    "importexport:*",
    "kms:*",
    "mobileanalytics:*",
    "networkmanager:*",
    "organizations:*",
    "pricing:*",
    "route53:*",
    "route53domains:*",
    "route53-recovery-cluster:*",
    "route53-recovery-control-config:*",
    "route53-recovery-readiness:*",
    "s3:GetAccountPublic*",
    "s3:ListAllMyBuckets",
    "s3:ListMultiRegionAccessPoints",
    "s3:PutAccountPublic*",
    "shield:*",
    "sts:*",
    "support:*",
    "trustedadvisor:*",
    "waf-regional:*",
    "waf:*",
    "wafv2:*",
    "wellarchitected:*",
];

/// CloudTrail and GuardDuty calls that switch off or weaken detection: the ones pipeline-guard
/// detects afterwards, plus CloudTrail Lake event data stores being stopped or deleted, GuardDuty
/// filters (a filter with auto-archive hides findings) and an administrator no longer monitoring
/// its members.
pub const PIPELINE_ACTIONS: &[&str] = &[
    "cloudtrail:DeleteEventDataStore",
    "cloudtrail:DeleteTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:StopEventDataStoreIngestion",
    "cloudtrail:StopLogging",
    "cloudtrail:UpdateTrail",
    "guardduty:CreateFilter",
    "guardduty:DeleteDetector",
    "guardduty:DeleteMembers",
    "guardduty:DisassociateFromAdministratorAccount",
    "guardduty:DisassociateFromMasterAccount",
    "guardduty:DisassociateMembers",
    "guardduty:StopMonitoringMembers",
    "guardduty:UpdateDetector",
    "guardduty:UpdateFilter",
];

/// Calls that change or remove rdsguard's own functions, rules, central event bus, topic,
/// dead-letter queues, alarms and roles. Each must be authorised on the resource its ARN pattern
/// names (an SCP Deny scoped to ARNs never matches an action without resource types, such as
/// events:PutPermission, so those are left out).
pub const SUITE_RESOURCE_ACTIONS: &[&str] = &[
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DisableAlarmActions",
    "cloudwatch:PutMetricAlarm",
    "events:DeleteEventBus",
    "events:DeleteRule",
    "events:DisableRule",
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
    "iam:AttachRolePolicy",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "lambda:DeleteFunction",
    "lambda:PutFunctionConcurrency",
    "lambda:RemovePermission",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "sns:DeleteTopic",
    "sns:RemovePermission",
    "sns:SetTopicAttributes",
    "sns:Unsubscribe",
    "sqs:DeleteQueue",
    "sqs:PurgeQueue",
    "sqs:SetQueueAttributes",
];

/// The statements of one guardrail under the settings, each with a unique `Sid`.
pub fn statements(guardrail: Guardrail, settings: &GuardrailSettings) -> Vec<Value> {
    let regions: Vec<&str> = settings.allowed_regions.iter().map(|r| r.as_str()).collect();
    let unless = |principals: &[String]| -> Option<Value> {
        (!principals.is_empty()).then(|| json!({"aws:PrincipalARN": principals}))
    };
    let with_exception = |mut condition: serde_json::Map<String, Value>, principals: &[String]| {
        if let Some(arns) = unless(principals) {
            condition.insert("ArnNotLike".to_owned(), arns);
        }
        Value::Object(condition)
    };
    let region_condition = || {
        let mut condition = serde_json::Map::new();
        condition.insert("StringNotEquals".to_owned(), json!({"aws:RequestedRegion": regions}));
        condition
    };
    match guardrail {
        Guardrail::DenyUnencryptedRds => vec![json!({
            "Sid": "RdsguardDenyUnencryptedRdsCreate",
            "Effect": "Deny",
            "Action": ["rds:CreateDBCluster", "rds:CreateDBInstance"],
            "Resource": "*",
            "Condition": {"Bool": {"rds:StorageEncrypted": "false"}}
        })],
        Guardrail::RdsRegionLock => vec![json!({
            "Sid": "RdsguardRdsRegionLock",
            "Effect": "Deny",
            "Action": "rds:*",
            "Resource": "*",
            "Condition": with_exception(region_condition(), &region_lock_exceptions(settings, false))
        })],
        Guardrail::RegionLockAll => vec![json!({
            "Sid": "RdsguardRegionLockAllServices",
            "Effect": "Deny",
            "NotAction": GLOBAL_SERVICE_ACTIONS,
            "Resource": "*",
            "Condition": with_exception(region_condition(), &region_lock_exceptions(settings, true))
        })],
        Guardrail::ProtectDatabases => vec![json!({
            "Sid": "RdsguardDenyDatabaseDeletion",
            "Effect": "Deny",
            "Action": ["rds:DeleteDBCluster", "rds:DeleteDBInstance", "rds:DeleteGlobalCluster"],
            "Resource": "*",
            "Condition": with_exception(serde_json::Map::new(), &settings.break_glass_principals)
        })],
        Guardrail::ProtectPipeline => {
            let prefix = &settings.suite_name_prefix;
            let exempt = pipeline_exceptions(settings);
            vec![
                json!({
                    "Sid": "RdsguardProtectDetectionPipeline",
                    "Effect": "Deny",
                    "Action": PIPELINE_ACTIONS,
                    "Resource": "*",
                    "Condition": with_exception(serde_json::Map::new(), &exempt)
                }),
                json!({
                    "Sid": "RdsguardProtectSuiteResources",
                    "Effect": "Deny",
                    "Action": SUITE_RESOURCE_ACTIONS,
                    // CloudFormation names what it creates after the stack (`<stack>-<LogicalId>-<id>`);
                    // the member stack names its forwarders, queue and alarm with the same prefix.
                    "Resource": [
                        format!("arn:*:cloudwatch:*:*:alarm:{prefix}*"),
                        format!("arn:*:events:*:*:event-bus/{prefix}*"),
                        format!("arn:*:events:*:*:rule/{prefix}*"),
                        format!("arn:*:iam::*:role/{prefix}*"),
                        format!("arn:*:lambda:*:*:function:{prefix}*"),
                        format!("arn:*:sns:*:*:{prefix}*"),
                        format!("arn:*:sqs:*:*:{prefix}*"),
                    ],
                    "Condition": with_exception(serde_json::Map::new(), &exempt)
                }),
            ]
        }
    }
    .into_iter()
    .map(drop_empty_condition)
    .collect()
}

/// Who the region locks leave alone: the break-glass principals, rdsguard's member roles (so the
/// functions can still judge and fix what a break-glass principal created in a forbidden region,
/// with only their own narrow permissions) and, for region-lock-all, the StackSets execution roles
/// (so the member stack's forwarders can be deployed in every enabled region: without a forwarder a
/// forbidden region is not watched at all).
pub fn region_lock_exceptions(settings: &GuardrailSettings, all_services: bool) -> Vec<String> {
    let mut principals = settings.break_glass_principals.clone();
    let member_roles = crate::startup::MEMBER_FUNCTIONS.iter().map(|function| {
        format!("arn:*:iam::*:role/{}", crate::aws::member_role_name_for(&settings.member_role_name, function))
    });
    let stacksets = all_services.then(|| STACKSET_EXECUTION_ROLES.to_owned());
    for own in member_roles.chain(stacksets) {
        if !principals.contains(&own) {
            principals.push(own);
        }
    }
    principals
}

/// Who protect-pipeline leaves alone: the security admins, pipeline-guard's member role
/// (`<MEMBER_ROLE_NAME>-pipeline-guard`: it re-enables GuardDuty detectors and trails through it;
/// the former shared role `<MEMBER_ROLE_NAME>` too, while an upgrade keeps it) and the roles CloudFormation StackSets
/// deploys the member stack with in each account (`stacksets-exec-*`, subject to SCPs like any
/// role): without them protect-pipeline would block rdsguard's own remediation and updates.
pub fn pipeline_exceptions(settings: &GuardrailSettings) -> Vec<String> {
    let mut principals = settings.security_admin_principals.clone();
    let pipeline_guard_role = crate::aws::member_role_name_for(&settings.member_role_name, "pipeline-guard");
    for own in [
        format!("arn:*:iam::*:role/{pipeline_guard_role}"),
        format!("arn:*:iam::*:role/{}", settings.member_role_name),
        STACKSET_EXECUTION_ROLES.to_owned(),
    ] {
        if !principals.contains(&own) {
            principals.push(own);
        }
    }
    principals
}

/// The roles service-managed StackSets create in every member account to deploy stack instances.
pub const STACKSET_EXECUTION_ROLES: &str = "arn:*:iam::*:role/stacksets-exec-*";

/// A statement whose exception list is empty has no condition at all (an empty `Condition` object
/// is not valid policy grammar).
fn drop_empty_condition(mut statement: Value) -> Value {
    if let Some(map) = statement.as_object_mut() {
        if map.get("Condition").and_then(Value::as_object).is_some_and(serde_json::Map::is_empty) {
            map.remove("Condition");
        }
    }
    statement
}

/// Every statement of the enabled guardrails, in catalogue order.
pub fn desired_statements(settings: &GuardrailSettings) -> Vec<Value> {
    Guardrail::ALL
        .into_iter()
        .filter(|g| settings.guardrails.contains(g))
        .flat_map(|g| statements(g, settings))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::guardrails::packing::{pack, MAX_POLICIES_PER_TARGET};

    fn settings(guardrails: &str, break_glass: &str) -> GuardrailSettings {
        GuardrailSettings::from_vars([
            ("GUARDRAILS".to_owned(), guardrails.to_owned()),
            ("GUARDRAIL_TARGETS".to_owned(), "r-ab12".to_owned()),
            ("ALLOWED_REGIONS".to_owned(), "eu-west-1,eu-central-1".to_owned()),
            ("BREAK_GLASS_PRINCIPALS".to_owned(), break_glass.to_owned()),
            ("SECURITY_ADMIN_PRINCIPALS".to_owned(), "arn:aws:iam::*:role/SecurityAdmin".to_owned()),
        ])
        .unwrap()
    }

    fn all() -> String {
        Guardrail::ALL.map(Guardrail::as_str).join(",")
    }

    #[test]
    fn every_statement_is_a_deny_with_a_unique_sid_and_scp_grammar() {
        let statements = desired_statements(&settings(&all(), "arn:aws:iam::*:role/BreakGlass"));
        let mut sids = BTreeSet::new();
        for statement in &statements {
            let sid = statement["Sid"].as_str().unwrap();
            assert!(sids.insert(sid.to_owned()), "duplicate Sid {sid}");
            assert!(sid.bytes().all(|b| b.is_ascii_alphanumeric()), "Sid {sid} must be alphanumeric");
            assert_eq!(statement["Effect"], "Deny", "{sid}");
            assert!(
                statement.get("Principal").is_none() && statement.get("NotPrincipal").is_none(),
                "{sid}: SCPs take no principal"
            );
            assert!(
                statement.get("Action").is_some() != statement.get("NotAction").is_some(),
                "{sid}: Action xor NotAction"
            );
            assert!(statement.get("Resource").is_some(), "{sid}");
        }
        assert_eq!(statements.len(), 6);
    }

    #[test]
    fn switches_and_parameters_shape_the_statements() {
        let only_encryption = desired_statements(&settings("deny-unencrypted-rds", ""));
        assert_eq!(only_encryption.len(), 1);
        assert_eq!(only_encryption[0]["Condition"], json!({"Bool": {"rds:StorageEncrypted": "false"}}));

        let lock = desired_statements(&settings("rds-region-lock", "arn:aws:iam::*:role/BreakGlass"));
        assert_eq!(
            lock[0]["Condition"]["StringNotEquals"]["aws:RequestedRegion"],
            json!(["eu-west-1", "eu-central-1"])
        );
        let member_roles = [
            "arn:*:iam::*:role/rdsguard-remediation-rds-guard",
            "arn:*:iam::*:role/rdsguard-remediation-network-guard",
            "arn:*:iam::*:role/rdsguard-remediation-pipeline-guard",
            "arn:*:iam::*:role/rdsguard-remediation-guardduty-responder",
            "arn:*:iam::*:role/rdsguard-remediation-sweep-worker",
        ];
        let mut lock_exempt = vec!["arn:aws:iam::*:role/BreakGlass"];
        lock_exempt.extend(member_roles);
        assert_eq!(lock[0]["Condition"]["ArnNotLike"]["aws:PrincipalARN"], json!(lock_exempt));

        let no_exception = desired_statements(&settings("protect-databases", ""));
        assert!(no_exception[0].get("Condition").is_none(), "no break-glass principal: no empty Condition");

        let everything = desired_statements(&settings("region-lock-all", ""));
        let not_action: Vec<&str> =
            everything[0]["NotAction"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        for global in ["iam:*", "organizations:*", "sts:*", "support:*", "route53:*", "cloudfront:*"] {
            assert!(not_action.contains(&global), "{global} must stay reachable");
        }
        assert!(!not_action.iter().any(|a| a.starts_with("rds:")), "RDS is regional");
        // The forwarders are deployed in every enabled region by StackSets, and rdsguard acts
        // there through its member roles.
        let mut all_exempt = member_roles.to_vec();
        all_exempt.push("arn:*:iam::*:role/stacksets-exec-*");
        assert_eq!(everything[0]["Condition"]["ArnNotLike"]["aws:PrincipalARN"], json!(all_exempt));

        let pipeline = desired_statements(&settings("protect-pipeline", ""));
        let resources = pipeline[1]["Resource"].as_array().unwrap();
        for own in [
            "arn:*:lambda:*:*:function:rdsguard*",
            "arn:*:events:*:*:event-bus/rdsguard*",
            "arn:*:sqs:*:*:rdsguard*",
            "arn:*:cloudwatch:*:*:alarm:rdsguard*",
        ] {
            assert!(resources.contains(&json!(own)), "{own} not protected: {resources:?}");
        }
        let watchers = pipeline[0]["Action"].as_array().unwrap();
        for evasion in ["guardduty:CreateFilter", "cloudtrail:StopEventDataStoreIngestion", "cloudtrail:StopLogging"] {
            assert!(watchers.contains(&json!(evasion)), "{evasion} not denied: {watchers:?}");
        }
    }

    #[test]
    fn protect_pipeline_never_blocks_rdsguards_member_role_or_stackset_deployments() {
        let pipeline = desired_statements(&settings("protect-pipeline", ""));
        assert_eq!(pipeline.len(), 2);
        for statement in &pipeline {
            let exempt = &statement["Condition"]["ArnNotLike"]["aws:PrincipalARN"];
            assert_eq!(
                exempt,
                &json!([
                    "arn:aws:iam::*:role/SecurityAdmin",
                    "arn:*:iam::*:role/rdsguard-remediation-pipeline-guard",
                    "arn:*:iam::*:role/rdsguard-remediation",
                    "arn:*:iam::*:role/stacksets-exec-*"
                ]),
                "{}",
                statement["Sid"]
            );
        }
        let actions = pipeline[0]["Action"].as_array().unwrap();
        assert!(
            actions.contains(&json!("guardduty:UpdateDetector")),
            "the call pipeline-guard makes is denied to others"
        );

        let renamed = GuardrailSettings::from_vars([
            ("GUARDRAILS".to_owned(), "protect-pipeline".to_owned()),
            ("GUARDRAIL_TARGETS".to_owned(), "r-ab12".to_owned()),
            ("SECURITY_ADMIN_PRINCIPALS".to_owned(), "arn:aws:iam::*:role/SecurityAdmin".to_owned()),
            ("MEMBER_ROLE_NAME".to_owned(), "acme-rdsguard-member".to_owned()),
        ])
        .unwrap();
        let exempt = pipeline_exceptions(&renamed);
        assert!(exempt.contains(&"arn:*:iam::*:role/acme-rdsguard-member".to_owned()), "{exempt:?}");
    }

    #[test]
    fn the_whole_catalogue_fits_beside_full_aws_access() {
        let many: Vec<String> = (0..20).map(|i| format!("arn:aws:iam::*:role/BreakGlass{i:02}")).collect();
        let documents = pack(&desired_statements(&settings(&all(), &many.join(",")))).unwrap();
        assert!(documents.len() < MAX_POLICIES_PER_TARGET, "{} documents", documents.len());
    }
}
