//! Handles derived from a healed one, healed by replaying how they were
//! obtained: a registry lookup, a `#[pb(replay)]` method, a login.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::heal::{Heal, HealFuture, HealSlot};
use super::interface::Interface;
use super::proxy::{ProxyHandle, WeakHandle};
use super::reference::Ref;
use crate::connection::RemoteRef;
use crate::{Connection, Error};

/// A boxed future of a fresh reference.
pub(crate) type Refetched = Pin<Box<dyn Future<Output = Result<Arc<RemoteRef>, Error>> + Send>>;

/// How to obtain a fresh reference for a proxy on a new connection. Parents
/// are healed before their children, so a refetch through a parent proxy
/// already goes over the new link. The connection is the session's new one,
/// `None` in a session without pb connections (see [`Heal::heal`]).
pub(crate) type Refetch = Arc<dyn Fn(Option<Connection>) -> Refetched + Send + Sync>;

/// A proxy, healed by refetching a reference and retargeting it.
struct ProxyTarget {
    handle: WeakHandle,
    refetch: Refetch,
}

impl Heal for ProxyTarget {
    fn is_alive(&self) -> bool {
        self.handle.is_alive()
    }
    fn heal(&self, conn: Option<Connection>) -> HealFuture {
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

/// Heal `child` with whatever heals `parent`, by `refetch`; `path` names the
/// replay in logs. Nothing happens if nothing heals `parent`.
pub(crate) fn track_child(parent: &ProxyHandle, child: &ProxyHandle, path: String, refetch: Refetch) {
    let Some(healer) = parent.healer() else { return };
    track(&*healer, child, path, refetch);
}

/// Heal `handle` with `healer`, by `refetch`.
pub(crate) fn track(healer: &dyn super::heal::Healer, handle: &ProxyHandle, path: String, refetch: Refetch) {
    let target = Box::new(ProxyTarget { handle: handle.downgrade(), refetch });
    healer.track(&mut |slot: HealSlot| handle.set_healer(slot), path, target);
}

/// A replayed method answered with its own error `e`: a `pb::Error` (say,
/// [`Error::Unauthorized`] from a login) is kept as is, any other error type
/// becomes a protocol error naming the replay.
pub(crate) fn application_error<E: 'static>(e: E) -> Error {
    let any: Box<dyn std::any::Any> = Box::new(e);
    match any.downcast::<Error>() {
        Ok(e) => *e,
        Err(_) => Error::protocol("the replayed method returned an application error"),
    }
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
    let Some(handle) = T::proxy_handle(child) else { return };
    if parent.healer().is_none() {
        return;
    }
    let args = Arc::new(args);
    let path = format!("{}.{method_name}() -> {}", parent.interface(), T::NAME);
    let replay_through = parent.clone();
    let refetch: Refetch = Arc::new(move |_conn| {
        let (parent, args) = (replay_through.clone(), args.clone());
        Box::pin(async move {
            match parent.call::<A, Result<Ref<T>, E>>(method, &*args).await? {
                Ok(fresh) => T::proxy_handle(fresh.as_arc())
                    .map(|h| h.target())
                    .ok_or_else(|| Error::protocol("the replayed method returned a local object")),
                Err(e) => Err(application_error(e)),
            }
        })
    });
    track_child(parent, handle, path, refetch);
}
