//! What guardrails to apply where: read from the environment (the Lambda's, set by template.yaml
//! parameters) or from `rdsguard` command-line flags, which override the same variables.

use std::collections::{BTreeSet, HashMap};

use super::catalogue::Guardrail;
use crate::identity::{AccountId, AwsRegion};
use crate::policy::{PolicyError, DEFAULT_MEMBER_ROLE_NAME, ENV_ALLOWED_REGIONS, ENV_MEMBER_ROLE_NAME};

pub const ENV_GUARDRAILS: &str = "GUARDRAILS";
pub const ENV_GUARDRAIL_TARGETS: &str = "GUARDRAIL_TARGETS";
pub const ENV_BREAK_GLASS_PRINCIPALS: &str = "BREAK_GLASS_PRINCIPALS";
pub const ENV_SECURITY_ADMIN_PRINCIPALS: &str = "SECURITY_ADMIN_PRINCIPALS";
pub const ENV_SUITE_NAME_PREFIX: &str = "SUITE_NAME_PREFIX";
pub const ENV_POLICY_NAME_PREFIX: &str = "POLICY_NAME_PREFIX";

pub const DEFAULT_SUITE_NAME_PREFIX: &str = "rdsguard";
pub const DEFAULT_POLICY_NAME_PREFIX: &str = "rdsguard-guardrails";

/// Where SCPs can be attached: the organisation root, an OU, or an account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetId(String);

impl TargetId {
    /// `r-` + 4-32 lowercase letters/digits, `ou-` + root part + `-` + 8-32, or a 12-digit account.
    pub fn parse(raw: &str) -> Option<Self> {
        let id = raw.trim();
        let lower_alnum = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let valid = if let Some(rest) = id.strip_prefix("r-") {
            (4..=32).contains(&rest.len()) && lower_alnum(rest)
        } else if let Some(rest) = id.strip_prefix("ou-") {
            rest.split_once('-').is_some_and(|(root, ou)| {
                (4..=32).contains(&root.len()) && lower_alnum(root) && (8..=32).contains(&ou.len()) && lower_alnum(ou)
            })
        } else {
            AccountId::parse(id).is_ok()
        };
        valid.then(|| Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TargetId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardrailSettings {
    pub guardrails: BTreeSet<Guardrail>,
    pub targets: Vec<TargetId>,
    pub allowed_regions: Vec<AwsRegion>,
    /// `aws:PrincipalARN` patterns exempt from the region locks and database protection.
    pub break_glass_principals: Vec<String>,
    /// `aws:PrincipalARN` patterns exempt from the pipeline protection (the security team, the
    /// role CloudFormation deploys rdsguard with).
    pub security_admin_principals: Vec<String>,
    /// Name prefix of rdsguard's own functions, rules, topic and roles (the stack name).
    pub suite_name_prefix: String,
    /// Managed policies are named `<prefix>-<n>` and tagged [`MANAGED_TAG_KEY`]`=<prefix>`.
    pub policy_name_prefix: String,
    /// `MEMBER_ROLE_NAME`: the role rdsguard's functions act through in member accounts (for
    /// example pipeline-guard re-enabling a GuardDuty detector). Always exempt from
    /// protect-pipeline, or the guardrail would block rdsguard's own remediation.
    pub member_role_name: String,
}

/// The tag that marks a policy as managed by rdsguard (with the name prefix).
pub const MANAGED_TAG_KEY: &str = "rdsguard:managed-by";

fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> PolicyError {
    PolicyError::Invalid { var, value: value.to_owned(), reason: reason.into() }
}

fn list(raw: Option<&String>) -> Vec<&str> {
    raw.map(|r| r.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
}

fn principal_patterns(var: &'static str, raw: Option<&String>) -> Result<Vec<String>, PolicyError> {
    let mut patterns = Vec::new();
    for item in list(raw) {
        if !item.starts_with("arn:") || item.split(':').count() < 6 {
            return Err(invalid(var, item, "expected a principal ARN pattern such as arn:aws:iam::*:role/BreakGlass*"));
        }
        if !patterns.iter().any(|p| p == item) {
            patterns.push(item.to_owned());
        }
    }
    Ok(patterns)
}

fn name_prefix(var: &'static str, raw: Option<&String>, default: &str, max: usize) -> Result<String, PolicyError> {
    let value = raw.map_or(default, |v| v.trim());
    let valid = !value.is_empty()
        && value.len() <= max
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(invalid(var, value, format!("expected 1-{max} letters, digits, '-', '_' or '.'")))
    }
}

/// `MEMBER_ROLE_NAME` as IAM allows role names (1-64 of letters, digits and `+=,.@_-`).
fn role_name(raw: Option<&String>) -> Result<String, PolicyError> {
    let value = raw.map_or(DEFAULT_MEMBER_ROLE_NAME, |v| v.trim());
    let valid =
        (1..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            ENV_MEMBER_ROLE_NAME,
            value,
            "expected a role name (1-64 letters, digits or +=,.@_-), not a path or ARN",
        ))
    }
}

impl GuardrailSettings {
    pub fn from_env() -> Result<Self, PolicyError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads `(name, value)` pairs; empty values count as unset. No guardrails enabled is valid: it
    /// is the state that removes every managed policy.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, PolicyError> {
        let vars: HashMap<String, String> = vars.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect();
        let mut guardrails = BTreeSet::new();
        for item in list(vars.get(ENV_GUARDRAILS)) {
            let known = Guardrail::ALL.map(Guardrail::as_str).join(", ");
            guardrails.insert(
                Guardrail::parse(item)
                    .ok_or_else(|| invalid(ENV_GUARDRAILS, item, format!("unknown guardrail (known: {known})")))?,
            );
        }
        let mut targets: Vec<TargetId> = Vec::new();
        for item in list(vars.get(ENV_GUARDRAIL_TARGETS)) {
            let target = TargetId::parse(item).ok_or_else(|| {
                invalid(
                    ENV_GUARDRAIL_TARGETS,
                    item,
                    "expected a root id (r-...), an OU id (ou-...) or a 12-digit account id",
                )
            })?;
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        let mut allowed_regions: Vec<AwsRegion> = Vec::new();
        for item in list(vars.get(ENV_ALLOWED_REGIONS)) {
            let region = AwsRegion::parse(item).map_err(|e| invalid(ENV_ALLOWED_REGIONS, item, e.to_string()))?;
            if !allowed_regions.contains(&region) {
                allowed_regions.push(region);
            }
        }
        let settings = Self {
            guardrails,
            targets,
            allowed_regions,
            break_glass_principals: principal_patterns(
                ENV_BREAK_GLASS_PRINCIPALS,
                vars.get(ENV_BREAK_GLASS_PRINCIPALS),
            )?,
            security_admin_principals: principal_patterns(
                ENV_SECURITY_ADMIN_PRINCIPALS,
                vars.get(ENV_SECURITY_ADMIN_PRINCIPALS),
            )?,
            suite_name_prefix: name_prefix(
                ENV_SUITE_NAME_PREFIX,
                vars.get(ENV_SUITE_NAME_PREFIX),
                DEFAULT_SUITE_NAME_PREFIX,
                64,
            )?,
            // Policy names are at most 128 characters; `-<n>` is appended.
            policy_name_prefix: name_prefix(
                ENV_POLICY_NAME_PREFIX,
                vars.get(ENV_POLICY_NAME_PREFIX),
                DEFAULT_POLICY_NAME_PREFIX,
                120,
            )?,
            member_role_name: role_name(vars.get(ENV_MEMBER_ROLE_NAME))?,
        };
        settings.check()?;
        Ok(settings)
    }

    /// What only makes sense together.
    fn check(&self) -> Result<(), PolicyError> {
        let region_lock =
            self.guardrails.iter().any(|g| matches!(g, Guardrail::RdsRegionLock | Guardrail::RegionLockAll));
        if region_lock && self.allowed_regions.is_empty() {
            return Err(PolicyError::Missing(ENV_ALLOWED_REGIONS));
        }
        if !self.guardrails.is_empty() && self.targets.is_empty() {
            return Err(PolicyError::Missing(ENV_GUARDRAIL_TARGETS));
        }
        // Without an exception, protect-pipeline denies everyone the calls that deploy and update
        // rdsguard itself (the CloudFormation role of this stack, anyone maintaining it): the
        // suite would be locked out of its own deployment.
        if self.guardrails.contains(&Guardrail::ProtectPipeline) && self.security_admin_principals.is_empty() {
            return Err(invalid(
                ENV_GUARDRAILS,
                Guardrail::ProtectPipeline.as_str(),
                format!(
                    "protect-pipeline needs {ENV_SECURITY_ADMIN_PRINCIPALS} (SAM parameter SecurityAdminPrincipals): \
                     without it the SCP denies everyone, including the roles that deploy and update rdsguard, \
                     the changes to rdsguard's own roles, rules and functions; name the security team's and \
                     the deployment roles, or leave protect-pipeline out"
                ),
            ));
        }
        Ok(())
    }

    /// Settings that remove every policy managed under `policy_name_prefix` and need nothing else
    /// (the custom resource's Delete, whatever the configuration now says).
    pub fn removal_under(policy_name_prefix: &str) -> Result<Self, PolicyError> {
        Self::from_vars([(ENV_POLICY_NAME_PREFIX.to_owned(), policy_name_prefix.to_owned())])
    }

    /// The same settings with no guardrail: applying it detaches and deletes every managed policy.
    pub fn removal(&self) -> Self {
        Self { guardrails: BTreeSet::new(), ..self.clone() }
    }

    /// One line for logs.
    pub fn describe(&self) -> String {
        let join = |items: Vec<&str>| if items.is_empty() { "none".to_owned() } else { items.join(",") };
        format!(
            "guardrails={} targets={} allowed_regions={} break_glass={} security_admins={} suite_prefix={} policy_prefix={} member_role={}",
            join(self.guardrails.iter().map(|g| g.as_str()).collect()),
            join(self.targets.iter().map(TargetId::as_str).collect()),
            join(self.allowed_regions.iter().map(AwsRegion::as_str).collect()),
            join(self.break_glass_principals.iter().map(String::as_str).collect()),
            join(self.security_admin_principals.iter().map(String::as_str).collect()),
            self.suite_name_prefix,
            self.policy_name_prefix,
            self.member_role_name,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn targets_are_roots_ous_or_accounts() {
        for good in ["r-ab12", "ou-ab12-abcdefgh", "123456789012"] {
            assert!(TargetId::parse(good).is_some(), "{good}");
        }
        for bad in ["r-AB12", "ou-ab12", "ou-ab12-abc", "12345", "p-FullAWSAccess", ""] {
            assert!(TargetId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn settings_are_read_and_checked_together() {
        let settings = GuardrailSettings::from_vars(vars(&[
            (ENV_GUARDRAILS, "deny-unencrypted-rds, rds-region-lock"),
            (ENV_GUARDRAIL_TARGETS, "r-ab12,123456789012,r-ab12"),
            (ENV_ALLOWED_REGIONS, "eu-west-1"),
            (ENV_BREAK_GLASS_PRINCIPALS, "arn:aws:iam::*:role/BreakGlass"),
        ]))
        .unwrap();
        assert_eq!(settings.guardrails.len(), 2);
        assert_eq!(settings.targets.len(), 2);
        assert_eq!(settings.policy_name_prefix, "rdsguard-guardrails");

        let cases: [(&[(&str, &str)], &str); 6] = [
            (&[(ENV_GUARDRAILS, "deny-everything")], "GUARDRAILS=\"deny-everything\" is invalid: unknown guardrail"),
            (&[(ENV_GUARDRAILS, "rds-region-lock"), (ENV_GUARDRAIL_TARGETS, "r-ab12")], "ALLOWED_REGIONS is required"),
            (&[(ENV_GUARDRAILS, "protect-databases")], "GUARDRAIL_TARGETS is required"),
            (&[(ENV_GUARDRAIL_TARGETS, "o-abc")], "GUARDRAIL_TARGETS=\"o-abc\" is invalid"),
            (&[(ENV_BREAK_GLASS_PRINCIPALS, "BreakGlass")], "BREAK_GLASS_PRINCIPALS=\"BreakGlass\" is invalid"),
            (&[(ENV_MEMBER_ROLE_NAME, "role/x")], "MEMBER_ROLE_NAME=\"role/x\" is invalid"),
        ];
        for (pairs, expected) in cases {
            let error = GuardrailSettings::from_vars(vars(pairs)).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{error}");
        }
        let nothing = GuardrailSettings::from_vars(vars(&[])).unwrap();
        assert_eq!(nothing.member_role_name, "rdsguard-remediation");
        assert!(nothing.guardrails.is_empty(), "no guardrails is the removal state");
    }

    #[test]
    fn protect_pipeline_without_security_admins_is_refused_naming_the_setting() {
        let base = [(ENV_GUARDRAILS, "deny-unencrypted-rds,protect-pipeline"), (ENV_GUARDRAIL_TARGETS, "r-ab12")];
        let error = GuardrailSettings::from_vars(vars(&base)).unwrap_err().to_string();
        assert!(error.contains("SECURITY_ADMIN_PRINCIPALS") && error.contains("SecurityAdminPrincipals"), "{error}");
        let with_admins = [base.as_slice(), &[(ENV_SECURITY_ADMIN_PRINCIPALS, "arn:aws:iam::*:role/SecurityAdmin")]];
        assert!(GuardrailSettings::from_vars(vars(&with_admins.concat())).is_ok());
    }
}
