//! What a hello says about resumable sessions: the payload of
//! [`Header::Hello`](super::Header::Hello).
//!
//! A hello had no payload before resumable sessions existed, and peers
//! ignore it: an older peer neither asks for nor grants a session, and an
//! empty payload reads as "nothing to say".
//!
//! # Frame numbering
//!
//! On a connection with a session, every frame after the hellos is numbered
//! from 1 in each direction, except the per-transport ones ([`Header::Ping`],
//! [`Header::Pong`], [`Header::Ack`](super::Header::Ack)). The receiver
//! acknowledges what it has received (an `Ack` every
//! [`ACK_EVERY_FRAMES`] frames or [`ACK_EVERY_BYTES`] bytes, riding with
//! the next frames it writes, never in a write of its own), and the
//! sender keeps every frame until it is acknowledged. After an outage the
//! hellos carry how many frames each side has received, and each side sends
//! the rest again: every frame arrives once, in order.

use serde::{Deserialize, Serialize};

/// The secret part of a session's identity.
pub(crate) type Secret = [u8; 32];

/// Acknowledge after receiving this many frames ...
pub(crate) const ACK_EVERY_FRAMES: u64 = 256;
/// ... or this many bytes, whichever comes first.
pub(crate) const ACK_EVERY_BYTES: usize = 256 << 10;

/// The client's hello payload. (No `Debug`: it holds a secret, which is
/// never logged.)
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ClientHello {
    /// Open a resumable session.
    Open,
    /// Resume session `id`, proving it with `secret`; the client has
    /// received `received` numbered frames on it.
    Resume {
        /// The session's public number.
        id: u64,
        /// The secret granted with it (or at its last resume).
        secret: Secret,
        /// Numbered frames the client received.
        received: u64,
    },
}

/// The server's hello payload, to a client that asked for a session (no
/// `Debug`, as [`ClientHello`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ServerHello {
    /// `Some(received)`: the session resumed, and the server has received
    /// that many numbered frames on it. `None`: a new session (the one the
    /// client asked to resume, if any, is unknown here).
    pub(crate) resumed: Option<u64>,
    /// The identity to present at the next resume (a fresh secret at every
    /// resume: one seen once is worth nothing afterwards).
    pub(crate) id: u64,
    /// The secret.
    pub(crate) secret: Secret,
    /// How long the server keeps the session after its link drops, in ms.
    pub(crate) grace_ms: u64,
}
