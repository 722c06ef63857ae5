//! The runtime of pb: wire protocol, connections, references, services and
//! sessions.
//!
//! Applications use the `pb` facade crate, which re-exports what they need;
//! this crate is its engine. See the `pb` crate docs for a tutorial.
//!
//! # Module map
//!
//! The runtime is built in layers; imports run one way, from a layer to the
//! ones below it, never up (what a lower layer needs from above is a trait
//! it declares and the higher layer implements).
//!
//! | layer | module | owns |
//! | --- | --- | --- |
//! | base | `error`, [`config`] | [`Error`], [`Config`] |
//! | transport | [`transport`] | byte streams ([`Transport`]), listeners, connectors, TLS, fault injection |
//! | wire | [`wire`] | bytes <-> messages: frames (the only place a length prefix is written or read), the format-neutral [`wire::Header`], the payload codec, depth limits, [`wire::Blob`] |
//! | connection | `connection` | one peer: reader and writer tasks, export and import tables, the server side of calls (`dispatch.rs`), the client side (`calls.rs`); what the layers above see of it is the `Link` trait |
//! | references | `references` | [`Interface`], [`ProxyHandle`], [`Ref`], [`AnyRef`], the interface table, [`describe`], and the hook healing attaches through |
//! | services | [`registry`], [`cache`], [`login`] | locating objects, cached models, login |
//! | session | [`session`], [`server`], [`twisted`] | reconnecting clients that heal their handles, servers (for pb clients and for Twisted PB clients), and connections to Twisted PB servers |
//!
//! # Lock invariant
//!
//! The runtime's locks are `std::sync` locks, and their `unwrap()`s rest on
//! one rule: **no user code runs while a pb lock is held**. User code is a
//! remote method's body, a model's `Cacheable::apply` (and the `Clone` and
//! `Drop` of its state), a view's projection functions, a login checker,
//! and the `Drop` of any user object. So no pb lock is poisoned by a user's
//! panic, and none is re-entered by a user's callback.
//!
//! - Methods run outside every lock (dispatch looks the object up, then
//!   calls it); their panics are caught and answered as [`Error::Panicked`].
//! - Objects that may be the user's (exports on release or close, registry
//!   entries replaced or removed, a replaced model state, a closed
//!   observer's view functions, a replaced connection) are moved out of the
//!   lock and dropped after it.
//! - The one exception is a cached model: `apply` and the view functions
//!   must run under the model's state lock, so every observer sees one
//!   order. They run inside `catch_unwind` there (see [`cache`]).
//! - Weak handles are checked with `strong_count`, not by upgrading, where
//!   a lock is held: dropping an upgraded handle could drop the last one
//!   and run its cleanup under that lock.
//!
//! Places that depend on it say so in a `// Lock invariant:` note.

#![warn(missing_docs)]

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
pub mod config;
mod connection;
mod error;
mod references;
pub mod server;
mod services;
pub mod session;
pub mod transport;
pub mod twisted;
pub mod wire;

pub use config::Config;
pub use connection::{Connection, ConnectionBuilder, Reply, Stats};
pub use error::{Error, Result};
pub use references::types::Describe;
pub use references::{AnyRef, Interface, IntoRoot, MethodInfo, ProxyHandle, Ref, Root, describe, root};
pub use server::{Server, ServerHandle};
pub use services::cache::{self, Cache, Cacheable, Change, Model};
pub use services::login;
pub use services::registry::{self, Listing, Locator, Registry};
pub use services::stream::{self, Sender, Sink, Stream, channel};
pub use session::backoff::{self, BackoffConfig};
pub use session::{Client, ClientBuilder, SessionConfig, SessionEvent};
#[cfg(feature = "test-util")]
pub use transport::fault;
#[cfg(feature = "tls")]
pub use transport::tls;
pub use transport::{Connect, ConnectFn, Listener, TcpAddr, Transport};

/// Decode call arguments (used by generated dispatch code, which runs while
/// the connection's decode context is set): pb's payload `args`, or the
/// jelly arguments of a call from a Twisted peer when its connection lends
/// them (then `args` is empty).
///
/// # Errors
///
/// A decode error, or a bad reference inside the arguments.
pub fn decode_args<T: serde::de::DeserializeOwned>(args: &[u8]) -> Result<T> {
    use wire::twisted::jelly;
    if let Some(decoded) = jelly::hook::lent_args(|args| jelly::from_value::<T>(args)) {
        return decoded.map_err(Into::into);
    }
    wire::decode_payload(args)
}
