//! The ledger's configuration, read once at start: `FINDINGS_TABLE` (unset: no ledger, every
//! finding alerts as before), `ALERT_ON_RESOLVE` (default true) and `REALERT_AFTER_DAYS`
//! (default 7, 0 = never).

use super::transition::Lifecycle;

pub const ENV_FINDINGS_TABLE: &str = "FINDINGS_TABLE";
pub const ENV_ALERT_ON_RESOLVE: &str = "ALERT_ON_RESOLVE";
pub const ENV_REALERT_AFTER_DAYS: &str = "REALERT_AFTER_DAYS";
pub const ENV_SECURITY_HUB_EXPORT: &str = "SECURITY_HUB_EXPORT";

/// A setting that is not understood (init stops with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerConfigError {
    #[error("{ENV_ALERT_ON_RESOLVE}={0:?}: expected true or false")]
    AlertOnResolve(String),
    #[error("{ENV_REALERT_AFTER_DAYS}={0:?}: expected a whole number of days (0 = never)")]
    RealertAfterDays(String),
    #[error("{ENV_SECURITY_HUB_EXPORT}={0:?}: expected on or off")]
    SecurityHubExport(String),
    #[error("{ENV_SECURITY_HUB_EXPORT}=on exports the ledger's transitions: it needs {ENV_FINDINGS_TABLE}")]
    ExportWithoutLedger,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerConfig {
    /// DynamoDB table name; `None`: no ledger.
    pub table: Option<String>,
    pub lifecycle: Lifecycle,
    /// Import each transition into AWS Security Hub (SECURITY_HUB_EXPORT=on; default off).
    pub security_hub_export: bool,
}

impl LedgerConfig {
    pub fn from_env() -> Result<Self, LedgerConfigError> {
        Self::from_vars(std::env::vars())
    }

    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, LedgerConfigError> {
        let mut config = Self { table: None, lifecycle: Lifecycle::default(), security_hub_export: false };
        for (name, value) in vars {
            let trimmed = value.trim();
            match name.as_str() {
                ENV_FINDINGS_TABLE => config.table = (!trimmed.is_empty()).then(|| trimmed.to_owned()),
                ENV_ALERT_ON_RESOLVE => {
                    config.lifecycle.alert_on_resolve = match trimmed.to_ascii_lowercase().as_str() {
                        "" | "true" => true,
                        "false" => false,
                        _ => return Err(LedgerConfigError::AlertOnResolve(value)),
                    }
                }
                ENV_REALERT_AFTER_DAYS if trimmed.is_empty() => {}
                ENV_REALERT_AFTER_DAYS => {
                    config.lifecycle.realert_after_days =
                        trimmed.parse().map_err(|_| LedgerConfigError::RealertAfterDays(value.clone()))?
                }
                ENV_SECURITY_HUB_EXPORT => {
                    config.security_hub_export = match trimmed.to_ascii_lowercase().as_str() {
                        "" | "off" => false,
                        "on" => true,
                        _ => return Err(LedgerConfigError::SecurityHubExport(value)),
                    }
                }
                _ => {}
            }
        }
        if config.security_hub_export && config.table.is_none() {
            return Err(LedgerConfigError::ExportWithoutLedger);
        }
        Ok(config)
    }

    /// One line for the start-up log.
    pub fn describe(&self) -> String {
        match &self.table {
            None => format!("{ENV_FINDINGS_TABLE} unset: no findings ledger, every finding is alerted on every event"),
            Some(table) => format!(
                "findings ledger {table}: alerts on transitions only; {ENV_ALERT_ON_RESOLVE}={}, {ENV_REALERT_AFTER_DAYS}={}, {ENV_SECURITY_HUB_EXPORT}={}",
                self.lifecycle.alert_on_resolve,
                self.lifecycle.realert_after_days,
                if self.security_hub_export { "on" } else { "off" }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<LedgerConfig, LedgerConfigError> {
        LedgerConfig::from_vars(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
    }

    #[test]
    fn settings() {
        let default = parse(&[]).unwrap();
        assert_eq!(default.table, None);
        assert_eq!(default.lifecycle, Lifecycle { alert_on_resolve: true, realert_after_days: 7 });
        assert!(default.describe().contains("FINDINGS_TABLE unset"));
        let set = parse(&[
            ("FINDINGS_TABLE", " rdsguard-findings "),
            ("ALERT_ON_RESOLVE", "FALSE"),
            ("REALERT_AFTER_DAYS", "0"),
        ])
        .unwrap();
        assert_eq!(set.table.as_deref(), Some("rdsguard-findings"));
        assert_eq!(set.lifecycle, Lifecycle { alert_on_resolve: false, realert_after_days: 0 });
        assert_eq!(parse(&[("FINDINGS_TABLE", "")]).unwrap().table, None);
        assert_eq!(parse(&[("ALERT_ON_RESOLVE", "yes")]), Err(LedgerConfigError::AlertOnResolve("yes".into())));
        assert_eq!(parse(&[("REALERT_AFTER_DAYS", "-1")]), Err(LedgerConfigError::RealertAfterDays("-1".into())));
        assert_eq!(parse(&[("REALERT_AFTER_DAYS", "week")]), Err(LedgerConfigError::RealertAfterDays("week".into())));
        assert!(!default.security_hub_export);
        assert!(parse(&[("FINDINGS_TABLE", "t"), ("SECURITY_HUB_EXPORT", "ON")]).unwrap().security_hub_export);
        assert!(!parse(&[("FINDINGS_TABLE", "t"), ("SECURITY_HUB_EXPORT", "off")]).unwrap().security_hub_export);
        assert_eq!(
            parse(&[("FINDINGS_TABLE", "t"), ("SECURITY_HUB_EXPORT", "1")]),
            Err(LedgerConfigError::SecurityHubExport("1".into()))
        );
        assert_eq!(parse(&[("SECURITY_HUB_EXPORT", "on")]), Err(LedgerConfigError::ExportWithoutLedger));
    }
}
