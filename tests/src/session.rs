//! Helpers for reconnection tests: fast session settings, restartable servers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use pb::backoff::BackoffConfig;
use pb::server::IntoRoot;
use pb::{Client, Registry, Server, SessionConfig, SessionEvent};

use crate::aurora::{UserManager, Users};

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

/// [`fast`], without resumable sessions: every outage heals by replaying
/// how proxies were obtained (as after a server restart).
pub fn fast_replay() -> SessionConfig {
    fast().resume(false)
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
        SessionEvent::Resumed { .. } => "resumed",
        _ => "other",
    }
}

/// The server's registry: `users` as the `UserManager`.
fn registry_with(users: &Arc<Users>) -> Registry {
    let r = Registry::local();
    r.register::<dyn UserManager>(users.clone());
    r
}

/// A server whose registry holds a [`Users`] as its `UserManager`, and a
/// client session to it with [`fast`] settings. The server process can be
/// killed and a new one started on the same address, with new objects.
pub struct Restartable {
    /// The server (None once killed, until restarted).
    pub server: Option<Server>,
    /// The server's fixed address.
    pub addr: SocketAddr,
    /// The client's session to the server.
    pub client: Client,
}

impl Restartable {
    /// Serve `users` on a free local port and connect a session to it.
    pub async fn start(users: &Arc<Users>) -> Restartable {
        let server = Server::bind("127.0.0.1:0", registry_with(users)).await.unwrap();
        let addr = server.local_addr();
        let client = Client::builder().config(fast()).connect_tcp(addr.to_string()).await.unwrap();
        Restartable { server: Some(server), addr, client }
    }

    /// The server's `UserManager`, through the client's registry proxy.
    pub async fn user_manager(&self) -> Arc<dyn UserManager> {
        self.client.registry().unwrap().get::<dyn UserManager>().await.unwrap()
    }

    /// Kill the server process (its connections close at once).
    pub fn kill(&mut self) {
        if let Some(s) = self.server.take() {
            s.abort();
        }
    }

    /// Start a new server process on the same address, serving `users`
    /// (kills the old one first if it is still running).
    pub async fn restart(&mut self, users: &Arc<Users>) {
        self.kill();
        self.server = Some(rebind(self.addr, registry_with(users)).await);
    }
}
