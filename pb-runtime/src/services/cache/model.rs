//! The owner of a model's state.

use std::fmt;
use std::sync::Arc;

use super::hub::{self, Hub, OutletStats};
use super::state::{Cacheable, Projection};
use super::view::Cache;

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
    ///
    /// # Panics
    ///
    /// If [`Cacheable::apply`] panics, the panic is caught inside the model
    /// (no lock is poisoned, other models and caches are unaffected), every
    /// observer is resynced to the state as the panic left it, and then this
    /// call panics with the same message.
    pub fn apply(&self, event: S::Event) {
        if let Err(e) = self.hub.apply(event) {
            panic!("{e}");
        }
    }

    /// The current state.
    pub fn state(&self) -> Arc<S> {
        self.hub.snapshot()
    }

    /// The view of the whole model (what to return from a remote method).
    pub fn cache(&self) -> Cache<S> {
        Cache::local(self.hub.clone(), None, self.view_id)
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
        Cache::local(self.hub.clone(), Some(Arc::new(projection)), hub::next_id())
    }

    /// Remote observers subscribed now (mirrors in other processes).
    pub fn observers(&self) -> usize {
        self.hub.observers()
    }

    /// Whether `cache` is a local view of this model (not a mirror): for
    /// example a cache sent out and back again, which arrives as the view
    /// that was sent.
    pub fn is_view(&self, cache: &Cache<S>) -> bool {
        !cache.is_mirror() && cache.shares_hub(&self.hub)
    }

    /// Queue figures of each remote observer.
    pub fn observer_stats(&self) -> Vec<OutletStats> {
        self.hub.outlet_stats()
    }
}
