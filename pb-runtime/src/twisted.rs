//! Talking to Twisted Perspective Broker peers: calling Twisted servers,
//! and serving Twisted clients.
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
//! counts them. A pb object passed as an `Arc<dyn Iface>` argument goes to
//! the server as a `Referenceable` it can call back (see
//! [Serving Twisted clients](#serving-twisted-clients) for how calls to it
//! run); one of the server's own objects passed back arrives there as the
//! original.
//!
//! # Caches
//!
//! A [`Cache<S>`](crate::Cache) travels as Twisted's cacheable, both ways
//! and in either role:
//!
//! - the copy tag is the model's [`Cacheable::NAME`](crate::Cacheable::NAME)
//!   (`"aurora.UserList"`: the Python side registers its `pb.RemoteCache`
//!   subclass with `pb.setUnjellyableForClass(b"aurora.UserList", ...)`),
//!   and the state is `S` as jelly (a dict of its fields);
//! - an event is an enum value, and its variant is the observer method:
//!   `E::Added(name)` is `observe_added(name)` when serde names the variant
//!   `added` (`#[serde(rename = "added")]`); a tuple variant's fields, and a
//!   struct variant's in declaration order, are the positional arguments,
//!   as `pb-idl gen --python` writes `observe_<Event>`;
//! - a model's cache sent to a Twisted peer goes out once as `[tag, luid,
//!   state]`, then as `["cached", luid]`; each event the model applies is a
//!   `cachemessage` queued at once (so the peer has it before the answer of
//!   the method that applied it) that asks for no answer; the peer's last
//!   `decache` unsubscribes it ([`Model::observers`](crate::Model::observers))
//!   and is answered with `uncache`. PB cannot give a `RemoteCache` a whole
//!   new state, so a peer that cannot follow (the model's `apply` panicked,
//!   a relayed mirror was resynced from upstream, an event is no enum)
//!   is disconnected;
//! - a Twisted `pb.Cacheable` arrives as a mirror whose tag must be
//!   `S::NAME` (another is an error); each of its observer's
//!   `callRemote(name, *args)` is read as an `S::Event` (a struct variant
//!   may also come as keyword arguments) and applied, so changes, signals
//!   and views work as for any mirror. A call no event takes is answered
//!   with a failure and changes nothing. Every copy received is the one
//!   mirror; when its last handle goes, one `decache` per copy is sent
//!   (Twisted's `stoppedObserving` runs). A copy no decode keeps (another
//!   model, a state of another shape, the answer of a call whose caller
//!   stopped waiting) is decached at once, as references are released.
//!
//! A mirror sent back to its owner travels as `["lcache", luid]` and
//! arrives as the owner's own view.
//!
//! # Serving Twisted clients
//!
//! [`Server::bind_twisted`](crate::Server::bind_twisted) serves a root
//! object to Twisted PB clients (`pb.PBClientFactory`, `getRootObject()`)
//! on a port of its own: a Twisted server speaks first, a pb client says
//! hello first, so one port cannot serve both.
//!
//! | Twisted client | pb server |
//! | --- | --- |
//! | `root.callRemote("get_user", 7)` | the trait method whose wire name is `get_user` (its name, or `#[pb(name = "...")]`; the first declared if several share it); no such method is `NoSuchMethod` |
//! | keyword arguments | put at their parameters' positions by name (the parameters after the last one given must not be missing: Rust has no defaults) |
//! | `callRemote(..., pbanswer=False)` | the method runs; nothing is sent back, not even an error |
//! | the method's `Ok(v)` | the answer `v`, as jelly (see [`wire::twisted::jelly`](crate::wire::twisted::jelly)) |
//! | an `Err(e)` of the application's error type | a `CopyableFailure` of type `Enum.Variant` (serde's names: `#[serde(rename)]` chooses them), deriving from `pb.Error`, whose value is `e`'s `Display` |
//! | an `Err(pb::Error)` | Twisted's own kinds: `NoSuchMethod`, `pb.Error("Invalid Object ID")`, `UnauthorizedLogin`...; `Error::Remote { kind, message }` as `kind(message)` |
//! | a decode failure, a panic, `Busy` | a `pb.Error` saying so; the connection stays up |
//! | an `Arc<dyn Iface>` result or argument | a `RemoteReference` (`["remote", luid]`), counted per send and released by each `decref`; sent back, it arrives as the original `Arc` |
//! | the client's own `Referenceable` passed in | a proxy implementing the declared trait; released (`decref`) when dropped |
//! | the root (`["local", b"root"]`) passed back | the root object itself |
//! | a [`Cache<S>`](crate::Cache) result or argument | a `pb.RemoteCache` fed by the model (see [Caches](#caches)) |
//!
//! Not served: cred login (`PBClientFactory.login`), `AnyRef` from the client (PB
//! references carry no interface), reconnecting sessions, and an object
//! that is a Twisted peer's root sent back to it.

use std::sync::Arc;

use tokio::net::{TcpStream, ToSocketAddrs};

use crate::connection::{ROOT_ID, RemoteRef, TwistedLink, TwistedSettings};
use crate::references::ProxyHandle;
use crate::{Config, Error, Interface};

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
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "twisted peer".into());
    let (rd, wr) = stream.into_split();
    let link = TwistedLink::connect(rd, wr, peer, TwistedSettings::from_config(&Config::default())).await?;
    Ok(TwistedConnection { link })
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
