//! The wire format: frame headers, payload encoding and object references.
//!
//! Everything that knows the byte layout of pb messages lives in this module,
//! behind a small interface ([`Header`], `encode_frame`, `decode_frame`,
//! `encode_payload`, `decode_payload`), so that a second wire format (for
//! example Twisted's banana/jelly, to talk to Python peers) can be added beside
//! postcard without touching connections or generated code.
//!
//! # Layout
//!
//! A frame is a 4-byte big-endian length followed by that many bytes
//! (tokio-util's `LengthDelimitedCodec`; the length is checked against the
//! configured maximum before any buffer is reserved). Inside the frame comes a
//! postcard-encoded [`Header`], then the payload, which runs to the end of the
//! frame and whose meaning depends on the header (call arguments as a postcard
//! tuple, a postcard `Result<T, E>`, or a postcard [`crate::Error`]).
//!
//! The bytes are postcard 1.x's, written and read by pb's own codec
//! ([`codec`]): byte runs in one copy, and the decoding limits of
//! [`crate::Config`] (nesting depth, decoded size) built in.
//!
//! Object references inside payloads are encoded as a [`WireRef`]: either an
//! object the *sender* exports (with its interface id, so the receiver can
//! check the type) or an object the *receiver* exported earlier on this same
//! connection (PB's "your reference"), which arrives as the original object.
//!
//! Header variants are only ever appended: postcard encodes the variant index
//! as a varint, so old peers reject new variants with a clear protocol error.
//! A peer only sends [`Header::Ack`] (index 8) on a resumable session, which
//! an older peer never asks for or grants, and [`Header::Send`] (index 9, a
//! call that wants no reply) only to a peer whose hello says protocol
//! version 2 or later; version 1 peers are still served.
//!
//! The hello's payload says whether the connection is a resumable session
//! (see `wire/resume.rs`); older peers send none and ignore it.

mod blob;
pub mod codec;
mod context;
pub mod depth;
pub mod frame;
pub(crate) mod resume;
pub mod twisted;

pub use blob::{Blob, EncodedFrame};
pub(crate) use blob::{FrameBuf, slice_chunks};
pub(crate) use context::{DecodeCx, fail, with_decode, with_encode};

use bytes::Bytes;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::Error;

/// Magic number sent in [`Header::Hello`]: "pb" plus a format tag.
pub(crate) const MAGIC: u32 = 0x7062_0001;
/// Protocol version sent in [`Header::Hello`]. Version 2 added
/// [`Header::Send`]; a peer of version 1 is still served (it is never sent
/// one: its oneway calls go as calls, and their replies are dropped).
pub(crate) const VERSION: u16 = 2;
/// The oldest protocol version a peer may speak.
pub(crate) const MIN_VERSION: u16 = 1;
/// The first version whose peers take [`Header::Send`].
pub(crate) const SEND_VERSION: u16 = 2;

/// The header that starts every frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Header {
    /// First frame in each direction. No payload.
    Hello {
        /// Always `0x7062_0001` ("pb" and the format generation).
        magic: u32,
        /// Protocol version of the sender.
        version: u16,
        /// Interface id of the sender's root object, if it serves one.
        root: Option<u64>,
    },
    /// Call `method` on the receiver's object `target`; payload: arguments.
    Call {
        /// Request id, unique among the sender's calls in flight.
        req: u64,
        /// Object id in the receiver's export table.
        target: u64,
        /// Method id (stable, derived from the method name).
        method: u32,
    },
    /// Reply to a call; payload: `Result<T, E>` when `ok`, else a [`crate::Error`].
    Reply {
        /// The request id of the call.
        req: u64,
        /// Whether the method ran (payload is its `Result<T, E>`) or the call
        /// failed before or while running (payload is a [`crate::Error`]).
        ok: bool,
    },
    /// The sender drops `count` references to the receiver's export `id`.
    Release {
        /// Object id in the receiver's export table.
        id: u64,
        /// How many times the sender had received the reference.
        count: u64,
    },
    /// Liveness probe; answered with [`Header::Pong`].
    Ping {
        /// Echoed back.
        nonce: u64,
    },
    /// Answer to [`Header::Ping`].
    Pong {
        /// The nonce of the ping.
        nonce: u64,
    },
    /// The sender is closing the connection; payload: a UTF-8 reason.
    Goodbye,
    /// The sender has received `received` numbered frames of the connection
    /// (numbered frames: see `wire::resume`): the receiver may forget them.
    Ack {
        /// Numbered frames received so far.
        received: u64,
    },
    /// Call `method` on the receiver's object `target` and send nothing
    /// back, not even a failure (a `#[pb(oneway)]` method); payload:
    /// arguments. Only to peers of version 2 or later.
    Send {
        /// Object id in the receiver's export table.
        target: u64,
        /// Method id (stable, derived from the method name).
        method: u32,
    },
}

impl Header {
    /// Whether the frame is numbered on a resumable session: everything
    /// but the hello and the per-transport messages (pings and acks).
    pub(crate) fn is_numbered(&self) -> bool {
        !matches!(self, Header::Hello { .. } | Header::Ping { .. } | Header::Pong { .. } | Header::Ack { .. })
    }
}

/// A reference to an object, as it travels inside a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum WireRef {
    /// An object exported by the sender of the message.
    Sender {
        /// Id in the sender's export table.
        id: u64,
        /// Interface id, checked by the receiver.
        iface: u64,
    },
    /// An object the receiver exported earlier on this connection.
    Receiver {
        /// Id in the receiver's export table.
        id: u64,
    },
}

/// [`WireRef`]'s shape on the wire (what `Serialize` writes).
#[derive(Serialize)]
#[serde(rename = "WireRef")]
enum WireRefShape {
    Sender { id: u64, iface: u64 },
    Receiver { id: u64 },
}

impl Serialize for WireRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            WireRef::Sender { id, iface } => WireRefShape::Sender { id, iface },
            WireRef::Receiver { id } => WireRefShape::Receiver { id },
        }
        .serialize(s)
    }
}

/// Start a frame: the header, ready for a payload to be appended.
pub(crate) fn encode_header(header: &Header, capacity: usize) -> Vec<u8> {
    codec::encode_into(Vec::with_capacity(capacity), header).expect("headers always encode")
}

pub use pb_ids::DESCRIBE_METHOD;

/// A whole frame: header plus an encoded payload (without references).
pub(crate) fn encode_frame<T: Serialize + ?Sized>(header: &Header, payload: &T) -> Result<EncodedFrame, Error> {
    let buf = encode_header(header, 64);
    Ok(codec::encode_into(buf, payload)?.into())
}

/// A frame whose payload may hold references (exported through the active
/// [`EncodeCx`]) and large blobs (referenced, not copied).
pub(crate) fn encode_frame_with<T: Serialize + ?Sized>(header: &Header, value: &T) -> Result<FrameBuf, Error> {
    let buf = codec::encode_into(FrameBuf::with_capacity(64), header).expect("headers always encode");
    Ok(codec::encode_into(buf, value)?)
}

/// Split a frame into its header and payload.
///
/// # Errors
///
/// [`Error::Protocol`] when the frame does not start with a header.
pub fn decode_frame(frame: &Bytes) -> Result<(Header, Bytes), Error> {
    // A header nests two levels deep whatever the configured limits.
    let (header, rest) = codec::take_from_bytes::<Header>(frame, codec::Limits::default())
        .map_err(|e| Error::protocol(format_args!("bad frame header: {e}")))?;
    let offset = frame.len() - rest.len();
    Ok((header, frame.slice(offset..)))
}

/// Whether `frame` (without its prefix) is a goodbye.
pub(crate) fn is_goodbye(frame: &[u8]) -> bool {
    matches!(depth::take_from_bytes::<Header>(frame, depth::DEFAULT_MAX_DEPTH), Ok((Header::Goodbye, _)))
}

/// Decode a payload that must fill the whole slice, within the decoding
/// connection's limits ([`Config::max_depth`](crate::Config::max_depth) and
/// [`Config::max_decoded_len`](crate::Config::max_decoded_len)), or the
/// defaults outside a connection's decode.
pub(crate) fn decode_payload<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    decode_payload_with(bytes, decode_limits())
}

/// The limits of the decode running on this thread (the defaults outside
/// a connection's decode).
pub(crate) fn decode_limits() -> codec::Limits {
    DecodeCx::with(|cx| cx.map_or_else(codec::Limits::default, context::WireCx::limits))
}

/// Decode a payload that must fill the whole slice, nested no deeper than
/// `max_depth` (see [`depth`]) and within the default decoded-size budget
/// ([`codec::DEFAULT_MAX_DECODED_LEN`]). References inside decode only
/// during a connection's decode.
///
/// # Errors
///
/// [`Error::Protocol`] when the bytes do not decode as a `T` or are left
/// over, [`Error::LimitExceeded`] when the value nests too deeply or
/// decodes to too much memory.
pub fn decode_payload_limited<T: DeserializeOwned>(bytes: &[u8], max_depth: usize) -> Result<T, Error> {
    decode_payload_with(bytes, codec::Limits { max_depth, ..codec::Limits::default() })
}

/// Decode a payload that must fill the whole slice, within `limits`.
///
/// # Errors
///
/// As [`decode_payload_limited`].
pub fn decode_payload_with<T: DeserializeOwned>(bytes: &[u8], limits: codec::Limits) -> Result<T, Error> {
    codec::from_bytes(bytes, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_payload_round_trip() {
        let h = Header::Call { req: 7, target: 3, method: 0xdead_beef };
        let frame = encode_frame(&h, &(1u64, "two".to_string())).unwrap();
        let (h2, payload) = decode_frame(&frame.chunks()[0]).unwrap();
        assert_eq!(h, h2);
        let args: (u64, String) = decode_payload(&payload).unwrap();
        assert_eq!(args, (1, "two".to_string()));
    }

    #[test]
    fn a_send_round_trips_and_is_numbered() {
        let h = Header::Send { target: 3, method: 0xdead_beef };
        let frame = encode_frame(&h, &(1u64,)).unwrap();
        let (h2, payload) = decode_frame(&frame.chunks()[0]).unwrap();
        assert_eq!(h, h2);
        assert!(h.is_numbered(), "kept and sent again by a resumable session, as calls are");
        assert_eq!(decode_payload::<(u64,)>(&payload).unwrap(), (1,));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let frame = encode_frame(&Header::Goodbye, &(1u8, 2u8)).unwrap();
        let (_, payload) = decode_frame(&frame.chunks()[0]).unwrap();
        assert!(matches!(decode_payload::<u8>(&payload), Err(Error::Protocol(_))));
    }

    #[test]
    fn garbage_header_is_an_error_not_a_panic() {
        let frame = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(decode_frame(&frame).is_err());
        assert!(decode_frame(&Bytes::new()).is_err());
    }
}
