//! Reconnecting client sessions (the seed's Client object).
//!
//! A [`Client`] connects to a server's root, pings it, detects outages (a
//! missed ping or a failed call), reconnects with backoff, and heals every
//! live proxy it handed out, then reports [`SessionEvent::Reconnected`].
//!
//! # Which proxies heal
//!
//! The session remembers how each reconnectable proxy was obtained and
//! replays that path after reconnecting, in the order the proxies were made
//! (parents before children):
//! - the root ([`Client::root`], [`Client::registry`]);
//! - registry lookups through a reconnecting registry proxy
//!   (`registry.get::<dyn Iface>()`), also at relays forwarding upstream;
//! - methods declared `#[pb(replay)]` called on a reconnecting proxy.
//!
//! Other references (returned by ordinary methods, or nested in copies) are
//! plain references: after an outage they fail with
//! [`crate::Error::Disconnected`] for good.
//!
//! A path can fail to replay even though the link is back: through a relay
//! whose own upstream is still down, the relay answers the lookup or the
//! replayed method with an error. Such proxies are retried on every ping and
//! after every failed call while the link is up, and the session reports
//! [`SessionEvent::Healed`] when they work again. So cutting both links of a
//! chain heals in either order.
//!
//! A path the server *refuses* is given up instead: a login whose
//! credentials are no longer accepted answers `Unauthorized`, and retrying
//! it at every ping would only count against the server's attempt limit.
//! The session reports [`SessionEvent::Refused`], calls through the avatar
//! (and proxies obtained through it) fail with `Unauthorized`, and the
//! rest of the session keeps working.
//!
//! # Failure semantics
//!
//! During an outage calls fail fast with `Disconnected`; a call in flight when
//! the link drops fails with `ConnectionLost` (it may or may not have run).
//! Nothing is retried, except methods declared `#[pb(idempotent)]`: a call of
//! such a method that failed with `ConnectionLost` is sent once more after the
//! session heals (within [`SessionConfig::retry_wait`]).
//!
//! # Defaults
//!
//! Ping every 5 s, outage if no pong within 5 s (a black-holed link is
//! detected within 10 s); reconnect backoff per gRPC's connection-backoff
//! spec (1 s initial, x1.6, ±20% jitter, 120 s cap), first attempt at once;
//! 10 s to connect and handshake; idempotent retries wait up to 30 s for
//! healing. All configurable through [`SessionConfig`].

pub mod backoff;
mod track;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::{Notify, broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::references::heal::{Heal, HealSlot, Healer};
use crate::services::registry::Locator;
use crate::{Config, Connection, Error, Interface};
use backoff::{Backoff, BackoffConfig};

use crate::transport::Tcp;
pub use crate::transport::{Connect, ConnectFn};

/// Settings of a reconnecting session.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionConfig {
    /// How often to ping the server. Default 5 s.
    pub ping_interval: Duration,
    /// How long a ping may take before the link counts as down. Default 5 s.
    pub ping_timeout: Duration,
    /// How long one connect attempt (transport and handshake) may take. Default 10 s.
    pub connect_timeout: Duration,
    /// How long an idempotent call waits for healing before giving up. Default 30 s.
    pub retry_wait: Duration,
    /// Reconnect delays.
    pub backoff: BackoffConfig,
    /// Settings of each connection.
    pub connection: Config,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            ping_interval: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            retry_wait: Duration::from_secs(30),
            backoff: BackoffConfig::default(),
            connection: Config::default(),
        }
    }
}

impl SessionConfig {
    /// Set [`SessionConfig::ping_interval`].
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.ping_interval = d;
        self
    }
    /// Set [`SessionConfig::ping_timeout`].
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.ping_timeout = d;
        self
    }
    /// Set [`SessionConfig::connect_timeout`].
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// Set [`SessionConfig::retry_wait`].
    pub fn retry_wait(mut self, d: Duration) -> Self {
        self.retry_wait = d;
        self
    }
    /// Set [`SessionConfig::backoff`].
    pub fn backoff(mut self, b: BackoffConfig) -> Self {
        self.backoff = b;
        self
    }
    /// Set [`SessionConfig::connection`].
    pub fn connection(mut self, c: Config) -> Self {
        self.connection = c;
        self
    }
}

/// A change in a session's link.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// Connected (the first event of a stream when the session is up).
    Connected {
        /// The server's address.
        peer: String,
    },
    /// The link went down.
    Disconnected {
        /// The server's address.
        peer: String,
        /// Why: closed by the peer, ping timeout, read error, ...
        reason: String,
    },
    /// Reconnected, and every live reconnecting proxy was replayed.
    Reconnected {
        /// The server's address.
        peer: String,
        /// Proxies whose path was replayed and now point at the new link.
        healed: usize,
        /// Proxies whose path failed to replay: they fail with
        /// `Disconnected` until a later retry succeeds ([`SessionEvent::Healed`]).
        /// Paths the server refused are not counted here but reported by
        /// [`SessionEvent::Refused`] right after this event.
        failed: usize,
    },
    /// Proxies whose replay had failed after a reconnect were replayed later
    /// (retried at each ping and after each failed call while connected):
    /// e.g. a relay whose own upstream came back after the relay did.
    Healed {
        /// The server's address.
        peer: String,
        /// Proxies replayed now.
        healed: usize,
        /// Proxies still failing.
        failed: usize,
    },
    /// The server refused to replay a path, so the session gave it up: a
    /// login whose credentials are no longer accepted (and every proxy
    /// obtained through that avatar). Calls on those proxies fail with
    /// `error` from now on, and the session never sends the path again
    /// (a server that limits login attempts is not hammered). The rest of
    /// the session works; log in again (with [`Client::login`]) for a new
    /// avatar.
    Refused {
        /// The server's address.
        peer: String,
        /// The refused path, e.g. `pb.Login.login() -> aurora.UserManager`.
        path: String,
        /// The server's answer, [`Error::Unauthorized`].
        error: Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Status {
    connected: bool,
    /// Increments after each heal.
    generation: u64,
}

/// State shared by a session's task, its handle and its proxies.
pub(crate) struct SessionCore {
    config: SessionConfig,
    connector: Arc<dyn Connect>,
    conn: RwLock<Connection>,
    tracked: Mutex<track::TrackedList>,
    events: broadcast::Sender<SessionEvent>,
    status: watch::Sender<Status>,
    kick: Notify,
    cancel: CancellationToken,
    me: Weak<SessionCore>,
}

impl Healer for SessionCore {
    fn link_failed(&self) {
        self.kick.notify_one();
    }

    fn generation(&self) -> u64 {
        self.status.borrow().generation
    }

    fn wait_healed(&self, generation: u64) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            let mut rx = self.status.subscribe();
            let healed = rx.wait_for(|s| s.connected && s.generation > generation);
            tokio::select! {
                r = tokio::time::timeout(self.config.retry_wait, healed) => matches!(r, Ok(Ok(_))),
                () = self.cancel.cancelled() => false,
            }
        })
    }

    fn track(&self, attach: &mut dyn FnMut(HealSlot) -> bool, path: String, target: Box<dyn Heal>) {
        self.track_with(attach, path, target);
    }

    fn forget(&self, seq: u64) {
        self.forget_tracked(seq);
    }
}

impl SessionCore {
    fn peer(&self) -> String {
        self.connector.describe()
    }

    fn emit(&self, event: SessionEvent) {
        let _ = self.events.send(event);
    }

    async fn try_connect(&self) -> Result<Connection, Error> {
        connect_once(&self.config, &*self.connector).await
    }

    /// Watch `conn` until it fails; returns why, or `None` if the session closed.
    async fn watch(&self, conn: &Connection) -> Option<String> {
        let mut ticks = tokio::time::interval(self.config.ping_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                () = conn.closed() => {
                    return Some(conn.close_reason().unwrap_or_else(|| "connection closed".into()));
                }
                () = self.cancel.cancelled() => return None,
                () = self.kick.notified() => {}
                _ = ticks.tick() => {}
            }
            if conn.is_closed() {
                continue;
            }
            match tokio::time::timeout(self.config.ping_timeout, conn.ping()).await {
                Ok(Ok(rtt)) => tracing::trace!(peer = %self.peer(), ?rtt, "pong"),
                Ok(Err(e)) => return Some(format!("ping failed: {e}")),
                Err(_) => return Some(format!("no pong within {:?}", self.config.ping_timeout)),
            }
            if self.has_stale() {
                // Some replay failed (say, a relay whose own upstream was
                // still down): try those paths again on the live link.
                let report = self.heal(conn, true).await;
                let (healed, failed) = (report.healed, report.failed);
                if healed > 0 {
                    let peer = self.peer();
                    tracing::info!(%peer, healed, failed, "healed proxies whose replay had failed");
                    self.emit(SessionEvent::Healed { peer, healed, failed });
                }
                self.emit_refused(report.refused);
            }
        }
    }

    fn emit_refused(&self, refused: Vec<(String, Error)>) {
        for (path, error) in refused {
            self.emit(SessionEvent::Refused { peer: self.peer(), path, error });
        }
    }

    /// The session's task: watch, and on an outage reconnect and heal.
    async fn run(self: Arc<Self>) {
        let mut backoff = Backoff::new(self.config.backoff.clone());
        loop {
            let conn = self.conn.read().unwrap().clone();
            let Some(reason) = self.watch(&conn).await else {
                conn.close();
                return;
            };
            conn.close();
            let peer = self.peer();
            tracing::warn!(%peer, %reason, "disconnected");
            self.status.send_modify(|s| s.connected = false);
            self.emit(SessionEvent::Disconnected { peer: peer.clone(), reason });

            backoff.reset();
            let mut attempt = 0u32;
            let new = loop {
                attempt += 1;
                let result = tokio::select! {
                    r = self.try_connect() => r,
                    () = self.cancel.cancelled() => return,
                };
                match result {
                    Ok(new) => break new,
                    Err(e) => {
                        let delay = backoff.next_delay();
                        tracing::info!(%peer, attempt, error = %e, ?delay, "reconnect failed; backing off");
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            () = self.cancel.cancelled() => return,
                        }
                    }
                }
            };
            tracing::info!(%peer, attempt, "connected again; replaying proxies");
            *self.conn.write().unwrap() = new.clone();
            let report = self.heal(&new, false).await;
            let (healed, failed) = (report.healed, report.failed);
            tracing::info!(%peer, healed, failed, refused = report.refused.len(), "reconnected");
            self.status.send_modify(|s| {
                s.connected = true;
                s.generation += 1;
            });
            self.emit(SessionEvent::Reconnected { peer, healed, failed });
            self.emit_refused(report.refused);
        }
    }
}

/// One attempt: transport and handshake, within the connect timeout.
async fn connect_once(config: &SessionConfig, connector: &dyn Connect) -> Result<Connection, Error> {
    let attempt = async {
        let transport = connector.connect().await?;
        Connection::builder().config(config.connection.clone()).establish(transport).await
    };
    match tokio::time::timeout(config.connect_timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(Error::Io(format!("connect timed out after {:?}", config.connect_timeout))),
    }
}

/// A reconnecting session to a server. Cheap to clone; dropping every clone
/// (or calling [`Client::close`]) ends the session.
#[derive(Clone)]
pub struct Client {
    shared: Arc<SessionCore>,
    _guard: Arc<CloseOnDrop>,
}

struct CloseOnDrop(CancellationToken);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("peer", &self.shared.peer()).field("connected", &self.is_connected()).finish()
    }
}

/// Builds a [`Client`].
#[derive(Default)]
pub struct ClientBuilder {
    config: SessionConfig,
}

impl ClientBuilder {
    /// Use these session settings.
    pub fn config(mut self, config: SessionConfig) -> Self {
        self.config = config;
        self
    }

    /// Connect over TCP to `addr`.
    ///
    /// # Errors
    ///
    /// The first connect attempt failed (later outages are handled by the session).
    pub async fn connect_tcp(self, addr: impl Into<String>) -> Result<Client, Error> {
        self.connect_with(Tcp(addr.into())).await
    }

    /// Connect through `connector` (TCP, Unix, in-memory, TLS, ...).
    ///
    /// # Errors
    ///
    /// The first connect attempt failed.
    pub async fn connect_with(self, connector: impl Connect) -> Result<Client, Error> {
        let connector: Arc<dyn Connect> = Arc::new(connector);
        let peer = connector.describe();
        let (events, _) = broadcast::channel(64);
        let (status, _) = watch::channel(Status { connected: true, generation: 0 });
        let conn = connect_once(&self.config, &*connector).await?;
        let shared = Arc::new_cyclic(|me| SessionCore {
            config: self.config,
            connector,
            conn: RwLock::new(conn),
            tracked: Mutex::new(track::TrackedList::default()),
            events,
            status,
            kick: Notify::new(),
            cancel: CancellationToken::new(),
            me: me.clone(),
        });
        tracing::info!(%peer, "connected");
        shared.emit(SessionEvent::Connected { peer });
        tokio::spawn(shared.clone().run());
        let guard = Arc::new(CloseOnDrop(shared.cancel.clone()));
        Ok(Client { shared, _guard: guard })
    }
}

impl Client {
    /// Connect over TCP to `addr` with default settings.
    ///
    /// # Errors
    ///
    /// The first connect attempt failed.
    pub async fn connect(addr: impl Into<String>) -> Result<Client, Error> {
        ClientBuilder::default().connect_tcp(addr).await
    }

    /// A builder, for settings and other transports.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A reconnecting proxy to the server's root object.
    ///
    /// # Errors
    ///
    /// [`Error::WrongInterface`] if the root is of another interface,
    /// [`Error::UnknownObject`] if the server has no root.
    pub fn root<T: ?Sized + Interface>(&self) -> Result<Arc<T>, Error> {
        track::track_root::<T>(&self.shared)
    }

    /// A reconnecting proxy to the server's root as a registry.
    ///
    /// # Errors
    ///
    /// As [`root`](Self::root): the server's root must be a registry.
    pub fn registry(&self) -> Result<Arc<dyn Locator>, Error> {
        self.root::<dyn Locator>()
    }

    /// Log in through the server's [`Portal`](crate::services::login::Portal) and
    /// return the avatar as a reconnecting proxy: after every outage the
    /// session logs in again with these credentials (kept in memory for
    /// that) and swaps the fresh avatar in, before reporting `Reconnected`.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthorized`] for refused credentials;
    /// [`Error::WrongInterface`] if the server's root is not a login (or the
    /// avatar is not a `T`); a transport error.
    pub async fn login<T: ?Sized + Interface>(
        &self,
        credentials: crate::services::login::Credentials,
    ) -> Result<Arc<T>, Error> {
        self.root::<dyn crate::services::login::Login>()?.login_as::<T>(credentials).await
    }

    /// The session's events: first the current state (`Connected`, or
    /// `Disconnected` during an outage), then every change. The stream does
    /// not borrow the client (it can be moved or spawned apart from it).
    pub fn events(&self) -> impl Stream<Item = SessionEvent> + Send + Unpin + use<> {
        let rx = self.shared.events.subscribe();
        let first = if self.is_connected() {
            SessionEvent::Connected { peer: self.shared.peer() }
        } else {
            SessionEvent::Disconnected { peer: self.shared.peer(), reason: "outage in progress".into() }
        };
        let rest = futures_util::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(e) => return Some((e, rx)),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "session event stream lagged");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Box::pin(futures_util::StreamExt::chain(futures_util::stream::iter([first]), rest))
    }

    /// Whether the link is up (and healed).
    pub fn is_connected(&self) -> bool {
        self.shared.status.borrow().connected
    }

    /// The current connection (closed during an outage).
    pub fn connection(&self) -> Connection {
        self.shared.conn.read().unwrap().clone()
    }

    /// The server's address, as the connector describes it.
    pub fn peer(&self) -> String {
        self.shared.peer()
    }

    /// Number of live proxies the session heals after an outage.
    pub fn tracked(&self) -> usize {
        track::live(&self.shared)
    }

    /// End the session: close the link and stop reconnecting.
    pub fn close(&self) {
        self.shared.cancel.cancel();
        self.shared.conn.read().unwrap().close();
    }
}
