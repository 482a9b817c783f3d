//! A fault-injecting HTTP proxy between the SDK and moto server.
//!
//! moto never throttles, never fails on purpose and never answers slowly, so the tests point the
//! handlers' SDK at this proxy instead ([`FaultProxy::sdk_config`]) and the proxy forwards to moto.
//! It
//! - records every request in arrival order ([`FaultProxy::requests`], [`FaultProxy::calls_of`]):
//!   the AWS service and region (from the SigV4 credential scope), the action (query protocol:
//!   `Action=` in the form body or URL; JSON protocols: the `X-Amz-Target` header; rest-json:
//!   `"METHOD /path"`), headers, the raw body and, for query-protocol calls, the decoded form params;
//! - injects faults per action or per service, for the first N matching calls or all of them
//!   ([`Fault`]): throttling and AccessDenied with each service's real status code and error body,
//!   500, 503, a slow answer, a reset connection;
//! - rewrites moto's answer to an action with a closure ([`FaultProxy::rewrite`]), e.g. to give
//!   `DescribeDBInstances` the `PendingModifiedValues` moto never reports;
//! - answers in moto's place for an action moto does not implement ([`FaultProxy::stand_in`]),
//!   e.g. Account Management's `ListRegions`.
//!
//! The proxy runs on its own thread and Tokio runtime, so it works from any test (plain or
//! `#[tokio::test]`) and stops when dropped. Seeding and reading back (the `Estate` helpers) keep
//! talking to moto directly, so only the code under test sees the faults.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::MotoServer;

/// How a request was encoded; decides what an injected error looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// awsQuery (RDS, SNS, STS, IAM): form body, XML answers, `<ErrorResponse><Error>…`.
    Query,
    /// ec2Query: form body, XML answers, `<Response><Errors><Error>…`.
    Ec2,
    /// awsJson1_0 / awsJson1_1 (SQS, Organizations, CloudTrail, DynamoDB): `X-Amz-Target`.
    Json,
    /// restJson1 (GuardDuty, Security Hub): the operation is in the method and path.
    RestJson,
}

/// One request as the SDK sent it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Position in arrival order, from 0.
    pub seq: usize,
    /// SigV4 signing name (`rds`, `ec2`, `sns`, `sqs`, `sts`, `organizations`, `guardduty`, …).
    pub service: String,
    pub region: String,
    pub protocol: Protocol,
    /// `ModifyDBInstance`, `SendMessage`, … (rest-json: `"POST /detector/…"`).
    pub action: String,
    pub method: String,
    /// Path and query string.
    pub path: String,
    /// Header names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Query-protocol parameters (form body and URL query), decoded; empty for other protocols.
    pub form: BTreeMap<String, String>,
    /// The fault the proxy answered with instead of (or, for `Slow`, before) forwarding.
    pub injected: Option<Fault>,
    /// Answered by a stand-in ([`FaultProxy::stand_in`]), not by moto.
    pub stood_in: bool,
}

impl Recorded {
    /// A query-protocol parameter, e.g. `param("ApplyImmediately")`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form.get(name).map(String::as_str)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body of a JSON-protocol call, parsed.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Whether moto saw this request (no fault, or only a delay).
    pub fn reached_upstream(&self) -> bool {
        !self.stood_in && matches!(self.injected, None | Some(Fault::Slow(_)))
    }
}

/// What the proxy does instead of simply forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The service's real throttling error: RDS/SNS/STS `400 Throttling`; EC2
    /// `503 RequestLimitExceeded`; JSON protocols `400 ThrottlingException` (Organizations:
    /// `TooManyRequestsException`); rest-json `429 TooManyRequestsException`.
    Throttle,
    /// 500 `InternalFailure` (EC2: `InternalError`; rest-json: `InternalServerErrorException`).
    InternalError,
    /// 503 `ServiceUnavailable` (EC2: `Unavailable`).
    Unavailable,
    /// The caller is not allowed: RDS/STS `403 AccessDenied`, SNS `403 AuthorizationError`,
    /// EC2 `403 UnauthorizedOperation`, JSON `400 AccessDeniedException`, rest-json
    /// `403 AccessDeniedException`; the message names the IAM action like AWS's does.
    AccessDenied,
    /// Waits this long, then forwards and answers. Past the client's attempt timeout the SDK has
    /// given up on the attempt by then; moto may still see (and apply) the call, as AWS would.
    Slow(Duration),
    /// Closes the connection with a TCP reset (SO_LINGER 0) without answering.
    Reset,
    /// Any other error, in the protocol's error shape.
    Error { status: u16, code: String, message: String },
}

/// Which requests a fault or rewrite applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum On {
    /// This action, in any service.
    Action(String),
    /// Every call to this service (signing name).
    Service(String),
    /// This action of this service.
    ServiceAction(String, String),
    /// rest-json calls whose path contains this text.
    PathContains(String),
    Any,
}

impl On {
    pub fn action(action: &str) -> Self {
        Self::Action(action.to_owned())
    }

    pub fn service(service: &str) -> Self {
        Self::Service(service.to_owned())
    }

    fn matches(&self, request: &Recorded) -> bool {
        match self {
            Self::Action(action) => request.action == *action,
            Self::Service(service) => request.service == *service,
            Self::ServiceAction(service, action) => request.service == *service && request.action == *action,
            Self::PathContains(text) => request.path.contains(text.as_str()),
            Self::Any => true,
        }
    }
}

/// How many matching calls a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    First(usize),
    Always,
}

/// Retry and timeout settings for the SDK under test: the SDK's standard retry mode with short
/// backoffs, so throttling past the retry budget fails in milliseconds rather than seconds.
#[derive(Debug, Clone, Copy)]
pub struct ClientBudget {
    /// Attempts per call, the first included (the SDK's default is 3).
    pub max_attempts: u32,
    /// Time allowed for one attempt before the SDK gives up on it (and retries).
    pub attempt_timeout: Duration,
}

impl Default for ClientBudget {
    fn default() -> Self {
        // moto can take a second or two on the first call to a service (it loads the backend).
        Self { max_attempts: 3, attempt_timeout: Duration::from_secs(5) }
    }
}

type Rewriter = Arc<dyn Fn(&Recorded, &str) -> String + Send + Sync>;
/// A stand-in's answer to a request: status and JSON body.
type StandIn = Arc<dyn Fn(&Recorded) -> (u16, String) + Send + Sync>;

struct Rule {
    on: On,
    fault: Fault,
    remaining: Option<usize>,
}

struct Shared {
    upstream: String,
    requests: Mutex<Vec<Recorded>>,
    rules: Mutex<Vec<Rule>>,
    rewrites: Mutex<Vec<(On, Rewriter)>>,
    stand_ins: Mutex<Vec<(On, StandIn)>>,
    open_connections: AtomicUsize,
    accepted_connections: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 (a free port) forwarding to `upstream` (`http://host:port`).
    pub fn start(upstream: impl Into<String>) -> Self {
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream: upstream.into().trim_end_matches('/').to_owned(),
            requests: Mutex::default(),
            rules: Mutex::default(),
            rewrites: Mutex::default(),
            stand_ins: Mutex::default(),
            open_connections: AtomicUsize::new(0),
            accepted_connections: AtomicUsize::new(0),
        });
        let (shutdown, stopped) = oneshot::channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                let runtime =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("proxy runtime");
                runtime.block_on(serve(listener, thread_shared, stopped));
            })
            .expect("proxy thread");
        Self { addr, shared, shutdown: Some(shutdown), thread: Some(thread) }
    }

    pub fn in_front_of(moto: &MotoServer) -> Self {
        Self::start(moto.endpoint())
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SDK configuration for the moto account, through the proxy, with [`ClientBudget::default`].
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        self.sdk_config_with(region, ClientBudget::default()).await
    }

    pub async fn sdk_config_with(&self, region: &str, budget: ClientBudget) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(budget.max_attempts)
                    .with_initial_backoff(Duration::from_millis(5))
                    .with_max_backoff(Duration::from_millis(40)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(budget.attempt_timeout)
                    .build(),
            )
            .load()
            .await
    }

    /// Answers matching calls with `fault`, for the first N of them or all. Rules are tried in the
    /// order added; the first with calls left applies.
    pub fn inject(&self, on: On, fault: Fault, times: Times) {
        let remaining = match times {
            Times::First(n) => Some(n),
            Times::Always => None,
        };
        lock(&self.shared.rules).push(Rule { on, fault, remaining });
    }

    /// `fault` for the first `n` calls of `action`, then moto answers.
    pub fn fail_first(&self, action: &str, n: usize, fault: Fault) {
        self.inject(On::action(action), fault, Times::First(n));
    }

    /// `fault` for every call of `action`.
    pub fn fail_always(&self, action: &str, fault: Fault) {
        self.inject(On::action(action), fault, Times::Always);
    }

    /// `fault` for every call to a service (by signing name: `"sns"`, `"sqs"`, …).
    pub fn fail_service(&self, service: &str, fault: Fault) {
        self.inject(On::service(service), fault, Times::Always);
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.rules).clear();
    }

    /// Rewrites moto's successful (2xx) answers to matching calls.
    pub fn rewrite(&self, on: On, rewrite: impl Fn(&Recorded, &str) -> String + Send + Sync + 'static) {
        lock(&self.shared.rewrites).push((on, Arc::new(rewrite)));
    }

    pub fn clear_rewrites(&self) {
        lock(&self.shared.rewrites).clear();
    }

    /// Answers matching calls itself (JSON, with the closure's status and body) instead of
    /// forwarding them: for an action moto does not implement. Faults still apply first.
    pub fn stand_in(&self, on: On, answer: impl Fn(&Recorded) -> (u16, String) + Send + Sync + 'static) {
        lock(&self.shared.stand_ins).push((on, Arc::new(answer)));
    }

    /// Every request so far, in arrival order (faulted ones included).
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Every call of `action` so far (faulted ones included).
    pub fn calls_of(&self, action: &str) -> Vec<Recorded> {
        lock(&self.shared.requests).iter().filter(|r| r.action == action).cloned().collect()
    }

    /// Calls of `action` that reached moto (not answered with a fault).
    pub fn served_calls_of(&self, action: &str) -> Vec<Recorded> {
        self.calls_of(action).into_iter().filter(Recorded::reached_upstream).collect()
    }

    pub fn count(&self, action: &str) -> usize {
        lock(&self.shared.requests).iter().filter(|r| r.action == action).count()
    }

    /// The actions called, in order.
    pub fn actions(&self) -> Vec<String> {
        lock(&self.shared.requests).iter().map(|r| r.action.clone()).collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Client connections open right now.
    pub fn open_connections(&self) -> usize {
        self.shared.open_connections.load(Ordering::SeqCst)
    }

    /// Client connections accepted since the start.
    pub fn accepted_connections(&self) -> usize {
        self.shared.accepted_connections.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(listener: StdTcpListener, shared: Arc<Shared>, mut stopped: oneshot::Receiver<()>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let shared = shared.clone();
        let client = client.clone();
        shared.accepted_connections.fetch_add(1, Ordering::SeqCst);
        shared.open_connections.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            connection(stream, &shared, &client).await;
            shared.open_connections.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// One client connection: HTTP/1.1 requests in turn (keep-alive), until the client closes it.
async fn connection(mut stream: TcpStream, shared: &Shared, client: &Client<HttpConnector, Full<Bytes>>) {
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        let close = request.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
        match handle(request, shared, client).await {
            Answer::Reset => {
                // SO_LINGER 0: closing sends RST instead of FIN.
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                return;
            }
            Answer::Http(response) => {
                if stream.write_all(&response.encode()).await.is_err() || close {
                    return;
                }
            }
        }
    }
}

struct RawRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The next request on the connection (`None` once the client closed it or sent garbage).
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<RawRequest> {
    loop {
        let mut slots = [httparse::EMPTY_HEADER; 96];
        let mut parsed = httparse::Request::new(&mut slots);
        match parsed.parse(buffer) {
            Ok(httparse::Status::Complete(head_len)) => {
                let method = parsed.method?.to_owned();
                let target = parsed.path?.to_owned();
                let headers: Vec<(String, String)> = parsed
                    .headers
                    .iter()
                    .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
                    .collect();
                let length = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                while buffer.len() < head_len + length {
                    read_more(stream, buffer).await?;
                }
                let body = buffer[head_len..head_len + length].to_vec();
                buffer.drain(..head_len + length);
                return Some(RawRequest { method, target, headers, body });
            }
            Ok(httparse::Status::Partial) => read_more(stream, buffer).await?,
            Err(_) => return None,
        }
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0_u8; 16 * 1024];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            Some(())
        }
    }
}

enum Answer {
    Http(RawResponse),
    Reset,
}

struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn encode(&self) -> Vec<u8> {
        let reason = StatusCode::from_u16(self.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Unknown");
        let mut out = format!("HTTP/1.1 {} {reason}\r\n", self.status).into_bytes();
        for (name, value) in &self.headers {
            // The proxy frames the (possibly rewritten) body itself.
            if matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
                continue;
            }
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

async fn handle(request: RawRequest, shared: &Shared, client: &Client<HttpConnector, Full<Bytes>>) -> Answer {
    let mut recorded = describe(request.method, &request.target, request.headers, request.body);
    let mut stand_in = None;
    {
        let mut rules = lock(&shared.rules);
        if let Some(rule) = rules.iter_mut().find(|r| r.on.matches(&recorded) && r.remaining != Some(0)) {
            if let Some(n) = rule.remaining.as_mut() {
                *n -= 1;
            }
            recorded.injected = Some(rule.fault.clone());
        }
        if recorded.injected.is_none() {
            stand_in = lock(&shared.stand_ins).iter().find(|(on, _)| on.matches(&recorded)).map(|(_, f)| f.clone());
            recorded.stood_in = stand_in.is_some();
        }
        let mut requests = lock(&shared.requests);
        recorded.seq = requests.len();
        requests.push(recorded.clone());
    }
    match &recorded.injected {
        None => {}
        Some(Fault::Slow(delay)) => tokio::time::sleep(*delay).await,
        Some(Fault::Reset) => return Answer::Reset,
        Some(fault) => return Answer::Http(error_answer(&recorded, fault)),
    }
    if let Some(answer) = stand_in {
        let (status, body) = answer(&recorded);
        let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        return Answer::Http(RawResponse { status, headers, body: body.into_bytes() });
    }
    Answer::Http(forward(&recorded, shared, client).await)
}

async fn forward(recorded: &Recorded, shared: &Shared, client: &Client<HttpConnector, Full<Bytes>>) -> RawResponse {
    let mut upstream = Request::builder()
        .method(hyper::Method::from_bytes(recorded.method.as_bytes()).unwrap_or(hyper::Method::POST))
        .uri(format!("{}{}", shared.upstream, recorded.path));
    for (name, value) in &recorded.headers {
        upstream = upstream.header(name.as_str(), value.as_str());
    }
    let Ok(upstream) = upstream.body(Full::new(Bytes::from(recorded.body.clone()))) else {
        return plain(StatusCode::BAD_GATEWAY, "fault proxy: cannot build the upstream request");
    };
    let answer = match client.request(upstream).await {
        Ok(answer) => answer,
        Err(e) => return plain(StatusCode::BAD_GATEWAY, &format!("fault proxy: upstream unreachable: {e}")),
    };
    let (parts, body) = answer.into_parts();
    let Ok(body) = body.collect().await.map(|c| c.to_bytes()) else {
        return plain(StatusCode::BAD_GATEWAY, "fault proxy: upstream answer cut short");
    };
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let rewriter = if parts.status.is_success() {
        lock(&shared.rewrites).iter().find(|(on, _)| on.matches(recorded)).map(|(_, f)| f.clone())
    } else {
        None
    };
    let body = match rewriter {
        Some(rewrite) => {
            // A checksum of the old body would no longer match (DynamoDB sends one).
            headers.retain(|(k, _)| k != "x-amz-crc32");
            rewrite(recorded, &String::from_utf8_lossy(&body)).into_bytes()
        }
        None => body.to_vec(),
    };
    RawResponse { status: parts.status.as_u16(), headers, body }
}

/// Service, region, protocol and action of a request.
fn describe(method: String, target: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Recorded {
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    // Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, …
    let scope: Vec<&str> = header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split(',').next())
        .map(|c| c.split('/').collect())
        .unwrap_or_default();
    let region = scope.get(2).copied().unwrap_or_default().to_owned();
    let service = scope.get(3).copied().unwrap_or_default().to_owned();
    let (url_path, url_query) = target.split_once('?').unwrap_or((target, ""));
    let is_form = header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let mut form = BTreeMap::new();
    if is_form || url_query.contains("Action=") {
        form.extend(form_urlencoded::parse(url_query.as_bytes()).into_owned());
        if is_form {
            form.extend(form_urlencoded::parse(&body).into_owned());
        }
    }
    let (protocol, action) = if let Some(target) = header("x-amz-target") {
        (Protocol::Json, target.rsplit('.').next().unwrap_or(target).to_owned())
    } else if let Some(action) = form.get("Action") {
        (if service == "ec2" { Protocol::Ec2 } else { Protocol::Query }, action.clone())
    } else {
        (Protocol::RestJson, format!("{method} {url_path}"))
    };
    Recorded {
        seq: 0,
        service,
        region,
        protocol,
        action,
        method,
        path: target.to_owned(),
        headers,
        body,
        form,
        injected: None,
        stood_in: false,
    }
}

fn plain(status: StatusCode, text: &str) -> RawResponse {
    RawResponse { status: status.as_u16(), headers: vec![], body: text.as_bytes().to_vec() }
}

/// The status, code and message AWS answers with for `fault` on this request.
fn error_of(request: &Recorded, fault: &Fault) -> (u16, String, String) {
    let iam_action = format!("{}:{}", request.service, request.action);
    let denied = format!(
        "User: arn:aws:sts::123456789012:assumed-role/rdsguard-test/session is not authorized to perform: \
         {iam_action} because no identity-based policy allows the {iam_action} action"
    );
    let (status, code, message): (u16, &str, String) = match (fault, request.protocol) {
        (Fault::Throttle, Protocol::Ec2) => (503, "RequestLimitExceeded", "Request limit exceeded.".into()),
        (Fault::Throttle, Protocol::Query) => (400, "Throttling", "Rate exceeded".into()),
        (Fault::Throttle, Protocol::Json) if request.service == "organizations" => (
            400,
            "TooManyRequestsException",
            "AWS Organizations can't complete your request because of too many requests.".into(),
        ),
        (Fault::Throttle, Protocol::Json) => (400, "ThrottlingException", "Rate exceeded".into()),
        (Fault::Throttle, Protocol::RestJson) => (429, "TooManyRequestsException", "Rate exceeded".into()),
        (Fault::InternalError, Protocol::Ec2) => (500, "InternalError", "An internal error has occurred".into()),
        (Fault::InternalError, Protocol::RestJson) => {
            (500, "InternalServerErrorException", "Internal server error".into())
        }
        (Fault::InternalError, _) => {
            (500, "InternalFailure", "The request processing has failed because of an unknown error.".into())
        }
        (Fault::Unavailable, Protocol::Ec2) => {
            (503, "Unavailable", "The server is overloaded and can't handle the request.".into())
        }
        (Fault::Unavailable, _) => (503, "ServiceUnavailable", "Service is unable to handle request.".into()),
        (Fault::AccessDenied, Protocol::Ec2) => {
            (403, "UnauthorizedOperation", format!("You are not authorized to perform this operation. {denied}"))
        }
        (Fault::AccessDenied, Protocol::Query) if request.service == "sns" => (403, "AuthorizationError", denied),
        (Fault::AccessDenied, Protocol::Query) => (403, "AccessDenied", denied),
        (Fault::AccessDenied, Protocol::Json) => (400, "AccessDeniedException", denied),
        (Fault::AccessDenied, Protocol::RestJson) => (403, "AccessDeniedException", denied),
        (Fault::Error { status, code, message }, _) => (*status, code.as_str(), message.clone()),
        (Fault::Slow(_) | Fault::Reset, _) => (500, "InternalFailure", "not an error answer".into()),
    };
    (status, code.to_owned(), message)
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn error_answer(request: &Recorded, fault: &Fault) -> RawResponse {
    let (status, code, message) = error_of(request, fault);
    let request_id = format!("fault-proxy-{:08}", request.seq);
    let (content_type, body, error_type_header) = match request.protocol {
        Protocol::Query => {
            let kind = if status >= 500 { "Receiver" } else { "Sender" };
            let body = format!(
                "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{}</Message></Error>\
                 <RequestId>{request_id}</RequestId></ErrorResponse>",
                xml_escape(&message)
            );
            ("text/xml".to_owned(), body, None)
        }
        Protocol::Ec2 => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>\
                 <Message>{}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>",
                xml_escape(&message)
            );
            ("text/xml;charset=UTF-8".to_owned(), body, None)
        }
        Protocol::Json => {
            let content_type = request.header("content-type").unwrap_or("application/x-amz-json-1.1").to_owned();
            let body = serde_json::json!({ "__type": code, "message": message }).to_string();
            (content_type, body, None)
        }
        Protocol::RestJson => {
            let body = serde_json::json!({ "message": message }).to_string();
            ("application/json".to_owned(), body, Some(code.clone()))
        }
    };
    let mut headers = vec![("content-type".to_owned(), content_type), ("x-amzn-requestid".to_owned(), request_id)];
    if let Some(error_type) = error_type_header {
        headers.push(("x-amzn-errortype".to_owned(), error_type));
    }
    RawResponse { status, headers, body: body.into_bytes() }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sns::error::ProvideErrorMetadata;

    use super::*;

    async fn sns(proxy: &FaultProxy, budget: ClientBudget) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&proxy.sdk_config_with("us-east-1", budget).await)
    }

    #[tokio::test]
    async fn records_forwards_and_injects_faults_per_protocol() {
        let moto = MotoServer::start();
        let proxy = FaultProxy::in_front_of(&moto);
        let budget = ClientBudget::default();

        // Recorded and forwarded, with the form params decoded.
        let sns = sns(&proxy, budget).await;
        let topic = sns.create_topic().name("alerts-1").send().await.expect("created through the proxy");
        assert!(topic.topic_arn().is_some());
        let call = proxy.calls_of("CreateTopic").pop().expect("recorded");
        assert_eq!((call.service.as_str(), call.region.as_str(), call.protocol), ("sns", "us-east-1", Protocol::Query));
        assert_eq!(call.param("Name"), Some("alerts-1"));

        // Throttled twice, then served: the SDK's retries get through (3 attempts).
        proxy.fail_first("ListTopics", 2, Fault::Throttle);
        sns.list_topics().send().await.expect("third attempt served");
        assert_eq!(proxy.count("ListTopics"), 3);
        assert_eq!(proxy.served_calls_of("ListTopics").len(), 1);

        // Throttled past the retry budget: the SDK reports the service's throttling code.
        proxy.fail_always("ListTopics", Fault::Throttle);
        let error = sns.list_topics().send().await.expect_err("throttled");
        assert_eq!(error.code(), Some("Throttling"));
        assert_eq!(proxy.count("ListTopics"), 6);
        proxy.clear_faults();

        // AccessDenied is not retried and names the action.
        proxy.fail_always("Publish", Fault::AccessDenied);
        let arn = topic.topic_arn().unwrap_or_default();
        let error = sns.publish().topic_arn(arn).message("a b&c=d").send().await.expect_err("denied");
        assert_eq!(error.code(), Some("AuthorizationError"));
        assert!(error.message().unwrap_or_default().contains("sns:Publish"), "{error:?}");
        assert_eq!(proxy.count("Publish"), 1);
        assert_eq!(proxy.calls_of("Publish")[0].param("Message"), Some("a b&c=d"), "form params decoded");

        // EC2 throttling is 503 RequestLimitExceeded; JSON protocols' is ThrottlingException.
        proxy.fail_always("DescribeSecurityGroups", Fault::Throttle);
        let ec2 = aws_sdk_ec2::Client::new(&proxy.sdk_config_with("us-east-1", budget).await);
        let error = ec2.describe_security_groups().send().await.expect_err("throttled");
        assert_eq!(aws_sdk_ec2::error::ProvideErrorMetadata::code(&error), Some("RequestLimitExceeded"));
        assert_eq!(proxy.calls_of("DescribeSecurityGroups")[0].protocol, Protocol::Ec2);
        proxy.fail_always("ListQueues", Fault::Throttle);
        let sqs = aws_sdk_sqs::Client::new(&proxy.sdk_config_with("us-east-1", budget).await);
        let error = sqs.list_queues().send().await.expect_err("throttled");
        assert_eq!(aws_sdk_sqs::error::ProvideErrorMetadata::code(&error), Some("ThrottlingException"));
        let call = proxy.calls_of("ListQueues").pop().expect("recorded");
        assert_eq!((call.protocol, call.service.as_str()), (Protocol::Json, "sqs"));
        assert_eq!(proxy.count("ListQueues"), 3);

        // A whole service down: 503 on every call, retried, then reported.
        proxy.fail_service("sts", Fault::Unavailable);
        let sts = aws_sdk_sts::Client::new(&proxy.sdk_config_with("us-east-1", budget).await);
        let error = sts.get_caller_identity().send().await.expect_err("unavailable");
        assert_eq!(aws_sdk_sts::error::ProvideErrorMetadata::code(&error), Some("ServiceUnavailable"));
        assert_eq!(proxy.count("GetCallerIdentity"), 3);
    }

    #[tokio::test]
    async fn resets_slow_answers_and_rewrites() {
        let moto = MotoServer::start();
        let proxy = FaultProxy::in_front_of(&moto);
        let sns = sns(&proxy, ClientBudget { max_attempts: 2, attempt_timeout: Duration::from_millis(800) }).await;
        sns.list_topics().send().await.expect("warm moto's SNS backend");

        // A reset connection is a dispatch failure the SDK retries: reset once, then served.
        proxy.fail_first("ListTopics", 1, Fault::Reset);
        sns.list_topics().send().await.expect("retried after the reset");
        proxy.fail_always("ListTopics", Fault::Reset);
        let error = sns.list_topics().send().await.expect_err("reset every time");
        assert!(format!("{error:?}").to_lowercase().contains("dispatch"), "{error:?}");
        proxy.clear_faults();

        // An answer slower than the attempt timeout: the SDK gives up on each attempt.
        proxy.fail_always("ListTopics", Fault::Slow(Duration::from_secs(2)));
        let started = std::time::Instant::now();
        let error = sns.list_topics().send().await.expect_err("timed out");
        assert!(format!("{error:?}").contains("Timeout"), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        proxy.clear_faults();

        // The answer moto gives is rewritten before the SDK sees it.
        sns.create_topic().name("real").send().await.expect("created");
        proxy.rewrite(On::action("ListTopics"), |_, body| body.replace(":real<", ":renamed<"));
        let topics = sns.list_topics().send().await.expect("listed");
        let arns: Vec<_> = topics.topics().iter().filter_map(|t| t.topic_arn()).collect();
        assert!(arns.iter().any(|a| a.ends_with(":renamed")), "{arns:?}");
        assert_eq!(proxy.open_connections() > 0, proxy.accepted_connections() > 0);
    }
}
