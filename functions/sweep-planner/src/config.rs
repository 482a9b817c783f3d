//! sweep-planner's configuration, from the environment once per container.

use std::collections::BTreeMap;

use rdsguard::identity::AwsRegion;

pub const ENV_SWEEP_QUEUE_URL: &str = "SWEEP_QUEUE_URL";
/// Comma-separated roots or OUs (`r-…`, `ou-…`) whose accounts are swept; empty: all.
pub const ENV_SWEEP_OUS: &str = "SWEEP_OUS";
/// Comma-separated regions to sweep; empty: every region enabled for the account.
pub const ENV_SWEEP_REGIONS: &str = "SWEEP_REGIONS";
/// The organisation id (template parameter OrganizationId); empty: single-account mode.
pub const ENV_ORGANIZATION_ID: &str = "ORGANIZATION_ID";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannerConfig {
    pub queue_url: String,
    /// `Some` in organisation mode.
    pub organization_id: Option<String>,
    pub ous: Vec<String>,
    pub regions: Vec<AwsRegion>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

fn list(raw: Option<&String>) -> Vec<String> {
    raw.map(|r| r.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()).unwrap_or_default()
}

impl PlannerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    pub fn from_vars(vars: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let queue_url = vars.get(ENV_SWEEP_QUEUE_URL).map(|s| s.trim().to_owned()).unwrap_or_default();
        if queue_url.is_empty() {
            return Err(ConfigError {
                variable: ENV_SWEEP_QUEUE_URL,
                reason: "must be set to the sweep queue's URL".into(),
            });
        }
        let organization_id = vars.get(ENV_ORGANIZATION_ID).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        if let Some(id) = &organization_id {
            if !id.starts_with("o-") {
                return Err(ConfigError {
                    variable: ENV_ORGANIZATION_ID,
                    reason: format!("{id:?} is not an organisation id (o-…)"),
                });
            }
        }
        let ous = list(vars.get(ENV_SWEEP_OUS));
        if let Some(bad) = ous.iter().find(|ou| !(ou.starts_with("ou-") || ou.starts_with("r-"))) {
            return Err(ConfigError {
                variable: ENV_SWEEP_OUS,
                reason: format!("{bad:?} is not a root (r-…) or OU id (ou-…)"),
            });
        }
        if !ous.is_empty() && organization_id.is_none() {
            return Err(ConfigError {
                variable: ENV_SWEEP_OUS,
                reason: format!("set without {ENV_ORGANIZATION_ID}: OUs exist only in organisation mode"),
            });
        }
        let regions = list(vars.get(ENV_SWEEP_REGIONS))
            .iter()
            .map(|r| {
                AwsRegion::parse(r).map_err(|e| ConfigError { variable: ENV_SWEEP_REGIONS, reason: e.to_string() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { queue_url, organization_id, ous, regions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// (organisation mode, OUs, regions) read, or the variable refused.
    type Expected = Result<(bool, usize, usize), &'static str>;

    #[test]
    fn configuration_is_read_or_refused_naming_the_variable() {
        let q = (ENV_SWEEP_QUEUE_URL, "https://sqs.eu-west-1.amazonaws.com/123456789012/sweep");
        let cases: Vec<(Vec<(&str, &str)>, Expected)> = vec![
            (vec![q], Ok((false, 0, 0))),
            (vec![q, (ENV_SWEEP_REGIONS, "eu-west-1, us-east-1")], Ok((false, 0, 2))),
            (
                vec![q, (ENV_ORGANIZATION_ID, "o-abcdefghij"), (ENV_SWEEP_OUS, "ou-ab12-cdefgh12,r-ab12")],
                Ok((true, 2, 0)),
            ),
            (vec![q, (ENV_ORGANIZATION_ID, "")], Ok((false, 0, 0))),
            (vec![], Err(ENV_SWEEP_QUEUE_URL)),
            (vec![q, (ENV_ORGANIZATION_ID, "abc")], Err(ENV_ORGANIZATION_ID)),
            (vec![q, (ENV_ORGANIZATION_ID, "o-abcdefghij"), (ENV_SWEEP_OUS, "sales")], Err(ENV_SWEEP_OUS)),
            (vec![q, (ENV_SWEEP_OUS, "ou-ab12-cdefgh12")], Err(ENV_SWEEP_OUS)),
            (vec![q, (ENV_SWEEP_REGIONS, "mars-1")], Err(ENV_SWEEP_REGIONS)),
        ];
        for (input, expected) in cases {
            match (PlannerConfig::from_vars(vars(&input)), expected) {
                (Ok(config), Ok((org, ous, regions))) => {
                    assert_eq!(
                        (config.organization_id.is_some(), config.ous.len(), config.regions.len()),
                        (org, ous, regions),
                        "{input:?}"
                    );
                }
                (Err(e), Err(variable)) => assert_eq!(e.variable, variable, "{input:?}: {e}"),
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
