//! Calling Twisted Perspective Broker servers from pb.
//!
//! [`connect`] runs PB's handshake with a Twisted server (`pb.PBServerFactory`)
//! and returns a [`TwistedConnection`]; [`TwistedConnection::root`] is a
//! proxy to the server's root object through an ordinary
//! `#[remote_interface]` trait. Each call goes out as PB's `["message", ...]`
//! with its arguments as a jelly tuple (see
//! [`wire::twisted::jelly`](crate::wire::twisted::jelly) for what maps to
//! what), and the answer is decoded into the method's `Ok` type.
//!
//! # Examples
//!
//! Calling the root of a Twisted server (`pb.PBServerFactory(Root())` with
//! `def remote_get_user(self, id): return User(id, "alice")`, a
//! `pb.Copyable` whose `getTypeToCopy()` is `b"aurora.User"`):
//!
//! ```no_run
//! # use pb_runtime as pb; // applications write `pb::...`
//! use pb::Error;
//!
//! #[derive(Debug, serde::Serialize, serde::Deserialize)]
//! #[serde(rename = "aurora.User")] // the copy tag Python sends
//! struct User { id: i64, name: String }
//!
//! #[pb_macros::remote_interface(crate = "pb_runtime")] // applications write #[pb::remote_interface]
//! trait Root {
//!     async fn get_user(&self, id: i64) -> Result<User, Error>;
//! }
//!
//! # async fn run() -> Result<(), Error> {
//! let twisted = pb::twisted::connect("127.0.0.1:8789").await?;
//! let root = twisted.root::<dyn Root>();
//! let user = root.get_user(7).await?; // calls remote_get_user(7)
//! assert_eq!(user.name, "alice");
//! twisted.close();
//! # Ok(())
//! # }
//! ```
//!
//! `connect` waits for the server's handshake as long as it takes; wrap it
//! in `tokio::time::timeout` to bound that.
//!
//! # Method names
//!
//! A call sends the trait method's name, and Twisted runs the root's
//! `remote_<name>`: `async fn get_user(&self, id: i64)` calls
//! `remote_get_user(self, id)`. `#[pb(name = "getUser")]` on the method
//! sends another name.
//!
//! # Errors
//!
//! An exception raised in Python arrives as the method's error, through
//! `E::from(pb::Error)`: [`Error::Remote`] with the exception's qualified
//! type and text (`raise ValueError("boom")` is `Remote { kind:
//! "builtins.ValueError", message: "boom" }`); Twisted's own kinds map to
//! pb's (a missing `remote_` method is [`Error::UnknownMethod`]).
//!
//! # References
//!
//! An object the server returns by reference (a `pb.Referenceable`) is a
//! proxy when the method's result is `Arc<dyn Iface>`; each reference
//! received is released (`decref`) when its last proxy goes, as Twisted
//! counts them.
//!
//! Not here yet: serving objects to Twisted (callbacks), cacheables, cred
//! login, TLS, reconnecting sessions.

use std::sync::Arc;

use tokio::net::{TcpStream, ToSocketAddrs};

use crate::connection::{ROOT_ID, RemoteRef, TwistedLink};
use crate::references::ProxyHandle;
use crate::wire::twisted::banana::Limits;
use crate::{Error, Interface};

/// A connection to a Twisted PB server.
///
/// The connection closes when [`close`](Self::close) is called, or when
/// this handle and every proxy on it are gone, or when the server closes it.
#[derive(Clone)]
pub struct TwistedConnection {
    link: Arc<TwistedLink>,
}

/// Connect to a Twisted PB server at `addr` over TCP and run PB's handshake.
///
/// # Errors
///
/// [`Error::Io`] when the connection fails, [`Error::Protocol`] when the
/// peer does not speak PB version 6.
pub async fn connect(addr: impl ToSocketAddrs) -> Result<TwistedConnection, Error> {
    let stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "twisted peer".into());
    let link = TwistedLink::connect(stream, peer, Limits::default()).await?;
    Ok(TwistedConnection { link })
}

impl TwistedConnection {
    /// A proxy to the server's root object (Twisted's `getRootObject`: the
    /// object published as `b"root"`, which is never released).
    pub fn root<T: ?Sized + Interface>(&self) -> Arc<T> {
        let target = Arc::new(RemoteRef::new(self.link.clone(), ROOT_ID, false));
        T::proxy(ProxyHandle::new(target, T::NAME, T::METHODS))
    }

    /// Close the connection: calls in flight fail with
    /// [`Error::ConnectionLost`], later ones with [`Error::Disconnected`].
    pub fn close(&self) {
        self.link.close();
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        use crate::connection::Link as _;
        self.link.is_closed()
    }
}
