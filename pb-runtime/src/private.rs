//! Paths used by generated code. Not public API: may change in any release.

pub use crate::cache::track_replay_cache;
pub use crate::connection::{CallFuture, Reply};
pub use crate::references::types::{DescribeKnown, DescribeOpaque, Probe};
pub use crate::references::{InterfaceEntry, SerArc, track_replay};
pub use crate::{ProxyHandle, decode_args};
pub use inventory;
pub use serde;
pub use thiserror;

/// A type that can cross the wire by copy as an argument or result.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross the wire as a remote method argument or result",
    label = "needs serde's `Serialize` and `DeserializeOwned`, and `Send + 'static`",
    note = "derive `serde::Serialize` and `serde::Deserialize` for data; pass an object by reference as `Arc<dyn Iface>` (or `pb::Ref<dyn Iface>` inside data)"
)]
pub trait Wire: serde::Serialize + serde::de::DeserializeOwned + Send + 'static {}
impl<T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static> Wire for T {}

/// A type that can be the error type of a remote method.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error type of a remote method",
    label = "needs `From<pb::Error>`, serde's `Serialize` and `DeserializeOwned`, and `Send + 'static`",
    note = "add a variant `Pb(#[from] pb::Error)` (thiserror) or implement `From<pb::Error>`, and derive `Serialize` and `Deserialize`: transport failures reach callers through this type"
)]
pub trait RemoteError: From<crate::Error> + serde::Serialize + serde::de::DeserializeOwned + Send + 'static {}
impl<E: From<crate::Error> + serde::Serialize + serde::de::DeserializeOwned + Send + 'static> RemoteError for E {}

/// Compile-time check that `T` crosses the wire by copy.
pub fn assert_wire<T: Wire>() {}

/// Compile-time check that `E` is a valid remote error type.
pub fn assert_error<E: RemoteError>() {}

/// Compile-time check that `T` (a `dyn Trait`) is a remote interface.
pub fn assert_interface<T: ?Sized + crate::Interface>() {}
