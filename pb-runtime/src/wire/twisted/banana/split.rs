//! [`Splitter`]: cutting a byte stream into banana expressions.
//!
//! Banana has no frame lengths: an expression ends when its last list is
//! full. The splitter scans tokens as bytes arrive, keeping its position and
//! a stack of the element counts still missing, so each byte is scanned once
//! (a token cut by a read boundary is scanned again from its start: at most
//! 64 prefix bytes and a type byte). It yields each whole top-level
//! expression as one buffer for [`decode`](super::codec::decode).
//!
//! It enforces, while bytes arrive: Twisted's token limits (see
//! [`token::read`]), a nesting depth and a size budget ([`Limits`]); a
//! string's claimed length is checked against the budget before its bytes
//! arrive. It never reserves memory by a claimed count or length.
//!
//! A frame timeout is the connection's business: [`Splitter::has_begun`]
//! says whether part of an expression is buffered, which is when a deadline
//! should run (as pb's `FrameDecoder` does for its frames).

use std::io;

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::dialect::Dialect;
use super::limits::{Limits, limit_error};
use super::token::{self, Token};
use crate::Error;

/// Cuts a banana byte stream into whole top-level expressions.
#[derive(Debug, Clone)]
pub struct Splitter {
    limits: Limits,
    dialect: Dialect,
    /// Bytes of the current expression scanned so far (whole tokens).
    pos: usize,
    /// For each open list, how many elements are still missing.
    missing: Vec<usize>,
    /// Whether part of an expression was left in the buffer last time.
    begun: bool,
}

impl Splitter {
    /// A splitter with `limits`, in [`Dialect::None`] until the handshake
    /// picks one.
    pub fn new(limits: Limits) -> Self {
        Splitter { limits, dialect: Dialect::None, pos: 0, missing: Vec::new(), begun: false }
    }

    /// Switch dialect (after the handshake). Takes effect from the next
    /// token scanned.
    pub fn set_dialect(&mut self, dialect: Dialect) {
        self.dialect = dialect;
    }

    /// The current dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The limits enforced.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether the last [`split`](Self::split) left part of an expression in
    /// the buffer: a frame deadline should be running.
    pub fn has_begun(&self) -> bool {
        self.begun
    }

    /// The next whole expression at the front of `src`, removed from it, or
    /// `None` until more bytes arrive.
    ///
    /// # Errors
    ///
    /// A bad token or a limit (see the module docs). The stream cannot be
    /// cut after an error: the connection must close.
    pub fn split(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, Error> {
        let result = self.scan(src);
        self.begun = !src.is_empty();
        result
    }

    fn scan(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, Error> {
        let max_len = self.limits.max_len;
        loop {
            let rest = &src[self.pos..];
            let read = token::read(rest, self.dialect);
            let Some((tok, used)) = read? else {
                // Refuse a string whose claimed length is over the budget
                // without waiting for its bytes.
                if let Some(claimed) = claimed_string_len(rest)
                    && self.pos.saturating_add(claimed) > max_len
                {
                    return Err(limit_error("banana expression bytes", max_len));
                }
                return Ok(None);
            };
            if self.pos + used > max_len {
                return Err(limit_error("banana expression bytes", max_len));
            }
            self.pos += used;
            if let Token::List(n) = tok {
                if self.missing.len() >= self.limits.max_depth {
                    return Err(limit_error("banana nesting depth", self.limits.max_depth));
                }
                if n > 0 {
                    self.missing.push(n);
                    continue;
                }
            }
            // An atom or an empty list: it completes elements upwards.
            while let Some(top) = self.missing.last_mut() {
                *top -= 1;
                if *top > 0 {
                    break;
                }
                self.missing.pop();
            }
            if self.missing.is_empty() {
                let whole = src.split_to(self.pos);
                self.pos = 0;
                return Ok(Some(whole));
            }
        }
    }
}

/// The length a string token at the front of `buf` claims, once its prefix
/// and type byte have arrived.
fn claimed_string_len(buf: &[u8]) -> Option<usize> {
    let len = buf.iter().position(|&b| b >= 0x80)?;
    if buf[len] != token::STRING {
        return None;
    }
    let n = super::token::small(&buf[..len])?;
    Some((len + 1).saturating_add(usize::try_from(n).unwrap_or(usize::MAX)))
}

impl Decoder for Splitter {
    type Item = BytesMut;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        self.split(src).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_depth: usize, max_len: usize) -> Limits {
        Limits { max_depth, max_len }
    }

    #[test]
    fn expressions_split_at_any_byte_come_out_whole() {
        // [b"pb", b"none"], b"pb", ["version", 6], 1.5, []
        let exprs: [&[u8]; 5] = [
            b"\x02\x80\x02\x82pb\x04\x82none",
            b"\x02\x82pb",
            b"\x02\x80\x13\x87\x06\x81",
            b"\x84\x3f\xf8\0\0\0\0\0\0",
            b"\x00\x80",
        ];
        let all: Vec<u8> = exprs.concat();
        for cut in 0..=all.len() {
            let mut s = Splitter::new(Limits::default());
            s.set_dialect(Dialect::Pb);
            let mut buf = BytesMut::from(&all[..cut]);
            let mut out = Vec::new();
            while let Some(e) = s.split(&mut buf).unwrap() {
                out.push(e);
            }
            assert_eq!(s.has_begun(), !buf.is_empty());
            buf.extend_from_slice(&all[cut..]);
            while let Some(e) = s.split(&mut buf).unwrap() {
                out.push(e);
            }
            assert_eq!(out, exprs, "cut at {cut}");
            assert!(buf.is_empty() && !s.has_begun());
        }
    }

    #[test]
    fn limits_are_enforced_while_bytes_arrive() {
        let mut s = Splitter::new(limits(2, 64));
        let mut buf = BytesMut::from(&b"\x01\x80\x01\x80\x01\x80"[..]);
        assert!(matches!(s.split(&mut buf), Err(Error::LimitExceeded { .. })));
        let mut s = Splitter::new(limits(2, 8));
        let mut buf = BytesMut::from(&b"\x10\x82abc"[..]);
        assert!(matches!(s.split(&mut buf), Err(Error::LimitExceeded { .. })), "claimed string over budget");
        let mut s = Splitter::new(limits(2, 8));
        let mut buf = BytesMut::from(&b"\x09\x80\x01\x81\x01\x81\x01\x81\x01\x81"[..]);
        assert!(matches!(s.split(&mut buf), Err(Error::LimitExceeded { .. })), "list over budget");
    }
}
