//! pb: distributed objects for Rust, in the spirit of Twisted's Perspective Broker.
//!
//! One trait is the interface. `#[pb::remote_interface]` makes it work on a
//! local object, on a remote object one hop away, and on a remote object many
//! hops away, with the same calling code.
//!
//! (The full tutorial is below, once the foundation lands.)

#![warn(missing_docs)]

pub use pb_macros::{remote_impl, remote_interface};
pub use pb_runtime::wire;
pub use pb_runtime::{CallContext, Config, Connection, ConnectionBuilder, Error, Interface, MethodInfo, ProxyHandle, Ref, Result, Stats, Transport};

/// A boxed `Send` future borrowing for `'a`: what remote methods return
/// once desugared, and what a `#[pb(local)]` method can return to be async.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
