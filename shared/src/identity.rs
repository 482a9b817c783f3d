//! Validated AWS account ids and region names.
//!
//! Events from real and sanitised sources carry placeholders such as `<MEMBER_ACCT_ID>` or made-up
//! regions. Nothing is remediated against an account or region that is not well formed, so these
//! types are the only way the rest of the code names either.

use std::fmt;

use serde::Serialize;

/// Why an account id or region name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("account id {0:?} is not 12 digits")]
    BadAccountId(String),
    #[error("region {0:?} is not an AWS region name (expected e.g. eu-west-1)")]
    BadRegion(String),
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(raw: &str) -> Result<Self, IdentityError> {
        let trimmed = raw.trim();
        if trimmed.len() == 12 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(IdentityError::BadAccountId(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An AWS region name such as `us-east-1`, `us-gov-west-1` or `cn-north-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AwsRegion(String);

impl AwsRegion {
    /// Accepts `<2 letters>(-<letters>)+-<digit(s)>`, the shape of every public, GovCloud and China
    /// region name.
    pub fn parse(raw: &str) -> Result<Self, IdentityError> {
        let bad = || IdentityError::BadRegion(raw.to_owned());
        let parts: Vec<&str> = raw.split('-').collect();
        if parts.len() < 3 {
            return Err(bad());
        }
        let (first, rest) = parts.split_first().ok_or_else(bad)?;
        let (last, middle) = rest.split_last().ok_or_else(bad)?;
        let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
        let ok = first.len() == 2
            && lower(first)
            && middle.iter().all(|p| lower(p))
            && !last.is_empty()
            && last.len() <= 2
            && last.bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(bad())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ARN partition the region belongs to.
    pub fn partition(&self) -> &'static str {
        let r = self.0.as_str();
        if r.starts_with("cn-") {
            "aws-cn"
        } else if r.starts_with("us-gov-") {
            "aws-us-gov"
        } else if r.starts_with("us-isob-") {
            "aws-iso-b"
        } else if r.starts_with("us-isof-") {
            "aws-iso-f"
        } else if r.starts_with("eu-isoe-") {
            "aws-iso-e"
        } else if r.starts_with("us-iso-") {
            "aws-iso"
        } else {
            "aws"
        }
    }
}

impl fmt::Display for AwsRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids() {
        let cases = [
            ("123456789012", true),
            (" 123456789012 ", true),
            ("12345678901", false),
            ("1234567890123", false),
            ("<MEMBER_ACCT_ID>", false),
            ("12345678901a", false),
            ("", false),
        ];
        for (raw, ok) in cases {
            assert_eq!(AccountId::parse(raw).is_ok(), ok, "{raw:?}");
        }
    }

    #[test]
    fn regions() {
        let cases = [
            ("us-east-1", true, "aws"),
            ("eu-central-2", true, "aws"),
            ("us-gov-west-1", true, "aws-us-gov"),
            ("cn-northwest-1", true, "aws-cn"),
            ("ap-southeast-10", true, "aws"),
            ("us-iso-east-1", true, "aws-iso"),
            ("us-isob-east-1", true, "aws-iso-b"),
            ("eu-isoe-west-1", true, "aws-iso-e"),
            ("meiso-eastwest-2r", false, ""),
            ("apiso-centralnorth-2r", false, ""),
            ("US-EAST-1", false, ""),
            ("us-east", false, ""),
            ("global", false, ""),
            ("", false, ""),
        ];
        for (raw, ok, partition) in cases {
            let parsed = AwsRegion::parse(raw);
            assert_eq!(parsed.is_ok(), ok, "{raw:?}");
            if let Ok(region) = parsed {
                assert_eq!(region.partition(), partition, "{raw:?}");
            }
        }
    }
}
