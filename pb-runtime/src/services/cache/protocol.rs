//! How a cache crosses the wire: the feed (owner side) and the observer
//! (mirror side) are ordinary remote objects, so their lifetime follows the
//! reference counts and connection closes like any other reference.
//!
//! A `Cache<S>` travels as [`CacheWire`]: the model's name, the id of the
//! view it mirrors (peers keep one mirror per view and connection), the
//! current state, and a [`Feed`] that queues events for this copy from the
//! moment it was encoded. The receiver builds a mirror holding that state and
//! attaches an [`Observer`] to the feed; the owner then sends batches of
//! events, in order, one batch in flight at a time.

use std::any::Any;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::{Error, Ref};

/// The full state of a view, as the observer's sequence number `seq` left it.
#[doc(hidden)]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// Sequence number of the last event the state includes.
    pub seq: u64,
    /// The state, postcard-encoded.
    pub state: Bytes,
}

/// What the owner sends an observer at once.
#[doc(hidden)]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Batch {
    /// Replace the state first (the observer fell behind, or upstream resynced).
    pub resync: Option<Snapshot>,
    /// Events after the state, each with its sequence number.
    pub events: Vec<(u64, Bytes)>,
}

/// The owner's side of one copy of a cache.
#[doc(hidden)]
#[pb_macros::remote_interface(crate = "crate", name = "pb.CacheFeed")]
pub trait Feed {
    /// Start sending events to `observer`.
    async fn attach(&self, observer: Arc<dyn Observer>) -> Result<(), Error>;
    /// Send the full state next (the observer lost track).
    async fn resync(&self) -> Result<(), Error>;
    /// The cache this feed serves, if the feed is an object of this process:
    /// a cache sent back to where it came from arrives as that cache.
    #[pb(local)]
    fn home(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        None
    }
}

/// The mirror's side: receives batches.
#[doc(hidden)]
#[pb_macros::remote_interface(crate = "crate", name = "pb.CacheObserver")]
pub trait Observer {
    /// Apply a batch, in order.
    async fn deliver(&self, batch: Batch) -> Result<(), Error>;
}

/// A cache on the wire.
#[derive(Serialize, Deserialize)]
pub(crate) struct CacheWire {
    pub(crate) model: String,
    pub(crate) view: u64,
    pub(crate) snapshot: Snapshot,
    pub(crate) feed: Ref<dyn Feed>,
}

/// Encode plain data (no references: model state and events are copies).
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Bytes, Error> {
    crate::wire::codec::to_vec(value).map(Bytes::from).map_err(|e| {
        Error::protocol(format_args!("cannot encode model data (state and events must be plain data): {e}"))
    })
}

/// Decode plain data sent by [`encode`].
pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    crate::wire::decode_payload(bytes)
}
