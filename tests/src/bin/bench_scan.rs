//! Measures the two estate-wide paths on a seeded moto estate: `rdsguard scan` (the CLI binary, as a
//! person runs it) and the sweep path (sweep-worker's handler, one warm container handling one
//! message per account-region, as SQS delivers them with BatchSize 1). Each runs as its own child
//! process so its wall time, CPU time (user + system) and peak resident memory are its own
//! (`wait4`'s rusage); every AWS call goes through the recording proxy and is counted by action.
//!
//! moto differs from AWS here: it answers in about a millisecond and never throttles, so the wall
//! times are the tool's own work plus moto's, not AWS's latency; the call counts are what they would
//! be on AWS.
// A seeding step that fails stops the bench with its message, as the test estate's helpers do.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};
use rdsguard_tests::estate::NewInstance;
use rdsguard_tests::proxy::FaultProxy;
use rdsguard_tests::Estate;
use rdsguard_tests::MOTO_ACCOUNT;
use serde_json::{json, Value};

const HELP: &str = "\
bench_scan: `rdsguard scan` and the sweep path on a seeded moto estate.

USAGE:
    cargo run --profile ci-release -p rdsguard-tests --bin bench_scan -- [OPTIONS]
    (scripts/bench --scan builds what it needs and runs this)

The estate, in each of --regions regions: --databases PostgreSQL instances (one in ten public, one
in four unencrypted, the others with the AWS managed key aws/rds, as AWS encrypts without a named
key), --groups security groups in front of them (every other one open to 0.0.0.0/0
on 5432) and --snapshots manual DB snapshots.

OPTIONS:
    --rdsguard PATH   the rdsguard binary to run (default: target/ci-release/rdsguard)
    --runs N          timed runs of each path (default 3)
    --regions N       1 to 3 regions (default 3: us-east-1, eu-west-1, ap-southeast-2)
    --databases N     instances per region (default 100)
    --snapshots N     manual snapshots per region (default 10)
    --groups N        security groups per region (default 10)
    -h, --help        this help

Prints, for each path: wall time, CPU time and peak memory (median of the runs, and the range), the
AWS calls of one run by action, and the calls per resource seeded. Exit status 0, 1 when a run
failed, 2 on bad arguments.";

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
const SWEEP_CHILD: &str = "--sweep-child";
const MEASURE: &str = "--measure";

struct Args {
    rdsguard: PathBuf,
    runs: usize,
    regions: usize,
    databases: usize,
    snapshots: usize,
    groups: usize,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        rdsguard: PathBuf::from("target/ci-release/rdsguard"),
        runs: 3,
        regions: 3,
        databases: 100,
        snapshots: 10,
        groups: 10,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        let mut value = |name: &str| given.next().ok_or(format!("{name} needs a value"));
        let number =
            |name: &str, text: String| text.parse::<usize>().map_err(|_| format!("{name}: not a number: {text}"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--rdsguard" => args.rdsguard = PathBuf::from(value("--rdsguard")?),
            "--runs" => args.runs = number("--runs", value("--runs")?)?.max(1),
            "--regions" => args.regions = number("--regions", value("--regions")?)?,
            "--databases" => args.databases = number("--databases", value("--databases")?)?,
            "--snapshots" => args.snapshots = number("--snapshots", value("--snapshots")?)?,
            "--groups" => args.groups = number("--groups", value("--groups")?)?.max(1),
            other => return Err(format!("unknown argument {other} (see --help)")),
        }
    }
    if !(1..=REGIONS.len()).contains(&args.regions) {
        return Err(format!("--regions must be 1 to {}", REGIONS.len()));
    }
    if args.snapshots > args.databases {
        return Err("--snapshots cannot exceed --databases (each snapshot is of one database)".into());
    }
    Ok(Some(args))
}

/// One child process's resource use.
#[derive(Debug, Clone, Copy)]
struct Usage {
    wall: Duration,
    cpu: Duration,
    peak_rss_kib: u64,
    success: bool,
}

/// `--measure CMD ARGS...`: runs CMD (with this process's environment), waits for it, and prints
/// its resource use as JSON. Run as a process of its own, so that the children's rusage
/// (getrusage(RUSAGE_CHILDREN)) is that of CMD alone: its peak resident memory included.
fn measure_child(command: &[String]) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        eprintln!("bench_scan --measure: no command");
        return ExitCode::from(2);
    };
    let started = Instant::now();
    let output = match Command::new(program).args(args).stdin(Stdio::null()).stdout(Stdio::null()).output() {
        Ok(output) => output,
        Err(e) => {
            eprintln!("bench_scan --measure: {program}: {e}");
            return ExitCode::from(2);
        }
    };
    let wall = started.elapsed();
    let usage = match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(usage) => usage,
        Err(e) => {
            eprintln!("bench_scan --measure: getrusage: {e}");
            return ExitCode::from(2);
        }
    };
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    // rdsguard scan exits 1 when --fail-on finds something; only 2 and signals are failures here.
    let success = matches!(output.status.code(), Some(0 | 1));
    if !success {
        eprintln!("bench_scan: {program} failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    let figures = json!({
        "wall_s": wall.as_secs_f64(),
        "cpu_s": seconds(usage.user_time()) + seconds(usage.system_time()),
        "max_rss_kib": usage.max_rss(),
        "success": success,
    });
    println!("{figures}");
    ExitCode::SUCCESS
}

fn run_measured(me: &std::path::Path, command: &Command) -> Result<Usage, String> {
    let mut measure = Command::new(me);
    measure.arg(MEASURE).arg(command.get_program()).args(command.get_args()).env_clear();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            measure.env(key, value);
        }
    }
    let output = measure.stderr(Stdio::inherit()).output().map_err(|e| e.to_string())?;
    let figures: Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("no figures from --measure: {e}"))?;
    let number = |key: &str| figures[key].as_f64().ok_or(format!("{key} missing from {figures}"));
    Ok(Usage {
        wall: Duration::from_secs_f64(number("wall_s")?),
        cpu: Duration::from_secs_f64(number("cpu_s")?),
        peak_rss_kib: number("max_rss_kib")? as u64,
        success: figures["success"] == true,
    })
}

async fn seed(estate: &Estate, args: &Args) {
    for region in &REGIONS[..args.regions] {
        let ec2 = estate.ec2(region).await;
        let rds = estate.rds(region).await;
        let mut groups = Vec::new();
        for g in 0..args.groups {
            let id = estate.create_security_group(&ec2, &format!("bench-{g:02}"), &[]).await;
            if g % 2 == 0 {
                estate.authorize(&ec2, &id, "tcp", (5432, 5432), &["0.0.0.0/0"]).await;
            }
            groups.push(id);
        }
        // An encrypted database without a named key is encrypted with aws/rds on AWS; moto writes
        // "default_kms_key_id", so the seed names the key (moto creates it when first described).
        let kms = aws_sdk_kms::Client::new(&estate.moto.sdk_config(region).await);
        let managed = kms.describe_key().key_id(rdsguard::aws::RDS_MANAGED_KEY_ALIAS).send().await.expect("aws/rds");
        let managed = managed.key_metadata.and_then(|k| k.arn).expect("aws/rds ARN");
        let names: Vec<String> = (0..args.databases).map(|n| format!("db-{n:03}")).collect();
        for (c, chunk) in names.chunks(20).enumerate() {
            let creates = chunk.iter().enumerate().map(|(i, id)| {
                let n = c * 20 + i;
                let encrypted = n % 4 != 0;
                let kms_key_id = encrypted.then_some(managed.as_str());
                let new = NewInstance { public: n % 10 == 0, encrypted, kms_key_id, ..NewInstance::postgres(id) };
                let group = groups[n % groups.len()].clone();
                let rds = &rds;
                async move { estate.create_instance_in_groups(rds, &new, Some(5432), &[group.as_str()]).await }
            });
            futures::future::join_all(creates).await;
        }
        for id in names.iter().take(args.snapshots) {
            rds.create_db_snapshot()
                .db_instance_identifier(id)
                .db_snapshot_identifier(format!("{id}-manual"))
                .send()
                .await
                .expect("create snapshot");
        }
    }
}

fn aws_environment(command: &mut Command, endpoint: &str) {
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGIONS[0])
        // Alerts only: the estate stays as seeded from one run to the next.
        .env("MODE", "alert")
        .env("ALLOWED_REGIONS", REGIONS[0])
        .env("RUST_LOG", "warn");
}

struct PathRuns {
    name: &'static str,
    usages: Vec<Usage>,
    calls: BTreeMap<String, usize>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn report(path: &PathRuns, resources: usize) {
    let walls: Vec<f64> = path.usages.iter().map(|u| u.wall.as_secs_f64()).collect();
    let cpus: Vec<f64> = path.usages.iter().map(|u| u.cpu.as_secs_f64()).collect();
    let rss: Vec<f64> = path.usages.iter().map(|u| u.peak_rss_kib as f64 / 1024.0).collect();
    let range = |v: &[f64]| {
        let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        format!("{lo:.2}–{hi:.2}")
    };
    let total: usize = path.calls.values().sum();
    let reads: usize = path.calls.iter().filter(|(a, _)| a.starts_with("Describe")).map(|(_, n)| n).sum();
    let per_resource: usize = path.calls.iter().filter(|(a, _)| a.ends_with("Attributes")).map(|(_, n)| n).sum();
    println!("== {} ({} runs)", path.name, path.usages.len());
    println!("wall      median {:.2} s  (range {} s)", median(walls.clone()), range(&walls));
    println!("CPU       median {:.2} s  (range {} s; user + system)", median(cpus.clone()), range(&cpus));
    println!("peak RSS  median {:.1} MiB  (range {} MiB)", median(rss.clone()), range(&rss));
    println!(
        "AWS calls {total} in one run ({reads} RDS/EC2 reads, {per_resource} of them one per snapshot) for {resources} \
         resources: {:.3} calls per resource ({:.3} reads per resource, {:.3} without the per-snapshot attribute reads)",
        total as f64 / resources as f64,
        reads as f64 / resources as f64,
        (reads - per_resource) as f64 / resources as f64
    );
    for (action, n) in &path.calls {
        println!("          {n:>5}  {action}");
    }
}

/// The sweep path in this process: sweep-worker's handler wired as its `main` wires it, one
/// invocation per account-region (BatchSize 1), all in one warm container.
async fn sweep_child() -> ExitCode {
    let regions: Vec<String> =
        std::env::var("BENCH_REGIONS").unwrap_or_default().split(',').map(str::to_owned).collect();
    let policy = match rdsguard::policy::Policy::from_env() {
        Ok(policy) => policy,
        Err(e) => {
            eprintln!("bench_scan sweep child: {e}");
            return ExitCode::from(2);
        }
    };
    let plumbing = rdsguard::startup::Plumbing::for_function(
        sweep_worker::FUNCTION_NAME,
        policy,
        aws_config::load_from_env().await,
    );
    let worker = sweep_worker::SweepWorker {
        policy: plumbing.policy,
        sessions: std::sync::Arc::new(plumbing.sessions),
        alerting: plumbing.alerting,
        confirmation: Default::default(),
    };
    for (n, region) in regions.iter().enumerate() {
        let body = json!({"account": MOTO_ACCOUNT, "region": region}).to_string();
        let event = json!({"Records": [{"messageId": format!("m-{n}"), "body": body, "eventSource": "aws:sqs"}]});
        match sweep_worker::handle_batch(event, &worker, rdsguard::kernel::Deadline::none()).await {
            Ok(report) if report.batch_item_failures.is_empty() => {}
            Ok(report) => {
                eprintln!("bench_scan sweep child: {region} failed: {:?}", report.messages);
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("bench_scan sweep child: {e}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

#[tokio::main]
async fn main() -> ExitCode {
    let given: Vec<String> = std::env::args().collect();
    match given.get(1).map(String::as_str) {
        Some(SWEEP_CHILD) => return sweep_child().await,
        Some(MEASURE) => return measure_child(&given[2..]),
        _ => {}
    }
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("bench_scan: {e}");
            return ExitCode::from(2);
        }
    };
    if !args.rdsguard.is_file() {
        eprintln!(
            "bench_scan: {} not found (cargo build --profile ci-release -p rdsguard-cli, or pass --rdsguard)",
            args.rdsguard.display()
        );
        return ExitCode::from(2);
    }
    let regions = &REGIONS[..args.regions];
    let estate = Estate::start().await;
    let seeding = Instant::now();
    seed(&estate, &args).await;
    let resources = args.regions * (args.databases + args.snapshots + args.groups);
    println!(
        "== estate: {} regions × ({} instances, {} snapshots, {} security groups) = {resources} resources, seeded in {:.1} s",
        args.regions,
        args.databases,
        args.snapshots,
        args.groups,
        seeding.elapsed().as_secs_f64()
    );
    // The sweep's alerts go to a topic without subscribers: moto's delivery of thousands of
    // alerts to the test queue would be timed instead of rdsguard (SNS's fan-out is not ours).
    let sns = aws_sdk_sns::Client::new(&estate.moto.sdk_config(REGIONS[0]).await);
    let topic = match sns.create_topic().name("bench-alerts").send().await.ok().and_then(|t| t.topic_arn) {
        Some(topic) => topic,
        None => {
            eprintln!("bench_scan: could not create the bench topic");
            return ExitCode::from(1);
        }
    };
    let proxy = FaultProxy::in_front_of(&estate.moto);
    let me = match std::env::current_exe() {
        Ok(me) => me,
        Err(e) => {
            eprintln!("bench_scan: own path unknown: {e}");
            return ExitCode::from(1);
        }
    };
    let output = std::env::temp_dir().join(format!("bench-scan-{}.json", std::process::id()));
    let mut paths = Vec::new();
    let mut failed = false;
    for name in ["rdsguard scan", "sweep path (sweep-worker handler)"] {
        let mut path = PathRuns { name, usages: Vec::new(), calls: BTreeMap::new() };
        for _ in 0..args.runs {
            proxy.clear_requests();
            let mut command = if name == "rdsguard scan" {
                let mut command = Command::new(&args.rdsguard);
                command.args(["scan", "--regions", &regions.join(","), "--format", "json", "--output"]).arg(&output);
                command
            } else {
                let mut command = Command::new(&me);
                command.arg(SWEEP_CHILD);
                command
            };
            aws_environment(&mut command, &proxy.endpoint());
            command.env("BENCH_REGIONS", regions.join(",")).env("ALERT_TOPIC_ARN", &topic);
            match run_measured(&me, &command) {
                Ok(usage) => {
                    failed |= !usage.success;
                    path.usages.push(usage);
                }
                Err(e) => {
                    eprintln!("bench_scan: {name} could not be run: {e}");
                    return ExitCode::from(1);
                }
            }
            path.calls = BTreeMap::new();
            for call in proxy.requests() {
                *path.calls.entry(call.action.clone()).or_default() += 1;
            }
        }
        paths.push(path);
    }
    let findings = std::fs::read_to_string(&output)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|v| v.as_array().map(Vec::len));
    let _ = std::fs::remove_file(&output);
    println!("== rdsguard scan found {} findings", findings.map_or("?".to_owned(), |n| n.to_string()));
    for path in &paths {
        report(path, resources);
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
