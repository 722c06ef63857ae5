//! Cached models: state pushed to observers, with local signals, at any hop
//! (PB's `Cacheable` / `RemoteCache`).
//!
//! A [`Model`] owns a state of a [`Cacheable`] type and applies its typed
//! events. A [`Cache`] is the one view type: a local model's view, or a
//! mirror of a model (or of another mirror) in another process. Both are read
//! and observed the same way:
//!
//! - [`Cache::state`]: the current state (a cheap `Arc` snapshot);
//! - [`Cache::changes`]: a stream of [`Change`]s: each event as it is applied,
//!   or `Resynced` with a whole new state;
//! - [`Cache::watch`]: a `tokio::sync::watch` "something changed" signal.
//!
//! # Sending a model
//!
//! A `Cache<S>` is serde data: pass it as an argument or result, or nest it
//! in copies. It arrives as a mirror that already holds the current state
//! (PB's `getStateToCacheAndObserveFor`) and is then fed every event, in the
//! order the model applied them. Methods that change the model are an
//! ordinary `#[remote_interface]` object sent along with it.
//!
//! A mirror is itself servable: a relay that passes its cache on feeds its
//! downstream observers from its own mirror, with one upstream subscription
//! per relay (a view sent twice on one connection arrives as one mirror).
//!
//! A mirror sent back to the peer it mirrors arrives there as the cache it
//! mirrors, like a proxy sent back to its owner: the owner gets its own view
//! ([`Model::is_view`] tells), a relay its own mirror, and nothing new is
//! subscribed.
//! # Per-observer views
//!
//! [`Model::view`] makes a view that projects the state and filters or
//! rewrites each event, e.g. per logged-in user; observers of that view only
//! ever see the projection, in the initial state and in every event.
//!
//! # Lifetime
//!
//! Dropping the last handle of a mirror unsubscribes it (PB's
//! `stoppedObserving`); a closed connection removes all its observers.
//! [`Model::observers`] counts the remote observers.
//!
//! # Delivery and slow observers
//!
//! Events reach each observer in order, each exactly once, or the observer
//! is told: the owner queues at most 1,024 events (and at most 4 MiB of them)
//! per remote observer, with one batch in flight at a time. An observer that falls further behind has
//! its queue dropped and gets the full current state instead, as a
//! [`Change::Resynced`] (so the owner's memory per observer is bounded by the
//! queue plus one state). A local reader of [`Cache::changes`] that lags
//! behind by more than 1,024 changes also gets `Resynced` with the current
//! state instead of the missed events.
//!
//! # Outages
//!
//! A cache obtained through a `#[pb(replay)]` method of a reconnecting proxy
//! heals with its session: after reconnecting, the method is called again,
//! the fresh state replaces the old one and observers get
//! [`Change::Resynced`]; later events continue in order. This holds at
//! every hop (a relay's mirror resyncs its downstream mirrors). Other
//! mirrors keep their last state after an outage and receive nothing more.
//!
//! Model states and events are plain data (copies): references inside them
//! are not supported.

mod hub;
mod link;
mod replay;

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use futures_util::Stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::sync::{broadcast, watch};

use crate::Error;
use crate::connection::RefCx;
use crate::references::heal::HealSlot;
use hub::Hub;
pub use hub::OutletStats;
#[doc(hidden)]
pub use link::{Batch, Feed, Observer, Snapshot};
use link::{CacheWire, FeedImpl, Inlet, InletTarget};
#[doc(hidden)]
pub use replay::track_replay_cache;

/// A state that can be cached by observers: plain serde data with typed
/// change events.
pub trait Cacheable: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// A change to the state.
    type Event: Clone + Serialize + DeserializeOwned + Send + Sync + fmt::Debug + 'static;
    /// The model's name on the wire (checked on arrival), e.g. `"aurora.UserList"`.
    const NAME: &'static str;
    /// Apply `event` to the state. Must be deterministic: the owner and every
    /// mirror apply the same events to the same state.
    fn apply(&mut self, event: &Self::Event);
}

/// A change observed on a [`Cache`].
#[derive(Debug, Clone)]
pub enum Change<S: Cacheable> {
    /// An event, applied to the state.
    Event(S::Event),
    /// The whole state was replaced: after an outage, or because this
    /// observer fell behind and missed events.
    Resynced(Arc<S>),
}

/// How a per-observer view shows a model: the state it sees, and each event
/// it sees (`None` hides the event). The event function gets the model's
/// state after the event was applied.
pub(crate) struct Projection<S: Cacheable> {
    state: Box<dyn Fn(&S) -> S + Send + Sync>,
    event: EventFilter<S>,
}

type EventFilter<S> = Box<dyn Fn(&S, &<S as Cacheable>::Event) -> Option<<S as Cacheable>::Event> + Send + Sync>;

/// The owner of a model's state: apply events, hand out views.
pub struct Model<S: Cacheable> {
    hub: Arc<Hub<S>>,
    view_id: u64,
}

impl<S: Cacheable> Clone for Model<S> {
    fn clone(&self) -> Self {
        Model { hub: self.hub.clone(), view_id: self.view_id }
    }
}

impl<S: Cacheable + fmt::Debug> fmt::Debug for Model<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model").field("state", &self.hub.snapshot()).field("observers", &self.observers()).finish()
    }
}

impl<S: Cacheable> Model<S> {
    /// A model holding `state`.
    pub fn new(state: S) -> Self {
        Model { hub: Hub::new(state), view_id: hub::next_id() }
    }

    /// Apply `event`: the state changes and every observer, local or remote,
    /// gets the event, in the order events are applied.
    pub fn apply(&self, event: S::Event) {
        self.hub.apply(event);
    }

    /// The current state.
    pub fn state(&self) -> Arc<S> {
        self.hub.snapshot()
    }

    /// The view of the whole model (what to return from a remote method).
    pub fn cache(&self) -> Cache<S> {
        Cache::from_inner(Arc::new(CacheCore::local(self.hub.clone(), None, self.view_id)))
    }

    /// A per-observer view: observers see `state(model)` and, for each event,
    /// `event(model state after it, event)` (`None` hides it).
    ///
    /// Both functions run while the model applies the event (so every
    /// observer sees a consistent order): keep them quick, and do not call
    /// back into this model from them.
    pub fn view(
        &self,
        state: impl Fn(&S) -> S + Send + Sync + 'static,
        event: impl Fn(&S, &S::Event) -> Option<S::Event> + Send + Sync + 'static,
    ) -> Cache<S> {
        let projection = Projection { state: Box::new(state), event: Box::new(event) };
        Cache::from_inner(Arc::new(CacheCore::local(self.hub.clone(), Some(Arc::new(projection)), hub::next_id())))
    }

    /// Remote observers subscribed now (mirrors in other processes).
    pub fn observers(&self) -> usize {
        self.hub.observers()
    }

    /// Whether `cache` is a local view of this model (not a mirror): for
    /// example a cache sent out and back again, which arrives as the view
    /// that was sent.
    pub fn is_view(&self, cache: &Cache<S>) -> bool {
        !cache.is_mirror() && Arc::ptr_eq(&self.hub, &cache.inner.hub)
    }

    /// Queue figures of each remote observer.
    pub fn observer_stats(&self) -> Vec<OutletStats> {
        self.hub.outlet_stats()
    }
}

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
}

struct Link<S: Cacheable> {
    feed: Option<Arc<dyn Feed>>,
    inlet: Arc<Inlet<S>>,
    key: (u64, u64),
}

impl<S: Cacheable> CacheCore<S> {
    fn local(hub: Arc<Hub<S>>, view: Option<Arc<Projection<S>>>, id: u64) -> Self {
        CacheCore { hub, view, id, mirror: None }
    }

    pub(crate) fn feed(&self) -> Option<Arc<dyn Feed>> {
        self.mirror.as_ref()?.link.lock().unwrap().feed.clone()
    }
}

impl<S: Cacheable> Drop for CacheCore<S> {
    fn drop(&mut self) {
        if let Some(m) = &self.mirror {
            if let Some(slot) = m.healer.get() {
                slot.forget();
            }
            let key = m.link.lock().unwrap().key;
            link::forget_mirror(key);
        }
    }
}

impl<S: Cacheable> Cache<S> {
    fn from_inner(inner: Arc<CacheCore<S>>) -> Self {
        Cache { inner }
    }

    /// A cache that is not fed by anyone: a fixed state (also handy in tests).
    pub fn fixed(state: S) -> Self {
        Model::new(state).cache()
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

    /// Take over `fresh` (a new copy of the same view, after an outage):
    /// its state replaces this one's (observers get `Resynced`), and its
    /// feed now feeds this cache.
    pub(crate) fn adopt(&self, fresh: Cache<S>) -> Result<(), Error> {
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
        link::register_mirror(my_link.key, &self.inner);
        drop((my_link, target, their_link));
        link::forget_mirror(old_key);
        Ok(())
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

    pub(crate) fn downgrade(&self) -> Weak<CacheCore<S>> {
        Arc::downgrade(&self.inner)
    }

    pub(crate) fn upgrade(weak: &Weak<CacheCore<S>>) -> Option<Self> {
        weak.upgrade().map(Cache::from_inner)
    }
}

impl<S: Cacheable> Serialize for Cache<S> {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        use serde::ser::Error as _;
        if let Some(feed) = self.feed_on_encoding_connection() {
            // Going back to the peer it mirrors: send that peer's own feed,
            // which arrives there as the original cache (like a proxy sent
            // back to its owner). The state is only a fallback.
            let state = hub::encode(&*self.state()).map_err(Se::Error::custom)?;
            let wire = CacheWire {
                model: S::NAME.to_string(),
                view: self.inner.id,
                snapshot: Snapshot { seq: 0, state },
                feed: crate::Ref::new(feed),
            };
            return wire.serialize(s);
        }
        let (outlet, state) = self.inner.hub.open_outlet(self.inner.view.clone()).map_err(Se::Error::custom)?;
        let feed: Arc<dyn Feed> = Arc::new(FeedImpl { outlet, _source: self.clone() });
        let wire = CacheWire {
            model: S::NAME.to_string(),
            view: self.inner.id,
            snapshot: Snapshot { seq: 0, state },
            feed: crate::Ref::new(feed),
        };
        wire.serialize(s)
    }
}

impl<'de, S: Cacheable> Deserialize<'de> for Cache<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let wire = CacheWire::deserialize(d)?;
        if wire.model != S::NAME {
            return Err(D::Error::custom(format_args!(
                "a cache of model `{}` arrived where `{}` was expected",
                wire.model,
                S::NAME
            )));
        }
        let conn = RefCx::with(|cx| cx.map(|cx| cx.link().id()))
            .ok_or_else(|| D::Error::custom("pb caches can only be deserialized by a pb connection"))?;
        let feed = wire.feed.into_arc();
        if let Some(home) = feed.home() {
            // Our own feed came back: this is one of our caches.
            return home.downcast::<CacheCore<S>>().map(Cache::from_inner).map_err(|_| {
                D::Error::custom(format_args!("a cache of model `{}` came back as another model", S::NAME))
            });
        }
        let key = (conn, wire.view);
        if let Some(existing) = link::find_mirror::<S>(key) {
            return Ok(Cache::from_inner(existing)); // the extra feed is released
        }
        let state: S = link::decode(&wire.snapshot.state).map_err(D::Error::custom)?;
        let inlet =
            Arc::new(Inlet { target: RwLock::new(InletTarget { cache: Weak::new(), next: wire.snapshot.seq + 1 }) });
        let inner = Arc::new(CacheCore {
            hub: Hub::new(state),
            view: None,
            id: hub::next_id(),
            mirror: Some(Mirror {
                link: Mutex::new(Link { feed: Some(feed.clone()), inlet: inlet.clone(), key }),
                healer: OnceLock::new(),
            }),
        });
        inlet.target.write().unwrap().cache = Arc::downgrade(&inner);
        link::register_mirror(key, &inner);
        let observer: Arc<dyn Observer> = inlet;
        tokio::spawn(async move {
            if let Err(e) = feed.attach(observer).await {
                tracing::debug!(error = %e, "could not attach a cache to its feed");
            }
        });
        Ok(Cache::from_inner(inner))
    }
}
