//! Configuration: what to check, what to do about it, where to alert. Read once at init from the
//! environment (set by the SAM parameters); any mistake stops init with a message naming the
//! variable, so a bad deployment fails loudly instead of silently doing nothing.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::identity::{AccountId, AwsRegion};
use crate::rules::RuleId;

pub const ENV_ALERT_TOPIC_ARN: &str = "ALERT_TOPIC_ARN";
pub const ENV_ALLOWED_REGIONS: &str = "ALLOWED_REGIONS";
pub const ENV_MODE: &str = "MODE";
pub const ENV_RULE_ACTIONS: &str = "RULE_ACTIONS";
pub const ENV_EXEMPT_TAG_KEY: &str = "EXEMPT_TAG_KEY";
pub const ENV_MEMBER_ROLE_NAME: &str = "MEMBER_ROLE_NAME";
pub const ENV_UNDELIVERED_ALERTS_QUEUE_URL: &str = "UNDELIVERED_ALERTS_QUEUE_URL";
pub const ENV_ALLOWED_CIDRS: &str = "ALLOWED_CIDRS";
pub const ENV_MIN_BACKUP_RETENTION_DAYS: &str = "MIN_BACKUP_RETENTION_DAYS";
pub const ENV_TRUSTED_ACCOUNTS: &str = "TRUSTED_ACCOUNTS";
pub const ENV_PRODUCTION_TAG: &str = "PRODUCTION_TAG";
pub const ENV_REMEDIATION_PROFILE: &str = "REMEDIATION_PROFILE";
/// The KMS key (id, ARN or alias) `RDS.3=migrate` / `RDS.27=migrate` encrypt with.
pub const ENV_MIGRATION_KMS_KEY: &str = "MIGRATION_KMS_KEY";
/// `approval` (default: cutover waits for `rdsguard encrypt cutover` or the source's tag
/// `rdsguard:cutover=approved`) or `auto`.
pub const ENV_MIGRATION_CUTOVER: &str = "MIGRATION_CUTOVER";

pub const DEFAULT_EXEMPT_TAG_KEY: &str = "rdsguard:exempt";
pub const DEFAULT_MEMBER_ROLE_NAME: &str = "rdsguard-remediation";
/// RDS.11 / RDS.50: a week of point-in-time recovery, Security Hub's default.
pub const DEFAULT_MIN_BACKUP_RETENTION_DAYS: i32 = 7;
pub const DEFAULT_PRODUCTION_TAG: &str = "environment=production";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{var}={value:?} is invalid: {reason}")]
    Invalid { var: &'static str, value: String, reason: String },
}

fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> PolicyError {
    PolicyError::Invalid { var, value: value.to_owned(), reason: reason.into() }
}

/// `MODE`: `remediate` (default) lets rules act; `alert` never changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Remediate,
    AlertOnly,
}

/// `REMEDIATION_PROFILE`: which rules change things when `RULE_ACTIONS` says nothing about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemediationProfile {
    /// The default: only fixes that cannot break a working client or deployment
    /// ([`RemediationProfile::SAFE_FIXES`]); every other rule alerts until `RULE_ACTIONS` opts it
    /// in.
    Safe,
    /// Every rule with a fix uses it by default (each rule's first allowed action).
    Strict,
}

impl RemediationProfile {
    /// Fixed by default in the `safe` profile, each because it cannot break a working client:
    /// RDS.2 (clients inside the VPC keep their private address), RDS.1 (a public snapshot is never
    /// how a deployment works), EC2.19 (revoked only where a database listens behind the group),
    /// RDSGUARD.PIPELINE (switches logging and detection back on), GUARDDUTY.RDS (runs only the
    /// responses GUARDDUTY_RESPONSES opts in to, none by default) and RDSGUARD.GUARDRAIL (puts back
    /// the Service Control Policies the deployment itself configured; it changes no database).
    pub const SAFE_FIXES: &'static [RuleId] = &[
        RuleId::Rds2PublicAccess,
        RuleId::Rds1SnapshotPublic,
        RuleId::Ec2_19OpenToInternet,
        RuleId::PipelineTampered,
        RuleId::GuardDutyRdsThreat,
        RuleId::GuardrailTampered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Safe => "safe",
            Self::Strict => "strict",
        }
    }

    /// What `rule` does when `RULE_ACTIONS` does not name it.
    pub fn default_action(self, rule: RuleId) -> RuleAction {
        let allowed = RuleAction::allowed_for(rule);
        let strict = allowed[0];
        match self {
            Self::Strict => strict,
            Self::Safe if Self::SAFE_FIXES.contains(&rule) => strict,
            Self::Safe if allowed.contains(&RuleAction::Alert) => RuleAction::Alert,
            Self::Safe => strict,
        }
    }
}

/// What to do when a rule finds a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleAction {
    /// Do not evaluate the rule.
    Off,
    /// Alert, change nothing.
    Alert,
    /// Fix the setting in place (RDS.2: make private), then alert.
    Remediate,
    /// Stop the database, then alert (for what cannot be fixed in place).
    Stop,
    /// RDS.3 / RDS.27: encrypt by snapshot, encrypted copy and restore (the `rdsguard encrypt`
    /// migration), cutover on approval. Opt-in only; needs `MIGRATION_KMS_KEY`.
    Migrate,
}

impl RuleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Alert => "alert",
            Self::Remediate => "remediate",
            Self::Stop => "stop",
            Self::Migrate => "migrate",
        }
    }

    /// The actions a rule accepts, the first being its default in the `strict` profile (see
    /// [`RemediationProfile::default_action`]).
    pub fn allowed_for(rule: RuleId) -> &'static [RuleAction] {
        match rule {
            RuleId::Rds2PublicAccess | RuleId::Ec2_19OpenToInternet => &[Self::Remediate, Self::Alert, Self::Off],
            // GUARDDUTY.RDS=remediate runs the responses GUARDDUTY_RESPONSES opts in to (none by
            // default); alert never responds. RDSGUARD.PIPELINE=remediate switches logging and
            // detection back on.
            RuleId::GuardDutyRdsThreat | RuleId::PipelineTampered => &[Self::Remediate, Self::Alert, Self::Off],
            // RDSGUARD.GUARDRAIL=remediate re-applies the managed SCPs (guardrail-manager).
            RuleId::GuardrailTampered => &[Self::Remediate, Self::Alert, Self::Off],
            RuleId::SgSourceNotAllowed => &[Self::Alert, Self::Remediate, Self::Off],
            RuleId::Rds3InstanceEncryption | RuleId::Rds27ClusterEncryption => {
                &[Self::Alert, Self::Stop, Self::Migrate, Self::Off]
            }
            RuleId::RegionNotAllowed => &[Self::Alert, Self::Stop, Self::Off],
            // In-place fixes: on in the strict profile; RDS.1 in the safe one too.
            RuleId::Rds1SnapshotPublic
            | RuleId::Rds8InstanceDeletionProtection
            | RuleId::Rds7ClusterDeletionProtection
            | RuleId::Rds11InstanceBackups
            | RuleId::Rds50ClusterBackups
            | RuleId::Rds38PostgresTls
            | RuleId::Rds39MysqlTls
            | RuleId::Rds44MariadbTls
            | RuleId::ClusterTls
            | RuleId::Rds13MinorVersionUpgrade
            | RuleId::Rds35ClusterMinorVersionUpgrade => &[Self::Remediate, Self::Alert, Self::Off],
            // Unsharing may cut off a partner on purpose: alert unless told to remediate.
            RuleId::SnapshotSharedOutside => &[Self::Alert, Self::Remediate, Self::Off],
            // Nothing rdsguard could safely change.
            RuleId::Rds4SnapshotUnencrypted
            | RuleId::DeletedWithoutSnapshot
            | RuleId::Rds10InstanceIamAuth
            | RuleId::Rds12ClusterIamAuth
            | RuleId::MasterPasswordUnmanaged
            | RuleId::Rds25InstanceDefaultAdmin
            | RuleId::Rds24ClusterDefaultAdmin
            | RuleId::Rds9LogExports
            | RuleId::Rds5InstanceMultiAz
            | RuleId::Rds15ClusterMultiAz
            | RuleId::ReplicaOfUnencrypted => &[Self::Alert, Self::Off],
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "off" => Some(Self::Off),
            "alert" => Some(Self::Alert),
            "remediate" => Some(Self::Remediate),
            "stop" => Some(Self::Stop),
            "migrate" => Some(Self::Migrate),
            _ => None,
        }
    }
}

impl fmt::Display for RuleAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `ALLOWED_REGIONS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedRegions {
    /// Not configured: the region rule is off.
    Unrestricted,
    Only(Vec<AwsRegion>),
}

/// `PRODUCTION_TAG`: the tag that marks a database as production (RDS.5 / RDS.15), as `key=value`
/// or just `key` (any value). Keys and values are compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductionTag {
    pub key: String,
    pub value: Option<String>,
}

impl ProductionTag {
    pub fn parse(raw: &str) -> Result<Self, PolicyError> {
        let (key, value) = match raw.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim().to_owned())),
            None => (raw.trim(), None),
        };
        if key.is_empty() {
            return Err(invalid(ENV_PRODUCTION_TAG, raw, "expected key=value or key, e.g. environment=production"));
        }
        Ok(Self { key: key.to_owned(), value })
    }

    pub fn matches(&self, tags: &[(String, String)]) -> bool {
        tags.iter().any(|(key, value)| {
            key.eq_ignore_ascii_case(&self.key)
                && self.value.as_deref().is_none_or(|want| want.eq_ignore_ascii_case(value))
        })
    }
}

impl fmt::Display for ProductionTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{}={value}", self.key),
            None => f.write_str(&self.key),
        }
    }
}

/// An SNS topic ARN, split into the parts publishing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn {
    pub arn: String,
    pub region: AwsRegion,
    pub account: AccountId,
}

impl TopicArn {
    pub fn parse(raw: &str) -> Result<Self, PolicyError> {
        let value = raw.trim();
        let bad = |reason: &str| invalid(ENV_ALERT_TOPIC_ARN, raw, reason);
        let parts: Vec<&str> = value.split(':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
            return Err(bad("expected arn:<partition>:sns:<region>:<account>:<topic>"));
        }
        let region = AwsRegion::parse(parts[3]).map_err(|e| bad(&e.to_string()))?;
        let account = AccountId::parse(parts[4]).map_err(|e| bad(&e.to_string()))?;
        Ok(Self { arn: value.to_owned(), region, account })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub alert_topic: TopicArn,
    pub allowed_regions: AllowedRegions,
    pub mode: Mode,
    /// Configured action per rule (before `MODE` is applied).
    pub rule_actions: BTreeMap<RuleId, RuleAction>,
    pub exempt_tag_key: String,
    pub member_role_name: String,
    /// SQS queue that keeps alerts SNS would not take (the dead-letter queue); unset: none.
    pub undelivered_alerts_queue_url: Option<String>,
    /// `ALLOWED_CIDRS`: the known networks that may reach database ports. A security group rule
    /// whose source lies inside one of them is never a violation; when the list is set, a source
    /// outside all of them is RDSGUARD.SG_SOURCE. Empty: unset.
    pub allowed_cidrs: Vec<IpNet>,
    /// `MIN_BACKUP_RETENTION_DAYS` (1-35, default 7): RDS.11 / RDS.50's minimum, and what
    /// remediation sets.
    pub min_backup_retention_days: i32,
    /// `TRUSTED_ACCOUNTS`: accounts snapshots may be shared with (RDSGUARD.SNAPSHOT_SHARED).
    pub trusted_accounts: Vec<AccountId>,
    /// `PRODUCTION_TAG` (default `environment=production`).
    pub production_tag: ProductionTag,
    /// `REMEDIATION_PROFILE` (default `safe`): the defaults `rule_actions` started from.
    pub profile: RemediationProfile,
    /// `MIGRATION_KMS_KEY` and `MIGRATION_CUTOVER`: how `migrate` encrypts; `None` unless set.
    pub migration: Option<MigrationSettings>,
}

/// When a migration started by `migrate` cuts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationCutover {
    /// Only once approved: `rdsguard encrypt cutover`, or the tag `rdsguard:cutover=approved` on
    /// the source database.
    Approval,
    /// As soon as the encrypted database is verified.
    Auto,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSettings {
    pub kms_key: String,
    pub cutover: MigrationCutover,
}

impl Policy {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, PolicyError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads configuration from `(name, value)` pairs. Empty values count as unset.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, PolicyError> {
        let vars: HashMap<String, String> = vars.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect();
        let get = |name: &str| vars.get(name).map(String::as_str);

        let alert_topic = TopicArn::parse(get(ENV_ALERT_TOPIC_ARN).ok_or(PolicyError::Missing(ENV_ALERT_TOPIC_ARN))?)?;

        let allowed_regions = match get(ENV_ALLOWED_REGIONS) {
            None => AllowedRegions::Unrestricted,
            Some(raw) => {
                let mut regions = Vec::new();
                for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let region =
                        AwsRegion::parse(item).map_err(|e| invalid(ENV_ALLOWED_REGIONS, raw, e.to_string()))?;
                    if !regions.contains(&region) {
                        regions.push(region);
                    }
                }
                if regions.is_empty() {
                    AllowedRegions::Unrestricted
                } else {
                    AllowedRegions::Only(regions)
                }
            }
        };

        let mode = match get(ENV_MODE).map(|m| m.trim().to_ascii_lowercase()) {
            None => Mode::Remediate,
            Some(m) if m == "remediate" => Mode::Remediate,
            Some(m) if m == "alert" => Mode::AlertOnly,
            Some(_) => return Err(invalid(ENV_MODE, get(ENV_MODE).unwrap_or_default(), "expected remediate or alert")),
        };

        let profile = match get(ENV_REMEDIATION_PROFILE).map(|p| p.trim().to_ascii_lowercase()) {
            None => RemediationProfile::Safe,
            Some(p) if p == "safe" => RemediationProfile::Safe,
            Some(p) if p == "strict" => RemediationProfile::Strict,
            Some(_) => {
                return Err(invalid(
                    ENV_REMEDIATION_PROFILE,
                    get(ENV_REMEDIATION_PROFILE).unwrap_or_default(),
                    "expected safe or strict",
                ))
            }
        };
        let mut rule_actions: BTreeMap<RuleId, RuleAction> =
            RuleId::ALL.iter().map(|rule| (*rule, profile.default_action(*rule))).collect();
        if let Some(raw) = get(ENV_RULE_ACTIONS) {
            for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (rule, action) = item
                    .split_once('=')
                    .ok_or_else(|| invalid(ENV_RULE_ACTIONS, raw, format!("{item:?} is not RULE=ACTION")))?;
                let rule: RuleId = rule
                    .parse()
                    .map_err(|e: crate::rules::UnknownRule| invalid(ENV_RULE_ACTIONS, raw, e.to_string()))?;
                let allowed = RuleAction::allowed_for(rule);
                let action = RuleAction::parse(action).filter(|a| allowed.contains(a)).ok_or_else(|| {
                    let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
                    invalid(ENV_RULE_ACTIONS, raw, format!("{rule} accepts {}", names.join(" | ")))
                })?;
                rule_actions.insert(rule, action);
            }
        }

        let exempt_tag_key = get(ENV_EXEMPT_TAG_KEY).unwrap_or(DEFAULT_EXEMPT_TAG_KEY).trim().to_owned();
        let member_role_name = get(ENV_MEMBER_ROLE_NAME).unwrap_or(DEFAULT_MEMBER_ROLE_NAME).trim().to_owned();
        if member_role_name.contains(['/', ':', ' ']) {
            return Err(invalid(ENV_MEMBER_ROLE_NAME, &member_role_name, "a role name, not a path or ARN"));
        }

        let undelivered_alerts_queue_url = match get(ENV_UNDELIVERED_ALERTS_QUEUE_URL).map(str::trim) {
            None => None,
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => Some(url.to_owned()),
            Some(other) => return Err(invalid(ENV_UNDELIVERED_ALERTS_QUEUE_URL, other, "expected an SQS queue URL")),
        };

        let allowed_cidrs = match get(ENV_ALLOWED_CIDRS) {
            None => Vec::new(),
            Some(raw) => parse_cidrs(raw)?,
        };

        let min_backup_retention_days = match get(ENV_MIN_BACKUP_RETENTION_DAYS) {
            None => DEFAULT_MIN_BACKUP_RETENTION_DAYS,
            Some(raw) => {
                raw.trim().parse::<i32>().ok().filter(|days| (1..=35).contains(days)).ok_or_else(|| {
                    invalid(ENV_MIN_BACKUP_RETENTION_DAYS, raw, "expected a number of days from 1 to 35")
                })?
            }
        };

        let mut trusted_accounts: Vec<AccountId> = Vec::new();
        if let Some(raw) = get(ENV_TRUSTED_ACCOUNTS) {
            for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let account = AccountId::parse(item).map_err(|e| invalid(ENV_TRUSTED_ACCOUNTS, raw, e.to_string()))?;
                if !trusted_accounts.contains(&account) {
                    trusted_accounts.push(account);
                }
            }
        }

        let production_tag = ProductionTag::parse(get(ENV_PRODUCTION_TAG).unwrap_or(DEFAULT_PRODUCTION_TAG))?;

        let cutover = match get(ENV_MIGRATION_CUTOVER).map(|c| c.trim().to_ascii_lowercase()) {
            None => MigrationCutover::Approval,
            Some(c) if c == "approval" => MigrationCutover::Approval,
            Some(c) if c == "auto" => MigrationCutover::Auto,
            Some(_) => {
                return Err(invalid(
                    ENV_MIGRATION_CUTOVER,
                    get(ENV_MIGRATION_CUTOVER).unwrap_or_default(),
                    "expected approval or auto",
                ))
            }
        };
        let migration =
            get(ENV_MIGRATION_KMS_KEY).map(|key| MigrationSettings { kms_key: key.trim().to_owned(), cutover });
        if migration.is_none() {
            if let Some((rule, _)) = rule_actions.iter().find(|(_, action)| **action == RuleAction::Migrate) {
                return Err(invalid(
                    ENV_RULE_ACTIONS,
                    &format!("{rule}=migrate"),
                    format!("migrate needs {ENV_MIGRATION_KMS_KEY} (the KMS key to encrypt with)"),
                ));
            }
        }

        Ok(Self {
            alert_topic,
            allowed_regions,
            mode,
            rule_actions,
            exempt_tag_key,
            member_role_name,
            undelivered_alerts_queue_url,
            allowed_cidrs,
            min_backup_retention_days,
            trusted_accounts,
            production_tag,
            profile,
            migration,
        })
    }

    /// Whether `source` lies inside one of `ALLOWED_CIDRS`.
    pub fn cidr_allowed(&self, source: &IpNet) -> bool {
        self.allowed_cidrs.iter().any(|allowed| allowed.contains(source))
    }

    /// The action to take for a rule once `MODE` is applied: in `alert` mode nothing changes.
    pub fn effective_action(&self, rule: RuleId) -> RuleAction {
        let configured = self.rule_actions.get(&rule).copied().unwrap_or(RuleAction::Alert);
        match (self.mode, configured) {
            (Mode::AlertOnly, RuleAction::Remediate | RuleAction::Stop | RuleAction::Migrate) => RuleAction::Alert,
            (_, action) => action,
        }
    }

    /// Whether the resource's tags exempt it from a rule: the exempt tag's value is `all` or lists
    /// the rule id (separated by spaces, `+`, `/`, `,` or `;`, as tag values allow).
    pub fn exemption(&self, tags: &[(String, String)], rule: RuleId) -> Option<String> {
        let (key, value) = tags.iter().find(|(k, _)| k == &self.exempt_tag_key)?;
        let covers = value
            .split(|c: char| c.is_whitespace() || matches!(c, '+' | '/' | ',' | ';'))
            .filter(|s| !s.is_empty())
            .any(|item| item.eq_ignore_ascii_case("all") || item.eq_ignore_ascii_case(rule.as_str()));
        covers.then(|| format!("{key}={value}"))
    }

    /// One line per setting, for the init log.
    pub fn describe(&self) -> String {
        let regions = match &self.allowed_regions {
            AllowedRegions::Unrestricted => "unset (RDSGUARD.REGION is off)".to_owned(),
            AllowedRegions::Only(list) => list.iter().map(AwsRegion::as_str).collect::<Vec<_>>().join(","),
        };
        let actions: Vec<String> =
            self.rule_actions.keys().map(|rule| format!("{rule}={}", self.effective_action(*rule))).collect();
        let cidrs = if self.allowed_cidrs.is_empty() {
            "unset (RDSGUARD.SG_SOURCE is off)".to_owned()
        } else {
            self.allowed_cidrs.iter().map(IpNet::to_string).collect::<Vec<_>>().join(",")
        };
        let trusted = if self.trusted_accounts.is_empty() {
            "unset (any other account is untrusted)".to_owned()
        } else {
            self.trusted_accounts.iter().map(AccountId::as_str).collect::<Vec<_>>().join(",")
        };
        format!(
            "topic={} allowed_regions={} allowed_cidrs={} mode={:?} profile={} actions=[{}] exempt_tag_key={} member_role={} \
             undelivered_alerts={} min_backup_retention_days={} trusted_accounts={} production_tag={}",
            self.alert_topic.arn,
            regions,
            cidrs,
            self.mode,
            self.profile.as_str(),
            actions.join(","),
            self.exempt_tag_key,
            self.member_role_name,
            self.undelivered_alerts_queue_url
                .as_deref()
                .unwrap_or("unset (an unpublishable alert only fails the invocation)"),
            self.min_backup_retention_days,
            trusted,
            self.production_tag,
        )
    }
}

/// A policy for unit tests: a topic, then `vars`.
#[cfg(test)]
pub(crate) fn test_policy(vars: &[(&str, &str)]) -> Policy {
    let mut all = vec![("ALERT_TOPIC_ARN".to_owned(), "arn:aws:sns:us-east-1:123456789012:t".to_owned())];
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Policy::from_vars(all).unwrap_or_else(|e| panic!("test policy: {e}"))
}

/// `ALLOWED_CIDRS`: comma-separated CIDR blocks (IPv4 or IPv6); a bare address means just that
/// address (/32 or /128). Host bits are cleared (`10.1.2.3/16` is `10.1.0.0/16`).
fn parse_cidrs(raw: &str) -> Result<Vec<IpNet>, PolicyError> {
    let mut cidrs: Vec<IpNet> = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let net = match item.parse::<IpNet>() {
            Ok(net) => net.trunc(),
            Err(_) => match item.parse::<IpAddr>() {
                Ok(address) => IpNet::from(address),
                Err(_) => {
                    return Err(invalid(
                        ENV_ALLOWED_CIDRS,
                        raw,
                        format!("{item:?} is not a CIDR block such as 203.0.113.0/24 or 2001:db8::/32"),
                    ))
                }
            },
        };
        if !cidrs.contains(&net) {
            cidrs.push(net);
        }
    }
    Ok(cidrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:rdsguard-alerts";

    fn policy(extra: &[(&str, &str)]) -> Result<Policy, PolicyError> {
        let mut vars = vec![(ENV_ALERT_TOPIC_ARN.to_owned(), TOPIC.to_owned())];
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Policy::from_vars(vars)
    }

    #[test]
    fn defaults() {
        let p = policy(&[]).unwrap();
        assert_eq!(p.alert_topic.region.as_str(), "us-east-1");
        assert_eq!(p.allowed_regions, AllowedRegions::Unrestricted);
        assert_eq!(p.mode, Mode::Remediate);
        assert_eq!(p.effective_action(RuleId::Rds2PublicAccess), RuleAction::Remediate);
        assert_eq!(p.effective_action(RuleId::Rds3InstanceEncryption), RuleAction::Alert);
        assert_eq!(p.effective_action(RuleId::RegionNotAllowed), RuleAction::Alert);
        assert_eq!(p.exempt_tag_key, "rdsguard:exempt");
        assert_eq!(p.member_role_name, "rdsguard-remediation");
    }

    #[test]
    fn alert_topic_is_required_and_validated() {
        assert_eq!(Policy::from_vars(Vec::new()), Err(PolicyError::Missing("ALERT_TOPIC_ARN")));
        assert_eq!(
            Policy::from_vars(vec![(ENV_ALERT_TOPIC_ARN.into(), "  ".into())]),
            Err(PolicyError::Missing("ALERT_TOPIC_ARN"))
        );
        for bad in [
            "rdsguard-alerts",
            "arn:aws:sqs:us-east-1:123456789012:q",
            "arn:aws:sns:nowhere:123456789012:t",
            "arn:aws:sns:us-east-1:1234:t",
        ] {
            let err = Policy::from_vars(vec![(ENV_ALERT_TOPIC_ARN.into(), bad.into())]).unwrap_err();
            assert!(err.to_string().starts_with("ALERT_TOPIC_ARN="), "{err}");
        }
    }

    #[test]
    fn settings_table() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<(RuleId, RuleAction), &'a str>);
        let cases: &[Case] = &[
            (&[("MODE", "alert")], Ok((RuleId::Rds2PublicAccess, RuleAction::Alert))),
            (
                &[("MODE", "ALERT"), ("RULE_ACTIONS", "RDS.3=stop")],
                Ok((RuleId::Rds3InstanceEncryption, RuleAction::Alert)),
            ),
            (&[("RULE_ACTIONS", "RDS.3=stop")], Ok((RuleId::Rds3InstanceEncryption, RuleAction::Stop))),
            (
                &[("RULE_ACTIONS", " rdsguard.region = stop , RDS.2=off")],
                Ok((RuleId::RegionNotAllowed, RuleAction::Stop)),
            ),
            (&[("RULE_ACTIONS", "RDS.2=off")], Ok((RuleId::Rds2PublicAccess, RuleAction::Off))),
            (&[("RULE_ACTIONS", "RDS.2=stop")], Err("RDS.2 accepts remediate | alert | off")),
            (&[("RULE_ACTIONS", "RDS.3=remediate")], Err("RDS.3 accepts alert | stop | migrate | off")),
            (&[("RULE_ACTIONS", "RDS.3=migrate")], Err("migrate needs MIGRATION_KMS_KEY")),
            (
                &[("RULE_ACTIONS", "RDS.27=migrate"), ("MIGRATION_KMS_KEY", "alias/rds-data")],
                Ok((RuleId::Rds27ClusterEncryption, RuleAction::Migrate)),
            ),
            (
                &[("MODE", "alert"), ("RULE_ACTIONS", "RDS.3=migrate"), ("MIGRATION_KMS_KEY", "alias/rds-data")],
                Ok((RuleId::Rds3InstanceEncryption, RuleAction::Alert)),
            ),
            (&[("RULE_ACTIONS", "RDSGUARD.REGION=migrate")], Err("RDSGUARD.REGION accepts alert | stop | off")),
            (&[("MIGRATION_CUTOVER", "now")], Err("expected approval or auto")),
            (&[("RULE_ACTIONS", "RDS.99=alert")], Err("unknown rule id")),
            (&[("RULE_ACTIONS", "RDS.2")], Err("is not RULE=ACTION")),
            (&[("MODE", "yolo")], Err("expected remediate or alert")),
            (&[("ALLOWED_REGIONS", "us-east-1,Mars")], Err("not an AWS region")),
            (&[("MEMBER_ROLE_NAME", "arn:aws:iam::1:role/x")], Err("a role name")),
            (&[("UNDELIVERED_ALERTS_QUEUE_URL", "my-dlq")], Err("expected an SQS queue URL")),
            (&[("ALLOWED_CIDRS", "10.0.0.0/8, office")], Err("\"office\" is not a CIDR block")),
            (&[("ALLOWED_CIDRS", "10.0.0.0/33")], Err("is not a CIDR block")),
            (&[("RULE_ACTIONS", "EC2.19=stop")], Err("EC2.19 accepts remediate | alert | off")),
            (&[("RULE_ACTIONS", "ec2.19=alert")], Ok((RuleId::Ec2_19OpenToInternet, RuleAction::Alert))),
            (&[], Ok((RuleId::Ec2_19OpenToInternet, RuleAction::Remediate))),
            (&[], Ok((RuleId::SgSourceNotAllowed, RuleAction::Alert))),
            (&[], Ok((RuleId::GuardDutyRdsThreat, RuleAction::Remediate))),
            (&[], Ok((RuleId::PipelineTampered, RuleAction::Remediate))),
            (&[("MODE", "alert")], Ok((RuleId::PipelineTampered, RuleAction::Alert))),
            (&[("RULE_ACTIONS", "RDSGUARD.PIPELINE=alert")], Ok((RuleId::PipelineTampered, RuleAction::Alert))),
            (&[("RULE_ACTIONS", "guardduty.rds=off")], Ok((RuleId::GuardDutyRdsThreat, RuleAction::Off))),
            (&[("RULE_ACTIONS", "RDSGUARD.PIPELINE=stop")], Err("RDSGUARD.PIPELINE accepts remediate | alert | off")),
            (
                &[("RULE_ACTIONS", "RDSGUARD.SG_SOURCE=remediate")],
                Ok((RuleId::SgSourceNotAllowed, RuleAction::Remediate)),
            ),
        ];
        for (vars, expected) in cases {
            match (policy(vars), expected) {
                (Ok(p), Ok((rule, action))) => assert_eq!(p.effective_action(*rule), *action, "{vars:?}"),
                (Err(e), Err(fragment)) => assert!(e.to_string().contains(fragment), "{vars:?}: {e}"),
                (got, want) => panic!("{vars:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    /// The safe profile (the default) fixes only what cannot break a working client; strict fixes
    /// every rule with a fix; RULE_ACTIONS overrides either, and MODE=alert beats both.
    #[test]
    fn remediation_profiles() {
        use RuleAction::*;
        let safe: &[(&str, &str)] = &[];
        let strict: &[(&str, &str)] = &[("REMEDIATION_PROFILE", "Strict")];
        type Case<'a> = (&'a [(&'a str, &'a str)], RuleId, RuleAction);
        let cases: &[Case] = &[
            (safe, RuleId::Rds2PublicAccess, Remediate),
            (safe, RuleId::Rds1SnapshotPublic, Remediate),
            (safe, RuleId::Ec2_19OpenToInternet, Remediate),
            (safe, RuleId::PipelineTampered, Remediate),
            (safe, RuleId::Rds8InstanceDeletionProtection, Alert),
            (safe, RuleId::Rds7ClusterDeletionProtection, Alert),
            (safe, RuleId::Rds11InstanceBackups, Alert),
            (safe, RuleId::Rds50ClusterBackups, Alert),
            (safe, RuleId::Rds13MinorVersionUpgrade, Alert),
            (safe, RuleId::Rds35ClusterMinorVersionUpgrade, Alert),
            (safe, RuleId::Rds38PostgresTls, Alert),
            (safe, RuleId::Rds39MysqlTls, Alert),
            (safe, RuleId::Rds3InstanceEncryption, Alert),
            (strict, RuleId::Rds2PublicAccess, Remediate),
            (strict, RuleId::Rds8InstanceDeletionProtection, Remediate),
            (strict, RuleId::Rds38PostgresTls, Remediate),
            (strict, RuleId::Rds13MinorVersionUpgrade, Remediate),
            (strict, RuleId::Rds3InstanceEncryption, Alert),
            (strict, RuleId::SnapshotSharedOutside, Alert),
            (&[("RULE_ACTIONS", "RDS.8=remediate")], RuleId::Rds8InstanceDeletionProtection, Remediate),
            (
                &[("REMEDIATION_PROFILE", "strict"), ("RULE_ACTIONS", "RDS.8=alert")],
                RuleId::Rds8InstanceDeletionProtection,
                Alert,
            ),
            (&[("REMEDIATION_PROFILE", "strict"), ("MODE", "alert")], RuleId::Rds8InstanceDeletionProtection, Alert),
        ];
        for (vars, rule, action) in cases {
            assert_eq!(policy(vars).unwrap().effective_action(*rule), *action, "{vars:?} {rule}");
        }
        assert_eq!(policy(&[]).unwrap().profile, RemediationProfile::Safe);
        let err = policy(&[("REMEDIATION_PROFILE", "yolo")]).unwrap_err().to_string();
        assert!(err.contains("REMEDIATION_PROFILE") && err.contains("expected safe or strict"), "{err}");
    }

    #[test]
    fn allowed_cidrs_are_parsed_normalised_and_matched() {
        assert!(policy(&[]).unwrap().allowed_cidrs.is_empty());
        let p = policy(&[("ALLOWED_CIDRS", "10.1.2.3/16, 203.0.113.7 ,2001:db8::/32,10.1.0.0/16")]).unwrap();
        let shown: Vec<String> = p.allowed_cidrs.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.1.0.0/16", "203.0.113.7/32", "2001:db8::/32"]);
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        let cases = [
            ("10.1.0.0/16", true),
            ("10.1.200.0/24", true),
            ("10.0.0.0/8", false),
            ("203.0.113.7/32", true),
            ("203.0.113.0/24", false),
            ("2001:db8:1::/48", true),
            ("0.0.0.0/0", false),
            ("::/0", false),
        ];
        for (source, allowed) in cases {
            assert_eq!(p.cidr_allowed(&net(source)), allowed, "{source}");
        }
    }

    #[test]
    fn allowed_regions_are_parsed_and_deduplicated() {
        let p = policy(&[("ALLOWED_REGIONS", "us-east-1, eu-west-1,us-east-1,")]).unwrap();
        let AllowedRegions::Only(list) = p.allowed_regions else { panic!("expected a list") };
        let names: Vec<&str> = list.iter().map(AwsRegion::as_str).collect();
        assert_eq!(names, ["us-east-1", "eu-west-1"]);
        assert_eq!(policy(&[("ALLOWED_REGIONS", " , ")]).unwrap().allowed_regions, AllowedRegions::Unrestricted);
    }

    #[test]
    fn rulebook_settings() {
        let p = policy(&[]).unwrap();
        assert_eq!(p.min_backup_retention_days, 7);
        assert!(p.trusted_accounts.is_empty());
        assert_eq!(p.production_tag.to_string(), "environment=production");
        assert_eq!(p.effective_action(RuleId::Rds1SnapshotPublic), RuleAction::Remediate);
        assert_eq!(p.effective_action(RuleId::SnapshotSharedOutside), RuleAction::Alert);
        assert_eq!(p.effective_action(RuleId::Rds25InstanceDefaultAdmin), RuleAction::Alert);

        let p = policy(&[
            ("MIN_BACKUP_RETENTION_DAYS", "14"),
            ("TRUSTED_ACCOUNTS", "222222222222, 333333333333,222222222222"),
            ("PRODUCTION_TAG", "tier"),
            ("RULE_ACTIONS", "RDSGUARD.SNAPSHOT_SHARED=remediate,RDS.9=off"),
        ])
        .unwrap();
        assert_eq!(p.min_backup_retention_days, 14);
        assert_eq!(p.trusted_accounts.len(), 2);
        assert!(p.production_tag.matches(&[("Tier".into(), "anything".into())]));
        assert_eq!(p.effective_action(RuleId::SnapshotSharedOutside), RuleAction::Remediate);
        assert_eq!(p.effective_action(RuleId::Rds9LogExports), RuleAction::Off);

        let cases = [
            (("MIN_BACKUP_RETENTION_DAYS", "0"), "from 1 to 35"),
            (("MIN_BACKUP_RETENTION_DAYS", "a week"), "from 1 to 35"),
            (("TRUSTED_ACCOUNTS", "12345"), "TRUSTED_ACCOUNTS"),
            (("PRODUCTION_TAG", "=prod"), "key=value"),
            (("RULE_ACTIONS", "RDS.25=remediate"), "RDS.25 accepts alert | off"),
        ];
        for (var, fragment) in cases {
            let err = policy(&[var]).unwrap_err().to_string();
            assert!(err.contains(fragment), "{var:?}: {err}");
        }
    }

    #[test]
    fn exemption_by_tag() {
        let p = policy(&[]).unwrap();
        let tags = |v: &str| vec![("team".to_owned(), "x".to_owned()), ("rdsguard:exempt".to_owned(), v.to_owned())];
        let cases = [
            ("all", RuleId::Rds2PublicAccess, true),
            ("ALL", RuleId::RegionNotAllowed, true),
            ("RDS.2", RuleId::Rds2PublicAccess, true),
            ("RDS.2", RuleId::Rds3InstanceEncryption, false),
            ("RDS.3 RDS.2", RuleId::Rds2PublicAccess, true),
            ("RDS.3+RDSGUARD.REGION", RuleId::RegionNotAllowed, true),
            ("RDS.27/RDS.3", RuleId::Rds3InstanceEncryption, true),
            ("RDS.20", RuleId::Rds2PublicAccess, false),
            ("", RuleId::Rds2PublicAccess, false),
        ];
        for (value, rule, exempt) in cases {
            assert_eq!(p.exemption(&tags(value), rule).is_some(), exempt, "{value:?} {rule}");
        }
        assert_eq!(p.exemption(&[], RuleId::Rds2PublicAccess), None);
        let custom = policy(&[("EXEMPT_TAG_KEY", "security-exception")]).unwrap();
        assert_eq!(custom.exemption(&tags("all"), RuleId::Rds2PublicAccess), None);
        assert_eq!(
            custom.exemption(&[("security-exception".into(), "all".into())], RuleId::Rds2PublicAccess).as_deref(),
            Some("security-exception=all")
        );
    }
}
