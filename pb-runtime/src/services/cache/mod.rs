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
mod mirrors;
mod model;
mod protocol;
mod replay;
mod state;
mod view;

pub use hub::OutletStats;
pub use model::Model;
#[doc(hidden)]
pub use protocol::{Batch, Feed, Observer, Snapshot};
#[doc(hidden)]
pub use replay::track_replay_cache;
pub use state::{Cacheable, Change};
pub use view::Cache;
