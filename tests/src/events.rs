//! Builders for the EventBridge events AWS delivers to rdsguard's functions, shaped like the real samples in
//! shared/tests/fixtures/real-events.

use serde_json::{json, Value};

/// An "AWS API Call via CloudTrail" envelope for an RDS call.
pub fn rds_api_call(name: &str, account: &str, region: &str, request: Value, response: Value) -> Value {
    api_call("rds", name, account, region, request, response)
}

/// An "AWS API Call via CloudTrail" envelope for a call to `service` (`rds`, `ec2`...).
pub fn api_call(service: &str, name: &str, account: &str, region: &str, request: Value, response: Value) -> Value {
    json!({
        "version": "0",
        "id": format!("{name}-{account}-{region}-envelope"),
        "detail-type": "AWS API Call via CloudTrail",
        "source": format!("aws.{service}"),
        "account": account,
        "time": "2026-11-23T09:00:00Z",
        "region": region,
        "resources": [],
        "detail": {
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLEANDREW",
                "arn": format!("arn:aws:iam::{account}:user/andrew"),
                "accountId": account,
                "userName": "andrew"
            },
            "eventTime": "2026-11-23T09:00:00Z",
            "eventSource": format!("{service}.amazonaws.com"),
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": "203.0.113.10",
            "userAgent": "aws-cli/2.15.0",
            "requestParameters": request,
            "responseElements": response,
            "requestID": "6b1f6c4e-0000-4000-8000-000000000001",
            "eventID": format!("{name}-{account}-{region}"),
            "readOnly": false,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": account,
            "eventCategory": "Management"
        }
    })
}

/// CreateDBInstance as CloudTrail records it: public access and encryption often only in the
/// response (AWS applied defaults), the password masked.
pub fn create_db_instance(account: &str, region: &str, id: &str, public: bool, encrypted: bool) -> Value {
    rds_api_call(
        "CreateDBInstance",
        account,
        region,
        json!({
            "dBInstanceIdentifier": id,
            "dBInstanceClass": "db.t3.micro",
            "engine": "postgres",
            "engineVersion": "14.6",
            "masterUsername": "root",
            "masterUserPassword": "****",
            "allocatedStorage": 20,
            "backupRetentionPeriod": 0
        }),
        json!({
            "dBInstanceIdentifier": id,
            "dBInstanceArn": format!("arn:aws:rds:{region}:{account}:db:{id}"),
            "dBInstanceStatus": "creating",
            "publiclyAccessible": public,
            "storageEncrypted": encrypted,
            "engine": "postgres",
            "pendingModifiedValues": {"masterUserPassword": "****"}
        }),
    )
}

/// An "RDS DB Instance Event" / "RDS DB Cluster Event" notification.
pub fn rds_event(
    kind: &str,
    account: &str,
    region: &str,
    id: &str,
    rds_event_id: &str,
    message: &str,
    category: &str,
) -> Value {
    let (detail_type, source_type, arn_kind) = match kind {
        "cluster" => ("RDS DB Cluster Event", "CLUSTER", "cluster"),
        _ => ("RDS DB Instance Event", "DB_INSTANCE", "db"),
    };
    let arn = format!("arn:aws:rds:{region}:{account}:{arn_kind}:{id}");
    json!({
        "version": "0",
        "id": format!("{rds_event_id}-{id}"),
        "detail-type": detail_type,
        "source": "aws.rds",
        "account": account,
        "time": "2026-11-23T09:05:00Z",
        "region": region,
        "resources": [arn],
        "detail": {
            "EventCategories": [category],
            "SourceType": source_type,
            "SourceArn": arn,
            "Date": "2026-11-23T09:05:00.000Z",
            "Message": message,
            "SourceIdentifier": id,
            "EventID": rds_event_id
        }
    })
}

/// AuthorizeSecurityGroupIngress as CloudTrail records it (the `ipPermissions.items[]` shape): one
/// permission on `port` (tcp) from each of `cidrs`, IPv4 and IPv6 alike.
pub fn authorize_ingress(account: &str, region: &str, group_id: &str, port: i32, cidrs: &[&str]) -> Value {
    let v4: Vec<Value> = cidrs.iter().filter(|c| !c.contains(':')).map(|c| json!({"cidrIp": c})).collect();
    let v6: Vec<Value> = cidrs.iter().filter(|c| c.contains(':')).map(|c| json!({"cidrIpv6": c})).collect();
    api_call(
        "ec2",
        "AuthorizeSecurityGroupIngress",
        account,
        region,
        json!({
            "groupId": group_id,
            "ipPermissions": {"items": [{
                "ipProtocol": "tcp", "fromPort": port, "toPort": port, "groups": {},
                "ipRanges": {"items": v4}, "ipv6Ranges": {"items": v6}, "prefixListIds": {}
            }]}
        }),
        json!({"requestId": "2be70b99-4937-4a76-b7d9-390b6d0eda73", "_return": true}),
    )
}

/// ModifySecurityGroupRules as CloudTrail records it (PascalCase, wrapped in
/// `ModifySecurityGroupRulesRequest`): rule `rule_id` now admits tcp `from`-`to` from `cidr`.
pub fn modify_security_group_rule(
    account: &str,
    region: &str,
    group_id: &str,
    rule_id: &str,
    (from, to): (i32, i32),
    cidr: &str,
) -> Value {
    let cidr_key = if cidr.contains(':') { "CidrIpv6" } else { "CidrIpv4" };
    api_call(
        "ec2",
        "ModifySecurityGroupRules",
        account,
        region,
        json!({"ModifySecurityGroupRulesRequest": {
            "GroupId": group_id,
            "SecurityGroupRule": {
                "SecurityGroupRuleId": rule_id, "tag": 1,
                "SecurityGroupRule": {cidr_key: cidr, "FromPort": from, "ToPort": to, "IpProtocol": "tcp"}
            }
        }}),
        json!({"requestId": "9a1e0c7e-0000-4000-8000-000000000002", "_return": true}),
    )
}
