//! The sample payloads in events/pipeline-guard (for `cargo lambda invoke --data-file` and
//! `sam local invoke -e`) are what their names say.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pipeline_guard::config::PipelineConfig;
use pipeline_guard::tampering::Tampering;
use pipeline_guard::target::{triage_payload, Triage};

const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/pipeline-guard");

#[test]
fn every_sample_payload_is_the_tampering_its_name_says() {
    let config = PipelineConfig { suite_rule_prefix: "rdsguard-".to_owned() };
    let mut names: Vec<String> = std::fs::read_dir(EVENTS)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let mut seen = Vec::new();
    for name in &names {
        let payload = serde_json::from_str(&std::fs::read_to_string(format!("{EVENTS}/{name}")).unwrap()).unwrap();
        let Ok(Triage::Handle(tamper)) = triage_payload(&payload, &config) else { panic!("{name}: not alerted") };
        seen.push((name.as_str(), tamper.kind, tamper.failed.is_some()));
    }
    assert_eq!(
        seen,
        [
            ("01-stop-logging-stratus-red-team.json", Tampering::StopLogging, false),
            ("02-stop-logging-denied.json", Tampering::StopLogging, true),
            ("03-disable-detector.json", Tampering::DisableDetector, false),
            ("04-disable-suite-rule.json", Tampering::DisableRule, false),
        ]
    );
}
