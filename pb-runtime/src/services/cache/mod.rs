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
//!   `Resynced` with a whole new state, or `Stopped` when a mirror can no
//!   longer follow its model;
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
//!
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
//! So a model that changes faster than the network drains reaches its
//! observers as resyncs, not as events. Applying 10,000 events in a tight
//! loop overflows the queue of even a single observer on a local link
//! (1,024 events pile up while the first batch is in flight), and that
//! observer sees one or more `Resynced` with the state after them, none of
//! the 10,000 events. The state always converges; the events do not all
//! arrive. When every event matters (an audit log, a chat history), do not
//! rely on a cache for them: send them with ordinary remote calls to an
//! observer object (each call awaited, so the sender is held back by the
//! receiver), or make each event carry what the reader needs (a sequence
//! number it can fetch missing ones by), and keep caches for state.
//!
//! # Failures in user code and newer schemas
//!
//! [`Cacheable::apply`] runs inside the model's locks. A panic in it is
//! caught there: no lock is poisoned and no other cache is affected. In a
//! mirror (an event a peer sent), the mirror asks its owner for the full
//! state and observers get it as `Resynced`; in the owner, the panic reaches
//! the caller of [`Model::apply`] after observers were resynced to the state
//! the panic left. A view's projection functions are guarded the same way.
//!
//! A mirror built from an older schema than its owner's may receive an
//! event it cannot decode (a variant added at the end): it asks for the
//! full state instead, so its observers get `Resynced` where newer ones get
//! the event. If the state itself does not decode, the mirror stops: its
//! observers get [`Change::Stopped`] with the reason, it keeps its last
//! state, [`Cache::is_live`] turns false, and the owner logs and
//! unsubscribes it. (`pb-idl compat` reports these verdicts.)
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
//! # Twisted peers
//!
//! Over Twisted PB's wire a cache is Twisted's cacheable: a model's cache
//! reaches Python as a `pb.RemoteCache` whose `observe_<variant>` methods
//! are called as the model applies each event (no queue and no resync: a
//! Twisted observer that cannot follow is disconnected), and a Twisted
//! `pb.Cacheable` arrives as a mirror. See
//! [`twisted`](crate::twisted#caches) for the mapping.
//!
//! Model states and events are plain data (copies): references inside them
//! are not supported.

mod hub;
mod mirrors;
mod model;
mod protocol;
mod replay;
mod state;
mod travel;
mod twisted;
mod upstream;
mod view;

pub use hub::OutletStats;
pub use model::Model;
#[doc(hidden)]
pub use protocol::{Batch, Feed, Observer, Snapshot};
#[doc(hidden)]
pub use replay::track_replay_cache;
pub use state::{Cacheable, Change};
pub use view::Cache;
