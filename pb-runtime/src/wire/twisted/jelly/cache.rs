//! Cacheables inside jelly: PB's `[tag, luid, state]`, `["cached", luid]`
//! and `["lcache", luid]`.
//!
//! A Twisted `pb.Cacheable` goes out the first time on a connection as
//! `[tag, luid, state]` (`Cacheable.jellyFor`, flavors.py): its copy tag, a
//! luid the receiver files its `RemoteCache` under, and the state. Every
//! later send on that connection is `["cached", luid]`, counting one more
//! copy, and the receiver sends one `["decache", luid]` per copy it got. A
//! `RemoteCache` sent back to its owner is `["lcache", luid]`, which counts
//! nothing.
//!
//! As with references (see [`refs`](super::refs)), jelly knows nothing of
//! connections: a cache type serializes a [`CacheOut`] and deserializes a
//! [`CacheIn`], which the jelly serializer and deserializer recognise by the
//! reserved newtype name [`CACHE_NAME`].
//!
//! ```
//! use pb_runtime::wire::twisted::banana::Value;
//! use pb_runtime::wire::twisted::jelly::{self, CacheForm, CacheIn, CacheOut, form};
//!
//! let state = vec!["alice".to_string()];
//! let out = CacheOut { form: CacheForm::Cache { tag: "aurora.UserList".into(), luid: 2 }, state: Some(&state) };
//! let value = jelly::to_value(&out).unwrap();
//! let list = form::tagged(form::names::LIST, [form::unicode("alice")]);
//! assert_eq!(value, Value::List(vec![Value::bytes(b"aurora.UserList"), Value::Int(2), list]));
//! let back: CacheIn<Vec<String>> = jelly::from_value(&value).unwrap();
//! assert_eq!((back.form, back.state), (CacheForm::Cache { tag: "aurora.UserList".into(), luid: 2 }, Some(state)));
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

use super::form::names;
use super::refs::serde_bytes_like::ByteBuf;
use crate::wire::twisted::banana::Value;

/// The newtype name the jelly serializer and deserializer reserve for
/// cacheables (a NUL byte first, so no Rust type can clash with it).
pub const CACHE_NAME: &str = "\0pb.cache";

/// The word of a later send of a cache: `["cached", luid]`.
pub const CACHED: &[u8] = b"cached";

/// The word of a cache sent back to its owner: `["lcache", luid]`.
pub const LCACHE: &[u8] = b"lcache";

/// The kind [`CacheIn`]'s sequence gives a first send (`[tag, luid, state]`).
const CACHE: &[u8] = b"cache";

/// How a cacheable travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheForm {
    /// The first send on a connection: `[tag, luid, state]`.
    Cache {
        /// The copy tag the receiver registered its `RemoteCache` class for.
        tag: String,
        /// The sender's luid for the cacheable.
        luid: u64,
    },
    /// A later send of the cacheable the sender sent as `luid`:
    /// `["cached", luid]`.
    Cached(u64),
    /// The receiver's own cacheable, sent back: `["lcache", luid]`.
    LCache(u64),
}

impl CacheForm {
    /// The luid.
    pub fn luid(&self) -> u64 {
        match self {
            CacheForm::Cache { luid, .. } | CacheForm::Cached(luid) | CacheForm::LCache(luid) => *luid,
        }
    }
}

/// A cacheable to serialize: its form, with the state of a first send
/// (`state` is ignored for the other forms).
#[derive(Debug)]
pub struct CacheOut<'a, S: ?Sized> {
    /// How it travels.
    pub form: CacheForm,
    /// The state, for [`CacheForm::Cache`].
    pub state: Option<&'a S>,
}

/// Bytes through `serialize_bytes` (a tag or word is a byte string).
struct Word<'a>(&'a [u8]);

impl Serialize for Word<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// The inside of the reserved newtype: a tuple the serializer writes bare.
struct Inside<'a, 'b, S: ?Sized>(&'b CacheOut<'a, S>);

impl<S: Serialize + ?Sized> Serialize for Inside<'_, '_, S> {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        use serde::ser::Error as _;
        match &self.0.form {
            CacheForm::Cache { tag, luid } => {
                let state = self.0.state.ok_or_else(|| Se::Error::custom("a cache's first send needs its state"))?;
                let mut t = s.serialize_tuple(3)?;
                t.serialize_element(&Word(tag.as_bytes()))?;
                t.serialize_element(luid)?;
                t.serialize_element(state)?;
                t.end()
            }
            CacheForm::Cached(luid) | CacheForm::LCache(luid) => {
                let word = if matches!(self.0.form, CacheForm::Cached(_)) { CACHED } else { LCACHE };
                let mut t = s.serialize_tuple(2)?;
                t.serialize_element(&Word(word))?;
                t.serialize_element(luid)?;
                t.end()
            }
        }
    }
}

impl<S: Serialize + ?Sized> Serialize for CacheOut<'_, S> {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        s.serialize_newtype_struct(CACHE_NAME, &Inside(self))
    }
}

/// A cacheable deserialized: its form, the state of a first send, and
/// whether this is the first decode of this occurrence (`false` when a
/// `["dereference", n]` decodes it again: count one copy per occurrence).
#[derive(Debug)]
pub struct CacheIn<S> {
    /// How it arrived.
    pub form: CacheForm,
    /// The state, for [`CacheForm::Cache`].
    pub state: Option<S>,
    /// Whether this occurrence is met for the first time in its message.
    pub first: bool,
}

impl<'de, S: DeserializeOwned> Deserialize<'de> for CacheIn<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(CACHE_NAME, CacheVisitor(PhantomData))
    }
}

struct CacheVisitor<S>(PhantomData<S>);

impl<'de, S: DeserializeOwned> Visitor<'de> for CacheVisitor<S> {
    type Value = CacheIn<S>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a PB cacheable ([tag, luid, state], [\"cached\", luid] or [\"lcache\", luid])")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CacheIn<S>, A::Error> {
        let missing = |i| de::Error::invalid_length(i, &"kind, tag, luid, first");
        let kind: ByteBuf = seq.next_element()?.ok_or_else(|| missing(0))?;
        let tag: ByteBuf = seq.next_element()?.ok_or_else(|| missing(1))?;
        let luid: u64 = seq.next_element()?.ok_or_else(|| missing(2))?;
        let first: bool = seq.next_element()?.ok_or_else(|| missing(3))?;
        let (form, state) = match &kind.0[..] {
            CACHE => {
                let tag = String::from_utf8(tag.0).map_err(|_| de::Error::custom("a cache tag that is not UTF-8"))?;
                let state: S = seq.next_element()?.ok_or_else(|| missing(4))?;
                (CacheForm::Cache { tag, luid }, Some(state))
            }
            CACHED => (CacheForm::Cached(luid), None),
            LCACHE => (CacheForm::LCache(luid), None),
            other => {
                return Err(de::Error::custom(format_args!("unknown cache kind {:?}", String::from_utf8_lossy(other))));
            }
        };
        Ok(CacheIn { form, state, first })
    }
}

/// Whether `tag` may head a first send `[tag, luid, state]`: not one of
/// jelly's own type names (a `["reference", n, X]` or `["decimal", m, e]`
/// has the same shape).
pub fn is_cache_tag(tag: &[u8]) -> bool {
    const JELLY: &[&[u8]] = &[
        names::NONE,
        names::BOOLEAN,
        names::UNICODE,
        names::LIST,
        names::TUPLE,
        names::SET,
        names::FROZENSET,
        names::DICTIONARY,
        names::REFERENCE,
        names::DEREFERENCE,
        names::REMOTE,
        names::LOCAL,
        CACHED,
        LCACHE,
        b"class",
        b"function",
        b"instance",
        b"module",
        b"persistent",
        b"unpersistable",
        b"copy",
        b"cache",
        b"datetime",
        b"date",
        b"time",
        b"timedelta",
        b"decimal",
    ];
    !tag.is_empty() && !JELLY.contains(&tag)
}

/// The luid of each copy of a cacheable in a jelly value, in order (each
/// `[tag, luid, state]` and `["cached", luid]`): what a receiver owes one
/// `decache` each, whether or not its decode kept them. A
/// `["dereference", n]` repeats no copy; an `["lcache", luid]` is no copy;
/// a dictionary entry `[key, value]` is not a form.
pub fn cache_occurrences(value: &Value) -> Vec<u64> {
    fn walk(value: &Value, out: &mut Vec<u64>) {
        let Some(items) = value.as_list() else { return };
        let luid = |v: &Value| v.as_int().and_then(|n| u64::try_from(n).ok());
        match items {
            [head, n] if head.as_bytes() == Some(CACHED) => out.extend(luid(n)),
            [head, n, state] if head.as_bytes().is_some_and(is_cache_tag) && luid(n).is_some() => {
                out.extend(luid(n));
                walk(state, out);
            }
            [head, entries @ ..] if head.as_bytes() == Some(names::DICTIONARY) => {
                for entry in entries {
                    entry.as_list().into_iter().flatten().for_each(|kv| walk(kv, out));
                }
            }
            _ => items.iter().for_each(|item| walk(item, out)),
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out
}
