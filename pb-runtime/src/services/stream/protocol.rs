//! What the two ends of a stream say to each other: the producer's
//! interface and its methods, and a pull's answer.
//!
//! An answer is, on the wire, `(first, count, plain, items, end, piece)`:
//! the number of its first item, how many items, whether they hold no
//! reference, the items' encodings one after the other as one byte string,
//! the end if the stream ended, and `None`. The producer encodes the items
//! before the answer ([`Answer`]); items with references are encoded with
//! them exported on the connection. A relay passes plain items on as they
//! came, without decoding them ([`Relayed`]); items with references are
//! decoded and encoded again (their references are the connection's).
//!
//! An item whose encoding is longer than [`CHUNK`] goes in pieces, one per
//! answer: `piece` is `Some(offset)`, `items` the bytes of item `first`'s
//! encoding from `offset` on, and `count` is 1 on its last piece (0
//! before). So no answer holds more than a chunk. The pieces of an item
//! with references (`plain` false) are decoded together once the last one
//! arrived, on the connection they came on.

use std::pin::Pin;

use bytes::Bytes;
use serde::de::{DeserializeOwned, Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;
use crate::wire::{self, Blob, FrameBuf, codec};

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
    /// A piece of item `first` instead of items (see the module docs).
    pub(crate) piece: Option<Piece>,
}

impl<T> Batch<T> {
    /// Whole items.
    pub(crate) fn items(first: u64, items: Vec<T>, end: Option<Result<(), Error>>) -> Self {
        Batch { first, items, end, piece: None }
    }
}

/// A piece of an item's encoding.
pub(crate) struct Piece {
    /// Where in the encoding it starts.
    pub(crate) offset: u64,
    pub(crate) bytes: Blob,
    /// Whether it is the item's last piece.
    pub(crate) last: bool,
}

/// An answer as the producer sends it: its items already encoded, as
/// chunks of one byte string (large `pb::Blob`s in them are shared, not
/// copied: see [`Answer::write`]).
pub(crate) struct Answer {
    pub(crate) first: u64,
    pub(crate) count: u32,
    /// Whether the items hold no references.
    pub(crate) plain: bool,
    pub(crate) items: Vec<Bytes>,
    pub(crate) end: Option<Result<(), Error>>,
    /// For a piece of item `first`: where in its encoding it starts.
    pub(crate) piece: Option<u64>,
}

impl Answer {
    /// Append the answer's reply payload (`Ok` of the answer) to `out`:
    /// the bytes [`Serialize`] writes, with large chunks of the items
    /// referenced rather than copied.
    pub(crate) fn write(&self, out: FrameBuf) -> Result<FrameBuf, Error> {
        let len = self.items.iter().map(Bytes::len).sum::<usize>() as u64;
        // postcard: the variant, the fields one after the other, a byte
        // string's length as a varint (as a u64's).
        let mut out = codec::encode_into(out, &Ok::<_, Error>((self.first, self.count, self.plain, len)))?;
        for chunk in &self.items {
            out.append_shared(chunk);
        }
        Ok(codec::encode_into(out, &(&self.end, self.piece))?)
    }
}

impl Serialize for Answer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let items = match self.items.as_slice() {
            [one] => Blob::from(one.clone()),
            chunks => Blob::from(chunks.concat()),
        };
        (self.first, self.count, self.plain, &items, &self.end, self.piece).serialize(s)
    }
}

/// An answer as a relay receives it: plain items as the bytes they came in
/// (never decoded), others decoded (or, for a piece of an item with
/// references, the piece).
pub(crate) enum Relayed<T> {
    Plain(Answer),
    Decoded(Batch<T>),
}

impl<T> Relayed<T> {
    /// The number of the first item, and how many items.
    pub(crate) fn span(&self) -> (u64, u64) {
        match self {
            Relayed::Plain(a) => (a.first, u64::from(a.count)),
            Relayed::Decoded(Batch { first, piece: Some(p), .. }) => (*first, u64::from(p.last)),
            Relayed::Decoded(b) => (b.first, b.items.len() as u64),
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

type Fields = (u64, u32, bool, Blob, Option<Result<(), Error>>, Option<u64>);

/// Read an answer's six fields.
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
                seq.next_element()?.ok_or_else(missing)?,
            ))
        }
    }
    d.deserialize_tuple(6, FieldsVisitor)
}

/// A piece of item `first` (see the module docs), as a batch.
fn piece_of<T, E: serde::de::Error>(
    first: u64,
    count: u32,
    bytes: Blob,
    end: Option<Result<(), Error>>,
    offset: u64,
) -> Result<Batch<T>, E> {
    if count > 1 {
        return Err(E::custom("a piece of an item claims more"));
    }
    let piece = Piece { offset, bytes, last: count == 1 };
    Ok(Batch { first, items: Vec::new(), end, piece: Some(piece) })
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Batch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (first, count, _plain, items, end, piece) = fields(d)?;
        if let Some(offset) = piece {
            return piece_of(first, count, items, end, offset);
        }
        let items = decode_items(count, &items).map_err(|e| D::Error::custom(wire::fail(e)))?;
        Ok(Batch::items(first, items, end))
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Relayed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (first, count, plain, items, end, piece) = fields(d)?;
        if plain {
            if count > MAX_PULL_ITEMS || (piece.is_some() && count > 1) {
                return Err(D::Error::custom(format_args!("a stream's answer claims {count} items")));
            }
            return Ok(Relayed::Plain(Answer { first, count, plain, items: vec![items.into_bytes()], end, piece }));
        }
        if let Some(offset) = piece {
            return piece_of(first, count, items, end, offset).map(Relayed::Decoded);
        }
        let items = decode_items(count, &items).map_err(|e| D::Error::custom(wire::fail(e)))?;
        Ok(Relayed::Decoded(Batch::items(first, items, end)))
    }
}
