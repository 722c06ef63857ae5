//! Helpers for reconnection tests: fast session settings, restartable servers.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use pb::backoff::BackoffConfig;
use pb::server::IntoRoot;
use pb::{Server, SessionConfig, SessionEvent};

/// Session settings for tests: quick pings and reconnects, no jitter.
pub fn fast() -> SessionConfig {
    let backoff = BackoffConfig {
        initial: Duration::from_millis(20),
        multiplier: 1.6,
        jitter: 0.0,
        max: Duration::from_millis(200),
    };
    SessionConfig::default()
        .ping_interval(Duration::from_millis(50))
        .ping_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_secs(2))
        .retry_wait(Duration::from_secs(5))
        .backoff(backoff)
}

/// Bind `addr` again (a restarted server on the same port), retrying while
/// the old listener is still being torn down (at most 5 s).
pub async fn rebind(addr: SocketAddr, root: impl IntoRoot + Clone) -> Server {
    for _ in 0..500 {
        if let Ok(s) = Server::bind(addr, root.clone()).await {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("could not bind {addr} again");
}

/// The next event, within 10 s.
pub async fn next_event(events: &mut (impl futures_util::Stream<Item = SessionEvent> + Unpin)) -> SessionEvent {
    tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event within 10 s")
        .expect("stream open")
}

/// The kind of an event, for order checks.
pub fn kind(e: &SessionEvent) -> &'static str {
    match e {
        SessionEvent::Connected { .. } => "connected",
        SessionEvent::Disconnected { .. } => "disconnected",
        SessionEvent::Reconnected { .. } => "reconnected",
        SessionEvent::Healed { .. } => "healed",
        _ => "other",
    }
}
