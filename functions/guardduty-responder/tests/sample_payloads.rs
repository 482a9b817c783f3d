//! The sample payloads in events/guardduty-responder (for `cargo lambda invoke --data-file` and
//! `sam local invoke -e`) get the decision their names say.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use guardduty_responder::target::{triage_payload, Triage};
use rdsguard::guardduty::{decide_alert, sighting, AlertDecision};

const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/guardduty-responder");

#[test]
fn every_sample_payload_gets_the_decision_its_name_says() {
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
            Triage::Ignore(_) => "ignored".to_owned(),
            Triage::Handle(threat) => {
                let alerted = matches!(
                    decide_alert(threat.finding.sample, &sighting(&threat.finding), threat.severity),
                    AlertDecision::Alert(_)
                );
                format!(
                    "{} {} {}{}",
                    if alerted { "alerted" } else { "logged" },
                    threat.severity.as_str(),
                    threat.database.identifier,
                    if threat.finding.sample { " (sample)" } else { "" }
                )
            }
        };
        seen.push((name.as_str(), decision));
    }
    let expected = [
        ("01-rds-sample-finding-elastic.json", "alerted HIGH generatedfindingdbinstanceid (sample)"),
        ("02-malicious-ip-login-cruddur-db-instance.json", "alerted HIGH cruddur-db-instance"),
        ("03-medium-update-logged-only.json", "logged MEDIUM cruddur-db-instance"),
        ("04-ec2-finding-acknowledged-cloud-custodian.json", "ignored"),
    ];
    let seen: Vec<(&str, &str)> = seen.iter().map(|(n, d)| (*n, d.as_str())).collect();
    assert_eq!(seen, expected);
}
