//! pb: distributed objects for Rust, in the spirit of Twisted's Perspective Broker.
//!
//! One trait is the interface. `#[pb::remote_interface]` turns it into a
//! remote interface: the same `Arc<dyn Trait>` can then be a local object, a
//! proxy to an object one hop away, or a proxy to a proxy many hops away, and
//! calling code cannot tell which.
//!
//! # Tutorial
//!
//! Declare the interface. Remote methods are `async fn(&self, ...)` returning
//! `Result<T, E>`, where `E` can be built from [`pb::Error`](Error) and is
//! serde, so transport failures reach the caller through the method's own
//! error type while application errors come back as values:
//!
//! ```
//! use std::sync::Arc;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! pub struct User { pub id: u64, pub name: String }              // passed by copy
//!
//! #[derive(Debug, thiserror::Error, Serialize, Deserialize)]
//! pub enum UserError {
//!     #[error("no user {0}")] NotFound(u64),                     // an application error
//!     #[error(transparent)] Pb(#[from] pb::Error),              // a transport failure, at any hop
//! }
//!
//! #[pb::remote_interface]
//! pub trait UserManager {
//!     async fn get_user(&self, id: u64) -> Result<User, UserError>;
//!     async fn presence(&self) -> Result<Arc<dyn Presence>, UserError>;   // by reference
//!     #[pb(local)]                                                   // runs on the caller's side
//!     fn label(&self) -> String { "users".into() }
//! }
//!
//! #[pb::remote_interface]
//! pub trait Presence {
//!     async fn is_online(&self, user: u64) -> Result<bool, UserError>;
//! }
//! # struct Online;
//! # #[pb::remote_impl]
//! # impl Presence for Online {
//! #     async fn is_online(&self, user: u64) -> Result<bool, UserError> { Ok(user == 1) }
//! # }
//!
//! // Implement it with plain async fn bodies.
//! struct Users { presence: Arc<dyn Presence> }
//!
//! #[pb::remote_impl]
//! impl UserManager for Users {
//!     async fn get_user(&self, id: u64) -> Result<User, UserError> {
//!         match id {
//!             1 => Ok(User { id, name: "alice".into() }),
//!             _ => Err(UserError::NotFound(id)),
//!         }
//!     }
//!     async fn presence(&self) -> Result<Arc<dyn Presence>, UserError> {
//!         Ok(self.presence.clone())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Serve a root object on one side of a connection (here an in-memory
//! // pair; `Transport::tcp` and `Transport::unix` work the same way)...
//! let (server_side, client_side) = pb::Transport::memory_pair();
//! let users = Arc::new(Users { presence: Arc::new(Online) });
//! let (server, client) = tokio::join!(
//!     pb::Connection::builder().root::<dyn UserManager>(users).establish(server_side),
//!     pb::Connection::builder().establish(client_side),
//! );
//! let (_server, client) = (server?, client?);
//!
//! // ...and call it from the other. `remote` is an `Arc<dyn UserManager>`.
//! let remote = client.root::<dyn UserManager>()?;
//! assert_eq!(remote.get_user(1).await?.name, "alice");
//! assert!(matches!(remote.get_user(7).await, Err(UserError::NotFound(7))));
//! assert_eq!(remote.label(), "users");
//!
//! // A reference comes back as a working proxy.
//! let presence = remote.presence().await?;
//! assert!(presence.is_online(1).await?);
//!
//! // When the link is down, calls fail fast through the method's error type.
//! client.close();
//! assert!(matches!(remote.get_user(1).await, Err(UserError::Pb(pb::Error::Disconnected))));
//! # Ok(())
//! # }
//! ```
//!
//! # Passing objects
//!
//! - **By copy**: any serde type. A copy that arrives is a plain value of the
//!   same type and can be sent on unchanged (a copy of a copy).
//! - **By reference**: `Arc<dyn Iface>` as an argument or result, and
//!   [`Ref<dyn Iface>`](Ref) anywhere inside copied data (fields, `Vec`,
//!   `Option`, map values). The far side gets a proxy. A proxy sent back to
//!   the process that owns the object arrives as the original `Arc`.
//!   (serde cannot carry a bare `Arc<dyn Iface>` field: its `Arc` impls go
//!   through `&T` and `Box<T>`, losing the owner and the identity; hence
//!   `Ref`, which derefs to the object and converts to and from `Arc`.)
//!   [`same_object`] tells whether two `Arc`s are one object.
//! - Dropping the last proxy releases the object on its owner (PB's decref);
//!   a closed connection releases everything exported on it.
//! - A proxy keeps its connection: dropping a [`Connection`] value (a
//!   handle) does not close the link while proxies use it; call
//!   [`Connection::close`] to close it. A [`Client`] is a session: dropping
//!   every clone of it ends the session, and its proxies then fail with a
//!   link failure, so keep the `Client` for as long as its proxies are used.
//! - Bytes: `Vec<u8>` and [`Blob`] are the same on the wire. `Vec<u8>` is
//!   the plain choice; `Blob` pays for large payloads passed on or kept
//!   unchanged: a received `Blob` is a slice of the frame (no copy), and a
//!   sent one is referenced by the frame instead of copied into it.
//!
//! # Relays
//!
//! A relay needs no special code: it holds a proxy (an `Arc<dyn Iface>`)
//! and serves it or returns it to its own peers, who get a proxy of the proxy.
//! References travelling back up turn into the objects they came from at each
//! hop.
//!
//! # Servers, registries and reconnecting sessions
//!
//! A [`Server`] publishes a root object, usually a [`Registry`] of managers
//! located by interface (or one object, `pb::root::<dyn Iface>(object)`:
//! see [`root`]); [`Server::run`] serves until stopped, and dropping the
//! `Server` closes it and its connections. A [`Client`] is a reconnecting
//! session to it. The
//! proxies a session hands out (its root, registry lookups, and results of
//! `#[pb(replay)]` methods) heal in place after an outage, even when the
//! server is a new process; [`Client::events`] reports `Connected`,
//! `Disconnected` and `Reconnected`. See the [`session`] docs for defaults.
//!
//! ```
//! # use std::sync::Arc;
//! # #[pb::remote_interface]
//! # pub trait Hello { async fn hello(&self) -> Result<String, pb::Error>; }
//! # struct World;
//! # #[pb::remote_impl]
//! # impl Hello for World { async fn hello(&self) -> Result<String, pb::Error> { Ok("world".into()) } }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), pb::Error> {
//! let registry = pb::Registry::local().serve::<dyn Hello>(Arc::new(World));
//! let server = pb::Server::bind("127.0.0.1:0", registry).await?;
//!
//! let session = pb::Client::connect(server.local_addr()).await?;
//! let hello = session.get::<dyn Hello>().await?;   // from the registry; heals after outages
//! assert_eq!(hello.hello().await?, "world");
//!
//! use pb::StreamExt;                                // `.next()` on event and change streams
//! let mut events = session.events();
//! assert!(matches!(events.next().await, Some(pb::SessionEvent::Connected { .. })));
//!
//! // A relay: its own session upstream, a forwarding registry downstream.
//! let relay = pb::Server::bind("127.0.0.1:0", pb::Registry::forwarding(session.registry()?)).await?;
//! let far = pb::Client::connect(relay.local_addr()).await?;
//! assert_eq!(far.get::<dyn Hello>().await?.hello().await?, "world");
//! # Ok(())
//! # }
//! ```
//!
//! # Cached models
//!
//! A [`Model`] owns a [`Cacheable`] state and applies typed events; a
//! [`Cache`] is the view of one, local or mirrored any number of hops away,
//! with the same API: [`Cache::state`], [`Cache::changes`], [`Cache::watch`].
//! See the [`cache`] docs for delivery, per-observer views and outages.
//!
//! ```
//! use pb::{Cache, Cacheable, Change, Model};
//! use pb::StreamExt;                                   // `.next()` on streams
//! # use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Default, Serialize, Deserialize)]
//! struct Counter { value: i64 }
//!
//! impl Cacheable for Counter {
//!     type Event = i64;                                  // "add this much"
//!     const NAME: &'static str = "example.Counter";
//!     fn apply(&mut self, delta: &i64) { self.value += delta; }
//! }
//!
//! #[pb::remote_interface]
//! trait Counters {
//!     #[pb(replay)]                                       // resyncs after an outage
//!     async fn counter(&self) -> Result<Cache<Counter>, pb::Error>;
//! }
//! struct Owner(Model<Counter>);
//! #[pb::remote_impl]
//! impl Counters for Owner {
//!     async fn counter(&self) -> Result<Cache<Counter>, pb::Error> { Ok(self.0.cache()) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), pb::Error> {
//! let model = Model::new(Counter::default());
//! let (a, b) = pb::Transport::memory_pair();
//! let owner = std::sync::Arc::new(Owner(model.clone()));
//! let (server, client) = tokio::join!(
//!     pb::Connection::builder().root::<dyn Counters>(owner).establish(a),
//!     pb::Connection::builder().establish(b),
//! );
//! let (_server, client) = (server?, client?);
//!
//! let mirror = client.root::<dyn Counters>()?.counter().await?;   // holds the state on arrival
//! let mut changes = mirror.changes();
//! model.apply(5);
//! assert!(matches!(changes.next().await, Some(Change::Event(5))));  // a local signal
//! assert_eq!(mirror.state().value, 5);
//! # Ok(())
//! # }
//! ```
//!
//! # Method options
//!
//! `#[pb(local)]` (runs on the caller's side, needs a default body),
//! `#[pb(replay)]` (safe to re-run after an outage to rebuild the reference
//! or cache it returned), `#[pb(idempotent)]` (safe to retry once after healing),
//! `#[pb(oneway)]` (the caller sends the call and does not wait: the method
//! returns `Result<(), E>`, and nothing comes back, not even its failure;
//! to a Twisted peer the call asks for no answer),
//! `#[pb(id = N)]` and `#[pb(name = "...")]` (wire identity). On the trait:
//! `#[pb::remote_interface(name = "pkg.Iface", id = N, crate = "path::to::pb")]`,
//! and `rename_all = "camelCase"` (each method's wire name respelled,
//! `get_user` as `getUser`, as if each had `#[pb(name = "getUser")]`; an
//! explicit `#[pb(name)]` wins). Interface ids are the 64-bit FNV-1a hash of
//! the name, method ids the 32-bit FNV-1a hash of the method's wire name,
//! unless given. The `remote_interface` macro's own docs say more.
//!
//! # Untrusted peers: limits, login and TLS
//!
//! Every connection enforces limits on frame size, nesting depth, decoded
//! size, calls in flight, exports, bytes queued for a peer that does not read, and time
//! (handshake, one frame); a server also bounds its connections. All are in
//! [`Config`] with defaults meant for servers facing the internet; the
//! README's "Security" section lists them. A peer reaches only what was
//! exported to it on its own connection.
//!
//! With [`login::Portal`], nothing is reachable before the peer logs in; the
//! application's checker returns a per-user avatar, and a session logs in
//! again by itself after an outage:
//!
//! ```
//! # use std::sync::Arc;
//! use pb::login::{Credentials, Portal};
//! # #[pb::remote_interface]
//! # pub trait Hello { async fn hello(&self) -> Result<String, pb::Error>; }
//! # struct World(String);
//! # #[pb::remote_impl]
//! # impl Hello for World { async fn hello(&self) -> Result<String, pb::Error> { Ok(self.0.clone()) } }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), pb::Error> {
//! let portal = Portal::new(|c: Credentials| async move {
//!     if c.password != "secret" {
//!         return Err(pb::Error::Unauthorized);
//!     }
//!     Ok(pb::AnyRef::new::<dyn Hello>(Arc::new(World(c.username))))   // the avatar
//! });
//! let server = pb::Server::bind("127.0.0.1:0", portal).await?;
//!
//! let session = pb::Client::connect(server.local_addr()).await?;
//! let wrong = session.login::<dyn Hello>(Credentials::new("alice", "guess")).await;
//! assert_eq!(wrong.err(), Some(pb::Error::Unauthorized));
//! let hello = session.login::<dyn Hello>(Credentials::new("alice", "secret")).await?;
//! assert_eq!(hello.hello().await?, "alice");
//! # Ok(())
//! # }
//! ```
//!
//! With the `tls` feature, `pb::tls` runs all of this over tokio-rustls
//! (server certificates, optional client certificates).

#![warn(missing_docs)]

pub use futures_util::StreamExt;
pub use pb_macros::{Describe, PbError, remote_impl, remote_interface};
pub use pb_runtime::Describe;
/// TLS transports for servers and sessions (feature `tls`).
#[cfg(feature = "tls")]
pub use pb_runtime::tls;
pub use pb_runtime::wire::Blob;
pub use pb_runtime::{AnyRef, Listing, Locator, Registry};
pub use pb_runtime::{BackoffConfig, Connect, ConnectFn, Listener, TcpAddr};
pub use pb_runtime::{Cache, Cacheable, Change, Model};
pub use pb_runtime::{Client, ClientBuilder, Server, ServerHandle, SessionConfig, SessionEvent};
pub use pb_runtime::{
    Config, Connection, ConnectionBuilder, Error, Interface, MethodInfo, ProxyHandle, Ref, Reply, Result, Stats,
    Transport,
};
pub use pb_runtime::{IntoRoot, Root, root};
pub use pb_runtime::{Sender, Sink, Stream, channel, stream};
pub use pb_runtime::{backoff, cache, describe, login, server, session, twisted};

/// Fault injection for tests and demos: a TCP proxy that cuts and
/// black-holes links, and an in-memory switch (feature `test-util`).
#[cfg(feature = "test-util")]
pub use pb_runtime::fault;

/// The wire format, for tools and tests that speak it directly.
pub mod wire {
    pub use pb_runtime::wire::{Blob, DESCRIBE_METHOD, EncodedFrame, Header, WireRef};
    /// Frames, the postcard codec and depth limits, and Twisted's banana,
    /// jelly and PB messages, for fuzz targets (feature `fuzzing`).
    #[cfg(feature = "fuzzing")]
    pub use pb_runtime::wire::{codec, depth, frame, twisted};
    pub use pb_runtime::wire::{decode_frame, decode_payload_limited};
}

/// An application error type that holds a [`pb::Error`](Error) (its
/// `Pb(#[from] pb::Error)` variant): derive it with `#[derive(pb::PbError)]`
/// and ask the application's own error whether the link failed.
///
/// ```
/// #[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize, pb::PbError)]
/// pub enum UserError {
///     #[error("no user {0}")] NotFound(u64),
///     #[error(transparent)] Pb(#[from] pb::Error),
/// }
///
/// use pb::PbError;
/// assert!(UserError::Pb(pb::Error::Disconnected).is_link_failure());
/// assert!(!UserError::NotFound(7).is_link_failure());
/// assert_eq!(UserError::NotFound(7).pb_error(), None);
/// ```
pub trait PbError {
    /// The transport error inside, if this is one.
    fn pb_error(&self) -> Option<&Error>;

    /// Whether this is a link failure (`Disconnected`, `ConnectionLost`):
    /// the call may be retried once the session has healed.
    fn is_link_failure(&self) -> bool {
        self.pb_error().is_some_and(Error::is_link_failure)
    }
}

impl PbError for Error {
    fn pb_error(&self) -> Option<&Error> {
        Some(self)
    }
}

/// Whether two `Arc`s are the same object, comparing addresses only: a
/// reference sent back to its owner arrives as the owner's own `Arc`, and
/// `same_object(&sent, &returned)` holds. (`Arc::ptr_eq` on `Arc<dyn Trait>`
/// also compares vtables, which may differ between codegen units.)
///
/// ```
/// use std::sync::Arc;
/// let a: Arc<dyn std::fmt::Debug + Send + Sync> = Arc::new(1);
/// let b = a.clone();
/// assert!(pb::same_object(&a, &b));
/// assert!(!pb::same_object(&a, &(Arc::new(1) as Arc<dyn std::fmt::Debug + Send + Sync>)));
/// ```
pub fn same_object<T: ?Sized, U: ?Sized>(a: &std::sync::Arc<T>, b: &std::sync::Arc<U>) -> bool {
    std::ptr::addr_eq(std::sync::Arc::as_ptr(a), std::sync::Arc::as_ptr(b))
}

/// A boxed `Send` future borrowing for `'a`: what remote methods return
/// once desugared, and what a `#[pb(local)]` method can return to be async.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

#[doc(hidden)]
pub use pb_runtime::__private;

/// Include the Rust that `pb-idl` generated for schema package `$pkg` in a
/// build script (`pb_idl::Config::new().compile(...)` writes `<package>.rs`
/// to `OUT_DIR`).
///
/// Put each package in a module of its name (dots become `_`): generated
/// code names other packages as sibling modules.
///
/// ```ignore
/// mod aurora {
///     pb::include_schema!("aurora");
/// }
/// ```
#[macro_export]
macro_rules! include_schema {
    ($pkg:literal) => {
        ::core::include!(::core::concat!(::core::env!("OUT_DIR"), "/", $pkg, ".rs"));
    };
}
