//! The caches a Twisted link keeps: ours the peer observes, and the
//! peer's we observe (see `caches.rs` for what is said about them).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::connection::link::{ReceivedCache, SentCache};

/// The link's caches, both ways.
#[derive(Default)]
pub(super) struct Caches {
    /// Ours the peer holds, by luid.
    pub(super) sent: HashMap<u64, Sent>,
    /// The luid of each view sent, by its key.
    pub(super) keys: HashMap<u64, u64>,
    /// The last luid given to one of ours.
    pub(super) last: u64,
    /// The peer's we hold, by the peer's luid.
    pub(super) received: HashMap<u64, Arc<dyn ReceivedCache>>,
    /// The peer's we never kept (no decode took them: the caller was gone,
    /// or the decode failed) and released at once: their uncache and
    /// messages may still come.
    pub(super) orphans: HashSet<u64>,
}

pub(super) struct Sent {
    pub(super) key: u64,
    /// Copies sent and not yet decached.
    pub(super) copies: u64,
    pub(super) cache: SentCache,
}

impl Caches {
    pub(super) fn remove_sent(&mut self, luid: u64) -> Option<SentCache> {
        let sent = self.sent.remove(&luid)?;
        self.keys.remove(&sent.key);
        Some(sent.cache)
    }

    /// Everything, to drop outside the link's lock when it closes.
    pub(super) fn take(&mut self) -> Caches {
        std::mem::take(self)
    }
}

scoped_tls::scoped_thread_local!(pub(super) static ENCODING: RefCell<Vec<(u64, bool)>>);
scoped_tls::scoped_thread_local!(pub(super) static DECODING: RefCell<Vec<u64>>);

/// Run `f`, a decode, noting the copies of the peer's caches it kept:
/// returns what `f` did, and their luids.
pub(super) fn keeping<T>(f: impl FnOnce() -> T) -> (T, Vec<u64>) {
    let kept = RefCell::new(Vec::new());
    let result = DECODING.set(&kept, f);
    (result, kept.into_inner())
}

/// Run `f`, an encode, noting the caches it sends: returns what `f` did,
/// and each cache send (luid, first) it made.
pub(super) fn noting<T>(f: impl FnOnce() -> T) -> (T, Vec<(u64, bool)>) {
    let sends = RefCell::new(Vec::new());
    let result = ENCODING.set(&sends, f);
    (result, sends.into_inner())
}
