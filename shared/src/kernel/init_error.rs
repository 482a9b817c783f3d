//! Init failures (a configuration mistake) reported through the Lambda Runtime API's init error
//! endpoint, `POST http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error`, so the Lambda
//! console and the `Runtime.*` init error show the reason rather than only "exited with status 1".
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html#runtimes-api-initerror>

use std::time::Duration;

use http::{Method, Request, Uri};
use lambda_runtime_api_client::body::Body;
use serde_json::json;

/// The environment variable naming the Runtime API's `host:port` (set by Lambda).
pub const RUNTIME_API_ENV: &str = "AWS_LAMBDA_RUNTIME_API";

/// `Lambda-Runtime-Function-Error-Type` of an invalid configuration (`<category>.<reason>`, as
/// the Runtime API recommends).
pub const CONFIG_INVALID_ERROR_TYPE: &str = "Runtime.ConfigurationInvalid";

/// How long init waits for the Runtime API to take the report before exiting anyway.
const REPORT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum InitErrorReportError {
    #[error("the Runtime API address {0:?} is not a valid host:port")]
    Address(String),
    #[error("cannot build the init error request: {0}")]
    Request(#[from] http::Error),
    #[error("the Runtime API did not take the init error: {0}")]
    Send(String),
    #[error("the Runtime API answered the init error with HTTP {0}")]
    Status(u16),
    #[error("the Runtime API did not answer the init error within {0:?}")]
    Timeout(Duration),
}

/// Posts `message` as the init error to the Runtime API at `runtime_api` (`host:port`): body
/// `{"errorMessage", "errorType", "stackTrace"}`, header `Lambda-Runtime-Function-Error-Type`.
pub async fn report_init_error(runtime_api: &str, error_type: &str, message: &str) -> Result<(), InitErrorReportError> {
    let base: Uri =
        format!("http://{runtime_api}").parse().map_err(|_| InitErrorReportError::Address(runtime_api.to_owned()))?;
    let client = lambda_runtime_api_client::Client::builder()
        .with_endpoint(base)
        .build()
        .map_err(|e| InitErrorReportError::Send(e.to_string()))?;
    let body = json!({
        "errorMessage": message,
        "errorType": error_type.rsplit('.').next().unwrap_or(error_type),
        "stackTrace": [],
    });
    let request = Request::builder()
        .method(Method::POST)
        .uri("/2018-06-01/runtime/init/error")
        .header("content-type", "application/json")
        .header("Lambda-Runtime-Function-Error-Type", error_type)
        .body(Body::from(body.to_string()))?;
    let answer = tokio::time::timeout(REPORT_TIMEOUT, client.call(request))
        .await
        .map_err(|_| InitErrorReportError::Timeout(REPORT_TIMEOUT))?
        .map_err(|e| InitErrorReportError::Send(e.to_string()))?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(InitErrorReportError::Status(answer.status().as_u16()))
    }
}

/// [`report_init_error`] to the Runtime API named by [`RUNTIME_API_ENV`], from synchronous code
/// (init, before the runtime loop): on its own thread and Tokio runtime, so it works whatever
/// runtime the caller is in. Outside Lambda (no [`RUNTIME_API_ENV`]) there is nothing to report to.
pub fn report_init_error_from_env(error_type: &str, message: &str) -> Option<Result<(), InitErrorReportError>> {
    let runtime_api = std::env::var(RUNTIME_API_ENV).ok().filter(|v| !v.is_empty())?;
    let (error_type, message) = (error_type.to_owned(), message.to_owned());
    let reporter = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| InitErrorReportError::Send(format!("no runtime to send it with: {e}")))?;
        runtime.block_on(report_init_error(&runtime_api, &error_type, &message))
    });
    Some(reporter.join().unwrap_or_else(|_| Err(InitErrorReportError::Send("the reporting thread panicked".into()))))
}
