//! A connection to a Twisted PB peer, and how to open one.

use std::sync::Arc;

use tokio::net::{TcpStream, ToSocketAddrs};

use crate::connection::{ROOT_ID, RemoteRef, TwistedLink, TwistedSettings};
use crate::references::ProxyHandle;
use crate::{Config, Error, Interface, Transport};

/// A connection to a Twisted PB peer: a server this side called with
/// [`connect`], or a client of a [`Server`](crate::Server) bound with
/// [`bind_twisted`](crate::Server::bind_twisted).
///
/// A connection made with [`connect`] closes when [`close`](Self::close)
/// is called, or when this handle and every proxy on it are gone, or when
/// the server closes it. A server's connection closes when the client goes
/// or the server stops.
#[derive(Clone)]
pub struct TwistedConnection {
    link: Arc<TwistedLink>,
}

impl std::fmt::Debug for TwistedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::connection::Link as _;
        f.debug_struct("TwistedConnection").field("peer", &self.link.peer()).finish_non_exhaustive()
    }
}

/// Connect to a Twisted PB server at `addr` over TCP and run PB's handshake.
///
/// # Errors
///
/// [`Error::Io`] when the connection fails, [`Error::Protocol`] when the
/// peer does not speak PB version 6.
pub async fn connect(addr: impl ToSocketAddrs) -> Result<TwistedConnection, Error> {
    let stream = TcpStream::connect(addr).await?;
    connect_transport(Transport::tcp(stream), &Config::default()).await
}

/// Run PB's handshake as the client over `transport`, with `config`'s
/// limits: a TLS stream to a Twisted `listenSSL` port (see
/// `pb::tls`: `TlsConnect` opens one), a Unix socket, an
/// in-memory pair. [`connect`] is this over TCP with default settings.
///
/// # Errors
///
/// [`Error::Io`] when the transport fails, [`Error::Protocol`] when the
/// peer does not speak PB version 6.
pub async fn connect_transport(transport: Transport, config: &Config) -> Result<TwistedConnection, Error> {
    let (rd, wr, peer) = transport.into_parts();
    let link = TwistedLink::connect(rd, wr, peer, TwistedSettings::from_config(config)).await?;
    Ok(TwistedConnection { link })
}

/// Twisted PB's answer to a login challenge, `md5(md5(password) +
/// challenge)` (`twisted.spread.pb.respond`): what a client sends a portal
/// instead of its password. [`TwistedConnection::login`] computes it; this
/// is for code that runs the exchange by hand.
pub fn respond(challenge: &[u8], password: &[u8]) -> [u8; 16] {
    crate::services::md5::respond(challenge, password)
}

impl TwistedConnection {
    pub(crate) fn new(link: Arc<TwistedLink>) -> Self {
        TwistedConnection { link }
    }

    /// A proxy to the server's root object (Twisted's `getRootObject`: the
    /// object published as `b"root"`, which is never released).
    pub fn root<T: ?Sized + Interface>(&self) -> Arc<T> {
        let target = Arc::new(RemoteRef::new(self.link.clone(), ROOT_ID, false));
        T::proxy(ProxyHandle::new(target, T::NAME, T::METHODS))
    }

    /// Close the connection: calls in flight fail with
    /// [`Error::ConnectionLost`], later ones with [`Error::Disconnected`];
    /// the objects the peer held are released.
    pub fn close(&self) {
        self.link.close();
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        use crate::connection::Link as _;
        self.link.is_closed()
    }

    /// Call the root's method `method` with no arguments and wait for the
    /// answer; any answer, a failure too, proves the link is up.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] or [`Error::ConnectionLost`]: the link is down.
    pub(crate) async fn ping(&self, method: &str) -> Result<(), Error> {
        use crate::connection::{JellyCalls, Link as _};
        let (tx, rx) = tokio::sync::oneshot::channel();
        let req = self.link.next_req();
        let args = crate::wire::twisted::jelly::form::tuple([]);
        let slot: crate::connection::JellySlot = Box::new(move |_, outcome| {
            let _ = tx.send(outcome.err().map(|fault| fault.error));
        });
        JellyCalls::send_call(&*self.link, req, ROOT_ID, method, args, slot)?;
        let abandon = AbandonOnDrop { link: &self.link, req };
        let answered = rx.await;
        std::mem::forget(abandon);
        match answered {
            Ok(Some(e)) if e.is_link_failure() => Err(e),
            Ok(_) => Ok(()),
            Err(_) => Err(Error::ConnectionLost),
        }
    }

    /// Wait until the connection is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn closed(&self) {
        self.link.closed().await;
    }

    /// The peer's address.
    pub fn peer(&self) -> &str {
        use crate::connection::Link as _;
        self.link.peer()
    }

    /// How many of this side's objects the peer holds references to now
    /// (the root not counted): each is released when the peer has sent one
    /// `decref` per time it was sent.
    pub fn exported(&self) -> usize {
        self.link.exported()
    }

    /// How many of the peer's calls are running now.
    pub fn in_flight(&self) -> usize {
        self.link.in_flight()
    }

    /// Refuse the peer's new calls with [`Error::ShuttingDown`] (a server
    /// shutting down does this).
    pub(crate) fn drain(&self) {
        self.link.drain();
    }

    /// Process-unique connection number.
    pub(crate) fn id(&self) -> u64 {
        use crate::connection::Link as _;
        self.link.id()
    }
}

/// Forgets a call whose caller stopped waiting.
struct AbandonOnDrop<'a> {
    link: &'a Arc<TwistedLink>,
    req: u64,
}

impl Drop for AbandonOnDrop<'_> {
    fn drop(&mut self) {
        use crate::connection::Link as _;
        self.link.abandon(self.req);
    }
}
