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
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, RwLock, Weak};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::hub::Outlet;
use super::{CacheCore, Cacheable};
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

/// The feed object exported for one copy; dropping it (the copy's release,
/// or its connection's close) unsubscribes the observer.
pub(crate) struct FeedImpl<S: Cacheable> {
    pub(crate) outlet: Arc<Outlet<S>>,
    /// Keeps the source alive while observed: a relay's mirror stays
    /// subscribed upstream as long as someone downstream observes it.
    pub(crate) _source: super::Cache<S>,
}

impl<S: Cacheable> Drop for FeedImpl<S> {
    fn drop(&mut self) {
        self.outlet.close();
    }
}

#[pb_macros::remote_impl(crate = "crate")]
impl<S: Cacheable> Feed for FeedImpl<S> {
    async fn attach(&self, observer: Arc<dyn Observer>) -> Result<(), Error> {
        self.outlet.attach(observer)
    }
    async fn resync(&self) -> Result<(), Error> {
        self.outlet.request_resync();
        Ok(())
    }
    fn home(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        Some(self._source.inner.clone())
    }
}

/// The observer object a mirror exports to its feed. It points at the
/// mirror weakly (the mirror's handles own it, not the owner), and can be
/// moved to another mirror when a healed cache is adopted.
pub(crate) struct Inlet<S: Cacheable> {
    pub(crate) target: RwLock<InletTarget<S>>,
}

pub(crate) struct InletTarget<S: Cacheable> {
    pub(crate) cache: Weak<CacheCore<S>>,
    /// Sequence number of the next event expected.
    pub(crate) next: u64,
}

#[pb_macros::remote_impl(crate = "crate")]
impl<S: Cacheable> Observer for Inlet<S> {
    async fn deliver(&self, batch: Batch) -> Result<(), Error> {
        let gap = {
            let mut target = self.target.write().unwrap();
            let Some(cache) = target.cache.upgrade() else {
                return Err(Error::Disconnected); // the mirror is gone: unsubscribe
            };
            apply_batch(&cache, &mut target.next, batch)?
        };
        if gap {
            // Not under the inlet's lock: adoption takes the link, then the inlet.
            let cache = self.target.read().unwrap().cache.upgrade();
            let feed = cache.and_then(|c| c.feed());
            if let Some(feed) = feed {
                feed.resync().await?;
            }
        }
        Ok(())
    }
}

/// Apply `batch` to the mirror; true if events were missing (a resync is
/// needed: nothing after the gap is applied).
fn apply_batch<S: Cacheable>(cache: &CacheCore<S>, next: &mut u64, batch: Batch) -> Result<bool, Error> {
    if let Some(snapshot) = batch.resync {
        let state: S = decode(&snapshot.state)?;
        cache.hub.resync(state);
        *next = snapshot.seq + 1;
    }
    for (seq, bytes) in batch.events {
        if seq < *next {
            continue; // already covered by a resync
        }
        if seq > *next {
            tracing::warn!(model = S::NAME, expected = *next, got = seq, "gap in cache events; resyncing");
            return Ok(true);
        }
        let event: S::Event = decode(&bytes)?;
        cache.hub.apply(event);
        *next += 1;
    }
    Ok(false)
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    crate::wire::decode_payload(bytes)
}

/// Live mirrors by (connection id, view id): a view sent twice on one
/// connection arrives as the same mirror (one subscription per peer).
type MirrorMap = HashMap<(u64, u64), Weak<dyn Any + Send + Sync>>;
static MIRRORS: LazyLock<Mutex<MirrorMap>> = LazyLock::new(Mutex::default);

pub(crate) fn find_mirror<S: Cacheable>(key: (u64, u64)) -> Option<Arc<CacheCore<S>>> {
    let weak = MIRRORS.lock().unwrap().get(&key)?.clone();
    weak.upgrade()?.downcast::<CacheCore<S>>().ok()
}

pub(crate) fn register_mirror<S: Cacheable>(key: (u64, u64), inner: &Arc<CacheCore<S>>) {
    let mut map = MIRRORS.lock().unwrap();
    map.retain(|_, w| w.strong_count() > 0);
    let weak: Weak<dyn Any + Send + Sync> = Arc::downgrade(inner) as Weak<dyn Any + Send + Sync>;
    map.insert(key, weak);
}

pub(crate) fn forget_mirror(key: (u64, u64)) {
    let mut map = MIRRORS.lock().unwrap();
    if map.get(&key).is_some_and(|w| w.strong_count() == 0) {
        map.remove(&key);
    }
}
