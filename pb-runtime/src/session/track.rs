//! The proxies a session heals, and how each was obtained.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

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

/// One proxy the session heals.
pub(crate) struct Tracked {
    handle: WeakHandle,
    refetch: Refetch,
    /// The replayed path, for logs: `root`, `registry.get(UserManager)`, ...
    path: String,
    /// The last replay failed: the proxy still points at a dead link, and
    /// the session retries it while connected.
    stale: bool,
}

impl SessionShared {
    fn track(&self, handle: &ProxyHandle, path: String, refetch: Refetch) {
        let mut tracked = self.tracked.lock().unwrap();
        let seq = tracked.next_seq;
        if !handle.set_session(self.me.clone(), seq) {
            return; // already healed by a session
        }
        tracked.next_seq += 1;
        tracked.by_seq.insert(seq, Tracked { handle: handle.downgrade(), refetch, path, stale: false });
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
    /// references in. Returns (healed, failed).
    pub(super) async fn heal(&self, conn: &Connection, only_stale: bool) -> (usize, usize) {
        let snapshot: Vec<(u64, ProxyHandle, Refetch, String)> = {
            let tracked = self.tracked.lock().unwrap();
            tracked
                .by_seq
                .iter()
                .filter(|(_, t)| !only_stale || t.stale)
                .filter_map(|(seq, t)| Some((*seq, t.handle.upgrade()?, t.refetch.clone(), t.path.clone())))
                .collect()
        };
        let peer = self.peer();
        let (mut healed, mut failed) = (0, 0);
        for (seq, handle, refetch, path) in snapshot {
            let fresh = tokio::time::timeout(self.config.connect_timeout, refetch(conn.clone())).await;
            let ok = match fresh {
                Ok(Ok(rref)) => {
                    handle.retarget(rref);
                    tracing::info!(%peer, %path, "replayed");
                    true
                }
                Ok(Err(e)) => {
                    tracing::warn!(%peer, %path, error = %e, "replay failed; will retry while connected");
                    false
                }
                Err(_) => {
                    tracing::warn!(%peer, %path, "replay timed out; will retry while connected");
                    false
                }
            };
            if ok {
                healed += 1;
            } else {
                failed += 1;
            }
            if let Some(t) = self.tracked.lock().unwrap().by_seq.get_mut(&seq) {
                t.stale = !ok;
            }
        }
        (healed, failed)
    }
}

/// The proxies a session heals, in the order they were made (a child is
/// always made after the parent it is replayed through).
#[derive(Default)]
pub(crate) struct TrackedList {
    next_seq: u64,
    by_seq: std::collections::BTreeMap<u64, Tracked>,
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
                Err(_) => Err(Error::protocol("the replayed method returned an application error")),
            }
        })
    });
    session.track(handle, path, refetch);
}
