//! Soak: 10,000 events through ONE warm rds-guard process against moto. The real binary runs as
//! Lambda runs it — its `main`, the kernel, lambda_runtime's loop — against a stand-in for the
//! Lambda Runtime API served here, which hands it one event per `GET …/invocation/next` and reads
//! its answer. Every tenth event follows a database made public again (directly on moto), so the
//! process fixes and alerts a thousand times; the rest are checks of compliant databases and
//! events it ignores. The process's resident memory (VmRSS, VmHWM) and open file descriptors are
//! read from /proc along the way: after warm-up they must stay flat.
//!
//! Ignored in the normal run (it takes minutes): `scripts/bench` runs it, or
//! `cargo build -p rds-guard && cargo test -p rdsguard-tests --test suite soak:: -- --ignored --nocapture`.
//! `SOAK_BINARY` picks the binary (default target/debug/rds-guard; scripts/bench passes the release
//! build), `SOAK_EVENTS` the number of events (default 10,000).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdsguard_tests::estate::{NewInstance, HOME_REGION};
use rdsguard_tests::events::{create_db_instance, rds_api_call};
use rdsguard_tests::{Estate, MOTO_ACCOUNT};
use serde_json::{json, Value};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const DATABASES: usize = 5;
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:rdsguard-rds-guard";

/// Events waiting for the process's next `GET …/invocation/next`: (request id, payload).
type Pending = (Mutex<VecDeque<(String, Value)>>, Condvar);

/// What the process answered for one invocation.
#[derive(Debug)]
struct Answer {
    request_id: String,
    ok: bool,
    body: String,
}

/// The stand-in Runtime API: events wait in `pending` until the process asks for the next one.
struct RuntimeApi {
    address: String,
    pending: Arc<Pending>,
    answers: Receiver<Answer>,
}

impl RuntimeApi {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let pending: Arc<Pending> = Arc::default();
        let (tx, answers) = mpsc::channel();
        let queue = pending.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (queue, tx) = (queue.clone(), tx.clone());
                std::thread::spawn(move || connection(stream, &queue, &tx));
            }
        });
        Self { address, pending, answers }
    }

    /// Hands `payload` to the process and waits for its answer.
    fn invoke(&self, request_id: String, payload: Value) -> Answer {
        let (queue, ready) = &*self.pending;
        queue.lock().unwrap().push_back((request_id, payload));
        ready.notify_all();
        self.answers.recv_timeout(Duration::from_secs(60)).expect("the process answered within 60 s")
    }
}

/// One keep-alive connection from the process: `next` blocks until an event is queued; answers
/// (`…/response`, `…/error`) are passed on and acknowledged with 202.
fn connection(stream: TcpStream, queue: &Pending, answers: &Sender<Answer>) {
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or_default().to_owned(), parts.next().unwrap_or_default().to_owned());
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let reply = if method == "GET" && path == NEXT {
            let (lock, ready) = queue;
            let mut pending = lock.lock().unwrap();
            let (request_id, payload) = loop {
                match pending.pop_front() {
                    Some(next) => break next,
                    None => pending = ready.wait(pending).unwrap(),
                }
            };
            drop(pending);
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 60_000;
            let body = payload.to_string();
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: {request_id}\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\nlambda-runtime-invoked-function-arn: {FUNCTION_ARN}\r\n\
                 lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
        } else {
            // /2018-06-01/runtime/invocation/<id>/response or …/error
            let segments: Vec<&str> = path.split('/').collect();
            if let [.., "invocation", id, kind] = segments.as_slice() {
                let answer = Answer {
                    request_id: (*id).to_owned(),
                    ok: *kind == "response",
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                if answers.send(answer).is_err() {
                    return;
                }
            }
            "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}".to_owned()
        };
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Resident memory (kB) now and at its peak, and open file descriptors, of `pid`.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rss_kb: u64,
    peak_kb: u64,
    fds: usize,
}

fn sample(pid: u32) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(Iterator::count).unwrap_or(0);
    Sample { rss_kb: field("VmRSS:"), peak_kb: field("VmHWM:"), fds }
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary() -> PathBuf {
    let path = std::env::var_os("SOAK_BINARY").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debug/rds-guard")),
        PathBuf::from,
    );
    assert!(path.exists(), "{} not found: build it first (cargo build -p rds-guard)", path.display());
    path
}

/// The event for step `i`: every tenth a database just made public again, the others a check of
/// a compliant database or a call rds-guard ignores. Each with its own event id.
fn event(i: usize) -> Value {
    let database = format!("soak-db-{}", (i / 10) % DATABASES);
    let mut event = if i.is_multiple_of(2) {
        create_db_instance(MOTO_ACCOUNT, HOME_REGION, &database, i.is_multiple_of(10), true)
    } else {
        rds_api_call("DescribeDBInstances", MOTO_ACCOUNT, HOME_REGION, json!({}), json!(null))
    };
    event["id"] = json!(format!("soak-envelope-{i}"));
    event["detail"]["eventID"] = json!(format!("soak-{i}"));
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak, minutes long: scripts/bench runs it (see the file's header)"]
async fn ten_thousand_events_through_one_warm_process_keep_memory_and_descriptors_flat() {
    let events: usize = std::env::var("SOAK_EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let estate = Estate::start().await;
    let rds = estate.rds(HOME_REGION).await;
    for n in 0..DATABASES {
        estate.create_instance(&rds, &NewInstance::postgres(&format!("soak-db-{n}"))).await;
    }
    let api = RuntimeApi::start();
    let variables = estate.variables(&[]);
    let mut command = Command::new(binary());
    command
        .env_clear()
        .envs(variables.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", api.address.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", "rdsguard-rds-guard"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "soak"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/rdsguard-rds-guard"),
            ("AWS_REGION", HOME_REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("RUST_LOG", "warn"),
        ])
        .env("AWS_ENDPOINT_URL", estate.moto.endpoint())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let process = Process(command.spawn().expect("start the function"));
    let pid = process.0.id();

    let started = Instant::now();
    let mut warm: Option<Sample> = None;
    let mut samples = Vec::new();
    let (mut fixed, mut failed, mut alerts) = (0, 0, 0);
    for i in 0..events {
        if i.is_multiple_of(10) {
            let database = format!("soak-db-{}", (i / 10) % DATABASES);
            rds.modify_db_instance()
                .db_instance_identifier(&database)
                .publicly_accessible(true)
                .apply_immediately(true)
                .send()
                .await
                .expect("made public again");
        }
        let request_id = format!("soak-{i}");
        let answer = tokio::task::block_in_place(|| api.invoke(request_id.clone(), event(i)));
        assert_eq!(answer.request_id, request_id);
        if !answer.ok {
            failed += 1;
            eprintln!("soak: event {i} failed: {}", answer.body);
            continue;
        }
        let summary: Value = serde_json::from_str(&answer.body).expect("summary JSON");
        fixed += summary["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["rule"] == "RDS.2" && f["action"]["status"] == "succeeded")
            .count();
        if i == 199 {
            warm = Some(sample(pid));
        }
        if (i + 1).is_multiple_of(1_000) {
            let now = sample(pid);
            eprintln!(
                "soak: {:>6} events, {:>5.0} s: RSS {} kB (peak {} kB), {} fds",
                i + 1,
                started.elapsed().as_secs_f64(),
                now.rss_kb,
                now.peak_kb,
                now.fds
            );
            samples.push(now);
            // Every fix of the last thousand events alerted once (this also keeps moto's queue short).
            alerts += estate.alerts().await.len();
            assert_eq!(alerts, fixed, "one alert per fix");
        }
    }
    let last = sample(pid);
    let elapsed = started.elapsed();
    alerts += estate.alerts().await.len();
    eprintln!(
        "soak: {events} events in {:.0} s ({:.1} ms each), {fixed} fixes, {alerts} alerts, {failed} failed invocations; \
         warm (200 events) RSS {} kB, {} fds; end RSS {} kB, peak {} kB, {} fds",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1_000.0 / events as f64,
        warm.map_or(0, |w| w.rss_kb),
        warm.map_or(0, |w| w.fds),
        last.rss_kb,
        last.peak_kb,
        last.fds
    );

    assert_eq!(failed, 0, "no invocation failed");
    assert_eq!(fixed, events.div_ceil(10), "every database made public was fixed");
    assert_eq!(alerts, fixed, "one alert per fix, none lost, none repeated");
    assert!(process_alive(pid), "the process served every event without exiting");
    let warm = warm.expect("warm sample");
    // Flat: after warm-up, memory grows by no more than 16 MiB (allocator slack, connection pool)
    // and no descriptor is leaked (a few connections may open and close with the pool).
    assert!(last.rss_kb <= warm.rss_kb + 16 * 1024, "RSS grew: {warm:?} -> {last:?} ({samples:?})");
    assert!(last.peak_kb <= warm.rss_kb + 16 * 1024, "peak grew: {warm:?} -> {last:?}");
    assert!(last.fds <= warm.fds + 4, "descriptors grew: {warm:?} -> {last:?} ({samples:?})");
}

fn process_alive(pid: u32) -> bool {
    std::fs::metadata(format!("/proc/{pid}")).is_ok()
}
