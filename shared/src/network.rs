//! The current state of a security group and of the databases behind it, as read from
//! DescribeSecurityGroups, DescribeSecurityGroupRules, DescribeDBInstances and DescribeDBClusters.
//! Network rules judge this, never the event.

use ipnet::IpNet;
use serde::Serialize;
use serde_json::{json, Value};

use crate::database::DatabaseKind;

/// CloudFormation type name used in alerts.
pub const SECURITY_GROUP_TYPE: &str = "AWS::EC2::SecurityGroup";

/// How an event names a security group: by id, or (EC2-Classic / default-VPC style requests) by
/// name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupRef {
    Id(String),
    Name(String),
}

impl std::fmt::Display for GroupRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => f.write_str(id),
            Self::Name(name) => write!(f, "group named {name:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityGroup {
    pub id: String,
    pub name: Option<String>,
    pub vpc_id: Option<String>,
    /// The account that owns the group.
    pub owner_id: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// Where an ingress rule admits traffic from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    /// An IPv4 or IPv6 CIDR block.
    Cidr(IpNet),
    /// A managed prefix list (its entries are not read).
    PrefixList(String),
    /// Another security group (the recommended way to admit application servers).
    SecurityGroup(String),
    /// A source that could not be read: never judged, never acted on.
    Unreadable(String),
}

impl RuleSource {
    /// Reads a CIDR as EC2 reports it.
    pub fn from_cidr(raw: &str) -> Self {
        match raw.trim().parse::<IpNet>() {
            Ok(net) => Self::Cidr(net),
            Err(_) => Self::Unreadable(format!("CIDR {raw:?}")),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Cidr(net) => net.to_string(),
            Self::PrefixList(id) => format!("prefix list {id}"),
            Self::SecurityGroup(id) => format!("security group {id}"),
            Self::Unreadable(what) => format!("unreadable {what}"),
        }
    }
}

/// One ingress rule of a security group (one source each, as DescribeSecurityGroupRules reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressRule {
    /// `sgr-...`
    pub rule_id: String,
    pub group_id: String,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all), or a protocol number.
    pub protocol: String,
    /// `None` when EC2 reports none (all-traffic rules; -1 is read as none).
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub source: RuleSource,
    pub description: Option<String>,
}

impl IngressRule {
    /// `port 5432`, `ports 0-65535` or `all ports` (all-traffic rules, and -1 as EC2 reports it).
    pub fn ports(&self) -> String {
        match (self.from_port, self.to_port) {
            (Some(from), Some(to)) if from == to && from >= 0 => format!("port {from}"),
            (Some(from), Some(to)) if from >= 0 && to >= 0 => format!("ports {from}-{to}"),
            _ => "all ports".to_owned(),
        }
    }

    /// The rule as it appears in alerts.
    pub fn to_json(&self) -> Value {
        json!({
            "security_group_rule_id": self.rule_id,
            "group_id": self.group_id,
            "ip_protocol": self.protocol,
            "from_port": self.from_port,
            "to_port": self.to_port,
            "source": self.source.describe(),
            "description": self.description,
        })
    }
}

/// A database that uses a security group, and the port it listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseListener {
    pub kind: DatabaseKind,
    pub identifier: String,
    pub arn: Option<String>,
    pub engine: Option<String>,
    /// From the endpoint; else the engine's default port. `None`: not known yet.
    pub port: Option<u16>,
}

/// The port an engine listens on unless told otherwise.
pub fn default_port(engine: &str) -> Option<u16> {
    let engine = engine.to_ascii_lowercase();
    let port = if engine.contains("postgres") {
        5432
    } else if engine.contains("mysql") || engine.contains("mariadb") || engine == "aurora" {
        3306
    } else if engine.starts_with("oracle") || engine.starts_with("custom-oracle") {
        1521
    } else if engine.starts_with("sqlserver") || engine.starts_with("custom-sqlserver") {
        1433
    } else if engine.starts_with("db2") {
        50000
    } else if engine.starts_with("docdb") {
        27017
    } else if engine.starts_with("neptune") {
        8182
    } else {
        return None;
    };
    Some(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_by_engine() {
        let cases = [
            ("postgres", Some(5432)),
            ("aurora-postgresql", Some(5432)),
            ("mysql", Some(3306)),
            ("MySQL", Some(3306)),
            ("aurora-mysql", Some(3306)),
            ("aurora", Some(3306)),
            ("mariadb", Some(3306)),
            ("oracle-ee", Some(1521)),
            ("sqlserver-se", Some(1433)),
            ("db2-se", Some(50000)),
            ("docdb", Some(27017)),
            ("neptune", Some(8182)),
            ("something-new", None),
        ];
        for (engine, port) in cases {
            assert_eq!(default_port(engine), port, "{engine}");
        }
    }

    #[test]
    fn sources_are_read_without_panicking() {
        assert_eq!(RuleSource::from_cidr("0.0.0.0/0").describe(), "0.0.0.0/0");
        assert_eq!(RuleSource::from_cidr(" ::/0 ").describe(), "::/0");
        assert!(matches!(RuleSource::from_cidr("10.0.0.0/33"), RuleSource::Unreadable(_)));
        assert!(matches!(RuleSource::from_cidr("banana"), RuleSource::Unreadable(_)));
    }
}
