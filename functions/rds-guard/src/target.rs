//! Which database an event is about, in which account and region, and who caused it — or why the
//! event is none of rds-guard's business.

use rdsguard::database::DatabaseKind;
use rdsguard::db_snapshot::SnapshotKind;
use rdsguard::event::{read_event, CloudTrailCall, EventError, IncomingEvent, RdsNativeEvent, RdsSourceType};
use rdsguard::finding::EventContext;
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::rules::{DatabaseChange, TLS_PARAMETER_NAMES};
use serde_json::Value;

pub const RDS_EVENT_SOURCE: &str = "rds.amazonaws.com";

/// CloudTrail calls that create a DB instance or change its settings, with the request parameters
/// naming the instance, most specific first (a rename's new name before the old one).
const INSTANCE_CALLS: &[(&str, &[&str])] = &[
    ("CreateDBInstance", &["dBInstanceIdentifier"]),
    ("ModifyDBInstance", &["newDBInstanceIdentifier", "dBInstanceIdentifier"]),
    ("RestoreDBInstanceFromDBSnapshot", &["dBInstanceIdentifier"]),
    ("RestoreDBInstanceToPointInTime", &["targetDBInstanceIdentifier", "dBInstanceIdentifier"]),
    ("CreateDBInstanceReadReplica", &["dBInstanceIdentifier"]),
    ("RestoreDBInstanceFromS3", &["dBInstanceIdentifier"]),
];

/// The same for DB clusters.
const CLUSTER_CALLS: &[(&str, &[&str])] = &[
    ("CreateDBCluster", &["dBClusterIdentifier"]),
    ("ModifyDBCluster", &["newDBClusterIdentifier", "dBClusterIdentifier"]),
    ("RestoreDBClusterFromSnapshot", &["dBClusterIdentifier"]),
    ("RestoreDBClusterToPointInTime", &["dBClusterIdentifier"]),
    ("RestoreDBClusterFromS3", &["dBClusterIdentifier"]),
];

/// Calls that create a snapshot or change who may restore it, with the request parameter naming
/// the snapshot and what the call does to it.
const SNAPSHOT_CALLS: &[(&str, &str, SnapshotKind, SnapshotChange)] = &[
    ("CreateDBSnapshot", "dBSnapshotIdentifier", SnapshotKind::Instance, SnapshotChange::Created),
    ("CopyDBSnapshot", "targetDBSnapshotIdentifier", SnapshotKind::Instance, SnapshotChange::Created),
    ("CreateDBClusterSnapshot", "dBClusterSnapshotIdentifier", SnapshotKind::Cluster, SnapshotChange::Created),
    ("CopyDBClusterSnapshot", "targetDBClusterSnapshotIdentifier", SnapshotKind::Cluster, SnapshotChange::Created),
    ("ModifyDBSnapshotAttribute", "dBSnapshotIdentifier", SnapshotKind::Instance, SnapshotChange::SharingChanged),
    (
        "ModifyDBClusterSnapshotAttribute",
        "dBClusterSnapshotIdentifier",
        SnapshotKind::Cluster,
        SnapshotChange::SharingChanged,
    ),
];

/// Calls that change a parameter group, with the request parameter naming it.
const PARAMETER_GROUP_CALLS: &[(&str, &str, DatabaseKind)] = &[
    ("ModifyDBParameterGroup", "dBParameterGroupName", DatabaseKind::Instance),
    ("ResetDBParameterGroup", "dBParameterGroupName", DatabaseKind::Instance),
    ("ModifyDBClusterParameterGroup", "dBClusterParameterGroupName", DatabaseKind::Cluster),
    ("ResetDBClusterParameterGroup", "dBClusterParameterGroupName", DatabaseKind::Cluster),
];

/// Calls that delete a database.
const DELETE_CALLS: &[(&str, &str, DatabaseKind)] = &[
    ("DeleteDBInstance", "dBInstanceIdentifier", DatabaseKind::Instance),
    ("DeleteDBCluster", "dBClusterIdentifier", DatabaseKind::Cluster),
];

/// The CloudTrail event names rds-guard handles (also the EventBridge rule's pattern).
pub fn handled_api_calls() -> impl Iterator<Item = &'static str> {
    INSTANCE_CALLS
        .iter()
        .chain(CLUSTER_CALLS)
        .map(|(name, _)| *name)
        .chain(SNAPSHOT_CALLS.iter().map(|(name, ..)| *name))
        .chain(PARAMETER_GROUP_CALLS.iter().map(|(name, ..)| *name))
        .chain(DELETE_CALLS.iter().map(|(name, ..)| *name))
}

pub use rdsguard::checks::SnapshotChange;

/// What an event is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A database to describe and judge.
    Database {
        kind: DatabaseKind,
        /// Identifiers to describe, in order; the first that exists is the database.
        identifiers: Vec<String>,
        change: DatabaseChange,
    },
    /// A snapshot to describe and judge.
    Snapshot { kind: SnapshotKind, identifier: String, change: SnapshotChange },
    /// A parameter group whose TLS parameter may have changed (DB parameter group for
    /// `Instance`, DB cluster parameter group for `Cluster`).
    ParameterGroup { kind: DatabaseKind, name: String },
    /// A database deletion, judged on the call itself (the database is gone).
    Deletion { kind: DatabaseKind, identifier: String, request: Value, response: Value },
}

impl Subject {
    /// A short description for logs and tests, e.g. `Instance db1`, `Snapshot(Cluster) s1`.
    pub fn describe(&self) -> String {
        match self {
            Self::Database { kind, identifiers, .. } => format!("{kind:?} {}", identifiers.join(" / ")),
            Self::Snapshot { kind, identifier, .. } => format!("Snapshot({kind:?}) {identifier}"),
            Self::ParameterGroup { kind, name } => format!("ParameterGroup({kind:?}) {name}"),
            Self::Deletion { kind, identifier, .. } => format!("Deletion({kind:?}) {identifier}"),
        }
    }
}

/// Something to check.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub account: AccountId,
    pub region: AwsRegion,
    pub subject: Subject,
    pub context: EventContext,
    /// Whether findings on which nothing is done are alerted (again). False for RDS's routine
    /// notifications, which re-check a database whose creating call was already alerted.
    pub realert_unchanged: bool,
}

/// What triage made of an event: an RDS resource to check, or a reason to leave it.
pub type Triage = rdsguard::event::Triage<Box<Target>>;

/// Decides what a raw invocation payload is about. Payloads that are not events at all (not an
/// object, not an EventBridge envelope nor a CloudTrail record) are ignored with the reason:
/// retrying them cannot help.
pub fn triage_payload(payload: &Value) -> Result<Triage, EventError> {
    // An envelope that claims to be one of ours but cannot be read is an error, not noise.
    read_event(payload, "rds-guard", claims_handled_detail_type)?.and_then(|event| triage(&event))
}

fn claims_handled_detail_type(payload: &Value) -> bool {
    use rdsguard::event::detail_type::{CLOUDTRAIL_API_CALL, RDS_DB_CLUSTER_EVENT, RDS_DB_INSTANCE_EVENT};
    let detail_type = payload.get("detail-type").and_then(Value::as_str).unwrap_or_default();
    let source = payload.get("source").and_then(Value::as_str).unwrap_or_default();
    match detail_type {
        RDS_DB_INSTANCE_EVENT | RDS_DB_CLUSTER_EVENT => true,
        CLOUDTRAIL_API_CALL => {
            source == "aws.rds" || payload.pointer("/detail/eventSource") == Some(&Value::from(RDS_EVENT_SOURCE))
        }
        _ => false,
    }
}

/// Decides what an event is about. `Err`: the event is one rds-guard handles but it lacks what is
/// needed to act safely (so it is retried and ends in the DLQ rather than being guessed at).
pub fn triage(event: &IncomingEvent) -> Result<Triage, EventError> {
    match event {
        IncomingEvent::ApiCall(call) => triage_api_call(call),
        IncomingEvent::RdsNative(native) => triage_rds_event(native).map(|target| Triage::Handle(Box::new(target))),
        IncomingEvent::Unsupported { detail_type, source } => {
            Ok(Triage::Ignore(format!("detail-type {detail_type:?} from {source:?} is not handled by rds-guard")))
        }
    }
}

fn triage_api_call(call: &CloudTrailCall) -> Result<Triage, EventError> {
    if call.event_source != RDS_EVENT_SOURCE {
        return Ok(Triage::Ignore(format!("{} from {} is not an RDS call", call.event_name, call.event_source)));
    }
    if !handled_api_calls().any(|name| name == call.event_name) {
        return Ok(Triage::Ignore(format!(
            "{} does not create, reconfigure, share or delete a database or snapshot",
            call.event_name
        )));
    }
    if let Some(code) = &call.error_code {
        return Ok(Triage::Ignore(format!(
            "{} failed with {code} ({}); a failed call changed nothing",
            call.event_name,
            call.error_message.as_deref().unwrap_or("no message")
        )));
    }
    let subject = if let Some((_, param, kind, change)) = SNAPSHOT_CALLS.iter().find(|c| c.0 == call.event_name) {
        let identifier = named(call, param)?;
        Subject::Snapshot { kind: *kind, identifier, change: *change }
    } else if let Some((_, param, kind)) = PARAMETER_GROUP_CALLS.iter().find(|c| c.0 == call.event_name) {
        let name = call.string_param(param).ok_or(EventError::MissingField(param))?.to_owned();
        if !touches_tls_parameter(call) {
            return Ok(Triage::Ignore(format!("{} on {name} does not change a TLS parameter", call.event_name)));
        }
        Subject::ParameterGroup { kind: *kind, name }
    } else if let Some((_, param, kind)) = DELETE_CALLS.iter().find(|c| c.0 == call.event_name) {
        Subject::Deletion {
            kind: *kind,
            identifier: named(call, param)?,
            request: call.request.clone(),
            response: call.response.clone(),
        }
    } else {
        return triage_database_call(call);
    };
    Ok(Triage::Handle(Box::new(Target {
        account: call.account_id()?,
        region: call.aws_region()?,
        subject,
        realert_unchanged: true,
        context: context_of(call),
    })))
}

/// A resource name from the request (or the response), lower-cased as RDS stores identifiers.
fn named(call: &CloudTrailCall, param: &'static str) -> Result<String, EventError> {
    call.string_param(param).map(str::to_ascii_lowercase).ok_or(EventError::MissingField(param))
}

/// Whether a parameter group call sets or resets `rds.force_ssl` or `require_secure_transport`.
fn touches_tls_parameter(call: &CloudTrailCall) -> bool {
    if call.request_param("resetAllParameters").and_then(Value::as_bool) == Some(true) {
        return true;
    }
    let tls_names = TLS_PARAMETER_NAMES;
    let Some(parameters) = call.request_param("parameters").and_then(Value::as_array) else { return false };
    parameters.iter().any(|p| {
        ["parameterName", "ParameterName"]
            .iter()
            .filter_map(|key| p.get(*key).and_then(Value::as_str))
            .any(|name| tls_names.iter().any(|tls| tls.eq_ignore_ascii_case(name)))
    })
}

fn context_of(call: &CloudTrailCall) -> EventContext {
    EventContext {
        event_id: call.event_id.clone(),
        event_name: call.event_name.clone(),
        event_time: call.event_time.clone(),
        actor: call.actor.clone(),
    }
}

fn triage_database_call(call: &CloudTrailCall) -> Result<Triage, EventError> {
    let known = INSTANCE_CALLS
        .iter()
        .map(|(name, params)| (name, params, DatabaseKind::Instance))
        .chain(CLUSTER_CALLS.iter().map(|(name, params)| (name, params, DatabaseKind::Cluster)))
        .find(|(name, _, _)| **name == call.event_name);
    let Some((_, params, kind)) = known else {
        return Ok(Triage::Ignore(format!("{} does not create or reconfigure a database", call.event_name)));
    };
    let changes_group =
        ["dBParameterGroupName", "dBClusterParameterGroupName"].iter().any(|p| call.request_param(p).is_some());
    let Some(change) = DatabaseChange::of_api_call(&call.event_name, changes_group) else {
        return Ok(Triage::Ignore(format!("{} does not create or reconfigure a database", call.event_name)));
    };
    let mut identifiers: Vec<String> = Vec::new();
    let response_name = match kind {
        DatabaseKind::Instance => "dBInstanceIdentifier",
        DatabaseKind::Cluster => "dBClusterIdentifier",
    };
    let from_request = params.iter().filter_map(|p| call.request_param(p)).filter_map(|v| v.as_str());
    // A rename's new name comes first; then what RDS answered; then what was asked.
    let mut ordered: Vec<&str> = Vec::new();
    let mut request_names: Vec<&str> = from_request.collect();
    if params.len() > 1 && request_names.len() > 1 {
        ordered.push(request_names.remove(0));
    }
    ordered.extend(call.response_element(response_name).and_then(|v| v.as_str()));
    ordered.extend(request_names);
    for name in ordered.into_iter().map(str::trim).filter(|s| !s.is_empty()) {
        let name = name.to_ascii_lowercase();
        if !identifiers.contains(&name) {
            identifiers.push(name);
        }
    }
    if identifiers.is_empty() {
        return Err(EventError::MissingField(match kind {
            DatabaseKind::Instance => "dBInstanceIdentifier",
            DatabaseKind::Cluster => "dBClusterIdentifier",
        }));
    }
    Ok(Triage::Handle(Box::new(Target {
        account: call.account_id()?,
        region: call.aws_region()?,
        subject: Subject::Database { kind, identifiers, change },
        realert_unchanged: true,
        context: context_of(call),
    })))
}

fn triage_rds_event(event: &RdsNativeEvent) -> Result<Target, EventError> {
    let kind = match event.source_type {
        RdsSourceType::DbInstance => DatabaseKind::Instance,
        RdsSourceType::DbCluster => DatabaseKind::Cluster,
    };
    let event_id = event.event_id().ok_or(EventError::MissingField("id"))?;
    let what = event.message.as_deref().unwrap_or("RDS event");
    Ok(Target {
        account: event.account_id()?,
        region: event.aws_region()?,
        subject: Subject::Database {
            kind,
            identifiers: vec![event.source_identifier.to_ascii_lowercase()],
            change: DatabaseChange::RdsNotification,
        },
        realert_unchanged: !event.categories.iter().all(|c| c.eq_ignore_ascii_case("notification")),
        context: EventContext {
            event_id: event_id.to_owned(),
            event_name: match &event.rds_event_id {
                Some(code) => format!("{code}: {what}"),
                None => what.to_owned(),
            },
            event_time: event.date.clone(),
            // RDS's own notification: the change was made earlier by someone else.
            actor: "rds.amazonaws.com".to_owned(),
        },
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use rdsguard::event::parse_event;

    fn call(name: &str, request: Value, response: Value) -> Value {
        json!({
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.rds", "account": "123456789012",
            "region": "us-east-1", "id": "env-1",
            "detail": {
                "eventID": "e-1", "eventName": name, "eventSource": "rds.amazonaws.com", "awsRegion": "us-east-1",
                "userIdentity": {"arn": "arn:aws:iam::123456789012:user/andrew"},
                "requestParameters": request, "responseElements": response
            }
        })
    }

    fn check(payload: &Value) -> Target {
        match triage(&parse_event(payload).unwrap()).unwrap() {
            Triage::Handle(target) => *target,
            Triage::Ignore(reason) => panic!("ignored: {reason}"),
        }
    }

    #[test]
    fn every_handled_call_finds_its_database() {
        let cases = [
            (
                "CreateDBInstance",
                json!({"dBInstanceIdentifier": "DB1"}),
                json!(null),
                DatabaseKind::Instance,
                vec!["db1"],
            ),
            (
                "ModifyDBInstance",
                json!({"dBInstanceIdentifier": "db1", "newDBInstanceIdentifier": "db2"}),
                json!({"dBInstanceIdentifier": "db1"}),
                DatabaseKind::Instance,
                vec!["db2", "db1"],
            ),
            (
                "RestoreDBInstanceFromDBSnapshot",
                json!({"dBInstanceIdentifier": "r1", "dBSnapshotIdentifier": "s"}),
                json!(null),
                DatabaseKind::Instance,
                vec!["r1"],
            ),
            (
                "RestoreDBInstanceToPointInTime",
                json!({"sourceDBInstanceIdentifier": "a", "targetDBInstanceIdentifier": "b"}),
                json!({"dBInstanceIdentifier": "b"}),
                DatabaseKind::Instance,
                vec!["b"],
            ),
            (
                "CreateDBInstanceReadReplica",
                json!({"dBInstanceIdentifier": "rr", "sourceDBInstanceIdentifier": "a"}),
                json!(null),
                DatabaseKind::Instance,
                vec!["rr"],
            ),
            (
                "CreateDBCluster",
                json!({"dBClusterIdentifier": "c1"}),
                json!({"dBClusterIdentifier": "c1"}),
                DatabaseKind::Cluster,
                vec!["c1"],
            ),
            (
                "ModifyDBCluster",
                json!({"DBClusterIdentifier": "c1", "NewDBClusterIdentifier": "c2"}),
                json!(null),
                DatabaseKind::Cluster,
                vec!["c2", "c1"],
            ),
            (
                "RestoreDBClusterFromSnapshot",
                json!({"dBClusterIdentifier": "c3"}),
                json!(null),
                DatabaseKind::Cluster,
                vec!["c3"],
            ),
            (
                "RestoreDBClusterToPointInTime",
                json!({"dBClusterIdentifier": "c4", "sourceDBClusterIdentifier": "c"}),
                json!(null),
                DatabaseKind::Cluster,
                vec!["c4"],
            ),
        ];
        for (name, request, response, kind, ids) in cases {
            let target = check(&call(name, request, response));
            let Subject::Database { kind: got_kind, identifiers, .. } = &target.subject else {
                panic!("{name}: {:?}", target.subject)
            };
            assert_eq!(*got_kind, kind, "{name}");
            assert_eq!(identifiers, &ids, "{name}");
            assert_eq!(target.context.event_name, name);
            assert_eq!(target.context.actor, "arn:aws:iam::123456789012:user/andrew");
        }
        assert_eq!(handled_api_calls().count(), 23);
    }

    #[test]
    fn database_calls_say_what_changed() {
        let cases = [
            ("CreateDBInstance", json!({"dBInstanceIdentifier": "a"}), DatabaseChange::Create),
            ("ModifyDBInstance", json!({"dBInstanceIdentifier": "a"}), DatabaseChange::Modify),
            (
                "ModifyDBInstance",
                json!({"dBInstanceIdentifier": "a", "dBParameterGroupName": "lax"}),
                DatabaseChange::ModifyParameterGroup,
            ),
            (
                "ModifyDBCluster",
                json!({"dBClusterIdentifier": "c", "dBClusterParameterGroupName": "lax"}),
                DatabaseChange::ModifyParameterGroup,
            ),
            ("CreateDBInstanceReadReplica", json!({"dBInstanceIdentifier": "r"}), DatabaseChange::CreateReadReplica),
            ("RestoreDBClusterFromSnapshot", json!({"dBClusterIdentifier": "c"}), DatabaseChange::Restore),
            ("RestoreDBInstanceFromS3", json!({"dBInstanceIdentifier": "s3db"}), DatabaseChange::Restore),
            ("RestoreDBClusterFromS3", json!({"dBClusterIdentifier": "s3c"}), DatabaseChange::Restore),
        ];
        for (name, request, expected) in cases {
            let Subject::Database { change, .. } = check(&call(name, request, json!(null))).subject else {
                panic!("{name}: not a database")
            };
            assert_eq!(change, expected, "{name}");
        }
    }

    #[test]
    fn snapshot_parameter_group_and_deletion_calls() {
        let cases = [
            (
                "CreateDBSnapshot",
                json!({"dBSnapshotIdentifier": "Nightly", "dBInstanceIdentifier": "db"}),
                "Snapshot(Instance) nightly",
            ),
            (
                "CopyDBSnapshot",
                json!({"sourceDBSnapshotIdentifier": "a", "targetDBSnapshotIdentifier": "b"}),
                "Snapshot(Instance) b",
            ),
            (
                "CreateDBClusterSnapshot",
                json!({"dBClusterSnapshotIdentifier": "cs", "dBClusterIdentifier": "c"}),
                "Snapshot(Cluster) cs",
            ),
            ("CopyDBClusterSnapshot", json!({"targetDBClusterSnapshotIdentifier": "cs2"}), "Snapshot(Cluster) cs2"),
            (
                "ModifyDBSnapshotAttribute",
                json!({"dBSnapshotIdentifier": "s", "attributeName": "restore", "valuesToAdd": ["all"]}),
                "Snapshot(Instance) s",
            ),
            (
                "ModifyDBClusterSnapshotAttribute",
                json!({"dBClusterSnapshotIdentifier": "cs", "attributeName": "restore", "valuesToAdd": ["all"]}),
                "Snapshot(Cluster) cs",
            ),
            (
                "ModifyDBParameterGroup",
                json!({"dBParameterGroupName": "pg-lax", "parameters": [{"parameterName": "rds.force_ssl", "parameterValue": "0"}]}),
                "ParameterGroup(Instance) pg-lax",
            ),
            (
                "ModifyDBClusterParameterGroup",
                json!({"dBClusterParameterGroupName": "cpg", "parameters": [{"ParameterName": "require_secure_transport", "ParameterValue": "OFF"}]}),
                "ParameterGroup(Cluster) cpg",
            ),
            (
                "ResetDBParameterGroup",
                json!({"dBParameterGroupName": "pg", "resetAllParameters": true}),
                "ParameterGroup(Instance) pg",
            ),
            (
                "DeleteDBInstance",
                json!({"dBInstanceIdentifier": "Old", "skipFinalSnapshot": true}),
                "Deletion(Instance) old",
            ),
            ("DeleteDBCluster", json!({"dBClusterIdentifier": "c", "skipFinalSnapshot": false}), "Deletion(Cluster) c"),
        ];
        for (name, request, expected) in cases {
            assert_eq!(check(&call(name, request, json!(null))).subject.describe(), expected, "{name}");
        }
        let other_parameter = call(
            "ModifyDBParameterGroup",
            json!({"dBParameterGroupName": "pg", "parameters": [{"parameterName": "max_connections", "parameterValue": "90"}]}),
            json!(null),
        );
        match triage(&parse_event(&other_parameter).unwrap()) {
            Ok(Triage::Ignore(why)) => assert!(why.contains("does not change a TLS parameter"), "{why}"),
            other => panic!("expected ignore, got {other:?}"),
        }
        let nameless = call("ModifyDBSnapshotAttribute", json!({"attributeName": "restore"}), json!(null));
        let err = triage(&parse_event(&nameless).unwrap()).unwrap_err();
        assert!(err.to_string().contains("dBSnapshotIdentifier"), "{err}");
    }

    #[test]
    fn ignores_what_is_not_rds_guards_business() {
        let mut failed = call("ModifyDBInstance", json!({"dBInstanceIdentifier": "db1"}), json!(null));
        failed["detail"]["errorCode"] = json!("AccessDenied");
        let mut s3 = call("CreateBucket", json!({}), json!(null));
        s3["detail"]["eventSource"] = json!("s3.amazonaws.com");
        let cases = [
            (failed, "failed with AccessDenied"),
            (s3, "is not an RDS call"),
            (
                call("RebootDBInstance", json!({"dBInstanceIdentifier": "db1"}), json!(null)),
                "does not create, reconfigure, share or delete",
            ),
            (json!({"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": {}}), "is not handled"),
        ];
        for (payload, reason) in cases {
            match triage(&parse_event(&payload).unwrap()) {
                Ok(Triage::Ignore(why)) => assert!(why.contains(reason), "{why}"),
                other => panic!("expected ignore ({reason}), got {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_handled_events_it_cannot_act_on_safely() {
        let mut odd_account = call("CreateDBInstance", json!({"dBInstanceIdentifier": "db1"}), json!(null));
        odd_account["account"] = json!("<MEMBER_ACCT_ID>");
        let mut odd_region = call("CreateDBInstance", json!({"dBInstanceIdentifier": "db1"}), json!(null));
        odd_region["detail"]["awsRegion"] = json!("meiso-eastwest-2r");
        let cases = [
            (call("CreateDBInstance", json!({}), json!(null)), "no usable dBInstanceIdentifier"),
            (call("ModifyDBCluster", json!({"dBClusterIdentifier": ""}), json!({})), "no usable dBClusterIdentifier"),
            (odd_account, "is not 12 digits"),
            (odd_region, "is not an AWS region"),
        ];
        for (payload, reason) in cases {
            match parse_event(&payload).and_then(|e| triage(&e)) {
                Err(e) => assert!(e.to_string().contains(reason), "{e}"),
                other => panic!("expected error ({reason}), got {other:?}"),
            }
        }
    }

    #[test]
    fn unreadable_envelopes_are_errors_only_when_they_claim_to_be_ours() {
        let ours = json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.rds", "time": "yesterday", "detail": {}});
        assert!(matches!(triage_payload(&ours), Err(EventError::BadEnvelope(_))), "{:?}", triage_payload(&ours));
        let theirs = json!({"detail-type": "Something Else", "source": "aws.s3", "time": "yesterday", "detail": {}});
        assert!(matches!(triage_payload(&theirs), Ok(Triage::Ignore(_))));
    }

    #[test]
    fn rds_native_events_name_the_database() {
        let payload = json!({
            "version": "0", "id": "n-1", "detail-type": "RDS DB Instance Event", "source": "aws.rds",
            "account": "123456789012", "region": "eu-west-1", "resources": [],
            "detail": {"EventCategories": ["creation"], "SourceType": "DB_INSTANCE", "SourceIdentifier": "rds:My-DB",
                        "Message": "DB instance created", "EventID": "RDS-EVENT-0005"}
        });
        let target = check(&payload);
        assert_eq!(target.subject.describe(), "Instance my-db");
        assert!(matches!(target.subject, Subject::Database { change: DatabaseChange::RdsNotification, .. }));
        assert_eq!(target.region.as_str(), "eu-west-1");
        assert_eq!(target.context.event_id, "n-1");
        assert_eq!(target.context.event_name, "RDS-EVENT-0005: DB instance created");
    }
}
