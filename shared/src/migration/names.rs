//! The names and tags a migration uses. Everything a later run needs is here, in AWS.

/// The migration's id on every resource it touches (`yyyymmddHHMM` of its start, UTC).
pub const TAG_MIGRATION: &str = "rdsguard:migration";
/// The identifier the database had (and the new one takes at cutover).
pub const TAG_OF: &str = "rdsguard:migration-of";
/// `source` (the unencrypted database), `target` (the encrypted one) or `snapshot`.
pub const TAG_ROLE: &str = "rdsguard:migration-role";
/// `consistent` or `online` ([`super::Mode`]).
pub const TAG_MODE: &str = "rdsguard:migration-mode";
/// The KMS key as given (id, ARN or alias).
pub const TAG_KEY: &str = "rdsguard:migration-kms-key";
/// The last milestone: `started`, `fenced`, `ready`, `cut-over`, `rolled-back` on the source;
/// `settings-applied` on the target.
pub const TAG_STEP: &str = "rdsguard:migration-step";
/// The source's read replicas (space separated), recreated at cutover.
pub const TAG_REPLICAS: &str = "rdsguard:migration-replicas";

/// RDS identifiers: at most 63 characters, no trailing or double hyphen.
const MAX_ID: usize = 63;

/// `base` shortened so that `base-suffix` fits an RDS identifier.
pub fn fit(base: &str, suffix: &str) -> String {
    let room = MAX_ID.saturating_sub(suffix.len() + 1);
    let mut head: String = base.chars().take(room).collect();
    while head.ends_with('-') {
        head.pop();
    }
    format!("{head}-{suffix}")
}

/// The old database's name after cutover: `<id>-unencrypted-<yyyymmdd>`.
pub fn parked(original: &str, migration: &str) -> String {
    fit(original, &format!("unencrypted-{}", &migration[..migration.len().min(8)]))
}

/// The new database's name until cutover (and after a rollback).
pub fn target(original: &str, migration: &str) -> String {
    fit(original, &format!("encrypted-{migration}"))
}

/// The unencrypted snapshot of the source.
pub fn snapshot(original: &str, migration: &str) -> String {
    fit(original, &format!("rdsguard-{migration}"))
}

/// The encrypted copy (instances).
pub fn encrypted_copy(original: &str, migration: &str) -> String {
    fit(original, &format!("rdsguard-{migration}-encrypted"))
}

/// A new member of the encrypted cluster.
pub fn member(old_member: &str, migration: &str) -> String {
    fit(old_member, &format!("enc-{migration}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_rds_identifiers() {
        assert_eq!(parked("orders", "202612012154"), "orders-unencrypted-20261201");
        assert_eq!(target("orders", "202612012154"), "orders-encrypted-202612012154");
        let long = "a".repeat(70);
        for name in [parked(&long, "202612012154"), target(&long, "202612012154"), member(&long, "202612012154")] {
            assert!(name.len() <= 63, "{name}");
        }
        assert_eq!(fit("ab-", "x"), "ab-x");
        assert_eq!(fit(&format!("{}-b", "a".repeat(60)), "xy"), format!("{}-xy", "a".repeat(60)));
    }
}
