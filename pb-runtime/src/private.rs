//! Paths used by generated code. Not public API: may change in any release.

pub use crate::cache::track_replay_cache;
pub use crate::connection::{CallFuture, Reply};
pub use crate::references::types::{DescribeKnown, DescribeOpaque, Probe};
pub use crate::references::{InterfaceEntry, SerArc, track_replay};
pub use crate::stream::track_replay_stream;
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

/// A method's error, for its text: `(&ErrorText(e)).pb_error_text()` is
/// `Some(e.to_string())` when the error type implements `Display`, `None`
/// otherwise (autoref specialization in generated code).
pub struct ErrorText<'a, E: ?Sized>(pub &'a E);

/// The probe's first choice: the error's `Display`.
pub trait ErrorTextDisplay {
    /// The error's text.
    fn pb_error_text(&self) -> Option<String>;
}

impl<E: std::fmt::Display + ?Sized> ErrorTextDisplay for ErrorText<'_, E> {
    fn pb_error_text(&self) -> Option<String> {
        Some(self.0.to_string())
    }
}

/// The probe's fallback: no text.
pub trait ErrorTextNone {
    /// No text.
    fn pb_error_text(&self) -> Option<String>;
}

impl<E: ?Sized> ErrorTextNone for &ErrorText<'_, E> {
    fn pb_error_text(&self) -> Option<String> {
        None
    }
}

/// Compile-time check that `T` crosses the wire by copy.
pub fn assert_wire<T: Wire>() {}

/// Compile-time check that `E` is a valid remote error type.
pub fn assert_error<E: RemoteError>() {}

/// Compile-time check that `T` (a `dyn Trait`) is a remote interface.
pub fn assert_interface<T: ?Sized + crate::Interface>() {}
