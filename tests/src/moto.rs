//! Starts and stops a moto server (the local AWS) on a free port.
//!
//! The binary comes from the project's virtualenv (`scripts/setup` creates `.venv`); set
//! `RDSGUARD_MOTO_SERVER` to use another one.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

pub struct MotoServer {
    child: Child,
    port: u16,
}

impl MotoServer {
    pub fn binary() -> PathBuf {
        if let Some(path) = std::env::var_os("RDSGUARD_MOTO_SERVER") {
            return PathBuf::from(path);
        }
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/moto_server"))
    }

    /// Starts a fresh, empty moto server and waits until it accepts connections.
    pub fn start() -> Self {
        let binary = Self::binary();
        assert!(
            binary.exists(),
            "moto server not found at {} — run scripts/setup first (it creates .venv with moto[server])",
            binary.display()
        );
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port");
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto server did not start on port {port} within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
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
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
