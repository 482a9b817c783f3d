//! The sample payloads in events/guardrail-manager (for `cargo lambda invoke --data-file` and
//! `sam local invoke -e`) are the triggers their names say.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use guardrail_manager::custom_resource::{is_request, CustomResourceRequest, RequestType};
use guardrail_manager::handler::SCHEDULED_EVENT;
use guardrail_manager::tamper::{HANDLED_CALLS, ORGANIZATIONS_SOURCE};
use rdsguard::event::{parse_event, IncomingEvent};
use serde_json::Value;

const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/guardrail-manager");

fn sample(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{EVENTS}/{name}")).unwrap()).unwrap()
}

#[test]
fn every_sample_payload_is_the_trigger_its_name_says() {
    let create = sample("01-custom-resource-create.json");
    assert!(is_request(&create));
    assert_eq!(CustomResourceRequest::parse(&create).unwrap().request_type, RequestType::Create);

    let Ok(IncomingEvent::ApiCall(call)) = parse_event(&sample("02-update-policy-tampering.json")) else {
        panic!("02 is not an API call")
    };
    assert_eq!((call.event_source.as_str(), call.event_name.as_str()), (ORGANIZATIONS_SOURCE, "UpdatePolicy"));
    assert!(HANDLED_CALLS.contains(&"UpdatePolicy"));
    assert_eq!(call.string_param("policyId"), Some("p-abcd1234"));

    let scheduled = sample("03-scheduled-drift-check.json");
    assert_eq!(scheduled["detail-type"], SCHEDULED_EVENT);
    assert!(!is_request(&scheduled));

    let Ok(IncomingEvent::ApiCall(call)) = parse_event(&sample("04-move-account-out-of-guardrails.json")) else {
        panic!("04 is not an API call")
    };
    assert_eq!((call.event_source.as_str(), call.event_name.as_str()), (ORGANIZATIONS_SOURCE, "MoveAccount"));
    assert!(HANDLED_CALLS.contains(&"MoveAccount"));
    assert_eq!(call.string_param("destinationParentId"), Some("r-ab12"));

    let count = std::fs::read_dir(EVENTS)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
        .count();
    assert_eq!(count, 4, "a new sample needs a line here");
}
