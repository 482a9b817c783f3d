//! `GUARDDUTY_RESPONSES`: which responses guardduty-responder runs for which finding types.
//!
//! Format: comma-separated `PATTERN=RESPONSE[+RESPONSE...]`, e.g.
//! `CredentialAccess:RDS/*=snapshot+make_private,Discovery:RDS/TorIPCaller=snapshot`. A pattern is
//! an exact finding type, a prefix ending in `*`, or `*` alone. The most specific pattern wins: an
//! exact type, then the longest prefix. Unset or empty: no responses at all (alerts only).
//! Responses run in a fixed order whatever the order written: snapshot first (evidence before any
//! change), then make_private, then revoke_open_ingress.

use std::fmt;

use crate::policy::PolicyError;

pub const ENV_GUARDDUTY_RESPONSES: &str = "GUARDDUTY_RESPONSES";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Response {
    /// CreateDBSnapshot (instance) or CreateDBClusterSnapshot (Aurora member, cluster), named after
    /// the finding so the evidence is traceable to it.
    Snapshot,
    /// ModifyDBInstance PubliclyAccessible=false, as RDS.2 does, when the instance is public.
    MakePrivate,
    /// Revoke world-open ingress on the database's security groups, as network-guard does.
    RevokeOpenIngress,
}

impl Response {
    pub const ALL: [Response; 3] = [Self::Snapshot, Self::MakePrivate, Self::RevokeOpenIngress];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Snapshot => "snapshot",
            Self::MakePrivate => "make_private",
            Self::RevokeOpenIngress => "revoke_open_ingress",
        }
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuardDutyResponses {
    /// (pattern, responses in execution order), as configured.
    entries: Vec<(String, Vec<Response>)>,
}

impl GuardDutyResponses {
    /// Parses the variable's value (`None` or blank: no responses).
    pub fn parse(raw: Option<&str>) -> Result<Self, PolicyError> {
        let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
            return Ok(Self::default());
        };
        let bad = |reason: String| PolicyError::Invalid { var: ENV_GUARDDUTY_RESPONSES, value: raw.to_owned(), reason };
        let mut entries: Vec<(String, Vec<Response>)> = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (pattern, list) =
                item.split_once('=').ok_or_else(|| bad(format!("{item:?} is not FINDING_TYPE=RESPONSE[+RESPONSE]")))?;
            let pattern = pattern.trim();
            let star_inside = pattern.find('*').is_some_and(|at| at + 1 != pattern.len());
            if pattern.is_empty() || pattern.contains(char::is_whitespace) || star_inside {
                return Err(bad(format!("{pattern:?} is not a finding type, a prefix ending in *, or *")));
            }
            if entries.iter().any(|(p, _)| p == pattern) {
                return Err(bad(format!("{pattern:?} is listed twice")));
            }
            let mut responses = Vec::new();
            for name in list.split('+').map(str::trim) {
                let response =
                    Response::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(name)).ok_or_else(|| {
                        let known: Vec<&str> = Response::ALL.iter().map(|r| r.as_str()).collect();
                        bad(format!("{name:?} is not a response ({})", known.join(" | ")))
                    })?;
                if !responses.contains(&response) {
                    responses.push(response);
                }
            }
            responses.sort_unstable();
            entries.push((pattern.to_owned(), responses));
        }
        Ok(Self { entries })
    }

    /// The responses configured for a finding type (empty: none).
    pub fn for_type(&self, finding_type: &str) -> &[Response] {
        if let Some((_, responses)) = self.entries.iter().find(|(pattern, _)| pattern == finding_type) {
            return responses;
        }
        self.entries
            .iter()
            .filter_map(|(pattern, responses)| {
                let prefix = pattern.strip_suffix('*')?;
                finding_type.starts_with(prefix).then_some((prefix.len(), responses))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, responses)| responses.as_slice())
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether any pattern asks for `response`.
    pub fn uses(&self, response: Response) -> bool {
        self.entries.iter().any(|(_, list)| list.contains(&response))
    }

    /// One line for the init log.
    pub fn describe(&self) -> String {
        if self.entries.is_empty() {
            return "none (alerts only)".to_owned();
        }
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|(pattern, list)| {
                format!("{pattern}={}", list.iter().map(|r| r.as_str()).collect::<Vec<_>>().join("+"))
            })
            .collect();
        parts.join(",")
    }
}

/// The forensic snapshot's identifier: `rdsguard-gd-<finding id>`, so the evidence is traceable to
/// the finding (its tags name the finding and type too). RDS snapshot identifiers are letters,
/// digits and single hyphens, start with a letter and are at most 255 characters; anything else in
/// the finding id becomes a hyphen.
pub fn snapshot_identifier(finding_id: &str) -> String {
    let mut id = String::from("rdsguard-gd-");
    for c in finding_id.chars() {
        let c = if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' };
        if !(c == '-' && id.ends_with('-')) {
            id.push(c);
        }
    }
    let mut id: String = id.chars().take(255).collect();
    while id.ends_with('-') {
        id.pop();
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_pattern_wins() {
        let config = GuardDutyResponses::parse(Some(
            " CredentialAccess:RDS/*=make_private+snapshot , CredentialAccess:RDS/TorIPCaller.FailedLogin=snapshot,*=snapshot,\
             Discovery:RDS/*=make_private",
        ))
        .unwrap();
        use Response::*;
        let cases: [(&str, &[Response]); 5] = [
            ("CredentialAccess:RDS/TorIPCaller.SuccessfulLogin", &[Snapshot, MakePrivate]),
            ("CredentialAccess:RDS/TorIPCaller.FailedLogin", &[Snapshot]),
            ("Discovery:RDS/TorIPCaller", &[MakePrivate]),
            ("Backdoor:EC2/Spambot", &[Snapshot]),
            ("", &[Snapshot]),
        ];
        for (kind, expected) in cases {
            assert_eq!(config.for_type(kind), expected, "{kind}");
        }
        assert!(config.uses(MakePrivate) && !config.uses(RevokeOpenIngress));
    }

    #[test]
    fn unset_means_no_responses() {
        for raw in [None, Some(""), Some("  , ")] {
            let config = GuardDutyResponses::parse(raw).unwrap();
            assert!(config.is_empty());
            assert!(config.for_type("CredentialAccess:RDS/TorIPCaller.SuccessfulLogin").is_empty());
            assert_eq!(config.describe(), "none (alerts only)");
        }
    }

    #[test]
    fn mistakes_name_the_variable_and_the_problem() {
        let cases = [
            ("CredentialAccess:RDS/*", "is not FINDING_TYPE=RESPONSE"),
            ("=snapshot", "is not a finding type"),
            ("Cred*Access=snapshot", "is not a finding type"),
            ("Discovery:RDS/TorIPCaller=quarantine", "\"quarantine\" is not a response (snapshot | make_private"),
            ("Discovery:RDS/TorIPCaller=snapshot+", "\"\" is not a response"),
            ("*=snapshot,*=make_private", "\"*\" is listed twice"),
        ];
        for (raw, fragment) in cases {
            let error = GuardDutyResponses::parse(Some(raw)).unwrap_err().to_string();
            assert!(error.starts_with("GUARDDUTY_RESPONSES=") && error.contains(fragment), "{raw}: {error}");
        }
    }

    #[test]
    fn responses_run_in_a_fixed_order_once_each() {
        let config = GuardDutyResponses::parse(Some("*=revoke_open_ingress+MAKE_PRIVATE+snapshot+snapshot")).unwrap();
        assert_eq!(config.for_type("x"), [Response::Snapshot, Response::MakePrivate, Response::RevokeOpenIngress]);
        assert_eq!(config.describe(), "*=snapshot+make_private+revoke_open_ingress");
    }

    #[test]
    fn snapshot_names_are_valid_rds_identifiers() {
        let cases = [
            ("5abcdefabcdefabcdef2a123456789f6", "rdsguard-gd-5abcdefabcdefabcdef2a123456789f6"),
            ("ABC_def--1", "rdsguard-gd-abc-def-1"),
            ("x/", "rdsguard-gd-x"),
            ("", "rdsguard-gd"),
        ];
        for (finding, expected) in cases {
            assert_eq!(snapshot_identifier(finding), expected, "{finding}");
        }
        assert_eq!(snapshot_identifier(&"a".repeat(400)).len(), 255);
    }
}
