//! The stable id of a finding: the same (account, region, resource, rule) always gives the same
//! id, in every function and every invocation, so the ledger keeps one item per finding and
//! Security Hub can re-import it under one `Id`.

use sha2::{Digest, Sha256};

use crate::finding::Finding;

/// Hex SHA-256 of `account|region|resource ARN|rule`. The resource is the finding's ledger
/// resource ([`Finding::ledger_resource`]): the security group rule for an ingress finding, the
/// resource itself otherwise.
pub fn finding_id(account: &str, region: &str, resource_arn: &str, rule: &str) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in [account, region, resource_arn, rule].iter().enumerate() {
        if i > 0 {
            hasher.update(b"|");
        }
        hasher.update(part.as_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The id of `finding`.
pub fn id_of(finding: &Finding) -> String {
    finding_id(finding.account.as_str(), finding.region.as_str(), finding.ledger_resource(), finding.rule.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_differ_by_every_part() {
        let base = finding_id("123456789012", "us-east-1", "arn:aws:rds:us-east-1:123456789012:db:a", "RDS.10");
        assert_eq!(base.len(), 64);
        assert!(base.bytes().all(|b| b.is_ascii_hexdigit()));
        // Known value: a change of the hashing would re-key every item of every ledger.
        assert_eq!(base, "a8a65d7b99a7d879af2bee092dee9ef8c9ce110ccbcf6ac7f1a22dfab1610c4f");
        let variants = [
            finding_id("210987654321", "us-east-1", "arn:aws:rds:us-east-1:123456789012:db:a", "RDS.10"),
            finding_id("123456789012", "eu-west-1", "arn:aws:rds:us-east-1:123456789012:db:a", "RDS.10"),
            finding_id("123456789012", "us-east-1", "arn:aws:rds:us-east-1:123456789012:db:b", "RDS.10"),
            finding_id("123456789012", "us-east-1", "arn:aws:rds:us-east-1:123456789012:db:a", "RDS.2"),
            // The separator keeps parts from running into each other.
            finding_id("123456789012", "us-east-1", "arn:aws:rds:us-east-1:123456789012:db:a|RDS", ".10"),
        ];
        for variant in variants {
            assert_ne!(variant, base);
        }
    }
}
