//! Jelly, Twisted's object serialization, as a serde data format.
//!
//! [`to_value`] turns a Rust value into jelly's nested lists (a banana
//! [`Value`](banana::Value)), [`from_value`] turns one back; [`to_bytes`] and [`from_bytes`]
//! add the banana step. The mapping follows `PROTOCOL.txt` section 3; each
//! line reads "Rust <-> jelly", and decoding also accepts what is in
//! brackets:
//!
//! | Rust | jelly |
//! | --- | --- |
//! | `bool` | `["boolean", b"true"]` / `[.., b"false"]` |
//! | integers, `i128`/`u128` included | banana `INT`, `NEG`, `LONGINT`, `LONGNEG` |
//! | `f32`, `f64` | `FLOAT` [an integer] |
//! | `char`, `String`, `&str` | `["unicode", utf8]` [a byte string that is UTF-8: Twisted and cred send some names as bytes] |
//! | `serialize_bytes` (`pb::Blob`, `serde_bytes`) | a byte string; a plain `Vec<u8>` is a list of ints |
//! | `None`, `()`, unit structs | `["None"]` [`()` also from an empty tuple: a call without arguments] |
//! | `Some(x)`, newtype structs | `x` |
//! | sequences (`Vec`, sets, ...) | `["list", ...]` [`tuple`, `set`, `frozenset`] |
//! | tuples, tuple structs | `["tuple", ...]` [`list`, `set`, `frozenset`] |
//! | maps | `["dictionary", [k, v], ...]` |
//! | structs | `["dictionary", [["unicode", field], v], ...]` |
//! | structs with a dotted serde name | the copyable `[b"aurora.User", ["dictionary", ...]]` [a plain dictionary] |
//! | unit enum variants | `["unicode", "Variant"]` [bytes] |
//! | other enum variants | `{"Variant": payload}` as a one-entry dictionary (serde_json's convention) |
//! | [`CacheOut`] / [`CacheIn`] | `[tag, luid, state]`, `["cached", luid]`, `["lcache", luid]` (see [`cache`]) |
//! | [`RefForm`] / [`Received`] | `["remote", luid]`, `["local", luid]` (see [`refs`]; a connection lends a [`hook::RefHook`] to turn them into objects) |
//!
//! jelly is self-describing, so `deserialize_any` works: untagged enums,
//! `#[serde(flatten)]` and `serde_json::Value`-like types decode. A copyable
//! read through `deserialize_any` yields its state. Shared objects
//! (`["reference", n, X]`, `["dereference", n]`) decode as copies (see
//! [`de`]); a cycle is an error.
//!
//! # Copy tags
//!
//! A Rust type declares its copy tag with its serde name:
//! `#[serde(rename = "aurora.User")]` on a struct makes it travel as Python's
//! `aurora.User` (`setUnjellyableForClass` on the Python side). A dotted name
//! is the only thing that makes a copyable, and [`CopyTags`] can restrict the
//! tags sent to a known list: a Twisted peer drops the connection on a tag it
//! has not registered. When decoding, a struct with a dotted name refuses a
//! copyable of another tag, and accepts a plain dictionary.
//!
//! # What does not map
//!
//! Object identity and cycles; `Option<Option<T>>` (`Some(None)` is sent as
//! `None`); Python instances, classes, functions and `datetime`/`Decimal`
//! (decoding them is an error); Rust sets go out as lists; integers out of
//! the target type's range; strings and lists over 640 KiB (the banana
//! encoder refuses them, as Twisted does).

pub mod cache;
pub mod de;
pub mod error;
pub mod form;
pub mod hook;
pub mod refs;
pub mod ser;

pub use cache::{CACHE_NAME, CacheForm, CacheIn, CacheOut, cache_occurrences};
pub use de::{DecodeOptions, from_value, from_value_with};
pub use error::{Error, Result};
pub use refs::{REF_NAME, ROOT_LUID, Received, RefForm, remote_occurrences};
pub use ser::{CopyTags, EncodeOptions, Serializer, to_value, to_value_with};

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::banana::{self, Dialect};

/// `value` as the banana bytes of its jelly form.
///
/// # Errors
///
/// As [`to_value_with`], and the banana encoder's limits.
pub fn to_bytes<T: Serialize + ?Sized>(value: &T, dialect: Dialect, options: &EncodeOptions) -> Result<Vec<u8>> {
    Ok(banana::encode_to_vec(&to_value_with(value, options)?, dialect)?)
}

/// A `T` from the banana bytes of one whole jelly expression.
///
/// # Errors
///
/// As [`banana::decode`] and [`from_value_with`]; bytes after the
/// expression are an error.
pub fn from_bytes<T: DeserializeOwned>(
    bytes: &Bytes,
    dialect: Dialect,
    max_depth: usize,
    options: &DecodeOptions,
) -> Result<T> {
    let (value, used) = banana::decode(bytes, dialect, max_depth)?;
    if used != bytes.len() {
        return Err(Error::new(format_args!("{} bytes after the expression", bytes.len() - used)));
    }
    from_value_with(&value, options)
}
