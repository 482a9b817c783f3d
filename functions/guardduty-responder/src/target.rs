//! Which database a GuardDuty finding is about, in which account and region, how severe it is —
//! or why the finding is none of guardduty-responder's business.

use rdsguard::arn::Arn;
use rdsguard::arn::RdsResourceKind::{DbCluster, DbInstance};
use rdsguard::database::DatabaseKind;
use rdsguard::event::{parse_guardduty_event, EventError, GuardDutyEvent, GuardDutyFinding};
use rdsguard::finding::EventContext;
use rdsguard::guardduty::{rds_relevance, severity_label};
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::rules::Severity;
use serde_json::Value;

/// The database a finding names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseRef {
    pub kind: DatabaseKind,
    /// The instance (or, for a cluster-level finding, cluster) identifier, lowercased as RDS keeps
    /// identifiers.
    pub identifier: String,
    /// The cluster the instance belongs to, as the finding says.
    pub cluster_identifier: Option<String>,
    pub arn: String,
}

/// A finding about a database.
#[derive(Debug, Clone, PartialEq)]
pub struct Threat {
    pub finding: GuardDutyFinding,
    pub account: AccountId,
    pub region: AwsRegion,
    /// GuardDuty's severity as a label.
    pub severity: Severity,
    pub database: DatabaseRef,
    /// Set when the finding contradicts itself (its database ARN names another account or region):
    /// then nothing is changed, only alerted.
    pub inconsistency: Option<String>,
    pub context: EventContext,
}

/// What triage made of an event: a GuardDuty finding about a database, or a reason to leave it.
pub type Triage = rdsguard::event::Triage<Box<Threat>>;

/// Decides what a raw invocation payload is about. Payloads that are not events are ignored with
/// the reason; a GuardDuty finding that cannot be read, or a database finding without a usable
/// account, region, severity or database, is an error (retried, then kept in the dead-letter queue).
pub fn triage_payload(payload: &Value) -> Result<Triage, EventError> {
    let finding = match parse_guardduty_event(payload) {
        Ok(GuardDutyEvent::Finding(finding)) => finding,
        Ok(GuardDutyEvent::NotAFinding(what)) => return Ok(Triage::Ignore(format!("{what}: not handled"))),
        Err(e @ (EventError::NotAnObject | EventError::UnknownShape)) => {
            return Ok(Triage::Ignore(format!("not an event guardduty-responder understands: {e}")))
        }
        Err(e) => return Err(e),
    };
    let Some(relevance) = rds_relevance(&finding) else {
        return Ok(Triage::Ignore(format!(
            "GuardDuty finding {} ({} on {}) is not about a database: acknowledged",
            finding.id,
            finding.finding_type,
            finding.resource_type.as_deref().unwrap_or("an unknown resource type")
        )));
    };
    let account = finding.account_id()?;
    let region = finding.aws_region()?;
    let severity = finding.severity.and_then(severity_label).ok_or(EventError::MissingField("severity"))?;
    let database = database_ref(&finding, &account, &region)?;
    let inconsistency = arn_mismatch(&database.arn, &account, &region);
    tracing::debug!(finding = %finding.id, relevance, "finding is about a database");
    let context = EventContext {
        event_id: finding.id.clone(),
        event_name: finding.finding_type.clone(),
        event_time: finding.updated_at.clone().or_else(|| finding.created_at.clone()),
        actor: actor(&finding),
    };
    Ok(Triage::Handle(Box::new(Threat {
        finding: *finding,
        account,
        region,
        severity,
        database,
        inconsistency,
        context,
    })))
}

fn database_ref(
    finding: &GuardDutyFinding,
    account: &AccountId,
    region: &AwsRegion,
) -> Result<DatabaseRef, EventError> {
    let details = finding.database.clone().unwrap_or_default();
    let cluster = details.cluster_id.as_deref().map(str::to_ascii_lowercase);
    let partition = region.partition();
    if let Some(instance) = details.instance_id.as_deref() {
        let identifier = instance.to_ascii_lowercase();
        let arn = details.instance_arn.clone().unwrap_or_else(|| {
            Arn::rds(partition, region.as_str(), account.as_str(), DbInstance, &identifier).to_string()
        });
        return Ok(DatabaseRef { kind: DatabaseKind::Instance, identifier, cluster_identifier: cluster, arn });
    }
    if let Some(identifier) = cluster {
        let arn = Arn::rds(partition, region.as_str(), account.as_str(), DbCluster, &identifier).to_string();
        return Ok(DatabaseRef { kind: DatabaseKind::Cluster, identifier, cluster_identifier: None, arn });
    }
    Err(EventError::MissingField("resource.rdsDbInstanceDetails.dbInstanceIdentifier"))
}

/// `arn:<partition>:rds:<region>:<account>:...` must name the finding's own account and region.
fn arn_mismatch(arn: &str, account: &AccountId, region: &AwsRegion) -> Option<String> {
    match Arn::parse(arn) {
        Ok(parsed) if parsed.region == region.as_str() && parsed.account == account.as_str() => None,
        _ => Some(format!(
            "the finding's database ARN {arn} is not in the finding's account and region ({account}/{region}): \
             nothing is changed on contradictory information"
        )),
    }
}

/// Who is behind the activity, as far as GuardDuty says: the database user and remote address.
fn actor(finding: &GuardDutyFinding) -> String {
    let user = finding.db_user.as_ref().and_then(|u| u.user.as_deref());
    let ip = finding.remote_ip.as_ref().and_then(|ip| ip.address.as_deref());
    match (user, ip) {
        (Some(user), Some(ip)) => format!("database user {user} from {ip}"),
        (None, Some(ip)) => format!("remote address {ip}"),
        (Some(user), None) => format!("database user {user}"),
        (None, None) => "unknown (GuardDuty did not report a caller)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn envelope(detail: Value) -> Value {
        json!({"version": "0", "id": "env-1", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
               "account": "123456789012", "region": "eu-west-1", "resources": [], "detail": detail})
    }

    fn rds_finding() -> Value {
        json!({
            "schemaVersion": "2.0", "accountId": "123456789012", "region": "eu-west-1", "id": "f-1",
            "type": "CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin", "severity": 8.0,
            "createdAt": "2026-11-23T09:00:00.000Z", "updatedAt": "2026-11-23T09:00:00.000Z",
            "resource": {"resourceType": "RDSDBInstance",
                "rdsDbInstanceDetails": {"dbInstanceIdentifier": "Orders-DB", "engine": "aurora-postgresql",
                    "dbClusterIdentifier": "orders", "dbInstanceArn": "arn:aws:rds:eu-west-1:123456789012:db:orders-db"},
                "rdsDbUserDetails": {"user": "app_admin"}},
            "service": {"count": 1, "action": {"actionType": "RDS_LOGIN_ATTEMPT",
                "rdsLoginAttemptAction": {"remoteIpDetails": {"ipAddressV4": "198.51.100.23"}}}}
        })
    }

    fn respond(payload: &Value) -> Threat {
        match triage_payload(payload) {
            Ok(Triage::Handle(t)) => *t,
            other => panic!("expected a threat, got {other:?}"),
        }
    }

    #[test]
    fn a_login_finding_names_database_severity_and_actor() {
        let threat = respond(&envelope(rds_finding()));
        assert_eq!(threat.severity, Severity::High);
        assert_eq!(threat.database.kind, DatabaseKind::Instance);
        assert_eq!(threat.database.identifier, "orders-db");
        assert_eq!(threat.database.cluster_identifier.as_deref(), Some("orders"));
        assert_eq!(threat.database.arn, "arn:aws:rds:eu-west-1:123456789012:db:orders-db");
        assert_eq!(threat.inconsistency, None);
        assert_eq!(threat.context.actor, "database user app_admin from 198.51.100.23");
        assert_eq!(threat.context.event_id, "f-1");
        assert_eq!(threat.context.event_name, "CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin");
    }

    #[test]
    fn cluster_only_findings_name_the_cluster() {
        let mut detail = rds_finding();
        detail["resource"] = json!({"resourceType": "RDSLimitlessDB",
            "rdsLimitlessDbDetails": {"dbShardGroupIdentifier": "sg", "dbClusterIdentifier": "Limitless-1"}});
        let threat = respond(&envelope(detail));
        assert_eq!(threat.database.kind, DatabaseKind::Cluster);
        assert_eq!(threat.database.arn, "arn:aws:rds:eu-west-1:123456789012:cluster:limitless-1");
        assert_eq!(threat.context.actor, "remote address 198.51.100.23");
    }

    #[test]
    fn contradictory_arns_are_flagged() {
        let mut detail = rds_finding();
        detail["resource"]["rdsDbInstanceDetails"]["dbInstanceArn"] =
            json!("arn:aws:rds:eu-west-1:999999999999:db:orders-db");
        let threat = respond(&envelope(detail));
        assert!(threat.inconsistency.unwrap().contains("not in the finding's account and region"));
    }

    #[test]
    fn other_findings_and_events_are_acknowledged_and_ignored() {
        let mut ec2 = rds_finding();
        ec2["type"] = json!("Backdoor:EC2/C&CActivity.B!DNS");
        ec2["resource"] = json!({"resourceType": "Instance"});
        let cases = [
            (envelope(ec2), "is not about a database: acknowledged"),
            (
                json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.rds", "detail": {}}),
                "is not a GuardDuty finding",
            ),
            (json!({"eventSource": "rds.amazonaws.com", "eventName": "CreateDBInstance"}), "a CloudTrail record"),
            (json!({"hello": "world"}), "not an event guardduty-responder understands"),
            (json!(42), "not an event guardduty-responder understands"),
        ];
        for (payload, reason) in cases {
            match triage_payload(&payload) {
                Ok(Triage::Ignore(why)) => assert!(why.contains(reason), "{why}"),
                other => panic!("expected ignore ({reason}), got {other:?}"),
            }
        }
    }

    #[test]
    fn database_findings_it_cannot_act_on_safely_are_errors() {
        let with = |path: &str, value: Value| {
            let mut detail = rds_finding();
            detail.pointer_mut(path).map(|v| *v = value).unwrap();
            envelope(detail)
        };
        let cases = [
            (with("/accountId", json!("<ACCOUNT_ID>")), "is not 12 digits"),
            (with("/region", json!("meiso-eastwest-2r")), "is not an AWS region"),
            (with("/severity", json!(null)), "no usable severity"),
            (with("/severity", json!(-3)), "no usable severity"),
            (with("/resource/rdsDbInstanceDetails", json!({})), "no usable resource.rdsDbInstanceDetails"),
            (with("/id", json!("")), "no usable id"),
            (json!({"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": []}), "no detail object"),
        ];
        for (payload, reason) in cases {
            match triage_payload(&payload) {
                Err(e) => assert!(e.to_string().contains(reason), "{e}"),
                other => panic!("expected error ({reason}), got {other:?}"),
            }
        }
        // A finding without accountId is about the account whose bus delivered it.
        let mut detail = rds_finding();
        detail.as_object_mut().unwrap().remove("accountId");
        assert_eq!(respond(&envelope(detail)).account.as_str(), "123456789012");
    }
}
