//! The runtime of pb: wire protocol, connections, export tables and proxies.
//!
//! Applications use the `pb` facade crate, which re-exports what they need;
//! this crate is its engine. See the `pb` crate docs for a tutorial.

#![warn(missing_docs)]

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
pub mod anyref;
pub mod backoff;
pub mod cache;
pub mod config;
mod connection;
pub mod describe;
mod error;
pub mod fault;
pub mod login;
pub mod object;
mod proxy;
pub mod registry;
pub mod server;
pub mod session;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;
pub mod wire;

pub use anyref::AnyRef;
pub use cache::{Cache, Cacheable, Change, Model};
pub use config::Config;
pub use connection::{CallContext, Connection, ConnectionBuilder, Stats};
pub use error::{Error, Result};
pub use object::{Interface, MethodInfo, Ref};
pub use proxy::ProxyHandle;
pub use registry::{Listing, Locator, Registry};
pub use server::Server;
pub use session::{Client, ClientBuilder, SessionConfig, SessionEvent};
pub use transport::Transport;

/// Decode call arguments (used by generated dispatch code, which runs while
/// the connection's decode context is set).
///
/// # Errors
///
/// A decode error, or a bad reference inside the arguments.
pub fn decode_args<T: serde::de::DeserializeOwned>(args: &[u8]) -> Result<T> {
    wire::decode_payload(args)
}
