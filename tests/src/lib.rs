//! Support code shared by pb's integration tests: the test interfaces (after
//! the seed's `aurora` example) and helpers that connect two sides over each
//! transport.

pub mod alloc;
pub mod aurora;
pub mod chain;
pub use pb::fault;
pub mod hostile;
pub mod ledger;
pub mod models;
pub mod net;
pub mod pki;
pub mod raw;
pub mod session;
pub mod streams;
pub mod twisted;

use std::time::Duration;

/// Wait until `cond` holds, checking every 5 ms for at most 5 s; panics with
/// `what` if it never does. For effects that arrive asynchronously (a release
/// message, a closed connection), never for timing.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for: {what}");
}
