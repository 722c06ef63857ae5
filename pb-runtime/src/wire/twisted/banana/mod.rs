//! Banana, Twisted's serialization of nested lists of atoms (banana.py).
//!
//! - [`token`]: the token layout (base-128 prefix, type byte, body).
//! - [`value`]: [`Value`], one decoded expression (ints of any size up to
//!   Twisted's 448 bits, floats, byte strings and lists).
//! - [`codec`]: [`encode`] and [`decode`] of one whole expression.
//! - [`split`]: [`Splitter`], which cuts a byte stream into expressions
//!   without decoding them, for a connection's read loop.
//!
//! # Limits
//!
//! Twisted refuses a prefix over 64 bytes and a list count or string length
//! over [`SIZE_LIMIT`] (640 KiB); both sides here do the same, the encoder
//! included (Twisted drops the connection on either). Twisted has no limit on
//! nesting or on an expression's total size: [`Limits`] adds both, and the
//! [`Splitter`] enforces them while bytes arrive. Nothing reserves memory
//! for what a count claims: lists grow as their elements arrive.
//!
//! # Dialects
//!
//! A connection starts without a dialect ([`Dialect::None`]), the server
//! offers `[b"pb", b"none"]`, and the client answers with the one it picks.
//! In dialect "pb" every byte string equal to a word of [`VOCABULARY`] is sent
//! as a `VOCAB` token (user data included: `b"login"` goes out as `14 87`),
//! and `VOCAB` tokens are accepted; in dialect "none" neither happens.

pub mod codec;
pub mod split;
pub mod token;
pub mod value;

pub use codec::{decode, encode, encode_to_vec};
pub use split::Splitter;
pub use value::{BigInt, Value};

use crate::Error;

/// Longest prefix Twisted accepts, in bytes (`setPrefixLimit(64)`): integers
/// up to 448 bits.
pub const MAX_PREFIX: usize = 64;

/// Twisted's limit on each list's count and each string's length, in
/// elements or bytes (`SIZE_LIMIT = 640 * 1024`).
pub const SIZE_LIMIT: usize = 640 * 1024;

/// The words of dialect "pb", from index 1 (banana.py l.267-302).
pub const VOCABULARY: [&[u8]; 31] = [
    b"None",
    b"class",
    b"dereference",
    b"reference",
    b"dictionary",
    b"function",
    b"instance",
    b"list",
    b"module",
    b"persistent",
    b"tuple",
    b"unpersistable",
    b"copy",
    b"cache",
    b"cached",
    b"remote",
    b"local",
    b"lcache",
    b"version",
    b"login",
    b"password",
    b"challenge",
    b"logged_in",
    b"not_logged_in",
    b"cachemessage",
    b"message",
    b"answer",
    b"error",
    b"decref",
    b"decache",
    b"uncache",
];

/// The word at vocabulary `index` (1-based), if there is one.
pub fn vocab_word(index: u64) -> Option<&'static [u8]> {
    let i = usize::try_from(index).ok()?.checked_sub(1)?;
    VOCABULARY.get(i).copied()
}

/// The vocabulary index of `word`, if it is a word.
pub fn vocab_index(word: &[u8]) -> Option<u64> {
    VOCABULARY.iter().position(|w| *w == word).map(|i| i as u64 + 1)
}

/// The banana dialect of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// Plain banana: no vocabulary (also the state before a dialect is chosen).
    #[default]
    None,
    /// Dialect "pb": vocabulary words are sent and accepted as `VOCAB` tokens.
    Pb,
}

impl Dialect {
    /// The dialects a server offers, in its order of preference.
    pub const OFFERED: [Dialect; 2] = [Dialect::Pb, Dialect::None];

    /// The dialect's name on the wire.
    pub fn name(self) -> &'static [u8] {
        match self {
            Dialect::None => b"none",
            Dialect::Pb => b"pb",
        }
    }

    /// The dialect named `name`, if known.
    pub fn from_name(name: &[u8]) -> Option<Dialect> {
        Dialect::OFFERED.into_iter().find(|d| d.name() == name)
    }
}

/// Limits on one banana expression, beyond Twisted's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most lists open at once (a bare atom is at depth 0, `[1]` at depth 1).
    pub max_depth: usize,
    /// Most bytes in one expression (pb's `Config::max_frame_len`).
    pub max_len: usize,
}

impl Default for Limits {
    /// pb's defaults: depth 64, 16 MiB.
    fn default() -> Self {
        Limits { max_depth: crate::wire::depth::DEFAULT_MAX_DEPTH, max_len: 16 << 20 }
    }
}

/// The error of a banana limit.
pub(crate) fn limit_error(what: &str, limit: usize) -> Error {
    Error::LimitExceeded { what: what.into(), limit: limit as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_indexes_match_twisted() {
        assert_eq!(vocab_index(b"None"), Some(1));
        assert_eq!(vocab_index(b"version"), Some(19));
        assert_eq!(vocab_index(b"uncache"), Some(31));
        assert_eq!(vocab_index(b"unicode"), None);
        assert_eq!(vocab_word(26), Some(&b"message"[..]));
        assert_eq!(vocab_word(0), None);
        assert_eq!(vocab_word(32), None);
    }
}
