//! The registry: locate objects by interface (and name), locally or through
//! upstream registries.
//!
//! A [`Registry`] is a local object that implements the built-in remote
//! interface [`Locator`], so the same lookup code works whether the registry
//! is in this process or five hops away:
//!
//! ```ignore
//! let users = registry.get::<dyn UserManager>().await?;          // a local Registry
//! let users = session.registry().get::<dyn UserManager>().await?; // a remote one
//! ```
//!
//! Each hop decides what it exposes (the seed: "a given node running a
//! registry in control of what any nodes behind it sees"): for every lookup a
//! registry first checks the interfaces it hides, then the objects it serves
//! itself, then its upstream registry, if it has one. What a forwarding
//! registry fetched from upstream is remembered while someone holds it (a
//! downstream peer it was handed to, or a local handle) and while its
//! upstream link is down, so it can hand the same (self-healing) reference
//! out again during an outage. Otherwise, within about a second of the last
//! holder letting go, the reference is released upstream and forgotten: a
//! relay's memory and exports follow what is in use, not every name ever
//! looked up.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::references::replay::{Refetch, track_child};
use crate::references::{AnyRef, Interface, IntoRoot, ProxyHandle, interface_name};
use crate::{ConnectionBuilder, Error};

/// What a registry lists for one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Interface name (or its id in hex when this process does not link it).
    pub interface: String,
    /// Interface id.
    pub interface_id: u64,
    /// The name it is registered under, if any.
    pub name: Option<String>,
    /// Whether the registry serves it itself or forwards it upstream.
    pub forwarded: bool,
}

/// The built-in remote interface of registries.
#[pb_macros::remote_interface(crate = "crate", name = "pb.Registry")]
pub trait Locator {
    /// The object registered for `interface` (an interface id) under `name`.
    async fn lookup(&self, interface: u64, name: Option<String>) -> Result<AnyRef, Error>;
    /// What this registry offers: its own objects, then upstream's, minus
    /// what it hides.
    async fn list(&self) -> Result<Vec<Listing>, Error>;
}

impl dyn Locator {
    /// The object registered for interface `T` (without a name).
    ///
    /// When this registry is a reconnecting session's proxy, the result is
    /// a reconnecting proxy too: after an outage the session repeats this
    /// lookup and swaps the fresh reference in.
    ///
    /// # Errors
    ///
    /// [`Error::NotRegistered`], a transport error, or
    /// [`Error::WrongInterface`] if the registry answered with another interface.
    pub async fn get<T: ?Sized + Interface>(&self) -> Result<Arc<T>, Error> {
        self.get_inner::<T>(None).await
    }

    /// The object registered for interface `T` under `name`.
    ///
    /// # Errors
    ///
    /// As `get`.
    pub async fn get_named<T: ?Sized + Interface>(&self, name: &str) -> Result<Arc<T>, Error> {
        self.get_inner::<T>(Some(name.to_string())).await
    }

    async fn get_inner<T: ?Sized + Interface>(&self, name: Option<String>) -> Result<Arc<T>, Error> {
        let object = self.lookup(T::ID, name.clone()).await?.downcast::<T>()?;
        if let (Some(parent), Some(child)) = (<dyn Locator as Interface>::proxy_handle(self), T::proxy_handle(&object))
        {
            track_child(parent, child, path_of(T::NAME, &name), lookup_refetch(parent, T::ID, name));
        }
        Ok(object)
    }
}

type Key = (u64, Option<String>);

/// A registry of objects by interface and optional name: local, forwarding
/// to an upstream registry, or a mix of both. Cheap to clone.
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<RegistryState>,
}

#[derive(Default)]
struct RegistryState {
    local: RwLock<BTreeMap<Key, AnyRef>>,
    hidden: RwLock<HashSet<u64>>,
    upstream: Option<Arc<dyn Locator>>,
    /// What was fetched from upstream and is still held somewhere, handed
    /// out again on later lookups.
    cache: Mutex<Fetched>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let local = self.inner.local.read().unwrap();
        f.debug_struct("Registry")
            .field("local", &local.keys().collect::<Vec<_>>())
            .field("forwarding", &self.inner.upstream.is_some())
            .finish()
    }
}

impl Registry {
    /// An empty registry that serves only what is registered in it.
    pub fn local() -> Registry {
        Registry::default()
    }

    /// A registry that answers from `upstream` whatever it does not serve
    /// itself or hide.
    pub fn forwarding(upstream: Arc<dyn Locator>) -> Registry {
        let inner = Arc::new(RegistryState { upstream: Some(upstream), ..RegistryState::default() });
        spawn_pruner(&inner);
        Registry { inner }
    }

    /// Register `object` as the (unnamed) object of interface `T`,
    /// replacing any earlier one.
    pub fn register<T: ?Sized + Interface>(&self, object: Arc<T>) -> &Self {
        // Lock invariant: the replaced object is the user's; drop it unlocked.
        let replaced = self.inner.local.write().unwrap().insert((T::ID, None), AnyRef::new(object));
        drop(replaced); // a user object: dropped outside the lock
        self
    }

    /// Register `object` under `name` for interface `T`.
    pub fn register_named<T: ?Sized + Interface>(&self, name: &str, object: Arc<T>) -> &Self {
        let replaced = self.inner.local.write().unwrap().insert((T::ID, Some(name.to_string())), AnyRef::new(object));
        drop(replaced); // a user object: dropped outside the lock
        self
    }

    /// Builder form of [`register`](Self::register): serve `object` here.
    pub fn serve<T: ?Sized + Interface>(self, object: Arc<T>) -> Self {
        self.register(object);
        self
    }

    /// Remove the object registered for `T` under `name`.
    pub fn unregister<T: ?Sized + Interface>(&self, name: Option<&str>) -> bool {
        let removed = self.inner.local.write().unwrap().remove(&(T::ID, name.map(str::to_string)));
        removed.is_some() // a user object: dropped outside the lock
    }

    /// Hide interface `T`: lookups fail as if nothing were registered, even
    /// if upstream has one.
    pub fn hide<T: ?Sized + Interface>(self) -> Self {
        self.inner.hidden.write().unwrap().insert(T::ID);
        self
    }

    /// The registry as its remote interface (to serve it, or to use the
    /// same code for local and remote registries).
    pub fn locator(&self) -> Arc<dyn Locator> {
        Arc::new(self.clone())
    }

    /// The object registered for `T` (here or upstream).
    ///
    /// # Errors
    ///
    /// As [`Locator::lookup`].
    pub async fn get<T: ?Sized + Interface>(&self) -> Result<Arc<T>, Error> {
        self.find(T::ID, None).await?.downcast::<T>()
    }

    /// The object registered for `T` under `name` (here or upstream).
    ///
    /// # Errors
    ///
    /// As [`Locator::lookup`].
    pub async fn get_named<T: ?Sized + Interface>(&self, name: &str) -> Result<Arc<T>, Error> {
        self.find(T::ID, Some(name.to_string())).await?.downcast::<T>()
    }

    async fn find(&self, interface: u64, name: Option<String>) -> Result<AnyRef, Error> {
        let not_registered = || Error::NotRegistered {
            interface: interface_name(interface).map_or_else(|| format!("{interface:#x}"), str::to_string),
            name: name.clone(),
        };
        if self.inner.hidden.read().unwrap().contains(&interface) {
            return Err(not_registered());
        }
        let key = (interface, name.clone());
        if let Some(found) = self.inner.local.read().unwrap().get(&key) {
            return Ok(found.clone());
        }
        let Some(upstream) = &self.inner.upstream else {
            return Err(not_registered());
        };
        let cached = self.inner.cache.lock().unwrap().get(&key);
        if let Some(cached) = cached {
            return Ok(cached);
        }
        let found = fetch_upstream(upstream, interface, name.clone()).await?;
        let mut cache = self.inner.cache.lock().unwrap();
        let (kept, released) = cache.insert(key, found);
        drop(cache);
        drop(released); // Lock invariant: proxies are released outside the lock
        Ok(kept)
    }

    /// How many references fetched from upstream this registry remembers,
    /// after releasing those nobody holds (each left is held by a
    /// downstream peer or a local handle, or waits out an upstream outage).
    pub fn forwarded(&self) -> usize {
        let mut cache = self.inner.cache.lock().unwrap();
        let released = cache.prune();
        let len = cache.map.len();
        drop(cache);
        drop(released);
        len
    }
}

/// How often a forwarding registry releases what nobody holds any more.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

/// References fetched from upstream. Each is kept while someone else holds
/// it (a downstream peer it was exported to, a local handle), or while its
/// upstream link is down (so the same self-healing reference can be handed
/// out again during the outage); otherwise it is released (upstream too)
/// at the next prune: on lookups, once the map doubled, and every
/// [`PRUNE_EVERY`].
#[derive(Default)]
struct Fetched {
    map: HashMap<Key, AnyRef>,
    /// Prune when the map grows past this.
    prune_at: usize,
}

impl Fetched {
    fn get(&self, key: &Key) -> Option<AnyRef> {
        self.map.get(key).cloned()
    }

    /// Remember `found` under `key`, unless one got there first: returns
    /// the reference to hand out, and what to release (outside the lock).
    fn insert(&mut self, key: Key, found: AnyRef) -> (AnyRef, Vec<AnyRef>) {
        if let Some(existing) = self.get(&key) {
            return (existing, vec![found]);
        }
        let released = if self.map.len() >= self.prune_at { self.prune() } else { Vec::new() };
        self.map.insert(key, found.clone());
        (found, released)
    }

    /// Forget what nobody else holds and is not waiting out an outage;
    /// returns it, to be dropped outside the lock.
    fn prune(&mut self) -> Vec<AnyRef> {
        let unused: Vec<Key> = self
            .map
            .iter()
            .filter(|(_, r)| !r.is_held_elsewhere() && r.proxy_handle().is_none_or(|h| h.is_connected()))
            .map(|(k, _)| k.clone())
            .collect();
        let released = unused.iter().filter_map(|k| self.map.remove(k)).collect();
        self.prune_at = (self.map.len() * 2).max(64);
        released
    }
}

/// Prune `state`'s fetched references every [`PRUNE_EVERY`] while it
/// exists (when there is a runtime to do it on; lookups prune too).
fn spawn_pruner(state: &Arc<RegistryState>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let weak = Arc::downgrade(state);
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(PRUNE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(state) = weak.upgrade() else { return };
            let released = state.cache.lock().unwrap().prune();
            drop(state);
            drop(released);
        }
    });
}

/// Look `interface` up upstream. Through a session's registry proxy the
/// result is a tracked (self-healing) proxy, because it is typed here via the
/// process-wide interface table and fetched with [`dyn Locator::get`]'s
/// tracking.
async fn fetch_upstream(upstream: &Arc<dyn Locator>, interface: u64, name: Option<String>) -> Result<AnyRef, Error> {
    let found = upstream.lookup(interface, name.clone()).await?;
    if let (Some(parent), Some(child)) = (<dyn Locator as Interface>::proxy_handle(&**upstream), found.proxy_handle()) {
        let label = interface_name(interface).unwrap_or("?");
        track_child(parent, &child, path_of(label, &name), lookup_refetch(parent, interface, name));
    }
    Ok(found)
}

/// How a lookup is named in logs: `registry.get(UserManager)`.
fn path_of(interface: &str, name: &Option<String>) -> String {
    match name {
        Some(n) => format!("registry.get({interface}, {n:?})"),
        None => format!("registry.get({interface})"),
    }
}

/// Heal a looked-up proxy by repeating the lookup through `parent` (a
/// registry proxy, itself healed first).
fn lookup_refetch(parent: &ProxyHandle, interface: u64, name: Option<String>) -> Refetch {
    let parent = parent.clone();
    Arc::new(move |_conn| {
        let registry = <dyn Locator as Interface>::proxy(parent.clone());
        let name = name.clone();
        Box::pin(async move {
            let found = registry.lookup(interface, name).await?;
            found
                .proxy_handle()
                .map(|h| h.target())
                .ok_or_else(|| Error::protocol("the registry returned a local object"))
        })
    })
}

impl IntoRoot for Registry {
    fn into_root(self) -> Arc<dyn Fn() -> ConnectionBuilder + Send + Sync> {
        self.locator().into_root()
    }
}

#[pb_macros::remote_impl(crate = "crate")]
impl Locator for Registry {
    async fn lookup(&self, interface: u64, name: Option<String>) -> Result<AnyRef, Error> {
        self.find(interface, name).await
    }

    async fn list(&self) -> Result<Vec<Listing>, Error> {
        let hidden = self.inner.hidden.read().unwrap().clone();
        let mut out: Vec<Listing> = self
            .inner
            .local
            .read()
            .unwrap()
            .keys()
            .filter(|(iface, _)| !hidden.contains(iface))
            .map(|(iface, name)| listing(*iface, name.clone(), false))
            .collect();
        if let Some(upstream) = &self.inner.upstream {
            let mine: HashSet<Key> = out.iter().map(|l| (l.interface_id, l.name.clone())).collect();
            for mut l in upstream.list().await? {
                if !hidden.contains(&l.interface_id) && !mine.contains(&(l.interface_id, l.name.clone())) {
                    l.forwarded = true;
                    out.push(l);
                }
            }
        }
        Ok(out)
    }
}

fn listing(interface_id: u64, name: Option<String>, forwarded: bool) -> Listing {
    let interface = interface_name(interface_id).map_or_else(|| format!("{interface_id:#x}"), str::to_string);
    Listing { interface, interface_id, name, forwarded }
}
