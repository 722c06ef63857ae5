//! Reconnecting sessions to Twisted PB servers: [`TwistedSession`].

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock, Weak};

use futures_util::Stream;
use tokio::sync::{Notify, broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::connection::TwistedConnection;
use crate::connection::RemoteRef;
use crate::login::Credentials;
use crate::references::ProxyHandle;
use crate::references::heal::wait_for_heal;
use crate::references::heal::{Heal, HealSlot, Healer};
use crate::references::proxy::WeakHandle;
use crate::session::backoff::Backoff;
use crate::transport::{Connect, Tcp, TcpAddr};
use crate::{AnyRef, Error, Interface, SessionConfig, SessionEvent};

/// A boxed future of a fresh reference on a new connection.
type Refetched = Pin<Box<dyn Future<Output = Result<Arc<RemoteRef>, Error>> + Send>>;

/// How a tracked proxy gets its fresh reference on a new connection.
type Refetch = Arc<dyn Fn(TwistedConnection) -> Refetched + Send + Sync>;

/// A reconnecting session to a Twisted PB server. Cheap to clone; dropping
/// every clone (or calling [`close`](Self::close)) ends the session.
///
/// Like pb's own [`Client`](crate::Client), a session reconnects with
/// backoff after an outage and heals the proxies it handed out, so the
/// application keeps its `Arc`s: the root ([`TwistedSession::root`]) is a
/// fresh reference to `b"root"` on the new connection, and an avatar
/// ([`TwistedSession::login`]) logs in again with the same credentials.
/// PB has no resumption: calls in flight when the link drops fail with
/// [`Error::ConnectionLost`], calls during the outage with
/// [`Error::Disconnected`]; a method declared `#[pb(idempotent)]` is sent
/// once more after the session heals.
///
/// What a method declared `#[pb(replay)]` returned through one of these
/// proxies heals too, right after the proxy it came through (parents
/// before children, in the order they were obtained): the session calls
/// the method again with the same arguments through the healed parent. A
/// returned proxy is retargeted to the fresh reference; a
/// [`Cache`](crate::Cache) mirror of a Twisted `pb.Cacheable` adopts the
/// fresh copy (its observers get [`Change::Resynced`](crate::Change::Resynced)
/// with the current state, changes made during the outage included, and it
/// follows the new connection from then on). `Reconnected` counts them with
/// the root and avatars, as does [`tracked`](Self::tracked); a replay that
/// fails is retried at each ping interval while connected. If the server
/// refuses an avatar's login for good, what was replayed through that
/// avatar is given up with it (one `Refused` each). References returned by
/// other methods are the old connection's and fail for good, as in
/// Twisted.
///
/// # Detecting outages
///
/// PB has no ping. A session notices an outage when the connection closes:
/// the server closes it or goes away (EOF, a reset), a read or a write
/// fails, or a call fails on it. A link that goes silent without failing
/// (a black hole) is noticed by TCP keepalive within about a minute
/// ([`KEEPALIVE`](crate::transport::KEEPALIVE), on TCP transports), and
/// sooner by calling something: with
/// [`TwistedSessionBuilder::ping_method`] the session calls that method of
/// the root every [`SessionConfig::ping_interval`], and counts the link
/// down if no answer comes within [`SessionConfig::ping_timeout`]. Any
/// answer proves the link (a failure too: even a `NoSuchMethod`), so the
/// method needs no particular result; a cheap one with no arguments is
/// best. [`SessionConfig::resume`] and `wait_for_resume` do not apply.
///
/// ```no_run
/// # use pb_runtime as pb; // applications write `pb::...`
/// #[pb_macros::remote_interface(crate = "pb_runtime")] // applications write #[pb::remote_interface]
/// trait Avatar {
///     async fn whoami(&self) -> Result<String, pb::Error>;
/// }
/// # async fn run() -> Result<(), pb::Error> {
/// let session = pb::twisted::TwistedSession::connect("127.0.0.1:8790").await?;
/// let me = session.login::<dyn Avatar>(pb::login::Credentials::new("alice", "secret")).await?;
/// // ... the server restarts: the session logs in again by itself ...
/// assert_eq!(me.whoami().await?, "alice");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TwistedSession {
    core: Arc<Core>,
    _guard: Arc<CloseOnDrop>,
}

struct CloseOnDrop(CancellationToken);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl std::fmt::Debug for TwistedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwistedSession")
            .field("peer", &self.core.connector.describe())
            .field("connected", &self.is_connected())
            .finish()
    }
}

/// Builds a [`TwistedSession`].
#[derive(Default)]
pub struct TwistedSessionBuilder {
    config: SessionConfig,
    ping: Option<String>,
}

impl TwistedSessionBuilder {
    /// Use these session settings: the backoff, the connect timeout (the
    /// transport and PB's handshake), the retry wait of idempotent calls,
    /// each connection's limits, and the ping interval and timeout (with a
    /// [`ping_method`](Self::ping_method)).
    pub fn config(mut self, config: SessionConfig) -> Self {
        self.config = config;
        self
    }

    /// Call the root's method `name` (no arguments) at each ping interval
    /// to notice a link that went silent (see the
    /// [`TwistedSession`](TwistedSession#detecting-outages)).
    pub fn ping_method(mut self, name: impl Into<String>) -> Self {
        self.ping = Some(name.into());
        self
    }

    /// Connect over TCP to `addr`.
    ///
    /// # Errors
    ///
    /// The first attempt failed (later outages are the session's).
    pub async fn connect_tcp(self, addr: impl Into<TcpAddr>) -> Result<TwistedSession, Error> {
        self.connect_with(Tcp(addr.into().as_str().to_string())).await
    }

    /// Connect through `connector` (TLS: `pb::tls::TlsConnect`,
    /// a Unix socket, ...), again after each outage.
    ///
    /// # Errors
    ///
    /// The first attempt failed.
    pub async fn connect_with(self, connector: impl Connect) -> Result<TwistedSession, Error> {
        let connector: Arc<dyn Connect> = Arc::new(connector);
        let conn = connect_once(&self.config, &*connector).await?;
        let (events, _) = broadcast::channel(64);
        let (status, _) = watch::channel(Status { connected: true, generation: 0 });
        let core = Arc::new_cyclic(|me| Core {
            config: self.config,
            ping: self.ping,
            connector,
            conn: RwLock::new(conn),
            tracked: Mutex::new(Tracked::default()),
            events,
            status,
            kick: Notify::new(),
            cancel: CancellationToken::new(),
            me: me.clone(),
        });
        let peer = core.connector.describe();
        tracing::info!(%peer, "connected to a Twisted server");
        core.emit(SessionEvent::Connected { peer });
        tokio::spawn(core.clone().run());
        let guard = Arc::new(CloseOnDrop(core.cancel.clone()));
        Ok(TwistedSession { core, _guard: guard })
    }
}

impl TwistedSession {
    /// Connect over TCP to the Twisted server at `addr` with default
    /// settings (no ping method).
    ///
    /// # Errors
    ///
    /// The first attempt failed.
    pub async fn connect(addr: impl Into<TcpAddr>) -> Result<TwistedSession, Error> {
        TwistedSessionBuilder::default().connect_tcp(addr).await
    }

    /// A builder, for settings, a ping method and other transports.
    pub fn builder() -> TwistedSessionBuilder {
        TwistedSessionBuilder::default()
    }

    /// A reconnecting proxy to the server's root object (`b"root"`).
    pub fn root<T: ?Sized + Interface>(&self) -> Arc<T> {
        let proxy = self.connection().root::<T>();
        let handle = T::proxy_handle(&proxy).expect("a fresh proxy has a handle");
        let refetch: Refetch = Arc::new(|conn: TwistedConnection| Box::pin(async move { Ok(root_ref::<T>(&conn)) }));
        self.core.track(handle, "root".into(), refetch);
        proxy
    }

    /// Log in to the server's portal (see [`TwistedConnection::login`])
    /// and return the avatar as a reconnecting proxy: after each outage the
    /// session logs in again with `credentials` (kept in memory for that)
    /// and swaps the fresh avatar in, before reporting `Reconnected`. If
    /// that login is refused, the session gives it up and reports
    /// [`SessionEvent::Refused`]; calls on the avatar then fail with
    /// [`Error::Unauthorized`].
    ///
    /// # Errors
    ///
    /// As [`TwistedConnection::login`].
    pub async fn login<T: ?Sized + Interface>(&self, credentials: Credentials) -> Result<Arc<T>, Error> {
        self.login_as(credentials, None).await
    }

    /// [`login`](Self::login), passing `mind` (see
    /// [`TwistedConnection::login_with_mind`]); each login after an outage
    /// passes it again.
    ///
    /// # Errors
    ///
    /// As [`TwistedConnection::login`].
    pub async fn login_with_mind<T: ?Sized + Interface>(
        &self,
        credentials: Credentials,
        mind: AnyRef,
    ) -> Result<Arc<T>, Error> {
        self.login_as(credentials, Some(mind)).await
    }

    async fn login_as<T: ?Sized + Interface>(
        &self,
        credentials: Credentials,
        mind: Option<AnyRef>,
    ) -> Result<Arc<T>, Error> {
        async fn login<T: ?Sized + Interface>(
            conn: &TwistedConnection,
            credentials: &Credentials,
            mind: &Option<AnyRef>,
        ) -> Result<Arc<T>, Error> {
            match mind {
                Some(mind) => conn.login_with_mind::<T>(credentials, mind.clone()).await,
                None => conn.login::<T>(credentials).await,
            }
        }
        let avatar = login::<T>(&self.connection(), &credentials, &mind).await?;
        let handle = T::proxy_handle(&avatar).expect("a fresh proxy has a handle");
        let path = if credentials.is_anonymous() { "loginAnonymous()".into() } else { "login(..)".to_string() };
        let refetch: Refetch = Arc::new(move |conn: TwistedConnection| {
            let (credentials, mind) = (credentials.clone(), mind.clone());
            Box::pin(async move {
                let avatar = login::<T>(&conn, &credentials, &mind).await?;
                Ok(T::proxy_handle(&avatar).expect("a fresh proxy has a handle").target())
            })
        });
        self.core.track(handle, format!("{path} -> {}", T::NAME), refetch);
        Ok(avatar)
    }

    /// The session's events: first the current state (`Connected`, or
    /// `Disconnected` during an outage), then every change: `Disconnected`,
    /// `Reconnected`, `Healed`, `Refused` (never `Resumed`).
    pub fn events(&self) -> impl Stream<Item = SessionEvent> + Send + Unpin + use<> {
        let rx = self.core.events.subscribe();
        let peer = self.core.connector.describe();
        let first = if self.is_connected() {
            SessionEvent::Connected { peer }
        } else {
            SessionEvent::Disconnected { peer, reason: "outage in progress".into() }
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
        self.core.status.borrow().connected
    }

    /// The current connection (closed during an outage).
    pub fn connection(&self) -> TwistedConnection {
        self.core.conn.read().unwrap().clone()
    }

    /// How many live proxies and cache mirrors the session heals after an
    /// outage: the root, avatars, and what `#[pb(replay)]` methods
    /// returned through them.
    pub fn tracked(&self) -> usize {
        self.core.tracked.lock().unwrap().by_seq.len()
    }

    /// End the session for good: close the link and stop reconnecting.
    pub fn close(&self) {
        self.core.cancel.cancel();
        self.core.status.send_modify(|s| s.connected = false);
        self.core.conn.read().unwrap().close();
    }
}

/// A fresh reference to the root of `conn`.
fn root_ref<T: ?Sized + Interface>(conn: &TwistedConnection) -> Arc<RemoteRef> {
    let proxy = conn.root::<T>();
    T::proxy_handle(&proxy).expect("a fresh proxy has a handle").target()
}

#[derive(Debug, Clone, Copy)]
struct Status {
    connected: bool,
    /// Increments after each heal.
    generation: u64,
}

/// How the session heals one of its entries.
#[derive(Clone)]
enum How {
    /// The root or an avatar: a fresh reference fetched on the new
    /// connection, swapped into the proxy.
    Own { handle: WeakHandle, refetch: Refetch },
    /// Something obtained through a healed proxy (a `#[pb(replay)]`
    /// method's proxy or cache mirror, ...): replayed through that proxy,
    /// healed before it.
    Replayed(Arc<dyn Heal>),
}

impl How {
    /// Whether the proxy or cache still has users. May drop a handle (the
    /// last one, if its users just went): call it outside the session's lock.
    fn is_alive(&self) -> bool {
        match self {
            How::Own { handle, .. } => handle.is_alive(),
            How::Replayed(target) => target.is_alive(),
        }
    }

    /// Replay the path on `conn` and swap the result in.
    async fn heal(&self, conn: &TwistedConnection) -> Result<(), Error> {
        match self {
            How::Own { handle, refetch } => {
                let fresh = refetch(conn.clone()).await?;
                if let Some(handle) = handle.upgrade() {
                    handle.retarget(fresh);
                }
                Ok(())
            }
            How::Replayed(target) => target.heal(None).await,
        }
    }

    /// The server refused the path for good: calls through it fail with `error`.
    fn refuse(&self, error: Error) {
        match self {
            How::Own { handle, .. } => {
                if let Some(handle) = handle.upgrade() {
                    handle.refuse(error);
                }
            }
            How::Replayed(target) => target.refuse(error),
        }
    }
}

/// One proxy or cache the session heals.
struct Entry {
    how: How,
    /// For logs and events: `root`, `login(..) -> Avatar`,
    /// `TwistedRoot.thing() -> Thing`.
    path: String,
    /// Its last replay failed: retried at each ping interval.
    stale: bool,
    /// The server refused it: never replayed again.
    refused: bool,
}

/// The proxies and caches a session heals, in the order they were made (a
/// child is always made after the parent it is replayed through).
#[derive(Default)]
struct Tracked {
    next_seq: u64,
    by_seq: BTreeMap<u64, Entry>,
}

impl Tracked {
    /// Track what `how` heals in the next slot of the session `me`;
    /// `attach` records the slot in the handle (false if something already
    /// heals it: then `how` comes back, to be dropped outside the lock).
    fn add(
        &mut self,
        me: Weak<dyn Healer>,
        attach: &mut dyn FnMut(HealSlot) -> bool,
        path: String,
        how: How,
    ) -> Option<How> {
        let seq = self.next_seq;
        if !attach(HealSlot::new(me, seq)) {
            return Some(how);
        }
        self.next_seq += 1;
        self.by_seq.insert(seq, Entry { how, path, stale: false, refused: false });
        None
    }
}

struct Core {
    config: SessionConfig,
    ping: Option<String>,
    connector: Arc<dyn Connect>,
    conn: RwLock<TwistedConnection>,
    tracked: Mutex<Tracked>,
    events: broadcast::Sender<SessionEvent>,
    status: watch::Sender<Status>,
    kick: Notify,
    cancel: CancellationToken,
    me: Weak<Core>,
}

impl Healer for Core {
    fn link_failed(&self) {
        self.kick.notify_one();
    }

    fn generation(&self) -> u64 {
        self.status.borrow().generation
    }

    fn wait_healed(&self, generation: u64) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        let healed = move |s: &Status| s.connected && s.generation > generation;
        Box::pin(wait_for_heal(self.status.subscribe(), healed, self.config.retry_wait, &self.cancel))
    }

    fn track(&self, attach: &mut dyn FnMut(HealSlot) -> bool, path: String, target: Box<dyn Heal>) {
        let me: Weak<dyn Healer> = self.me.clone();
        let refused = self.tracked.lock().unwrap().add(me, attach, path, How::Replayed(target.into()));
        drop(refused); // outside the lock: it holds the parent proxy, which may forget itself
    }

    fn forget(&self, seq: u64) {
        let removed = self.tracked.lock().unwrap().by_seq.remove(&seq);
        drop(removed); // outside the lock: it may hold a parent proxy, which forgets itself
    }
}

impl Core {
    fn emit(&self, event: SessionEvent) {
        let _ = self.events.send(event);
    }

    fn peer(&self) -> String {
        self.connector.describe()
    }

    /// Heal `handle` from now on by `refetch`.
    fn track(&self, handle: &ProxyHandle, path: String, refetch: Refetch) {
        let me: Weak<dyn Healer> = self.me.clone();
        let how = How::Own { handle: handle.downgrade(), refetch };
        let refused = self.tracked.lock().unwrap().add(me, &mut |slot| handle.set_healer(slot), path, how);
        drop(refused);
    }

    /// Watch `conn` until it fails: why, or `None` when the session closes.
    async fn watch(&self, conn: &TwistedConnection) -> Option<String> {
        let mut ticks = tokio::time::interval(self.config.ping_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return None,
                () = conn.closed() => return Some("connection closed".into()),
                // A call failed on the link: check it now.
                () = self.kick.notified() => {}
                _ = ticks.tick() => {}
            }
            if let Some(method) = &self.ping {
                match tokio::time::timeout(self.config.ping_timeout, conn.ping(method)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Some(format!("ping failed: {e}")),
                    Err(_) => return Some(format!("no answer to {method}() within {:?}", self.config.ping_timeout)),
                }
            }
            if self.tracked.lock().unwrap().by_seq.values().any(|e| e.stale) {
                let (healed, failed, refused) = self.heal(conn, true).await;
                if healed > 0 {
                    self.emit(SessionEvent::Healed { peer: self.peer(), healed, failed });
                }
                self.emit_refused(refused);
            }
        }
    }

    /// Replay the paths of live proxies and caches on `conn` (all, or the
    /// stale ones) in the order they were made, parents before children:
    /// (healed, failed, refused).
    async fn heal(&self, conn: &TwistedConnection, only_stale: bool) -> (usize, usize, Vec<(String, Error)>) {
        let mut snapshot: Vec<(u64, How, String)> = {
            let tracked = self.tracked.lock().unwrap();
            let due = tracked.by_seq.iter().filter(|(_, e)| !e.refused && (!only_stale || e.stale));
            due.map(|(seq, e)| (*seq, e.how.clone(), e.path.clone())).collect()
        };
        snapshot.retain(|(_, how, _)| how.is_alive()); // outside the lock
        let (mut healed, mut failed, mut refused) = (0, 0, Vec::new());
        let peer = self.peer();
        for (seq, how, path) in snapshot {
            let outcome = tokio::time::timeout(self.config.connect_timeout, how.heal(conn)).await;
            let outcome = outcome.unwrap_or_else(|_| Err(Error::Io("replay timed out".into())));
            let mut tracked = self.tracked.lock().unwrap();
            let Some(entry) = tracked.by_seq.get_mut(&seq) else { continue };
            match outcome {
                Ok(()) => {
                    tracing::info!(%peer, %path, "replayed");
                    entry.stale = false;
                    healed += 1;
                }
                Err(e) if is_refusal(&e) => {
                    tracing::warn!(%peer, %path, error = %e, "the server refused this path; giving it up");
                    entry.refused = true;
                    entry.stale = false;
                    drop(tracked);
                    how.refuse(e.clone());
                    refused.push((path, e));
                }
                Err(e) => {
                    tracing::warn!(%peer, %path, error = %e, "replay failed; will retry while connected");
                    entry.stale = true;
                    failed += 1;
                }
            }
        }
        (healed, failed, refused)
    }

    fn emit_refused(&self, refused: Vec<(String, Error)>) {
        for (path, error) in refused {
            self.emit(SessionEvent::Refused { peer: self.peer(), path, error });
        }
    }

    /// The session's task: watch the link; after an outage reconnect with
    /// backoff and heal.
    async fn run(self: Arc<Self>) {
        let mut backoff = Backoff::new(self.config.backoff.clone());
        loop {
            let conn = self.conn.read().unwrap().clone();
            let Some(reason) = self.watch(&conn).await.filter(|_| !self.cancel.is_cancelled()) else {
                conn.close();
                return;
            };
            conn.close();
            let peer = self.peer();
            tracing::warn!(%peer, %reason, "disconnected from a Twisted server");
            self.status.send_modify(|s| s.connected = false);
            self.emit(SessionEvent::Disconnected { peer: peer.clone(), reason });
            let Some(new) = self.reconnect(&mut backoff).await else { return };
            {
                // Under the lock `close` reads the connection with.
                let mut current = self.conn.write().unwrap();
                if self.cancel.is_cancelled() {
                    new.close();
                    return;
                }
                *current = new.clone();
            }
            let (healed, failed, refused) = self.heal(&new, false).await;
            tracing::info!(%peer, healed, failed, refused = refused.len(), "reconnected to a Twisted server");
            self.status.send_modify(|s| {
                s.connected = true;
                s.generation += 1;
            });
            self.emit(SessionEvent::Reconnected { peer, healed, failed });
            self.emit_refused(refused);
        }
    }

    /// Connect again with backoff; `None` if the session closed meanwhile.
    async fn reconnect(&self, backoff: &mut Backoff) -> Option<TwistedConnection> {
        backoff.reset();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = tokio::select! {
                biased;
                () = self.cancel.cancelled() => return None,
                r = connect_once(&self.config, &*self.connector) => r,
            };
            match result {
                Ok(new) => return Some(new),
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::info!(peer = %self.peer(), attempt, error = %e, ?delay, "reconnect failed; backing off");
                    tokio::select! {
                        biased;
                        () = self.cancel.cancelled() => return None,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
}

/// Whether a replay that failed with `e` should never be tried again: the
/// server refused it (a login whose credentials are no longer accepted, or
/// a path through such a login). Other failures are retried while connected.
fn is_refusal(e: &Error) -> bool {
    matches!(e, Error::Unauthorized)
}

/// One attempt: the transport and PB's handshake, within the connect timeout.
async fn connect_once(config: &SessionConfig, connector: &dyn Connect) -> Result<TwistedConnection, Error> {
    let attempt = async {
        let transport = connector.connect().await?;
        super::connection::connect_transport(transport, &config.connection).await
    };
    match tokio::time::timeout(config.connect_timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(Error::Io(format!("connect timed out after {:?}", config.connect_timeout))),
    }
}
