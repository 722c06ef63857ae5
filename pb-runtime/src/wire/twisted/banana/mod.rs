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
pub mod dialect;
pub mod limits;
pub mod split;
pub mod token;
pub mod value;

pub use codec::{decode, encode, encode_to_vec};
pub use dialect::{Dialect, VOCABULARY, vocab_index, vocab_word};
pub use limits::{Limits, MAX_PREFIX, SIZE_LIMIT};
pub use split::Splitter;
pub use value::{BigInt, Value};
