//! What an invocation did, as every function returns it (and `cargo lambda invoke` shows it): the
//! outcome, why (when it was ignored or could not act), the event it was about, the function's own
//! details, and one summary per finding. The head and the findings are the same for every function;
//! the details are each function's ([`InvocationSummary::detail`], flattened into the same JSON
//! object).

use serde::Serialize;
use tracing::info;

use super::{InvocationOutcome, InvocationReport};
use crate::finding::EventContext;
use crate::report::FindingSummary;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvocationSummary<D> {
    pub outcome: InvocationOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// CloudTrail `eventID` (or the EventBridge id) of the event handled, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    /// The function's own details.
    #[serde(flatten)]
    pub detail: D,
    pub findings: Vec<FindingSummary>,
}

/// For a function whose summary has no details of its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NoDetail {}

impl<D: Default> InvocationSummary<D> {
    /// `outcome` for the event of `context` (if known), no reason, no findings yet.
    pub fn of(outcome: InvocationOutcome, context: Option<&EventContext>) -> Self {
        Self {
            outcome,
            reason: None,
            event_id: context.map(|c| c.event_id.clone()),
            event_name: context.map(|c| c.event_name.clone()),
            detail: D::default(),
            findings: Vec::new(),
        }
    }

    /// The event was not for this function, or needs nothing: logged with `reason`.
    pub fn ignored(reason: impl Into<String>, context: Option<&EventContext>) -> Self {
        let reason = reason.into();
        info!(%reason, event_id = ?context.map(|c| &c.event_id), "event ignored");
        Self::of(InvocationOutcome::Ignored, context).because(reason)
    }
}

impl<D> InvocationSummary<D> {
    pub fn because(self, reason: impl Into<String>) -> Self {
        Self { reason: Some(reason.into()), ..self }
    }

    pub fn with_findings(self, findings: Vec<FindingSummary>) -> Self {
        Self { findings, ..self }
    }

    pub fn with_detail(self, detail: D) -> Self {
        Self { detail, ..self }
    }

    /// Names the event (for functions whose events have no [`EventContext`]).
    pub fn for_event_named(self, event_name: impl Into<String>) -> Self {
        Self { event_name: Some(event_name.into()), ..self }
    }
}

impl<D: Serialize> InvocationReport for InvocationSummary<D> {
    fn findings(&self) -> &[FindingSummary] {
        &self.findings
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Clone, Default, PartialEq, Serialize)]
    struct Detail {
        #[serde(skip_serializing_if = "Option::is_none")]
        resource: Option<String>,
    }

    #[test]
    fn the_details_sit_beside_the_head_in_one_object_and_empty_fields_are_left_out() {
        let context = EventContext {
            event_id: "e-1".into(),
            event_name: "ModifyDBInstance".into(),
            event_time: None,
            actor: "arn:aws:iam::123456789012:user/a".into(),
        };
        let checked = InvocationSummary::of(InvocationOutcome::Checked, Some(&context))
            .with_detail(Detail { resource: Some("arn:db".into()) });
        assert_eq!(
            serde_json::to_value(&checked).unwrap(),
            json!({"outcome": "checked", "event_id": "e-1", "event_name": "ModifyDBInstance", "resource": "arn:db", "findings": []})
        );
        let ignored = InvocationSummary::<NoDetail>::ignored("not for me", None);
        assert_eq!(
            serde_json::to_value(&ignored).unwrap(),
            json!({"outcome": "ignored", "reason": "not for me", "findings": []})
        );
    }
}
