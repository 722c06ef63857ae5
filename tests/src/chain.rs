//! A three-node chain over TCP for multi-hop healing tests:
//!
//! ```text
//! server (Registry: UserManager) <- upstream proxy <- relay (forwarding
//! Registry, its own session to the server) <- downstream proxy <- client
//! ```
//!
//! Both links go through a [`FaultProxy`], so a test can cut, hold and heal
//! each of them, and restart the server on its address.

use std::net::SocketAddr;
use std::sync::Arc;

use pb::{Client, Registry, Server};

use crate::aurora::{UserManager, Users};
use crate::fault::FaultProxy;
use crate::models::{Dir, Directory};
use crate::session::{fast, fast_replay, rebind};

/// The server's registry: `users` as the `UserManager`, `dir` as the `Directory`.
pub fn registry_with(users: &Arc<Users>, dir: &Arc<Dir>) -> Registry {
    let r = Registry::local();
    r.register::<dyn UserManager>(users.clone());
    r.register::<dyn Directory>(dir.clone());
    r
}

/// The running chain. Dropping it stops everything.
pub struct Chain {
    /// The server's object (replaced by [`restart_server`](Chain::restart_server)).
    pub users: Arc<Users>,
    /// The server's user-list model owner (replaced on restart).
    pub dir: Arc<Dir>,
    /// The server (None while it is down).
    pub server: Option<Server>,
    /// The server's fixed address.
    pub server_addr: SocketAddr,
    /// The server <-> relay link.
    pub upstream: FaultProxy,
    /// The relay's session to the server.
    pub relay_session: Client,
    /// The relay's server.
    pub relay: Server,
    /// The relay <-> client link.
    pub downstream: FaultProxy,
    /// The client's session to the relay.
    pub client: Client,
}

impl Chain {
    /// Start server, relay and client, with fast session settings.
    pub async fn start() -> Chain {
        Self::start_with(fast()).await
    }

    /// Start with sessions that never resume: every outage heals by
    /// replaying (the relay's session and the client's).
    pub async fn replaying() -> Chain {
        Self::start_configs(fast_replay(), fast_replay()).await
    }

    /// Start with `client` as the client's session settings.
    pub async fn start_with(client_config: pb::SessionConfig) -> Chain {
        Self::start_configs(client_config, fast()).await
    }

    /// Start with these session settings for the client and the relay.
    pub async fn start_configs(client_config: pb::SessionConfig, relay_config: pb::SessionConfig) -> Chain {
        let users = Arc::new(Users::default());
        let dir = Arc::new(Dir::default());
        let server = Server::bind("127.0.0.1:0", registry_with(&users, &dir)).await.unwrap();
        let server_addr = server.local_addr();
        let upstream = FaultProxy::start(server_addr).await.unwrap();
        let relay_session =
            Client::builder().config(relay_config).connect_tcp(upstream.addr().to_string()).await.unwrap();
        let relay_registry = Registry::forwarding(relay_session.registry().unwrap());
        let relay = Server::bind("127.0.0.1:0", relay_registry).await.unwrap();
        let downstream = FaultProxy::start(relay.local_addr()).await.unwrap();
        let client = Client::builder().config(client_config).connect_tcp(downstream.addr().to_string()).await.unwrap();
        Chain { users, dir, server: Some(server), server_addr, upstream, relay_session, relay, downstream, client }
    }

    /// Kill the server process (its connections close at once).
    pub fn kill_server(&mut self) {
        if let Some(s) = self.server.take() {
            s.abort();
        }
    }

    /// Start a new server process on the same address, with fresh objects.
    pub async fn restart_server(&mut self) {
        self.kill_server();
        self.users = Arc::new(Users::default());
        self.dir = Arc::new(Dir::default());
        self.server = Some(rebind(self.server_addr, registry_with(&self.users, &self.dir)).await);
    }
}
