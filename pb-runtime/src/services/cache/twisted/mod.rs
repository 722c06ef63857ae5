//! Caches over Twisted PB's wire: a [`Cache`] sent to a Twisted peer
//! arrives there as a `pb.RemoteCache`, and a Twisted `pb.Cacheable`
//! arrives here as a mirror.
//!
//! Sent: the first send of a view on a connection is `[S::NAME, luid,
//! state]` (the model's name is the copy tag the peer registers its
//! `RemoteCache` subclass for with `setUnjellyableForClass`; the state is
//! `S` as jelly, which `setCopyableState` gets), later sends are
//! `["cached", luid]`. From then on each event the model applies is a
//! `cachemessage` calling `observe_<variant>` (see [`event`]), queued for
//! the peer as the model applies it, as a Twisted `Cacheable` calls its
//! observers: an answer the model's method sends after applying an event
//! reaches the peer after the event. The messages ask for no answer
//! (`answerRequired` 0: the peer logs a failing `observe_` itself, and
//! nothing waits on a peer that does not answer); a peer that does not
//! read is disconnected by the link's queue limit, as for any message. An
//! observer that cannot follow (the model's `apply` panicked, or a relayed
//! mirror was resynced from upstream: PB has no message giving a
//! `RemoteCache` a new state; or an event is no enum) has its connection
//! closed.
//! The peer's last `decache` unsubscribes it (the model's
//! [`observers`](super::Model::observers) count drops) and is answered
//! with `uncache`.
//!
//! Received: `[tag, luid, state]` (the tag must be `S::NAME`) makes a mirror
//! holding the state; the peer's `observer.callRemote(name, ...)` is read
//! as an `S::Event` and applied, so the mirror's changes and signals work
//! as for any mirror. Every copy received is the same mirror, and when its
//! last handle goes, one `decache` per copy is sent; the link decaches at
//! once the copies no decode kept. A mirror sent back is
//! `["lcache", luid]`, and ours sent back arrives as the view we sent.

pub(crate) mod event;

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::hub::{Hub, Outlet, Sink};
use super::protocol::decode;
use super::state::Cacheable;
use super::upstream::Upstream;
use super::view::{Cache, CacheCore};
use crate::Error;
use crate::connection::{Link, ReceivedCache, RefCx, SentCache};
use crate::wire::twisted::banana::Value;
use crate::wire::twisted::jelly::{CacheForm, CacheIn, CacheOut};

/// The connection being encoded or decoded for, if it is a Twisted link.
fn twisted_link() -> Result<Arc<dyn Link>, Error> {
    let link = RefCx::with(|cx| cx.map(|cx| cx.link().clone()))
        .ok_or_else(|| Error::protocol("a cache crosses to a Twisted peer only through its connection"))?;
    if link.jelly().is_none() {
        return Err(Error::protocol("not a Twisted connection"));
    }
    Ok(link)
}

/// `cache` as jelly, for the Twisted link being encoded for.
pub(super) fn serialize<S: Cacheable, Se: Serializer>(cache: &Cache<S>, s: Se) -> Result<Se::Ok, Se::Error> {
    let link = twisted_link().map_err(Se::Error::custom)?;
    let jelly = link.jelly().expect("checked");
    let own = cache.twisted_upstream().and_then(|upstream| {
        let upstream = upstream.lock().unwrap();
        upstream.link.as_ref().is_some_and(|l| l.id() == link.id()).then_some(upstream.luid)
    });
    if let Some(luid) = own {
        // The peer's own cache, sent back.
        return CacheOut::<S> { form: CacheForm::LCache(luid), state: None }.serialize(s);
    }
    let mut state: Option<S> = None;
    let weak = Arc::downgrade(&link);
    let (luid, first) = jelly
        .export_cache(cache.key(), &mut |luid| {
            let (outlet, bytes) = cache.open_outlet()?;
            state = Some(decode::<S>(&bytes)?);
            let (feed, weak) = (SentFeed(outlet.clone()), weak.clone());
            Ok(SentCache {
                source: cache.core_any(),
                _feed: Box::new(feed),
                start: Some(Box::new(move || {
                    if let Err(e) = outlet.attach_direct(sink::<S>(weak, luid)) {
                        tracing::debug!(error = %e, "a cache stopped before its first send was written");
                    }
                })),
            })
        })
        .map_err(Se::Error::custom)?;
    let form = if first { CacheForm::Cache { tag: S::NAME.to_string(), luid } } else { CacheForm::Cached(luid) };
    CacheOut { form, state: state.as_ref() }.serialize(s)
}

/// A cache from the Twisted link being decoded for.
pub(super) fn deserialize<'de, S: Cacheable, D: Deserializer<'de>>(d: D) -> Result<Cache<S>, D::Error> {
    let received = CacheIn::<S>::deserialize(d)?;
    let link = twisted_link().map_err(D::Error::custom)?;
    received_cache(&link, received).map_err(|e| D::Error::custom(crate::wire::twisted::jelly::hook::fail(e)))
}

fn received_cache<S: Cacheable>(link: &Arc<dyn Link>, received: CacheIn<S>) -> Result<Cache<S>, Error> {
    let jelly = link.jelly().expect("checked");
    let other_model =
        || Error::protocol(format_args!("a cache of another model arrived where `{}` was expected", S::NAME));
    let (luid, first) = match received.form {
        CacheForm::LCache(luid) => {
            // Ours, sent back.
            let source = jelly.exported_cache(luid).ok_or(Error::UnknownObject { id: luid })?;
            return Cache::from_core_any(source).ok_or_else(other_model);
        }
        CacheForm::Cache { tag, luid } if received.first => {
            if tag != S::NAME {
                return Err(Error::protocol(format_args!(
                    "a cache of model `{tag}` arrived where `{}` was expected",
                    S::NAME
                )));
            }
            let state = received.state.ok_or_else(|| Error::protocol("a cache without its state"))?;
            let entry = Arc::new(Mirrored::<S> {
                hub: RwLock::new(Hub::new(state)),
                luid,
                link: Arc::downgrade(link),
                current: Mutex::new(None),
            });
            jelly.receive_cache(luid, entry.clone())?;
            jelly.kept_copy(luid);
            return Ok(entry.mirror(true));
        }
        CacheForm::Cache { luid, .. } => (luid, false),
        CacheForm::Cached(luid) => (luid, received.first),
    };
    let entry = jelly
        .received_cache(luid)
        .ok_or_else(|| Error::protocol(format_args!("the peer named its cache {luid}, which it never sent whole")))?;
    let entry = entry.as_any().downcast_ref::<Mirrored<S>>().ok_or_else(other_model)?;
    if first {
        jelly.kept_copy(luid);
    }
    Ok(entry.mirror(first))
}

/// What a cache sent to a Twisted peer holds: dropping it (the peer's last
/// decache, or the connection's close) stops feeding the peer.
struct SentFeed<S: Cacheable>(Arc<Outlet<S>>);

impl<S: Cacheable> Drop for SentFeed<S> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// What feeds the Twisted peer's copy `luid` of a cache: each event, as the
/// model applies it, a `cachemessage` calling `observe_<variant>`.
fn sink<S: Cacheable>(link: Weak<dyn Link>, luid: u64) -> Sink {
    Box::new(move |event| {
        let Some(link) = link.upgrade() else { return };
        let Some(jelly) = link.jelly() else { return };
        let call = event.map(|bytes| decode::<S::Event>(bytes).and_then(|e| event::to_call(&e)));
        match call {
            Some(Ok((method, args))) => {
                if let Err(e) = jelly.send_cache_call(luid, method, args) {
                    tracing::debug!(model = S::NAME, error = %e, "a cache message was not sent");
                }
            }
            Some(Err(e)) => {
                tracing::warn!(model = S::NAME, peer = link.peer(), error = %e,
                    "an event cannot go to a Twisted observer; closing its connection");
                close_soon(link);
            }
            None => {
                // A RemoteCache has no way to take a new state.
                tracing::warn!(
                    model = S::NAME,
                    peer = link.peer(),
                    "a Twisted observer cannot follow its model (its apply panicked); closing its connection"
                );
                close_soon(link);
            }
        }
    })
}

/// Close `link` from outside the model's locks (closing drops the feeds,
/// which take them).
fn close_soon(link: Arc<dyn Link>) {
    let close = move || {
        if let Some(jelly) = link.jelly() {
            jelly.close_link();
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => drop(handle.spawn(async move { close() })),
        Err(_) => drop(std::thread::spawn(close)),
    }
}

/// A Twisted peer's cache we hold, as the link files it: the state, fed by
/// the peer's observer calls, and the mirror made of it now.
pub(crate) struct Mirrored<S: Cacheable> {
    /// What the peer's observer calls feed: the hub of the mirror (replaced
    /// by the hub of the mirror that adopts this copy after an outage).
    hub: RwLock<Arc<Hub<S>>>,
    luid: u64,
    link: Weak<dyn Link>,
    /// The live mirror, and the copies it holds (decached when it goes).
    current: Mutex<Option<Live<S>>>,
}

/// A live mirror and the copies it holds.
type Live<S> = (Weak<CacheCore<S>>, Arc<AtomicU64>);

impl<S: Cacheable> Mirrored<S> {
    /// The mirror, counting one more copy if `first` (not a repeat of an
    /// occurrence already decoded).
    fn mirror(&self, first: bool) -> Cache<S> {
        let mut current = self.current.lock().unwrap();
        if let Some((weak, copies)) = &*current
            && let Some(cache) = Cache::upgrade(weak)
        {
            copies.fetch_add(u64::from(first), Ordering::AcqRel);
            return cache;
        }
        // The first copy, or one that arrived after the last mirror went
        // (and before the peer's uncache): a new mirror of the same state.
        let copies = Arc::new(AtomicU64::new(u64::from(first)));
        let link = self.link.upgrade();
        let upstream = Upstream { link: link.clone(), luid: self.luid, copies: copies.clone() };
        let hub = self.hub.read().unwrap().clone();
        let cache = Cache::twisted_mirror(hub, upstream, link.map_or(0, |l| l.id()));
        *current = Some((cache.downgrade(), copies));
        cache
    }
}

impl<S: Cacheable> ReceivedCache for Mirrored<S> {
    fn observe(&self, method: &str, args: &Value, kw: &Value) -> Result<(), Error> {
        let event: S::Event = event::from_call(method, args, kw)?;
        self.hub.read().unwrap().apply(event)
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
}

/// `mine`, a mirror of a Twisted cache (on a connection that went away),
/// takes over `fresh`, a new copy of the same cache (after an outage): the
/// fresh state replaces its state (observers get `Resynced`), the peer's
/// observer calls for the fresh copy now feed it, and it holds the fresh
/// copy (decached when it goes); `fresh` is left with `mine`'s old hold.
pub(super) fn adopt<S: Cacheable>(mine: &Cache<S>, fresh: Cache<S>) -> Result<(), Error> {
    let not_twisted = || Error::protocol("not a mirror of a Twisted cache");
    let (link, luid) = {
        let upstream = fresh.twisted_upstream().ok_or_else(not_twisted)?.lock().unwrap();
        (upstream.link.clone().ok_or(Error::Disconnected)?, upstream.luid)
    };
    let jelly = link.jelly().ok_or_else(not_twisted)?;
    let entry = jelly.received_cache(luid).ok_or(Error::Disconnected)?;
    let entry = entry
        .as_any()
        .downcast_ref::<Mirrored<S>>()
        .ok_or_else(|| Error::protocol("a cache of another model arrived in its place"))?;
    {
        // Under `current`, no other handle to the fresh mirror can appear.
        let mut current = entry.current.lock().unwrap();
        let Some((weak, _copies)) = current.as_mut() else { return Err(not_twisted()) };
        if !fresh.is_sole_handle() || !weak.ptr_eq(&fresh.downgrade()) {
            // Another mirror of it is in use: it keeps the feed.
            return Err(Error::protocol("the fresh copy of the cache is already in use as another mirror"));
        }
        *weak = mine.downgrade();
        // Hold the feed while switching: no observer call lands in between.
        let mut hub = entry.hub.write().unwrap();
        mine.hub().resync((*hub.snapshot()).clone());
        *hub = mine.hub().clone();
    }
    let (mut mine_up, mut fresh_up) = (
        mine.twisted_upstream().ok_or_else(not_twisted)?.lock().unwrap(),
        fresh.twisted_upstream().ok_or_else(not_twisted)?.lock().unwrap(),
    );
    std::mem::swap(&mut *mine_up, &mut *fresh_up);
    drop((mine_up, fresh_up));
    drop(fresh); // outside the locks: decaches the old copies (a no-op on a closed link)
    Ok(())
}
