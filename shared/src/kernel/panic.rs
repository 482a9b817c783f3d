//! A panic inside a handler must not end the invocation silently: [`catch_panic`] turns it into an
//! error invocation (Lambda retries the event, then keeps it in the dead-letter queue) with a
//! message naming the function, the request and the panic, and [`panic_metric`] counts it
//! (`Panics` in the `rdsguard` namespace) next to the invocation's `Errors`.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use serde_json::{json, Value};

use crate::metrics::{DIMENSION, NAMESPACE};

/// `errorType` of an invocation whose handler panicked.
pub const PANIC_ERROR_TYPE: &str = "HandlerPanicked";

/// The metric counting panicked invocations.
pub const PANIC_METRIC: &str = "Panics";

/// What a panicked handler left: the panic's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panicked {
    pub message: String,
}

/// Runs `work` (the handler's future: its creation is polled inside it, so a panic while building
/// it is caught too) and catches a panic in it.
pub async fn catch_panic<T>(work: impl Future<Output = T>) -> Result<T, Panicked> {
    AssertUnwindSafe(work).catch_unwind().await.map_err(|payload| Panicked { message: panic_message(payload.as_ref()) })
}

/// The text a panic was raised with (`panic!("…")`, `expect("…")`, an index out of bounds, …).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// The EMF document counting one panic of `function`, stamped `timestamp_ms`.
pub fn panic_metric(function: &str, timestamp_ms: u128) -> Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[DIMENSION]],
                "Metrics": [{"Name": PANIC_METRIC, "Unit": "Count"}],
            }],
        },
        DIMENSION: function,
        PANIC_METRIC: 1,
    })
}
