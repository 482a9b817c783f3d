//! Logging setup shared by every function: JSON lines for CloudWatch Logs, level from `RUST_LOG`
//! (default `info`), no ANSI colours and no timestamps (CloudWatch adds its own).

use tracing_subscriber::EnvFilter;

pub fn init_lambda_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .try_init();
}
