//! `rdsguard`: the command line for people. Each subcommand lives in its own module and registers
//! itself here; `rdsguard --help` lists them.

use std::process::ExitCode;

use clap::Command;

mod encrypt;
mod findings;
mod guardrails;
mod progress;
mod scan;

fn command() -> Command {
    Command::new("rdsguard")
        .about("rdsguard for people: the suite's engines driven from a terminal or a CI job")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(guardrails::command())
        .subcommand(scan::command())
        .subcommand(findings::command())
        .subcommand(encrypt::command())
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = command().get_matches();
    match matches.subcommand() {
        Some(("guardrails", guardrails)) => guardrails::run(guardrails).await,
        Some(("scan", scan)) => scan::run(scan).await,
        Some(("findings", findings)) => findings::run(findings).await,
        Some(("encrypt", encrypt)) => encrypt::run_command(encrypt).await,
        _ => fail("unknown command (see rdsguard --help)"),
    }
}

/// Prints `rdsguard: <message>` on stderr; exit status 1.
pub(crate) fn fail(message: &str) -> ExitCode {
    eprintln!("rdsguard: {message}");
    ExitCode::FAILURE
}
