//! The transport-level error every remote method can report.

use serde::{Deserialize, Serialize};

/// What can go wrong between a caller and a remote object, at any hop.
///
/// Every remote method returns `Result<T, E>` with `E: From<pb::Error>`, so
/// these failures reach the caller through the method's own error type. The
/// type is serde so that a failure at an upstream hop (a relay whose own link
/// is down) reaches the original caller with its kind intact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Error {
    /// The link to the object is down now; the call was not sent (it never
    /// runs).
    #[error("disconnected: the link to the remote object is down")]
    Disconnected,
    /// The link dropped while the call was in flight, or was declared lost
    /// (no pong in time) before the reply came, and the connection could
    /// not resume.
    ///
    /// On a resumable session (`pb::Client`'s default) a call in flight
    /// waits for the resume instead and gets its one answer; it fails with
    /// `ConnectionLost` only when the session cannot resume (the server
    /// restarted, its grace period passed, a bound was hit), and then the
    /// server process the session reconnects to never ran it.
    ///
    /// Without resumption this promises nothing about the call: it may have run, it may be
    /// running, and it **may still run later**. A black-holed link (one that
    /// holds bytes rather than dropping them) can deliver the request to the
    /// server after the caller gave up, when the link heals. (A peer that
    /// reads such a call together with the caller's later goodbye, as
    /// happens when a held link heals, does not run it; when the bytes
    /// arrive apart, nothing can tell, and the call runs.) pb itself never
    /// runs a call twice (it retries only `#[pb(idempotent)]` methods, once,
    /// after healing), but an application that retries after
    /// `ConnectionLost` can; make such methods idempotent, or deduplicate
    /// them with a request id of your own. Contrast [`Error::Disconnected`]:
    /// that call was never sent and never runs.
    #[error("connection lost while the call was in flight (it may have run, and may still run later)")]
    ConnectionLost,
    /// The peer has no object with this id on this connection.
    #[error("unknown object id {id} on this connection")]
    UnknownObject {
        /// The object id the peer did not recognize.
        id: u64,
    },
    /// The object does not have a method with this id: the peer runs
    /// another version of the interface (see [`crate::describe`]).
    #[error("interface `{interface}` on the peer has no method {}", match name {
        Some(n) => format!("`{n}` (id {method:#x}): the peer runs another version of the interface"),
        None => format!("with id {method:#x}"),
    })]
    UnknownMethod {
        /// Name of the interface that was called.
        interface: String,
        /// The method id that was not found.
        method: u32,
        /// The method's name, filled in by the caller's proxy (the peer only
        /// knows the id).
        name: Option<String>,
    },
    /// A reference arrived for a different interface than the one expected.
    #[error("expected a reference to `{expected}`, got one to interface id {found:#x}")]
    WrongInterface {
        /// The interface the receiver expected.
        expected: String,
        /// The interface id the reference carried.
        found: u64,
    },
    /// A message could not be encoded or decoded, or broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A configured limit was exceeded.
    #[error("limit exceeded: {what} (limit {limit})")]
    LimitExceeded {
        /// Which limit.
        what: String,
        /// Its configured value.
        limit: u64,
    },
    /// The remote implementation panicked; the connection stays up.
    #[error("the remote implementation panicked: {message}")]
    Panicked {
        /// The panic payload, when it was a string.
        message: String,
    },
    /// The peer is over its in-flight limit and refused the call.
    #[error("the peer is busy: too many calls in flight")]
    Busy,
    /// A registry has nothing registered for this interface and name (or hides it).
    #[error("nothing registered for interface `{interface}`{}", name.as_ref().map(|n| format!(" under name `{n}`")).unwrap_or_default())]
    NotRegistered {
        /// The interface looked up.
        interface: String,
        /// The name looked up, if any.
        name: Option<String>,
    },
    /// The server is shutting down and no longer accepts calls.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// An I/O error on the transport (connect, bind, accept).
    #[error("i/o error: {0}")]
    Io(String),
    /// Login refused: the credentials were wrong (or the connection used up
    /// its attempts). See [`crate::login`].
    #[error("login refused: wrong credentials")]
    Unauthorized,
    /// An exception raised by a Python (Twisted PB) object, or relayed from
    /// one: its qualified type and its text.
    #[error("remote {kind}: {message}")]
    Remote {
        /// The exception's qualified type, such as `builtins.ValueError`.
        kind: String,
        /// Its text (Python's `str(exception)`).
        message: String,
    },
    /// A stream's session dropped and could not resume: the stream ended
    /// after `last` items (every one of them delivered once, in order).
    #[error("the stream was lost after {last} items (its session could not resume)")]
    Lost {
        /// Items that arrived before the loss.
        last: u64,
    },
}

impl Error {
    /// A protocol error with the given message.
    pub fn protocol(msg: impl std::fmt::Display) -> Self {
        Error::Protocol(msg.to_string())
    }

    /// Whether the error says the link is (or went) down, as opposed to an
    /// answer from a live peer.
    pub fn is_link_failure(&self) -> bool {
        matches!(self, Error::Disconnected | Error::ConnectionLost)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

impl From<postcard::Error> for Error {
    fn from(e: postcard::Error) -> Self {
        Error::Protocol(e.to_string())
    }
}

/// Result alias with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
