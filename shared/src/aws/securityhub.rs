//! AWS Security Hub: the export of the ledger's transitions (SECURITY_HUB_EXPORT=on).
//!
//! With the default product ARN, Security Hub takes a finding only from the account it is about
//! (`AwsAccountId`), so each finding is imported in its own account and region: through the
//! function's own credentials in its own account, through its member role elsewhere
//! ([`AccountSessions`]). BatchImportFindings takes 100 findings a call; a finding rdsguard's own
//! fix resolved also gets `Workflow.Status` RESOLVED through BatchUpdateFindings (which
//! BatchImportFindings cannot set on an existing finding).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingIdentifier, Compliance, ComplianceStatus, Partition, Recommendation,
    RecordState, Remediation, Resource, Severity, SeverityLabel, WorkflowStatus, WorkflowUpdate,
};
use serde_json::Value;

use super::{AccountSessions, AwsError, ClientCache};
use crate::identity::{AccountId, AwsRegion};
use crate::ledger::{LedgerItem, ResolvedBy};
use crate::securityhub::asff;

/// Security Hub takes at most 100 findings per BatchImportFindings / BatchUpdateFindings call.
pub const SECURITY_HUB_BATCH_MAX: usize = 100;

/// Where the ledger's transitions are exported.
#[async_trait]
pub trait FindingsExport: Send + Sync {
    /// Imports `items` (each as it stands after its transition); every item is attempted, the
    /// first error comes back.
    async fn export(&self, items: &[LedgerItem]) -> Result<(), AwsError>;
}

pub struct SdkSecurityHub {
    sessions: AccountSessions,
    clients: ClientCache<aws_sdk_securityhub::Client>,
}

impl SdkSecurityHub {
    /// IAM actions this adapter calls, in each account it exports to (granted only when the
    /// export is on: template.yaml `SecurityHubExportPolicy`, templates/member.yaml
    /// `SecurityHubExportMemberPolicy`).
    pub const IAM_ACTIONS: &'static [&'static str] =
        &["securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings"];

    pub fn new(sessions: AccountSessions) -> Self {
        Self { sessions, clients: ClientCache::default() }
    }
}

fn failure(operation: &'static str, message: impl Into<String>) -> AwsError {
    AwsError { operation, code: None, message: message.into() }
}

/// The SDK's shape of an ASFF finding made by [`asff`].
pub fn sdk_finding(finding: &Value) -> AwsSecurityFinding {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut builder = AwsSecurityFinding::builder()
        .schema_version(text(&finding["SchemaVersion"]))
        .id(text(&finding["Id"]))
        .product_arn(text(&finding["ProductArn"]))
        .product_name(text(&finding["ProductName"]))
        .company_name(text(&finding["CompanyName"]))
        .generator_id(text(&finding["GeneratorId"]))
        .aws_account_id(text(&finding["AwsAccountId"]))
        .region(text(&finding["Region"]))
        .first_observed_at(text(&finding["FirstObservedAt"]))
        .last_observed_at(text(&finding["LastObservedAt"]))
        .created_at(text(&finding["CreatedAt"]))
        .updated_at(text(&finding["UpdatedAt"]))
        .severity(
            Severity::builder()
                .label(SeverityLabel::from(finding["Severity"]["Label"].as_str().unwrap_or_default()))
                .original(text(&finding["Severity"]["Original"]))
                .build(),
        )
        .title(text(&finding["Title"]))
        .description(text(&finding["Description"]))
        .remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder().text(text(&finding["Remediation"]["Recommendation"]["Text"])).build(),
                )
                .build(),
        )
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::from(finding["Compliance"]["Status"].as_str().unwrap_or_default()))
                .build(),
        )
        .record_state(RecordState::from(finding["RecordState"].as_str().unwrap_or_default()));
    for t in finding["Types"].as_array().into_iter().flatten() {
        builder = builder.types(text(t));
    }
    for (key, value) in finding["ProductFields"].as_object().into_iter().flatten() {
        builder = builder.product_fields(key.clone(), text(value));
    }
    for r in finding["Resources"].as_array().into_iter().flatten() {
        builder = builder.resources(
            Resource::builder()
                .r#type(text(&r["Type"]))
                .id(text(&r["Id"]))
                .partition(Partition::from(r["Partition"].as_str().unwrap_or_default()))
                .region(text(&r["Region"]))
                .build(),
        );
    }
    builder.build()
}

impl SdkSecurityHub {
    async fn export_to(&self, account: &str, region: &str, items: &[&LedgerItem]) -> Result<(), AwsError> {
        let account_id = AccountId::parse(account).map_err(|e| failure("BatchImportFindings", e.to_string()))?;
        let aws_region = AwsRegion::parse(region).map_err(|e| failure("BatchImportFindings", e.to_string()))?;
        let client = self
            .clients
            .get_or_build(&self.sessions, &account_id, &aws_region, aws_sdk_securityhub::Client::new)
            .await
            .map_err(|e| failure("BatchImportFindings", e.to_string()))?;
        let mut findings = Vec::with_capacity(items.len());
        let mut fixed = Vec::new();
        for item in items {
            let finding = asff(item).map_err(|e| failure("BatchImportFindings", e.to_string()))?;
            if item.resolved_by == Some(ResolvedBy::Rdsguard) {
                fixed.push(
                    AwsSecurityFindingIdentifier::builder()
                        .id(finding["Id"].as_str().unwrap_or_default())
                        .product_arn(finding["ProductArn"].as_str().unwrap_or_default())
                        .build(),
                );
            }
            findings.push(sdk_finding(&finding));
        }
        for batch in findings.chunks(SECURITY_HUB_BATCH_MAX) {
            let output = client
                .batch_import_findings()
                .set_findings(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("BatchImportFindings", e))?;
            if let Some(refused) = output.failed_findings().first() {
                return Err(failure(
                    "BatchImportFindings",
                    format!(
                        "{} of {} findings refused; first {}: {} {}",
                        output.failed_count().unwrap_or_default(),
                        batch.len(),
                        refused.id().unwrap_or_default(),
                        refused.error_code().unwrap_or_default(),
                        refused.error_message().unwrap_or_default()
                    ),
                ));
            }
        }
        for batch in fixed.chunks(SECURITY_HUB_BATCH_MAX) {
            let output = client
                .batch_update_findings()
                .set_finding_identifiers(Some(batch.to_vec()))
                .workflow(WorkflowUpdate::builder().status(WorkflowStatus::Resolved).build())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("BatchUpdateFindings", e))?;
            if let Some(refused) = output.unprocessed_findings().first() {
                return Err(failure(
                    "BatchUpdateFindings",
                    format!(
                        "{} findings not updated; first: {}",
                        output.unprocessed_findings().len(),
                        refused.error_message().unwrap_or_default()
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl FindingsExport for SdkSecurityHub {
    async fn export(&self, items: &[LedgerItem]) -> Result<(), AwsError> {
        let mut by_place: BTreeMap<(&str, &str), Vec<&LedgerItem>> = BTreeMap::new();
        for item in items {
            by_place.entry((item.account.as_str(), item.region.as_str())).or_default().push(item);
        }
        let mut first_error = None;
        for ((account, region), items) in by_place {
            if let Err(e) = self.export_to(account, region, &items).await {
                tracing::error!(account, region, error = %e, "findings not exported to Security Hub");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_sdk_finding_carries_every_asff_field() {
        let finding = json!({
            "SchemaVersion": "2018-10-08", "Id": "rdsguard/f1", "ProductArn": "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default",
            "ProductName": "rdsguard", "CompanyName": "rdsguard", "GeneratorId": "rdsguard/RDS.2", "AwsAccountId": "123456789012",
            "Region": "us-east-1", "Types": ["Software and Configuration Checks/AWS Security Best Practices"],
            "FirstObservedAt": "2027-01-15T08:00:00Z", "LastObservedAt": "2027-01-15T08:01:00Z",
            "CreatedAt": "2027-01-15T08:00:00Z", "UpdatedAt": "2027-01-15T08:01:00Z",
            "Severity": {"Label": "CRITICAL", "Original": "CRITICAL"}, "Title": "RDS.2 t", "Description": "d",
            "Remediation": {"Recommendation": {"Text": "r"}}, "ProductFields": {"rdsguard/Rule": "RDS.2"},
            "Resources": [{"Type": "AwsRdsDbInstance", "Id": "arn:aws:rds:us-east-1:123456789012:db:a", "Partition": "aws", "Region": "us-east-1"}],
            "Compliance": {"Status": "PASSED"}, "RecordState": "ARCHIVED"
        });
        let sdk = sdk_finding(&finding);
        assert_eq!(
            (sdk.id(), sdk.generator_id(), sdk.aws_account_id()),
            (Some("rdsguard/f1"), Some("rdsguard/RDS.2"), Some("123456789012"))
        );
        assert_eq!(sdk.severity().and_then(|s| s.label()), Some(&SeverityLabel::Critical));
        assert_eq!(sdk.compliance().and_then(|c| c.status()), Some(&ComplianceStatus::Passed));
        assert_eq!(sdk.record_state(), Some(&RecordState::Archived));
        assert_eq!(sdk.resources()[0].r#type(), Some("AwsRdsDbInstance"));
        assert_eq!(sdk.resources()[0].partition(), Some(&Partition::Aws));
        assert_eq!(sdk.types().len(), 1);
        assert_eq!(sdk.product_fields().and_then(|p| p.get("rdsguard/Rule")).map(String::as_str), Some("RDS.2"));
        assert_eq!(sdk.created_at(), Some("2027-01-15T08:00:00Z"));
    }
}
