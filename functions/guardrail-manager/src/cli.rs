//! The `rdsguard` command line for administrators: the same settings, catalogue, packing and
//! reconcile as the function, driven by the same environment variables (flags override them).

use std::collections::BTreeMap;

use clap::{Arg, ArgAction, ArgMatches, Command};
use rdsguard::guardrails::settings::{
    ENV_BREAK_GLASS_PRINCIPALS, ENV_GUARDRAILS, ENV_GUARDRAIL_TARGETS, ENV_POLICY_NAME_PREFIX,
    ENV_SECURITY_ADMIN_PRINCIPALS, ENV_SUITE_NAME_PREFIX,
};
use rdsguard::guardrails::{desired_policies, Guardrail, GuardrailSettings};
use rdsguard::policy::ENV_ALLOWED_REGIONS;
use serde_json::{json, Value};

/// (flag, environment variable, help).
pub const SETTING_FLAGS: &[(&str, &str, &str)] = &[
    ("guardrails", ENV_GUARDRAILS, "Comma-separated guardrails to enable"),
    ("targets", ENV_GUARDRAIL_TARGETS, "Comma-separated root (r-...), OU (ou-...) and account ids to attach to"),
    ("allowed-regions", ENV_ALLOWED_REGIONS, "Comma-separated regions the region locks allow"),
    (
        "break-glass",
        ENV_BREAK_GLASS_PRINCIPALS,
        "Comma-separated principal ARN patterns exempt from region locks and database protection",
    ),
    (
        "security-admins",
        ENV_SECURITY_ADMIN_PRINCIPALS,
        "Comma-separated principal ARN patterns exempt from the pipeline protection",
    ),
    (
        "suite-prefix",
        ENV_SUITE_NAME_PREFIX,
        "Name prefix of rdsguard's own functions, rules, topic and roles [default: rdsguard]",
    ),
    ("policy-prefix", ENV_POLICY_NAME_PREFIX, "Name prefix of the managed SCPs [default: rdsguard-guardrails]"),
];

/// The `guardrails` subcommand of the `rdsguard` command line (the binary is the `rdsguard-cli`
/// crate; it adds this subcommand beside its others).
pub fn command() -> Command {
    let guardrails: Vec<String> =
        Guardrail::ALL.iter().map(|g| format!("  {:<22} {}", g.as_str(), g.description())).collect();
    let mut settings_args: Vec<Arg> = SETTING_FLAGS
        .iter()
        .map(|(flag, var, help)| {
            Arg::new(*flag)
                .long(*flag)
                .value_name(if flag.ends_with("prefix") { "PREFIX" } else { "LIST" })
                .help(format!("{help} (overrides ${var})"))
                .global(true)
        })
        .collect();
    settings_args.push(
        Arg::new("remove")
            .long("remove")
            .action(ArgAction::SetTrue)
            .help("Plan/apply the removal of every managed SCP instead (detach, then delete)")
            .global(true),
    );
    Command::new("guardrails")
        .about("Render, plan and apply the guardrail SCPs (the same code as the guardrail-manager function)")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .args(settings_args)
        .after_help(format!(
            "Guardrails:\n{}\n\nOrganizations calls go to the management account or a delegated administrator, \
             with the usual AWS credentials (AWS_PROFILE, AWS_REGION...).",
            guardrails.join("\n")
        ))
        .subcommand(Command::new("render").about("Print the packed SCP documents as JSON (no AWS calls)"))
        .subcommand(Command::new("plan").about("Print the changes that would make the organisation match"))
        .subcommand(Command::new("apply").about("Print the plan, then make the changes"))
}

/// The settings from the environment, each overridden by its flag when given.
pub fn settings(
    matches: &ArgMatches,
    environment: impl IntoIterator<Item = (String, String)>,
) -> Result<GuardrailSettings, String> {
    let mut vars: BTreeMap<String, String> = environment.into_iter().collect();
    for (flag, var, _) in SETTING_FLAGS {
        if let Some(value) = matches.get_one::<String>(flag) {
            vars.insert((*var).to_owned(), value.clone());
        }
    }
    let settings = GuardrailSettings::from_vars(vars).map_err(|e| e.to_string())?;
    Ok(if matches.get_flag("remove") { settings.removal() } else { settings })
}

/// `render`: the documents as a JSON array of {Name, Characters, Content}.
pub fn render(settings: &GuardrailSettings) -> Result<Value, String> {
    let policies = desired_policies(settings).map_err(|e| e.to_string())?;
    let rendered: Vec<Value> = policies
        .iter()
        .map(|p| {
            let content: Value = serde_json::from_str(&p.content).unwrap_or(Value::String(p.content.clone()));
            json!({"Name": p.name, "Characters": p.content.len(), "Content": content})
        })
        .collect();
    Ok(Value::Array(rendered))
}
