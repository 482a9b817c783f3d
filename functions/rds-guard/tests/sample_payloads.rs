//! The sample payloads in events/rds-guard (for `cargo lambda invoke --data-file`,
//! `sam local invoke -e` and the demo) are what their names say.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rds_guard::target::{triage_payload, Triage};

const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/rds-guard");

#[test]
fn every_sample_payload_is_the_call_its_name_says() {
    let mut names: Vec<String> = std::fs::read_dir(EVENTS)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let mut seen = Vec::new();
    for name in &names {
        let payload = serde_json::from_str(&std::fs::read_to_string(format!("{EVENTS}/{name}")).unwrap()).unwrap();
        let decision = match triage_payload(&payload).unwrap() {
            Triage::Handle(target) => format!("{} {}", target.context.event_name, target.subject.describe()),
            Triage::Ignore(reason) => format!("ignored: {reason}"),
        };
        seen.push(format!("{name}: {decision}"));
    }
    assert_eq!(
        seen,
        [
            "01-create-public-instance.json: CreateDBInstance Instance cruddur-db-instance",
            "02-create-unencrypted-instance-sa-east-1.json: CreateDBInstance Instance analytics-replica-sp",
            "03-rds-instance-created.json: RDS-EVENT-0005: DB instance created Instance cruddur-db-instance",
            "04-modify-denied.json: ignored: ModifyDBInstance failed with AccessDenied (User: arn:aws:iam::123456789012:user/andrew is not authorized to perform: rds:ModifyDBInstance); a failed call changed nothing",
            "05-share-snapshot-publicly.json: ModifyDBSnapshotAttribute Snapshot(Instance) cruddur-before-migration",
            "06-delete-without-final-snapshot.json: DeleteDBInstance Deletion(Instance) legacy-reporting",
            "07-turn-off-force-ssl.json: ModifyDBParameterGroup ParameterGroup(Instance) cruddur-postgres14",
            "08-snapshot-of-unencrypted-instance.json: CreateDBSnapshot Snapshot(Instance) analytics-before-upgrade",
            "09-rds-instance-deleted.json: RDS-EVENT-0003: DB instance deleted Instance legacy-reporting",
        ]
    );
}
