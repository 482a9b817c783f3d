//! The migration's next step, decided from what AWS shows now and nothing else.

use super::names;
use super::settings::{differences, Db, Difference, Kind, Member, Snapshot};

/// `Consistent`: before the snapshot the source is renamed (its DNS name disappears at once) and
/// rebooted (open sessions are cut), so no writer reaches it after the snapshot; the price is
/// downtime from the snapshot to the cutover. `Online`: the source keeps serving; writes made
/// after the snapshot are not in the new database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Consistent,
    Online,
}

impl Mode {
    pub fn as_tag(self) -> &'static str {
        match self {
            Self::Consistent => "consistent",
            Self::Online => "online",
        }
    }
}

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Start,
    Cutover,
    Rollback,
}

/// What AWS shows of one migration.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub kind: Option<Kind>,
    /// The identifier the user named (`--db`/`--cluster`).
    pub original: String,
    /// The unencrypted database (found by its tags once the migration began, else by name).
    pub source: Option<Db>,
    /// The encrypted database of this migration.
    pub target: Option<Db>,
    pub snapshot: Option<Snapshot>,
    /// Instances: the encrypted copy of the snapshot.
    pub encrypted_copy: Option<Snapshot>,
    /// Every database of the kind (to find names in use and read replicas).
    pub all: Vec<Db>,
}

impl Observation {
    pub fn kind(&self) -> Kind {
        self.kind.unwrap_or(Kind::Instance)
    }

    pub fn migration(&self) -> Option<&str> {
        self.source.as_ref()?.tag(names::TAG_MIGRATION)
    }

    pub fn milestone(&self) -> Option<&str> {
        self.source.as_ref()?.tag(names::TAG_STEP)
    }

    pub fn mode(&self) -> Mode {
        match self.source.as_ref().and_then(|s| s.tag(names::TAG_MODE)) {
            Some("consistent") => Mode::Consistent,
            _ => Mode::Online,
        }
    }

    pub fn named(&self, identifier: &str) -> Option<&Db> {
        self.all.iter().find(|d| d.identifier == identifier)
    }

    /// The source's read replicas when the migration began.
    pub fn replicas(&self) -> Vec<String> {
        self.source
            .as_ref()
            .and_then(|s| s.tag(names::TAG_REPLICAS))
            .map(|r| r.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Tag the source with a new migration id, the key, the mode and its read replicas.
    Begin {
        migration: String,
    },
    /// Consistent mode: rename the source to its parked name (the DNS name `<id>` disappears).
    Fence,
    /// Consistent mode: reboot the source (or each cluster member) to cut open sessions.
    CutSessions,
    Snapshot,
    /// Instances: copy the snapshot encrypted with the key.
    Copy,
    Restore,
    /// Clusters: create a member of the new cluster like `member`.
    CreateMember {
        member: Member,
        new_id: String,
    },
    /// Modify the new database for every setting that still differs.
    ApplySettings,
    MarkReady,
    RenameSourceAway,
    RenameTargetIn,
    StopSource,
    Rename {
        from: String,
        to: String,
    },
    CreateReplica {
        like: String,
    },
    MarkCutOver,
    RenameTargetAway,
    StartSource,
    RenameSourceBack,
    MarkRolledBack,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Verified: the new database is encrypted with the key and every setting equals the old one's.
    Ready,
    CutOver,
    RolledBack,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Do(Step),
    /// Something AWS is doing (creating, renaming...): look again later.
    Wait(String),
    Done(Outcome),
    /// Nothing can be done; why.
    Refuse(String),
}

fn available(db: &Db) -> bool {
    db.status_is("available")
}

fn waiting(what: &str, db: &Db) -> Next {
    Next::Wait(format!("{what} {} is {}", db.identifier, db.status))
}

/// Whether `target` is encrypted with the key the user named (an id, ARN or alias). For an alias
/// the key RDS resolved for the copy or the restore is the authority.
pub fn key_matches(wanted: &str, actual: Option<&str>, resolved: Option<&str>) -> bool {
    let Some(actual) = actual else { return false };
    if wanted.starts_with("arn:") && !wanted.contains(":alias/") {
        return actual == wanted;
    }
    if wanted.starts_with("alias/") || wanted.contains(":alias/") {
        return resolved.is_none_or(|r| r == actual);
    }
    actual == wanted || actual.ends_with(&format!(":key/{wanted}"))
}

/// Why the new database is not (yet) a faithful encrypted copy: the settings that differ, and the
/// encryption itself.
pub fn verify(obs: &Observation, source: &Db, target: &Db, kms_key: &str) -> Vec<Difference> {
    let mut problems = differences(obs.kind(), source, target);
    let resolved = obs.encrypted_copy.as_ref().and_then(|c| c.kms_key_id.as_deref());
    if !target.encrypted || !key_matches(kms_key, target.kms_key_id.as_deref(), resolved) {
        problems.insert(
            0,
            Difference {
                setting: "storage encryption".to_owned(),
                source: format!("wanted: encrypted with {kms_key}"),
                target: format!("encrypted={} key={}", target.encrypted, target.kms_key_id.as_deref().unwrap_or("-")),
            },
        );
    }
    problems
}

/// The next step of `phase`. `new_migration` is the id a `Begin` would use.
pub fn next(phase: Phase, obs: &Observation, new_migration: &str) -> Next {
    let original = obs.original.as_str();
    let Some(source) = &obs.source else {
        return Next::Refuse(format!("no database {original} (and no migration of it)"));
    };
    let migration = obs.migration();
    let milestone = obs.milestone().unwrap_or("");
    match phase {
        Phase::Start => start(obs, source, migration, milestone, new_migration),
        Phase::Cutover => cutover(obs, source, migration, milestone),
        Phase::Rollback => rollback(obs, source, migration, milestone),
    }
}

fn start(obs: &Observation, source: &Db, migration: Option<&str>, milestone: &str, new_migration: &str) -> Next {
    let original = obs.original.as_str();
    let kind = obs.kind();
    let fresh = migration.is_none() || matches!(milestone, "rolled-back");
    if fresh {
        if source.encrypted {
            return Next::Refuse(format!("{original} is encrypted already"));
        }
        if let Some(primary) = &source.replica_source {
            return Next::Refuse(format!(
                "{original} is a read replica of {primary}: migrate {primary}; its replicas are recreated at cutover"
            ));
        }
        if kind == Kind::Cluster && !source.read_replicas.is_empty() {
            return Next::Refuse(format!(
                "{original} has read replica clusters ({}): they cannot follow an encrypted copy; remove them \
                 first and recreate them after cutover",
                source.read_replicas.join(", ")
            ));
        }
        if let Some(cluster) = &source.cluster {
            return Next::Refuse(format!("{original} is a member of cluster {cluster}: use --cluster {cluster}"));
        }
        if !available(source) {
            return Next::Refuse(format!("{original} is {}, not available", source.status));
        }
        return Next::Do(Step::Begin { migration: new_migration.to_owned() });
    }
    let Some(migration) = migration else { return Next::Refuse("no migration".to_owned()) };
    if milestone == "cut-over" {
        return Next::Done(Outcome::CutOver);
    }
    if obs.mode() == Mode::Consistent {
        if source.identifier == original {
            return if available(source) { Next::Do(Step::Fence) } else { waiting("source", source) };
        }
        if milestone == "started" {
            return if available(source) { Next::Do(Step::CutSessions) } else { waiting("source", source) };
        }
    }
    let Some(snapshot) = &obs.snapshot else {
        return if available(source) { Next::Do(Step::Snapshot) } else { waiting("source", source) };
    };
    if snapshot.status != "available" {
        return Next::Wait(format!("snapshot {} is {}", snapshot.identifier, snapshot.status));
    }
    if kind == Kind::Instance {
        let Some(copy) = &obs.encrypted_copy else { return Next::Do(Step::Copy) };
        if copy.status != "available" {
            return Next::Wait(format!("encrypted copy {} is {}", copy.identifier, copy.status));
        }
    }
    let Some(target) = &obs.target else { return Next::Do(Step::Restore) };
    if kind == Kind::Cluster {
        for member in &source.members {
            let new_id = names::member(&member.identifier, migration);
            if !target.members.iter().any(|m| m.identifier == new_id) {
                return if available(target) {
                    Next::Do(Step::CreateMember { member: member.clone(), new_id })
                } else {
                    waiting("new cluster", target)
                };
            }
        }
        if let Some(busy) = target.members.iter().find(|m| m.status.as_deref() != Some("available")) {
            return Next::Wait(format!(
                "new member {} is {}",
                busy.identifier,
                busy.status.as_deref().unwrap_or("unknown")
            ));
        }
    }
    if !available(target) {
        return waiting("new database", target);
    }
    if target.tag(names::TAG_STEP) != Some("settings-applied") {
        return Next::Do(Step::ApplySettings);
    }
    let key = source.tag(names::TAG_KEY).unwrap_or_default();
    let problems = verify(obs, source, target, key);
    if !problems.is_empty() {
        let lines: Vec<String> =
            problems.iter().map(|d| format!("  {}: old {} / new {}", d.setting, d.source, d.target)).collect();
        return Next::Refuse(format!("verification of {} failed:\n{}", target.identifier, lines.join("\n")));
    }
    if milestone != "ready" {
        return Next::Do(Step::MarkReady);
    }
    Next::Done(Outcome::Ready)
}

fn cutover(obs: &Observation, source: &Db, migration: Option<&str>, milestone: &str) -> Next {
    let original = obs.original.as_str();
    let Some(migration) = migration else { return Next::Refuse(format!("no migration of {original} to cut over")) };
    match milestone {
        "cut-over" => return Next::Done(Outcome::CutOver),
        "ready" => {}
        other => {
            return Next::Refuse(format!(
                "the migration of {original} is not ready for cutover (step {other:?}): run `rdsguard encrypt start` until it says ready"
            ))
        }
    }
    let Some(target) = &obs.target else {
        return Next::Refuse(format!("the new database of migration {migration} is gone"));
    };
    if source.identifier == original {
        return if available(source) { Next::Do(Step::RenameSourceAway) } else { waiting("source", source) };
    }
    if target.identifier != original {
        if obs.named(original).is_some() {
            return Next::Wait(format!("the name {original} is still taken (rename in progress)"));
        }
        return if available(target) { Next::Do(Step::RenameTargetIn) } else { waiting("new database", target) };
    }
    if !available(target) {
        return waiting("new database", target);
    }
    for replica in obs.replicas() {
        match obs.named(&replica) {
            Some(old) if old.replica_source.as_deref() == Some(source.identifier.as_str()) => {
                if !available(old) {
                    return waiting("old replica", old);
                }
                return Next::Do(Step::Rename { from: replica.clone(), to: names::parked(&replica, migration) });
            }
            Some(new) if !available(new) => return waiting("new replica", new),
            Some(_) => {}
            // Recreated like the old one, kept under its parked name; gone altogether: nothing to copy.
            None if obs.named(&names::parked(&replica, migration)).is_some() => {
                return Next::Do(Step::CreateReplica { like: replica })
            }
            None => {}
        }
    }
    // RDS cannot stop an instance that has read replicas: then the old one keeps running.
    if !source.status_is("stopped") && source.read_replicas.is_empty() {
        if source.status_is("stopping") || !available(source) {
            return waiting("old database", source);
        }
        return Next::Do(Step::StopSource);
    }
    Next::Do(Step::MarkCutOver)
}

fn rollback(obs: &Observation, source: &Db, migration: Option<&str>, milestone: &str) -> Next {
    let original = obs.original.as_str();
    let Some(migration) = migration else { return Next::Refuse(format!("no migration of {original} to roll back")) };
    if milestone == "rolled-back" {
        return Next::Done(Outcome::RolledBack);
    }
    if let Some(target) = &obs.target {
        if target.identifier == original {
            return if available(target) { Next::Do(Step::RenameTargetAway) } else { waiting("new database", target) };
        }
    }
    for replica in obs.replicas() {
        let parked = names::parked(&replica, migration);
        if let Some(new) = obs.named(&replica) {
            if obs.named(&parked).is_some() && new.replica_source.as_deref() != Some(source.identifier.as_str()) {
                if !available(new) {
                    return waiting("new replica", new);
                }
                return Next::Do(Step::Rename { from: replica.clone(), to: names::target(&replica, migration) });
            }
        } else if let Some(old) = obs.named(&parked) {
            if !available(old) {
                return waiting("old replica", old);
            }
            return Next::Do(Step::Rename { from: parked, to: replica });
        }
    }
    if source.status_is("stopped") {
        return Next::Do(Step::StartSource);
    }
    if !available(source) {
        return waiting("old database", source);
    }
    if source.identifier != original {
        if obs.named(original).is_some() {
            return Next::Wait(format!("the name {original} is still taken (rename in progress)"));
        }
        return Next::Do(Step::RenameSourceBack);
    }
    Next::Do(Step::MarkRolledBack)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::settings::Settings;

    const MIG: &str = "202612012154";

    fn db(id: &str, status: &str, tags: &[(&str, &str)]) -> Db {
        Db {
            kind: Some(Kind::Instance),
            identifier: id.into(),
            arn: format!("arn:aws:rds:eu-west-1:111122223333:db:{id}"),
            status: status.into(),
            all_tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            settings: Settings { iam_auth: Some(true), ..Settings::default() },
            ..Db::default()
        }
    }

    fn source_tags<'a>(step: &'a str, mode: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            (names::TAG_MIGRATION, MIG),
            (names::TAG_ROLE, "source"),
            (names::TAG_OF, "orders"),
            (names::TAG_STEP, step),
            (names::TAG_MODE, mode),
            (names::TAG_KEY, "arn:aws:kms:eu-west-1:111122223333:key/k1"),
        ]
    }

    fn snap(id: &str, status: &str) -> Snapshot {
        Snapshot { identifier: id.into(), status: status.into(), ..Snapshot::default() }
    }

    fn encrypted_target(id: &str, applied: bool) -> Db {
        let mut target = db(id, "available", &[(names::TAG_MIGRATION, MIG), (names::TAG_ROLE, "target")]);
        if applied {
            target.all_tags.push((names::TAG_STEP.into(), "settings-applied".into()));
        }
        target.encrypted = true;
        target.kms_key_id = Some("arn:aws:kms:eu-west-1:111122223333:key/k1".into());
        target
    }

    fn obs(source: Db, snapshot: Option<Snapshot>, copy: Option<Snapshot>, target: Option<Db>) -> Observation {
        let mut all = vec![source.clone()];
        all.extend(target.clone());
        Observation {
            kind: Some(Kind::Instance),
            original: "orders".into(),
            source: Some(source),
            target,
            snapshot,
            encrypted_copy: copy,
            all,
        }
    }

    #[test]
    fn start_walks_the_steps_in_order() {
        let started = source_tags("started", "online");
        let ready = source_tags("ready", "online");
        let consistent = source_tags("started", "consistent");
        let fenced = source_tags("fenced", "consistent");
        let snapshot = || Some(snap("orders-rdsguard-x", "available"));
        let copy = || Some(snap("orders-rdsguard-x-encrypted", "available"));
        let cases: Vec<(&str, Observation, Next)> = vec![
            (
                "untagged",
                obs(db("orders", "available", &[]), None, None, None),
                Next::Do(Step::Begin { migration: "new".into() }),
            ),
            ("tagged", obs(db("orders", "available", &started), None, None, None), Next::Do(Step::Snapshot)),
            (
                "consistent: fence first",
                obs(db("orders", "available", &consistent), None, None, None),
                Next::Do(Step::Fence),
            ),
            (
                "consistent: renamed, cut sessions",
                obs(db("orders-unencrypted-20261201", "available", &consistent), None, None, None),
                Next::Do(Step::CutSessions),
            ),
            (
                "consistent: fenced",
                obs(db("orders-unencrypted-20261201", "available", &fenced), None, None, None),
                Next::Do(Step::Snapshot),
            ),
            (
                "consistent: still renaming",
                obs(db("orders-unencrypted-20261201", "renaming", &consistent), None, None, None),
                Next::Wait("source orders-unencrypted-20261201 is renaming".into()),
            ),
            (
                "snapshot creating",
                obs(db("orders", "available", &started), Some(snap("s", "creating")), None, None),
                Next::Wait("snapshot s is creating".into()),
            ),
            ("copy", obs(db("orders", "available", &started), snapshot(), None, None), Next::Do(Step::Copy)),
            ("restore", obs(db("orders", "available", &started), snapshot(), copy(), None), Next::Do(Step::Restore)),
            (
                "target creating",
                obs(db("orders", "available", &started), snapshot(), copy(), Some(db("t", "creating", &[]))),
                Next::Wait("new database t is creating".into()),
            ),
            (
                "apply settings",
                obs(db("orders", "available", &started), snapshot(), copy(), Some(encrypted_target("t", false))),
                Next::Do(Step::ApplySettings),
            ),
            (
                "mark ready",
                obs(db("orders", "available", &started), snapshot(), copy(), Some(encrypted_target("t", true))),
                Next::Do(Step::MarkReady),
            ),
            (
                "ready",
                obs(db("orders", "available", &ready), snapshot(), copy(), Some(encrypted_target("t", true))),
                Next::Done(Outcome::Ready),
            ),
        ];
        for (name, observation, expected) in cases {
            assert_eq!(next(Phase::Start, &observation, "new"), expected, "{name}");
        }
    }

    #[test]
    fn a_target_that_differs_or_is_not_encrypted_is_refused() {
        let started = source_tags("started", "online");
        let mut wrong_key = encrypted_target("t", true);
        wrong_key.kms_key_id = Some("arn:aws:kms:eu-west-1:111122223333:key/other".into());
        let mut no_iam = encrypted_target("t", true);
        no_iam.settings.iam_auth = Some(false);
        for (name, target, needle) in
            [("wrong key", wrong_key, "storage encryption"), ("IAM auth lost", no_iam, "IAM database authentication")]
        {
            let o = obs(
                db("orders", "available", &started),
                Some(snap("s", "available")),
                Some(snap("c", "available")),
                Some(target),
            );
            match next(Phase::Start, &o, "new") {
                Next::Refuse(why) => assert!(why.contains(needle), "{name}: {why}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn refusals_before_anything_is_done() {
        let mut encrypted = db("orders", "available", &[]);
        encrypted.encrypted = true;
        let mut replica = db("orders", "available", &[]);
        replica.replica_source = Some("primary".into());
        for (name, source, needle) in [
            ("encrypted", encrypted, "encrypted already"),
            ("replica", replica, "read replica of primary"),
            ("stopped", db("orders", "stopped", &[]), "stopped, not available"),
        ] {
            match next(Phase::Start, &obs(source, None, None, None), "new") {
                Next::Refuse(why) => assert!(why.contains(needle), "{name}: {why}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        let mut replicated = db("ledger", "available", &[]);
        replicated.kind = Some(Kind::Cluster);
        replicated.read_replicas = vec!["arn:aws:rds:eu-west-2:111122223333:cluster:ledger-dr".into()];
        let mut cluster_obs = obs(replicated, None, None, None);
        cluster_obs.kind = Some(Kind::Cluster);
        match next(Phase::Start, &cluster_obs, "new") {
            Next::Refuse(why) => assert!(why.contains("read replica clusters"), "{why}"),
            other => panic!("cluster with replicas: {other:?}"),
        }
        let none = Observation { original: "orders".into(), ..Observation::default() };
        assert!(matches!(next(Phase::Cutover, &none, "x"), Next::Refuse(_)));
    }

    #[test]
    fn cutover_renames_then_stops_and_refuses_before_ready() {
        let ready = source_tags("ready", "online");
        let started = source_tags("started", "online");
        let parked = "orders-unencrypted-20261201";
        let target_name = names::target("orders", MIG);
        let cases: Vec<(&str, Observation, Next)> = vec![
            (
                "rename source",
                obs(db("orders", "available", &ready), None, None, Some(encrypted_target(&target_name, true))),
                Next::Do(Step::RenameSourceAway),
            ),
            (
                "rename target",
                obs(db(parked, "available", &ready), None, None, Some(encrypted_target(&target_name, true))),
                Next::Do(Step::RenameTargetIn),
            ),
            (
                "stop old",
                obs(db(parked, "available", &ready), None, None, Some(encrypted_target("orders", true))),
                Next::Do(Step::StopSource),
            ),
            (
                "mark",
                obs(db(parked, "stopped", &ready), None, None, Some(encrypted_target("orders", true))),
                Next::Do(Step::MarkCutOver),
            ),
        ];
        for (name, observation, expected) in cases {
            assert_eq!(next(Phase::Cutover, &observation, "x"), expected, "{name}");
        }
        let not_ready =
            obs(db("orders", "available", &started), None, None, Some(encrypted_target(&target_name, true)));
        assert!(matches!(next(Phase::Cutover, &not_ready, "x"), Next::Refuse(why) if why.contains("not ready")));
    }

    #[test]
    fn rollback_reverses_the_renames() {
        let cut = source_tags("cut-over", "online");
        let parked = "orders-unencrypted-20261201";
        let cases: Vec<(&str, Observation, Next)> = vec![
            (
                "target away",
                obs(db(parked, "stopped", &cut), None, None, Some(encrypted_target("orders", true))),
                Next::Do(Step::RenameTargetAway),
            ),
            (
                "start old",
                obs(db(parked, "stopped", &cut), None, None, Some(encrypted_target("t", true))),
                Next::Do(Step::StartSource),
            ),
            (
                "rename back",
                obs(db(parked, "available", &cut), None, None, Some(encrypted_target("t", true))),
                Next::Do(Step::RenameSourceBack),
            ),
            (
                "mark",
                obs(db("orders", "available", &cut), None, None, Some(encrypted_target("t", true))),
                Next::Do(Step::MarkRolledBack),
            ),
        ];
        for (name, observation, expected) in cases {
            assert_eq!(next(Phase::Rollback, &observation, "x"), expected, "{name}");
        }
    }

    #[test]
    fn keys_match_by_arn_id_or_alias() {
        let arn = "arn:aws:kms:eu-west-1:111122223333:key/k1";
        let cases = [
            (arn, Some(arn), None, true),
            ("k1", Some(arn), None, true),
            ("k2", Some(arn), None, false),
            ("alias/rdsguard", Some(arn), Some(arn), true),
            ("alias/rdsguard", Some(arn), Some("arn:aws:kms:eu-west-1:111122223333:key/k9"), false),
            (arn, None, None, false),
        ];
        for (wanted, actual, resolved, expected) in cases {
            assert_eq!(key_matches(wanted, actual, resolved), expected, "{wanted} {actual:?}");
        }
    }
}
