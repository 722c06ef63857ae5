//! Caches healed by replaying the `#[pb(replay)]` method that returned them.

use std::sync::{Arc, Weak};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::state::Cacheable;
use super::view::{Cache, CacheCore};
use crate::Connection;
use crate::references::ProxyHandle;
use crate::references::heal::{Heal, HealFuture, HealSlot};
use crate::references::replay::application_error;

/// A `#[pb(replay)]` method `method` of `parent` returned the cache
/// `child`: heal it by calling the method again and adopting the fresh copy
/// (its observers get `Resynced`). Called by generated code.
#[doc(hidden)]
pub fn track_replay_cache<S, A, E>(
    parent: &ProxyHandle,
    child: &Cache<S>,
    method: u32,
    method_name: &'static str,
    args: A,
) where
    S: Cacheable,
    A: Serialize + Send + Sync + 'static,
    E: DeserializeOwned + Send + 'static,
{
    let Some(healer) = parent.healer() else { return };
    if !child.is_mirror() {
        return;
    }
    let path = format!("{}.{method_name}() -> cache of {}", parent.interface(), S::NAME);
    let target = Box::new(CacheTarget::<S, A, E> {
        cache: child.downgrade(),
        parent: parent.clone(),
        method,
        args: Arc::new(args),
        _e: std::marker::PhantomData,
    });
    healer.track(&mut |slot: HealSlot| child.set_healer(slot), path, target);
}

struct CacheTarget<S: Cacheable, A, E> {
    cache: Weak<CacheCore<S>>,
    parent: ProxyHandle,
    method: u32,
    args: Arc<A>,
    _e: std::marker::PhantomData<fn() -> E>,
}

impl<S, A, E> Heal for CacheTarget<S, A, E>
where
    S: Cacheable,
    A: Serialize + Send + Sync + 'static,
    E: DeserializeOwned + Send + 'static,
{
    fn is_alive(&self) -> bool {
        self.cache.strong_count() > 0
    }
    fn heal(&self, _conn: Option<Connection>) -> HealFuture {
        let (cache, parent, method, args) = (self.cache.clone(), self.parent.clone(), self.method, self.args.clone());
        Box::pin(async move {
            let fresh = match parent.call::<A, Result<Cache<S>, E>>(method, &*args).await? {
                Ok(fresh) => fresh,
                Err(e) => return Err(application_error(e)),
            };
            match Cache::upgrade(&cache) {
                Some(cache) => cache.adopt(fresh),
                None => Ok(()),
            }
        })
    }
}
