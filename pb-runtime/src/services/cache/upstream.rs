//! A mirror's hold on the Twisted cache it mirrors.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::connection::Link;

/// A mirror's hold on the Twisted cache it mirrors: when the mirror goes,
/// one `decache` per copy received.
pub(crate) struct Upstream {
    pub(crate) link: Option<Arc<dyn Link>>,
    pub(crate) luid: u64,
    pub(crate) copies: Arc<AtomicU64>,
}

impl Upstream {
    /// Whether the link is up.
    pub(crate) fn is_live(&self) -> bool {
        self.link.as_ref().is_some_and(|l| !l.is_closed())
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let copies = self.copies.swap(0, Ordering::AcqRel);
        if let Some(jelly) = self.link.as_ref().and_then(|l| l.jelly())
            && copies > 0
        {
            jelly.decache(self.luid, copies);
        }
    }
}
