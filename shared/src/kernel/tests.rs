use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use super::init_error::{report_init_error, CONFIG_INVALID_ERROR_TYPE, RUNTIME_API_ENV};
use super::*;

#[derive(Serialize)]
struct Report {
    findings: Vec<FindingSummary>,
}

impl InvocationReport for Report {
    fn findings(&self) -> &[FindingSummary] {
        &self.findings
    }
}

#[derive(Debug)]
struct Failure;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SNS and the undelivered-alert queue are both down")
    }
}

impl InvocationFailure for Failure {
    fn kind(&self) -> &'static str {
        "AlertNotDelivered"
    }
}

fn invocation(request_id: &str) -> Invocation {
    Invocation { request_id: request_id.into(), ..Invocation::unbounded() }
}

/// A handler that panics (inside its future) when the payload says so, like an index out of
/// bounds deep in a parser would.
async fn handler(payload: Value, _invocation: Invocation) -> Result<Report, Failure> {
    match payload["do"].as_str() {
        Some("panic") => {
            let groups: Vec<&str> = Vec::new();
            let index = payload["index"].as_u64().unwrap_or(3) as usize;
            let rest = groups[index..].len();
            Ok(Report { findings: Vec::with_capacity(rest) })
        }
        Some("fail") => Err(Failure),
        _ => Ok(Report { findings: vec![] }),
    }
}

#[tokio::test]
async fn a_panic_in_the_handler_is_an_error_invocation_with_a_clear_message_and_a_metric() {
    let outcome = invoke("rds-guard", &handler, json!({"do": "panic"}), invocation("req-1")).await;

    let diagnostic = outcome.result.err().expect("a panic fails the invocation");
    assert_eq!(diagnostic.error_type, PANIC_ERROR_TYPE);
    let message = &diagnostic.error_message;
    assert!(message.starts_with("rds-guard panicked handling request req-1: "), "{message}");
    assert!(message.contains("range start index 3 out of range for slice of length 0"), "{message}");
    assert!(message.contains("dead-letter queue"), "{message}");
    assert!(outcome.panicked);
    assert_eq!((outcome.metrics.errors, outcome.metrics.events_seen), (1, 1));

    let metric = panic_metric("rds-guard", 1_700_000_000_000);
    assert_eq!(metric[PANIC_METRIC], 1);
    assert_eq!(metric["Function"], "rds-guard");
    assert_eq!(metric["_aws"]["CloudWatchMetrics"][0]["Namespace"], "rdsguard");
    assert_eq!(metric["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], PANIC_METRIC);
}

#[tokio::test]
async fn a_panic_while_building_the_handlers_future_is_caught_too() {
    let calls = AtomicUsize::new(0);
    let eager = |_payload: Value, _invocation: Invocation| -> std::future::Ready<Result<Report, Failure>> {
        calls.fetch_add(1, Ordering::SeqCst);
        panic!("configuration map has no entry for eu-west-3")
    };
    let outcome = invoke("network-guard", &eager, json!({}), invocation("req-2")).await;
    let diagnostic = outcome.result.err().expect("failed");
    assert_eq!(diagnostic.error_type, PANIC_ERROR_TYPE);
    assert!(diagnostic.error_message.contains("no entry for eu-west-3"), "{}", diagnostic.error_message);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_same_handler_serves_the_next_event_after_a_panic() {
    let panicked = invoke("rds-guard", &handler, json!({"do": "panic"}), invocation("req-1")).await;
    assert!(panicked.panicked);
    let next = invoke("rds-guard", &handler, json!({}), invocation("req-2")).await;
    assert!(next.result.is_ok() && !next.panicked);
    assert_eq!((next.metrics.events_seen, next.metrics.errors), (1, 0));
}

#[tokio::test]
async fn a_handler_error_keeps_its_kind_and_is_not_counted_as_a_panic() {
    let outcome = invoke("rds-guard", &handler, json!({"do": "fail"}), invocation("req-3")).await;
    let diagnostic = outcome.result.err().expect("failed");
    assert_eq!(diagnostic.error_type, "AlertNotDelivered");
    assert_eq!(diagnostic.error_message, "SNS and the undelivered-alert queue are both down");
    assert!(!outcome.panicked);
    assert_eq!(outcome.metrics.errors, 1);
}

/// One HTTP request as the stand-in Runtime API received it.
#[derive(Debug)]
struct Received {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// A one-shot stand-in for the Lambda Runtime API: takes one request, answers `status`.
fn runtime_api_stand_in(status: u16) -> (String, std::thread::JoinHandle<Option<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let thread = std::thread::spawn(move || {
        let (stream, _) = listener.accept().ok()?;
        let mut reader = BufReader::new(stream.try_clone().ok()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).ok()?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).ok()?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':')?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let length: usize =
            headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        let mut stream = stream;
        let reason = if status == 202 { "Accepted" } else { "Error" };
        write!(stream, "HTTP/1.1 {status} {reason}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}").ok()?;
        Some(Received {
            request_line: request_line.trim_end().to_owned(),
            headers,
            body: String::from_utf8(body).ok()?,
        })
    });
    (address, thread)
}

#[tokio::test]
async fn an_init_error_is_posted_to_the_runtime_apis_init_error_endpoint() {
    let (address, api) = runtime_api_stand_in(202);
    report_init_error(
        &address,
        CONFIG_INVALID_ERROR_TYPE,
        "rds-guard configuration is invalid: ALERT_TOPIC_ARN is not set",
    )
    .await
    .expect("reported");
    let received = api.join().expect("stand-in").expect("a request arrived");
    assert_eq!(received.request_line, "POST /2018-06-01/runtime/init/error HTTP/1.1");
    let header = |name: &str| received.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(header("lambda-runtime-function-error-type"), Some("Runtime.ConfigurationInvalid"));
    assert_eq!(header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_str(&received.body).expect("JSON body");
    assert_eq!(
        body,
        json!({
            "errorMessage": "rds-guard configuration is invalid: ALERT_TOPIC_ARN is not set",
            "errorType": "ConfigurationInvalid",
            "stackTrace": [],
        })
    );
}

#[tokio::test]
async fn a_runtime_api_that_refuses_the_init_error_is_an_error() {
    let (address, api) = runtime_api_stand_in(500);
    let error = report_init_error(&address, CONFIG_INVALID_ERROR_TYPE, "bad").await.expect_err("refused");
    assert_eq!(error.to_string(), "the Runtime API answered the init error with HTTP 500");
    assert!(api.join().expect("stand-in").is_some());
}

const CHILD_ENV: &str = "RDSGUARD_KERNEL_TEST_INIT_CHILD";

/// Run only as a child process by the test below: what a function's `main` does with an invalid
/// configuration.
#[test]
#[ignore = "the child process of config_or_exit_reports_the_init_error_then_exits_1"]
fn invalid_configuration_child() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let _: () =
            crate::startup::config_or_exit("rds-guard", Err::<(), _>("SEVERITY_THRESHOLD=urgent is not a severity"));
    }
}

#[test]
fn config_or_exit_reports_the_init_error_then_exits_1() {
    let (address, api) = runtime_api_stand_in(202);
    let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "kernel::tests::invalid_configuration_child", "--ignored", "--nocapture"])
        .env(CHILD_ENV, "1")
        .env(RUNTIME_API_ENV, &address)
        .output()
        .expect("child ran");
    assert_eq!(status.status.code(), Some(1), "{}", String::from_utf8_lossy(&status.stdout));
    let received = api.join().expect("stand-in").expect("the child reported its init error");
    assert_eq!(received.request_line, "POST /2018-06-01/runtime/init/error HTTP/1.1");
    let body: Value = serde_json::from_str(&received.body).expect("JSON body");
    assert_eq!(body["errorMessage"], "rds-guard configuration is invalid: SEVERITY_THRESHOLD=urgent is not a severity");
}
