//! An organisation on one moto server: the central security account (moto's default account) and
//! member accounts, with IAM set up as the templates set it up, and moto's IAM enforcement switched
//! on while the functions run, so that every call they make is authorised (or denied) by those
//! policies.
//!
//! IAM is seeded with raw Query API calls (no IAM SDK crate needed): moto picks the account from the
//! `x-moto-account-id` header and the service from the Authorization header's credential scope, and
//! does not check signatures while enforcement is off.
//!
//! What moto does and does not model (moto 5.2.5, moto/iam/access_control.py):
//! - With enforcement on (`POST /moto-api/reset-auth`), every request must carry a known access key
//!   and is authorised against the caller's identity policies; assumed-role sessions are authorised
//!   against the role's policies in the role's own account.
//! - For sts:AssumeRole, moto reads a trust policy only when the role is in the caller's own
//!   account; across accounts it evaluates the caller's identity policy alone, and it lets any
//!   AssumeRole of a role that does not exist succeed ("the role does not need to exist",
//!   moto/sts/models.py). So a member account without the role cannot deny on its side in moto.
//!   [`Organization::deny_assume_role_into`] gives the closest real denial: an explicit Deny in the
//!   central identity's policy, which makes moto's STS answer AssumeRole with AccessDenied — the same
//!   response real STS gives when the role is missing or does not trust the caller.
//! - moto cannot check the SigV4 signature of an SNS Publish from the Rust SDK: werkzeug hands it
//!   the form already parsed, and moto re-encodes it as botocore would (spaces as `+`) while the
//!   Rust SDK sent `%20`, so the signatures differ. [`PausingPublisher`] publishes each alert with
//!   enforcement paused for that one call; sns:Publish itself is checked by the template tests.

use std::io::{Read, Write};
use std::net::TcpStream;

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use rdsguard::alert::Alert;
use rdsguard::aws::{AlertPublisher, AwsError};
use serde_json::{json, Value};

use crate::estate::HOME_REGION;
use crate::Estate;

/// The central identity the functions run as in these tests (moto has no Lambda execution role;
/// an IAM user with the function's policy stands in for it).
pub const CENTRAL_IDENTITY: &str = "rdsguard-central-function";

pub struct Organization<'a> {
    pub estate: &'a Estate,
    pub central_account: String,
    /// Statements of the central identity's policy.
    central_statements: Vec<Value>,
}

impl<'a> Organization<'a> {
    pub fn new(estate: &'a Estate, central_account: &str) -> Self {
        Self { estate, central_account: central_account.to_owned(), central_statements: Vec::new() }
    }

    /// One IAM Query API call in `account`; returns the response body (panics on an HTTP error).
    pub fn iam(&self, account: &str, params: &[(&str, &str)]) -> String {
        let mut body = String::from("Version=2010-05-08");
        for (key, value) in params {
            body.push('&');
            body.push_str(key);
            body.push('=');
            body.push_str(&form_encode(value));
        }
        let (status, response) = self.http(
            "POST",
            "/",
            &[
                ("x-moto-account-id", account),
                ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature=0",
                ),
                ("x-amz-date", "20260101T000000Z"),
            ],
            &body,
        );
        assert!(status.starts_with("HTTP/1.1 200"), "IAM {params:?} in {account} failed: {status}\n{response}");
        response
    }

    fn http(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (String, String) {
        http(&self.estate.moto.endpoint(), method, path, headers, body)
    }

    /// Adds a statement to the central identity's policy (applied by [`Self::central_config`]).
    pub fn allow_central(&mut self, actions: &[&str]) {
        self.central_statements.push(json!({"Effect": "Allow", "Action": actions, "Resource": "*"}));
    }

    /// See the module notes: an explicit Deny on the central side stands in for a member account
    /// whose role is missing, because moto cannot deny on the member's side.
    pub fn deny_assume_role_into(&mut self, role_arn: &str) {
        self.central_statements.push(json!({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": role_arn}));
    }

    /// Creates the central identity with its policy and returns SDK configuration acting as it.
    pub async fn central_config(&self) -> SdkConfig {
        let account = self.central_account.as_str();
        self.iam(account, &[("Action", "CreateUser"), ("UserName", CENTRAL_IDENTITY)]);
        let policy = json!({"Version": "2012-10-17", "Statement": self.central_statements}).to_string();
        self.iam(
            account,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", CENTRAL_IDENTITY),
                ("PolicyName", "function"),
                ("PolicyDocument", &policy),
            ],
        );
        let key = self.iam(account, &[("Action", "CreateAccessKey"), ("UserName", CENTRAL_IDENTITY)]);
        let key_id = xml_text(&key, "AccessKeyId");
        let secret = xml_text(&key, "SecretAccessKey");
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.estate.moto.endpoint())
            .region(Region::new(HOME_REGION))
            .credentials_provider(Credentials::new(key_id, secret, None, None, "central-function"))
            .load()
            .await
    }

    /// The ARN of the central identity.
    pub fn central_identity_arn(&self) -> String {
        format!("arn:aws:iam::{}:user/{CENTRAL_IDENTITY}", self.central_account)
    }

    /// Creates the member role in `account` as templates/member.yaml does: trust for the central
    /// identity within the organisation, and an inline policy allowing `actions`. (Resources are
    /// `*` here: moto does not resolve the template's `Fn::Sub` ARNs.)
    pub fn create_member_role(&self, account: &str, role_name: &str, organization_id: &str, actions: &[String]) {
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": [self.central_identity_arn()]},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}}
            }]
        })
        .to_string();
        self.iam(account, &[("Action", "CreateRole"), ("RoleName", role_name), ("AssumeRolePolicyDocument", &trust)]);
        let policy =
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})
                .to_string();
        self.iam(
            account,
            &[
                ("Action", "PutRolePolicy"),
                ("RoleName", role_name),
                ("PolicyName", "rdsguard-remediation"),
                ("PolicyDocument", &policy),
            ],
        );
    }

    /// The central identity may assume `role_arn` and no other member role (as template.yaml
    /// grants each function sts:AssumeRole on its own member role name only). moto evaluates the
    /// caller's policy for cross-account AssumeRole (see the module notes), so this is what is
    /// enforced here.
    pub fn allow_assume_only(&mut self, role_arn: &str) {
        self.central_statements.push(json!({"Effect": "Deny", "Action": "sts:AssumeRole", "NotResource": role_arn}));
    }

    /// Creates every function's member role in `account` as templates/member.yaml does
    /// (`<base_name>-<function>`, each with that function's actions from the template), all trusting
    /// the one central identity here (moto has no Lambda execution roles to tell apart; the
    /// template tests check each role trusts only its function's role).
    pub fn create_member_roles(&self, account: &str, base_name: &str, organization_id: &str) {
        for (logical, function) in [
            ("RdsGuard", "rds-guard"),
            ("NetworkGuard", "network-guard"),
            ("PipelineGuard", "pipeline-guard"),
            ("GuardDutyResponder", "guardduty-responder"),
        ] {
            let actions: Vec<String> =
                crate::template::member_role_actions(&format!("{logical}MemberRole")).into_iter().collect();
            let name = rdsguard::aws::member_role_name_for(base_name, function);
            self.create_member_role(account, &name, organization_id, &actions);
        }
    }

    /// Switches moto's IAM enforcement on (every request authorised from now on) or off.
    pub fn enforce_iam(&self, on: bool) {
        enforce_iam(&self.estate.moto.endpoint(), on);
    }

    /// Wraps the real alert publisher (see the module notes).
    pub fn pausing_publisher(&self, inner: Arc<dyn AlertPublisher>) -> Arc<dyn AlertPublisher> {
        Arc::new(PausingPublisher { inner, endpoint: self.estate.moto.endpoint() })
    }
}

fn enforce_iam(endpoint: &str, on: bool) {
    let count = if on { "0" } else { "inf" };
    let (status, body) = http(endpoint, "POST", "/moto-api/reset-auth", &[], count);
    assert!(status.starts_with("HTTP/1.1 200"), "reset-auth: {status} {body}");
}

/// The real SNS publisher, called with moto's IAM enforcement paused (see the module notes).
struct PausingPublisher {
    inner: Arc<dyn AlertPublisher>,
    endpoint: String,
}

#[async_trait]
impl AlertPublisher for PausingPublisher {
    async fn publish(&self, alert: &Alert) -> Result<String, AwsError> {
        enforce_iam(&self.endpoint, false);
        let published = self.inner.publish(alert).await;
        enforce_iam(&self.endpoint, true);
        published
    }

    async fn publish_all(&self, alerts: &[Alert]) -> Vec<Result<String, AwsError>> {
        enforce_iam(&self.endpoint, false);
        let published = self.inner.publish_all(alerts).await;
        enforce_iam(&self.endpoint, true);
        published
    }
}

fn http(endpoint: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (String, String) {
    let address = endpoint.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).expect("connect to moto");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.lines().next().unwrap_or_default().to_owned(), rest.to_owned())
}

fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn xml_text(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no <{tag}> in {xml}")) + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).expect("closing tag") + start;
    xml[start..end].to_owned()
}
