//! Which security groups an event concerns, in which account and region, and who caused it — or
//! why the event is none of network-guard's business.

use rdsguard::event::{read_event, CloudTrailCall, EventError, IncomingEvent};
use rdsguard::finding::EventContext;
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::network::{GroupRef, IngressRule, RuleSource};
use serde_json::Value;

pub const EC2_EVENT_SOURCE: &str = "ec2.amazonaws.com";
pub const RDS_EVENT_SOURCE: &str = "rds.amazonaws.com";

/// EC2 calls that add or widen ingress rules, then those that only take rules or groups away.
pub const SECURITY_GROUP_CALLS: &[&str] =
    &["AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules", "RevokeSecurityGroupIngress", "DeleteSecurityGroup"];

/// The calls of [`SECURITY_GROUP_CALLS`] that cannot open anything: judged only to resolve, in the
/// findings ledger, what they closed (without the ledger there is nothing to resolve: ignored).
pub const CLOSING_CALLS: &[&str] = &["RevokeSecurityGroupIngress", "DeleteSecurityGroup"];

/// RDS calls that can put a database behind security groups (`vpcSecurityGroupIds`): a group that
/// is already open exposes the database the moment it is attached.
pub const DATABASE_CALLS: &[&str] = &[
    "CreateDBInstance",
    "ModifyDBInstance",
    "CreateDBInstanceReadReplica",
    "RestoreDBInstanceFromDBSnapshot",
    "RestoreDBInstanceToPointInTime",
    "RestoreDBInstanceFromS3",
    "CreateDBCluster",
    "ModifyDBCluster",
    "RestoreDBClusterFromSnapshot",
    "RestoreDBClusterToPointInTime",
    "RestoreDBClusterFromS3",
];

/// Security groups to check.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub account: AccountId,
    pub region: AwsRegion,
    /// In the order the event names them, without repeats.
    pub groups: Vec<GroupRef>,
    /// What the call asked for (the event's claim; logged and reported, never judged: the group's
    /// current rules are read from EC2).
    pub requested: Vec<IngressRule>,
    /// The call only takes rules or groups away ([`CLOSING_CALLS`]).
    pub closes: bool,
    pub context: EventContext,
}

/// What triage made of an event: security groups to check, or a reason to leave it.
pub type Triage = rdsguard::event::Triage<Target>;

/// Decides what a raw invocation payload is about. Payloads that are not events at all are ignored
/// with the reason (retrying cannot help); an event of ours that lacks what is needed to act safely
/// is an error (retried, then kept in the dead-letter queue).
pub fn triage_payload(payload: &Value) -> Result<Triage, EventError> {
    read_event(payload, "network-guard", claims_ours)?.and_then(|event| match event {
        IncomingEvent::ApiCall(call) => triage_api_call(&call),
        IncomingEvent::RdsNative(event) => Ok(Triage::Ignore(format!(
            "RDS's own event notifications ({}) are not handled by network-guard",
            event.message.as_deref().unwrap_or("no message")
        ))),
        IncomingEvent::Unsupported { detail_type, source } => {
            Ok(Triage::Ignore(format!("detail-type {detail_type:?} from {source:?} is not handled by network-guard")))
        }
    })
}

fn claims_ours(payload: &Value) -> bool {
    let source = payload.get("source").and_then(Value::as_str).unwrap_or_default();
    payload.get("detail-type").and_then(Value::as_str) == Some(rdsguard::event::detail_type::CLOUDTRAIL_API_CALL)
        && matches!(source, "aws.ec2" | "aws.rds")
}

fn triage_api_call(call: &CloudTrailCall) -> Result<Triage, EventError> {
    let name = call.event_name.as_str();
    let ours = match call.event_source.as_str() {
        EC2_EVENT_SOURCE => SECURITY_GROUP_CALLS.contains(&name),
        RDS_EVENT_SOURCE => DATABASE_CALLS.contains(&name),
        _ => false,
    };
    if !ours {
        return Ok(Triage::Ignore(format!(
            "{name} from {} does not open security groups or attach them to databases",
            call.event_source
        )));
    }
    if let Some(code) = &call.error_code {
        return Ok(Triage::Ignore(format!(
            "{name} failed with {code} ({}); a failed call changed nothing",
            call.error_message.as_deref().unwrap_or("no message")
        )));
    }
    let groups = if call.event_source == EC2_EVENT_SOURCE {
        let groups = security_group_call_groups(call);
        if groups.is_empty() {
            return Err(EventError::MissingField("groupId"));
        }
        groups
    } else {
        let groups = database_call_groups(call);
        if groups.is_empty() {
            return Ok(Triage::Ignore(format!(
                "{name} names no valid VPC security group id (the database keeps the groups it had)"
            )));
        }
        groups
    };
    let closes = call.event_source == EC2_EVENT_SOURCE && CLOSING_CALLS.contains(&name);
    // What a closing call takes away is not ingress anyone asked for.
    let requested = if closes {
        Vec::new()
    } else {
        requested_rules(call, groups.first().map(ToString::to_string).unwrap_or_default())
    };
    Ok(Triage::Handle(Target {
        account: call.account_id()?,
        region: call.aws_region()?,
        requested,
        closes,
        groups,
        context: EventContext {
            event_id: call.event_id.clone(),
            event_name: call.event_name.clone(),
            event_time: call.event_time.clone(),
            actor: call.actor.clone(),
        },
    }))
}

fn push_unique(groups: &mut Vec<GroupRef>, group: GroupRef) {
    if !groups.contains(&group) {
        groups.push(group);
    }
}

/// A security group id as EC2 issues them: `sg-` and 8 or 17 hex digits. Anything else (sanitised
/// placeholders such as `sg-abcd`) names no group that could exist.
fn group_id(value: &Value) -> Option<GroupRef> {
    let id = value.as_str()?.trim();
    let hex = id.strip_prefix("sg-")?;
    let valid = matches!(hex.len(), 8 | 17) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| GroupRef::Id(id.to_owned()))
}

fn get_ignore_case<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let map = value.as_object()?;
    map.get(key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// A list as CloudTrail writes it: a JSON array, `{"items": [...]}`, or a single object.
fn items(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(list) => list.iter().collect(),
        Value::Object(_) => match get_ignore_case(value, "items") {
            Some(Value::Array(list)) => list.iter().collect(),
            _ => vec![value],
        },
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// AuthorizeSecurityGroupIngress: `groupId` (both request shapes), else the groups of the rules
/// EC2 created (`securityGroupRuleSet`), else `groupName` (default-VPC requests).
/// ModifySecurityGroupRules: `ModifySecurityGroupRulesRequest.GroupId`.
fn security_group_call_groups(call: &CloudTrailCall) -> Vec<GroupRef> {
    let mut groups = Vec::new();
    let wrapped = call.request_param("ModifySecurityGroupRulesRequest");
    let candidates = [call.request_param("groupId"), wrapped.and_then(|w| get_ignore_case(w, "GroupId"))];
    for id in candidates.into_iter().flatten().filter_map(group_id) {
        push_unique(&mut groups, id);
    }
    if groups.is_empty() {
        if let Some(set) = call.response_element("securityGroupRuleSet") {
            for item in items(set) {
                if let Some(id) = get_ignore_case(item, "groupId").and_then(group_id) {
                    push_unique(&mut groups, id);
                }
            }
        }
    }
    if groups.is_empty() {
        if let Some(name) = call.request_param("groupName").and_then(Value::as_str).map(str::trim) {
            if !name.is_empty() {
                push_unique(&mut groups, GroupRef::Name(name.to_owned()));
            }
        }
    }
    groups
}

/// RDS calls: `vpcSecurityGroupIds` asked for, then `vpcSecurityGroups` RDS answered with.
fn database_call_groups(call: &CloudTrailCall) -> Vec<GroupRef> {
    let mut groups = Vec::new();
    if let Some(requested) = call.request_param("vpcSecurityGroupIds") {
        for id in items(requested).into_iter().filter_map(group_id) {
            push_unique(&mut groups, id);
        }
    }
    if let Some(answered) = call.response_element("vpcSecurityGroups") {
        for membership in items(answered) {
            if let Some(id) = get_ignore_case(membership, "vpcSecurityGroupId").and_then(group_id) {
                push_unique(&mut groups, id);
            }
        }
    }
    groups
}

fn int(value: Option<&Value>) -> Option<i32> {
    let value = value?;
    value.as_i64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok())).and_then(|n| i32::try_from(n).ok())
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The ingress the call asked for, one entry per source: AuthorizeSecurityGroupIngress in both
/// request shapes (`ipPermissions.items[]` with `ipRanges`/`ipv6Ranges`/`groups`/`prefixListIds`,
/// or flat `cidrIp/fromPort/toPort/ipProtocol`), and ModifySecurityGroupRules' PascalCase
/// `SecurityGroupRule` entries.
pub fn requested_rules(call: &CloudTrailCall, group: String) -> Vec<IngressRule> {
    let mut rules = Vec::new();
    let mut add = |id: String, protocol: Option<String>, from: Option<i32>, to: Option<i32>, source: RuleSource| {
        rules.push(IngressRule {
            rule_id: id,
            group_id: group.clone(),
            protocol: protocol.unwrap_or_default(),
            from_port: from,
            to_port: to,
            source,
            description: None,
        })
    };
    if let Some(permissions) = call.request_param("ipPermissions") {
        for permission in items(permissions) {
            let protocol = text(get_ignore_case(permission, "ipProtocol"));
            let from = int(get_ignore_case(permission, "fromPort"));
            let to = int(get_ignore_case(permission, "toPort"));
            let sources = [("ipRanges", "cidrIp"), ("ipv6Ranges", "cidrIpv6")];
            for (list, key) in sources {
                for range in get_ignore_case(permission, list).map(items).unwrap_or_default() {
                    if let Some(cidr) = text(get_ignore_case(range, key)) {
                        add("requested".into(), protocol.clone(), from, to, RuleSource::from_cidr(&cidr));
                    }
                }
            }
            for pair in get_ignore_case(permission, "groups").map(items).unwrap_or_default() {
                if let Some(id) = text(get_ignore_case(pair, "groupId")) {
                    add("requested".into(), protocol.clone(), from, to, RuleSource::SecurityGroup(id));
                }
            }
            for list in get_ignore_case(permission, "prefixListIds").map(items).unwrap_or_default() {
                if let Some(id) = text(get_ignore_case(list, "prefixListId")) {
                    add("requested".into(), protocol.clone(), from, to, RuleSource::PrefixList(id));
                }
            }
        }
    }
    for key in ["cidrIp", "cidrIpv6"] {
        if let Some(cidr) = text(call.request_param(key)) {
            let protocol = text(call.request_param("ipProtocol"));
            let (from, to) = (int(call.request_param("fromPort")), int(call.request_param("toPort")));
            add("requested".into(), protocol, from, to, RuleSource::from_cidr(&cidr));
        }
    }
    let wrapped = call.request_param("ModifySecurityGroupRulesRequest");
    for entry in wrapped.and_then(|w| get_ignore_case(w, "SecurityGroupRule")).map(items).unwrap_or_default() {
        let id = text(get_ignore_case(entry, "SecurityGroupRuleId")).unwrap_or_else(|| "requested".into());
        let Some(rule) = get_ignore_case(entry, "SecurityGroupRule") else { continue };
        let source =
            if let Some(cidr) = text(get_ignore_case(rule, "CidrIpv4")).or(text(get_ignore_case(rule, "CidrIpv6"))) {
                RuleSource::from_cidr(&cidr)
            } else if let Some(group) = text(get_ignore_case(rule, "ReferencedGroupId")) {
                RuleSource::SecurityGroup(group)
            } else if let Some(list) = text(get_ignore_case(rule, "PrefixListId")) {
                RuleSource::PrefixList(list)
            } else {
                RuleSource::Unreadable("source".into())
            };
        let protocol = text(get_ignore_case(rule, "IpProtocol"));
        add(id, protocol, int(get_ignore_case(rule, "FromPort")), int(get_ignore_case(rule, "ToPort")), source);
    }
    rules
}

/// The CloudTrail event names network-guard handles, per event source (the EventBridge rule's
/// pattern).
pub fn handled_api_calls() -> [(&'static str, &'static [&'static str]); 2] {
    [(EC2_EVENT_SOURCE, SECURITY_GROUP_CALLS), (RDS_EVENT_SOURCE, DATABASE_CALLS)]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(source: &str, name: &str, request: Value, response: Value) -> Value {
        json!({
            "detail-type": "AWS API Call via CloudTrail",
            "source": if source == EC2_EVENT_SOURCE { "aws.ec2" } else { "aws.rds" },
            "account": "123456789012", "region": "eu-west-1", "id": "env-1",
            "detail": {
                "eventID": "e-1", "eventName": name, "eventSource": source, "awsRegion": "eu-west-1",
                "userIdentity": {"arn": "arn:aws:iam::123456789012:user/mallory"},
                "requestParameters": request, "responseElements": response
            }
        })
    }

    fn groups(payload: &Value) -> Vec<GroupRef> {
        match triage_payload(payload) {
            Ok(Triage::Handle(target)) => target.groups,
            other => panic!("expected a check, got {other:?}"),
        }
    }

    fn ignored(payload: &Value) -> String {
        match triage_payload(payload) {
            Ok(Triage::Ignore(reason)) => reason,
            other => panic!("expected to be ignored, got {other:?}"),
        }
    }

    fn id(raw: &str) -> GroupRef {
        GroupRef::Id(raw.to_owned())
    }

    #[test]
    fn authorize_in_both_request_shapes() {
        let nested = json!({"groupId": "sg-00000000000000001", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 5432,
            "toPort": 5432, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}});
        let flat = json!({"groupId": "sg-00000000000000002", "cidrIp": "0.0.0.0/0", "fromPort": 5432, "toPort": 5432, "ipProtocol": "tcp"});
        assert_eq!(
            groups(&call(EC2_EVENT_SOURCE, "AuthorizeSecurityGroupIngress", nested, json!({"_return": true}))),
            [id("sg-00000000000000001")]
        );
        assert_eq!(
            groups(&call(EC2_EVENT_SOURCE, "AuthorizeSecurityGroupIngress", flat, Value::Null)),
            [id("sg-00000000000000002")]
        );
    }

    #[test]
    fn authorize_falls_back_to_the_rule_set_then_the_group_name() {
        let response = json!({"_return": true, "securityGroupRuleSet": {"items": [
            {"groupId": "sg-00000000000000009", "securityGroupRuleId": "sgr-1"}, {"groupId": "sg-00000000000000009", "securityGroupRuleId": "sgr-2"}]}});
        let by_name = json!({"groupName": "default", "cidrIp": "0.0.0.0/0", "ipProtocol": "-1"});
        assert_eq!(
            groups(&call(EC2_EVENT_SOURCE, "AuthorizeSecurityGroupIngress", by_name.clone(), response)),
            [id("sg-00000000000000009")]
        );
        assert_eq!(
            groups(&call(EC2_EVENT_SOURCE, "AuthorizeSecurityGroupIngress", by_name, Value::Null)),
            [GroupRef::Name("default".into())]
        );
        let nothing =
            call(EC2_EVENT_SOURCE, "AuthorizeSecurityGroupIngress", json!({"cidrIp": "0.0.0.0/0"}), Value::Null);
        assert_eq!(triage_payload(&nothing), Err(EventError::MissingField("groupId")));
    }

    fn requested(payload: &Value) -> Vec<String> {
        match triage_payload(payload) {
            Ok(Triage::Handle(target)) => target
                .requested
                .iter()
                .map(|r| format!("{} {:?}-{:?} {}", r.protocol, r.from_port, r.to_port, r.source.describe()))
                .collect(),
            other => panic!("expected a check, got {other:?}"),
        }
    }

    #[test]
    fn requested_ingress_is_read_from_every_request_shape() {
        let nested = json!({"groupId": "sg-00000000000000001", "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432,
             "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/16"}]},
             "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}, "groups": {}, "prefixListIds": {}},
            {"ipProtocol": "-1", "groups": {"items": [{"groupId": "sg-app"}]}}]}});
        assert_eq!(
            requested(&call(EC2_EVENT_SOURCE, "AuthorizeSecurityGroupIngress", nested, Value::Null)),
            [
                "tcp Some(5432)-Some(5432) 0.0.0.0/0",
                "tcp Some(5432)-Some(5432) 10.0.0.0/16",
                "tcp Some(5432)-Some(5432) ::/0",
                "-1 None-None security group sg-app"
            ]
        );
        let flat = json!({"groupId": "sg-00000000000000002", "cidrIp": "0.0.0.0/0", "fromPort": "3306", "toPort": 3306, "ipProtocol": "tcp"});
        assert_eq!(
            requested(&call(EC2_EVENT_SOURCE, "AuthorizeSecurityGroupIngress", flat, Value::Null)),
            ["tcp Some(3306)-Some(3306) 0.0.0.0/0"]
        );
        let modify = json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-00000000000000003", "SecurityGroupRule": [
            {"SecurityGroupRuleId": "sgr-1", "SecurityGroupRule": {"CidrIpv6": "::/0", "FromPort": 0, "ToPort": 65535, "IpProtocol": "tcp"}},
            {"SecurityGroupRuleId": "sgr-2", "SecurityGroupRule": {"ReferencedGroupId": "sg-app", "IpProtocol": "-1"}}]}});
        assert_eq!(
            requested(&call(EC2_EVENT_SOURCE, "ModifySecurityGroupRules", modify, Value::Null)),
            ["tcp Some(0)-Some(65535) ::/0", "-1 None-None security group sg-app"]
        );
    }

    #[test]
    fn modify_security_group_rules_is_read_from_the_wrapped_request() {
        let single = json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-00000000000000003", "SecurityGroupRule": {
            "SecurityGroupRuleId": "sgr-1", "tag": 1,
            "SecurityGroupRule": {"CidrIpv4": "0.0.0.0/0", "FromPort": 5432, "ToPort": 5432, "IpProtocol": "tcp"}}}});
        assert_eq!(
            groups(&call(EC2_EVENT_SOURCE, "ModifySecurityGroupRules", single, json!({"_return": true}))),
            [id("sg-00000000000000003")]
        );
    }

    #[test]
    fn database_calls_name_their_groups() {
        let request = json!({"dBInstanceIdentifier": "db1", "vpcSecurityGroupIds": ["sg-0000000a", "sg-0000000b"]});
        let response = json!({"vpcSecurityGroups": [{"vpcSecurityGroupId": "sg-0000000b", "status": "active"},
            {"vpcSecurityGroupId": "sg-0000000c", "status": "adding"}]});
        assert_eq!(
            groups(&call(RDS_EVENT_SOURCE, "CreateDBInstance", request, response)),
            [id("sg-0000000a"), id("sg-0000000b"), id("sg-0000000c")]
        );
        let items = json!({"vpcSecurityGroupIds": {"items": ["sg-0000000d"]}});
        assert_eq!(groups(&call(RDS_EVENT_SOURCE, "ModifyDBCluster", items, Value::Null)), [id("sg-0000000d")]);
        let none = call(RDS_EVENT_SOURCE, "ModifyDBInstance", json!({"dBInstanceIdentifier": "db1"}), Value::Null);
        assert!(ignored(&none).contains("names no valid VPC security group id"));
    }

    #[test]
    fn what_is_not_ours_is_ignored_with_a_reason() {
        let failed = {
            let mut event = call(
                EC2_EVENT_SOURCE,
                "AuthorizeSecurityGroupIngress",
                json!({"groupId": "sg-00000000000000001"}),
                Value::Null,
            );
            event["detail"]["errorCode"] = json!("Client.UnauthorizedOperation");
            event
        };
        assert!(ignored(&failed).contains("failed with Client.UnauthorizedOperation"));
        assert!(ignored(&call(
            EC2_EVENT_SOURCE,
            "RevokeSecurityGroupEgress",
            json!({"groupId": "sg-00000000000000001"}),
            Value::Null
        ))
        .contains("does not open security groups"));
        // A revoke or a deletion is handled, as a call that only closes (for the findings ledger).
        for name in CLOSING_CALLS {
            let closing = call(EC2_EVENT_SOURCE, name, json!({"groupId": "sg-00000000000000001"}), Value::Null);
            let Ok(Triage::Handle(target)) = triage_payload(&closing) else { panic!("{name} is handled") };
            assert!(target.closes && target.requested.is_empty(), "{name}: {target:?}");
            assert_eq!(target.groups, [GroupRef::Id("sg-00000000000000001".into())]);
        }
        assert!(
            ignored(&call(RDS_EVENT_SOURCE, "DeleteDBInstance", json!({}), Value::Null)).contains("DeleteDBInstance")
        );
        assert!(ignored(&json!([1, 2])).contains("not an event network-guard understands"));
        assert!(ignored(&json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}))
            .contains("Scheduled Event"));
    }

    #[test]
    fn unusable_events_of_ours_are_errors() {
        let mut odd_account = call(
            EC2_EVENT_SOURCE,
            "AuthorizeSecurityGroupIngress",
            json!({"groupId": "sg-00000000000000001"}),
            Value::Null,
        );
        odd_account["account"] = json!("<ACCOUNT>");
        assert!(matches!(triage_payload(&odd_account), Err(EventError::Identity(_))));
        let broken = json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2", "time": "yesterday",
            "detail": {"eventName": "AuthorizeSecurityGroupIngress"}});
        assert!(matches!(triage_payload(&broken), Err(EventError::BadEnvelope(_))), "{:?}", triage_payload(&broken));
    }
}
