//! Reading the sample events and printing what a subscriber received.

use std::path::{Path, PathBuf};

use rdsguard::report::FindingSummary;
use rdsguard_tests::Estate;
use serde_json::Value;

pub fn default_events_dir(function: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../events")).join(function)
}

/// Every `*.json` file in `dir`, in name order, as (file name, text). Unreadable files are reported
/// when replayed, not here.
pub fn load_events(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("<unreadable: {e}>"));
            (name, text)
        })
        .collect())
}

pub fn parse(name: &str, text: &str) -> Option<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(payload) => Some(payload),
        Err(e) => {
            println!("-- {name}: skipped (not JSON: {e})");
            None
        }
    }
}

pub fn print_finding(finding: &FindingSummary) {
    println!(
        "     {} {:<18} action {:?} -> {}: {}",
        finding.severity,
        finding.rule,
        finding.action.kind,
        finding.action.status.as_str(),
        finding.action.detail
    );
}

pub async fn print_alerts(estate: &Estate) {
    let alerts = estate.alerts().await;
    println!("\n== {} alert(s) received by the security team's queue", alerts.len());
    for alert in &alerts {
        println!("   {}", alert.subject);
        println!(
            "      actor {}  event {} ({})  attributes {:?}",
            alert.body["actor"].as_str().unwrap_or("-"),
            alert.body["event_name"].as_str().unwrap_or("-"),
            alert.body["event_id"].as_str().unwrap_or("-"),
            alert.attributes
        );
    }
    if let Some(first) = alerts.first() {
        println!(
            "\n== The first alert's message body\n{}",
            serde_json::to_string_pretty(&first.body).unwrap_or_default()
        );
    }
}
