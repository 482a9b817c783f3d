//! The invocation kernel every function's `main` calls: [`serve`] runs Lambda's runtime loop, hands
//! the handler the payload and the [`Invocation`] (request id, function ARN, [`Deadline`]), writes
//! one CloudWatch EMF line per invocation ([`crate::metrics`]) and turns a handler error into the
//! Lambda error Diagnostic (`errorType` = [`InvocationFailure::kind`]; the guard functions share one
//! error type, [`InvocationError`], and one outcome vocabulary, [`InvocationOutcome`]). A panic in the handler is an
//! error invocation too (`errorType` [`PANIC_ERROR_TYPE`], metric [`PANIC_METRIC`]), never a
//! silent end; an invalid configuration is reported to the Runtime API's init error endpoint
//! ([`init_error`]).

mod deadline;
mod failure;
pub mod init_error;
mod panic;
mod summary;
mod triage;

use std::future::Future;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

pub use deadline::{Deadline, PUBLISH_RESERVE};
pub use failure::{InvocationError, InvocationOutcome};
pub use panic::{catch_panic, panic_metric, Panicked, PANIC_ERROR_TYPE, PANIC_METRIC};
pub use summary::{InvocationSummary, NoDetail};
pub use triage::{handle_once, handle_triaged, triaged};

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

/// How one invocation ended: what Lambda is answered and the metrics it is counted in.
#[derive(Debug)]
pub struct Outcome<R> {
    pub result: Result<R, Diagnostic>,
    pub metrics: InvocationMetrics,
    /// The handler panicked (counted in [`PANIC_METRIC`] as well as `Errors`).
    pub panicked: bool,
}

impl<R> Outcome<R> {
    /// Writes the invocation's EMF line(s) to stdout for `function`.
    pub fn emit_metrics(&self, function: &str) {
        self.metrics.emit(function);
        if self.panicked {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default();
            println!("{}", panic_metric(function, now));
        }
    }
}

/// Runs `handler` once: its report or error, and a panic caught and turned into an error with a
/// message naming `function`, the request and the panic.
pub async fn invoke<H, Fut, R, E>(function: &str, handler: &H, payload: Value, invocation: Invocation) -> Outcome<R>
where
    H: Fn(Value, Invocation) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    R: InvocationReport,
    E: InvocationFailure,
{
    let request_id = invocation.request_id.clone();
    match catch_panic(async { handler(payload, invocation).await }).await {
        Ok(Ok(report)) => {
            Outcome { metrics: InvocationMetrics::handled(report.findings()), result: Ok(report), panicked: false }
        }
        Ok(Err(e)) => Outcome {
            result: Err(Diagnostic { error_type: e.kind().to_owned(), error_message: e.to_string() }),
            metrics: InvocationMetrics::failed(),
            panicked: false,
        },
        Err(Panicked { message }) => {
            let error_message = format!(
                "{function} panicked handling request {request_id}: {message}; \
                 Lambda retries the event, then keeps it in the dead-letter queue"
            );
            tracing::error!(%request_id, panic = %message, "{function} panicked; the invocation fails");
            Outcome {
                result: Err(Diagnostic { error_type: PANIC_ERROR_TYPE.to_owned(), error_message }),
                metrics: InvocationMetrics::failed(),
                panicked: true,
            }
        }
    }
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
    let handler = &handler;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let invocation = Invocation {
            request_id: event.context.request_id.clone(),
            function_arn: event.context.invoked_function_arn.clone(),
            deadline: Deadline::from_epoch_millis(event.context.deadline),
        };
        async move {
            let outcome = invoke(function, handler, event.payload, invocation).await;
            outcome.emit_metrics(function);
            outcome.result
        }
    }))
    .await
}

/// [`serve`] for a handler of one event that takes its dependencies (built once per container)
/// and the invocation's deadline, as every guard function's `handle_event_within` does.
pub async fn serve_event_handler<G, R, E>(
    function: &'static str,
    dependencies: &G,
    handle: impl AsyncFn(&Value, &G, Deadline) -> Result<R, E>,
) -> Result<(), lambda_runtime::Error>
where
    R: InvocationReport,
    E: InvocationFailure,
{
    let handle = &handle;
    serve(function, |payload: Value, invocation: Invocation| async move {
        handle(&payload, dependencies, invocation.deadline).await
    })
    .await
}

#[cfg(test)]
mod tests;
