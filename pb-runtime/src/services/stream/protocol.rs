//! What the two ends of a stream say to each other: the producer's
//! interface and its one method, and a pull's answer.

use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::Error;

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
/// Most items one pull may ask for.
pub(crate) const MAX_PULL_ITEMS: u32 = 1 << 16;

/// A producer, as a stream of items.
pub(crate) type Boxed<T> = Pin<Box<dyn futures_util::Stream<Item = Result<T, Error>> + Send>>;

/// What a pull answers: the next items, and whether the stream ended.
#[derive(Serialize, Deserialize)]
pub(crate) struct Batch<T> {
    /// The number of the batch's first item (items are numbered from 0):
    /// pulls may reach the producer in another order than they were made,
    /// and the consumer puts their answers back in order by it.
    pub(crate) first: u64,
    pub(crate) items: Vec<T>,
    /// `Some` once the stream ended: `Ok` at its end, `Err` with its error.
    pub(crate) end: Option<Result<(), Error>>,
}
