//! Every guardrail document is valid IAM policy grammar, as checked by parliament (a policy linter
//! from PyPI, installed into .venv by scripts/setup from scripts/requirements.txt).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

use rdsguard::guardrails::{desired_policies, Guardrail, GuardrailSettings};
use serde_json::Value;

/// parliament 1.6.4's action catalogue predates rds:StorageEncrypted on CreateDBInstance, which the
/// Service Authorization Reference lists (and which AWS's own SCP examples use). Only this exact
/// finding is accepted.
const KNOWN_OUTDATED: &[&str] = &["Unknown condition rds:StorageEncrypted for action rds:CreateDBInstance"];

fn parliament() -> PathBuf {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/parliament"));
    assert!(
        path.exists(),
        "parliament not found at {} — run scripts/setup (it installs scripts/requirements.txt)",
        path.display()
    );
    path
}

/// Findings parliament reports for these documents, as (file, detail).
fn lint(documents: &[(String, String)]) -> Vec<(String, String)> {
    let dir = std::env::temp_dir().join(format!("rdsguard-parliament-{}-{}", std::process::id(), documents.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<String> = documents
        .iter()
        .map(|(name, content)| {
            let path = dir.join(format!("{name}.json"));
            std::fs::write(&path, content).unwrap();
            path.display().to_string()
        })
        .collect();
    let output = Command::new(parliament())
        .args(["--json", "--minimum_severity", "INFO", "--files", &files.join(",")])
        .stdin(Stdio::null())
        .output()
        .expect("parliament runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("Traceback") && !stderr.contains("error:"), "parliament failed: {stderr}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let finding: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let file = finding["location"]["filepath"].as_str().unwrap_or_default().to_owned();
            let detail = finding["detail"].as_str().map(str::to_owned).unwrap_or_else(|| finding.to_string());
            (file, format!("{}: {detail}", finding["issue"].as_str().unwrap_or_default()))
        })
        .collect()
}

fn settings(guardrails: &str, exceptions: bool) -> GuardrailSettings {
    let mut vars = vec![
        ("GUARDRAILS".to_owned(), guardrails.to_owned()),
        ("GUARDRAIL_TARGETS".to_owned(), "r-ab12".to_owned()),
        ("ALLOWED_REGIONS".to_owned(), "eu-west-1,eu-central-1".to_owned()),
    ];
    if exceptions {
        vars.push(("BREAK_GLASS_PRINCIPALS".to_owned(), "arn:aws:iam::*:role/BreakGlass*".to_owned()));
        vars.push(("SECURITY_ADMIN_PRINCIPALS".to_owned(), "arn:aws:iam::111122223333:role/SecurityAdmin".to_owned()));
    }
    GuardrailSettings::from_vars(vars).unwrap()
}

#[test]
fn every_guardrail_document_passes_parliament() {
    let mut documents = Vec::new();
    let all = Guardrail::ALL.map(Guardrail::as_str).join(",");
    let cases: Vec<(String, bool)> = Guardrail::ALL
        .iter()
        .flat_map(|g| [(g.as_str().to_owned(), true), (g.as_str().to_owned(), false)])
        .chain([(all, true)])
        // protect-pipeline is refused without security admin principals.
        .filter(|(guardrails, exceptions)| *exceptions || guardrails != "protect-pipeline")
        .collect();
    for (guardrails, exceptions) in &cases {
        for policy in desired_policies(&settings(guardrails, *exceptions)).unwrap() {
            let label = format!("{}-{}-{}", guardrails.replace(',', "+"), exceptions, policy.name);
            documents.push((label, policy.content));
        }
    }
    let findings: Vec<(String, String)> = lint(&documents)
        .into_iter()
        .filter(|(_, detail)| !KNOWN_OUTDATED.iter().any(|known| detail.ends_with(known)))
        .collect();
    assert!(findings.is_empty(), "parliament findings:\n{findings:#?}");
}

#[test]
fn parliament_does_flag_a_broken_document() {
    // The check above is only worth something if parliament really reads the documents.
    let broken =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"rds:DeleteDBInstanse","Resource":"*"}]}"#;
    let findings = lint(&[("broken".to_owned(), broken.to_owned())]);
    assert!(findings.iter().any(|(_, d)| d.contains("rds:DeleteDBInstanse")), "{findings:?}");
}
