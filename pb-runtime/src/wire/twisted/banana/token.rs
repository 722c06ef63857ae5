//! Banana tokens: a base-128 prefix, a type byte, and a body for some types.
//!
//! The prefix is a run of bytes below `0x80`, seven bits each, least
//! significant group first (Twisted's `int2b128`/`b1282int`, banana.py
//! l.31-58). The type byte is the first byte at or above `0x80`. [`read`]
//! reads one token from the front of a buffer and tells an incomplete token
//! (wait for more bytes) from a bad one (an error); both the splitter and
//! the decoder use it, so they agree on every byte.

use super::dialect::{Dialect, vocab_word};
use super::limits::{MAX_PREFIX, SIZE_LIMIT, limit_error};
use crate::Error;

/// Type byte of a list: the prefix is its element count.
pub const LIST: u8 = 0x80;
/// Type byte of a non-negative integer below 2^31: the prefix is its value.
pub const INT: u8 = 0x81;
/// Type byte of a byte string: the prefix is its length, the bytes follow.
pub const STRING: u8 = 0x82;
/// Type byte of a negative integer from -2^31: the prefix is minus its value.
pub const NEG: u8 = 0x83;
/// Type byte of a float: no prefix, 8 bytes of big-endian IEEE double follow.
pub const FLOAT: u8 = 0x84;
/// Type byte of an integer of 2^31 or more.
pub const LONGINT: u8 = 0x85;
/// Type byte of an integer below -2^31.
pub const LONGNEG: u8 = 0x86;
/// Type byte of a vocabulary word (dialect "pb" only): the prefix is its index.
pub const VOCAB: u8 = 0x87;

/// One token, borrowing the buffer it was read from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Token<'a> {
    /// A list of this many elements (which follow as tokens).
    List(usize),
    /// An integer: its sign and its magnitude as base-128 digits, least
    /// significant first, without high zero digits (zero has none).
    Int {
        /// Whether the type byte was `NEG` or `LONGNEG`.
        negative: bool,
        /// The magnitude's base-128 digits, least significant first.
        digits: &'a [u8],
    },
    /// A byte string.
    String(&'a [u8]),
    /// A float.
    Float(f64),
    /// A vocabulary word (already checked to exist in dialect "pb").
    Vocab(&'static [u8]),
}

/// Read one token from the front of `buf`: `Ok(None)` when the buffer ends
/// before the token does, else the token and how many bytes it took.
///
/// # Errors
///
/// [`Error::LimitExceeded`] for a prefix over 64 bytes or a count or length
/// over Twisted's 640 KiB limit; [`Error::Protocol`] for an unknown type byte,
/// a vocabulary index that is not a word, or a `VOCAB` token outside dialect
/// "pb". A prefix that is too long is refused as soon as its 65th byte
/// arrives, without waiting for the type byte.
pub fn read(buf: &[u8], dialect: Dialect) -> Result<Option<(Token<'_>, usize)>, Error> {
    let Some(len) = buf.iter().position(|&b| b >= 0x80) else {
        if buf.len() > MAX_PREFIX {
            return Err(prefix_error());
        }
        return Ok(None);
    };
    if len > MAX_PREFIX {
        return Err(prefix_error());
    }
    let digits = trim(&buf[..len]);
    let head = len + 1;
    let token = match buf[len] {
        LIST => Token::List(count(digits)?),
        INT | LONGINT => Token::Int { negative: false, digits },
        NEG | LONGNEG => Token::Int { negative: true, digits },
        STRING => {
            let n = count(digits)?;
            let Some(body) = buf.get(head..head + n) else { return Ok(None) };
            return Ok(Some((Token::String(body), head + n)));
        }
        FLOAT => {
            let Some(body) = buf.get(head..head + 8) else { return Ok(None) };
            let bits = u64::from_be_bytes(body.try_into().map_err(|_| Error::protocol("banana float"))?);
            return Ok(Some((Token::Float(f64::from_bits(bits)), head + 8)));
        }
        VOCAB => {
            if dialect != Dialect::Pb {
                return Err(Error::protocol("banana vocabulary word outside dialect \"pb\""));
            }
            let index = small(digits).ok_or_else(|| Error::protocol("banana vocabulary index too large"))?;
            let word = vocab_word(index)
                .ok_or_else(|| Error::protocol(format_args!("unknown banana vocabulary index {index}")))?;
            Token::Vocab(word)
        }
        other => return Err(Error::protocol(format_args!("unknown banana type byte {other:#04x}"))),
    };
    Ok(Some((token, head)))
}

/// The base-128 prefix of `n` (a single zero byte for zero).
pub fn write_prefix(mut n: u128, out: &mut Vec<u8>) {
    loop {
        out.push((n & 0x7f) as u8);
        n >>= 7;
        if n == 0 {
            break;
        }
    }
}

/// `digits` without its high zero digits.
fn trim(digits: &[u8]) -> &[u8] {
    let end = digits.iter().rposition(|&d| d != 0).map_or(0, |i| i + 1);
    &digits[..end]
}

/// The value of `digits` if it fits in a `u64`.
pub(super) fn small(digits: &[u8]) -> Option<u64> {
    digits.iter().rev().try_fold(0u64, |acc, &d| acc.checked_mul(128)?.checked_add(u64::from(d)))
}

/// A list count or string length, checked against Twisted's limit.
fn count(digits: &[u8]) -> Result<usize, Error> {
    match small(digits) {
        Some(n) if n <= SIZE_LIMIT as u64 => Ok(n as usize),
        _ => Err(limit_error("banana list or string length", SIZE_LIMIT)),
    }
}

fn prefix_error() -> Error {
    limit_error("banana prefix bytes", MAX_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_little_endian_base_128() {
        let mut out = Vec::new();
        write_prefix(300, &mut out);
        assert_eq!(out, [0x2c, 0x02]);
        out.clear();
        write_prefix(0, &mut out);
        assert_eq!(out, [0]);
        assert_eq!(small(&[0x2c, 0x02]), Some(300));
    }

    #[test]
    fn incomplete_tokens_ask_for_more() {
        assert_eq!(read(&[], Dialect::Pb).unwrap(), None);
        assert_eq!(read(&[0x05], Dialect::Pb).unwrap(), None);
        assert_eq!(read(&[0x05, STRING, b'a'], Dialect::Pb).unwrap(), None);
        assert_eq!(read(&[FLOAT, 0x3f, 0xf8], Dialect::Pb).unwrap(), None);
        assert_eq!(read(&[0x01, STRING, b'a'], Dialect::Pb).unwrap(), Some((Token::String(b"a"), 3)));
    }

    #[test]
    fn bad_tokens_are_errors() {
        assert!(read(&[0x01, 0x88], Dialect::Pb).is_err());
        assert!(read(&[0x20, VOCAB], Dialect::Pb).is_err());
        assert!(read(&[0x00, VOCAB], Dialect::Pb).is_err());
        assert!(read(&[0x01, VOCAB], Dialect::None).is_err());
        assert!(read(&[0x01; 65], Dialect::Pb).is_err());
        assert!(read(&[0x01; 64], Dialect::Pb).unwrap().is_none());
        // 655,361 = 0x0a0001: digits 01 00 28.
        assert!(read(&[0x01, 0x00, 0x28, LIST], Dialect::Pb).is_err());
        assert!(read(&[0x00, 0x00, 0x28, LIST], Dialect::Pb).is_ok());
    }
}
