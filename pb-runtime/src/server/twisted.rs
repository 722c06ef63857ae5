//! Servers for Twisted PB clients: [`Server::bind_twisted`].

use super::{Protocol, Server};
use crate::{Config, Error, IntoRoot, Listener};

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
