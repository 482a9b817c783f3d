//! `rdsguard findings list [--status open] [--format table|json|csv|asff]`: reads the findings
//! ledger (README "Findings lifecycle") with the operator's credentials (dynamodb:Scan on the
//! table named by `--table` or `$FINDINGS_TABLE`, the stack's `FindingsTableName` output).

use std::process::ExitCode;

use clap::{Arg, ArgMatches, Command};
use rdsguard::aws::DynamoDbFindings;
use rdsguard::ledger::{rfc3339, FindingStatus, LedgerItem};
use rdsguard::securityhub::asff;
use serde_json::json;

use crate::fail;

const STATUSES: [&str; 3] = ["open", "resolved", "exempt"];
const FORMATS: [&str; 4] = ["table", "json", "csv", "asff"];

pub fn command() -> Command {
    Command::new("findings")
        .about("Read the findings ledger (FINDINGS_TABLE)")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("list")
                .about("List the findings the ledger holds, most severe first")
                .arg(Arg::new("status").long("status").value_parser(STATUSES).help("Only findings with this status"))
                .arg(
                    Arg::new("format")
                        .long("format")
                        .value_parser(FORMATS)
                        .default_value("table")
                        .help("table (for people), json (the ledger items), csv, asff (a BatchImportFindings body)"),
                )
                .arg(
                    Arg::new("table")
                        .long("table")
                        .env("FINDINGS_TABLE")
                        .required(true)
                        .help("The ledger's DynamoDB table (the stack's FindingsTableName output)"),
                ),
        )
}

pub async fn run(findings: &ArgMatches) -> ExitCode {
    let Some(("list", list)) = findings.subcommand() else {
        return fail("unknown findings command (see rdsguard findings --help)");
    };
    let table = list.get_one::<String>("table").cloned().unwrap_or_default();
    let status = list.get_one::<String>("status").and_then(|s| FindingStatus::parse(s));
    let format = list.get_one::<String>("format").map_or("table", String::as_str);
    let config = aws_config::load_from_env().await;
    let store = DynamoDbFindings::new(aws_sdk_dynamodb::Client::new(&config), table);
    let mut items = match store.list(status).await {
        Ok(items) => items,
        Err(e) => return fail(&e.to_string()),
    };
    sort(&mut items);
    match render(&items, format) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn severity_rank(severity: &str) -> u8 {
    match severity {
        "CRITICAL" => 0,
        "HIGH" => 1,
        "MEDIUM" => 2,
        "LOW" => 3,
        _ => 4,
    }
}

/// Open first, then exempt, then resolved; most severe first; then by rule and resource.
fn sort(items: &mut [LedgerItem]) {
    let status_rank = |s: FindingStatus| match s {
        FindingStatus::Open => 0,
        FindingStatus::Exempt => 1,
        FindingStatus::Resolved => 2,
    };
    items.sort_by(|a, b| {
        (status_rank(a.status), severity_rank(&a.severity), &a.rule, &a.resource).cmp(&(
            status_rank(b.status),
            severity_rank(&b.severity),
            &b.rule,
            &b.resource,
        ))
    });
}

fn render(items: &[LedgerItem], format: &str) -> Result<String, String> {
    match format {
        "table" => Ok(table(items)),
        "csv" => Ok(csv(items)),
        "json" => serde_json::to_string_pretty(items).map_err(|e| e.to_string()),
        "asff" => {
            let findings = items.iter().map(asff).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
            serde_json::to_string_pretty(&json!({ "Findings": findings })).map_err(|e| e.to_string())
        }
        other => Err(format!("unknown format {other:?}")),
    }
}

const COLUMNS: [&str; 8] = ["STATUS", "SEVERITY", "RULE", "RESOURCE", "SEEN", "FIRST SEEN", "LAST SEEN", "LAST ACTION"];

fn row(item: &LedgerItem) -> [String; 8] {
    [
        item.status.as_str().to_owned(),
        item.severity.clone(),
        item.rule.clone(),
        item.resource.clone(),
        item.occurrences.to_string(),
        rfc3339(item.first_seen),
        rfc3339(item.last_seen),
        format!("{} {}", item.last_action, item.last_action_status),
    ]
}

fn table(items: &[LedgerItem]) -> String {
    if items.is_empty() {
        return "no findings".to_owned();
    }
    let rows: Vec<[String; 8]> = items.iter().map(row).collect();
    let mut widths = COLUMNS.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(&COLUMNS.map(str::to_owned))];
    out.extend(rows.iter().map(|r| line(r)));
    out.push(format!("{} finding(s)", items.len()));
    out.join("\n")
}

/// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn csv(items: &[LedgerItem]) -> String {
    let header = "finding_id,status,severity,rule,account,region,resource,occurrences,first_seen,last_seen,last_action,last_action_status,resolved_by,last_alerted";
    let mut lines = vec![header.to_owned()];
    for item in items {
        let fields = [
            item.finding_id.clone(),
            item.status.as_str().to_owned(),
            item.severity.clone(),
            item.rule.clone(),
            item.account.clone(),
            item.region.clone(),
            item.resource.clone(),
            item.occurrences.to_string(),
            rfc3339(item.first_seen),
            rfc3339(item.last_seen),
            item.last_action.clone(),
            item.last_action_status.clone(),
            item.resolved_by.map(|r| r.as_str().to_owned()).unwrap_or_default(),
            item.last_alerted.map(rfc3339).unwrap_or_default(),
        ];
        lines.push(fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use rdsguard::ledger::AlertState;

    use super::*;

    fn item(rule: &str, severity: &str, status: FindingStatus, resource: &str) -> LedgerItem {
        LedgerItem {
            finding_id: format!("id-{rule}"),
            rule: rule.into(),
            title: "t".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            resource: resource.into(),
            resource_type: "AWS::RDS::DBInstance".into(),
            resource_id: "db".into(),
            component: None,
            status,
            severity: severity.into(),
            first_seen: 1_800_000_000,
            last_seen: 1_800_000_060,
            occurrences: 3,
            last_action: "alert_only".into(),
            last_action_status: "not_attempted".into(),
            evidence: "{}".into(),
            last_event_id: None,
            last_alerted: Some(1_800_000_000),
            last_alert_reason: Some("new".into()),
            last_alert_message_id: None,
            alert: AlertState::Settled,
            resolved_by: None,
            resolved_at: None,
            expires_at: None,
            version: 3,
        }
    }

    fn sample() -> Vec<LedgerItem> {
        let mut items = vec![
            item("RDS.8", "LOW", FindingStatus::Resolved, "arn:aws:rds:us-east-1:123456789012:db:a"),
            item("RDS.10", "MEDIUM", FindingStatus::Open, "arn:aws:rds:us-east-1:123456789012:db:a"),
            item("RDS.2", "CRITICAL", FindingStatus::Open, "arn:aws:rds:us-east-1:123456789012:db:b,\"odd\""),
        ];
        sort(&mut items);
        items
    }

    #[test]
    fn open_and_most_severe_first() {
        let items = sample();
        let rules: Vec<&str> = items.iter().map(|i| i.rule.as_str()).collect();
        assert_eq!(rules, ["RDS.2", "RDS.10", "RDS.8"]);
    }

    #[test]
    fn the_table_lines_up() {
        let text = render(&sample(), "table").unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("STATUS    SEVERITY  RULE    RESOURCE"), "{text}");
        assert!(lines[1].starts_with("open      CRITICAL  RDS.2   arn:aws:rds:us-east-1:123456789012:db:b"), "{text}");
        assert!(lines[1].contains("2027-01-15T08:00:00Z"), "{text}");
        assert_eq!(lines.last(), Some(&"3 finding(s)"));
        assert_eq!(render(&[], "table").unwrap(), "no findings");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let text = render(&sample(), "csv").unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("finding_id,status,severity,rule,"));
        assert!(lines[1].contains(",\"arn:aws:rds:us-east-1:123456789012:db:b,\"\"odd\"\"\",3,"), "{}", lines[1]);
        assert!(lines[3].starts_with("id-RDS.8,resolved,LOW,RDS.8,"));
    }

    #[test]
    fn json_and_asff() {
        let json: serde_json::Value = serde_json::from_str(&render(&sample(), "json").unwrap()).unwrap();
        assert_eq!(json[0]["rule"], "RDS.2");
        assert_eq!(json[0]["occurrences"], 3);
        let asff: serde_json::Value = serde_json::from_str(&render(&sample(), "asff").unwrap()).unwrap();
        let findings = asff["Findings"].as_array().unwrap();
        assert_eq!(findings.len(), 3);
        assert_eq!(findings[0]["Id"], "rdsguard/id-RDS.2");
        assert_eq!(findings[2]["RecordState"], "ARCHIVED");
    }

    #[test]
    fn the_command_parses_the_documented_flags() {
        let matches = command()
            .try_get_matches_from(["findings", "list", "--status", "open", "--format", "csv", "--table", "t1"])
            .unwrap();
        let (_, list) = matches.subcommand().unwrap();
        assert_eq!(list.get_one::<String>("status").map(String::as_str), Some("open"));
        assert_eq!(list.get_one::<String>("format").map(String::as_str), Some("csv"));
        assert!(command().try_get_matches_from(["findings", "list", "--format", "xml", "--table", "t"]).is_err());
    }
}
