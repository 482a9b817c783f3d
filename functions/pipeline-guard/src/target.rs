//! Which watcher a CloudTrail call tampered with, in which account and region, who did it and from
//! where — or why the call is none of pipeline-guard's business.

use rdsguard::arn::Arn;
use rdsguard::event::{detail_type, read_event, CloudTrailCall, EventError, IncomingEvent};
use rdsguard::finding::EventContext;
use rdsguard::identity::{AccountId, AwsRegion};
use serde_json::{json, Map, Value};

use crate::config::PipelineConfig;
use crate::tampering::{Tampering, Watcher, EVENTBRIDGE_SOURCES, HANDLED_CALLS};

/// A tampering call to alert on.
#[derive(Debug, Clone, PartialEq)]
pub struct Tamper {
    pub kind: Tampering,
    /// Where the watcher lives (a trail ARN's account and home region win over the call's).
    pub account: AccountId,
    pub region: AwsRegion,
    /// Trail name, detector id or rule name.
    pub resource_id: String,
    pub resource_arn: String,
    /// What to call CloudTrail with: the trail name or ARN exactly as the caller gave it.
    pub trail_reference: Option<String>,
    /// `Some((errorCode, errorMessage))` when the call failed: an attempt, nothing changed.
    pub failed: Option<(String, Option<String>)>,
    pub context: EventContext,
    /// Who and from where, and what was asked.
    pub observed: Value,
}

/// What triage made of an event: tampering with the audit pipeline, or a reason to leave it.
pub type Triage = rdsguard::event::Triage<Box<Tamper>>;

/// Decides what a raw invocation payload is about. Payloads that are not events at all are ignored
/// with the reason; an envelope that claims to be a call pipeline-guard handles but cannot be read
/// is an error (retried, then kept in the dead-letter queue).
pub fn triage_payload(payload: &Value, config: &PipelineConfig) -> Result<Triage, EventError> {
    read_event(payload, "pipeline-guard", claims_handled_call)?.and_then(|event| match event {
        IncomingEvent::ApiCall(call) => triage_call(&call, config),
        IncomingEvent::RdsNative(event) => {
            Ok(Triage::Ignore(format!("RDS event for {} is not handled by pipeline-guard", event.source_identifier)))
        }
        IncomingEvent::Unsupported { detail_type, source } => {
            Ok(Triage::Ignore(format!("detail-type {detail_type:?} from {source:?} is not handled by pipeline-guard")))
        }
    })
}

fn claims_handled_call(payload: &Value) -> bool {
    let detail_type = payload.get("detail-type").and_then(Value::as_str).unwrap_or_default();
    let source = payload.get("source").and_then(Value::as_str).unwrap_or_default();
    detail_type == detail_type::CLOUDTRAIL_API_CALL && EVENTBRIDGE_SOURCES.iter().any(|(_, s)| *s == source)
}

/// Decides what one CloudTrail call means. `Err`: a call pipeline-guard handles that lacks what is
/// needed to name the watcher, account or region.
pub fn triage_call(call: &CloudTrailCall, config: &PipelineConfig) -> Result<Triage, EventError> {
    let Some(&(_, _, kind)) =
        HANDLED_CALLS.iter().find(|(source, name, _)| *source == call.event_source && *name == call.event_name)
    else {
        return Ok(Triage::Ignore(format!(
            "{} from {} does not switch off logging, detection or rdsguard's rules",
            call.event_name, call.event_source
        )));
    };
    let kind = match kind {
        Tampering::DisableDetector => match detector_change(call) {
            Some(kind) => kind,
            None => {
                return Ok(Triage::Ignore(
                    "UpdateDetector does not disable the detector or any of its features".to_owned(),
                ))
            }
        },
        other => other,
    };
    let call_account = call.account_id()?;
    let call_region = call.aws_region()?;
    let (account, region, resource_id, resource_arn, trail_reference) = match kind.watcher() {
        Watcher::Trail => {
            let param = if kind == Tampering::PutEventSelectors { "trailName" } else { "name" };
            let reference = call.string_param(param).ok_or(EventError::MissingField("requestParameters.name"))?;
            let trail = TrailRef::parse(reference, &call_account, &call_region)?;
            (trail.account, trail.region, trail.name, trail.arn, Some(reference.to_owned()))
        }
        Watcher::Detector => {
            let id = call.string_param("detectorId").ok_or(EventError::MissingField("requestParameters.detectorId"))?;
            let arn = regional_arn(&call_region, &call_account, "guardduty", format!("detector/{id}"));
            (call_account, call_region, id.to_owned(), arn, None)
        }
        Watcher::SuiteRule => {
            let param = if kind == Tampering::RemoveTargets { "rule" } else { "name" };
            let raw = call.string_param(param).ok_or(EventError::MissingField("requestParameters.name"))?;
            // A rule may be named by its ARN: arn:...:rule/[bus/]name.
            let name = raw.rsplit('/').next().unwrap_or(raw);
            if !name.starts_with(&config.suite_rule_prefix) {
                return Ok(Triage::Ignore(format!(
                    "{} on rule {name:?}: not one of rdsguard's rules (SUITE_RULE_PREFIX={})",
                    call.event_name, config.suite_rule_prefix
                )));
            }
            let bus = call.string_param("eventBusName").filter(|b| *b != "default");
            let path =
                bus.map_or_else(|| name.to_owned(), |bus| format!("{}/{name}", bus.rsplit('/').next().unwrap_or(bus)));
            let arn = regional_arn(&call_region, &call_account, "events", format!("rule/{path}"));
            (call_account, call_region, name.to_owned(), arn, None)
        }
    };
    let failed = call.error_code.clone().map(|code| (code, call.error_message.clone()));
    Ok(Triage::Handle(Box::new(Tamper {
        kind,
        account,
        region,
        resource_id,
        resource_arn,
        trail_reference,
        failed,
        context: EventContext {
            event_id: call.event_id.clone(),
            event_name: call.event_name.clone(),
            event_time: call.event_time.clone(),
            actor: call.actor.clone(),
        },
        observed: observed(call),
    })))
}

/// What an UpdateDetector call switches off, if anything.
fn detector_change(call: &CloudTrailCall) -> Option<Tampering> {
    let disabled = |v: &Value| v == &Value::Bool(false) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("false"));
    if call.request_param("enable").is_some_and(disabled) {
        return Some(Tampering::DisableDetector);
    }
    let features_off = call.request_param("features").and_then(Value::as_array).is_some_and(|features| {
        features.iter().any(|f| {
            let status = f.get("status").or_else(|| f.get("Status")).and_then(Value::as_str).unwrap_or_default();
            status.eq_ignore_ascii_case("DISABLED")
        })
    });
    features_off.then_some(Tampering::DisableDetectorFeatures)
}

/// A trail named by name (then it lives in the call's account and region: CloudTrail requires
/// StopLogging in the trail's home region) or by ARN.
struct TrailRef {
    account: AccountId,
    region: AwsRegion,
    name: String,
    arn: String,
}

impl TrailRef {
    fn parse(reference: &str, call_account: &AccountId, call_region: &AwsRegion) -> Result<Self, EventError> {
        if let Some(rest) = reference.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let name = parts.get(4).and_then(|r| r.strip_prefix("trail/")).filter(|n| !n.is_empty());
            let (Some(region), Some(account), Some(name)) = (parts.get(2), parts.get(3), name) else {
                return Err(EventError::MissingField("requestParameters.name (a trail name or trail ARN)"));
            };
            return Ok(Self {
                account: AccountId::parse(account)?,
                region: AwsRegion::parse(region)?,
                name: name.to_owned(),
                arn: reference.to_owned(),
            });
        }
        Ok(Self {
            account: call_account.clone(),
            region: call_region.clone(),
            name: reference.to_owned(),
            arn: regional_arn(call_region, call_account, "cloudtrail", format!("trail/{reference}")),
        })
    }
}

/// `arn:{partition}:{service}:{region}:{account}:{resource}` for a resource of the call's account and region.
fn regional_arn(region: &AwsRegion, account: &AccountId, service: &str, resource: String) -> String {
    Arn::new(region.partition(), service, region.as_str(), account.as_str(), resource).to_string()
}

fn observed(call: &CloudTrailCall) -> Value {
    let mut observed = Map::new();
    observed.insert("EventSource".into(), json!(call.event_source));
    observed.insert("EventName".into(), json!(call.event_name));
    observed.insert("CallRegion".into(), json!(call.region));
    observed.insert("SourceIPAddress".into(), json!(call.source_ip_address));
    observed.insert("UserAgent".into(), json!(call.user_agent));
    observed.insert("RequestParameters".into(), call.request.clone());
    if let Some(code) = &call.error_code {
        observed.insert("ErrorCode".into(), json!(code));
        observed.insert("ErrorMessage".into(), json!(call.error_message));
    }
    Value::Object(observed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PipelineConfig {
        PipelineConfig { suite_rule_prefix: "rdsguard-".to_owned() }
    }

    fn call(source: &str, name: &str, request: Value) -> Value {
        let eb_source = EVENTBRIDGE_SOURCES.iter().find(|(s, _)| *s == source).map_or("aws.other", |(_, e)| *e);
        json!({
            "detail-type": "AWS API Call via CloudTrail", "source": eb_source, "account": "123456789012",
            "region": "eu-west-1", "id": "env-1",
            "detail": {
                "eventID": "e-1", "eventName": name, "eventSource": source, "awsRegion": "eu-west-1",
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory"},
                "sourceIPAddress": "198.51.100.9", "userAgent": "aws-cli/2.15.0",
                "requestParameters": request, "responseElements": null
            }
        })
    }

    fn alert(payload: &Value) -> Tamper {
        match triage_payload(payload, &config()) {
            Ok(Triage::Handle(t)) => *t,
            other => panic!("expected an alert, got {other:?}"),
        }
    }

    #[test]
    fn every_handled_call_names_its_watcher() {
        let ct = "cloudtrail.amazonaws.com";
        let gd = "guardduty.amazonaws.com";
        let ev = "events.amazonaws.com";
        let cases = [
            (
                ct,
                "StopLogging",
                json!({"name": "main-trail"}),
                Tampering::StopLogging,
                "main-trail",
                "arn:aws:cloudtrail:eu-west-1:123456789012:trail/main-trail",
            ),
            (
                ct,
                "StopLogging",
                json!({"name": "arn:aws:cloudtrail:us-east-2:210987654321:trail/org-trail"}),
                Tampering::StopLogging,
                "org-trail",
                "arn:aws:cloudtrail:us-east-2:210987654321:trail/org-trail",
            ),
            (
                ct,
                "DeleteTrail",
                json!({"name": "main-trail"}),
                Tampering::DeleteTrail,
                "main-trail",
                "arn:aws:cloudtrail:eu-west-1:123456789012:trail/main-trail",
            ),
            (
                ct,
                "UpdateTrail",
                json!({"name": "main-trail", "s3BucketName": "elsewhere"}),
                Tampering::UpdateTrail,
                "main-trail",
                "arn:aws:cloudtrail:eu-west-1:123456789012:trail/main-trail",
            ),
            (
                ct,
                "PutEventSelectors",
                json!({"trailName": "main-trail", "eventSelectors": []}),
                Tampering::PutEventSelectors,
                "main-trail",
                "arn:aws:cloudtrail:eu-west-1:123456789012:trail/main-trail",
            ),
            (
                gd,
                "DeleteDetector",
                json!({"detectorId": "d1"}),
                Tampering::DeleteDetector,
                "d1",
                "arn:aws:guardduty:eu-west-1:123456789012:detector/d1",
            ),
            (
                gd,
                "UpdateDetector",
                json!({"detectorId": "d1", "enable": false}),
                Tampering::DisableDetector,
                "d1",
                "arn:aws:guardduty:eu-west-1:123456789012:detector/d1",
            ),
            (
                gd,
                "UpdateDetector",
                json!({"detectorId": "d1", "features": [{"name": "RDS_LOGIN_EVENTS", "status": "DISABLED"}]}),
                Tampering::DisableDetectorFeatures,
                "d1",
                "arn:aws:guardduty:eu-west-1:123456789012:detector/d1",
            ),
            (
                gd,
                "DisassociateFromMasterAccount",
                json!({"detectorId": "d1"}),
                Tampering::LeaveAdministrator,
                "d1",
                "arn:aws:guardduty:eu-west-1:123456789012:detector/d1",
            ),
            (
                gd,
                "DisassociateFromAdministratorAccount",
                json!({"detectorId": "d1"}),
                Tampering::LeaveAdministrator,
                "d1",
                "arn:aws:guardduty:eu-west-1:123456789012:detector/d1",
            ),
            (
                gd,
                "DeleteMembers",
                json!({"detectorId": "d1", "accountIds": ["111122223333"]}),
                Tampering::DeleteMembers,
                "d1",
                "arn:aws:guardduty:eu-west-1:123456789012:detector/d1",
            ),
            (
                ev,
                "DisableRule",
                json!({"name": "rdsguard-RdsGuardFunctionRdsApiCalls-1X2Y"}),
                Tampering::DisableRule,
                "rdsguard-RdsGuardFunctionRdsApiCalls-1X2Y",
                "arn:aws:events:eu-west-1:123456789012:rule/rdsguard-RdsGuardFunctionRdsApiCalls-1X2Y",
            ),
            (
                ev,
                "DeleteRule",
                json!({"name": "rdsguard-x", "eventBusName": "default"}),
                Tampering::DeleteRule,
                "rdsguard-x",
                "arn:aws:events:eu-west-1:123456789012:rule/rdsguard-x",
            ),
            (
                ev,
                "RemoveTargets",
                json!({"rule": "rdsguard-x", "eventBusName": "security", "ids": ["t1"]}),
                Tampering::RemoveTargets,
                "rdsguard-x",
                "arn:aws:events:eu-west-1:123456789012:rule/security/rdsguard-x",
            ),
        ];
        for (source, name, request, kind, id, arn) in cases {
            let tamper = alert(&call(source, name, request));
            assert_eq!(
                (tamper.kind, tamper.resource_id.as_str(), tamper.resource_arn.as_str()),
                (kind, id, arn),
                "{name}"
            );
            assert_eq!(tamper.context.actor, "arn:aws:iam::123456789012:user/mallory");
            assert_eq!(tamper.observed["SourceIPAddress"], "198.51.100.9");
            assert_eq!(tamper.observed["UserAgent"], "aws-cli/2.15.0");
            assert_eq!(tamper.failed, None);
        }
    }

    #[test]
    fn a_trail_arn_sets_where_to_act() {
        let tamper = alert(&call(
            "cloudtrail.amazonaws.com",
            "StopLogging",
            json!({"name": "arn:aws:cloudtrail:us-east-2:210987654321:trail/org-trail"}),
        ));
        assert_eq!((tamper.account.as_str(), tamper.region.as_str()), ("210987654321", "us-east-2"));
        assert_eq!(
            tamper.trail_reference.as_deref(),
            Some("arn:aws:cloudtrail:us-east-2:210987654321:trail/org-trail")
        );
    }

    #[test]
    fn failed_calls_are_attempts() {
        let mut payload = call("cloudtrail.amazonaws.com", "StopLogging", json!({"name": "main-trail"}));
        payload["detail"]["errorCode"] = json!("AccessDenied");
        payload["detail"]["errorMessage"] = json!("not authorized");
        let tamper = alert(&payload);
        assert_eq!(tamper.failed, Some(("AccessDenied".to_owned(), Some("not authorized".to_owned()))));
        assert_eq!(tamper.observed["ErrorCode"], "AccessDenied");
    }

    #[test]
    fn ignores_what_switches_nothing_off() {
        let cases = [
            (call("cloudtrail.amazonaws.com", "StartLogging", json!({"name": "t"})), "does not switch off"),
            (call("rds.amazonaws.com", "StopLogging", json!({"name": "t"})), "StopLogging from rds.amazonaws.com"),
            (
                call("events.amazonaws.com", "DeleteTrail", json!({"name": "t"})),
                "DeleteTrail from events.amazonaws.com",
            ),
            (
                call("guardduty.amazonaws.com", "UpdateDetector", json!({"detectorId": "d", "enable": true})),
                "does not disable",
            ),
            (
                call(
                    "guardduty.amazonaws.com",
                    "UpdateDetector",
                    json!({"detectorId": "d", "findingPublishingFrequency": "SIX_HOURS"}),
                ),
                "does not disable",
            ),
            (
                call("events.amazonaws.com", "DisableRule", json!({"name": "someone-elses-rule"})),
                "not one of rdsguard's rules",
            ),
            (json!({"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": {}}), "is not handled"),
            (json!({"hello": "world"}), "not an event pipeline-guard understands"),
            (json!("text"), "not an event pipeline-guard understands"),
        ];
        for (payload, reason) in cases {
            match triage_payload(&payload, &config()) {
                Ok(Triage::Ignore(why)) => assert!(why.contains(reason), "{why}"),
                other => panic!("expected ignore ({reason}), got {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_handled_calls_it_cannot_place() {
        let mut odd_account = call("cloudtrail.amazonaws.com", "StopLogging", json!({"name": "t"}));
        odd_account["account"] = json!("<MEMBER_ACCT_ID>");
        let mut odd_region = call("cloudtrail.amazonaws.com", "StopLogging", json!({"name": "t"}));
        odd_region["detail"]["awsRegion"] = json!("apiso-centralnorth-2r");
        let cases = [
            (call("cloudtrail.amazonaws.com", "StopLogging", json!({})), "no usable requestParameters.name"),
            (
                call("cloudtrail.amazonaws.com", "StopLogging", json!({"name": "arn:aws:cloudtrail:us-east-1"})),
                "a trail name or trail ARN",
            ),
            (
                call(
                    "cloudtrail.amazonaws.com",
                    "StopLogging",
                    json!({"name": "arn:aws:cloudtrail:mars-1:123456789012:trail/t"}),
                ),
                "not an AWS region",
            ),
            (call("guardduty.amazonaws.com", "DeleteDetector", json!(null)), "no usable requestParameters.detectorId"),
            (odd_account, "is not 12 digits"),
            (odd_region, "is not an AWS region"),
            (
                json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.cloudtrail", "time": "yesterday", "detail": {}}),
                "envelope is malformed",
            ),
        ];
        for (payload, reason) in cases {
            match triage_payload(&payload, &config()) {
                Err(e) => assert!(e.to_string().contains(reason), "{e}"),
                other => panic!("expected error ({reason}), got {other:?}"),
            }
        }
    }
}
