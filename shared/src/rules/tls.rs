//! RDS.38 / RDS.39 / RDS.44 / RDSGUARD.CLUSTER_TLS: the parameter group a database uses enforces
//! TLS for client connections. PostgreSQL (and Aurora PostgreSQL) uses `rds.force_ssl`; MySQL,
//! MariaDB and Aurora MySQL use `require_secure_transport`. Security Hub's controls are per engine
//! and scoped to DB instances (RDS.38 PostgreSQL, RDS.39 MySQL, RDS.44 MariaDB); a DB cluster's
//! cluster parameter group is judged as RDSGUARD.CLUSTER_TLS. Both are dynamic parameters: setting them back applies at once,
//! without a reboot.

use serde_json::json;

use super::{RuleId, Verdict};
use crate::database::{Database, DatabaseKind, EngineFamily};

/// The parameter that enforces TLS for an engine family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsParameter {
    pub rule: RuleId,
    pub name: &'static str,
    /// The value rdsguard sets.
    pub enforced_value: &'static str,
}

/// Every parameter [`tls_parameter_for`] may name.
pub const TLS_PARAMETER_NAMES: [&str; 2] = ["rds.force_ssl", "require_secure_transport"];

/// The TLS parameter of a database's parameter group and the rule that judges it, by kind and
/// engine (`None`: TLS is not enforced by a parameter for this engine).
pub fn tls_parameter_for(db: &Database) -> Option<TlsParameter> {
    let (name, enforced_value) = match db.state.engine_family() {
        EngineFamily::PostgreSql => ("rds.force_ssl", "1"),
        EngineFamily::MySql => ("require_secure_transport", "1"),
        EngineFamily::Other | EngineFamily::Unknown => return None,
    };
    let engine = db.state.engine.as_deref().unwrap_or_default().to_ascii_lowercase();
    let rule = match (db.kind, engine.as_str()) {
        (DatabaseKind::Cluster, _) => RuleId::ClusterTls,
        (DatabaseKind::Instance, "mariadb") => RuleId::Rds44MariadbTls,
        (DatabaseKind::Instance, _) if name == "rds.force_ssl" => RuleId::Rds38PostgresTls,
        (DatabaseKind::Instance, _) => RuleId::Rds39MysqlTls,
    };
    Some(TlsParameter { rule, name, enforced_value })
}

/// What DescribeDB(Cluster)Parameters says about the parameter in one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsReading {
    pub group: String,
    /// `ParameterValue`; `None` when the group leaves it at the engine default.
    pub value: Option<String>,
    /// `Source`: `user`, `system` or `engine-default`.
    pub source: Option<String>,
}

/// Whether a parameter value enforces TLS (`1`, `ON`, `true`, any case).
pub fn is_on(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "1" | "on" | "true")
}

/// The engine's own default when a group does not set the parameter (AWS's "Requiring SSL/TLS"
/// pages per engine): RDS for PostgreSQL 15 and later, RDS for MariaDB 11.8 and later and RDS for
/// MySQL 9.7 and later enforce TLS; earlier versions, Aurora PostgreSQL and Aurora MySQL do not.
fn engine_default_enforces(
    parameter: &TlsParameter,
    engine: Option<&str>,
    engine_version: Option<&str>,
) -> Option<bool> {
    let first_enforcing_version = match (parameter.rule, engine?) {
        (RuleId::Rds38PostgresTls, "postgres") => (15, 0),
        (RuleId::Rds44MariadbTls, "mariadb") => (11, 8),
        (RuleId::Rds39MysqlTls, "mysql") => (9, 7),
        _ => return Some(false),
    };
    Some(major_minor(engine_version?)? >= first_enforcing_version)
}

/// `16.3` → (16, 3), `8.0.35` → (8, 0), `10.11.6` → (10, 11), `16` → (16, 0), and extended-support
/// versions such as `11.22-rds.20240418` → (11, 22): the leading digits of each part count.
fn major_minor(version: &str) -> Option<(u32, u32)> {
    fn leading_number(part: &str) -> Option<u32> {
        let digits = part.find(|c: char| !c.is_ascii_digit()).map_or(part, |end| &part[..end]);
        digits.parse().ok()
    }
    let mut parts = version.trim().split('.');
    let major = leading_number(parts.next()?)?;
    let minor = match parts.next() {
        Some(minor) => leading_number(minor)?,
        None => 0,
    };
    Some((major, minor))
}

/// The value to set, in the spelling the parameter group accepts: RDS for MySQL and MariaDB
/// groups take `0`/`1`, Aurora MySQL cluster groups `ON`/`OFF` (`AllowedValues` of
/// DescribeDB(Cluster)Parameters says which).
pub fn enforcing_value(parameter: &TlsParameter, allowed_values: Option<&str>) -> &'static str {
    let allowed: Vec<String> =
        allowed_values.unwrap_or_default().split(',').map(|v| v.trim().to_ascii_uppercase()).collect();
    if allowed.iter().any(|v| v == "1") {
        "1"
    } else if allowed.iter().any(|v| v == "ON") {
        "ON"
    } else {
        parameter.enforced_value
    }
}

/// Whether the group a database uses enforces TLS. `reading` is `None` when the group does not
/// list the parameter at all (nothing to judge).
pub fn tls_enforced(db: &Database, reading: Option<&TlsReading>) -> Verdict {
    if db.is_cluster_member() {
        return Verdict::NotApplicable("cluster members use their cluster's parameter group");
    }
    let Some(parameter) = tls_parameter_for(db) else {
        return Verdict::NotApplicable("TLS is enforced by parameter only for PostgreSQL, MySQL and MariaDB");
    };
    let Some(reading) = reading else {
        return Verdict::Unknown("the parameter group does not list the TLS parameter");
    };
    let enforced = match reading.value.as_deref() {
        Some(value) => is_on(value),
        None if reading.source.as_deref() == Some("engine-default") => {
            match engine_default_enforces(&parameter, db.state.engine.as_deref(), db.state.engine_version.as_deref()) {
                Some(enforced) => enforced,
                None => return Verdict::Unknown("the engine default depends on the engine version, which is unknown"),
            }
        }
        None => return Verdict::Unknown("DescribeDBParameters reported no value for the TLS parameter"),
    };
    if enforced {
        return Verdict::Compliant;
    }
    Verdict::Violation(json!({
        "ParameterGroup": reading.group,
        "Parameter": parameter.name,
        "Value": reading.value.as_deref().unwrap_or("(engine default)"),
        "Expected": parameter.enforced_value,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::DatabaseState;

    fn db(engine: &str, version: &str, member: bool) -> Database {
        Database::instance(DatabaseState {
            identifier: "db".into(),
            engine: Some(engine.into()),
            engine_version: Some(version.into()),
            cluster_identifier: member.then(|| "c".to_owned()),
            ..DatabaseState::default()
        })
    }

    fn reading(value: Option<&str>, source: &str) -> TlsReading {
        TlsReading { group: "g".into(), value: value.map(str::to_owned), source: Some(source.into()) }
    }

    fn kind_of(verdict: &Verdict) -> &'static str {
        match verdict {
            Verdict::Compliant => "compliant",
            Verdict::NotApplicable(_) => "n/a",
            Verdict::Unknown(_) => "unknown",
            Verdict::Violation(_) => "violation",
        }
    }

    #[test]
    fn tls_by_engine_and_value() {
        let cases = [
            ("pg force_ssl 0", db("postgres", "14.6", false), Some(reading(Some("0"), "user")), "violation"),
            ("pg force_ssl 1", db("postgres", "14.6", false), Some(reading(Some("1"), "user")), "compliant"),
            ("pg 14 default", db("postgres", "14.6", false), Some(reading(None, "engine-default")), "violation"),
            ("pg 16 default", db("postgres", "16.3", false), Some(reading(None, "engine-default")), "compliant"),
            (
                "aurora pg 16 cluster default",
                Database::cluster(DatabaseState {
                    identifier: "c".into(),
                    engine: Some("aurora-postgresql".into()),
                    engine_version: Some("16.4".into()),
                    ..DatabaseState::default()
                }),
                Some(reading(None, "engine-default")),
                "violation",
            ),
            (
                "pg default, version unknown",
                db("postgres", "", false),
                Some(reading(None, "engine-default")),
                "unknown",
            ),
            ("mysql OFF", db("mysql", "8.0.35", false), Some(reading(Some("OFF"), "user")), "violation"),
            ("mysql ON", db("mysql", "8.0.35", false), Some(reading(Some("ON"), "user")), "compliant"),
            ("mariadb 1", db("mariadb", "10.11", false), Some(reading(Some("1"), "user")), "compliant"),
            ("mysql 8.0 default", db("mysql", "8.0.35", false), Some(reading(None, "engine-default")), "violation"),
            ("mysql 8.4 default", db("mysql", "8.4.3", false), Some(reading(None, "engine-default")), "violation"),
            ("mysql 9.7 default", db("mysql", "9.7.0", false), Some(reading(None, "engine-default")), "compliant"),
            (
                "mariadb 11.4 default",
                db("mariadb", "11.4.5", false),
                Some(reading(None, "engine-default")),
                "violation",
            ),
            (
                "mariadb 11.8 default",
                db("mariadb", "11.8.3", false),
                Some(reading(None, "engine-default")),
                "compliant",
            ),
            ("mariadb 11.8 OFF", db("mariadb", "11.8.3", false), Some(reading(Some("0"), "user")), "violation"),
            (
                "mariadb 10.11 default",
                db("mariadb", "10.11.9", false),
                Some(reading(None, "engine-default")),
                "violation",
            ),
            ("pg 15 default", db("postgres", "15", false), Some(reading(None, "engine-default")), "compliant"),
            ("pg odd version", db("postgres", "beta", false), Some(reading(None, "engine-default")), "unknown"),
            (
                "pg 11 extended support default",
                db("postgres", "11.22-rds.20240418", false),
                Some(reading(None, "engine-default")),
                "violation",
            ),
            (
                "pg 16 odd minor",
                db("postgres", "16.4-rds.1", false),
                Some(reading(None, "engine-default")),
                "compliant",
            ),
            ("value missing", db("mysql", "8.0.35", false), Some(reading(None, "user")), "unknown"),
            ("parameter not listed", db("postgres", "14.6", false), None, "unknown"),
            ("aurora member", db("aurora-postgresql", "15.4", true), Some(reading(Some("0"), "user")), "n/a"),
            ("oracle", db("oracle-ee", "19", false), Some(reading(Some("0"), "user")), "n/a"),
        ];
        for (name, database, reading, expected) in cases {
            assert_eq!(kind_of(&tls_enforced(&database, reading.as_ref())), expected, "{name}");
        }
    }

    #[test]
    fn the_value_set_is_spelled_as_the_group_allows() {
        let mysql = tls_parameter_for(&db("mysql", "8.0.35", false)).unwrap();
        let cases =
            [(Some("0, 1"), "1"), (Some("OFF,ON"), "ON"), (Some("on, off"), "ON"), (None, "1"), (Some(""), "1")];
        for (allowed, expected) in cases {
            assert_eq!(enforcing_value(&mysql, allowed), expected, "{allowed:?}");
        }
    }

    #[test]
    /// Security Hub's controls: RDS.38 PostgreSQL, RDS.39 MySQL, RDS.44 MariaDB, all on DB instances;
    /// cluster parameter groups are rdsguard's own id.
    fn each_engine_has_its_rule() {
        let cluster = |engine: &str| {
            Database::cluster(DatabaseState {
                identifier: "c".into(),
                engine: Some(engine.into()),
                ..DatabaseState::default()
            })
        };
        let cases = [
            (db("postgres", "16.3", false), Some((RuleId::Rds38PostgresTls, "rds.force_ssl"))),
            (db("mysql", "8.0.35", false), Some((RuleId::Rds39MysqlTls, "require_secure_transport"))),
            (db("mariadb", "10.11", false), Some((RuleId::Rds44MariadbTls, "require_secure_transport"))),
            (cluster("aurora-postgresql"), Some((RuleId::ClusterTls, "rds.force_ssl"))),
            (cluster("aurora-mysql"), Some((RuleId::ClusterTls, "require_secure_transport"))),
            (cluster("postgres"), Some((RuleId::ClusterTls, "rds.force_ssl"))),
            (db("oracle-ee", "19", false), None),
            (db("sqlserver-se", "16", false), None),
            (db("custom-oracle-ee", "19", false), None),
        ];
        for (database, expected) in cases {
            assert_eq!(tls_parameter_for(&database).map(|p| (p.rule, p.name)), expected, "{:?}", database.state.engine);
        }
    }
}
