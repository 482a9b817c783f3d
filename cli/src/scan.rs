//! `rdsguard scan`: the sweep engine ([`rdsguard::sweep`]) on a laptop or CI runner with the
//! caller's credentials — every database, snapshot and security group in front of a database, in
//! every enabled region (or `--regions`), of the caller's account or of `--accounts` through
//! `--role`. Read-only unless `--fix`: without it the policy runs in `MODE=alert` whatever the
//! environment says.

mod asff;
mod html;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use crate::progress::Progress;
use clap::{Arg, ArgAction, ArgMatches, Command};
use futures::StreamExt;
use rdsguard::aws::{AccountSessions, EnabledRegions, NetworkPorts, SdkEc2, SdkKms, SdkRds, SdkRegions};
use rdsguard::checks::CheckScope;
use rdsguard::finding::Finding;
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::kernel::Deadline;
use rdsguard::policy::Policy;
use rdsguard::remediate::ActionOutcome;
use rdsguard::rules::Severity;
use rdsguard::sweep::{sweep_region, Judged, RegionSweep};
use serde_json::{json, Value};

const FORMATS: [&str; 5] = ["table", "json", "csv", "asff", "html"];
const SEVERITIES: [&str; 5] = ["informational", "low", "medium", "high", "critical"];
/// Never published to: a scan prints its findings. The policy parser requires a topic.
const NO_TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:rdsguard-scan-publishes-nothing";

pub fn command() -> Command {
    Command::new("scan")
        .about("Judge every database, snapshot and security group in front of a database, now (read-only unless --fix)")
        .long_about(
            "Judge every DB instance, DB cluster, manual DB (cluster) snapshot, parameter group in use and \
             security group in front of a database with the rules the functions use. Settings come from the \
             same environment variables (ALLOWED_REGIONS, RULE_ACTIONS, EXEMPT_TAG_KEY, ALLOWED_CIDRS, \
             MIN_BACKUP_RETENTION_DAYS, TRUSTED_ACCOUNTS, PRODUCTION_TAG, REMEDIATION_PROFILE...), the flags \
             override them. Nothing is changed unless --fix is given.\n\n\
             Exit status: 0 when the scan finished (whatever it found, unless --fail-on says otherwise), 1 \
             when a finding at or above --fail-on exists, 2 when something could not be scanned.",
        )
        .arg(
            Arg::new("regions")
                .long("regions")
                .value_name("R1,R2")
                .help("Regions to scan (default: every region enabled for each account, from EC2 DescribeRegions in it)"),
        )
        .arg(
            Arg::new("accounts")
                .long("accounts")
                .value_name("A1,A2")
                .requires("role")
                .help("Accounts to scan through --role (default: the caller's own account)"),
        )
        .arg(Arg::new("role").long("role").value_name("NAME").help("Role to assume in each of --accounts"))
        .arg(
            Arg::new("allowed-regions")
                .long("allowed-regions")
                .value_name("R1,R2")
                .help("ALLOWED_REGIONS: regions where databases may exist"),
        )
        .arg(Arg::new("rule-actions").long("rule-actions").value_name("RULE=ACTION,...").help("RULE_ACTIONS"))
        .arg(
            Arg::new("mode")
                .long("mode")
                .value_parser(["remediate", "alert"])
                .help("MODE with --fix (without --fix the scan is always alert-only)"),
        )
        .arg(
            Arg::new("fix")
                .long("fix")
                .action(ArgAction::SetTrue)
                .help("Let rules remediate as the policy says (default: change nothing)"),
        )
        .arg(
            Arg::new("format")
                .long("format")
                .value_parser(FORMATS)
                .default_value("table")
                .help(
                    "table (for people), json (an array of findings with the alert's fields), csv, asff (AWS Security \
                     Finding Format, for Security Hub BatchImportFindings), html (one self-contained page: charts, then \
                     the table)",
                ),
        )
        .arg(Arg::new("output").long("output").value_name("FILE").help("Write the findings here instead of stdout"))
        .arg(
            Arg::new("fail-on")
                .long("fail-on")
                .value_parser(SEVERITIES)
                .help("Exit 1 when a finding at or above this severity exists"),
        )
        .arg(
            Arg::new("concurrency")
                .long("concurrency")
                .value_parser(clap::value_parser!(u16).range(1..=64))
                .default_value("8")
                .help("Account-regions scanned at once"),
        )
        .arg(Arg::new("no-progress").long("no-progress").action(ArgAction::SetTrue).help(
            "Do not show the progress line (shown on stderr only when it is a terminal: never in a pipe, a file or CI)",
        ))
}

/// The policy: the environment, the flags over it, and MODE=alert unless --fix.
fn policy(args: &ArgMatches, env: impl Iterator<Item = (String, String)>) -> Result<Policy, String> {
    let mut vars: BTreeMap<String, String> = env.collect();
    vars.entry("ALERT_TOPIC_ARN".to_owned()).or_insert_with(|| NO_TOPIC.to_owned());
    for (flag, var) in [("allowed-regions", "ALLOWED_REGIONS"), ("rule-actions", "RULE_ACTIONS"), ("mode", "MODE")] {
        if let Some(value) = args.get_one::<String>(flag) {
            vars.insert(var.to_owned(), value.clone());
        }
    }
    if !args.get_flag("fix") {
        vars.insert("MODE".to_owned(), "alert".to_owned());
    }
    Policy::from_vars(vars).map_err(|e| e.to_string())
}

fn list(raw: Option<&String>) -> Vec<String> {
    raw.map(|r| r.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()).unwrap_or_default()
}

pub async fn run(args: &ArgMatches) -> ExitCode {
    let started = Instant::now();
    let policy = match policy(args, std::env::vars()) {
        Ok(policy) => Arc::new(policy),
        Err(e) => return usage(&e),
    };
    let base = aws_config::load_from_env().await;
    let role = args.get_one::<String>("role").cloned().unwrap_or_else(|| policy.member_role_name.clone());
    let sessions = Arc::new(AccountSessions::new(base.clone(), role));
    let accounts = match list(args.get_one::<String>("accounts")) {
        ids if ids.is_empty() => match sessions.own_account().await {
            Ok(own) => vec![own.clone()],
            Err(e) => return error(&format!("cannot tell the caller's account: {e}")),
        },
        ids => match ids.iter().map(|id| AccountId::parse(id)).collect::<Result<Vec<_>, _>>() {
            Ok(accounts) => accounts,
            Err(e) => return usage(&format!("--accounts: {e}")),
        },
    };
    let given = match list(args.get_one::<String>("regions")) {
        names if names.is_empty() => None,
        names => match names.iter().map(|r| AwsRegion::parse(r)).collect::<Result<Vec<_>, _>>() {
            Ok(regions) => Some(regions),
            Err(e) => return usage(&format!("--regions: {e}")),
        },
    };
    let mut errors: Vec<String> = Vec::new();
    let mut targets: Vec<(AccountId, AwsRegion)> = Vec::new();
    for account in &accounts {
        let regions = match &given {
            Some(regions) => regions.clone(),
            // Each account enables its own opt-in regions: ask it, through its session.
            None => match enabled_regions(&sessions, account, &base).await {
                Ok(regions) => regions,
                Err(e) if accounts.len() == 1 => {
                    return error(&format!("cannot list the enabled regions (give --regions): {e}"))
                }
                Err(e) => {
                    errors.push(format!("{account}: cannot list its enabled regions (give --regions): {e}"));
                    continue;
                }
            },
        };
        targets.extend(regions.into_iter().map(|r| (account.clone(), r)));
    }
    let due = targets.len();
    let concurrency = usize::from(args.get_one::<u16>("concurrency").copied().unwrap_or(8));
    let mut progress = Progress::on_stderr(targets.len(), !args.get_flag("no-progress"));
    let results: Vec<Result<RegionSweep, String>> = futures::stream::iter(targets)
        .map(|(account, region)| {
            let (policy, sessions) = (policy.clone(), sessions.clone());
            async move { scan_one(&account, &region, &policy, &sessions).await }
        })
        .buffer_unordered(concurrency)
        .inspect(|result| progress.finished_one(result.as_ref().map_or(0, |sweep| sweep.findings.len())))
        .collect()
        .await;
    progress.clear();
    let mut sweeps: Vec<RegionSweep> = Vec::new();
    for result in results {
        match result {
            Ok(sweep) => sweeps.push(sweep),
            Err(e) => errors.push(e),
        }
    }
    sweeps.sort_by(|a, b| (a.account.as_str(), a.region.as_str()).cmp(&(b.account.as_str(), b.region.as_str())));
    for sweep in &sweeps {
        errors.extend(sweep.errors.iter().map(|e| format!("{}/{}: {e}", sweep.account, sweep.region)));
    }
    let mut findings: Vec<&(Finding, ActionOutcome)> = sweeps.iter().flat_map(|s| s.findings.iter()).collect();
    findings.sort_by(|a, b| {
        (b.0.severity, a.0.rule.as_str(), &a.0.resource).cmp(&(a.0.severity, b.0.rule.as_str(), &b.0.resource))
    });
    let mut judged = Judged::default();
    sweeps.iter().for_each(|s| judged.add(s.judged));
    let summary = summary(&judged, &findings, due, started);
    let text = match args.get_one::<String>("format").map_or("table", String::as_str) {
        "json" => serde_json::to_string_pretty(&Value::Array(findings.iter().map(|f| to_json(f)).collect()))
            .unwrap_or_default(),
        "csv" => csv(&findings),
        "asff" => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let (array, problems) = asff::asff(&findings, now);
            errors.extend(problems.into_iter().map(|p| format!("not expressible in ASFF: {p}")));
            serde_json::to_string_pretty(&array).unwrap_or_default()
        }
        "html" => html::html(&findings, &summary),
        _ => table(&findings),
    };
    match args.get_one::<String>("output") {
        Some(path) => {
            if let Err(e) = std::fs::write(path, format!("{text}\n")) {
                return error(&format!("cannot write {path}: {e}"));
            }
        }
        None => println!("{text}"),
    }
    eprintln!("{summary}");
    for e in &errors {
        eprintln!("rdsguard: not scanned: {e}");
    }
    if !errors.is_empty() {
        return ExitCode::from(2);
    }
    let fail_on = args.get_one::<String>("fail-on").map(|s| severity(s));
    if fail_on.is_some_and(|threshold| findings.iter().any(|(f, _)| f.severity >= threshold)) {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

async fn scan_one(
    account: &AccountId,
    region: &AwsRegion,
    policy: &Policy,
    sessions: &AccountSessions,
) -> Result<RegionSweep, String> {
    let config = sessions.config_for(account, region).await.map_err(|e| format!("{account}/{region}: {e}"))?;
    let kms = SdkKms::new(aws_sdk_kms::Client::new(&config));
    let rds = SdkRds::for_sweep(aws_sdk_rds::Client::new(&config)).with_managed_key_lookup(Arc::new(kms));
    let network = NetworkPorts {
        groups: Arc::new(SdkEc2::new(aws_sdk_ec2::Client::new(&config))),
        databases: Arc::new(rds.clone()),
    };
    let scope = CheckScope { account, region, policy, confirmation: Default::default(), deadline: Deadline::none() };
    Ok(sweep_region(scope, &rds, &network).await)
}

/// The regions enabled for `account` (EC2 DescribeRegions in its session, from the caller's
/// configured region, else us-east-1).
async fn enabled_regions(
    sessions: &AccountSessions,
    account: &AccountId,
    base: &aws_config::SdkConfig,
) -> Result<Vec<AwsRegion>, String> {
    let home = base.region().map_or("us-east-1", |r| r.as_ref());
    let home = AwsRegion::parse(home).map_err(|e| e.to_string())?;
    let config = sessions.config_for(account, &home).await.map_err(|e| e.to_string())?;
    SdkRegions::new(aws_sdk_ec2::Client::new(&config)).enabled_regions().await.map_err(|e| e.to_string())
}

fn severity(raw: &str) -> Severity {
    match raw {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" => Severity::Medium,
        "low" => Severity::Low,
        _ => Severity::Informational,
    }
}

/// A finding with the alert body's fields (README "Alert format"), without the event's.
fn to_json((finding, action): &(Finding, ActionOutcome)) -> Value {
    json!({
        "rule": finding.rule.as_str(),
        "severity": finding.severity.as_str(),
        "title": finding.rule.title(),
        "account": finding.account.as_str(),
        "region": finding.region.as_str(),
        "resource": finding.resource,
        "resource_type": finding.resource_type,
        "resource_id": finding.resource_id,
        "observed": finding.observed,
        "action": action,
    })
}

fn table(findings: &[&(Finding, ActionOutcome)]) -> String {
    if findings.is_empty() {
        return "no findings".to_owned();
    }
    let mut out =
        format!("{:<13} {:<28} {:<14} {:<14} {:<40} {}", "SEVERITY", "RULE", "ACCOUNT", "REGION", "RESOURCE", "ACTION");
    for (finding, action) in findings {
        out.push_str(&format!(
            "\n{:<13} {:<28} {:<14} {:<14} {:<40} {}: {}",
            finding.severity.as_str(),
            finding.rule.as_str(),
            finding.account.as_str(),
            finding.region.as_str(),
            finding.resource_id,
            action.status.as_str(),
            finding.rule.short_title()
        ));
    }
    out
}

fn csv(findings: &[&(Finding, ActionOutcome)]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out =
        String::from("severity,rule,account,region,resource_type,resource_id,resource,action_status,action_detail");
    for (finding, action) in findings {
        let cells = [
            finding.severity.as_str(),
            finding.rule.as_str(),
            finding.account.as_str(),
            finding.region.as_str(),
            finding.resource_type,
            finding.resource_id.as_str(),
            finding.resource.as_str(),
            action.status.as_str(),
            action.detail.as_str(),
        ];
        out.push('\n');
        out.push_str(&cells.iter().map(|c| quote(c)).collect::<Vec<_>>().join(","));
    }
    out
}

/// The end summary: account-regions, resources judged per type, findings per severity, time taken.
fn summary(
    judged: &Judged,
    findings: &[&(Finding, ActionOutcome)],
    account_regions: usize,
    started: Instant,
) -> String {
    let mut by_severity: BTreeMap<Severity, usize> = BTreeMap::new();
    for (finding, _) in findings {
        *by_severity.entry(finding.severity).or_default() += 1;
    }
    let severities: Vec<String> = by_severity.iter().rev().map(|(s, n)| format!("{n} {}", s.as_str())).collect();
    format!(
        "rdsguard scan: {account_regions} account-region(s), {} resource(s) judged ({} DB instances, {} DB clusters, \
         {} snapshots, {} security groups), {} finding(s){}{} in {:.1}s",
        judged.total(),
        judged.db_instances,
        judged.db_clusters,
        judged.snapshots,
        judged.security_groups,
        findings.len(),
        if severities.is_empty() { "" } else { ": " },
        severities.join(", "),
        started.elapsed().as_secs_f64()
    )
}

fn usage(message: &str) -> ExitCode {
    eprintln!("rdsguard scan: {message}");
    ExitCode::from(2)
}

fn error(message: &str) -> ExitCode {
    eprintln!("rdsguard scan: {message}");
    ExitCode::from(2)
}
