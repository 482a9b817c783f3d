//! Sweeping one account and region: every DB instance, DB cluster, manual DB (cluster) snapshot,
//! parameter group in use and security group in front of a database, judged by the same checks the
//! event functions run ([`crate::checks`], [`crate::group_check`]), with the same policy,
//! exemptions and remediation. Databases come from one paginated listing (no per-database
//! Describe); a security group is checked once however many databases use it. `rdsguard scan` runs
//! this per account-region.
//!
//! A sweep is *complete* only when every listing and every check succeeded ([`RegionSweep::complete`]):
//! a partial sweep must not be taken as proof that a finding it did not see is gone.

use std::collections::{BTreeSet, HashSet};

use crate::action::ActionOutcome;
use crate::arn::{Arn, RdsResourceKind};
use crate::aws::{NetworkPorts, SweepPort};
use crate::checks::{judge_database, judge_snapshot, CheckScope, Checked};
use crate::database::DatabaseKind;
use crate::db_snapshot::{Snapshot, SnapshotKind};
use crate::finding::Finding;
use crate::group_check::check_security_groups;
use crate::identity::{AccountId, AwsRegion};
use crate::ledger::{gone, id_of, no_longer_found, LedgerItem};
use crate::network::SECURITY_GROUP_TYPE;
use crate::policy::{Policy, RuleAction};
use crate::rules::RuleId;

/// How many resources of each type a sweep judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Judged {
    pub db_instances: usize,
    pub db_clusters: usize,
    pub snapshots: usize,
    pub security_groups: usize,
}

impl Judged {
    pub fn add(&mut self, other: Judged) {
        self.db_instances += other.db_instances;
        self.db_clusters += other.db_clusters;
        self.snapshots += other.snapshots;
        self.security_groups += other.security_groups;
    }

    pub fn total(&self) -> usize {
        self.db_instances + self.db_clusters + self.snapshots + self.security_groups
    }
}

/// What sweeping one account-region found and did.
#[derive(Debug)]
pub struct RegionSweep {
    pub account: AccountId,
    pub region: AwsRegion,
    pub findings: Vec<(Finding, ActionOutcome)>,
    /// Rules judged compliant on a database (what a ledger may resolve after a complete sweep).
    pub compliant: Vec<Finding>,
    pub undetermined: Vec<String>,
    pub judged: Judged,
    /// Listings or checks that failed; any makes the sweep partial.
    pub errors: Vec<String>,
    /// ARNs of every DB instance, DB cluster and manual DB (cluster) snapshot listed.
    pub listed: BTreeSet<String>,
    /// ARNs of the security groups judged in full (no ingress rule left undetermined).
    pub groups_judged: BTreeSet<String>,
}

impl RegionSweep {
    fn new(account: &AccountId, region: &AwsRegion) -> Self {
        Self {
            account: account.clone(),
            region: region.clone(),
            findings: Vec::new(),
            compliant: Vec::new(),
            undetermined: Vec::new(),
            judged: Judged::default(),
            errors: Vec::new(),
            listed: BTreeSet::new(),
            groups_judged: BTreeSet::new(),
        }
    }

    /// The findings `held` by the ledger in this account-region that this sweep no longer sees:
    /// those on a database or snapshot it did not list (gone), and those on an ingress rule of a
    /// group it judged in full that it did not find again (revoked or changed). Meaningful only
    /// for a [complete](Self::complete) sweep; rules judged compliant are in [`Self::compliant`].
    pub fn no_longer_seen(&self, held: &[LedgerItem], policy: &Policy) -> Vec<Finding> {
        let listed_types = [
            RdsResourceKind::DbInstance,
            RdsResourceKind::DbCluster,
            RdsResourceKind::DbSnapshot,
            RdsResourceKind::DbClusterSnapshot,
        ]
        .map(RdsResourceKind::cloudformation_type);
        let vanished: Vec<LedgerItem> = held
            .iter()
            .filter(|item| listed_types.contains(&item.resource_type.as_str()) && !self.listed.contains(&item.resource))
            .cloned()
            .collect();
        let on_judged_groups: Vec<LedgerItem> = held
            .iter()
            .filter(|item| item.resource_type == SECURITY_GROUP_TYPE && self.groups_judged.contains(&item.resource))
            .cloned()
            .collect();
        let seen: HashSet<String> = self.findings.iter().map(|(finding, _)| id_of(finding)).collect();
        let judged = |rule: RuleId| RuleId::NETWORK.contains(&rule) && policy.effective_action(rule) != RuleAction::Off;
        let mut cleared = gone(&vanished);
        cleared.extend(no_longer_found(&on_judged_groups, &seen, judged));
        cleared
    }

    /// Whether every listing and check succeeded.
    pub fn complete(&self) -> bool {
        self.errors.is_empty()
    }

    fn take(&mut self, checked: Checked) {
        self.findings.extend(checked.findings);
        self.compliant.extend(checked.compliant);
        self.undetermined.extend(checked.undetermined);
        if let Some(failure) = checked.failure {
            self.errors.push(format!("{}: {failure}", checked.resource));
        }
    }
}

/// Sweeps one account and region (`scope`), through `rds` and `network` connected there.
pub async fn sweep_region(scope: CheckScope<'_>, rds: &dyn SweepPort, network: &NetworkPorts) -> RegionSweep {
    let mut sweep = RegionSweep::new(scope.account, scope.region);
    let mut groups: BTreeSet<String> = BTreeSet::new();
    for kind in [DatabaseKind::Instance, DatabaseKind::Cluster] {
        let databases = match rds.list_databases(kind).await {
            Ok(databases) => databases,
            Err(e) => {
                sweep.errors.push(e.to_string());
                continue;
            }
        };
        for db in databases {
            // Listed, so it exists, whatever the engine (findings held on what is not listed resolve).
            let (region, account) = (scope.region, scope.account);
            sweep.listed.insert(db.state.arn.clone().unwrap_or_else(|| {
                Arn::rds(
                    region.partition(),
                    region.as_str(),
                    account.as_str(),
                    kind.resource_kind(),
                    &db.state.identifier,
                )
                .to_string()
            }));
            if !db.state.is_rds_engine() {
                continue;
            }
            groups.extend(db.state.security_groups.iter().cloned());
            match kind {
                DatabaseKind::Instance => sweep.judged.db_instances += 1,
                DatabaseKind::Cluster => sweep.judged.db_clusters += 1,
            }
            let checked = judge_database(scope, rds, db, None).await;
            sweep.take(checked);
        }
    }
    for kind in [SnapshotKind::Instance, SnapshotKind::Cluster] {
        let snapshots = match rds.list_manual_snapshots(kind).await {
            Ok(snapshots) => snapshots,
            Err(e) => {
                sweep.errors.push(e.to_string());
                continue;
            }
        };
        for state in snapshots {
            sweep.judged.snapshots += 1;
            let checked = judge_snapshot(scope, rds, Snapshot { kind, state }, None).await;
            sweep.listed.insert(checked.resource.clone());
            sweep.take(checked);
        }
    }
    let groups: Vec<String> = groups.into_iter().collect();
    match check_security_groups(&groups, scope, network).await {
        Ok(checks) => {
            for check in checks {
                sweep.judged.security_groups += 1;
                if check.undetermined.is_empty() {
                    sweep.groups_judged.insert(check.arn.clone());
                }
                sweep.findings.extend(check.findings);
                sweep.undetermined.extend(check.undetermined);
            }
        }
        Err(e) => sweep.errors.push(format!("security groups {}: {e}", groups.join(", "))),
    }
    sweep
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::ledger::unseen::held_item;
    use crate::remediate::{ActionKind, ActionStatus};

    const ACCOUNT: &str = "123456789012";
    const REGION: &str = "us-east-1";
    const DB: &str = "arn:aws:rds:us-east-1:123456789012:db:orders";
    const SNAPSHOT: &str = "arn:aws:rds:us-east-1:123456789012:snapshot:nightly";
    const SG: &str = "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0123456789abcdef0";

    fn sweep(listed: &[&str], groups_judged: &[&str], still_open: Option<&LedgerItem>) -> RegionSweep {
        let mut sweep = RegionSweep::new(&AccountId::parse(ACCOUNT).unwrap(), &AwsRegion::parse(REGION).unwrap());
        sweep.listed = listed.iter().map(|s| (*s).to_owned()).collect();
        sweep.groups_judged = groups_judged.iter().map(|s| (*s).to_owned()).collect();
        if let Some(item) = still_open {
            let mut finding =
                crate::ledger::unseen::cleared_finding(item, crate::ledger::Unseen::NoLongerFound).unwrap();
            finding.observed = serde_json::json!({"rule": "still open"});
            sweep.findings.push((finding, ActionOutcome::new(ActionKind::AlertOnly, ActionStatus::NotAttempted, "x")));
        }
        sweep
    }

    #[test]
    fn a_sweep_resolves_what_it_no_longer_lists_or_finds_and_nothing_else() {
        let sgr = |n: u8| format!("arn:aws:ec2:us-east-1:123456789012:security-group-rule/sgr-{n:017}");
        let (revoked, open) = (sgr(1), sgr(2));
        let items = HashMap::from([
            ("db gone", held_item("RDS.10", "AWS::RDS::DBInstance", DB, None)),
            ("snapshot gone", held_item("RDS.4", "AWS::RDS::DBSnapshot", SNAPSHOT, None)),
            ("deletion finding", held_item("RDSGUARD.DELETE_NO_SNAPSHOT", "AWS::RDS::DBInstance", DB, None)),
            ("rule revoked", held_item("EC2.19", SECURITY_GROUP_TYPE, SG, Some(&revoked))),
            ("rule still open", held_item("EC2.19", SECURITY_GROUP_TYPE, SG, Some(&open))),
            (
                "parameter group",
                held_item("RDS.38", "AWS::RDS::DBParameterGroup", "arn:aws:rds:us-east-1:123456789012:pg:p", None),
            ),
        ]);
        let policy = Policy::from_vars([
            ("ALERT_TOPIC_ARN".to_owned(), "arn:aws:sns:us-east-1:123456789012:t".to_owned()),
            ("ALLOWED_REGIONS".to_owned(), "us-east-1".to_owned()),
        ])
        .unwrap();
        // (case, ARNs listed, groups judged in full, what resolves)
        type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
        let cases: [Case; 3] = [
            ("nothing listed, group judged", &[], &[SG], &["db gone", "snapshot gone", "rule revoked"]),
            ("all listed, group judged", &[DB, SNAPSHOT], &[SG], &["rule revoked"]),
            ("all listed, group not judged in full", &[DB, SNAPSHOT], &[], &[]),
        ];
        for (name, listed, groups, expected) in cases {
            let held: Vec<LedgerItem> = items.values().cloned().collect();
            let cleared = sweep(listed, groups, items.get("rule still open")).no_longer_seen(&held, &policy);
            let mut got: Vec<&str> = cleared
                .iter()
                .filter_map(|f| items.iter().find(|(_, i)| crate::ledger::id_of(f) == i.finding_id).map(|(k, _)| *k))
                .collect();
            got.sort_unstable();
            let mut expected = expected.to_vec();
            expected.sort_unstable();
            assert_eq!(got, expected, "{name}");
        }
    }
}
