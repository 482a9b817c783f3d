//! Amazon Resource Names: one type to format and parse them, partition-aware
//! (`arn:aws:…`, `arn:aws-cn:…`, `arn:aws-us-gov:…`), and the one mapping from an RDS resource
//! kind to its CloudFormation type and ARN segment.
//!
//! A leaf module: it imports nothing else of the crate.

use std::fmt;
use std::str::FromStr;

/// `arn:partition:service:region:account-id:resource`. `resource` is everything after the fifth
/// colon (`db:orders`, `security-group/sg-1`, `role/path/name`); `region` and `account` may be
/// empty (IAM has no region, S3 buckets have neither).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

/// A string that is not an ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an ARN (arn:partition:service:region:account:resource): {0:?}")]
pub struct ArnError(pub String);

impl Arn {
    pub fn new(
        partition: impl Into<String>,
        service: impl Into<String>,
        region: impl Into<String>,
        account: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        Self {
            partition: partition.into(),
            service: service.into(),
            region: region.into(),
            account: account.into(),
            resource: resource.into(),
        }
    }

    /// An RDS resource's ARN: `arn:{partition}:rds:{region}:{account}:{segment}:{identifier}`.
    pub fn rds(partition: &str, region: &str, account: &str, kind: RdsResourceKind, identifier: &str) -> Self {
        Self::new(partition, "rds", region, account, format!("{}:{identifier}", kind.arn_segment()))
    }

    /// A security group's ARN: `arn:{partition}:ec2:{region}:{account}:security-group/{group_id}`.
    pub fn security_group(partition: &str, region: &str, account: &str, group_id: &str) -> Self {
        Self::new(partition, "ec2", region, account, format!("security-group/{group_id}"))
    }

    /// Parses `arn:partition:service:region:account:resource` (six parts, non-empty partition,
    /// service and resource).
    pub fn parse(raw: &str) -> Result<Self, ArnError> {
        let bad = || ArnError(raw.to_owned());
        let mut parts = raw.splitn(6, ':');
        if parts.next() != Some("arn") {
            return Err(bad());
        }
        let mut next = || parts.next().ok_or_else(bad);
        let (partition, service, region, account, resource) = (next()?, next()?, next()?, next()?, next()?);
        if partition.is_empty() || service.is_empty() || resource.is_empty() {
            return Err(bad());
        }
        Ok(Self::new(partition, service, region, account, resource))
    }

    /// The resource's type and id when the resource part is `type:id` or `type/id`
    /// (`db:orders` → (`db`, `orders`), `role/path/name` → (`role`, `path/name`)).
    pub fn resource_type_and_id(&self) -> Option<(&str, &str)> {
        let at = self.resource.find([':', '/'])?;
        Some((&self.resource[..at], &self.resource[at + 1..]))
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "arn:{}:{}:{}:{}:{}", self.partition, self.service, self.region, self.account, self.resource)
    }
}

impl FromStr for Arn {
    type Err = ArnError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

/// The RDS resources rdsguard judges, with the names AWS gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RdsResourceKind {
    DbInstance,
    DbCluster,
    DbSnapshot,
    DbClusterSnapshot,
    DbParameterGroup,
    DbClusterParameterGroup,
}

impl RdsResourceKind {
    /// The CloudFormation type name used in alerts (`AWS::RDS::DBInstance`).
    pub const fn cloudformation_type(self) -> &'static str {
        self.names().0
    }

    /// The segment of the kind in an ARN (`arn:aws:rds:…:db:orders`).
    pub fn arn_segment(self) -> &'static str {
        self.names().1
    }

    const fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::DbInstance => ("AWS::RDS::DBInstance", "db"),
            Self::DbCluster => ("AWS::RDS::DBCluster", "cluster"),
            Self::DbSnapshot => ("AWS::RDS::DBSnapshot", "snapshot"),
            Self::DbClusterSnapshot => ("AWS::RDS::DBClusterSnapshot", "cluster-snapshot"),
            Self::DbParameterGroup => ("AWS::RDS::DBParameterGroup", "pg"),
            Self::DbClusterParameterGroup => ("AWS::RDS::DBClusterParameterGroup", "cluster-pg"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_in_every_partition() {
        let cases = [
            ("arn:aws:rds:us-east-1:123456789012:db:orders", "aws", "rds", "us-east-1", "123456789012", "db:orders"),
            (
                "arn:aws-cn:rds:cn-north-1:123456789012:cluster:c1",
                "aws-cn",
                "rds",
                "cn-north-1",
                "123456789012",
                "cluster:c1",
            ),
            ("arn:aws-us-gov:iam::123456789012:role/path/r", "aws-us-gov", "iam", "", "123456789012", "role/path/r"),
            ("arn:aws:s3:::bucket/key:with:colons", "aws", "s3", "", "", "bucket/key:with:colons"),
        ];
        for (raw, partition, service, region, account, resource) in cases {
            let arn = Arn::parse(raw).unwrap();
            assert_eq!(arn, Arn::new(partition, service, region, account, resource), "{raw}");
            assert_eq!(arn.to_string(), raw);
            assert_eq!(raw.parse::<Arn>().unwrap(), arn);
        }
    }

    #[test]
    fn rejects_what_is_not_an_arn() {
        for raw in [
            "",
            "orders",
            "arn:aws:rds",
            "arn::rds:us-east-1:1:db:x",
            "arn:aws:rds:us-east-1:1:",
            "urn:aws:rds:r:a:db:x",
        ] {
            assert_eq!(Arn::parse(raw), Err(ArnError(raw.to_owned())), "{raw:?}");
        }
    }

    #[test]
    fn rds_kinds_name_their_type_and_segment() {
        let cases = [
            (RdsResourceKind::DbInstance, "AWS::RDS::DBInstance", "arn:aws-cn:rds:cn-north-1:1:db:x"),
            (RdsResourceKind::DbCluster, "AWS::RDS::DBCluster", "arn:aws-cn:rds:cn-north-1:1:cluster:x"),
            (RdsResourceKind::DbSnapshot, "AWS::RDS::DBSnapshot", "arn:aws-cn:rds:cn-north-1:1:snapshot:x"),
            (
                RdsResourceKind::DbClusterSnapshot,
                "AWS::RDS::DBClusterSnapshot",
                "arn:aws-cn:rds:cn-north-1:1:cluster-snapshot:x",
            ),
        ];
        for (kind, cfn, arn) in cases {
            assert_eq!(kind.cloudformation_type(), cfn);
            assert_eq!(Arn::rds("aws-cn", "cn-north-1", "1", kind, "x").to_string(), arn);
        }
        let role = Arn::parse("arn:aws:iam::1:role/path/r").unwrap();
        assert_eq!(role.resource_type_and_id(), Some(("role", "path/r")));
    }
}
