//! The proxies a session heals, and how each was obtained.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::SessionShared;
use crate::anyref::AnyRef;
use crate::proxy::{ProxyHandle, RemoteRef, WeakHandle};
use crate::registry::Locator;
use crate::{Connection, Error, Interface, Ref};

type Refetched = Pin<Box<dyn Future<Output = Result<Arc<RemoteRef>, Error>> + Send>>;

/// How to obtain a fresh reference for a proxy on a new connection. Parents
/// are healed before their children, so a refetch through a parent proxy
/// already goes over the new link.
type Refetch = Arc<dyn Fn(Connection) -> Refetched + Send + Sync>;

/// Something the session heals: a proxy, or a cache.
pub(crate) trait Heal: Send + Sync {
    /// Whether the proxy or cache still has users.
    fn is_alive(&self) -> bool;
    /// Replay its path on `conn` and swap the result in.
    fn heal(&self, conn: Connection) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;
    /// The server refused the path for good: calls through it fail with `error`.
    fn refuse(&self, _error: Error) {}
}

/// Whether a replay that failed with `e` should never be tried again: the
/// server refused it (a login whose credentials are no longer accepted, or
/// a path through such a login). Other failures are retried while connected.
fn is_refusal(e: &Error) -> bool {
    matches!(e, Error::Unauthorized)
}

/// What one round of replays did.
#[derive(Debug, Default)]
pub(super) struct HealReport {
    /// Paths replayed and swapped in.
    pub(super) healed: usize,
    /// Paths that failed and will be retried while connected.
    pub(super) failed: usize,
    /// Paths the server refused, given up: (path, why).
    pub(super) refused: Vec<(String, Error)>,
}

/// A proxy, healed by refetching a reference and retargeting it.
struct ProxyTarget {
    handle: WeakHandle,
    refetch: Refetch,
}

impl Heal for ProxyTarget {
    fn is_alive(&self) -> bool {
        self.handle.upgrade().is_some()
    }
    fn heal(&self, conn: Connection) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> {
        let (handle, refetch) = (self.handle.clone(), self.refetch.clone());
        Box::pin(async move {
            let Some(handle) = handle.upgrade() else { return Ok(()) };
            handle.retarget(refetch(conn).await?);
            Ok(())
        })
    }
    fn refuse(&self, error: Error) {
        if let Some(handle) = self.handle.upgrade() {
            handle.refuse(error);
        }
    }
}

/// One proxy or cache the session heals.
pub(crate) struct Tracked {
    target: Box<dyn Heal>,
    /// The replayed path, for logs: `root`, `registry.get(UserManager)`, ...
    path: String,
    /// The last replay failed: the proxy still points at a dead link, and
    /// the session retries it while connected.
    stale: bool,
    /// The server refused the path ([`is_refusal`]): never replayed again.
    refused: bool,
}

impl SessionShared {
    fn track(&self, handle: &ProxyHandle, path: String, refetch: Refetch) {
        let target = Box::new(ProxyTarget { handle: handle.downgrade(), refetch });
        self.track_with(|session, seq| handle.set_session(session, seq), path, target);
    }

    /// Track `target`; `attach` records the session in the proxy or cache
    /// (false if a session already heals it).
    pub(crate) fn track_with(
        &self,
        attach: impl FnOnce(Weak<SessionShared>, u64) -> bool,
        path: String,
        target: Box<dyn Heal>,
    ) {
        let mut tracked = self.tracked.lock().unwrap();
        let seq = tracked.next_seq;
        if !attach(self.me.clone(), seq) {
            return; // already healed by a session
        }
        tracked.next_seq += 1;
        tracked.by_seq.insert(seq, Tracked { target, path, stale: false, refused: false });
    }

    /// A tracked proxy is gone: drop its path (and the parent it holds).
    pub(crate) fn forget(&self, seq: u64) {
        let removed = self.tracked.lock().unwrap().by_seq.remove(&seq);
        drop(removed); // outside the lock: may drop a parent, which forgets itself
    }

    /// Whether some proxy's last replay failed.
    pub(super) fn has_stale(&self) -> bool {
        self.tracked.lock().unwrap().by_seq.values().any(|t| t.stale)
    }

    /// Replay the paths of live proxies on `conn` (every one, or only those
    /// whose last replay failed) in creation order, and swap the fresh
    /// references in. Paths the server refused are given up.
    pub(super) async fn heal(&self, conn: &Connection, only_stale: bool) -> HealReport {
        let snapshot: Vec<(u64, _, String)> = {
            let tracked = self.tracked.lock().unwrap();
            tracked
                .by_seq
                .iter()
                .filter(|(_, t)| !t.refused && (!only_stale || t.stale) && t.target.is_alive())
                .map(|(seq, t)| (*seq, t.target.heal(conn.clone()), t.path.clone()))
                .collect()
        };
        let peer = self.peer();
        let mut report = HealReport::default();
        for (seq, heal, path) in snapshot {
            let fresh = tokio::time::timeout(self.config.connect_timeout, heal).await;
            let (stale, refused) = match fresh {
                Ok(Ok(())) => {
                    tracing::info!(%peer, %path, "replayed");
                    report.healed += 1;
                    (false, None)
                }
                Ok(Err(e)) if is_refusal(&e) => {
                    tracing::warn!(%peer, %path, error = %e, "replay refused by the server; giving up this path");
                    (false, Some(e))
                }
                Ok(Err(e)) => {
                    tracing::warn!(%peer, %path, error = %e, "replay failed; will retry while connected");
                    report.failed += 1;
                    (true, None)
                }
                Err(_) => {
                    tracing::warn!(%peer, %path, "replay timed out; will retry while connected");
                    report.failed += 1;
                    (true, None)
                }
            };
            if let Some(t) = self.tracked.lock().unwrap().by_seq.get_mut(&seq) {
                t.stale = stale;
                if let Some(e) = &refused {
                    t.refused = true;
                    t.target.refuse(e.clone());
                }
            }
            if let Some(e) = refused {
                report.refused.push((path, e));
            }
        }
        report
    }
}

/// The proxies a session heals, in the order they were made (a child is
/// always made after the parent it is replayed through).
#[derive(Default)]
pub(crate) struct TrackedList {
    next_seq: u64,
    by_seq: std::collections::BTreeMap<u64, Tracked>,
}

/// A `#[pb(replay)]` method `method` of `parent` returned the cache
/// `child`: heal it by calling the method again and adopting the fresh copy
/// (its observers get `Resynced`). Called by generated code.
#[doc(hidden)]
pub fn track_replay_cache<S, A, E>(
    parent: &ProxyHandle,
    child: &crate::cache::Cache<S>,
    method: u32,
    method_name: &'static str,
    args: A,
) where
    S: crate::cache::Cacheable,
    A: Serialize + Send + Sync + 'static,
    E: DeserializeOwned + Send + 'static,
{
    let Some(session) = parent.session() else { return };
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
    let attach_to = child.clone();
    session.track_with(move |s, seq| attach_to.set_session(s, seq), path, target);
}

struct CacheTarget<S: crate::cache::Cacheable, A, E> {
    cache: Weak<crate::cache::Inner<S>>,
    parent: ProxyHandle,
    method: u32,
    args: Arc<A>,
    _e: std::marker::PhantomData<fn() -> E>,
}

impl<S, A, E> Heal for CacheTarget<S, A, E>
where
    S: crate::cache::Cacheable,
    A: Serialize + Send + Sync + 'static,
    E: DeserializeOwned + Send + 'static,
{
    fn is_alive(&self) -> bool {
        self.cache.strong_count() > 0
    }
    fn heal(&self, _conn: Connection) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> {
        let (cache, parent, method, args) = (self.cache.clone(), self.parent.clone(), self.method, self.args.clone());
        Box::pin(async move {
            let fresh = match parent.call::<A, Result<crate::cache::Cache<S>, E>>(method, &*args).await? {
                Ok(fresh) => fresh,
                Err(e) => return Err(application_error(e)),
            };
            match crate::cache::Cache::upgrade(&cache) {
                Some(cache) => cache.adopt(fresh),
                None => Ok(()),
            }
        })
    }
}

/// A replayed method answered with its own error `e`: a `pb::Error` (say,
/// [`Error::Unauthorized`] from a login) is kept as is, any other error type
/// becomes a protocol error naming the replay.
fn application_error<E: 'static>(e: E) -> Error {
    let any: Box<dyn std::any::Any> = Box::new(e);
    match any.downcast::<Error>() {
        Ok(e) => *e,
        Err(_) => Error::protocol("the replayed method returned an application error"),
    }
}

/// Live tracked proxies.
pub(super) fn live(session: &SessionShared) -> usize {
    session.tracked.lock().unwrap().by_seq.len()
}

/// A reconnecting proxy to the root of the session's server.
pub(super) fn track_root<T: ?Sized + Interface>(session: &Arc<SessionShared>) -> Result<Arc<T>, Error> {
    let conn = session.conn.read().unwrap().clone();
    let proxy = T::proxy(ProxyHandle::new(conn.root_ref::<T>()?, T::NAME));
    let handle = T::proxy_handle(&proxy).expect("a fresh proxy has a handle");
    let refetch: Refetch = Arc::new(|conn: Connection| Box::pin(async move { conn.root_ref::<T>() }));
    session.track(handle, "root".into(), refetch);
    Ok(proxy)
}

fn path_of(interface: &str, name: &Option<String>) -> String {
    match name {
        Some(n) => format!("registry.get({interface}, {n:?})"),
        None => format!("registry.get({interface})"),
    }
}

/// Repeat a registry lookup through `parent` (a registry proxy).
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

/// `parent.get::<T>()` returned `child`: heal it by repeating the lookup.
pub(crate) fn track_lookup<T: ?Sized + Interface>(parent: &ProxyHandle, child: &Arc<T>, name: Option<String>) {
    let (Some(session), Some(handle)) = (parent.session(), T::proxy_handle(child)) else { return };
    session.track(handle, path_of(T::NAME, &name), lookup_refetch(parent, T::ID, name));
}

/// A forwarding registry fetched `found` through `parent`.
pub(crate) fn track_any_lookup(parent: &ProxyHandle, found: &AnyRef, interface: u64, name: Option<String>) {
    let (Some(session), Some(handle)) = (parent.session(), found.proxy_handle()) else { return };
    let label = crate::anyref::interface_name(interface).unwrap_or("?");
    session.track(&handle, path_of(label, &name), lookup_refetch(parent, interface, name));
}

/// A `#[pb(replay)]` method `method` of `parent` returned `child`: heal it
/// by calling the method again with the same arguments. Called by generated code.
#[doc(hidden)]
pub fn track_replay<T, A, E>(parent: &ProxyHandle, child: &Arc<T>, method: u32, method_name: &'static str, args: A)
where
    T: ?Sized + Interface,
    A: Serialize + Send + Sync + 'static,
    E: DeserializeOwned + Send + 'static,
{
    let (Some(session), Some(handle)) = (parent.session(), T::proxy_handle(child)) else { return };
    let args = Arc::new(args);
    let path = format!("{}.{method_name}() -> {}", parent.interface(), T::NAME);
    let parent = parent.clone();
    let refetch: Refetch = Arc::new(move |_conn| {
        let (parent, args) = (parent.clone(), args.clone());
        Box::pin(async move {
            match parent.call::<A, Result<Ref<T>, E>>(method, &*args).await? {
                Ok(fresh) => T::proxy_handle(fresh.as_arc())
                    .map(|h| h.target())
                    .ok_or_else(|| Error::protocol("the replayed method returned a local object")),
                Err(e) => Err(application_error(e)),
            }
        })
    });
    session.track(handle, path, refetch);
}
