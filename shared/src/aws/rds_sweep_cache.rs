//! What one sweep of an account-region reads once ([`SdkRds::for_sweep`]): a parameter group's
//! parameter, and the region's database listing the shared-group gate filters by group and the
//! security-group check reads the databases behind each group from. A sweep
//! judges every database, and many share one parameter group: without this, each of them read the
//! group's parameters and listed the region's databases again (the TLS rules' shared-group gate).
//!
//! Never stale where it matters: a group rdsguard writes to is never served from the cache again
//! (the fix is confirmed by reading the parameter back from AWS), and the listing is used only for
//! which databases sit on a group and whether any is exempt — what a sweep's own fixes do not
//! change. The cache lives as long as the sweep's [`SdkRds`] (one account-region).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::rds_parameters::ParameterLookup;
use crate::database::{Database, DatabaseKind};
use crate::network::DatabaseListener;

#[derive(Debug, Default)]
pub struct SweepCache {
    parameters: Mutex<HashMap<(DatabaseKind, String, String), ParameterLookup>>,
    written: Mutex<HashSet<(DatabaseKind, String)>>,
    listings: Mutex<HashMap<DatabaseKind, Vec<Database>>>,
    /// Each database of the listing with its VPC security groups and the port it listens on.
    listeners: Mutex<HashMap<DatabaseKind, Vec<GroupedListener>>>,
    /// The key id behind `alias/aws/rds`, asked once (`None` inside: none, or it could not be read).
    pub(super) managed_key: tokio::sync::OnceCell<Option<String>>,
}

/// A database as the security-group check needs it, with the groups it uses.
pub type GroupedListener = (Vec<String>, DatabaseListener);

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SweepCache {
    pub fn parameter(&self, kind: DatabaseKind, group: &str, name: &str) -> Option<ParameterLookup> {
        if lock(&self.written).contains(&(kind, group.to_owned())) {
            return None;
        }
        lock(&self.parameters).get(&(kind, group.to_owned(), name.to_owned())).cloned()
    }

    pub fn keep_parameter(&self, kind: DatabaseKind, group: &str, name: &str, lookup: &ParameterLookup) {
        if !lock(&self.written).contains(&(kind, group.to_owned())) {
            lock(&self.parameters).insert((kind, group.to_owned(), name.to_owned()), lookup.clone());
        }
    }

    /// `group` is being written: every later read of it goes to AWS.
    pub fn written(&self, kind: DatabaseKind, group: &str) {
        lock(&self.written).insert((kind, group.to_owned()));
        lock(&self.parameters).retain(|(k, g, _), _| !(*k == kind && g == group));
    }

    pub fn listing(&self, kind: DatabaseKind) -> Option<Vec<Database>> {
        lock(&self.listings).get(&kind).cloned()
    }

    pub fn keep_listing(&self, kind: DatabaseKind, databases: &[Database]) {
        lock(&self.listings).insert(kind, databases.to_vec());
    }

    pub fn listeners(&self, kind: DatabaseKind) -> Option<Vec<GroupedListener>> {
        lock(&self.listeners).get(&kind).cloned()
    }

    pub fn keep_listeners(&self, kind: DatabaseKind, listeners: Vec<GroupedListener>) {
        lock(&self.listeners).insert(kind, listeners);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_group_is_never_served_from_the_cache() {
        let cache = SweepCache::default();
        let off = ParameterLookup::Found { value: Some("0".into()), source: None, allowed_values: None };
        cache.keep_parameter(DatabaseKind::Instance, "pg-shared", "rds.force_ssl", &off);
        assert_eq!(cache.parameter(DatabaseKind::Instance, "pg-shared", "rds.force_ssl"), Some(off.clone()));
        assert_eq!(cache.parameter(DatabaseKind::Cluster, "pg-shared", "rds.force_ssl"), None, "per kind");
        cache.written(DatabaseKind::Instance, "pg-shared");
        assert_eq!(cache.parameter(DatabaseKind::Instance, "pg-shared", "rds.force_ssl"), None);
        cache.keep_parameter(DatabaseKind::Instance, "pg-shared", "rds.force_ssl", &off);
        assert_eq!(cache.parameter(DatabaseKind::Instance, "pg-shared", "rds.force_ssl"), None, "not kept again");
        assert_eq!(cache.listing(DatabaseKind::Instance), None);
        cache.keep_listing(DatabaseKind::Instance, &[]);
        assert_eq!(cache.listing(DatabaseKind::Instance), Some(vec![]));
    }
}
