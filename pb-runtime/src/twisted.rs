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
//! sends another name, and `#[pb::remote_interface(rename_all =
//! "camelCase")]` on the trait sends every method's name in camelCase
//! (`getUser`; an explicit `#[pb(name)]` wins).
//!
//! A `#[pb(oneway)]` method (returning `Result<(), E>`) goes out with
//! `answerRequired = 0`, as Python's `callRemote(..., pbanswer=False)`:
//! the call returns once the message is queued for writing, and Twisted
//! sends no answer, not even a failure.
//!
//! # Errors
//!
//! An exception raised in Python arrives as the method's error, through
//! `E::from(pb::Error)`: [`Error::Remote`](crate::Error::Remote) with the exception's qualified
//! type and text (`raise ValueError("boom")` is `Remote { kind:
//! "builtins.ValueError", message: "boom" }`); Twisted's own kinds map to
//! pb's (a missing `remote_` method is [`Error::UnknownMethod`](crate::Error::UnknownMethod)).
//!
//! # References
//!
//! An object the server returns by reference (a `pb.Referenceable`) is a
//! proxy when the method's result is `Arc<dyn Iface>`; each reference
//! received is released (`decref`) when its last proxy goes, as Twisted
//! counts them. A result (or argument) declared `pb::AnyRef` takes such an
//! object too: PB references carry no interface, so its
//! [`downcast`](crate::AnyRef::downcast) to any trait gives a proxy,
//! trusting the caller as Python's duck typing does (a method the object
//! lacks fails with [`Error::UnknownMethod`](crate::Error::UnknownMethod)). A pb object passed as an `Arc<dyn Iface>` argument goes to
//! the server as a `Referenceable` it can call back (see
//! [Serving Twisted clients](#serving-twisted-clients) for how calls to it
//! run); one of the server's own objects passed back arrives there as the
//! original.
//!
//! # Logging in
//!
//! [`TwistedConnection::login`] logs in to a cred portal
//! (`pb.PBServerFactory(portal)`) as Twisted's `PBClientFactory.login`
//! does: PB's MD5 challenge/response for [`Credentials::new`](crate::login::Credentials::new), or
//! `loginAnonymous` for [`Credentials::anonymous`](crate::login::Credentials::anonymous). The avatar is a proxy
//! of any `#[remote_interface]` trait: its method `whoami` calls the
//! avatar's `perspective_whoami`. A refused login is [`Error::Unauthorized`](crate::Error::Unauthorized).
//!
//! # Reconnecting sessions
//!
//! [`TwistedSession`] is [`Client`](crate::Client) for Twisted servers: it
//! reconnects with backoff after an outage and heals the proxies it handed
//! out in place: the root, avatars, which log in again with the same
//! credentials, and what `#[pb(replay)]` methods returned through them
//! (proxies, and mirrors of Twisted cacheables), replayed through their
//! healed parent. See [its docs](TwistedSession#detecting-outages) for how
//! it notices an outage (PB has no ping).
//!
//! # TLS
//!
//! Twisted's `listenSSL`/`connectSSL` carry the same bytes over TLS:
//! [`connect_transport`] runs PB's handshake over a transport a
//! `pb::tls::TlsConnect` opens (a [`TwistedSession`]
//! takes the connector itself), and
//! [`Server::serve_twisted`](crate::Server::serve_twisted) serves Twisted
//! clients on a `pb::tls::TlsListener` (feature `tls`).
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
//! | `root.callRemote("get_user", 7)` | the trait method whose wire name is `get_user` (its name, as the trait's `rename_all` spells it, or `#[pb(name = "...")]`; the first declared if several share it); no such method is `NoSuchMethod` |
//! | keyword arguments | put at their parameters' positions by name (the parameters after the last one given must not be missing: Rust has no defaults) |
//! | `callRemote(..., pbanswer=False)` | the method runs; nothing is sent back, not even an error |
//! | the method's `Ok(v)` | the answer `v`, as jelly (see [`wire::twisted::jelly`](crate::wire::twisted::jelly)) |
//! | an `Err(e)` of the application's error type | a `CopyableFailure` of type `Enum.Variant` (serde's names: `#[serde(rename)]` chooses them), deriving from `pb.Error`, whose value is `e`'s `Display` |
//! | an `Err(pb::Error)` | Twisted's own kinds: `NoSuchMethod`, `pb.Error("Invalid Object ID")`, `UnauthorizedLogin`...; `Error::Remote { kind, message }` as `kind(message)` |
//! | a decode failure, a panic, `Busy` | a `pb.Error` saying so; the connection stays up |
//! | an `Arc<dyn Iface>` result or argument | a `RemoteReference` (`["remote", luid]`), counted per send and released by each `decref`; sent back, it arrives as the original `Arc` |
//! | the client's own `Referenceable` passed in | a proxy implementing the declared trait; released (`decref`) when dropped |
//! | the client's `Referenceable` where the method takes `pb::AnyRef` | an `AnyRef` (interface id 0) whose `downcast` to any trait is a proxy; a method the object lacks is `UnknownMethod` |
//! | a `pb::AnyRef` result or argument | a `RemoteReference`, as for `Arc<dyn Iface>` (the client's own object comes back as itself) |
//! | the root (`["local", b"root"]`) passed back | the root object itself |
//! | `factory.login(UsernamePassword(b"alice", b"secret"))` to a server bound with a [`Portal`](crate::login::Portal) | PB's challenge/response: the checker gets [`Credentials::challenge_response`](crate::login::Credentials::challenge_response), which [`Credentials::check_password`](crate::login::Credentials::check_password) verifies (the password never travels); the avatar it returns is the client's; wrong answers count against the portal's attempt limit, and its login timeout applies (see [`login`](crate::login#twisted-clients)) |
//! | `factory.login(Anonymous())` | `loginAnonymous`: the checker gets [`Credentials::anonymous`](crate::login::Credentials::anonymous), which no password checks against, and decides |
//! | `avatar.callRemote("whoami")` (`perspective_whoami` in Twisted) | the avatar trait's method whose wire name is `whoami` |
//! | a [`Cache<S>`](crate::Cache) result or argument | a `pb.RemoteCache` fed by the model (see [Caches](#caches)) |
//!
//! Not served: a login's `mind` (ignored; a reference passed as one is
//! released), and an object that is a Twisted peer's root sent back to it.

mod connection;
pub(crate) mod cred;
mod session;

pub use connection::{TwistedConnection, connect, connect_transport, respond};
pub use session::{TwistedSession, TwistedSessionBuilder};
