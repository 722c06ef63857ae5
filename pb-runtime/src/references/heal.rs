//! The one hook through which healing attaches to handles.
//!
//! A reconnecting session implements [`Healer`]; proxies and caches it
//! heals hold a [`HealSlot`] pointing at it (weakly). Services that hand out
//! references derived from a healed one (a registry lookup, a replayed
//! method, a login) register them through the parent's slot, without
//! knowing what a session is.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use crate::{Connection, Error};

/// A boxed future of a heal step.
pub(crate) type HealFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// Something a healer heals: a proxy, or a cache.
pub(crate) trait Heal: Send + Sync {
    /// Whether the proxy or cache still has users.
    fn is_alive(&self) -> bool;
    /// Replay how it was obtained and swap the result in. `conn` is the
    /// session's new pb connection, `None` in a session that has none (a
    /// [`TwistedSession`](crate::twisted::TwistedSession)): a target
    /// replayed through its parent proxy (healed first) needs none.
    fn heal(&self, conn: Option<Connection>) -> HealFuture;
    /// The server refused the path for good: calls through it fail with `error`.
    fn refuse(&self, _error: Error) {}
}

/// Implemented by what heals handles after an outage (a reconnecting
/// session).
pub(crate) trait Healer: Send + Sync {
    /// A call through a healed handle failed on its link: check the link now.
    fn link_failed(&self);
    /// Increments after each heal.
    fn generation(&self) -> u64;
    /// Wait until healed after `generation`; false on timeout or close.
    fn wait_healed(&self, generation: u64) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
    /// Heal `target` from now on, replaying `path`; `attach` records the
    /// slot in the handle (false if a healer already heals it).
    fn track(&self, attach: &mut dyn FnMut(HealSlot) -> bool, path: String, target: Box<dyn Heal>);
    /// A tracked handle is gone.
    fn forget(&self, seq: u64);
}

/// A handle's place in the healer that heals it.
pub(crate) struct HealSlot {
    healer: Weak<dyn Healer>,
    seq: u64,
}

impl HealSlot {
    /// Slot `seq` of `healer`.
    pub(crate) fn new(healer: Weak<dyn Healer>, seq: u64) -> Self {
        HealSlot { healer, seq }
    }

    /// The healer, while it lives.
    pub(crate) fn healer(&self) -> Option<Arc<dyn Healer>> {
        self.healer.upgrade()
    }

    /// The handle is gone: tell the healer to forget it.
    pub(crate) fn forget(&self) {
        if let Some(healer) = self.healer() {
            healer.forget(self.seq);
        }
    }
}

/// Wait until `healed` holds for the session's status (within `within`,
/// and unless `cancel` fires first): what both kinds of session do for
/// [`Healer::wait_healed`].
pub(crate) async fn wait_for_heal<S>(
    mut status: tokio::sync::watch::Receiver<S>,
    healed: impl FnMut(&S) -> bool,
    within: std::time::Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> bool {
    let healed = status.wait_for(healed);
    tokio::select! {
        r = tokio::time::timeout(within, healed) => matches!(r, Ok(Ok(_))),
        () = cancel.cancelled() => false,
    }
}
