//! `rdsguard scan` as a person or a CI job runs it, against an estate seeded on moto before any
//! event: read-only by default, `--fail-on` for CI, every enabled region by default, `--fix` to act.
//! (moto answers DescribeRegions with every region, all enabled; AWS lists the opt-in regions only
//! once enabled.)
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::proxy::{Fault, FaultProxy};
use rdsguard_tests::{Estate, MotoServer, MOTO_ACCOUNT};
use serde_json::Value;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn scan(moto: &MotoServer, args: &[&str], env: &[(&str, &str)]) -> Run {
    scan_at(&moto.endpoint(), args, env)
}

/// `rdsguard scan` with its AWS calls sent to `endpoint` (moto, or a proxy in front of it).
fn scan_at(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rdsguard"));
    command
        .arg("scan")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", HOME_REGION);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("rdsguard runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn rules_for<'a>(findings: &'a Value, resource_id: &str) -> Vec<&'a str> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["resource_id"] == resource_id)
        .filter_map(|f| f["rule"].as_str())
        .collect()
}

/// A public database that existed before rdsguard was deployed is found; without --fix nothing is
/// changed, and `--fail-on high` makes a CI job fail. A database in a region that is not allowed is
/// found by the default scan of every enabled region.
#[tokio::test]
async fn a_scan_finds_what_existed_before_any_event_and_changes_nothing() {
    let estate = Estate::start().await;
    let us = estate.rds(HOME_REGION).await;
    estate.create_instance(&us, &NewInstance { public: true, ..NewInstance::postgres("legacy-public") }).await;
    let sa = estate.rds("sa-east-1").await;
    estate.create_instance(&sa, &NewInstance::postgres("forgotten-sp")).await;

    let run = scan(&estate.moto, &["--format", "json", "--fail-on", "high", "--allowed-regions", "us-east-1"], &[]);

    assert_eq!(run.code, Some(1), "a CRITICAL finding with --fail-on high exits 1: {}", run.stderr);
    let findings: Value = serde_json::from_str(&run.stdout).expect("json");
    assert!(rules_for(&findings, "legacy-public").contains(&"RDS.2"), "{findings:#}");
    assert!(rules_for(&findings, "forgotten-sp").contains(&"RDSGUARD.REGION"), "{findings:#}");
    let public = findings.as_array().unwrap().iter().find(|f| f["rule"] == "RDS.2").unwrap();
    assert_eq!(public["severity"], "CRITICAL");
    assert_eq!(public["region"], "us-east-1");
    assert_eq!(public["resource"], "arn:aws:rds:us-east-1:123456789012:db:legacy-public");
    assert_eq!(public["action"]["status"], "not_attempted");
    assert!(public["action"]["detail"].as_str().unwrap().contains("MODE=alert"), "{public:#}");
    assert!(run.stderr.contains("2 DB instances"), "summary: {}", run.stderr);
    // stderr is a pipe here: no progress line (it is for a terminal), only the summary.
    assert!(!run.stderr.contains("account-regions,") && !run.stderr.contains('\r'), "{:?}", run.stderr);

    let after = estate.instance(&us, "legacy-public").await.unwrap();
    assert_eq!(after.publicly_accessible, Some(true), "a scan without --fix changes nothing");

    // Without --fail-on the same findings exit 0; the table is for people.
    let run = scan(&estate.moto, &["--regions", "us-east-1"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.lines().next().unwrap().starts_with("SEVERITY"), "{}", run.stdout);
    assert!(run.stdout.contains("legacy-public"), "{}", run.stdout);
}

/// `--fix` lets the policy act: the public database is made private, as rds-guard would.
#[tokio::test]
async fn scan_with_fix_makes_the_public_database_private() {
    let estate = Estate::start().await;
    let us = estate.rds(HOME_REGION).await;
    estate.create_instance(&us, &NewInstance { public: true, ..NewInstance::postgres("legacy-public") }).await;

    let run = scan(&estate.moto, &["--regions", "us-east-1", "--fix", "--format", "csv"], &[]);

    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let row = run.stdout.lines().find(|l| l.contains("\"RDS.2\"")).expect("an RDS.2 row");
    assert!(row.contains("\"succeeded\""), "{row}");
    let after = estate.instance(&us, "legacy-public").await.unwrap();
    assert_eq!(after.publicly_accessible, Some(false));
}

#[test]
fn bad_settings_exit_2_with_the_reason() {
    let moto = MotoServer::start();
    let run = scan(&moto, &["--regions", "us-east-1"], &[("RULE_ACTIONS", "RDS.2=stop")]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("RULE_ACTIONS"), "{}", run.stderr);
    let run = scan(&moto, &["--regions", "mars-north-1"], &[]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("--regions"), "{}", run.stderr);
}

/// `--format asff` is what Security Hub imports (moto's BatchImportFindings takes every one), and
/// `--format html --output FILE` one self-contained page: charts by severity, rule, account and
/// region, then the table, nothing fetched from the network (escaping: html.rs's unit tests; moto
/// refuses identifiers with markup in them, as RDS does). The summary names resources judged
/// per type, findings per severity and the time taken.
#[tokio::test]
async fn asff_is_imported_by_security_hub_and_html_is_one_self_contained_page() {
    let estate = Estate::start().await;
    let us = estate.rds(HOME_REGION).await;
    estate.create_instance(&us, &NewInstance { public: true, ..NewInstance::postgres("legacy-public") }).await;
    estate.create_instance(&us, &NewInstance::seed("seed-db")).await;

    let run = scan(&estate.moto, &["--regions", "us-east-1", "--format", "asff"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let findings: Vec<Value> = serde_json::from_str(&run.stdout).expect("an ASFF array");
    let public = findings
        .iter()
        .find(|f| f["GeneratorId"] == "rdsguard/RDS.2")
        .unwrap_or_else(|| panic!("no RDS.2 in {findings:#?}"));
    assert_eq!(public["Severity"]["Label"], "CRITICAL");
    assert_eq!(public["AwsAccountId"], "123456789012");
    assert_eq!(public["Resources"][0]["Id"], "arn:aws:rds:us-east-1:123456789012:db:legacy-public");
    assert_eq!(public["Compliance"]["Status"], "FAILED");
    let hub = aws_sdk_securityhub::Client::new(&estate.moto.sdk_config(HOME_REGION).await);
    let mut request = hub.batch_import_findings();
    for finding in findings.iter().take(100) {
        request = request.findings(rdsguard::aws::sdk_finding(finding));
    }
    let imported = request.send().await.expect("BatchImportFindings");
    assert_eq!(imported.failed_count(), Some(0), "{imported:?}");
    assert_eq!(imported.success_count(), Some(findings.len().min(100) as i32));

    let dir = std::env::temp_dir().join(format!("rdsguard-scan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("report.html");
    let run =
        scan(&estate.moto, &["--regions", "us-east-1", "--format", "html", "--output", path.to_str().unwrap()], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "--output takes the report: {}", run.stdout);
    let page = std::fs::read_to_string(&path).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    for caption in ["Findings by severity", "Findings by rule", "Findings by account", "Findings by region"] {
        assert!(page.contains(&format!("<figcaption>{caption}</figcaption><svg")), "no {caption} chart");
    }
    assert!(page.contains("<td>legacy-public</td>") || page.contains(">legacy-public</td>"), "the table");
    assert!(page.contains(">seed-db</td>"), "the seeds' instance is in the table");
    assert!(!page.contains("<script") && !page.contains("<link") && !page.contains("src="), "nothing loaded");
    assert_eq!(page.matches("://").count(), 4, "the only URLs are the charts' SVG namespace");
    let bars_of_critical = page.matches("<title>CRITICAL: ").count();
    assert_eq!(bars_of_critical, 1, "one CRITICAL bar");
    assert!(run.stderr.contains("resource(s) judged (2 DB instances"), "{}", run.stderr);
    assert!(run.stderr.contains(" CRITICAL") && run.stderr.contains(" in "), "per severity and time: {}", run.stderr);
    std::fs::remove_dir_all(&dir).ok();
}

/// The access key a request was signed with (SigV4 `Credential=KEY/…`).
fn signing_key(request: &rdsguard_tests::proxy::Recorded) -> String {
    let authorization = request.header("authorization").unwrap_or_default();
    authorization.split("Credential=").nth(1).and_then(|c| c.split('/').next()).unwrap_or_default().to_owned()
}

/// Each account enables its own opt-in regions, so with `--accounts` every account is asked for its
/// enabled regions in its own session (the role assumed in it); an account that cannot be reached
/// is an error (exit 2) naming it, and the others are still scanned.
#[tokio::test]
async fn with_accounts_each_is_asked_for_its_own_regions_and_one_unreachable_is_an_error() {
    let estate = Estate::start().await;
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let member = "222222222222";
    let accounts = format!("{MOTO_ACCOUNT},{member}");
    let args = ["--accounts", accounts.as_str(), "--role", "rdsguard-scan", "--allowed-regions", "us-east-1"];

    let run = scan_at(&proxy.endpoint(), &args, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let described = proxy.calls_of("DescribeRegions");
    assert_eq!(described.len(), 2, "one DescribeRegions per account");
    let keys: std::collections::BTreeSet<String> = described.iter().map(signing_key).collect();
    assert_eq!(keys.len(), 2, "each account is asked with its own credentials: {keys:?}");
    assert!(keys.contains("testing"), "the caller's own account with the caller's credentials: {keys:?}");
    proxy.clear_requests();

    proxy.fail_always("AssumeRole", Fault::AccessDenied);
    let run = scan_at(&proxy.endpoint(), &args, &[]);
    assert_eq!(run.code, Some(2), "an account not reached is an error: {}", run.stderr);
    assert!(run.stderr.contains(&format!("{member}: cannot list its enabled regions")), "{}", run.stderr);
    assert_eq!(proxy.count("DescribeRegions"), 1, "the caller's own account is still listed");
    assert!(proxy.count("DescribeDBInstances") > 10, "and scanned in every region it has enabled");
}
