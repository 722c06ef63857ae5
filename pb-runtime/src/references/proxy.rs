//! The client side of a reference: what a generated proxy calls through.

use std::fmt;
use std::sync::{Arc, OnceLock, RwLock, Weak};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::heal::{HealSlot, Healer};
use super::info::{MethodInfo, method_name};
use crate::Error;
use crate::connection::{self, RemoteRef};

/// The handle inside every generated proxy: which object on which connection
/// it calls. The target can be swapped in place (a reconnecting session heals
/// live proxies this way), so the application keeps the same `Arc`.
#[derive(Clone)]
pub struct ProxyHandle {
    core: Arc<ProxyCore>,
}

pub(crate) struct ProxyCore {
    interface: &'static str,
    methods: &'static [MethodInfo],
    target: RwLock<Arc<RemoteRef>>,
    /// What heals this proxy after an outage (a reconnecting session), if
    /// anything does.
    healer: OnceLock<HealSlot>,
    /// Set when the session gave up healing the proxy because the server
    /// refused its path (login refused): every call fails with this error.
    /// Boxed: a live proxy costs 16 bytes for it, not the size of `Error`.
    refused: OnceLock<Box<Error>>,
}

impl Drop for ProxyCore {
    fn drop(&mut self) {
        // Forget the path at once: it holds the parent proxy it replays through.
        if let Some(slot) = self.healer.get() {
            slot.forget();
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

    /// Whether the proxy still exists. Unlike `upgrade`, never drops a
    /// handle (which could be the last, and forget itself in a healer whose
    /// lock the caller holds).
    pub(crate) fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }
}

impl fmt::Debug for ProxyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.target();
        write!(f, "{} #{} on {}", self.core.interface, t.id, t.link.peer())
    }
}

impl ProxyHandle {
    pub(crate) fn new(target: Arc<RemoteRef>, interface: &'static str, methods: &'static [MethodInfo]) -> Self {
        ProxyHandle {
            core: Arc::new(ProxyCore {
                interface,
                methods,
                target: RwLock::new(target),
                healer: OnceLock::new(),
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

    /// What heals this proxy, if anything does.
    pub(crate) fn healer(&self) -> Option<Arc<dyn Healer>> {
        self.core.healer.get().and_then(HealSlot::healer)
    }

    /// Attach the proxy to a healer; false if it already was.
    pub(crate) fn set_healer(&self, slot: HealSlot) -> bool {
        self.core.healer.set(slot).is_ok()
    }

    /// Whether a session heals this proxy after an outage.
    pub fn is_reconnecting(&self) -> bool {
        self.healer().is_some()
    }

    /// The object's id if this proxy points at an object on the connection
    /// `link_id` (so it can be sent back as the peer's own reference).
    pub(crate) fn id_on(&self, link_id: u64) -> Option<u64> {
        self.core.target.read().unwrap().id_on(link_id)
    }

    /// The interface name of the proxied object.
    pub fn interface(&self) -> &'static str {
        self.core.interface
    }

    /// Whether the connection under the proxy is up.
    pub fn is_connected(&self) -> bool {
        !self.target().link.is_closed()
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
            && let Some(healer) = self.healer()
        {
            healer.link_failed(); // a failed call also marks the outage
        }
        result
    }

    /// Send a call of `method` with `args` (a tuple) without waiting for
    /// its answer (a `#[pb(oneway)]` method): returns once the call is
    /// queued for writing. `R` is the method's `Result<(), E>`: a pb peer
    /// is sent a call without a reply (`Send`) and answers nothing (one of
    /// protocol version 1 is sent a call, whose reply is decoded as `R` and
    /// dropped); a Twisted peer is sent `answerRequired = 0` and answers
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] if the link is down, or the arguments failed
    /// to encode; what the call does on the far side never reaches the
    /// caller.
    pub fn send_oneway<A: Serialize + ?Sized, R: DeserializeOwned + Send + 'static>(
        &self,
        method: u32,
        args: &A,
    ) -> Result<(), Error> {
        if let Some(refused) = self.core.refused.get() {
            return Err((**refused).clone());
        }
        let target = self.target();
        let result = connection::send_oneway::<A, R>(&target, method, || method_name(self.core.methods, method), args);
        if let Err(e) = &result
            && e.is_link_failure()
            && let Some(healer) = self.healer()
        {
            healer.link_failed();
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
        let generation = self.healer().map(|s| s.generation());
        match self.call(method, args).await {
            Err(Error::ConnectionLost) => {
                let (Some(healer), Some(generation)) = (self.healer(), generation) else {
                    return Err(Error::ConnectionLost);
                };
                if !healer.wait_healed(generation).await {
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
        let result = connection::send_call(&target, method, || method_name(self.core.methods, method), args).await;
        result.map_err(|fault| match fault {
            // The peer knows only the id: name the method we called.
            Error::UnknownMethod { interface, method, name: None } => {
                let name = method_name(self.core.methods, method).map(str::to_string);
                Error::UnknownMethod { interface, method, name }
            }
            other => other,
        })
    }
}
