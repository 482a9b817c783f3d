//! The `rdsguard` binary as an administrator runs it (render needs no AWS).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::{Command, Output};

use serde_json::Value;

fn rdsguard(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rdsguard"));
    command.args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("rdsguard runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_the_commands_settings_and_guardrails() {
    let output = rdsguard(&["guardrails", "--help"], &[]);
    assert!(output.status.success());
    let help = text(&output.stdout);
    for expected in [
        "render",
        "plan",
        "apply",
        "--targets",
        "$GUARDRAIL_TARGETS",
        "--remove",
        "protect-pipeline",
        "region-lock-all",
    ] {
        assert!(help.contains(expected), "{expected} missing from:\n{help}");
    }
}

#[test]
fn render_prints_the_packed_documents_configured_like_the_function() {
    let env = [
        ("GUARDRAILS", "deny-unencrypted-rds,protect-databases"),
        ("GUARDRAIL_TARGETS", "r-ab12"),
        ("ALLOWED_REGIONS", "eu-west-1"),
    ];
    let output = rdsguard(&["guardrails", "render", "--guardrails", "deny-unencrypted-rds,rds-region-lock"], &env);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let rendered: Value = serde_json::from_str(&text(&output.stdout)).unwrap();
    let documents = rendered.as_array().unwrap();
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0]["Name"], "rdsguard-guardrails-1");
    let sids: Vec<&str> =
        documents[0]["Content"]["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap()).collect();
    assert_eq!(sids, ["RdsguardDenyUnencryptedRdsCreate", "RdsguardRdsRegionLock"], "the flag overrides $GUARDRAILS");
    assert!(documents[0]["Characters"].as_u64().unwrap() <= 5_120);
}

#[test]
fn bad_settings_fail_with_the_variable_named() {
    let output =
        rdsguard(&["guardrails", "render"], &[("GUARDRAILS", "rds-region-lock"), ("GUARDRAIL_TARGETS", "r-ab12")]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stderr).trim(), "rdsguard: ALLOWED_REGIONS is required but not set");
    let usage = rdsguard(&["guardrails", "frobnicate"], &[]);
    assert_eq!(usage.status.code(), Some(2), "clap reports usage errors with status 2");
}
