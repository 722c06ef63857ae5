//! The proxies a session heals, and how each was obtained.

use std::sync::{Mutex, Weak};
use std::time::Duration;

use crate::references::heal::{Heal, HealSlot, Healer};
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
pub(super) struct Tracked {
    target: Box<dyn Heal>,
    /// The replayed path, for logs: `root`, `registry.get(UserManager)`, ...
    path: String,
    /// The last replay failed: the proxy still points at a dead link, and
    /// the session retries it while connected.
    stale: bool,
    /// The server refused the path ([`is_refusal`]): never replayed again.
    refused: bool,
}

impl TrackedList {
    /// Track `target` (healed by `healer`); `attach` records the healer's
    /// slot in the proxy or cache (false if something already heals it).
    pub(super) fn add(
        &mut self,
        healer: Weak<dyn Healer>,
        attach: &mut dyn FnMut(HealSlot) -> bool,
        path: String,
        target: Box<dyn Heal>,
    ) {
        let seq = self.next_seq;
        if !attach(HealSlot::new(healer, seq)) {
            return; // already healed by a session
        }
        self.next_seq += 1;
        self.by_seq.insert(seq, Tracked { target, path, stale: false, refused: false });
    }

    /// A tracked proxy is gone: its path (drop it outside the lock: it may
    /// hold a parent, which forgets itself).
    pub(super) fn remove(&mut self, seq: u64) -> Option<Tracked> {
        self.by_seq.remove(&seq)
    }

    /// Whether some proxy's last replay failed.
    pub(super) fn has_stale(&self) -> bool {
        self.by_seq.values().any(|t| t.stale)
    }

    /// Live tracked proxies.
    pub(super) fn len(&self) -> usize {
        self.by_seq.len()
    }
}

/// Replay the paths of live proxies in `list` on `conn` (every one, or
/// only those whose last replay failed) in creation order, each within
/// `timeout`, and swap the fresh references in. Paths the server refused
/// are given up.
pub(super) async fn heal(
    list: &Mutex<TrackedList>,
    conn: &Connection,
    only_stale: bool,
    peer: &str,
    timeout: Duration,
) -> HealReport {
    let snapshot: Vec<(u64, _, String)> = {
        // Lock invariant: `is_alive` must not drop a handle (see `WeakHandle::is_alive`).
        let tracked = list.lock().unwrap();
        tracked
            .by_seq
            .iter()
            .filter(|(_, t)| !t.refused && (!only_stale || t.stale) && t.target.is_alive())
            .map(|(seq, t)| (*seq, t.target.heal(Some(conn.clone())), t.path.clone()))
            .collect()
    };
    let mut report = HealReport::default();
    for (seq, heal, path) in snapshot {
        let fresh = tokio::time::timeout(timeout, heal).await;
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
        if let Some(t) = list.lock().unwrap().by_seq.get_mut(&seq) {
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

/// The proxies a session heals, in the order they were made (a child is
/// always made after the parent it is replayed through).
#[derive(Default)]
pub(super) struct TrackedList {
    next_seq: u64,
    by_seq: std::collections::BTreeMap<u64, Tracked>,
}
