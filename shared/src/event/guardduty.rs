//! GuardDuty findings, read tolerantly.
//!
//! EventBridge delivers a finding as the `detail` of a "GuardDuty Finding" event, in camelCase;
//! findings exported through the API (GetFindings, S3 export) are PascalCase; test tools and
//! forwarders often send the bare finding without the envelope. All three are accepted: keys are
//! compared without regard to case and numbers may arrive as numbers or strings. Only the finding
//! `id` and `type` are required to read a finding; what a function needs beyond that (account,
//! region, database, severity) it validates itself.

use serde::Serialize;
use serde_json::Value;

use super::{detail_type, EventError};
use crate::identity::{AccountId, AwsRegion};

/// What a payload turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum GuardDutyEvent {
    Finding(Box<GuardDutyFinding>),
    /// A well-formed event that is not a GuardDuty finding (another detail-type, a CloudTrail
    /// record...), with what it is.
    NotAFinding(String),
}

/// The database a finding is about (`resource.rdsDbInstanceDetails`, or the cluster of
/// `resource.rdsLimitlessDbDetails`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FindingDatabase {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
}

/// The database user of a login finding (`resource.rdsDbUserDetails`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FindingDbUser {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
}

/// Where the activity came from (`service.action.*.remoteIpDetails`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FindingRemoteIp {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn_organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
}

/// One entry of `service.action.rdsLoginAttemptAction.LoginAttributes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FindingLoginAttempts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub successful: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GuardDutyFinding {
    pub id: String,
    /// e.g. `CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin`.
    pub finding_type: String,
    pub arn: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// The account the finding is about (`accountId`), else the envelope's account. Unvalidated.
    pub account: Option<String>,
    /// `region`, else the envelope's region. Unvalidated.
    pub region: Option<String>,
    /// GuardDuty's numeric severity (1.0-10.0).
    pub severity: Option<f64>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// `resource.resourceType`, e.g. `RDSDBInstance`, `RDSLimitlessDB`, `Instance`, `AccessKey`.
    pub resource_type: Option<String>,
    pub database: Option<FindingDatabase>,
    pub db_user: Option<FindingDbUser>,
    /// `service.action.actionType`, e.g. `RDS_LOGIN_ATTEMPT`.
    pub action_type: Option<String>,
    pub remote_ip: Option<FindingRemoteIp>,
    pub login_attempts: Vec<FindingLoginAttempts>,
    /// `service.additionalInfo.unusualBehavior`: GuardDuty's profiling counts, kept as sent.
    pub unusual_behavior: Option<Value>,
    /// `service.count`: occurrences aggregated into this finding so far.
    pub count: Option<u64>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// `service.additionalInfo.sample`: a sample finding generated for testing.
    pub sample: bool,
    pub archived: bool,
    /// The EventBridge event id, when there was an envelope.
    pub envelope_id: Option<String>,
}

/// Opens a "GuardDuty Finding" EventBridge envelope, or accepts a bare finding (camelCase or
/// PascalCase).
pub fn parse_guardduty_event(payload: &Value) -> Result<GuardDutyEvent, EventError> {
    if !payload.is_object() {
        return Err(EventError::NotAnObject);
    }
    if payload.get("detail-type").is_some() || payload.get("detail").is_some() {
        let kind = text(payload.get("detail-type")).unwrap_or_default();
        let source = text(payload.get("source")).unwrap_or_default();
        if kind != detail_type::GUARDDUTY_FINDING {
            return Ok(GuardDutyEvent::NotAFinding(format!(
                "detail-type {kind:?} from {source:?} is not a GuardDuty finding"
            )));
        }
        let detail = payload.get("detail").unwrap_or(&Value::Null);
        if !detail.is_object() {
            return Err(EventError::BadEnvelope("the GuardDuty Finding event has no detail object".to_owned()));
        }
        let finding = GuardDutyFinding::from_detail(
            detail,
            text(payload.get("account")),
            text(payload.get("region")),
            text(payload.get("id")),
        )?;
        return Ok(GuardDutyEvent::Finding(Box::new(finding)));
    }
    if text(field(payload, &["eventSource"])).is_some() && text(field(payload, &["eventName"])).is_some() {
        return Ok(GuardDutyEvent::NotAFinding("a CloudTrail record, not a GuardDuty finding".to_owned()));
    }
    let looks_like_finding = text(field(payload, &["type"])).is_some()
        && ["schemaVersion", "service", "severity"].iter().any(|key| field(payload, &[key]).is_some());
    if looks_like_finding {
        return Ok(GuardDutyEvent::Finding(Box::new(GuardDutyFinding::from_detail(payload, None, None, None)?)));
    }
    Err(EventError::UnknownShape)
}

impl GuardDutyFinding {
    /// Reads a finding (the `detail` of the event). `envelope_*` come from the EventBridge
    /// envelope when there is one.
    pub fn from_detail(
        detail: &Value,
        envelope_account: Option<&str>,
        envelope_region: Option<&str>,
        envelope_id: Option<&str>,
    ) -> Result<Self, EventError> {
        if !detail.is_object() {
            return Err(EventError::NotAnObject);
        }
        let id = text(field(detail, &["id"])).ok_or(EventError::MissingField("id"))?;
        let finding_type = text(field(detail, &["type"])).ok_or(EventError::MissingField("type"))?;
        let resource = field(detail, &["resource"]);
        let service = field(detail, &["service"]);
        let additional = service.and_then(|s| field(s, &["additionalInfo"]));
        let action = service.and_then(|s| field(s, &["action"]));
        Ok(Self {
            id: id.to_owned(),
            finding_type: finding_type.to_owned(),
            arn: owned(field(detail, &["arn"])),
            title: owned(field(detail, &["title"])),
            description: owned(field(detail, &["description"])),
            account: text(field(detail, &["accountId"])).or(envelope_account).map(str::to_owned),
            region: text(field(detail, &["region"])).or(envelope_region).map(str::to_owned),
            severity: number(field(detail, &["severity"])),
            created_at: owned(field(detail, &["createdAt"])),
            updated_at: owned(field(detail, &["updatedAt"])),
            resource_type: resource.and_then(|r| owned(field(r, &["resourceType"]))),
            database: resource.and_then(database_of),
            db_user: resource.and_then(|r| field(r, &["rdsDbUserDetails"])).map(|u| FindingDbUser {
                user: owned(field(u, &["user"])),
                application: owned(field(u, &["application"])),
                database: owned(field(u, &["database"])),
                ssl: owned(field(u, &["ssl"])),
                auth_method: owned(field(u, &["authMethod"])),
            }),
            action_type: action.and_then(|a| owned(field(a, &["actionType"]))),
            remote_ip: action.and_then(remote_ip_of),
            login_attempts: action.map(login_attempts_of).unwrap_or_default(),
            unusual_behavior: additional.and_then(|a| field(a, &["unusualBehavior"])).filter(|v| !v.is_null()).cloned(),
            count: service.and_then(|s| number(field(s, &["count"]))).filter(|n| *n >= 0.0).map(|n| n as u64),
            first_seen: service.and_then(|s| owned(field(s, &["eventFirstSeen"]))),
            last_seen: service.and_then(|s| owned(field(s, &["eventLastSeen"]))),
            sample: additional.and_then(|a| flag(field(a, &["sample"]))).unwrap_or(false),
            archived: service.and_then(|s| flag(field(s, &["archived"]))).unwrap_or(false),
            envelope_id: envelope_id.map(str::to_owned),
        })
    }

    /// The account the finding is about, validated.
    pub fn account_id(&self) -> Result<AccountId, EventError> {
        let raw = self.account.as_deref().ok_or(EventError::MissingField("accountId"))?;
        Ok(AccountId::parse(raw)?)
    }

    /// The region the finding is about, validated.
    pub fn aws_region(&self) -> Result<AwsRegion, EventError> {
        let raw = self.region.as_deref().ok_or(EventError::MissingField("region"))?;
        Ok(AwsRegion::parse(raw)?)
    }
}

fn database_of(resource: &Value) -> Option<FindingDatabase> {
    if let Some(details) = field(resource, &["rdsDbInstanceDetails"]).filter(|d| d.is_object()) {
        return Some(FindingDatabase {
            instance_id: owned(field(details, &["dbInstanceIdentifier"])),
            instance_arn: owned(field(details, &["dbInstanceArn"])),
            cluster_id: owned(field(details, &["dbClusterIdentifier"])),
            engine: owned(field(details, &["engine"])),
            engine_version: owned(field(details, &["engineVersion"])),
        });
    }
    // Aurora Limitless: the finding names the shard group and its cluster; rdsguard acts on the
    // cluster.
    field(resource, &["rdsLimitlessDbDetails"]).filter(|d| d.is_object()).map(|details| FindingDatabase {
        instance_id: None,
        instance_arn: None,
        cluster_id: owned(field(details, &["dbClusterIdentifier"])),
        engine: owned(field(details, &["engine"])),
        engine_version: owned(field(details, &["engineVersion"])),
    })
}

/// `remoteIpDetails` of whichever action GuardDuty reported (`rdsLoginAttemptAction` for RDS
/// Protection, `awsApiCallAction`, `networkConnectionAction`... for others).
fn remote_ip_of(action: &Value) -> Option<FindingRemoteIp> {
    let map = action.as_object()?;
    let preferred = field(action, &["rdsLoginAttemptAction"]).into_iter();
    let details =
        preferred.chain(map.values()).filter_map(|a| field(a, &["remoteIpDetails"])).find(|d| d.is_object())?;
    let organization = field(details, &["organization"]);
    Some(FindingRemoteIp {
        address: owned(field(details, &["ipAddressV4"])).or_else(|| owned(field(details, &["ipAddressV6"]))),
        organization: organization.and_then(|o| owned(field(o, &["org"]))),
        asn: organization.and_then(|o| field(o, &["asn"])).and_then(scalar_text),
        asn_organization: organization.and_then(|o| owned(field(o, &["asnOrg"]))),
        isp: organization.and_then(|o| owned(field(o, &["isp"]))),
        country: field(details, &["country"]).and_then(|c| owned(field(c, &["countryName"]))),
        city: field(details, &["city"]).and_then(|c| owned(field(c, &["cityName"]))),
    })
}

fn login_attempts_of(action: &Value) -> Vec<FindingLoginAttempts> {
    let Some(list) = field(action, &["rdsLoginAttemptAction", "loginAttributes"]).and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter(|item| item.is_object())
        .map(|item| FindingLoginAttempts {
            user: owned(field(item, &["user"])),
            application: owned(field(item, &["application"])),
            failed: number(field(item, &["failedLoginAttempts"])).filter(|n| *n >= 0.0).map(|n| n as u64),
            successful: number(field(item, &["successfulLoginAttempts"])).filter(|n| *n >= 0.0).map(|n| n as u64),
        })
        .collect()
}

/// `value[k1][k2]...`, each key compared without regard to case.
fn field<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut current = value;
    for key in path {
        let map = current.as_object()?;
        current = map.get(*key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))?;
    }
    Some(current)
}

fn text(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn owned(value: Option<&Value>) -> Option<String> {
    text(value).map(str::to_owned)
}

/// A string, or a number shown as text (GuardDuty sends `asn` both ways).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A finite number, sent as a number or as a numeric string.
fn number(value: Option<&Value>) -> Option<f64> {
    let n = match value? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

/// `true`/`false`, also sent as strings.
fn flag(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn finding(detail: Value) -> GuardDutyFinding {
        let envelope = json!({"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "account": "111122223333",
                              "region": "eu-west-1", "id": "env-1", "detail": detail});
        match parse_guardduty_event(&envelope) {
            Ok(GuardDutyEvent::Finding(f)) => *f,
            other => panic!("expected a finding, got {other:?}"),
        }
    }

    #[test]
    fn camel_case_and_pascal_case_read_the_same() {
        let camel = finding(json!({
            "id": "f1", "type": "CredentialAccess:RDS/TorIPCaller.SuccessfulLogin", "severity": 8,
            "accountId": "123456789012", "region": "us-east-1",
            "resource": {"resourceType": "RDSDBInstance",
                         "rdsDbInstanceDetails": {"dbInstanceIdentifier": "db1", "engine": "aurora-postgresql"},
                         "rdsDbUserDetails": {"user": "admin", "authMethod": "PASSWORD"}},
            "service": {"count": 3, "additionalInfo": {"sample": false},
                        "action": {"actionType": "RDS_LOGIN_ATTEMPT", "rdsLoginAttemptAction": {
                            "remoteIpDetails": {"ipAddressV4": "198.51.100.7", "organization": {"asn": 64500, "org": "Example"},
                                                "country": {"countryName": "Atlantis"}},
                            "LoginAttributes": [{"user": "admin", "failedLoginAttempts": 12, "successfulLoginAttempts": 1}]}}}
        }));
        let pascal = finding(json!({
            "Id": "f1", "Type": "CredentialAccess:RDS/TorIPCaller.SuccessfulLogin", "Severity": "8.0",
            "AccountId": "123456789012", "Region": "us-east-1",
            "Resource": {"ResourceType": "RDSDBInstance",
                         "RdsDbInstanceDetails": {"DbInstanceIdentifier": "db1", "Engine": "aurora-postgresql"},
                         "RdsDbUserDetails": {"User": "admin", "AuthMethod": "PASSWORD"}},
            "Service": {"Count": 3, "AdditionalInfo": {"Sample": "false"},
                        "Action": {"ActionType": "RDS_LOGIN_ATTEMPT", "RdsLoginAttemptAction": {
                            "RemoteIpDetails": {"IpAddressV4": "198.51.100.7", "Organization": {"Asn": "64500", "Org": "Example"},
                                                "Country": {"CountryName": "Atlantis"}},
                            "LoginAttributes": [{"User": "admin", "FailedLoginAttempts": 12, "SuccessfulLoginAttempts": 1}]}}}
        }));
        assert_eq!(camel, pascal);
        assert_eq!(camel.severity, Some(8.0));
        assert_eq!(camel.count, Some(3));
        assert_eq!(camel.database.as_ref().and_then(|d| d.instance_id.as_deref()), Some("db1"));
        assert_eq!(camel.db_user.as_ref().and_then(|u| u.auth_method.as_deref()), Some("PASSWORD"));
        let ip = camel.remote_ip.as_ref().unwrap();
        assert_eq!(
            (ip.address.as_deref(), ip.asn.as_deref(), ip.country.as_deref()),
            (Some("198.51.100.7"), Some("64500"), Some("Atlantis"))
        );
        assert_eq!(camel.login_attempts[0].failed, Some(12));
        assert_eq!(camel.account_id().map(|a| a.to_string()), Ok("123456789012".to_owned()));
        assert_eq!(camel.envelope_id.as_deref(), Some("env-1"));
    }

    #[test]
    fn envelope_fills_what_the_finding_lacks() {
        let f = finding(json!({"id": "f2", "type": "Discovery:RDS/MaliciousIPCaller"}));
        assert_eq!(f.account.as_deref(), Some("111122223333"));
        assert_eq!(f.region.as_deref(), Some("eu-west-1"));
        assert_eq!((f.severity, f.count, f.sample, f.database.clone()), (None, None, false, None));
    }

    #[test]
    fn limitless_findings_name_the_cluster() {
        let f = finding(json!({"id": "f3", "type": "CredentialAccess:RDS/MaliciousIPCaller.FailedLogin",
            "resource": {"resourceType": "RDSLimitlessDB", "rdsLimitlessDbDetails": {
                "dbShardGroupIdentifier": "sg", "dbClusterIdentifier": "limitless-1", "engine": "aurora-postgresql"}}}));
        let db = f.database.unwrap();
        assert_eq!((db.instance_id, db.cluster_id.as_deref()), (None, Some("limitless-1")));
    }

    #[test]
    fn bad_input_is_refused_or_passed_over_with_a_reason() {
        let cases: Vec<(Value, Result<&str, &str>)> = vec![
            (json!(null), Err("not a JSON object")),
            (json!([1]), Err("not a JSON object")),
            (json!({}), Err("neither an EventBridge envelope")),
            (json!({"hello": "world"}), Err("neither an EventBridge envelope")),
            (json!({"detail-type": "GuardDuty Finding", "detail": "oops"}), Err("no detail object")),
            (json!({"detail-type": "GuardDuty Finding", "detail": {"type": "X"}}), Err("no usable id")),
            (json!({"detail-type": "GuardDuty Finding", "detail": {"id": "1", "type": ""}}), Err("no usable type")),
            (json!({"type": "Recon:EC2/Portscan", "severity": 2}), Err("no usable id")),
            (
                json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.rds", "detail": {}}),
                Ok("is not a GuardDuty finding"),
            ),
            (json!({"eventSource": "rds.amazonaws.com", "eventName": "CreateDBInstance"}), Ok("a CloudTrail record")),
        ];
        for (payload, expected) in cases {
            match (parse_guardduty_event(&payload), expected) {
                (Ok(GuardDutyEvent::NotAFinding(why)), Ok(fragment)) => assert!(why.contains(fragment), "{why}"),
                (Err(e), Err(fragment)) => assert!(e.to_string().contains(fragment), "{payload}: {e}"),
                (got, want) => panic!("{payload}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn odd_numbers_and_flags_are_read_or_left_out() {
        let f = finding(json!({"id": "f4", "type": "t", "severity": "high", "accountId": "<ACCOUNT>",
            "service": {"count": -2, "archived": "true", "additionalInfo": {"sample": "TRUE"}}}));
        assert_eq!((f.severity, f.count, f.archived, f.sample), (None, None, true, true));
        assert!(f.account_id().unwrap_err().to_string().contains("is not 12 digits"));
    }
}
