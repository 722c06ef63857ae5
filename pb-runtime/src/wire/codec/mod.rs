//! pb's own postcard codec: the bytes of postcard 1.x, with byte runs at
//! memcpy speed and the limits a server facing hostile peers needs.
//!
//! The encoding is exactly postcard's (varints for integers wider than a
//! byte, lengths and variant indexes; zigzag for signed integers; floats
//! little endian; a `0`/`1` tag for options; nothing for units), so pb
//! talks to any postcard peer and every postcard tool reads pb's payloads.
//! What differs is how the bytes are produced and consumed:
//!
//! - **Byte runs.** serde hands a `Vec<u8>` (or `&[u8]`, `Box<[u8]>`,
//!   `VecDeque<u8>`) to a serializer as a sequence of `u8`s, and asks a
//!   deserializer for one as a sequence too; postcard pushes and pops them a
//!   byte at a time. This codec recognises those exact types by their type
//!   id (see `runs`) and writes or reads the run with one copy.
//! - **Depth.** Values nest at most [`Limits::max_depth`] levels deep (the
//!   counting rules are in [`super::depth`]), so a hostile peer cannot
//!   overflow the stack with a deeply recursive value.
//! - **Decoded size.** A decode may build at most [`Limits::max_decoded_len`]
//!   bytes of values: each sequence element and map key or value is charged
//!   its in-memory size (at least one byte), each string and byte string its
//!   length, and a value boxed away from its slot (a `Box<T>` field) the
//!   size of the value beyond the slot. A 7-byte record that becomes a
//!   128-byte value is charged 128 bytes, so a 16 MiB frame cannot become
//!   gigabytes of memory. Nothing is reserved from a claimed count beyond
//!   what the remaining input can hold.

mod de;
mod error;
mod runs;
mod ser;
#[cfg(test)]
mod stack;
#[cfg(test)]
mod tests;

pub(crate) use error::CodecError;
pub(crate) use runs::extend_run;
pub(crate) use ser::Output;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Default of [`Limits::max_decoded_len`] and
/// [`Config::max_decoded_len`](crate::Config::max_decoded_len): 64 MiB,
/// four times the default frame limit.
pub const DEFAULT_MAX_DECODED_LEN: usize = 64 << 20;

/// Default maximum nesting depth of a decoded message (as Cap'n Proto's;
/// see [`super::depth`]).
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// What [`Error::LimitExceeded`] names when a message nests too deeply.
pub(crate) const DEPTH_WHAT: &str = "nesting depth";

/// The limits of one decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting allowed (see [`super::depth`]).
    pub max_depth: usize,
    /// Most bytes of decoded values (see the module docs).
    pub max_decoded_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: DEFAULT_MAX_DEPTH, max_decoded_len: DEFAULT_MAX_DECODED_LEN }
    }
}

impl Limits {
    /// The limits a connection with `config` decodes with (its effective,
    /// clamped values).
    pub fn from_config(config: &crate::Config) -> Self {
        Limits { max_depth: config.effective_max_depth(), max_decoded_len: config.max_decoded_len }
    }
}

/// Encode `value` as postcard.
///
/// # Errors
///
/// [`Error::Protocol`] when the value cannot be encoded (a sequence of
/// unknown length, a failing `Serialize` impl).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    Ok(encode_into(Vec::new(), value)?)
}

/// Append the postcard encoding of `value` to `out`.
pub(crate) fn encode_into<O: Output, T: Serialize + ?Sized>(out: O, value: &T) -> Result<O, CodecError> {
    let mut ser = ser::Serializer { out };
    value.serialize(&mut ser)?;
    Ok(ser.out)
}

/// Decode a postcard value from the front of `bytes` within `limits`;
/// returns the value and the bytes after it.
///
/// # Errors
///
/// [`Error::LimitExceeded`] when the value nests too deeply ("nesting
/// depth") or decodes to too much memory ("decoded size"),
/// [`Error::Protocol`] when the bytes do not decode as a `T`.
pub fn take_from_bytes<'a, T: Deserialize<'a>>(bytes: &'a [u8], limits: Limits) -> Result<(T, &'a [u8]), Error> {
    let mut de = de::Deserializer::new(bytes, limits);
    let value = T::deserialize(&mut de)?;
    Ok((value, de.rest()))
}

/// Decode a postcard value that fills all of `bytes`, within `limits`.
///
/// # Errors
///
/// As [`take_from_bytes`], and [`Error::Protocol`] when bytes are left over.
pub fn from_bytes<'a, T: Deserialize<'a>>(bytes: &'a [u8], limits: Limits) -> Result<T, Error> {
    let mut de = de::Deserializer::new(bytes, limits);
    match T::deserialize(&mut de) {
        Ok(value) if de.rest().is_empty() => Ok(value),
        Ok(_) => Err(trailing(de.rest().len())),
        Err(e) => Err(e.into()),
    }
}

#[cold]
fn trailing(n: usize) -> Error {
    Error::protocol(format_args!("{n} trailing bytes after payload"))
}
