//! `--format html`: one self-contained file a team can share — no script, no stylesheet, font or
//! image fetched from anywhere: findings by severity, rule, account and region as inline SVG bar
//! charts, then the table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rdsguard::finding::Finding;
use rdsguard::remediate::ActionOutcome;
use rdsguard::rules::Severity;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn colour(severity: &str) -> &'static str {
    match severity {
        "CRITICAL" => "#7b1fa2",
        "HIGH" => "#c62828",
        "MEDIUM" => "#ef6c00",
        "LOW" => "#f9a825",
        _ => "#607d8b",
    }
}

/// A horizontal bar chart of `counts` (label, count), largest first, as inline SVG.
fn chart(title: &str, counts: &[(String, usize)], fill: impl Fn(&str) -> &'static str) -> String {
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let (row, label_width, bar_width) = (22, 260, 360);
    let height = row * counts.len().max(1) + 10;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
         width=\"{}\" height=\"{height}\" aria-label=\"{}\">",
        escape(title),
        label_width + bar_width + 60,
        escape(title)
    );
    if counts.is_empty() {
        svg.push_str("<text x=\"0\" y=\"16\">no findings</text>");
    }
    for (i, (label, n)) in counts.iter().enumerate() {
        let y = i * row;
        let width = (bar_width * n).div_ceil(max);
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{}\" y=\"{}\" width=\"{width}\" height=\"{}\" fill=\"{}\"><title>{}: {n}</title></rect>\
             <text x=\"{}\" y=\"{}\">{n}</text>",
            label_width - 6,
            y + 15,
            escape(label),
            label_width,
            y + 3,
            row - 6,
            fill(label),
            escape(label),
            label_width + width + 4,
            y + 15,
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

fn counted<'a>(findings: &[&'a (Finding, ActionOutcome)], key: impl Fn(&'a Finding) -> String) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (finding, _) in findings {
        *counts.entry(key(finding)).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

/// The report: the summary line, the four charts, then one table row per finding.
pub fn html(findings: &[&(Finding, ActionOutcome)], summary: &str) -> String {
    let mut by_severity: BTreeMap<Severity, usize> = BTreeMap::new();
    for (finding, _) in findings {
        *by_severity.entry(finding.severity).or_default() += 1;
    }
    let severities: Vec<(String, usize)> = by_severity.iter().rev().map(|(s, n)| (s.as_str().to_owned(), *n)).collect();
    let neutral = |_: &str| "#1565c0";
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>rdsguard scan</title><style>\
         body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
         figure{display:inline-block;margin:0 2em 2em 0;vertical-align:top}figcaption{font-weight:bold}\
         svg text{font-size:12px}table{border-collapse:collapse;font-size:13px}\
         th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}th{background:#eee}\
         </style></head><body><h1>rdsguard scan</h1>",
    );
    let _ = write!(out, "<p>{}</p>", escape(summary));
    out.push_str(&chart("Findings by severity", &severities, colour));
    out.push_str(&chart(
        "Findings by rule",
        &counted(findings, |f| format!("{} {}", f.rule, f.rule.short_title())),
        neutral,
    ));
    out.push_str(&chart("Findings by account", &counted(findings, |f| f.account.to_string()), neutral));
    out.push_str(&chart("Findings by region", &counted(findings, |f| f.region.to_string()), neutral));
    out.push_str(
        "<table><thead><tr><th>Severity</th><th>Rule</th><th>Account</th><th>Region</th><th>Resource</th>\
         <th>Action</th><th>Detail</th></tr></thead><tbody>",
    );
    for (finding, action) in findings {
        let _ = write!(
            out,
            "<tr><td style=\"color:{}\">{}</td><td>{} {}</td><td>{}</td><td>{}</td><td title=\"{}\">{}</td>\
             <td>{}</td><td>{}</td></tr>",
            colour(finding.severity.as_str()),
            finding.severity.as_str(),
            escape(finding.rule.as_str()),
            escape(finding.rule.title()),
            escape(finding.account.as_str()),
            escape(finding.region.as_str()),
            escape(&finding.resource),
            escape(&finding.resource_id),
            action.status.as_str(),
            escape(&action.detail),
        );
    }
    out.push_str("</tbody></table></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn an_empty_scan_is_still_a_whole_page() {
        let page = html(&[], "0 findings");
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>"));
        assert_eq!(page.matches("<svg").count(), 4);
        // Nothing to fetch: the only URLs are the four charts' SVG namespace.
        assert_eq!(page.matches("://").count(), 4);
        assert_eq!(page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count(), 4);
    }
}
