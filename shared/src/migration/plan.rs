//! `rdsguard encrypt plan`: what a migration will do, from an observation (read calls only).

use std::fmt::Write;

use super::names;
use super::settings::Kind;
use super::steps::{Mode, Observation};

/// Whether `key` names the AWS managed key `aws/rds` (which cannot be shared across accounts and
/// whose key policy cannot be changed).
pub fn is_aws_managed_alias(key: &str) -> bool {
    key == "alias/aws/rds" || key.ends_with(":alias/aws/rds")
}

/// The plan as text. `migration` is the id the migration would take.
pub fn render(obs: &Observation, kms_key: &str, mode: Mode, migration: &str) -> String {
    let mut out = String::new();
    let kind = obs.kind();
    let original = obs.original.as_str();
    let what = match kind {
        Kind::Instance => "DB instance",
        Kind::Cluster => "DB cluster",
    };
    let Some(source) = &obs.source else {
        return format!("No {what} {original} in this account and region: nothing to plan.\n");
    };
    let _ = writeln!(out, "Plan: encrypt {what} {original} with KMS key {kms_key}");
    if let Some(existing) = obs.migration() {
        let _ = writeln!(
            out,
            "A migration ({existing}) exists already, at step {:?}: `rdsguard encrypt status` shows where it stands.",
            obs.milestone().unwrap_or("-")
        );
    }
    if source.encrypted {
        let _ = writeln!(
            out,
            "{original} is encrypted already (key {}): nothing to do.",
            source.kms_key_id.as_deref().unwrap_or("-")
        );
        return out;
    }
    let _ = writeln!(out, "\nSteps (each one idempotent; the state is kept in tags rdsguard:migration* in AWS):");
    let snapshot = names::snapshot(original, migration);
    let target = names::target(original, migration);
    let parked = names::parked(original, migration);
    let mut n = 0;
    let mut step = |out: &mut String, text: String| {
        n += 1;
        let _ = writeln!(out, "  {n}. {text}");
    };
    step(&mut out, format!("tag {original} with rdsguard:migration={migration} (and the key, the mode)"));
    if mode == Mode::Consistent {
        step(&mut out, format!("rename {original} to {parked} (its DNS name {original} stops resolving at once) and reboot it, cutting every open session: no writer reaches it after this"));
    }
    match kind {
        Kind::Instance => {
            step(&mut out, format!("CreateDBSnapshot {snapshot} (unencrypted)"));
            step(
                &mut out,
                format!(
                    "CopyDBSnapshot {snapshot} -> {} with KmsKeyId {kms_key}",
                    names::encrypted_copy(original, migration)
                ),
            );
            step(
                &mut out,
                format!("RestoreDBInstanceFromDBSnapshot {target} from the encrypted copy, with every setting below"),
            );
        }
        Kind::Cluster => {
            step(&mut out, format!("CreateDBClusterSnapshot {snapshot} (unencrypted)"));
            step(&mut out, format!("RestoreDBClusterFromSnapshot {target} from it with KmsKeyId {kms_key} (Aurora encrypts on restore), with every setting below"));
            for member in &source.members {
                step(
                    &mut out,
                    format!(
                        "CreateDBInstance {} in {target}: class {}, promotion tier {}{}",
                        names::member(&member.identifier, migration),
                        member.instance_class.as_deref().unwrap_or("-"),
                        member.promotion_tier.map_or("-".to_owned(), |t| t.to_string()),
                        if member.writer { " (was the writer)" } else { "" }
                    ),
                );
            }
        }
    }
    step(&mut out, format!("modify {target} for every setting the restore could not take; verify: encrypted with the key, engine and version equal, no setting differs; then \"ready for cutover\""));
    step(&mut out, format!("cutover (on `rdsguard encrypt cutover`): rename {} to {parked}, rename {target} to {original} (the endpoint name stays), stop the old one", if mode == Mode::Consistent { parked.as_str() } else { original }));
    let replicas = &source.read_replicas;
    if !replicas.is_empty() {
        step(&mut out, format!("recreate the read replicas {} from the new {original} (the old ones are renamed <name>-unencrypted-<date> and kept; RDS cannot encrypt a replica of an unencrypted source, and cannot stop an instance that has replicas, so the old primary keeps running until you remove them)", replicas.join(", ")));
    }
    let _ = writeln!(out, "  Nothing is deleted: the old database and both snapshots stay. `rdsguard encrypt rollback` renames back while the old database exists.");

    let _ = writeln!(out, "\nSettings carried over:");
    for row in source.settings.rows(kind) {
        let _ = writeln!(
            out,
            "  {:<38} {:<40} {}",
            row.name,
            if row.value.is_empty() { "-" } else { &row.value },
            row.how.describe(kind)
        );
    }
    if kind == Kind::Cluster {
        for member in &source.members {
            let fields: Vec<String> = member.rows().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(out, "  member {:<31} {}", member.identifier, fields.join(", "));
        }
    }
    if source.settings.master_user_secret == Some(true) {
        let _ = writeln!(out, "  note: the new database gets a new Secrets Manager secret for the master password: point the application at it.");
    }

    let _ = writeln!(out, "\nDowntime and writes:");
    match mode {
        Mode::Online => {
            let _ = writeln!(out, "  online (default): {original} keeps serving until cutover. Every write committed after the snapshot is taken is NOT in the new database and is lost at cutover (it stays in the old, stopped database). Downtime: the cutover itself, i.e. the two renames, minutes: the new name resolves only after RDS finishes the rename.");
        }
        Mode::Consistent => {
            let _ = writeln!(out, "  --consistent: no write after the snapshot is lost, because {original} is renamed and rebooted before the snapshot: clients using the name {original} cannot reach it. Downtime: from the rename to the end of cutover (snapshot + copy + restore + settings; for a large database hours). A client that connects by the new name {parked} or a cached IP address is not stopped: revoke it in the security group if that matters.");
        }
    }

    let _ = writeln!(out, "\nKMS key {kms_key}:");
    if is_aws_managed_alias(kms_key) {
        let _ = writeln!(out, "  WARNING: aws/rds is the AWS managed key: its policy cannot be changed and snapshots encrypted with it cannot be shared with another account. A customer-managed key is recommended.");
    } else {
        let _ = writeln!(out, "  A customer-managed key is recommended (you control its policy, rotation, and which accounts may use it; snapshots encrypted with it can be shared across accounts, which aws/rds snapshots cannot).");
    }
    let _ = writeln!(out, "  The caller needs kms:CreateGrant and kms:DescribeKey on it (RDS uses grants for the rest), and its key policy must allow that principal.");

    let _ = writeln!(out, "\nPitfalls handled or to know:");
    for line in [
        "a restore takes the default security group and parameter group unless told: rdsguard passes both and verifies them",
        "a rename drops the old DNS name at once; the new name resolves only after a few minutes and RDS reboots the instance",
        "read replicas of an unencrypted source cannot be encrypted: they are recreated from the new primary at cutover",
        "snapshots encrypted with aws/rds cannot be shared with another account",
        "an SCP that denies rds:RestoreDBInstanceFromDBSnapshot/CreateDBInstance on rds:StorageEncrypted=false still lets this restore through (it is encrypted), but one written as Null/StringNotEquals on a key the restore does not send breaks it: test the SCP",
        "a stopped database is started again by RDS after seven days: the old one comes back up and costs money until you remove it",
    ] {
        let _ = writeln!(out, "  - {line}");
    }
    out
}
