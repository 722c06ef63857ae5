//! Reading length-delimited frames without trusting the length prefix.
//!
//! A frame is a 4-byte big-endian length and that many bytes, the layout of
//! tokio-util's `LengthDelimitedCodec` (which pb writes with). For reading,
//! pb uses [`FrameDecoder`] instead: like the codec, it refuses a prefix over
//! the limit before reading further, but it also never reserves buffer space
//! for what a prefix *claims*: the buffer grows with the bytes that actually
//! arrive, so a peer that announces a 16 MiB frame and sends ten bytes costs
//! ten bytes, not 16 MiB.

use std::io;

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

/// Bytes of the length prefix.
pub const PREFIX_LEN: usize = 4;

/// How much buffer space to reserve at a time while a frame arrives.
const RESERVE_STEP: usize = 64 << 10;

/// Decodes frames of at most a maximum length.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    max_frame_len: usize,
}

impl FrameDecoder {
    /// A decoder refusing frames longer than `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        FrameDecoder { max_frame_len }
    }
}

/// A length prefix over the limit: the connection cannot go on, since the
/// rest of the stream can no longer be framed.
#[derive(Debug, thiserror::Error)]
#[error("frame length {len} is over the limit of {max} bytes")]
pub struct FrameTooLong {
    /// The length the prefix claimed.
    pub len: u64,
    /// The configured maximum.
    pub max: usize,
}

impl Decoder for FrameDecoder {
    type Item = BytesMut;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        let Some(prefix) = src.get(..PREFIX_LEN) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(prefix.try_into().expect("four bytes")) as u64;
        if len > self.max_frame_len as u64 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, FrameTooLong { len, max: self.max_frame_len }));
        }
        let whole = PREFIX_LEN + len as usize;
        if src.len() < whole {
            // Room for what comes next, never for the whole claim at once.
            src.reserve((whole - src.len()).min(RESERVE_STEP));
            return Ok(None);
        }
        src.advance(PREFIX_LEN);
        Ok(Some(src.split_to(len as usize)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payloads: &[&[u8]]) -> BytesMut {
        let mut buf = BytesMut::new();
        for p in payloads {
            buf.extend_from_slice(&(p.len() as u32).to_be_bytes());
            buf.extend_from_slice(p);
        }
        buf
    }

    #[test]
    fn frames_split_at_any_byte_come_out_whole() {
        let all = framed(&[b"one", b"", b"three"]);
        for cut in 0..all.len() {
            let mut d = FrameDecoder::new(16);
            let mut buf = BytesMut::from(&all[..cut]);
            let mut out = Vec::new();
            while let Some(f) = d.decode(&mut buf).unwrap() {
                out.push(f);
            }
            buf.extend_from_slice(&all[cut..]);
            while let Some(f) = d.decode(&mut buf).unwrap() {
                out.push(f);
            }
            assert_eq!(out, [&b"one"[..], b"", b"three"]);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn a_prefix_over_the_limit_is_an_error() {
        let mut d = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        let e = d.decode(&mut buf).unwrap_err();
        assert!(e.to_string().contains("over the limit"), "{e}");
        let mut buf = BytesMut::from(&17u32.to_be_bytes()[..]);
        assert!(d.decode(&mut buf).is_err());
    }

    #[test]
    fn a_large_claim_reserves_only_a_step() {
        let mut d = FrameDecoder::new(usize::MAX);
        let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        assert!(d.decode(&mut buf).unwrap().is_none());
        assert!(buf.capacity() <= PREFIX_LEN + 2 * RESERVE_STEP, "capacity {}", buf.capacity());
    }
}
