//! An AWS Organization on moto for guardrail-manager (Service Control Policies): the organisation, an OU, policies someone
//! else manages; guardrail-manager wired as its `main` wires it; and a local HTTP listener standing
//! in for CloudFormation's pre-signed ResponseURL.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_organizations::types::{OrganizationFeatureSet, PolicyType};
use guardrail_manager::custom_resource::HttpResponseSender;
use guardrail_manager::GuardrailManager;
use rdsguard::aws::SdkOrganizations;
use rdsguard::guardrails::GuardrailSettings;
use rdsguard::policy::Policy;
use rdsguard::startup::Plumbing;
use serde_json::{json, Value};

use crate::estate::HOME_REGION;
use crate::{Estate, FaultProxy};

/// The organisation's ids.
#[derive(Debug, Clone)]
pub struct Org {
    pub root_id: String,
    pub ou_id: String,
}

/// One PUT received by [`ResponseCatcher`].
#[derive(Debug, Clone)]
pub struct CaughtResponse {
    pub request_line: String,
    pub content_type: Option<String>,
    pub body: Value,
}

/// Listens on 127.0.0.1 for the custom resource answers and hands each one over.
pub struct ResponseCatcher {
    pub url: String,
    received: mpsc::Receiver<CaughtResponse>,
}

impl ResponseCatcher {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        let port = listener.local_addr().expect("address").port();
        let (sender, received) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut request_line = String::new();
                reader.read_line(&mut request_line).expect("request line");
                let (mut length, mut content_type) = (0usize, None);
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).expect("header");
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(':').unwrap_or((header, ""));
                    match name.to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        "content-type" => content_type = Some(value.trim().to_owned()),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).expect("body");
                stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").ok();
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let caught = CaughtResponse { request_line: request_line.trim_end().to_owned(), content_type, body };
                if sender.send(caught).is_err() {
                    return;
                }
            }
        });
        Self { url: format!("http://127.0.0.1:{port}/cloudformation-response?X-Amz-Signature=test"), received }
    }

    /// The next answer (fails the test after 10 s without one).
    pub fn next(&self) -> CaughtResponse {
        self.received.recv_timeout(Duration::from_secs(10)).expect("a custom resource response was PUT")
    }

    /// Whether another answer arrived.
    pub fn more(&self) -> bool {
        self.received.recv_timeout(Duration::from_millis(200)).is_ok()
    }
}

/// The session the test function runs as (in Lambda: STS GetCallerIdentity at start).
pub const OWN_SESSION_ARN: &str =
    "arn:aws:sts::123456789012:assumed-role/rdsguard-GuardrailManagerFunctionRole-X/rdsguard-guardrail-manager";

/// A CloudFormation custom resource request.
pub fn custom_resource_request(request_type: &str, response_url: &str, physical_id: Option<&str>) -> Value {
    let mut request = json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:rdsguard-guardrail-manager",
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/rdsguard/0a1b2c3d",
        "RequestId": format!("{request_type}-request"),
        "LogicalResourceId": "GuardrailPolicies",
        "ResourceType": "Custom::Guardrails",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:rdsguard-guardrail-manager"}
    });
    if let Some(id) = physical_id {
        request["PhysicalResourceId"] = json!(id);
    }
    request
}

impl Estate {
    pub async fn organizations(&self) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::new(&self.moto.sdk_config(HOME_REGION).await)
    }

    /// Creates the organisation (moto attaches FullAWSAccess to the root and the management
    /// account, as AWS does) and one OU under the root.
    pub async fn create_organization(&self) -> Org {
        let organizations = self.organizations().await;
        organizations
            .create_organization()
            .feature_set(OrganizationFeatureSet::All)
            .send()
            .await
            .expect("create organization");
        let roots = organizations.list_roots().send().await.expect("list roots");
        let root_id = roots.roots()[0].id().expect("root id").to_owned();
        let ou = organizations
            .create_organizational_unit()
            .parent_id(&root_id)
            .name("databases")
            .send()
            .await
            .expect("create OU");
        let ou_id = ou.organizational_unit().and_then(|o| o.id()).expect("OU id").to_owned();
        Org { root_id, ou_id }
    }

    /// A policy someone else manages, attached to `targets`; returns its id.
    pub async fn create_foreign_policy(&self, name: &str, content: &str, targets: &[&str]) -> String {
        let organizations = self.organizations().await;
        let created = organizations
            .create_policy()
            .name(name)
            .description("the platform team's")
            .content(content)
            .r#type(PolicyType::ServiceControlPolicy)
            .send()
            .await
            .expect("create policy");
        let id = created.policy().and_then(|p| p.policy_summary()).and_then(|s| s.id()).expect("id").to_owned();
        for target in targets {
            organizations.attach_policy().policy_id(&id).target_id(*target).send().await.expect("attach");
        }
        id
    }

    /// Every SCP: (id, name).
    pub async fn scps(&self) -> Vec<(String, String)> {
        let listed = self
            .organizations()
            .await
            .list_policies()
            .filter(PolicyType::ServiceControlPolicy)
            .send()
            .await
            .expect("list policies");
        listed
            .policies()
            .iter()
            .map(|p| (p.id().unwrap_or_default().to_owned(), p.name().unwrap_or_default().to_owned()))
            .collect()
    }

    pub async fn scp_content(&self, id: &str) -> Value {
        let described = self.organizations().await.describe_policy().policy_id(id).send().await.expect("describe");
        serde_json::from_str(described.policy().and_then(|p| p.content()).expect("content")).expect("JSON content")
    }

    /// Names of the SCPs attached to a target.
    pub async fn scps_on(&self, target: &str) -> Vec<String> {
        let listed = self
            .organizations()
            .await
            .list_policies_for_target()
            .target_id(target)
            .filter(PolicyType::ServiceControlPolicy)
            .send()
            .await
            .expect("list policies for target");
        let mut names: Vec<String> = listed.policies().iter().filter_map(|p| p.name()).map(str::to_owned).collect();
        names.sort();
        names
    }

    /// guardrail-manager wired as its `main` wires it, against moto, with extra settings.
    pub async fn guardrail_manager(&self, settings: &[(&str, &str)]) -> GuardrailManager {
        self.guardrail_manager_with(self.moto.sdk_config(HOME_REGION).await, settings)
    }

    /// guardrail-manager whose AWS calls (Organizations, SNS, SQS) go through `proxy`, to fault
    /// them; the Estate helpers keep talking to moto directly.
    pub async fn guardrail_manager_through(&self, proxy: &FaultProxy, settings: &[(&str, &str)]) -> GuardrailManager {
        self.guardrail_manager_with(proxy.sdk_config(HOME_REGION).await, settings)
    }

    fn guardrail_manager_with(&self, base: SdkConfig, settings: &[(&str, &str)]) -> GuardrailManager {
        let vars = self.variables(settings);
        let policy = Policy::from_vars(vars.clone()).expect("policy");
        let guardrails = GuardrailSettings::from_vars(vars).expect("guardrail settings");
        let organizations = aws_sdk_organizations::Client::new(&base);
        let plumbing = Plumbing::new(policy.clone(), base);
        GuardrailManager {
            policy,
            settings: guardrails,
            organization: Arc::new(SdkOrganizations::new(organizations.clone())),
            tree: Arc::new(SdkOrganizations::new(organizations)),
            alerting: plumbing.alerting,
            responses: Arc::new(HttpResponseSender::new().expect("HTTP client")),
            own_session_arn: Some(OWN_SESSION_ARN.to_owned()),
        }
    }
}
