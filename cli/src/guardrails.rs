//! `rdsguard guardrails render|plan|apply`: the guardrail-manager function's settings, catalogue,
//! packing and reconcile, driven from a terminal (`rdsguard guardrails --help` lists the settings).

use std::process::ExitCode;

use clap::ArgMatches;
use guardrail_manager::cli::{render, settings};
use rdsguard::aws::SdkOrganizations;
use rdsguard::guardrails::{apply, plan_for};

use crate::fail;

pub use guardrail_manager::cli::command;

pub async fn run(guardrails: &ArgMatches) -> ExitCode {
    let settings = match settings(guardrails, std::env::vars()) {
        Ok(settings) => settings,
        Err(e) => return fail(&e),
    };
    match guardrails.subcommand() {
        Some(("render", _)) => {
            match render(&settings).and_then(|v| serde_json::to_string_pretty(&v).map_err(|e| e.to_string())) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Some((action @ ("plan" | "apply"), _)) => {
            let config = aws_config::load_from_env().await;
            let organization = SdkOrganizations::new(aws_sdk_organizations::Client::new(&config));
            let (plan, state) = match plan_for(&organization, &settings).await {
                Ok(result) => result,
                Err(e) => return fail(&e.to_string()),
            };
            println!("{}", plan.render());
            if action == "plan" || plan.is_empty() {
                return ExitCode::SUCCESS;
            }
            match apply(&organization, &settings, &plan, &state).await {
                Ok(_) => {
                    println!("applied {} change(s)", plan.changes.len());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e.to_string()),
            }
        }
        _ => fail("unknown guardrails command (see rdsguard guardrails --help)"),
    }
}
