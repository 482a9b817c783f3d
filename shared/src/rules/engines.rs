//! Which database rules apply to which engine: one table, so a rule that cannot apply is
//! `not_applicable` before it is judged, never a fix RDS would refuse (RDS Custom rejects
//! `AutoMinorVersionUpgrade=true`; Oracle, SQL Server and Db2 have no IAM database
//! authentication). README's "Engines" table is this table.

use super::RuleId;

/// Engines as the rules tell them apart (`Engine` of DescribeDBInstances / DescribeDBClusters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineClass {
    AuroraMySql,
    AuroraPostgreSql,
    MySql,
    MariaDb,
    PostgreSql,
    Oracle,
    SqlServer,
    Db2,
    /// RDS Custom for Oracle (`custom-oracle-ee`, `custom-oracle-ee-cdb`, `custom-oracle-se2`…).
    CustomOracle,
    /// RDS Custom for SQL Server (`custom-sqlserver-ee`, `custom-sqlserver-se`, `custom-sqlserver-web`…).
    CustomSqlServer,
    /// Listed by the RDS API, judged by none of these rules.
    DocumentDb,
    Neptune,
    /// No engine reported, or one this table does not know: every rule is judged, each saying
    /// `unknown` where it needs the engine.
    Unknown,
}

impl EngineClass {
    pub fn of(engine: Option<&str>) -> Self {
        let Some(engine) = engine.map(|e| e.trim().to_ascii_lowercase()) else { return Self::Unknown };
        match engine.as_str() {
            "aurora" | "aurora-mysql" => Self::AuroraMySql,
            "aurora-postgresql" => Self::AuroraPostgreSql,
            "mysql" => Self::MySql,
            "mariadb" => Self::MariaDb,
            "postgres" => Self::PostgreSql,
            e if e.starts_with("custom-oracle") => Self::CustomOracle,
            e if e.starts_with("custom-sqlserver") => Self::CustomSqlServer,
            e if e.starts_with("oracle") => Self::Oracle,
            e if e.starts_with("sqlserver") => Self::SqlServer,
            e if e.starts_with("db2") => Self::Db2,
            e if e.starts_with("docdb") => Self::DocumentDb,
            e if e.starts_with("neptune") => Self::Neptune,
            _ => Self::Unknown,
        }
    }

    pub fn is_custom(self) -> bool {
        matches!(self, Self::CustomOracle | Self::CustomSqlServer)
    }
}

/// `Some(reason)` when `rule` does not apply to databases of `engine`.
pub fn not_applicable_to(rule: RuleId, engine: EngineClass) -> Option<&'static str> {
    use EngineClass::*;
    if matches!(engine, DocumentDb | Neptune) {
        return Some("DocumentDB and Neptune are not judged by RDS rules");
    }
    match rule {
        RuleId::Rds10InstanceIamAuth | RuleId::Rds12ClusterIamAuth
            if matches!(engine, Oracle | SqlServer | Db2 | CustomOracle | CustomSqlServer) =>
        {
            Some("the engine does not support IAM database authentication")
        }
        RuleId::Rds13MinorVersionUpgrade | RuleId::Rds35ClusterMinorVersionUpgrade if engine.is_custom() => Some(
            "RDS Custom requires AutoMinorVersionUpgrade=false (it rejects true): engine updates are applied by hand",
        ),
        RuleId::MasterPasswordUnmanaged if engine.is_custom() => {
            Some("RDS Custom does not support a master password managed by Secrets Manager")
        }
        RuleId::Rds9LogExports if engine.is_custom() => Some("RDS Custom does not publish logs to CloudWatch Logs"),
        RuleId::Rds38PostgresTls | RuleId::Rds39MysqlTls | RuleId::Rds44MariadbTls | RuleId::ClusterTls
            if !matches!(engine, AuroraMySql | AuroraPostgreSql | MySql | MariaDb | PostgreSql | Unknown) =>
        {
            Some("TLS is enforced by a parameter only for PostgreSQL, MySQL and MariaDB engines")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_are_classed() {
        let cases = [
            ("aurora-mysql", EngineClass::AuroraMySql),
            ("aurora", EngineClass::AuroraMySql),
            ("aurora-postgresql", EngineClass::AuroraPostgreSql),
            ("postgres", EngineClass::PostgreSql),
            ("MariaDB", EngineClass::MariaDb),
            ("oracle-ee-cdb", EngineClass::Oracle),
            ("sqlserver-ex", EngineClass::SqlServer),
            ("db2-se", EngineClass::Db2),
            ("custom-oracle-ee", EngineClass::CustomOracle),
            ("custom-sqlserver-web", EngineClass::CustomSqlServer),
            ("docdb", EngineClass::DocumentDb),
            ("neptune", EngineClass::Neptune),
            ("cockroach", EngineClass::Unknown),
        ];
        for (engine, class) in cases {
            assert_eq!(EngineClass::of(Some(engine)), class, "{engine}");
        }
        assert_eq!(EngineClass::of(None), EngineClass::Unknown);
    }

    #[test]
    fn rules_per_engine() {
        use EngineClass::*;
        let cases = [
            (RuleId::Rds13MinorVersionUpgrade, CustomOracle, false),
            (RuleId::Rds13MinorVersionUpgrade, CustomSqlServer, false),
            (RuleId::Rds13MinorVersionUpgrade, Oracle, true),
            (RuleId::Rds10InstanceIamAuth, SqlServer, false),
            (RuleId::Rds10InstanceIamAuth, Db2, false),
            (RuleId::Rds10InstanceIamAuth, MySql, true),
            (RuleId::Rds12ClusterIamAuth, AuroraPostgreSql, true),
            (RuleId::MasterPasswordUnmanaged, CustomOracle, false),
            (RuleId::MasterPasswordUnmanaged, Db2, true),
            (RuleId::Rds9LogExports, CustomSqlServer, false),
            (RuleId::Rds9LogExports, SqlServer, true),
            (RuleId::Rds2PublicAccess, CustomOracle, true),
            (RuleId::Rds11InstanceBackups, CustomOracle, true),
            (RuleId::Rds38PostgresTls, Oracle, false),
            (RuleId::Rds2PublicAccess, DocumentDb, false),
            (RuleId::Rds3InstanceEncryption, Neptune, false),
            (RuleId::Rds2PublicAccess, Unknown, true),
        ];
        for (rule, engine, applies) in cases {
            assert_eq!(not_applicable_to(rule, engine).is_none(), applies, "{rule} on {engine:?}");
        }
    }
}
