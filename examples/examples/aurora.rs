//! The main demo: a server, a relay and a client on 127.0.0.1, surviving
//! outages of each link with the same proxies (see `pb_examples::demo`).
//! Session events are printed as they come, and pb's `tracing` events
//! (connects, backoff delays, replayed paths) are shown with a subscriber
//! (`RUST_LOG=pb_runtime=debug` for more).
//!
//! Run: `cargo run -p pb-examples --example aurora`

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "pb_runtime=info".into()),
        )
        .with_target(false)
        .compact()
        .init();
    tokio::time::timeout(Duration::from_secs(25), pb_examples::demo::run())
        .await
        .map_err(|_| "the demo took more than 25 s")?
}
