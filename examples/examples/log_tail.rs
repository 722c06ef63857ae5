//! Streams across outages: a server streams a growing log to a client
//! through a relay; both links are cut and healed mid-stream, and the
//! client prints that it lost and repeated nothing (see
//! `pb_examples::log_tail`).
//!
//! Run: `cargo run -p pb-examples --example log_tail`

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tokio::time::timeout(Duration::from_secs(30), pb_examples::log_tail::run(3_000))
        .await
        .map_err(|_| "the example took more than 30 s")?
}
