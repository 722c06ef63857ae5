//! The proxies a session heals, and how each was obtained.

use std::sync::Arc;

use super::SessionCore;
use crate::references::heal::{Heal, HealSlot, Healer};
use crate::references::replay::{Refetch, track};
use crate::references::{Interface, ProxyHandle};
use crate::{Connection, Error};

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

impl SessionCore {
    /// Track `target`; `attach` records the session in the proxy or cache
    /// (false if a session already heals it).
    pub(crate) fn track_with(&self, attach: &mut dyn FnMut(HealSlot) -> bool, path: String, target: Box<dyn Heal>) {
        let mut tracked = self.tracked.lock().unwrap();
        let seq = tracked.next_seq;
        let me: std::sync::Weak<dyn Healer> = self.me.clone();
        if !attach(HealSlot::new(me, seq)) {
            return; // already healed by a session
        }
        tracked.next_seq += 1;
        tracked.by_seq.insert(seq, Tracked { target, path, stale: false, refused: false });
    }

    /// A tracked proxy is gone: drop its path (and the parent it holds).
    pub(crate) fn forget_tracked(&self, seq: u64) {
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

/// Live tracked proxies.
pub(super) fn live(session: &SessionCore) -> usize {
    session.tracked.lock().unwrap().by_seq.len()
}

/// A reconnecting proxy to the root of the session's server.
pub(super) fn track_root<T: ?Sized + Interface>(session: &Arc<SessionCore>) -> Result<Arc<T>, Error> {
    let conn = session.conn.read().unwrap().clone();
    let proxy = conn.root::<T>()?;
    let handle: &ProxyHandle = T::proxy_handle(&proxy).expect("a fresh proxy has a handle");
    let refetch: Refetch = Arc::new(|conn: Connection| Box::pin(async move { conn.root_ref::<T>() }));
    track(&**session, handle, "root".into(), refetch);
    Ok(proxy)
}
