//! The CloudFormation custom resource: the stack creates, updates and deletes the guardrails
//! through guardrail-manager. CloudFormation waits for an answer PUT to the request's pre-signed
//! ResponseURL; guardrail-manager always sends one, SUCCESS or FAILED, so a stack never hangs.

use std::time::Duration;

use async_trait::async_trait;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::{json, Value};

/// CloudFormation keeps at most 4,096 bytes of a response; the reason is cut well below that, in
/// bytes (at a character boundary): 1,000 characters of non-ASCII text could be 4,000 bytes.
const REASON_MAX: usize = 1_000;
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// A custom resource request, as CloudFormation invokes the function with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomResourceRequest {
    pub request_type: RequestType,
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// Set on Update and Delete: what the previous answer named the resource.
    pub physical_resource_id: Option<String>,
}

/// Whether the payload is a CloudFormation custom resource request (it names a ResponseURL).
pub fn is_request(payload: &Value) -> bool {
    payload.get("ResponseURL").is_some() && payload.get("RequestType").is_some()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("custom resource request has no usable {0}")]
    Missing(&'static str),
    #[error("custom resource RequestType {0:?} is not Create, Update or Delete")]
    UnknownType(String),
}

impl CustomResourceRequest {
    pub fn parse(payload: &Value) -> Result<Self, RequestError> {
        let text = |key: &'static str| {
            payload.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
        };
        let required = |key: &'static str| text(key).ok_or(RequestError::Missing(key));
        let request_type = match required("RequestType")?.as_str() {
            "Create" => RequestType::Create,
            "Update" => RequestType::Update,
            "Delete" => RequestType::Delete,
            other => return Err(RequestError::UnknownType(other.to_owned())),
        };
        Ok(Self {
            request_type,
            response_url: required("ResponseURL")?,
            stack_id: required("StackId")?,
            request_id: required("RequestId")?,
            logical_resource_id: required("LogicalResourceId")?,
            physical_resource_id: text("PhysicalResourceId"),
        })
    }
}

/// The answer: `Err(reason)` is FAILED. Also built for a request that could not be parsed, from
/// whatever fields it has, so that CloudFormation still hears back.
pub fn response_body(payload: &Value, physical_resource_id: &str, outcome: Result<Value, String>) -> String {
    let field = |key: &str| payload.get(key).cloned().unwrap_or(Value::Null);
    let mut body = json!({
        "StackId": field("StackId"),
        "RequestId": field("RequestId"),
        "LogicalResourceId": field("LogicalResourceId"),
        "PhysicalResourceId": physical_resource_id,
    });
    match outcome {
        Ok(data) => {
            body["Status"] = json!("SUCCESS");
            body["Data"] = data;
        }
        Err(reason) => {
            let mut reason = reason[..reason.floor_char_boundary(REASON_MAX)].to_owned();
            if reason.is_empty() {
                reason = "guardrail-manager failed without a reason".to_owned();
            }
            body["Status"] = json!("FAILED");
            body["Reason"] = json!(format!("{reason} (see the guardrail-manager log)"));
        }
    }
    body.to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the custom resource response could not be sent to CloudFormation: {0}")]
pub struct ResponseError(pub String);

/// Sends the answer to the ResponseURL.
#[async_trait]
pub trait ResponseSender: Send + Sync {
    async fn put(&self, url: &str, body: String) -> Result<(), ResponseError>;
}

/// HTTPS PUT with hyper (already in the build through the AWS SDK's HTTP client), trusting the
/// system's root certificates. Plain `http://` URLs are accepted too (local tests).
pub struct HttpResponseSender {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpResponseSender {
    pub fn new() -> Result<Self, ResponseError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| ResponseError(format!("no root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self { client: Client::builder(TokioExecutor::new()).build(https) })
    }
}

#[async_trait]
impl ResponseSender for HttpResponseSender {
    async fn put(&self, url: &str, body: String) -> Result<(), ResponseError> {
        // The pre-signed URL is signed without a content type: send an empty one.
        let request = hyper::Request::builder()
            .method(hyper::Method::PUT)
            .uri(url)
            .header(hyper::header::CONTENT_TYPE, "")
            .header(hyper::header::CONTENT_LENGTH, body.len())
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ResponseError(format!("bad ResponseURL: {e}")))?;
        let response = tokio::time::timeout(RESPONSE_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| ResponseError(format!("no answer within {} s", RESPONSE_TIMEOUT.as_secs())))?
            .map_err(|e| ResponseError(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = match response.into_body().collect().await {
            Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).chars().take(300).collect(),
            Err(_) => String::new(),
        };
        Err(ResponseError(format!("HTTP {status}: {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: &str) -> Value {
        json!({
            "RequestType": kind, "ResponseURL": "https://cloudformation-custom-resource-response.s3.amazonaws.com/x",
            "StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/rdsguard/1", "RequestId": "r-1",
            "LogicalResourceId": "Guardrails", "ResourceType": "Custom::Guardrails",
            "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:111122223333:function:x"}
        })
    }

    #[test]
    fn requests_are_read_and_bad_ones_named() {
        let parsed = CustomResourceRequest::parse(&request("Create")).unwrap();
        assert_eq!((parsed.request_type, parsed.physical_resource_id), (RequestType::Create, None));
        assert_eq!(
            CustomResourceRequest::parse(&request("Replace")).unwrap_err().to_string(),
            "custom resource RequestType \"Replace\" is not Create, Update or Delete"
        );
        let mut no_stack = request("Delete");
        no_stack["StackId"] = json!("");
        assert_eq!(CustomResourceRequest::parse(&no_stack).unwrap_err(), RequestError::Missing("StackId"));
    }

    #[test]
    fn failure_bodies_carry_a_bounded_reason() {
        let body: Value =
            serde_json::from_str(&response_body(&request("Create"), "rdsguard-guardrails", Err("x".repeat(5_000))))
                .unwrap();
        assert_eq!(body["Status"], "FAILED");
        assert_eq!(body["RequestId"], "r-1");
        assert!(body["Reason"].as_str().unwrap().len() < 1_100);
        // Found by the fuzz tests: a reason of multi-byte characters is cut in bytes, not characters.
        let wide: Value =
            serde_json::from_str(&response_body(&request("Create"), "p", Err("é🦀".repeat(2_000)))).unwrap();
        let reason = wide["Reason"].as_str().unwrap();
        assert!(reason.len() < 1_100 && reason.starts_with("é🦀é🦀"), "{} bytes", reason.len());
        let ok: Value =
            serde_json::from_str(&response_body(&request("Create"), "p", Ok(json!({"PolicyIds": "p-1"})))).unwrap();
        assert_eq!((ok["Status"].as_str(), ok["Data"]["PolicyIds"].as_str()), (Some("SUCCESS"), Some("p-1")));
    }
}
