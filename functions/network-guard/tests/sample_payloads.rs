//! The sample payloads in events/network-guard (for `cargo lambda invoke --data-file`,
//! `sam local invoke -e` and the demo) are what their names say.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use network_guard::target::{triage_payload, Triage};

const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/network-guard");

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
        let Ok(Triage::Handle(target)) = triage_payload(&payload) else { panic!("{name}: not checked") };
        let groups: Vec<String> = target.groups.iter().map(ToString::to_string).collect();
        let requested: Vec<String> = target.requested.iter().map(|r| r.source.describe()).collect();
        seen.push((name.clone(), target.context.event_name.clone(), groups.join(","), requested.join(",")));
    }
    let seen: Vec<(&str, &str, &str, &str)> =
        seen.iter().map(|(a, b, c, d)| (a.as_str(), b.as_str(), c.as_str(), d.as_str())).collect();
    assert_eq!(
        seen,
        [
            (
                "01-authorize-postgres-to-the-world.json",
                "AuthorizeSecurityGroupIngress",
                "sg-0a1b2c3d4e5f67890",
                "0.0.0.0/0,::/0"
            ),
            (
                "02-authorize-https-on-web-group.json",
                "AuthorizeSecurityGroupIngress",
                "sg-0f1e2d3c4b5a69788",
                "0.0.0.0/0"
            ),
            (
                "03-modify-rule-to-all-ports-from-the-world.json",
                "ModifySecurityGroupRules",
                "sg-0a1b2c3d4e5f67890",
                "0.0.0.0/0"
            ),
            // A closing call: nothing requested; judged to resolve what it closed (with the ledger).
            ("04-revoke-postgres-from-the-world.json", "RevokeSecurityGroupIngress", "sg-0a1b2c3d4e5f67890", ""),
        ]
    );
}
