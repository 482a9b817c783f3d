//! pipeline-guard's own settings (the shared ones are in `rdsguard::policy`).

use std::collections::HashMap;

use rdsguard::policy::PolicyError;

/// Name prefix of rdsguard's own EventBridge rules: DisableRule / DeleteRule / RemoveTargets on a
/// rule with this prefix is tampering. template.yaml sets it to `<stack name>-`, the prefix
/// CloudFormation gives the rules it names.
pub const ENV_SUITE_RULE_PREFIX: &str = "SUITE_RULE_PREFIX";
pub const DEFAULT_SUITE_RULE_PREFIX: &str = "rdsguard-";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    pub suite_rule_prefix: String,
}

impl PipelineConfig {
    pub fn from_env() -> Result<Self, PolicyError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads `(name, value)` pairs; empty values count as unset.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, PolicyError> {
        let vars: HashMap<String, String> = vars.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect();
        let prefix = vars.get(ENV_SUITE_RULE_PREFIX).map_or(DEFAULT_SUITE_RULE_PREFIX, |v| v.trim());
        // EventBridge rule names are 1-64 of [.-_A-Za-z0-9].
        let valid = prefix.len() <= 64 && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(PolicyError::Invalid {
                var: ENV_SUITE_RULE_PREFIX,
                value: prefix.to_owned(),
                reason: "expected the start of an EventBridge rule name (letters, digits, '.', '_', '-')".to_owned(),
            });
        }
        Ok(Self { suite_rule_prefix: prefix.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: &str) -> Result<PipelineConfig, PolicyError> {
        PipelineConfig::from_vars([(ENV_SUITE_RULE_PREFIX.to_owned(), value.to_owned())])
    }

    #[test]
    fn prefix_defaults_and_is_validated() {
        assert_eq!(PipelineConfig::from_vars([]).unwrap().suite_rule_prefix, "rdsguard-");
        assert_eq!(config("  ").unwrap().suite_rule_prefix, "rdsguard-");
        assert_eq!(config(" prod-rdsguard- ").unwrap().suite_rule_prefix, "prod-rdsguard-");
        for bad in ["rds guard", "rdsguard-*", "arn:aws:events"] {
            let error = config(bad).unwrap_err().to_string();
            assert!(error.starts_with("SUITE_RULE_PREFIX=") && error.contains("EventBridge rule name"), "{error}");
        }
    }
}
