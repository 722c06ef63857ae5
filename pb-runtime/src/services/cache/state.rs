//! What a model is: the [`Cacheable`] trait, the [`Change`]s observers see,
//! and the projection of a per-observer view.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

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

/// A change observed on a [`Cache`](super::Cache).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Change<S: Cacheable> {
    /// An event, applied to the state.
    Event(S::Event),
    /// The whole state was replaced: after an outage, because this observer
    /// fell behind and missed events, or because an event could not be
    /// applied here (one this build cannot decode, or whose `apply`
    /// panicked).
    Resynced(Arc<S>),
    /// The mirror stopped following its model and will change no more (its
    /// state stays the last one received): the error says why, e.g. the
    /// owner runs a newer schema whose state this build cannot decode.
    Stopped(Error),
}

/// How a per-observer view shows a model: the state it sees, and each event
/// it sees (`None` hides the event). The event function gets the model's
/// state after the event was applied.
pub(crate) struct Projection<S: Cacheable> {
    pub(crate) state: Box<dyn Fn(&S) -> S + Send + Sync>,
    pub(crate) event: EventFilter<S>,
}

type EventFilter<S> = Box<dyn Fn(&S, &<S as Cacheable>::Event) -> Option<<S as Cacheable>::Event> + Send + Sync>;
