//! The one view type, [`Cache`]: a local model's view or a mirror, with
//! the objects that connect a mirror to its feed (the owner's [`FeedImpl`],
//! the mirror's [`Inlet`]), which point back at it.

use std::any::Any;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use futures_util::Stream;
use tokio::sync::{broadcast, watch};

use super::hub::{self, Hub, Outlet};
use super::mirrors;
use super::protocol::{Batch, CacheWire, Feed, Observer, Snapshot, decode, encode};
use super::state::{Cacheable, Change, Projection};
use super::upstream::Upstream;
use crate::Error;
use crate::connection::RefCx;
use crate::references::heal::HealSlot;

/// The view of a model: local, or a mirror fed from another process. See
/// the module docs. Cheap to clone; serde data (sent as a cache).
pub struct Cache<S: Cacheable> {
    inner: Arc<CacheCore<S>>,
}

impl<S: Cacheable> Clone for Cache<S> {
    fn clone(&self) -> Self {
        Cache { inner: self.inner.clone() }
    }
}

impl<S: Cacheable + fmt::Debug> fmt::Debug for Cache<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("model", &S::NAME)
            .field("mirror", &self.is_mirror())
            .field("state", &self.state())
            .finish()
    }
}

pub(crate) struct CacheCore<S: Cacheable> {
    hub: Arc<Hub<S>>,
    /// For local per-observer views.
    view: Option<Arc<Projection<S>>>,
    /// The id peers dedupe this view's mirrors by.
    id: u64,
    mirror: Option<Mirror<S>>,
}

/// What a mirror holds of its upstream.
struct Mirror<S: Cacheable> {
    link: Mutex<Link<S>>,
    /// The session that heals this mirror, and its slot there.
    healer: OnceLock<HealSlot>,
    /// The Twisted cache this mirrors, if it is one (then `link` has no
    /// feed); swapped for a fresh copy's when the mirror heals.
    twisted: Option<Mutex<Upstream>>,
}

struct Link<S: Cacheable> {
    feed: Option<Arc<dyn Feed>>,
    inlet: Arc<Inlet<S>>,
    key: (u64, u64),
}

impl<S: Cacheable> CacheCore<S> {
    pub(crate) fn feed(&self) -> Option<Arc<dyn Feed>> {
        self.mirror.as_ref()?.link.lock().unwrap().feed.clone()
    }

    /// The mirror can no longer follow its model: release the feed (the
    /// upstream subscription) and tell local observers why. The state stays
    /// the last one received.
    fn stop(&self, why: Error) {
        if let Some(m) = &self.mirror {
            let feed = m.link.lock().unwrap().feed.take();
            drop(feed);
        }
        self.hub.stop(why);
    }
}

impl<S: Cacheable> Drop for CacheCore<S> {
    fn drop(&mut self) {
        if let Some(m) = &self.mirror {
            if let Some(slot) = m.healer.get() {
                slot.forget();
            }
            let key = m.link.lock().unwrap().key;
            mirrors::forget(key);
        }
    }
}

impl<S: Cacheable> Cache<S> {
    fn from_inner(inner: Arc<CacheCore<S>>) -> Self {
        Cache { inner }
    }

    /// A local view of `hub` (`view` projects it for one kind of observer).
    pub(crate) fn local(hub: Arc<Hub<S>>, view: Option<Arc<Projection<S>>>, id: u64) -> Self {
        Cache::from_inner(Arc::new(CacheCore { hub, view, id, mirror: None }))
    }

    /// Whether this cache shows the state of `hub`.
    pub(crate) fn shares_hub(&self, hub: &Arc<Hub<S>>) -> bool {
        Arc::ptr_eq(&self.inner.hub, hub)
    }

    /// A cache that is not fed by anyone: a fixed state (also handy in tests).
    pub fn fixed(state: S) -> Self {
        Cache::local(Hub::new(state), None, hub::next_id())
    }

    /// The current state (a snapshot: later changes make a new one).
    pub fn state(&self) -> Arc<S> {
        let state = self.inner.hub.snapshot();
        match &self.inner.view {
            None => state,
            Some(view) => Arc::new((view.state)(&state)),
        }
    }

    /// Every change from now on, in order. A reader that lags behind by more
    /// than 1,024 changes gets `Resynced` with the current state instead of
    /// the changes it missed.
    pub fn changes(&self) -> Pin<Box<dyn Stream<Item = Change<S>> + Send>> {
        let rx = self.inner.hub.subscribe_local();
        let this = self.clone();
        Box::pin(futures_util::stream::unfold((rx, this), |(mut rx, this)| async move {
            loop {
                let change = match rx.recv().await {
                    Ok(c) => c,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Skip what was missed (the fresh state has it) and
                        // continue with exactly the changes after it.
                        let (state, fresh) = this.inner.hub.resubscribe_local();
                        rx = fresh;
                        Change::Resynced(state)
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                if let Some(change) = this.project(change) {
                    return Some((change, (rx, this)));
                }
            }
        }))
    }

    fn project(&self, change: Change<S>) -> Option<Change<S>> {
        let Some(view) = &self.inner.view else { return Some(change) };
        match change {
            Change::Event(e) => (view.event)(&self.inner.hub.snapshot(), &e).map(Change::Event),
            Change::Resynced(s) => Some(Change::Resynced(Arc::new((view.state)(&s)))),
            Change::Stopped(e) => Some(Change::Stopped(e)),
        }
    }

    /// A signal that fires after each change (the value counts changes).
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.inner.hub.watch()
    }

    /// Whether this cache mirrors a model in another process.
    pub fn is_mirror(&self) -> bool {
        self.inner.mirror.is_some()
    }

    /// Whether this is a mirror whose feed is on a live connection (always
    /// true for a local model's view).
    pub fn is_live(&self) -> bool {
        if let Some(upstream) = self.twisted_upstream() {
            return upstream.lock().unwrap().is_live();
        }
        match self.inner.feed() {
            None => self.inner.mirror.is_none(),
            Some(feed) => <dyn Feed as crate::Interface>::proxy_handle(&*feed).is_none_or(|h| h.is_connected()),
        }
    }

    /// Remote observers fed by this cache (a relay's downstream mirrors).
    pub fn observers(&self) -> usize {
        self.inner.hub.observers()
    }

    /// Whether two handles are the same cache.
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// [`adopt`](Self::adopt) between mirrors of pb caches.
    pub(super) fn adopt_mirror(&self, fresh: Cache<S>) -> Result<(), Error> {
        let (Some(mine), Some(theirs)) = (&self.inner.mirror, &fresh.inner.mirror) else {
            return Err(Error::protocol("only a mirror can adopt a mirror"));
        };
        if Arc::ptr_eq(&self.inner, &fresh.inner) {
            return Ok(());
        }
        let mut their_link = theirs.link.lock().unwrap();
        let inlet = their_link.inlet.clone();
        // Hold the inlet while switching: no batch lands in between.
        let mut target = inlet.target.write().unwrap();
        self.inner.hub.resync((*fresh.inner.hub.snapshot()).clone());
        target.cache = Arc::downgrade(&self.inner);
        let mut my_link = mine.link.lock().unwrap();
        let old_key = my_link.key;
        my_link.feed = their_link.feed.take();
        my_link.inlet = inlet.clone();
        my_link.key = their_link.key;
        mirrors::register(my_link.key, &self.inner);
        drop((my_link, target, their_link));
        mirrors::forget(old_key);
        Ok(())
    }

    /// A mirror of a Twisted peer's cache, fed by `hub` (see `twisted.rs`),
    /// on connection `conn`.
    pub(crate) fn twisted_mirror(hub: Arc<Hub<S>>, upstream: Upstream, conn: u64) -> Self {
        let inlet = Arc::new(Inlet { target: RwLock::new(InletTarget { cache: Weak::new(), next: 1 }) });
        let link = Link { feed: None, inlet, key: (conn, 0) };
        let mirror = Mirror { link: Mutex::new(link), healer: OnceLock::new(), twisted: Some(Mutex::new(upstream)) };
        Cache::from_inner(Arc::new(CacheCore { hub, view: None, id: hub::next_id(), mirror: Some(mirror) }))
    }

    /// The Twisted cache this mirrors, if it is one.
    pub(crate) fn twisted_upstream(&self) -> Option<&Mutex<Upstream>> {
        self.inner.mirror.as_ref()?.twisted.as_ref()
    }

    /// The id a connection sends this view under once.
    pub(crate) fn key(&self) -> u64 {
        self.inner.id
    }

    /// A new remote observer of this view, and the state it starts from.
    pub(crate) fn open_outlet(&self) -> Result<(Arc<Outlet<S>>, bytes::Bytes), Error> {
        self.inner.hub.open_outlet(self.inner.view.clone())
    }

    /// This cache, type-erased (what [`from_core_any`](Self::from_core_any) takes back).
    pub(crate) fn core_any(&self) -> Arc<dyn Any + Send + Sync> {
        self.inner.clone()
    }

    /// A cache from [`core_any`](Self::core_any), if it is one of `S`.
    pub(crate) fn from_core_any(core: Arc<dyn Any + Send + Sync>) -> Option<Self> {
        core.downcast::<CacheCore<S>>().ok().map(Cache::from_inner)
    }

    /// A mirror's feed, if it is an object of the peer this cache is being
    /// encoded for.
    fn feed_on_encoding_connection(&self) -> Option<Arc<dyn Feed>> {
        let feed = self.inner.feed()?;
        let handle = <dyn Feed as crate::Interface>::proxy_handle(&*feed)?;
        RefCx::with(|cx| cx.and_then(|cx| handle.id_on(cx.link().id()))).map(|_| feed)
    }

    /// Attach this mirror to what heals it; false if it already was.
    pub(crate) fn set_healer(&self, slot: HealSlot) -> bool {
        self.inner.mirror.as_ref().is_some_and(|m| m.healer.set(slot).is_ok())
    }

    /// The hub this cache shows.
    pub(crate) fn hub(&self) -> &Arc<Hub<S>> {
        &self.inner.hub
    }

    /// Whether `self` is the only handle to its cache.
    pub(crate) fn is_sole_handle(&self) -> bool {
        Arc::strong_count(&self.inner) == 1
    }

    pub(crate) fn downgrade(&self) -> Weak<CacheCore<S>> {
        Arc::downgrade(&self.inner)
    }

    pub(crate) fn upgrade(weak: &Weak<CacheCore<S>>) -> Option<Self> {
        weak.upgrade().map(Cache::from_inner)
    }
}

impl<S: Cacheable> Cache<S> {
    /// The cache as it goes to a pb peer.
    pub(super) fn to_wire(&self) -> Result<CacheWire, Error> {
        if let Some(feed) = self.feed_on_encoding_connection() {
            // Going back to the peer it mirrors: send that peer's own feed,
            // which arrives there as the original cache (like a proxy sent
            // back to its owner). The state is only a fallback.
            let state = encode(&*self.state())?;
            return Ok(CacheWire {
                model: S::NAME.to_string(),
                view: self.inner.id,
                snapshot: Snapshot { seq: 0, state },
                feed: crate::Ref::new(feed),
            });
        }
        let (outlet, state) = self.inner.hub.open_outlet(self.inner.view.clone())?;
        let feed: Arc<dyn Feed> = Arc::new(FeedImpl { outlet, _source: self.clone() });
        Ok(CacheWire {
            model: S::NAME.to_string(),
            view: self.inner.id,
            snapshot: Snapshot { seq: 0, state },
            feed: crate::Ref::new(feed),
        })
    }

    /// The cache a pb peer sent, inside a decode on its connection.
    pub(super) fn from_wire(wire: CacheWire) -> Result<Self, Error> {
        if wire.model != S::NAME {
            return Err(Error::protocol(format_args!(
                "a cache of model `{}` arrived where `{}` was expected",
                wire.model,
                S::NAME
            )));
        }
        let conn = RefCx::with(|cx| cx.map(|cx| cx.link().id()))
            .ok_or_else(|| Error::protocol("pb caches can only be deserialized by a pb connection"))?;
        let feed = wire.feed.into_arc();
        if let Some(home) = feed.home() {
            // Our own feed came back: this is one of our caches.
            return home.downcast::<CacheCore<S>>().map(Cache::from_inner).map_err(|_| {
                Error::protocol(format_args!("a cache of model `{}` came back as another model", S::NAME))
            });
        }
        let key = (conn, wire.view);
        if let Some(existing) = mirrors::find::<CacheCore<S>>(key) {
            return Ok(Cache::from_inner(existing)); // the extra feed is released
        }
        let state: S = decode(&wire.snapshot.state)?;
        let inlet =
            Arc::new(Inlet { target: RwLock::new(InletTarget { cache: Weak::new(), next: wire.snapshot.seq + 1 }) });
        let inner = Arc::new(CacheCore {
            hub: Hub::new(state),
            view: None,
            id: hub::next_id(),
            mirror: Some(Mirror {
                link: Mutex::new(Link { feed: Some(feed.clone()), inlet: inlet.clone(), key }),
                healer: OnceLock::new(),
                twisted: None,
            }),
        });
        inlet.target.write().unwrap().cache = Arc::downgrade(&inner);
        mirrors::register(key, &inner);
        let observer: Arc<dyn Observer> = inlet;
        tokio::spawn(async move {
            if let Err(e) = feed.attach(observer).await {
                tracing::debug!(error = %e, "could not attach a cache to its feed");
            }
        });
        Ok(Cache::from_inner(inner))
    }
}

/// The feed object exported for one copy; dropping it (the copy's release,
/// or its connection's close) unsubscribes the observer.
pub(crate) struct FeedImpl<S: Cacheable> {
    pub(crate) outlet: Arc<Outlet<S>>,
    /// Keeps the source alive while observed: a relay's mirror stays
    /// subscribed upstream as long as someone downstream observes it.
    pub(crate) _source: Cache<S>,
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
        // The observer saw a gap, or could not decode or apply an event (an
        // older schema, a panic in its `apply`): it gets the full state.
        tracing::info!(model = S::NAME, "an observer asked for the full state (a gap, or an event it could not apply)");
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
        let outcome = {
            let mut target = self.target.write().unwrap();
            let Some(cache) = target.cache.upgrade() else {
                return Err(Error::Disconnected); // the mirror is gone: unsubscribe
            };
            apply_batch(&cache, &mut target.next, batch)
        };
        // Not under the inlet's lock: adoption takes the link, then the inlet.
        match outcome {
            Applied::All => Ok(()),
            Applied::Gap => {
                let cache = self.target.read().unwrap().cache.upgrade();
                let feed = cache.and_then(|c| c.feed());
                if let Some(feed) = feed {
                    feed.resync().await?;
                }
                Ok(())
            }
            Applied::Stop(e) => {
                let cache = std::mem::take(&mut self.target.write().unwrap().cache).upgrade();
                if let Some(cache) = cache {
                    cache.stop(e.clone());
                }
                // The owner unsubscribes this observer and logs why.
                Err(e)
            }
        }
    }
}

/// What became of a batch.
enum Applied {
    /// Every event is applied.
    All,
    /// Events were missing, or one could not be applied: nothing after it
    /// is applied, and a resync is needed.
    Gap,
    /// The mirror cannot follow its model any more (the state does not
    /// decode): it stops.
    Stop(Error),
}

/// Apply `batch` to the mirror.
fn apply_batch<S: Cacheable>(cache: &CacheCore<S>, next: &mut u64, batch: Batch) -> Applied {
    if let Some(snapshot) = batch.resync {
        let state: S = match decode(&snapshot.state) {
            Ok(state) => state,
            Err(e) => {
                let e = Error::protocol(format_args!(
                    "cannot decode the state of model `{}` (the owner may run a newer schema): {e}",
                    S::NAME
                ));
                tracing::error!(model = S::NAME, error = %e, "cache mirror stopped");
                return Applied::Stop(e);
            }
        };
        cache.hub.resync(state);
        *next = snapshot.seq + 1;
    }
    for (seq, bytes) in batch.events {
        if seq < *next {
            continue; // already covered by a resync
        }
        if seq > *next {
            tracing::warn!(model = S::NAME, expected = *next, got = seq, "gap in cache events; resyncing");
            return Applied::Gap;
        }
        let event: S::Event = match decode(&bytes) {
            Ok(event) => event,
            Err(e) => {
                // Most likely an event variant this (older) build does not
                // know: the full state may still decode.
                tracing::warn!(model = S::NAME, seq, error = %e,
                    "cannot decode a cache event (the owner may run a newer schema); asking for the full state");
                return Applied::Gap;
            }
        };
        if let Err(e) = cache.hub.apply(event) {
            tracing::error!(model = S::NAME, seq, error = %e, "applying a cache event panicked; asking for the full state");
            return Applied::Gap;
        }
        *next += 1;
    }
    Applied::All
}
