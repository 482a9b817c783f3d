//! What a function makes of an incoming payload before it looks at the call ([`Triage`]), and the
//! part of that every CloudTrail-driven function shares ([`read_event`]): a payload that is no
//! event at all is left alone with the reason (retrying cannot help), while one that claims to be
//! an event the function handles but cannot be read is an error (retried, then kept in the DLQ).

use serde_json::Value;

use super::{parse_event, EventError, IncomingEvent};

/// What triage made of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Triage<T> {
    /// The function's business: `T` names what to handle.
    Handle(T),
    /// Not the function's business; the reason is logged and returned.
    Ignore(String),
}

impl<T> Triage<T> {
    /// Triages further what was found to be the function's business.
    pub fn and_then<U>(self, then: impl FnOnce(T) -> Result<Triage<U>, EventError>) -> Result<Triage<U>, EventError> {
        match self {
            Triage::Handle(work) => then(work),
            Triage::Ignore(reason) => Ok(Triage::Ignore(reason)),
        }
    }
}

/// Reads `payload` for `function` (its name, for the reason given): the event, a reason to ignore
/// what is not an event, or the error of an envelope `claims_ours` says is one the function
/// handles (its detail-type and source) but which cannot be read.
pub fn read_event(
    payload: &Value,
    function: &str,
    claims_ours: impl FnOnce(&Value) -> bool,
) -> Result<Triage<IncomingEvent>, EventError> {
    match parse_event(payload) {
        Ok(event) => Ok(Triage::Handle(event)),
        Err(e @ EventError::BadEnvelope(_)) if claims_ours(payload) => Err(e),
        Err(e @ (EventError::NotAnObject | EventError::UnknownShape | EventError::BadEnvelope(_))) => {
            Ok(Triage::Ignore(format!("not an event {function} understands: {e}")))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(payload: Value, ours: bool) -> Result<Triage<IncomingEvent>, EventError> {
        read_event(&payload, "rds-guard", |_| ours)
    }

    #[test]
    fn what_is_no_event_is_ignored_with_the_reason() {
        for payload in [json!("text"), json!({"hello": 1})] {
            let Ok(Triage::Ignore(reason)) = read(payload.clone(), false) else { panic!("{payload} not ignored") };
            assert!(reason.starts_with("not an event rds-guard understands: "), "{reason}");
        }
    }

    #[test]
    fn a_broken_envelope_is_an_error_only_when_it_claims_to_be_ours() {
        let broken = json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.rds", "time": "yesterday", "detail": {}});
        assert!(matches!(read(broken.clone(), true), Err(EventError::BadEnvelope(_))));
        assert!(matches!(read(broken, false), Ok(Triage::Ignore(_))));
    }

    #[test]
    fn an_ignored_event_stays_ignored_and_work_is_triaged_further() {
        let ignored: Triage<u8> = Triage::Ignore("no".into());
        assert_eq!(ignored.and_then(|n| Ok(Triage::Handle(n + 1))), Ok(Triage::Ignore("no".into())));
        assert_eq!(Triage::Handle(1u8).and_then(|n| Ok(Triage::Handle(n + 1))), Ok(Triage::Handle(2)));
    }
}
