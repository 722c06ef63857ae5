//! Servers: publish a root object (usually a registry) on a listener.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

pub use crate::references::IntoRoot;
pub use crate::transport::Listener;
use crate::{Config, Connection, ConnectionBuilder, Error, Transport};

struct ServerState {
    connections: Mutex<HashMap<u64, Connection>>,
    /// Accepted transports still in their handshake.
    handshaking: AtomicUsize,
}

/// A server: accepts connections and serves a root object on each.
///
/// Per-connection state (its exports and calls) is dropped when the
/// connection closes. [`Server::shutdown`] stops accepting, lets calls in
/// flight finish within a deadline, then closes every connection.
pub struct Server {
    shared: Arc<ServerState>,
    local_addr: Option<SocketAddr>,
    accept: JoinHandle<()>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl Server {
    /// Listen on a TCP address and serve `root` (an `Arc<dyn Iface>` or a
    /// [`Registry`](crate::Registry)) with default settings.
    ///
    /// # Errors
    ///
    /// The address could not be bound.
    pub async fn bind(addr: impl tokio::net::ToSocketAddrs, root: impl IntoRoot) -> Result<Server, Error> {
        Server::bind_with(addr, root, Config::default()).await
    }

    /// [`Server::bind`] with connection settings.
    ///
    /// # Errors
    ///
    /// The address could not be bound.
    pub async fn bind_with(
        addr: impl tokio::net::ToSocketAddrs,
        root: impl IntoRoot,
        config: Config,
    ) -> Result<Server, Error> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let mut server = Server::serve(listener, root, config);
        server.local_addr = Some(local);
        tracing::info!(addr = %local, "listening");
        Ok(server)
    }

    /// Serve `root` on every transport `listener` yields.
    pub fn serve(mut listener: impl Listener, root: impl IntoRoot, config: Config) -> Server {
        let root = root.into_root();
        let shared =
            Arc::new(ServerState { connections: Mutex::new(HashMap::new()), handshaking: AtomicUsize::new(0) });
        let accept = tokio::spawn({
            let shared = shared.clone();
            async move {
                loop {
                    let transport = match listener.accept().await {
                        Ok(t) => t,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
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
                    tokio::spawn(serve_one(shared.clone(), builder, transport));
                }
            }
        });
        Server { shared, local_addr: None, accept }
    }

    /// The bound TCP address (for `bind`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The open connections.
    pub fn connections(&self) -> Vec<Connection> {
        self.shared.connections.lock().unwrap().values().cloned().collect()
    }

    /// How many accepted transports are still in their handshake (bounded in
    /// time by [`Config::handshake_timeout`]).
    pub fn handshaking(&self) -> usize {
        self.shared.handshaking.load(Ordering::Acquire)
    }

    /// Stop accepting; refuse new calls with [`Error::ShuttingDown`]; wait up
    /// to `deadline` for calls in flight to finish; then close every
    /// connection (calls still running are abandoned and their callers get
    /// `ConnectionLost`).
    pub async fn shutdown(self, deadline: Duration) {
        self.accept.abort();
        let conns = self.connections();
        for c in &conns {
            c.drain();
        }
        let drained = tokio::time::timeout(deadline, async {
            while conns.iter().any(|c| c.stats().in_flight > 0) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(?deadline, "shutdown deadline passed with calls in flight");
        }
        for c in &conns {
            c.close();
        }
        self.shared.connections.lock().unwrap().clear();
    }

    /// Stop accepting and close every connection at once (like a crash, for
    /// tests and demos).
    pub fn abort(&self) {
        self.accept.abort();
        let conns: Vec<Connection> = self.shared.connections.lock().unwrap().drain().map(|(_, c)| c).collect();
        for c in conns {
            c.close();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn serve_one(shared: Arc<ServerState>, builder: ConnectionBuilder, transport: Transport) {
    let peer = transport.peer().to_string();
    let conn = match builder.establish(transport).await {
        Ok(c) => c,
        Err(e) => {
            shared.handshaking.fetch_sub(1, Ordering::AcqRel);
            tracing::info!(%peer, error = %e, "handshake failed");
            return;
        }
    };
    let id = conn.id();
    tracing::info!(%peer, "client connected");
    shared.connections.lock().unwrap().insert(id, conn.clone());
    shared.handshaking.fetch_sub(1, Ordering::AcqRel);
    conn.closed().await;
    shared.connections.lock().unwrap().remove(&id);
    tracing::info!(%peer, reason = conn.close_reason().unwrap_or_default(), "client disconnected");
}
