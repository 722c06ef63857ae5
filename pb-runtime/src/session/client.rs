//! The session's public handle: [`Client`] and its builder.

use std::sync::{Arc, Mutex, RwLock};

use futures_util::Stream;
use tokio::sync::{Notify, broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::config::{SessionConfig, SessionEvent};
use super::core::{SessionCore, Status, connect_once};
use super::track::TrackedList;
use crate::connection::{Intent, Opened};
use crate::references::replay::{Refetch, track};
use crate::references::{Interface, ProxyHandle};
use crate::services::registry::Locator;
use crate::transport::{Connect, Tcp, TcpAddr};
use crate::{Connection, Error};

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
    pub async fn connect_tcp(self, addr: impl Into<TcpAddr>) -> Result<Client, Error> {
        self.connect_with(Tcp(addr.into().as_str().to_string())).await
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
        let (status, _) = watch::channel(Status { connected: true, resuming: false, generation: 0 });
        let intent = if self.config.resume { Intent::Open } else { Intent::Plain };
        let (Opened::Fresh(conn) | Opened::Resumed(conn)) = connect_once(&self.config, &*connector, intent).await?;
        let shared = Arc::new_cyclic(|me| SessionCore {
            config: self.config,
            connector,
            conn: RwLock::new(conn),
            tracked: Mutex::new(TrackedList::default()),
            events,
            status,
            kick: Notify::new(),
            cancel: CancellationToken::new(),
            me: me.clone(),
        });
        shared.configure(&shared.conn.read().unwrap());
        tracing::info!(%peer, "connected");
        shared.emit(SessionEvent::Connected { peer });
        tokio::spawn(shared.clone().run());
        let guard = Arc::new(CloseOnDrop(shared.cancel.clone()));
        Ok(Client { shared, _guard: guard })
    }
}

impl Client {
    /// Connect over TCP to `addr` (`"host:port"`, a `SocketAddr` such as
    /// [`Server::local_addr`](crate::Server::local_addr), ...: see
    /// [`TcpAddr`]) with default settings.
    ///
    /// # Errors
    ///
    /// The first connect attempt failed.
    pub async fn connect(addr: impl Into<TcpAddr>) -> Result<Client, Error> {
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
        track_root::<T>(&self.shared)
    }

    /// A reconnecting proxy to the server's root as a registry.
    ///
    /// # Errors
    ///
    /// As [`root`](Self::root): the server's root must be a registry.
    pub fn registry(&self) -> Result<Arc<dyn Locator>, Error> {
        self.root::<dyn Locator>()
    }

    /// The object the server's registry serves for interface `T`, as a
    /// reconnecting proxy: `client.registry()?.get::<T>()` in one step.
    ///
    /// ```ignore
    /// let users: Arc<dyn UserManager> = client.get().await?;
    /// ```
    ///
    /// # Errors
    ///
    /// As `Locator::get` (`dyn Locator`); [`Error::WrongInterface`] if the server's root
    /// is not a registry.
    pub async fn get<T: ?Sized + Interface>(&self) -> Result<Arc<T>, Error> {
        self.registry()?.get::<T>().await
    }

    /// The object the server's registry serves for `T` under `name`, as a
    /// reconnecting proxy.
    ///
    /// # Errors
    ///
    /// As [`Client::get`].
    pub async fn get_named<T: ?Sized + Interface>(&self, name: &str) -> Result<Arc<T>, Error> {
        self.registry()?.get_named::<T>(name).await
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
    /// `Disconnected` during an outage the session could not resume;
    /// nothing while it is resuming, which ends in `Resumed` or
    /// `Disconnected`), then every change. The stream does not borrow the
    /// client (it can be moved or spawned apart from it).
    pub fn events(&self) -> impl Stream<Item = SessionEvent> + Send + Unpin + use<> {
        let rx = self.shared.events.subscribe();
        let status = *self.shared.status.borrow();
        let first = if status.connected {
            Some(SessionEvent::Connected { peer: self.shared.peer() })
        } else if status.resuming {
            None
        } else {
            Some(SessionEvent::Disconnected { peer: self.shared.peer(), reason: "outage in progress".into() })
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
        Box::pin(futures_util::StreamExt::chain(futures_util::stream::iter(first), rest))
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
        self.shared.tracked.lock().unwrap().len()
    }

    /// End the session for good: close the link and stop reconnecting. No
    /// `Disconnected` or `Reconnected` event follows, and a reconnect
    /// attempt under way is abandoned and its connection closed.
    pub fn close(&self) {
        self.shared.cancel.cancel();
        self.shared.status.send_modify(|s| s.connected = false);
        self.shared.conn.read().unwrap().close();
    }
}

/// A reconnecting proxy to the root of the session's server.
fn track_root<T: ?Sized + Interface>(session: &Arc<SessionCore>) -> Result<Arc<T>, Error> {
    let conn = session.conn.read().unwrap().clone();
    let proxy = conn.root::<T>()?;
    let handle: &ProxyHandle = T::proxy_handle(&proxy).expect("a fresh proxy has a handle");
    let refetch: Refetch = Arc::new(|conn: Option<Connection>| {
        Box::pin(async move {
            match conn {
                Some(conn) => conn.root_ref::<T>(),
                None => Err(Error::protocol("a pb root heals only on a pb connection")),
            }
        })
    });
    track(&**session, handle, "root".into(), refetch);
    Ok(proxy)
}
