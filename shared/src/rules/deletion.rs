//! RDSGUARD.DELETE_NO_SNAPSHOT: judged on the DeleteDBInstance / DeleteDBCluster request itself,
//! because the database is gone by the time anyone could describe it.

use serde_json::{json, Value};

use super::Verdict;

/// A deletion that skipped the final snapshot leaves only automated backups (if they were kept);
/// a deletion with a final snapshot, or of an Aurora member (the data stays with the cluster) or a
/// read replica (RDS cannot snapshot it at deletion), is not a violation. `request` is CloudTrail's
/// `requestParameters`; `response` its `responseElements`.
pub fn deleted_without_final_snapshot(request: &Value, response: &Value) -> Verdict {
    let flag = request.get("skipFinalSnapshot").or_else(|| request.get("SkipFinalSnapshot"));
    let skip = match flag {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        // The API's default is false: a final snapshot is required (and named).
        None => false,
        Some(_) => return Verdict::Unknown("skipFinalSnapshot is neither true nor false"),
    };
    if !skip {
        return Verdict::Compliant;
    }
    let text = |key: &str| response.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    if text("dBClusterIdentifier").is_some() && text("dBInstanceArn").is_some() {
        return Verdict::NotApplicable("an Aurora member's data stays with its cluster");
    }
    if text("readReplicaSourceDBInstanceIdentifier").is_some() {
        return Verdict::NotApplicable("read replicas cannot take a final snapshot");
    }
    let delete_backups = request.get("deleteAutomatedBackups").and_then(Value::as_bool);
    Verdict::Violation(json!({
        "SkipFinalSnapshot": true,
        "DeleteAutomatedBackups": delete_backups,
        "BackupRetentionPeriod": response.get("backupRetentionPeriod"),
        "Engine": text("engine"),
        "StorageEncrypted": response.get("storageEncrypted"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(verdict: &Verdict) -> &'static str {
        match verdict {
            Verdict::Compliant => "compliant",
            Verdict::NotApplicable(_) => "n/a",
            Verdict::Unknown(_) => "unknown",
            Verdict::Violation(_) => "violation",
        }
    }

    #[test]
    fn judged_on_the_request() {
        let cases = [
            ("skipped", json!({"skipFinalSnapshot": true}), json!({}), "violation"),
            ("skipped as text", json!({"SkipFinalSnapshot": "true"}), json!(null), "violation"),
            (
                "final snapshot",
                json!({"skipFinalSnapshot": false, "finalDBSnapshotIdentifier": "last"}),
                json!({}),
                "compliant",
            ),
            ("default is a final snapshot", json!({"dBInstanceIdentifier": "db"}), json!({}), "compliant"),
            ("odd flag", json!({"skipFinalSnapshot": 1}), json!({}), "unknown"),
            (
                "aurora member",
                json!({"skipFinalSnapshot": true}),
                json!({"dBClusterIdentifier": "c", "dBInstanceArn": "arn:aws:rds:us-east-1:1:db:m"}),
                "n/a",
            ),
            (
                "read replica",
                json!({"skipFinalSnapshot": true}),
                json!({"readReplicaSourceDBInstanceIdentifier": "src"}),
                "n/a",
            ),
        ];
        for (name, request, response, expected) in cases {
            assert_eq!(kind_of(&deleted_without_final_snapshot(&request, &response)), expected, "{name}");
        }
        let Verdict::Violation(evidence) = deleted_without_final_snapshot(
            &json!({"skipFinalSnapshot": true, "deleteAutomatedBackups": true}),
            &json!({"backupRetentionPeriod": 14}),
        ) else {
            panic!("violation expected")
        };
        assert_eq!(evidence["DeleteAutomatedBackups"], true);
        assert_eq!(evidence["BackupRetentionPeriod"], 14);
    }
}
