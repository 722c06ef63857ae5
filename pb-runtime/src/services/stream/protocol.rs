//! What the two ends of a stream say to each other: the producer's
//! interface and its methods, and a pull's answer.
//!
//! An answer is, on the wire, `(first, count, plain, items, end)`: the
//! number of its first item, how many items, whether they hold no
//! reference, the items' encodings one after the other as one byte string,
//! and the end if the stream ended. A relay passes plain items on as they
//! came, without decoding them ([`Relayed`]); items with references are
//! decoded and encoded again (their references are the connection's).

use std::pin::Pin;

use serde::de::{DeserializeOwned, Error as _, SeqAccess, Visitor};
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;
use crate::wire::{self, Blob, codec};

/// Interface id of a stream's producer on the wire.
pub(crate) const STREAM_IFACE: u64 = pb_ids::interface_id("pb.Stream");
/// Method id of a pull.
pub(crate) const PULL: u32 = pb_ids::method_id("pull");
/// Method id of a resume: start the producer at an item (a fresh producer,
/// after a session that could not resume; see `Stream::with_cursor`).
pub(crate) const RESUME: u32 = pb_ids::method_id("resume");
/// Interface id of a channel's entry (an exported `Sender`).
pub(crate) const SENDER_IFACE: u64 = pb_ids::interface_id("pb.Sender");
/// Method id of an attach: the peer's stream of what it sends.
pub(crate) const ATTACH: u32 = pb_ids::method_id("attach");
/// Most bytes of items one answer carries (one item larger than this goes
/// alone): answers are bulk frames, written a chunk at a time, and calls'
/// frames overtake those still queued.
pub(crate) const CHUNK: usize = 256 << 10;
/// Most items one pull may ask for (and one answer may hold).
pub(crate) const MAX_PULL_ITEMS: u32 = 1 << 16;

/// A producer, as a stream of items.
pub(crate) type Boxed<T> = Pin<Box<dyn futures_util::Stream<Item = Result<T, Error>> + Send>>;

/// What a pull answers: the next items, and whether the stream ended.
pub(crate) struct Batch<T> {
    /// The number of the batch's first item (items are numbered from 0):
    /// pulls may reach the producer in another order than they were made,
    /// and the consumer puts their answers back in order by it.
    pub(crate) first: u64,
    pub(crate) items: Vec<T>,
    /// `Some` once the stream ended: `Ok` at its end, `Err` with its error.
    pub(crate) end: Option<Result<(), Error>>,
}

/// An answer as a relay passes it on: plain items as the bytes they came
/// in (never decoded), others decoded.
pub(crate) enum Relayed<T> {
    Plain { first: u64, count: u32, items: Blob, end: Option<Result<(), Error>> },
    Decoded(Batch<T>),
}

impl<T> Relayed<T> {
    /// The number of the first item, and how many items.
    pub(crate) fn span(&self) -> (u64, u64) {
        match self {
            Relayed::Plain { first, count, .. } => (*first, u64::from(*count)),
            Relayed::Decoded(b) => (b.first, b.items.len() as u64),
        }
    }
}

impl<T: Serialize> Serialize for Batch<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The items first, on their own, to learn whether they hold
        // references (exported on the connection as they encode).
        let before = wire::refs_written();
        let mut bytes = Vec::new();
        for item in &self.items {
            bytes = codec::encode_into(bytes, item).map_err(S::Error::custom)?;
        }
        let plain = wire::refs_written() == before;
        let count = u32::try_from(self.items.len()).map_err(S::Error::custom)?;
        (self.first, count, plain, Blob::from(bytes), &self.end).serialize(s)
    }
}

impl<T: Serialize> Serialize for Relayed<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Relayed::Plain { first, count, items, end } => (first, count, true, items, end).serialize(s),
            Relayed::Decoded(batch) => batch.serialize(s),
        }
    }
}

/// Decode `count` items from `bytes`, which they must fill, within the
/// decode's limits (inside a connection's decode, references resolve on it).
fn decode_items<T: DeserializeOwned>(count: u32, bytes: &[u8]) -> Result<Vec<T>, Error> {
    if count > MAX_PULL_ITEMS {
        return Err(Error::protocol(format_args!("a stream's answer claims {count} items")));
    }
    let limits = wire::decode_limits();
    let mut items = Vec::with_capacity((count as usize).min(bytes.len()));
    let mut rest = bytes;
    for _ in 0..count {
        let (item, after) = codec::take_from_bytes::<T>(rest, limits)?;
        items.push(item);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(Error::protocol("bytes left over after a stream's items"));
    }
    Ok(items)
}

type Fields = (u64, u32, bool, Blob, Option<Result<(), Error>>);

/// Read an answer's five fields.
fn fields<'de, D: Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
    struct FieldsVisitor;
    impl<'de> Visitor<'de> for FieldsVisitor {
        type Value = Fields;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a stream's answer")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Fields, A::Error> {
            let missing = || A::Error::custom("a stream's answer is short");
            Ok((
                seq.next_element()?.ok_or_else(missing)?,
                seq.next_element()?.ok_or_else(missing)?,
                seq.next_element()?.ok_or_else(missing)?,
                seq.next_element()?.ok_or_else(missing)?,
                seq.next_element()?.ok_or_else(missing)?,
            ))
        }
    }
    d.deserialize_tuple(5, FieldsVisitor)
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Batch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (first, count, _plain, items, end) = fields(d)?;
        let items = decode_items(count, &items).map_err(|e| D::Error::custom(wire::fail(e)))?;
        Ok(Batch { first, items, end })
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Relayed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (first, count, plain, items, end) = fields(d)?;
        if plain {
            if count > MAX_PULL_ITEMS {
                return Err(D::Error::custom(format_args!("a stream's answer claims {count} items")));
            }
            return Ok(Relayed::Plain { first, count, items, end });
        }
        let items = decode_items(count, &items).map_err(|e| D::Error::custom(wire::fail(e)))?;
        Ok(Relayed::Decoded(Batch { first, items, end }))
    }
}
