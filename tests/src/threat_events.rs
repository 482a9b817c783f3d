//! Builders for the events pipeline-guard and guardduty-responder receive, shaped like the real
//! samples in shared/tests/fixtures/real-events (the Stratus Red Team StopLogging record, the
//! Elastic RDS Protection finding).

use serde_json::{json, Value};

/// An "AWS API Call via CloudTrail" envelope for a call to `event_source` (e.g.
/// `cloudtrail.amazonaws.com`), made by user mallory from 198.51.100.66 with the AWS CLI.
/// `error_code`: the call failed.
pub fn api_call(
    event_source: &str,
    name: &str,
    account: &str,
    region: &str,
    request: Value,
    error_code: Option<&str>,
) -> Value {
    let service = event_source.trim_end_matches(".amazonaws.com");
    let mut detail = json!({
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEMALLORY",
            "arn": format!("arn:aws:iam::{account}:user/mallory"),
            "accountId": account,
            "accessKeyId": "AKIAEXAMPLEMALLORY",
            "userName": "mallory"
        },
        "eventTime": "2026-11-23T10:00:00Z",
        "eventSource": event_source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.66",
        "userAgent": "aws-cli/2.15.0 md/command#cloudtrail.stop-logging",
        "requestParameters": request,
        "responseElements": null,
        "requestID": "0b3d5e7f-0000-4000-8000-000000000066",
        "eventID": format!("{name}-{account}-{region}"),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account,
        "eventCategory": "Management"
    });
    if let Some(code) = error_code {
        detail["errorCode"] = json!(code);
        detail["errorMessage"] =
            json!(format!("User: arn:aws:iam::{account}:user/mallory is not authorized to perform: {service}:{name}"));
    }
    json!({
        "version": "0",
        "id": format!("{name}-{account}-{region}-envelope"),
        "detail-type": "AWS API Call via CloudTrail",
        "source": format!("aws.{service}"),
        "account": account,
        "time": "2026-11-23T10:00:00Z",
        "region": region,
        "resources": [],
        "detail": detail
    })
}

/// A GuardDuty RDS Protection login finding as EventBridge delivers it.
#[derive(Debug, Clone)]
pub struct RdsFinding<'a> {
    pub id: &'a str,
    pub finding_type: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    pub instance: &'a str,
    pub severity: f64,
    pub created_at: &'a str,
    pub updated_at: &'a str,
    pub count: u64,
    pub sample: bool,
}

impl<'a> RdsFinding<'a> {
    /// A first sight of a successful login from a known malicious address (GuardDuty: HIGH).
    pub fn malicious_login(account: &'a str, region: &'a str, instance: &'a str) -> Self {
        Self {
            id: "7ac4a1f0b2e64c1d9e8f00112233aabb",
            finding_type: "CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin",
            account,
            region,
            instance,
            severity: 8.0,
            created_at: "2026-11-23T09:58:02.114Z",
            updated_at: "2026-11-23T09:58:02.114Z",
            count: 1,
            sample: false,
        }
    }

    pub fn event(&self) -> Value {
        let Self { id, finding_type, account, region, instance, severity, created_at, updated_at, count, sample } =
            self.clone();
        json!({
            "version": "0",
            "id": format!("gd-{id}-{updated_at}"),
            "detail-type": "GuardDuty Finding",
            "source": "aws.guardduty",
            "account": account,
            "time": updated_at,
            "region": region,
            "resources": [],
            "detail": {
                "schemaVersion": "2.0",
                "accountId": account,
                "region": region,
                "partition": "aws",
                "id": id,
                "arn": format!("arn:aws:guardduty:{region}:{account}:detector/12abc34d567e8fa901bc2d34e56789f0/finding/{id}"),
                "type": finding_type,
                "resource": {
                    "resourceType": "RDSDBInstance",
                    "rdsDbInstanceDetails": {
                        "dbInstanceIdentifier": instance,
                        "engine": "postgres",
                        "engineVersion": "14.6",
                        "dbInstanceArn": format!("arn:aws:rds:{region}:{account}:db:{instance}")
                    },
                    "rdsDbUserDetails": {
                        "user": "root",
                        "application": "psql",
                        "database": "orders",
                        "ssl": "true",
                        "authMethod": "PASSWORD"
                    }
                },
                "service": {
                    "serviceName": "guardduty",
                    "detectorId": "12abc34d567e8fa901bc2d34e56789f0",
                    "action": {
                        "actionType": "RDS_LOGIN_ATTEMPT",
                        "rdsLoginAttemptAction": {
                            "remoteIpDetails": {
                                "ipAddressV4": "203.0.113.77",
                                "organization": {"asn": "64511", "asnOrg": "Example Hosting", "isp": "Example Hosting", "org": "Example Hosting Ltd"},
                                "country": {"countryName": "Freedonia"},
                                "city": {"cityName": "Fredville"},
                                "geoLocation": {"lat": 0, "lon": 0}
                            },
                            "LoginAttributes": [
                                {"user": "root", "application": "psql", "failedLoginAttempts": 14, "successfulLoginAttempts": 1}
                            ]
                        }
                    },
                    "additionalInfo": {"sample": sample, "type": "default"},
                    "resourceRole": "TARGET",
                    "count": count,
                    "eventFirstSeen": created_at,
                    "eventLastSeen": updated_at,
                    "archived": false
                },
                "severity": severity,
                "createdAt": created_at,
                "updatedAt": updated_at,
                "title": format!("Successful login from a malicious IP address to RDS instance {instance}."),
                "description": format!("A known malicious IP address logged in to RDS instance {instance} as root.")
            }
        })
    }
}
