//! The state behind every view: a model's, or a mirror's. A hub holds the
//! current state, fires local signals, and feeds remote observers through
//! bounded queues.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use bytes::Bytes;
use tokio::sync::{Notify, broadcast, watch};

use super::protocol::{Batch, Observer, Snapshot, encode};
use super::state::{Cacheable, Change, Projection};
use crate::Error;

/// Events a remote observer may have queued before it is resynced instead
/// (see the module docs of `cache`: slow observers).
pub(crate) const DEFAULT_QUEUE_EVENTS: usize = 1024;

/// Bytes of encoded events a remote observer may have queued before it is
/// resynced instead.
pub(crate) const DEFAULT_QUEUE_BYTES: usize = 4 << 20;

/// Capacity of the local change stream before a lagging reader is resynced.
const LOCAL_CAPACITY: usize = 1024;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A process-unique id for hubs and views (the key peers dedupe mirrors by).
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

pub(crate) struct State<S> {
    pub(crate) value: Arc<S>,
    /// Changes applied to this hub (events and resyncs).
    pub(crate) version: u64,
}

pub(crate) struct Hub<S: Cacheable> {
    pub(crate) state: RwLock<State<S>>,
    local: broadcast::Sender<Change<S>>,
    version: watch::Sender<u64>,
    outlets: Mutex<HashMap<u64, Arc<Outlet<S>>>>,
    queue_limit: usize,
    me: Weak<Hub<S>>,
}

impl<S: Cacheable> Hub<S> {
    pub(crate) fn new(state: S) -> Arc<Self> {
        Arc::new_cyclic(|me| Hub {
            state: RwLock::new(State { value: Arc::new(state), version: 0 }),
            local: broadcast::channel(LOCAL_CAPACITY).0,
            version: watch::channel(0).0,
            outlets: Mutex::default(),
            queue_limit: DEFAULT_QUEUE_EVENTS,
            me: me.clone(),
        })
    }

    pub(crate) fn snapshot(&self) -> Arc<S> {
        self.state.read().unwrap().value.clone()
    }

    pub(crate) fn subscribe_local(&self) -> broadcast::Receiver<Change<S>> {
        self.local.subscribe()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Remote observers fed by this hub.
    pub(crate) fn observers(&self) -> usize {
        self.outlets.lock().unwrap().len()
    }

    pub(crate) fn outlet_stats(&self) -> Vec<OutletStats> {
        self.outlets.lock().unwrap().values().map(|o| o.stats()).collect()
    }

    /// Apply `event`: the state changes, local observers get it, remote
    /// observers get it queued (projected through their view), all in the
    /// order events are applied.
    ///
    /// The model's `apply` and the views' event functions are user code run
    /// under the state lock: a panic in them is caught here, so the lock is
    /// never poisoned. If `apply` panics, the state is as the panic left it:
    /// every observer is resynced to it, and the panic is returned as
    /// [`Error::Panicked`]. A panicking view function resyncs that view's
    /// observers.
    pub(crate) fn apply(&self, event: S::Event) -> Result<(), Error> {
        // Lock invariant: user code under this lock runs only in `guarded`.
        let mut state = self.state.write().unwrap();
        let applied = guarded(|| Arc::make_mut(&mut state.value).apply(&event));
        state.version += 1;
        let version = state.version;
        if let Err(e) = applied {
            tracing::error!(model = S::NAME, error = %e, event = ?event, "applying an event panicked; observers are resynced");
            for outlet in self.outlets.lock().unwrap().values() {
                outlet.force_resync();
            }
            let _ = self.local.send(Change::Resynced(state.value.clone()));
            self.version.send_replace(version);
            return Err(e);
        }
        {
            let outlets = self.outlets.lock().unwrap();
            if !outlets.is_empty() {
                // One encode per event for every unfiltered observer.
                let plain = encode(&event);
                for outlet in outlets.values() {
                    match &outlet.view {
                        None => outlet.push(plain.clone().map(Some)),
                        Some(view) => outlet.push(
                            guarded(|| (view.event)(&state.value, &event))
                                .and_then(|e| e.map(|e| encode(&e)).transpose()),
                        ),
                    }
                }
            }
        }
        // Local signals go out under the state lock, so a snapshot taken
        // under the lock and a receiver subscribed with it line up exactly.
        let _ = self.local.send(Change::Event(event));
        self.version.send_replace(version);
        drop(state);
        Ok(())
    }

    /// Replace the whole state (a mirror resynced from upstream): local
    /// observers get `Resynced`, remote observers are resynced too.
    pub(crate) fn resync(&self, value: S) {
        let value = Arc::new(value);
        let mut state = self.state.write().unwrap();
        let old = std::mem::replace(&mut state.value, value.clone());
        state.version += 1;
        let version = state.version;
        for outlet in self.outlets.lock().unwrap().values() {
            outlet.force_resync();
        }
        // Still under the state lock, as in `apply`: see `resubscribe_local`.
        let _ = self.local.send(Change::Resynced(value));
        self.version.send_replace(version);
        drop(state);
        drop(old); // the user's state type: dropped outside the lock
    }

    /// A mirror stopped following its model: local observers get
    /// `Stopped`; remote observers keep the last state.
    pub(crate) fn stop(&self, why: Error) {
        let mut state = self.state.write().unwrap();
        state.version += 1;
        let _ = self.local.send(Change::Stopped(why));
        self.version.send_replace(state.version);
    }

    /// The current state and a receiver of exactly the changes after it
    /// (for a local reader that lagged: it continues from here).
    pub(crate) fn resubscribe_local(&self) -> (Arc<S>, broadcast::Receiver<Change<S>>) {
        let state = self.state.read().unwrap();
        (state.value.clone(), self.local.subscribe())
    }

    /// A new remote observer, starting from the current state (returned,
    /// projected, encoded). Events applied from now on are queued for it.
    pub(crate) fn open_outlet(&self, view: Option<Arc<Projection<S>>>) -> Result<(Arc<Outlet<S>>, Bytes), Error> {
        let state = self.state.read().unwrap();
        let initial = match &view {
            None => encode(&*state.value)?,
            Some(v) => encode(&guarded(|| (v.state)(&state.value))?)?,
        };
        let outlet = Arc::new(Outlet {
            id: next_id(),
            view,
            hub: self.me.clone(),
            queue: Mutex::new(Queue { next_seq: 1, ..Queue::default() }),
            wake: Notify::new(),
            limit: self.queue_limit,
        });
        self.outlets.lock().unwrap().insert(outlet.id, outlet.clone());
        drop(state);
        Ok((outlet, initial))
    }

    fn remove_outlet(&self, id: u64) {
        let removed = self.outlets.lock().unwrap().remove(&id);
        drop(removed); // holds a view's user functions: dropped outside the lock
    }
}

/// Run user code (a model's `apply`, a view's functions) that runs under
/// the hub's locks, so that a panic in it cannot unwind through them.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, Error> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let message = match p.downcast::<String>() {
            Ok(s) => *s,
            Err(p) => p.downcast_ref::<&str>().map_or_else(|| "a non-string panic".to_string(), |s| (*s).to_string()),
        };
        Error::Panicked { message }
    })
}

#[derive(Default)]
struct Queue {
    /// Events not yet sent, each with the observer's sequence number.
    events: VecDeque<(u64, Bytes)>,
    /// Encoded size of `events`.
    bytes: usize,
    /// The observer fell behind (or upstream resynced): send the full state
    /// instead of the queued events.
    resync: bool,
    /// Sequence number of the next event for this observer.
    next_seq: u64,
    /// Events dropped for a resync, since the start (for stats).
    overflows: u64,
    closed: bool,
    attached: bool,
    /// Where each event goes at once, as it is applied (a Twisted peer's
    /// copy: see [`Outlet::attach_direct`]), instead of the queue.
    sink: Option<Sink>,
}

/// Takes each event of a directly attached observer as it is applied
/// (`None`: the observer cannot follow, it needs the whole state).
pub(crate) type Sink = Box<dyn Fn(Option<&Bytes>) + Send + Sync>;

/// Queue figures of one remote observer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutletStats {
    /// Events waiting to be sent.
    pub queued: usize,
    /// Their encoded size in bytes.
    pub queued_bytes: usize,
    /// Times the queue overflowed and the observer was switched to a resync.
    pub overflows: u64,
    /// Whether a full-state resync is pending.
    pub resync_pending: bool,
}

/// One remote observer of a hub, on the owner's side.
pub(crate) struct Outlet<S: Cacheable> {
    id: u64,
    view: Option<Arc<Projection<S>>>,
    hub: Weak<Hub<S>>,
    queue: Mutex<Queue>,
    wake: Notify,
    limit: usize,
}

impl<S: Cacheable> Outlet<S> {
    fn push(&self, event: Result<Option<Bytes>, Error>) {
        let mut q = self.queue.lock().unwrap();
        if q.closed {
            return;
        }
        if let Some(sink) = &q.sink {
            match event {
                Ok(None) => {}
                Ok(Some(bytes)) => sink(Some(&bytes)),
                Err(e) => {
                    tracing::error!(error = %e, "model event not sent; the observer cannot follow");
                    sink(None);
                }
            }
            return;
        }
        match event {
            Ok(None) => return, // filtered out for this observer
            Ok(Some(bytes)) if !q.resync => {
                let seq = q.next_seq;
                q.next_seq += 1;
                q.bytes += bytes.len();
                q.events.push_back((seq, bytes));
                if q.events.len() > self.limit || q.bytes > DEFAULT_QUEUE_BYTES {
                    // Bounded: drop what is queued, send the state instead.
                    q.events.clear();
                    q.bytes = 0;
                    q.resync = true;
                    q.overflows += 1;
                }
            }
            Ok(Some(_)) => q.next_seq += 1, // covered by the pending resync
            Err(e) => {
                tracing::error!(error = %e, "model event not sent; observer will be resynced");
                q.events.clear();
                q.bytes = 0;
                q.resync = true;
            }
        }
        drop(q);
        self.wake.notify_one();
    }

    fn force_resync(&self) {
        let mut q = self.queue.lock().unwrap();
        if let Some(sink) = &q.sink {
            sink(None);
            return;
        }
        q.events.clear();
        q.bytes = 0;
        q.resync = true;
        drop(q);
        self.wake.notify_one();
    }

    fn stats(&self) -> OutletStats {
        let q = self.queue.lock().unwrap();
        OutletStats { queued: q.events.len(), queued_bytes: q.bytes, overflows: q.overflows, resync_pending: q.resync }
    }

    /// Ask for a full-state resync (the observer saw a gap).
    pub(crate) fn request_resync(&self) {
        self.force_resync();
    }

    /// Stop feeding this observer (its cache was dropped or its connection
    /// closed).
    pub(crate) fn close(&self) {
        self.queue.lock().unwrap().closed = true;
        self.wake.notify_one();
        if let Some(hub) = self.hub.upgrade() {
            hub.remove_outlet(self.id);
        }
    }

    /// Start delivering to `observer` (once).
    pub(crate) fn attach(self: &Arc<Self>, observer: Arc<dyn Observer>) -> Result<(), Error> {
        {
            let mut q = self.queue.lock().unwrap();
            if q.closed {
                return Err(Error::Disconnected);
            }
            if std::mem::replace(&mut q.attached, true) {
                return Err(Error::protocol("this cache feed is already attached"));
            }
        }
        tokio::spawn(self.clone().deliver(observer));
        Ok(())
    }

    /// Send each event to `sink` as it is applied, from the model's
    /// `apply` (under its locks: the sink must only queue), starting with
    /// the events queued since the outlet opened. There is no batching and
    /// no resync: `sink` gets `None` where a resync would be needed.
    pub(crate) fn attach_direct(&self, sink: Sink) -> Result<(), Error> {
        let mut q = self.queue.lock().unwrap();
        if q.closed {
            return Err(Error::Disconnected);
        }
        if std::mem::replace(&mut q.attached, true) {
            return Err(Error::protocol("this cache feed is already attached"));
        }
        if std::mem::take(&mut q.resync) {
            sink(None);
        }
        for (_, bytes) in q.events.drain(..) {
            sink(Some(&bytes));
        }
        q.bytes = 0;
        q.sink = Some(sink);
        Ok(())
    }

    /// The next batch: the full state if a resync is pending, else every
    /// queued event. `None` once closed.
    fn next_batch(&self) -> Option<Result<Batch, Error>> {
        let hub = self.hub.upgrade()?;
        // Lock order as in `Hub::apply`: state, then queue.
        let state = hub.state.read().unwrap();
        let mut q = self.queue.lock().unwrap();
        if q.closed {
            return None;
        }
        let resync = if std::mem::take(&mut q.resync) {
            let bytes = match &self.view {
                None => encode(&*state.value),
                Some(v) => guarded(|| (v.state)(&state.value)).and_then(|s| encode(&s)),
            };
            match bytes {
                Ok(state) => Some(Snapshot { seq: q.next_seq - 1, state }),
                Err(e) => return Some(Err(e)),
            }
        } else {
            None
        };
        let events = q.events.drain(..).collect();
        q.bytes = 0;
        Some(Ok(Batch { resync, events }))
    }

    /// The delivery task: one batch in flight at a time, so the owner holds
    /// at most the queue limit plus one batch per observer.
    async fn deliver(self: Arc<Self>, observer: Arc<dyn Observer>) {
        loop {
            let batch = match self.next_batch() {
                None => return,
                Some(Err(e)) => {
                    tracing::error!(error = %e, "cannot resync an observer; dropping it");
                    self.close();
                    return;
                }
                Some(Ok(b)) if b.resync.is_none() && b.events.is_empty() => {
                    self.wake.notified().await;
                    continue;
                }
                Some(Ok(b)) => b,
            };
            if let Err(e) = observer.deliver(batch).await {
                if e.is_link_failure() {
                    tracing::debug!(model = S::NAME, error = %e, "observer gone; unsubscribing it");
                } else {
                    // Alive but unable to follow (e.g. an older schema that
                    // cannot decode the state): it was told, and stops.
                    tracing::warn!(model = S::NAME, error = %e, "observer refused a batch; unsubscribing it");
                }
                self.close();
                return;
            }
        }
    }
}
