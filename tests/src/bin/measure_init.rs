//! Measures the init time of a built rdsguard function binary (rds-guard, network-guard) the way Lambda defines it: from process start
//! until the function's first `GET /2018-06-01/runtime/invocation/next` to the Runtime API. A
//! minimal fake Runtime API on 127.0.0.1 records that request; the child is then killed. Also checks
//! that a missing `ALERT_TOPIC_ARN` stops init quickly with a clear message. Standard library only.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
const DEFAULT_BINARY: &str = "target/release/rds-guard";
const DEFAULT_RUNS: usize = 20;
const DEFAULT_TIMEOUT_SECS: f64 = 10.0;
const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:rdsguard-alerts";

const HELP: &str = "\
measure_init: init time of a built rdsguard function binary, as Lambda measures it.

USAGE:
    cargo run -p rdsguard-tests --bin measure_init -- [OPTIONS] [BINARY]
    (scripts/bench builds the release binary and runs this)

BINARY defaults to target/release/rds-guard (build it with `cargo build --release -p rds-guard`);
pass target/release/network-guard for the other function.
The binary must run on this machine (the arm64 Lambda artefact does not run on x86_64).

For each run, a fake Lambda Runtime API listens on 127.0.0.1:<free port> and the binary is started
with only these variables (the rest of the environment is cleared):
    AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>  AWS_LAMBDA_FUNCTION_NAME=<BINARY's file name>
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256      AWS_LAMBDA_FUNCTION_VERSION=$LATEST
    AWS_LAMBDA_LOG_STREAM_NAME=x             AWS_LAMBDA_LOG_GROUP_NAME=y
    AWS_REGION=us-east-1  AWS_ACCESS_KEY_ID=x  AWS_SECRET_ACCESS_KEY=y
    ALERT_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:rdsguard-alerts
Init time is the wall time from spawning the process until its first
GET /2018-06-01/runtime/invocation/next arrives (Lambda's end of init); the process is then killed.
No AWS call is made during init, so nothing leaves the machine.

Then one more run without ALERT_TOPIC_ARN checks that init fails quickly, non-zero, with a message
naming the variable.

OPTIONS:
    --runs N          number of timed runs (default 20)
    --timeout SECS    give up on a run after SECS seconds (default 10)
    -h, --help        this help

Prints min / median / mean / max in milliseconds. Exit status: 0 on success, 1 if a run failed or the
missing-configuration check misbehaved, 2 on bad arguments.";

struct Args {
    binary: PathBuf,
    runs: usize,
    timeout: Duration,
}

enum Parsed {
    Run(Args),
    Help,
}

fn parse_args(raw: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut binary: Option<PathBuf> = None;
    let mut runs = DEFAULT_RUNS;
    let mut timeout_secs = DEFAULT_TIMEOUT_SECS;
    let mut raw = raw.into_iter();
    while let Some(arg) = raw.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value =
            |name: &str| inline.clone().or_else(|| raw.next()).ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--runs" => {
                let v = value("--runs")?;
                runs = match v.trim().parse::<usize>() {
                    Ok(n) if (1..=10_000).contains(&n) => n,
                    _ => return Err(format!("--runs {v:?}: expected a whole number from 1 to 10000")),
                };
            }
            "--timeout" => {
                let v = value("--timeout")?;
                timeout_secs = match v.trim().parse::<f64>() {
                    Ok(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => s,
                    _ => return Err(format!("--timeout {v:?}: expected seconds, more than 0 and at most 3600")),
                };
            }
            other if other.starts_with('-') && other != "-" => return Err(format!("unknown option {other:?}")),
            _ if binary.is_some() => return Err(format!("unexpected argument {arg:?} (only one BINARY)")),
            _ => binary = Some(PathBuf::from(arg)),
        }
    }
    Ok(Parsed::Run(Args {
        binary: binary.unwrap_or_else(|| PathBuf::from(DEFAULT_BINARY)),
        runs,
        timeout: Duration::from_secs_f64(timeout_secs),
    }))
}

/// One HTTP request the child made to the fake Runtime API.
struct Request {
    at: Instant,
    method: String,
    path: String,
}

/// A fake Lambda Runtime API: records every request; answers `202 Accepted` to everything but
/// `/invocation/next`, which is left pending (the child is killed before it matters).
struct FakeRuntimeApi {
    addr: SocketAddr,
    requests: Receiver<Request>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeRuntimeApi {
    fn start() -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("cannot read the listening address: {e}"))?;
        let (tx, requests) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let acceptor = thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let tx = tx.clone();
                    thread::spawn(move || serve(stream, &tx));
                }
            }
        });
        Ok(Self { addr, requests, stop, acceptor: Some(acceptor) })
    }
}

impl Drop for FakeRuntimeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Reads requests on one keep-alive connection until it closes or `next` is asked for.
fn serve(stream: TcpStream, tx: &Sender<Request>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let at = Instant::now();
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut content_length = 0usize;
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; content_length.min(1 << 20)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let is_next = method == "GET" && path == NEXT_PATH;
        if tx.send(Request { at, method, path }).is_err() || is_next {
            return;
        }
        let response = "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// Starts the binary against `api`, with output going to `log`.
fn spawn(binary: &Path, api: SocketAddr, with_topic: bool, log: &File) -> Result<(Instant, Child), String> {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", binary.file_name().unwrap_or_default())
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "x")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "y")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "y")
        .stdin(Stdio::null());
    if with_topic {
        command.env("ALERT_TOPIC_ARN", TOPIC_ARN);
    }
    let out = log.try_clone().map_err(|e| format!("cannot share the log file: {e}"))?;
    let err = log.try_clone().map_err(|e| format!("cannot share the log file: {e}"))?;
    command.stdout(out).stderr(err);
    let start = Instant::now();
    let child = command.spawn().map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    Ok((start, child))
}

/// A scratch file for the child's output, removed on drop.
struct Log {
    path: PathBuf,
    file: File,
}

impl Log {
    fn create(tag: &str) -> Result<Self, String> {
        let path = std::env::temp_dir().join(format!("measure_init-{}-{tag}.log", std::process::id()));
        let file = File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Self { path, file })
    }

    fn read(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap_or_default()
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn excerpt(output: &str) -> String {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).take(5).collect();
    if lines.is_empty() {
        "(no output)".to_owned()
    } else {
        lines.join("\n    ")
    }
}

/// One timed run: milliseconds from spawn to the first `next`.
fn time_init(args: &Args, run: usize) -> Result<f64, String> {
    let api = FakeRuntimeApi::start()?;
    let log = Log::create(&format!("run{run}"))?;
    let (start, mut child) = spawn(&args.binary, api.addr, true, &log.file)?;
    let deadline = start + args.timeout;
    let mut other_requests = Vec::new();
    let outcome = loop {
        match api.requests.recv_timeout(Duration::from_millis(5)) {
            Ok(request) if request.method == "GET" && request.path == NEXT_PATH => {
                break Ok(request.at.saturating_duration_since(start).as_secs_f64() * 1000.0)
            }
            Ok(request) => other_requests.push(format!("{} {}", request.method, request.path)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break Err("the fake Runtime API stopped".to_owned()),
        }
        if let Ok(Some(status)) = child.try_wait() {
            // It may have asked for `next` just before exiting: take any request still queued.
            if let Ok(request) = api.requests.try_recv() {
                if request.method == "GET" && request.path == NEXT_PATH {
                    break Ok(request.at.saturating_duration_since(start).as_secs_f64() * 1000.0);
                }
            }
            break Err(format!(
                "run {run}: the binary exited ({}) before asking for an invocation; other requests: {other_requests:?}\n  output:\n    {}",
                describe(status),
                excerpt(&log.read())
            ));
        }
        if Instant::now() >= deadline {
            break Err(format!(
                "run {run}: no GET {NEXT_PATH} within {:?}; other requests: {other_requests:?}\n  output:\n    {}",
                args.timeout,
                excerpt(&log.read())
            ));
        }
    };
    stop(&mut child);
    outcome
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => format!("killed by a signal ({status})"),
    }
}

/// Runs once without ALERT_TOPIC_ARN; `Ok` if init failed fast, non-zero, naming the variable.
fn check_missing_topic(args: &Args) -> Result<String, String> {
    let api = FakeRuntimeApi::start()?;
    let log = Log::create("no-topic")?;
    let (start, mut child) = spawn(&args.binary, api.addr, false, &log.file)?;
    let deadline = start + args.timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => thread::sleep(Duration::from_millis(1)),
            Err(e) => {
                stop(&mut child);
                return Err(format!("cannot wait for the binary: {e}"));
            }
        }
    };
    let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
    stop(&mut child);
    let requests: Vec<String> = api.requests.try_iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    let output = log.read();
    let seen = format!(
        "Runtime API requests: {}\n  output:\n    {}",
        if requests.is_empty() { "none".to_owned() } else { requests.join(", ") },
        excerpt(&output)
    );
    match status {
        None => Err(format!("did not exit within {:?} (killed); {seen}", args.timeout)),
        Some(status) if status.success() => Err(format!("exited with status 0 after {elapsed_ms:.1} ms; {seen}")),
        Some(status) if !output.contains("ALERT_TOPIC_ARN") => Err(format!(
            "{} after {elapsed_ms:.1} ms, but the output does not name ALERT_TOPIC_ARN; {seen}",
            describe(status)
        )),
        Some(status) => {
            Ok(format!("{} after {elapsed_ms:.1} ms (upper bound: polled every 1 ms); {seen}", describe(status)))
        }
    }
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let metadata = std::fs::metadata(&args.binary).map_err(|e| {
        format!(
            "function binary not found at {} ({e}); build it with `cargo build --release -p rds-guard` (or -p network-guard) or pass its path",
            args.binary.display()
        )
    })?;
    if !metadata.is_file() {
        return Err(format!("{} is not a file", args.binary.display()));
    }
    println!("binary: {} ({} bytes, {:.2} MiB)", args.binary.display(), metadata.len(), mib(metadata.len()));
    println!("init time = spawn -> first GET {NEXT_PATH}, {} runs", args.runs);
    let mut times = Vec::with_capacity(args.runs);
    for run in 1..=args.runs {
        times.push(time_init(args, run)?);
    }
    let first = times[0];
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "init ms: min {:.2}  median {:.2}  mean {mean:.2}  max {:.2}  (first run {first:.2})",
        times[0],
        median(&times),
        times[times.len() - 1]
    );
    println!("without ALERT_TOPIC_ARN:");
    match check_missing_topic(args) {
        Ok(report) => {
            println!("  ok: {report}");
            Ok(true)
        }
        Err(report) => {
            println!("  PROBLEM: {report}");
            Ok(false)
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Help) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Run(args)) => args,
        Err(e) => {
            eprintln!("measure_init: {e}\n(see --help)");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("measure_init: error: {e}");
            ExitCode::FAILURE
        }
    }
}
