//! Servers: publish a root object (usually a registry) on a listener, to
//! pb's own clients or to Twisted PB clients.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::connection::{Opened, Sessions};
pub use crate::references::{IntoRoot, Root, root};
pub use crate::transport::Listener;
use crate::twisted::TwistedConnection;

mod twisted;
use crate::{Config, Connection, ConnectionBuilder, Error, Transport};

/// An open connection of a server: pb's own, or a Twisted client's.
#[derive(Clone)]
enum Served {
    Pb(Connection),
    Twisted(TwistedConnection),
}

impl Served {
    fn close(&self) {
        match self {
            Served::Pb(c) => c.close(),
            Served::Twisted(c) => c.close(),
        }
    }
    fn drain(&self) {
        match self {
            Served::Pb(c) => c.drain(),
            Served::Twisted(c) => c.drain(),
        }
    }
    fn in_flight(&self) -> usize {
        match self {
            Served::Pb(c) => c.stats().in_flight,
            Served::Twisted(c) => c.in_flight(),
        }
    }
}

/// The protocol a server speaks on its listener.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// pb's own.
    Pb,
    /// Twisted Perspective Broker's (banana and jelly).
    Twisted,
}

struct ServerState {
    connections: Mutex<HashMap<u64, Served>>,
    /// Accepted transports still in their handshake.
    handshaking: AtomicUsize,
    /// The accept loop, until the server stops.
    accept: Mutex<Option<JoinHandle<()>>>,
    /// Cancelled once the server has stopped (shutdown, abort, drop or a
    /// fatal listener error).
    stopped: CancellationToken,
    /// The listener error that stopped the server, if one did.
    fatal: Mutex<Option<Error>>,
    /// Cancelled once the listener itself is closed (the accept task is
    /// dropped a moment after it is aborted).
    released: CancellationToken,
    /// The bound TCP address, for [`CLOSING`].
    addr: Mutex<Option<SocketAddr>>,
    /// Resumable sessions (`None`: turned off).
    sessions: Option<Arc<Sessions>>,
}

/// TCP listeners of this process that are stopping but not yet closed: a
/// bind to the same port waits for them (a restart written as "drop the
/// server, bind again" works at once).
static CLOSING: Mutex<Vec<(SocketAddr, CancellationToken)>> = Mutex::new(Vec::new());

/// Owns the listener in the accept task; marks it released when dropped.
struct Owned<L> {
    listener: Option<L>,
    released: CancellationToken,
}

impl<L> Drop for Owned<L> {
    fn drop(&mut self) {
        drop(self.listener.take());
        self.released.cancel();
        CLOSING.lock().unwrap().retain(|(_, t)| !t.is_cancelled());
    }
}

/// A server: accepts connections and serves a root object on each.
///
/// Per-connection state (its exports and calls) is dropped when the
/// connection closes.
///
/// # Stopping
///
/// - [`Server::run`] (or [`Server::closed`]) waits until the server stops:
///   the way to "serve until stopped".
/// - [`Server::shutdown`] stops accepting, lets calls in flight finish
///   within a deadline, then closes every connection.
/// - [`Server::abort`] stops accepting and closes every connection at once.
/// - **Dropping the `Server` is [`abort`](Server::abort)**: the listener
///   closes and so does every connection it accepted, so sessions see
///   `Disconnected` and reconnect (to a new server bound on the same
///   address, healing their proxies there). Keep the value alive for as
///   long as it should serve.
///
/// A [`ServerHandle`] ([`Server::handle`]) stops the server from elsewhere,
/// for example while another task is in [`Server::run`].
///
/// ```ignore
/// # #[pb::remote_interface]
/// # pub trait Hello { async fn hello(&self) -> Result<String, pb::Error>; }
/// # struct World;
/// # #[pb::remote_impl]
/// # impl Hello for World { async fn hello(&self) -> Result<String, pb::Error> { Ok("world".into()) } }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pb::Error> {
/// let server = pb::Server::bind("127.0.0.1:0", pb::root::<dyn Hello>(std::sync::Arc::new(World))).await?;
/// let stop = server.handle();
/// tokio::spawn(async move { stop.shutdown(std::time::Duration::from_secs(1)).await });
/// server.run().await?;          // serves until stopped
/// # Ok(())
/// # }
/// ```
pub struct Server {
    shared: Arc<ServerState>,
    local_addr: Option<SocketAddr>,
}

/// Stops a [`Server`] from elsewhere (cheap to clone). It does not keep the
/// server alive: dropping the `Server` stops it all the same.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<ServerState>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").field("stopped", &self.shared.stopped.is_cancelled()).finish_non_exhaustive()
    }
}

impl Server {
    /// Listen on a TCP address and serve `root` with default settings:
    /// `pb::root::<dyn Iface>(object)` (an `Arc` of any type implementing
    /// the interface), an `Arc<dyn Iface>`, a [`Registry`](crate::Registry)
    /// or a [`Portal`](crate::login::Portal).
    ///
    /// # Errors
    ///
    /// The address could not be bound.
    pub async fn bind(addr: impl tokio::net::ToSocketAddrs, root: impl IntoRoot) -> Result<Server, Error> {
        Server::bind_with(addr, root, Config::default()).await
    }

    /// [`Server::bind`] with connection settings (and the listen queue,
    /// [`Config::listen_backlog`]).
    ///
    /// # Errors
    ///
    /// The address could not be bound.
    pub async fn bind_with(
        addr: impl tokio::net::ToSocketAddrs,
        root: impl IntoRoot,
        config: Config,
    ) -> Result<Server, Error> {
        Server::bind_protocol(addr, root, config, Protocol::Pb).await
    }

    async fn bind_protocol(
        addr: impl tokio::net::ToSocketAddrs,
        root: impl IntoRoot,
        config: Config,
        protocol: Protocol,
    ) -> Result<Server, Error> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(addr).await?.collect();
        let listener = match listen_tcp(&addrs, config.listen_backlog) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                // Perhaps a server of this process on the same port, dropped
                // a moment ago: wait for its listener to close.
                let closing: Vec<CancellationToken> = CLOSING
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(a, _)| addrs.iter().any(|b| b.port() == a.port()))
                    .map(|(_, t)| t.clone())
                    .collect();
                if closing.is_empty() {
                    return Err(e.into());
                }
                let all = futures_util::future::join_all(closing.iter().map(|t| t.cancelled()));
                let _ = tokio::time::timeout(Duration::from_secs(5), all).await;
                listen_tcp(&addrs, config.listen_backlog)?
            }
            other => other?,
        };
        let local = listener.local_addr()?;
        let mut server = Server::start(listener, root, config, protocol);
        server.local_addr = Some(local);
        *server.shared.addr.lock().unwrap() = Some(local);
        tracing::info!(addr = %local, "listening");
        Ok(server)
    }

    /// Serve `root` on every transport `listener` yields.
    pub fn serve(listener: impl Listener, root: impl IntoRoot, config: Config) -> Server {
        Server::start(listener, root, config, Protocol::Pb)
    }

    fn start(listener: impl Listener, root: impl IntoRoot, config: Config, protocol: Protocol) -> Server {
        let root = root.into_root();
        let shared = Arc::new(ServerState {
            connections: Mutex::new(HashMap::new()),
            handshaking: AtomicUsize::new(0),
            accept: Mutex::new(None),
            stopped: CancellationToken::new(),
            fatal: Mutex::new(None),
            released: CancellationToken::new(),
            addr: Mutex::new(None),
            sessions: Sessions::new(&config),
        });
        let mut owned = Owned { listener: Some(listener), released: shared.released.clone() };
        let accept = tokio::spawn({
            let shared = shared.clone();
            async move {
                let listener = owned.listener.as_mut().expect("the listener is held until the task ends");
                loop {
                    let transport = match listener.accept().await {
                        Ok(t) => t,
                        Err(e) if is_transient(&e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "listener failed; the server stops");
                            *shared.fatal.lock().unwrap() = Some(e.into());
                            stop(&shared);
                            return;
                        }
                    };
                    // Counted from here until it is open (or fails).
                    let held = shared.connections.lock().unwrap().len() + shared.handshaking.load(Ordering::Acquire);
                    if held >= config.max_connections {
                        tracing::warn!(peer = %transport.peer(), limit = config.max_connections, "connection limit reached; refusing");
                        drop(transport);
                        continue;
                    }
                    shared.handshaking.fetch_add(1, Ordering::AcqRel);
                    let builder = root().config(config.clone());
                    match protocol {
                        Protocol::Pb => tokio::spawn(serve_one(shared.clone(), builder, transport)),
                        Protocol::Twisted => tokio::spawn(serve_one_twisted(shared.clone(), builder, transport)),
                    };
                }
            }
        });
        *shared.accept.lock().unwrap() = Some(accept);
        Server { shared, local_addr: None }
    }

    /// The bound TCP address (the port chosen for `127.0.0.1:0`).
    ///
    /// # Panics
    ///
    /// For a server started by [`Server::serve`], which has no address of
    /// its own (see [`Server::try_local_addr`]).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr.expect("a server started by `Server::serve` has no bound address; use `try_local_addr`")
    }

    /// The bound TCP address: `Some` for [`Server::bind`], `None` for
    /// [`Server::serve`].
    pub fn try_local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// A handle that stops this server from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle { shared: self.shared.clone() }
    }

    /// The open connections (of pb's own protocol).
    pub fn connections(&self) -> Vec<Connection> {
        self.handle().connections()
    }

    /// The open connections of Twisted clients (a server bound with
    /// [`Server::bind_twisted`]).
    pub fn twisted_connections(&self) -> Vec<TwistedConnection> {
        self.handle().twisted_connections()
    }

    /// How many accepted transports are still in their handshake (bounded in
    /// time by [`Config::handshake_timeout`]).
    pub fn handshaking(&self) -> usize {
        self.shared.handshaking.load(Ordering::Acquire)
    }

    /// How many sessions wait for their client to come back (their link
    /// dropped less than [`Config::resume_grace`] ago).
    pub fn detached_sessions(&self) -> usize {
        self.shared.sessions.as_ref().map_or(0, |s| s.detached())
    }

    /// Serve until the server stops (through a [`ServerHandle`]), then drop
    /// it. This is how a program serves "until stopped".
    ///
    /// # Errors
    ///
    /// The listener failed (a fatal accept error; transient ones such as
    /// running out of file descriptors are retried).
    pub async fn run(self) -> Result<(), Error> {
        self.closed().await
    }

    /// Wait until the server has stopped: after [`ServerHandle::shutdown`]
    /// or [`ServerHandle::abort`], or a fatal listener error.
    ///
    /// # Errors
    ///
    /// The listener error that stopped the server.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future changes nothing.
    pub async fn closed(&self) -> Result<(), Error> {
        self.handle().closed().await
    }

    /// Stop accepting; refuse new calls with [`Error::ShuttingDown`]; wait up
    /// to `deadline` for calls in flight to finish; then close every
    /// connection (calls still running are abandoned and their callers get
    /// `ConnectionLost`).
    pub async fn shutdown(self, deadline: Duration) {
        self.handle().shutdown(deadline).await;
    }

    /// Stop accepting and close every connection at once (like a crash, for
    /// tests and demos). Dropping the server does the same.
    pub fn abort(&self) {
        stop(&self.shared);
    }
}

impl ServerHandle {
    /// The server's open connections (of pb's own protocol).
    pub fn connections(&self) -> Vec<Connection> {
        let conns = self.shared.connections.lock().unwrap();
        conns.values().filter_map(|c| if let Served::Pb(c) = c { Some(c.clone()) } else { None }).collect()
    }

    /// The server's open connections of Twisted clients.
    pub fn twisted_connections(&self) -> Vec<TwistedConnection> {
        let conns = self.shared.connections.lock().unwrap();
        conns.values().filter_map(|c| if let Served::Twisted(c) = c { Some(c.clone()) } else { None }).collect()
    }

    /// As [`Server::shutdown`].
    pub async fn shutdown(&self, deadline: Duration) {
        if let Some(accept) = self.shared.accept.lock().unwrap().take() {
            accept.abort();
        }
        let conns: Vec<Served> = self.shared.connections.lock().unwrap().values().cloned().collect();
        for c in &conns {
            c.drain();
        }
        let drained = tokio::time::timeout(deadline, async {
            while conns.iter().any(|c| c.in_flight() > 0) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(?deadline, "shutdown deadline passed with calls in flight");
        }
        stop(&self.shared);
    }

    /// As [`Server::abort`].
    pub fn abort(&self) {
        stop(&self.shared);
    }

    /// As [`Server::closed`].
    ///
    /// # Errors
    ///
    /// The listener error that stopped the server.
    pub async fn closed(&self) -> Result<(), Error> {
        self.shared.stopped.cancelled().await;
        match self.shared.fatal.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        stop(&self.shared);
    }
}

/// Stop accepting and close every connection; the server counts as stopped.
fn stop(shared: &ServerState) {
    // Cancelled first: a handshake completing from here on closes its own
    // connection (see `serve_one`).
    shared.stopped.cancel();
    if let Some(accept) = shared.accept.lock().unwrap().take() {
        if let Some(addr) = *shared.addr.lock().unwrap()
            && !shared.released.is_cancelled()
        {
            CLOSING.lock().unwrap().push((addr, shared.released.clone()));
        }
        accept.abort();
    }
    let conns: Vec<Served> = shared.connections.lock().unwrap().drain().map(|(_, c)| c).collect();
    for c in conns {
        c.close();
    }
}

/// Accept errors that concern one connection or a passing shortage (file
/// descriptors, buffers): retried. Anything else stops the server.
fn is_transient(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock | TimedOut | OutOfMemory
    ) || matches!(e.raw_os_error(), Some(23 | 24 | 105))
}

/// Bind a TCP listener on the first of `addrs` that works, with a listen
/// queue of `backlog`.
fn listen_tcp(addrs: &[SocketAddr], backlog: u32) -> io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for &a in addrs {
        let socket = if a.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|()| socket.listen(backlog)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the address resolved to nothing")))
}

async fn serve_one(shared: Arc<ServerState>, builder: ConnectionBuilder, transport: Transport) {
    let peer = transport.peer().to_string();
    let conn = match builder.accept(transport, shared.sessions.as_ref()).await {
        Ok(Opened::Fresh(c)) => c,
        Ok(Opened::Resumed(c)) => {
            // The session's own task (below, from when it was new) still
            // watches it.
            shared.handshaking.fetch_sub(1, Ordering::AcqRel);
            tracing::info!(%peer, conn = c.id(), "client resumed its session");
            return;
        }
        Err(e) => {
            shared.handshaking.fetch_sub(1, Ordering::AcqRel);
            tracing::info!(%peer, error = %e, "handshake failed");
            return;
        }
    };
    let id = conn.id();
    if !admit(&shared, id, Served::Pb(conn.clone())) {
        return;
    }
    tracing::info!(%peer, "client connected");
    conn.closed().await;
    shared.connections.lock().unwrap().remove(&id);
    tracing::info!(%peer, reason = conn.close_reason().unwrap_or_default(), "client disconnected");
}

/// Count a connection out of its handshake and into the server's; false
/// (and the connection closed) if the server stopped meanwhile.
fn admit(shared: &ServerState, id: u64, served: Served) -> bool {
    let mut conns = shared.connections.lock().unwrap();
    shared.handshaking.fetch_sub(1, Ordering::AcqRel);
    if shared.stopped.is_cancelled() {
        // Stopped while this one was in its handshake.
        drop(conns);
        served.close();
        return false;
    }
    conns.insert(id, served);
    true
}

/// Accept one Twisted client: PB's handshake, then serve it until it goes.
async fn serve_one_twisted(shared: Arc<ServerState>, builder: ConnectionBuilder, transport: Transport) {
    let peer = transport.peer().to_string();
    let conn = match builder.accept_twisted(transport).await {
        Ok(link) => TwistedConnection::new(link),
        Err(e) => {
            shared.handshaking.fetch_sub(1, Ordering::AcqRel);
            tracing::info!(%peer, error = %e, "Twisted PB handshake failed");
            return;
        }
    };
    let id = conn.id();
    if !admit(&shared, id, Served::Twisted(conn.clone())) {
        return;
    }
    tracing::info!(%peer, "Twisted client connected");
    conn.closed().await;
    shared.connections.lock().unwrap().remove(&id);
    tracing::info!(%peer, "Twisted client disconnected");
}
