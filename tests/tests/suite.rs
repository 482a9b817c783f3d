//! Every integration test of rdsguard-tests in one binary: each file of tests/tests/ is a module
//! here, so `cargo test` links the AWS SDK into one test executable instead of one per file (the
//! link steps were most of CI's test build). Run one file's tests with a name filter:
//! `cargo test -p rdsguard-tests --test suite faults::` (or any part of a test's path).
//!
//! A file that sets process-wide state (environment variables) stays its own `[[test]]` binary in
//! Cargo.toml (endpoint_env.rs). `every_test_file_is_registered` fails when a file in a `tests/`
//! folder of the workspace is neither a module of its package's suite nor a `[[test]]` of its own,
//! so a new test file can never be silently skipped (Cargo.toml says `autotests = false`).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod alert_batch;
mod call_counts;
mod checks;
mod faults;
mod faults_guardrails;
mod faults_sweep;
mod fuzz;
mod guardduty_responder;
mod guardrail_manager;
mod ledger;
mod ledger_resolution;
mod ledger_securityhub;
mod ledger_template;
mod migration_action;
mod network_guard;
mod organization;
mod pipeline_guard;
mod rds_guard;
mod rds_guard_safety;
mod rds_rulebook;
mod recheck;
mod soak;
mod sweep;
mod template;
mod template_guardrails;
mod template_member;
mod template_migration;
mod template_pipeline;
mod template_sweep;

use std::collections::BTreeSet;
use std::path::Path;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The `members = [...]` of the workspace's Cargo.toml.
fn workspace_members() -> Vec<String> {
    let manifest = std::fs::read_to_string(format!("{WORKSPACE}/Cargo.toml")).unwrap();
    let line = manifest.lines().find(|l| l.trim_start().starts_with("members")).expect("workspace members");
    line.split('"').skip(1).step_by(2).map(str::to_owned).collect()
}

/// The `.rs` files directly in `<package>/tests/` (their folders are modules of a file, not tests).
fn test_files(package: &Path) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(package.join("tests")) else { return BTreeSet::new() };
    entries.map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|name| name.ends_with(".rs")).collect()
}

/// What a package runs: the files its `[[test]]` targets name and the modules its suite declares.
fn registered(package: &Path) -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(package.join("Cargo.toml")).unwrap();
    assert!(
        manifest.lines().any(|l| l.replace(' ', "") == "autotests=false"),
        "{}: without `autotests = false` every tests/*.rs file is its own binary again",
        package.display()
    );
    let mut files = BTreeSet::new();
    for line in manifest.lines().map(str::trim) {
        if let Some(path) = line.strip_prefix("path = \"tests/").and_then(|p| p.strip_suffix('"')) {
            files.insert(path.to_owned());
            let Ok(source) = std::fs::read_to_string(package.join("tests").join(path)) else { continue };
            for module in source.lines().filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';')) {
                files.insert(format!("{module}.rs"));
            }
        }
    }
    files
}

#[test]
fn every_test_file_is_registered() {
    let mut checked = 0;
    for member in workspace_members() {
        let package = Path::new(WORKSPACE).join(&member);
        let files = test_files(&package);
        if files.is_empty() {
            continue;
        }
        let registered = registered(&package);
        let missing: Vec<_> = files.difference(&registered).collect();
        assert!(
            missing.is_empty(),
            "{member}/tests: {missing:?} would never run: add `mod <name>;` to the package's tests/suite.rs \
             (or a [[test]] of its own in {member}/Cargo.toml if it changes process-wide state)"
        );
        let stale: Vec<_> = registered.difference(&files).collect();
        assert!(stale.is_empty(), "{member}: registered test files that do not exist: {stale:?}");
        checked += 1;
    }
    // shared, six of the seven functions (sweep-planner has none), cli and this crate have tests/ folders.
    assert!(checked >= 9, "only {checked} packages with tests/ found: is the workspace layout read right?");
}
