//! Per-invocation metrics in the CloudWatch Embedded Metric Format (EMF): one JSON line on stdout
//! per invocation, which CloudWatch Logs turns into metrics in the `rdsguard` namespace with the
//! dimension `Function` — no PutMetricData call, no extra IAM permission, nothing to wait for.
//!
//! Metrics (all `Count`): `EventsSeen`, `Findings`, `AlertsPublished`, `Remediations<Status>` for
//! each action status (`RemediationsSucceeded`, `RemediationsFailed`, `RemediationsDeferred`,
//! `RemediationsSkipped`, `RemediationsNotAttempted`), `LedgerErrors` (findings the findings
//! ledger could not read or write, alerted anyway), `Errors` (invocations that failed and will
//! be retried) and `Findings<Severity>` per severity (`FindingsCritical`, `FindingsHigh`,
//! `FindingsMedium`, `FindingsLow`, `FindingsInformational`).
//!
//! Sweep coverage ([`emit_counts`]): sweep-planner emits `AccountRegionsDue` (messages sent),
//! sweep-worker `AccountRegionsSwept` (complete sweeps), `AccountRegionsPartial` and
//! `RechecksRun`; the dashboard (template.yaml `Dashboard`) sets swept against due.
//!
//! Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::action::ActionStatus;
use crate::report::FindingSummary;

/// The CloudWatch namespace the metrics land in.
pub const NAMESPACE: &str = "rdsguard";
/// The dimension naming the function.
pub const DIMENSION: &str = "Function";

const STATUSES: [(ActionStatus, &str); 5] = [
    (ActionStatus::Succeeded, "RemediationsSucceeded"),
    (ActionStatus::Failed, "RemediationsFailed"),
    (ActionStatus::Deferred, "RemediationsDeferred"),
    (ActionStatus::Skipped, "RemediationsSkipped"),
    (ActionStatus::NotAttempted, "RemediationsNotAttempted"),
];

const SEVERITIES: [(&str, &str); 5] = [
    ("CRITICAL", "FindingsCritical"),
    ("HIGH", "FindingsHigh"),
    ("MEDIUM", "FindingsMedium"),
    ("LOW", "FindingsLow"),
    ("INFORMATIONAL", "FindingsInformational"),
];

/// sweep-planner: account-regions sent to the sweep queue.
pub const ACCOUNT_REGIONS_DUE: &str = "AccountRegionsDue";
/// sweep-worker: account-regions swept completely.
pub const ACCOUNT_REGIONS_SWEPT: &str = "AccountRegionsSwept";
/// sweep-worker: account-regions swept partially (a listing or check failed).
pub const ACCOUNT_REGIONS_PARTIAL: &str = "AccountRegionsPartial";
/// sweep-worker: re-check messages run.
pub const RECHECKS_RUN: &str = "RechecksRun";

/// Every metric name rdsguard emits in its namespace (the dashboard may show only these).
pub fn metric_names() -> Vec<&'static str> {
    let mut names = vec!["EventsSeen", "Findings", "AlertsPublished"];
    names.extend(STATUSES.iter().map(|(_, name)| *name));
    names.extend(["LedgerErrors", "Errors"]);
    names.extend(SEVERITIES.iter().map(|(_, name)| *name));
    names.extend([
        crate::kernel::PANIC_METRIC,
        ACCOUNT_REGIONS_DUE,
        ACCOUNT_REGIONS_SWEPT,
        ACCOUNT_REGIONS_PARTIAL,
        RECHECKS_RUN,
    ]);
    names
}

/// One EMF document of `counts` for `function`, stamped `timestamp_ms`.
pub fn counts_emf(function: &str, counts: &[(&str, u64)], timestamp_ms: u128) -> Value {
    let definitions: Vec<Value> = counts.iter().map(|(name, _)| json!({"Name": name, "Unit": "Count"})).collect();
    let mut document = Map::new();
    document.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [[DIMENSION]], "Metrics": definitions}],
        }),
    );
    document.insert(DIMENSION.to_owned(), json!(function));
    for (name, value) in counts {
        document.insert((*name).to_owned(), json!(value));
    }
    Value::Object(document)
}

/// Writes [`counts_emf`] to stdout (a function's own counts, besides the kernel's per invocation).
pub fn emit_counts(function: &str, counts: &[(&str, u64)]) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    println!("{}", counts_emf(function, counts, now));
}

/// What one invocation saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvocationMetrics {
    pub events_seen: u64,
    pub findings: u64,
    pub alerts_published: u64,
    /// Per action status, in the order of `STATUSES`.
    remediations: [u64; 5],
    pub ledger_errors: u64,
    pub errors: u64,
    /// Findings per severity, in the order of `SEVERITIES`.
    by_severity: [u64; 5],
}

impl InvocationMetrics {
    /// An invocation that finished with these findings (an ignored event has none).
    pub fn handled(findings: &[FindingSummary]) -> Self {
        let mut metrics = Self { events_seen: 1, findings: findings.len() as u64, ..Self::default() };
        for finding in findings {
            metrics.alerts_published += u64::from(finding.alert_message_id.is_some());
            metrics.ledger_errors += u64::from(finding.ledger_error.is_some());
            metrics.count_action(finding.action.status);
            if let Some(i) = SEVERITIES.iter().position(|(s, _)| *s == finding.severity) {
                metrics.by_severity[i] += 1;
            }
        }
        metrics
    }

    /// An invocation that failed (Lambda retries it; in the end it lands in the dead-letter queue).
    pub fn failed() -> Self {
        Self { events_seen: 1, errors: 1, ..Self::default() }
    }

    fn count_action(&mut self, status: ActionStatus) {
        if let Some(i) = STATUSES.iter().position(|(s, _)| *s == status) {
            self.remediations[i] += 1;
        }
    }

    /// Findings of `severity` (`CRITICAL`...).
    pub fn findings_of(&self, severity: &str) -> u64 {
        SEVERITIES.iter().position(|(s, _)| *s == severity).map_or(0, |i| self.by_severity[i])
    }

    /// Remediations that ended with `status`.
    pub fn remediations(&self, status: ActionStatus) -> u64 {
        STATUSES.iter().position(|(s, _)| *s == status).map_or(0, |i| self.remediations[i])
    }

    /// The EMF document for `function`, stamped `timestamp_ms` (milliseconds since the epoch).
    pub fn emf(&self, function: &str, timestamp_ms: u128) -> Value {
        let mut values: Vec<(&str, u64)> = vec![
            ("EventsSeen", self.events_seen),
            ("Findings", self.findings),
            ("AlertsPublished", self.alerts_published),
        ];
        values.extend(STATUSES.iter().zip(self.remediations).map(|((_, name), n)| (*name, n)));
        values.push(("LedgerErrors", self.ledger_errors));
        values.push(("Errors", self.errors));
        values.extend(SEVERITIES.iter().zip(self.by_severity).map(|((_, name), n)| (*name, n)));
        let definitions: Vec<Value> = values.iter().map(|(name, _)| json!({"Name": name, "Unit": "Count"})).collect();
        let mut document = Map::new();
        document.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": definitions,
                }],
            }),
        );
        document.insert(DIMENSION.to_owned(), json!(function));
        for (name, value) in values {
            document.insert(name.to_owned(), json!(value));
        }
        Value::Object(document)
    }

    /// Writes the EMF line to stdout, where the Lambda runtime sends it to CloudWatch Logs.
    pub fn emit(&self, function: &str) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
        println!("{}", self.emf(function, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{ActionKind, ActionOutcome};

    fn finding(status: ActionStatus, published: bool) -> FindingSummary {
        FindingSummary {
            rule: "RDS.2".into(),
            severity: "CRITICAL".into(),
            resource: "arn:aws:rds:us-east-1:123456789012:db:db1".into(),
            action: ActionOutcome::new(ActionKind::MakePrivate, status, "x"),
            alert_message_id: published.then(|| "m-1".to_owned()),
            alert_note: None,
            finding_id: None,
            ledger_error: None,
        }
    }

    #[test]
    fn counts_findings_alerts_and_remediations_by_status() {
        let metrics = InvocationMetrics::handled(&[
            finding(ActionStatus::Succeeded, true),
            finding(ActionStatus::Failed, true),
            finding(ActionStatus::Failed, false),
            finding(ActionStatus::NotAttempted, true),
        ]);
        assert_eq!((metrics.events_seen, metrics.findings, metrics.alerts_published, metrics.errors), (1, 4, 3, 0));
        assert_eq!(metrics.remediations(ActionStatus::Succeeded), 1);
        assert_eq!(metrics.remediations(ActionStatus::Failed), 2);
        assert_eq!(metrics.remediations(ActionStatus::Deferred), 0);
        assert_eq!(metrics.remediations(ActionStatus::NotAttempted), 1);
        assert_eq!(metrics.ledger_errors, 0);
        assert_eq!((metrics.findings_of("CRITICAL"), metrics.findings_of("HIGH")), (4, 0));
        let unledgered =
            FindingSummary { ledger_error: Some("BatchGetItem failed".into()), ..finding(ActionStatus::Failed, true) };
        assert_eq!(InvocationMetrics::handled(&[unledgered.clone(), unledgered]).ledger_errors, 2);
        let failed = InvocationMetrics::failed();
        assert_eq!((failed.events_seen, failed.findings, failed.errors), (1, 0, 1));
    }

    #[test]
    fn emf_document_declares_every_metric_it_carries() {
        let doc =
            InvocationMetrics::handled(&[finding(ActionStatus::Succeeded, true)]).emf("rds-guard", 1_700_000_000_123);
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_123_u64);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "rdsguard");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(doc["Function"], "rds-guard");
        let names: Vec<&str> =
            directive["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "EventsSeen",
                "Findings",
                "AlertsPublished",
                "RemediationsSucceeded",
                "RemediationsFailed",
                "RemediationsDeferred",
                "RemediationsSkipped",
                "RemediationsNotAttempted",
                "LedgerErrors",
                "Errors",
                "FindingsCritical",
                "FindingsHigh",
                "FindingsMedium",
                "FindingsLow",
                "FindingsInformational"
            ]
        );
        for metric in directive["Metrics"].as_array().unwrap() {
            assert_eq!(metric["Unit"], "Count");
            let name = metric["Name"].as_str().unwrap();
            assert!(doc[name].is_u64(), "{name} is declared but has no value");
        }
        assert_eq!(
            (doc["EventsSeen"].clone(), doc["RemediationsSucceeded"].clone(), doc["Errors"].clone()),
            (json!(1), json!(1), json!(0))
        );
        // One line: CloudWatch Logs reads EMF only from a single-line JSON log event.
        assert!(!doc.to_string().contains('\n'));
    }

    #[test]
    fn counts_documents_declare_their_counts() {
        let doc = counts_emf("sweep-planner", &[(ACCOUNT_REGIONS_DUE, 51)], 1);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "AccountRegionsDue", "Unit": "Count"}])
        );
        assert_eq!((doc["Function"].clone(), doc["AccountRegionsDue"].clone()), (json!("sweep-planner"), json!(51)));
        assert!(metric_names().contains(&ACCOUNT_REGIONS_SWEPT));
    }
}
