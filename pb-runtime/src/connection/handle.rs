//! The public handles of a connection: [`Connection`], its builder, and
//! [`Stats`].

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::core::ConnCore;
use super::link::{Dispatch, Link};
use super::twisted::TwistedLink;
use crate::Error;
use crate::config::Config;
use crate::transport::Transport;
use crate::wire::{self, Header};

/// Statistics of one connection, for tests and monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Objects exported to the peer (the root included).
    pub exports: usize,
    /// Live references received from the peer.
    pub imports: usize,
    /// Our calls waiting for a reply.
    pub pending: usize,
    /// The peer's calls running here.
    pub in_flight: usize,
    /// Bytes of frames kept for a resume (a session's frames the peer has
    /// not acknowledged, and, while the link is down, what was sent since).
    pub resume_bytes: usize,
    /// Whether the link is up (false while a session waits for a resume).
    pub attached: bool,
}

/// A connection to a peer. Cheap to clone; all clones are the same connection.
///
/// The connection stays open while its transport does, until [`Connection::close`]
/// or a protocol violation; dropping the handles does not close it.
#[derive(Clone)]
pub struct Connection {
    pub(crate) core: Arc<ConnCore>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("id", &self.core.id).field("peer", &self.core.peer).finish()
    }
}

/// A connection handle that does not keep the connection's state alive.
#[derive(Clone)]
pub(crate) struct WeakConnection(Weak<ConnCore>);

impl WeakConnection {
    pub(crate) fn upgrade(&self) -> Option<Connection> {
        self.0.upgrade().map(|core| Connection { core })
    }
}

/// Runs once a connection is established (a login deadline, say).
type OnOpen = Box<dyn FnOnce(&Connection) + Send>;

/// Runs once a Twisted peer's connection is established.
pub(crate) type OnOpenTwisted = Box<dyn FnOnce(&Arc<TwistedLink>) + Send>;

/// Builds a [`Connection`]: its settings and the root object it serves.
#[derive(Default)]
pub struct ConnectionBuilder {
    pub(super) config: Config,
    pub(super) root: Option<Arc<dyn Dispatch>>,
    pub(super) on_open: Option<OnOpen>,
    /// What a Twisted peer's connection serves as `b"root"` instead of
    /// `root` (a portal's login differs between the two wires), and what
    /// runs once it is open.
    pub(super) twisted: Option<(Arc<dyn Dispatch>, Option<OnOpenTwisted>)>,
}

impl ConnectionBuilder {
    /// Use these settings.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Serve `root` as this side's root (object id 0 on the connection).
    pub(crate) fn root_dispatch(mut self, root: Arc<dyn Dispatch>) -> Self {
        self.root = Some(root);
        self
    }

    /// Serve `root` to a Twisted peer instead of this builder's root, and
    /// run `on_open` with its link once established.
    pub(crate) fn twisted_root(mut self, root: Arc<dyn Dispatch>, on_open: Option<OnOpenTwisted>) -> Self {
        self.twisted = Some((root, on_open));
        self
    }

    /// Run `f` with the connection once it is established.
    pub(crate) fn on_open(mut self, f: impl FnOnce(&Connection) + Send + 'static) -> Self {
        self.on_open = Some(Box::new(f));
        self
    }
}

impl Connection {
    /// A builder for a connection with settings and a root object.
    pub fn builder() -> ConnectionBuilder {
        ConnectionBuilder::default()
    }

    /// Connect over TCP with default settings, serving no root.
    ///
    /// # Errors
    ///
    /// Connect or handshake failures.
    pub async fn connect_tcp(addr: impl tokio::net::ToSocketAddrs) -> Result<Connection, Error> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        Connection::builder().establish(Transport::tcp(stream)).await
    }

    /// This connection as references use it.
    pub(crate) fn link(&self) -> Arc<dyn Link> {
        self.core.link()
    }

    /// A handle that does not keep the connection alive.
    pub(crate) fn downgrade(&self) -> WeakConnection {
        WeakConnection(Arc::downgrade(&self.core))
    }

    /// Refuse new calls from the peer (they fail with
    /// [`Error::ShuttingDown`]); calls already running go on.
    pub fn drain(&self) {
        self.core.draining.store(true, Ordering::Release);
    }

    /// The interface id of the peer's root, if it serves one.
    pub fn peer_root_interface(&self) -> Option<u64> {
        self.core.peer_root.get().copied().flatten()
    }

    /// Process-unique number of this connection.
    pub fn id(&self) -> u64 {
        self.core.id
    }

    /// The peer's address.
    pub fn peer(&self) -> &str {
        &self.core.peer
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<String> {
        self.core.close_reason()
    }

    /// Wait until the connection is closed.
    pub async fn closed(&self) {
        self.core.cancel.cancelled().await
    }

    /// Close the connection: tell the peer, fail calls in flight with
    /// [`Error::ConnectionLost`] and release every export.
    pub fn close(&self) {
        if let Ok(frame) = wire::encode_frame(&Header::Goodbye, "closed") {
            let _ = self.core.send(frame);
        }
        self.core.close("closed by local side");
    }

    /// Close the connection, telling the peer why.
    pub(crate) fn close_with(&self, reason: String) {
        self.core.close_with(reason);
    }

    /// Round-trip a ping; returns the time it took.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] or [`Error::ConnectionLost`].
    pub async fn ping(&self) -> Result<Duration, Error> {
        let start = Instant::now();
        self.core.ping().await?;
        Ok(start.elapsed())
    }

    /// Counts of this connection's tables.
    pub fn stats(&self) -> Stats {
        let (exports, imports, pending) = self.core.table_sizes();
        Stats {
            exports,
            imports,
            pending,
            in_flight: self.core.in_flight.load(Ordering::Acquire),
            resume_bytes: self.core.resume_bytes(),
            attached: self.core.is_attached(),
        }
    }
}

impl ConnectionBuilder {
    /// Run PB's handshake as a Twisted server over `transport` (see
    /// [`TwistedLink::accept`]), serving this builder's root as `b"root"`
    /// (its Twisted root if it has one) with its settings.
    ///
    /// # Errors
    ///
    /// As [`TwistedLink::accept`].
    pub(crate) async fn accept_twisted(self, transport: crate::Transport) -> Result<Arc<TwistedLink>, Error> {
        let settings = super::twisted::Settings::from_config(&self.config);
        let (rd, wr, peer) = transport.into_parts();
        let (root, on_open) = match self.twisted {
            Some((root, on_open)) => (Some(root), on_open),
            None => (self.root, None),
        };
        let link = TwistedLink::accept(rd, wr, peer, settings, root).await?;
        if let Some(on_open) = on_open {
            on_open(&link);
        }
        Ok(link)
    }
}
