//! `rdsguard encrypt plan|start|status|cutover|rollback`: encrypt an unencrypted DB instance or
//! Aurora cluster by snapshot, encrypted copy and restore (see README "Encrypting an unencrypted
//! database"). The migration's state is read from AWS each time (tags), never from local files.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};
use rdsguard::aws::{AccountSessions, SdkRds};
use rdsguard::identity::{AccountId, AwsRegion};
use rdsguard::migration::engine::{new_migration_id, Request};
use rdsguard::migration::settings::Kind;
use rdsguard::migration::{observe, plan, run, Mode, Outcome, Phase, Progress};

use crate::fail;

pub fn command() -> Command {
    let common = [
        Arg::new("db").long("db").value_name("ID").help("the DB instance to encrypt").conflicts_with("cluster"),
        Arg::new("cluster").long("cluster").value_name("ID").help("the Aurora DB cluster to encrypt"),
        Arg::new("region").long("region").value_name("REGION").env("AWS_REGION").help("the database's region"),
        Arg::new("kms-key")
            .long("kms-key")
            .value_name("KEY")
            .help("KMS key id, ARN or alias to encrypt with (a customer-managed key is recommended)"),
        Arg::new("account").long("account").value_name("ACCOUNT").requires("role").help("a member account (12 digits)"),
        Arg::new("role").long("role").value_name("ROLE").help("the role (name or ARN) to assume in --account"),
        Arg::new("consistent")
            .long("consistent")
            .action(ArgAction::SetTrue)
            .help("cut writers off (rename + reboot) before the snapshot: no write is lost, downtime until cutover"),
        Arg::new("wait")
            .long("wait")
            .action(ArgAction::SetTrue)
            .help("poll until the step is finished (progress on stderr)"),
        Arg::new("yes").long("yes").action(ArgAction::SetTrue).help("answer the cutover/rollback confirmation"),
        Arg::new("poll-seconds").long("poll-seconds").value_name("S").default_value("30").hide(true),
    ];
    let sub = |name: &'static str, about: &'static str| Command::new(name).about(about).args(common.clone());
    Command::new("encrypt")
        .about(
            "encrypt an unencrypted database: snapshot, encrypted copy, restore with every setting, cutover, rollback",
        )
        .subcommand_required(true)
        .subcommand(sub("plan", "show what will happen (read-only)"))
        .subcommand(sub("start", "snapshot, encrypted copy, restore, verify; ends at \"ready for cutover\""))
        .subcommand(sub("status", "where the migration stands, read from AWS"))
        .subcommand(sub("cutover", "rename the old database away and the new one to the old name, stop the old one"))
        .subcommand(sub("rollback", "give the old database its name back (while it exists)"))
}

struct Target {
    kind: Kind,
    id: String,
}

fn target(args: &ArgMatches) -> Result<Target, String> {
    match (args.get_one::<String>("db"), args.get_one::<String>("cluster")) {
        (Some(id), None) => Ok(Target { kind: Kind::Instance, id: id.clone() }),
        (None, Some(id)) => Ok(Target { kind: Kind::Cluster, id: id.clone() }),
        _ => Err("name the database: --db ID or --cluster ID".to_owned()),
    }
}

async fn client(args: &ArgMatches) -> Result<SdkRds, String> {
    let region = args.get_one::<String>("region").ok_or("--region (or AWS_REGION) is required")?;
    let region = AwsRegion::parse(region).map_err(|e| e.to_string())?;
    let base = aws_config::from_env().region(aws_config::Region::new(region.to_string())).load().await;
    let config = match args.get_one::<String>("account") {
        None => base,
        Some(account) => {
            let account = AccountId::parse(account).map_err(|e| e.to_string())?;
            let role = args.get_one::<String>("role").ok_or("--account needs --role")?;
            let name = role.rsplit('/').next().unwrap_or(role);
            let sessions = AccountSessions::new(base, name);
            sessions.config_for(&account, &region).await.map_err(|e| e.to_string())?
        }
    };
    Ok(SdkRds::from_config(&config))
}

/// Asks on the terminal; without one, only `--yes` answers.
fn confirmed(args: &ArgMatches, question: &str) -> Result<(), String> {
    if args.get_flag("yes") {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(format!("{question}: refusing without confirmation (no terminal to ask on; pass --yes)"));
    }
    eprint!("{question} Type yes to go on: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|e| e.to_string())?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err("not confirmed: nothing changed".to_owned())
    }
}

pub async fn run_command(args: &ArgMatches) -> ExitCode {
    let Some((action, args)) = args.subcommand() else { return fail("see rdsguard encrypt --help") };
    match execute(action, args).await {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

async fn execute(action: &str, args: &ArgMatches) -> Result<ExitCode, String> {
    let db = target(args)?;
    let key = args.get_one::<String>("kms-key").cloned();
    let mode = if args.get_flag("consistent") { Mode::Consistent } else { Mode::Online };
    let phase = match action {
        "plan" | "status" => None,
        "start" => Some(Phase::Start),
        "cutover" => Some(Phase::Cutover),
        "rollback" => Some(Phase::Rollback),
        other => return Err(format!("unknown encrypt command {other}")),
    };
    if matches!(action, "plan" | "start") && key.is_none() {
        return Err("--kms-key is required (a customer-managed key id, ARN or alias)".to_owned());
    }
    let rds = client(args).await?;
    let Some(phase) = phase else {
        let obs = observe(&rds, db.kind, &db.id).await.map_err(|e| e.to_string())?;
        if action == "plan" {
            print!("{}", plan::render(&obs, key.as_deref().unwrap_or_default(), mode, &new_migration_id()));
        } else {
            print!("{}", rdsguard::migration::engine::status(&obs));
        }
        return Ok(ExitCode::SUCCESS);
    };
    match phase {
        Phase::Cutover => confirmed(
            args,
            &format!(
                "Cutover: the encrypted database takes the name {} and the old one is renamed and stopped.",
                db.id
            ),
        )?,
        Phase::Rollback => {
            confirmed(args, &format!("Rollback: the old, unencrypted database gets the name {} back.", db.id))?
        }
        Phase::Start => {}
    }
    let poll = args
        .get_flag("wait")
        .then(|| args.get_one::<String>("poll-seconds").and_then(|s| s.parse().ok()).unwrap_or(30))
        .map(Duration::from_secs);
    let request = Request { kms_key: key.unwrap_or_default(), mode };
    let mut report = |p: &Progress| match p {
        Progress::Did(step) => eprintln!("rdsguard encrypt {}: done: {step:?}", db.id),
        Progress::Waiting(what) => eprintln!("rdsguard encrypt {}: waiting: {what}", db.id),
        _ => {}
    };
    let last = run(&rds, db.kind, &db.id, phase, &request, poll, &mut report).await.map_err(|e| e.to_string())?;
    match last {
        Progress::Done(Outcome::Ready) => {
            let obs = observe(&rds, db.kind, &db.id).await.map_err(|e| e.to_string())?;
            println!("ready for cutover: {}", rdsguard::migration::engine::status(&obs));
            Ok(ExitCode::SUCCESS)
        }
        Progress::Done(Outcome::CutOver) => {
            println!("cut over: {} is the encrypted database; the old one is kept (renamed, stopped)", db.id);
            Ok(ExitCode::SUCCESS)
        }
        Progress::Done(Outcome::RolledBack) => {
            println!("rolled back: {} is the original database again; the encrypted one is kept", db.id);
            Ok(ExitCode::SUCCESS)
        }
        Progress::Waiting(what) => {
            println!("in progress: {what}; run the same command again (or with --wait) to continue");
            Ok(ExitCode::SUCCESS)
        }
        Progress::Refused(why) => Err(why),
        Progress::Did(_) => Ok(ExitCode::SUCCESS),
    }
}
