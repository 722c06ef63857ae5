//! The client side of a reference: what a generated proxy calls through.

use std::fmt;
use std::sync::{Arc, OnceLock, RwLock, Weak};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::connection::{AbandonGuard, Shared};
use crate::wire::Header;

/// One reference to an object the peer exported, on one connection. When the
/// last handle goes, a release is sent (PB's decref).
pub(crate) struct RemoteRef {
    pub(crate) conn: Arc<Shared>,
    pub(crate) id: u64,
    /// Counted references are released on drop; the root is not counted.
    counted: bool,
}

impl RemoteRef {
    pub(crate) fn new(conn: Arc<Shared>, id: u64, counted: bool) -> Self {
        RemoteRef { conn, id, counted }
    }
}

impl RemoteRef {
    /// The id if this reference is on `conn`.
    pub(crate) fn id_on(&self, conn: &Arc<Shared>) -> Option<u64> {
        Arc::ptr_eq(&self.conn, conn).then_some(self.id)
    }
}

impl Drop for RemoteRef {
    fn drop(&mut self) {
        if self.counted {
            self.conn.drop_import(self.id, self);
        }
    }
}

/// The handle inside every generated proxy: which object on which connection
/// it calls. The target can be swapped in place (a reconnecting session heals
/// live proxies this way), so the application keeps the same `Arc`.
#[derive(Clone)]
pub struct ProxyHandle {
    core: Arc<ProxyCore>,
}

pub(crate) struct ProxyCore {
    interface: &'static str,
    target: RwLock<Arc<RemoteRef>>,
    /// The reconnecting session that heals this proxy, if it is tracked,
    /// and the proxy's place in that session's list.
    session: OnceLock<(Weak<crate::session::SessionShared>, u64)>,
    /// Set when the session gave up healing the proxy because the server
    /// refused its path (login refused): every call fails with this error.
    /// Boxed: a live proxy costs 16 bytes for it, not the size of `Error`.
    refused: OnceLock<Box<Error>>,
}

impl Drop for ProxyCore {
    fn drop(&mut self) {
        // Forget the path at once: it holds the parent proxy it replays through.
        if let Some((session, seq)) = self.session.get()
            && let Some(session) = session.upgrade()
        {
            session.forget(*seq);
        }
    }
}

/// A handle that does not keep the proxy alive (the session's list of
/// proxies to heal holds these).
#[derive(Clone)]
pub(crate) struct WeakHandle(Weak<ProxyCore>);

impl WeakHandle {
    pub(crate) fn upgrade(&self) -> Option<ProxyHandle> {
        self.0.upgrade().map(|core| ProxyHandle { core })
    }
}

impl fmt::Debug for ProxyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.target();
        write!(f, "{} #{} on {}", self.core.interface, t.id, t.conn.peer)
    }
}

impl ProxyHandle {
    pub(crate) fn new(target: Arc<RemoteRef>, interface: &'static str) -> Self {
        ProxyHandle {
            core: Arc::new(ProxyCore {
                interface,
                target: RwLock::new(target),
                session: OnceLock::new(),
                refused: OnceLock::new(),
            }),
        }
    }

    pub(crate) fn target(&self) -> Arc<RemoteRef> {
        self.core.target.read().unwrap().clone()
    }

    /// Point the proxy at a fresh reference (after a reconnect). The old
    /// reference is released (a no-op on a closed connection).
    pub(crate) fn retarget(&self, target: Arc<RemoteRef>) {
        let old = std::mem::replace(&mut *self.core.target.write().unwrap(), target);
        drop(old);
    }

    /// The session gave up healing this proxy: from now on every call fails
    /// with `error` (instead of `Disconnected` from its dead link).
    pub(crate) fn refuse(&self, error: Error) {
        let _ = self.core.refused.set(Box::new(error));
    }

    pub(crate) fn downgrade(&self) -> WeakHandle {
        WeakHandle(Arc::downgrade(&self.core))
    }

    /// The session that heals this proxy, if any.
    pub(crate) fn session(&self) -> Option<Arc<crate::session::SessionShared>> {
        self.core.session.get().and_then(|(s, _)| s.upgrade())
    }

    /// Attach the proxy to a session; false if it already was.
    pub(crate) fn set_session(&self, session: Weak<crate::session::SessionShared>, seq: u64) -> bool {
        self.core.session.set((session, seq)).is_ok()
    }

    /// Whether the session heals this proxy after an outage.
    pub fn is_reconnecting(&self) -> bool {
        self.session().is_some()
    }

    /// The object's id if this proxy points at an object on `conn` (so it can
    /// be sent back as the peer's own reference).
    pub(crate) fn id_on(&self, conn: &Arc<Shared>) -> Option<u64> {
        let t = self.core.target.read().unwrap();
        Arc::ptr_eq(&t.conn, conn).then_some(t.id)
    }

    /// The interface name of the proxied object.
    pub fn interface(&self) -> &'static str {
        self.core.interface
    }

    /// Whether the connection under the proxy is up.
    pub fn is_connected(&self) -> bool {
        !self.target().conn.is_closed()
    }

    /// Call `method` with `args` (a tuple) and decode the reply as `R` (the
    /// method's `Result<T, E>`). Transport failures come back as the outer
    /// `Err`; the generated proxy converts them with `E::from`.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] if the link is down, [`Error::ConnectionLost`]
    /// if it dropped while waiting, or any error the peer reported for the
    /// call (unknown object or method, decode error, panic).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the call; if it was sent it still runs on
    /// the far side, and its reply is discarded.
    pub async fn call<A: Serialize + ?Sized, R: DeserializeOwned + Send + 'static>(
        &self,
        method: u32,
        args: &A,
    ) -> Result<R, Error> {
        let result = self.call_once(method, args).await;
        if let Err(e) = &result
            && e.is_link_failure()
            && let Some(session) = self.session()
        {
            session.kick(); // a failed call also marks the outage
        }
        result
    }

    /// [`call`](Self::call) for a method declared idempotent: if the link
    /// drops while the call is in flight and the proxy's session heals,
    /// the call is sent once more on the healed link. Calls during an
    /// outage still fail fast with [`Error::Disconnected`].
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call); `ConnectionLost` only if the session did not
    /// heal within its `retry_wait` or the retry failed too.
    pub async fn call_idempotent<A: Serialize + ?Sized, R: DeserializeOwned + Send + 'static>(
        &self,
        method: u32,
        args: &A,
    ) -> Result<R, Error> {
        let generation = self.session().map(|s| s.generation());
        match self.call(method, args).await {
            Err(Error::ConnectionLost) => {
                let (Some(session), Some(generation)) = (self.session(), generation) else {
                    return Err(Error::ConnectionLost);
                };
                if !session.wait_healed(generation).await {
                    return Err(Error::ConnectionLost);
                }
                tracing::debug!(interface = self.core.interface, method, "retrying an idempotent call after healing");
                self.call(method, args).await
            }
            other => other,
        }
    }

    async fn call_once<A: Serialize + ?Sized, R: DeserializeOwned + Send + 'static>(
        &self,
        method: u32,
        args: &A,
    ) -> Result<R, Error> {
        if let Some(refused) = self.core.refused.get() {
            return Err((**refused).clone());
        }
        let target = self.target();
        let conn = &target.conn;
        if conn.is_closed() {
            return Err(Error::Disconnected);
        }
        let req = conn.next_req();
        let frame = conn.encode_with_refs(&Header::Call { req, target: target.id, method }, args)?;
        // The reader decodes the reply (in frame order) and hands over the result.
        let rx = conn.start_call::<R>(req, frame)?;
        let guard = AbandonGuard { conn, req };
        let result = rx.await.map_err(|_| Error::ConnectionLost)?;
        std::mem::forget(guard);
        result.map_err(|fault| match fault {
            // The peer knows only the id: name the method we called.
            Error::UnknownMethod { interface, method, name: None } => {
                let name = crate::anyref::method_name(self.core.interface, method).map(str::to_string);
                Error::UnknownMethod { interface, method, name }
            }
            other => other,
        })
    }
}
