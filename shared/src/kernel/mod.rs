//! The invocation kernel every function's `main` calls: [`serve`] runs Lambda's runtime loop, hands
//! the handler the payload and the [`Invocation`] (request id, function ARN, [`Deadline`]), writes
//! one CloudWatch EMF line per invocation ([`crate::metrics`]) and turns a handler error into the
//! Lambda error Diagnostic (`errorType` = [`InvocationFailure::kind`]).

mod deadline;

use std::future::Future;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

pub use deadline::{Deadline, PUBLISH_RESERVE};

use crate::metrics::InvocationMetrics;
use crate::report::FindingSummary;

/// What one invocation is given besides its payload.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Lambda's request id (`Lambda-Runtime-Aws-Request-Id`).
    pub request_id: String,
    /// The ARN the function was invoked by (its account is the central account).
    pub function_arn: String,
    /// When the invocation times out.
    pub deadline: Deadline,
}

impl Invocation {
    /// An invocation without a deadline (tests and the command line).
    pub fn unbounded() -> Self {
        Self { request_id: String::new(), function_arn: String::new(), deadline: Deadline::none() }
    }
}

/// A handler's successful result: serialised as the invocation's response; its findings feed the
/// invocation's metrics.
pub trait InvocationReport: Serialize {
    fn findings(&self) -> &[FindingSummary];
}

/// A handler's error: the invocation fails (Lambda retries it, then keeps it in the dead-letter
/// queue) with `errorType` = [`Self::kind`].
pub trait InvocationFailure: std::fmt::Display {
    /// Short error type reported to Lambda (shows as `errorType` in logs and the DLQ).
    fn kind(&self) -> &'static str;
}

/// Runs `handler` for every invocation until the runtime stops. `function` names the function in
/// the metrics.
pub async fn serve<H, Fut, R, E>(function: &'static str, handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Value, Invocation) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    R: InvocationReport,
    E: InvocationFailure,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let invocation = Invocation {
            request_id: event.context.request_id.clone(),
            function_arn: event.context.invoked_function_arn.clone(),
            deadline: Deadline::from_epoch_millis(event.context.deadline),
        };
        let result = handler(event.payload, invocation);
        async move {
            let result = result.await;
            match &result {
                Ok(report) => InvocationMetrics::handled(report.findings()).emit(function),
                Err(_) => InvocationMetrics::failed().emit(function),
            }
            result.map_err(|e| Diagnostic { error_type: e.kind().to_owned(), error_message: e.to_string() })
        }
    }))
    .await
}
