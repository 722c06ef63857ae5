//! Servers for Twisted PB clients: [`Server::bind_twisted`].

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Protocol, Served, Server, ServerState};
use crate::twisted::TwistedConnection;
use crate::{Config, ConnectionBuilder, Error, IntoRoot, Listener, Transport};

impl Server {
    /// Listen on a TCP address and serve `root` to Twisted Perspective
    /// Broker clients (`pb.PBClientFactory` and `getRootObject()`), with
    /// default settings: see [`crate::twisted`] for what maps to what.
    ///
    /// A Twisted server speaks first (its dialects) while a pb client says
    /// hello first, so a port serves one protocol: bind another one with
    /// [`Server::bind`] for pb's own clients.
    ///
    /// ```no_run
    /// # use pb_runtime as pb; // applications write `pb::...`
    /// # use std::sync::Arc;
    /// #[pb_macros::remote_interface(crate = "pb_runtime")] // applications write #[pb::remote_interface]
    /// pub trait Users {
    ///     async fn get_name(&self, id: i64) -> Result<String, pb::Error>;
    /// }
    /// struct Directory;
    /// #[pb_macros::remote_impl(crate = "pb_runtime")]
    /// impl Users for Directory {
    ///     async fn get_name(&self, id: i64) -> Result<String, pb::Error> {
    ///         Ok(format!("user {id}"))
    ///     }
    /// }
    /// # async fn run() -> Result<(), pb::Error> {
    /// // Python: `(await factory.getRootObject()).callRemote("get_name", 7)`
    /// let server = pb::Server::bind_twisted("127.0.0.1:8789", pb::root::<dyn Users>(Arc::new(Directory))).await?;
    /// server.run().await
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The address could not be bound.
    pub async fn bind_twisted(addr: impl tokio::net::ToSocketAddrs, root: impl IntoRoot) -> Result<Server, Error> {
        Server::bind_twisted_with(addr, root, Config::default()).await
    }

    /// [`Server::bind_twisted`] with settings: the limits on messages,
    /// exports and calls in flight, the handshake and frame timeouts, the
    /// connection limit and the listen queue.
    ///
    /// # Errors
    ///
    /// The address could not be bound.
    pub async fn bind_twisted_with(
        addr: impl tokio::net::ToSocketAddrs,
        root: impl IntoRoot,
        config: Config,
    ) -> Result<Server, Error> {
        Server::bind_protocol(addr, root, config, Protocol::Twisted).await
    }

    /// Serve `root` to Twisted PB clients on every transport `listener`
    /// yields (see [`Server::bind_twisted`]).
    pub fn serve_twisted(listener: impl Listener, root: impl IntoRoot, config: Config) -> Server {
        Server::start(listener, root, config, Protocol::Twisted)
    }
}

/// Accept one Twisted client: PB's handshake, then serve it until it goes.
pub(super) async fn serve_one(shared: Arc<ServerState>, builder: ConnectionBuilder, transport: Transport) {
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
    {
        let mut conns = shared.connections.lock().unwrap();
        shared.handshaking.fetch_sub(1, Ordering::AcqRel);
        if shared.stopped.is_cancelled() {
            drop(conns);
            conn.close();
            return;
        }
        conns.insert(id, Served::Twisted(conn.clone()));
    }
    tracing::info!(%peer, "Twisted client connected");
    conn.closed().await;
    shared.connections.lock().unwrap().remove(&id);
    tracing::info!(%peer, "Twisted client disconnected");
}
