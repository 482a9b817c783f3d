//! A moto server (the local AWS) on a free port, empty for each test.
//!
//! The binary comes from the project's virtualenv (`scripts/setup` creates `.venv`); set
//! `RDSGUARD_MOTO_SERVER` to use another one.
//!
//! A server a test is done with is reset (`POST /moto-api/reset`: every service's state is dropped,
//! as in a fresh server) and handed to the next test of the same process, so a test binary pays
//! Python's start and moto's imports (about 1.5 s of CPU per server and service) once per test
//! thread rather than once per test. Each server runs under a small shell that stops it when the
//! test process's end of its stdin closes, so no server outlives the process, however it ends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

pub struct MotoServer {
    /// The shell watching over the server (`None` once stopped).
    child: Option<Child>,
    port: u16,
}

/// Servers finished tests handed back, reset, for the next test in this process.
static IDLE: Mutex<Vec<(Child, u16)>> = Mutex::new(Vec::new());

/// Runs moto (`$0`) on port `$1` until stdin closes (the test process ended or let it go).
const WATCHDOG: &str =
    r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & server=$!; read -r _; kill "$server"; wait "$server""#;

impl MotoServer {
    pub fn binary() -> PathBuf {
        if let Some(path) = std::env::var_os("RDSGUARD_MOTO_SERVER") {
            return PathBuf::from(path);
        }
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/moto_server"))
    }

    /// An empty moto server that accepts connections: one a finished test handed back (reset), or a
    /// new one.
    pub fn start() -> Self {
        let idle = IDLE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        if let Some((child, port)) = idle {
            return Self { child: Some(child), port };
        }
        let binary = Self::binary();
        assert!(
            binary.exists(),
            "moto server not found at {} — run scripts/setup first (it creates .venv with moto[server])",
            binary.display()
        );
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port");
        let child = Command::new("sh")
            .args(["-c", WATCHDOG])
            .arg(&binary)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let server = Self { child: Some(child), port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto server did not start on port {port} within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Drops every service's state (moto's own reset endpoint); `false` if the server did not say so.
    fn reset(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let request = format!(
            "POST /moto-api/reset HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        let mut answer = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut answer).is_ok()
            && answer.starts_with("HTTP/1.1 200")
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SDK configuration for the moto account's own credentials, in `region`.
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await
    }

    /// SDK configuration acting in another (moto) account, through an assumed role.
    pub async fn sdk_config_for_account(&self, account: &str, region: &str) -> SdkConfig {
        let base = self.sdk_config(region).await;
        let sts = aws_sdk_sts::Client::new(&base);
        let credentials = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/seeder"))
            .role_session_name("seeder")
            .send()
            .await
            .expect("assume role in moto")
            .credentials
            .expect("credentials");
        base.to_builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                credentials.access_key_id,
                credentials.secret_access_key,
                Some(credentials.session_token),
                None,
                "moto-assumed",
            )))
            .build()
    }
}

impl Drop for MotoServer {
    /// Hands the server, reset, to the next test; one that cannot be reset is stopped.
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if matches!(child.try_wait(), Ok(None)) && self.reset() {
            IDLE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((child, self.port));
            return;
        }
        drop(child.stdin.take());
        let _ = child.wait();
    }
}
