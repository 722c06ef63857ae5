//! Per-connection tables: objects exported to the peer, references imported
//! from it, and calls waiting for replies.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use super::link::{Dispatch, RemoteRef, ReplySlot};
use crate::Error;

/// Id of the root object on every connection.
pub(crate) const ROOT_ID: u64 = 0;

/// One exported object.
pub(crate) struct Export {
    pub(crate) object: Arc<dyn Dispatch>,
    /// How many times the object was sent and not yet released.
    count: u64,
    /// Identity key (object address, interface id); `None` for the root,
    /// which is never released.
    key: Option<(usize, u64)>,
}

/// Objects this side exported to the peer, by id. PB keeps one id per object
/// per connection and counts how many times it was sent; the peer releases
/// with the count it received, so a release racing a re-send is harmless.
#[derive(Default)]
pub(crate) struct Exports {
    next_id: u64,
    by_id: HashMap<u64, Export>,
    by_key: HashMap<(usize, u64), u64>,
}

impl Exports {
    pub(crate) fn set_root(&mut self, object: Arc<dyn Dispatch>) {
        self.by_id.insert(ROOT_ID, Export { object, count: 1, key: None });
    }

    /// Export `object` (or count one more send of it); returns its id.
    pub(crate) fn export(
        &mut self,
        key: (usize, u64),
        make: impl FnOnce() -> Arc<dyn Dispatch>,
        max: usize,
    ) -> Result<u64, Error> {
        if let Some(&id) = self.by_key.get(&key) {
            let e = self.by_id.get_mut(&id).expect("export tables agree");
            e.count += 1;
            return Ok(id);
        }
        if self.by_id.len() >= max {
            return Err(Error::LimitExceeded { what: "exports per connection".into(), limit: max as u64 });
        }
        self.next_id += 1;
        let id = self.next_id;
        self.by_id.insert(id, Export { object: make(), count: 1, key: Some(key) });
        self.by_key.insert(key, id);
        Ok(id)
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Arc<dyn Dispatch>> {
        self.by_id.get(&id).map(|e| &e.object)
    }

    /// Drop `count` sends of `id`. Returns the object when this was the last
    /// one, so the caller can drop it outside the lock.
    pub(crate) fn release(&mut self, id: u64, count: u64) -> Result<Option<Arc<dyn Dispatch>>, Error> {
        let Some(e) = self.by_id.get_mut(&id) else {
            return Err(Error::UnknownObject { id });
        };
        let Some(key) = e.key else {
            return Ok(None); // the root is permanent
        };
        if count > e.count {
            tracing::warn!(id, count, held = e.count, "peer released more references than it was sent");
        }
        e.count = e.count.saturating_sub(count);
        if e.count > 0 {
            return Ok(None);
        }
        self.by_key.remove(&key);
        Ok(self.by_id.remove(&id).map(|e| e.object))
    }

    /// Number of exported objects, the root included.
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Empty the table (connection closed); the caller drops the result
    /// outside the lock.
    pub(crate) fn take(&mut self) -> Vec<Arc<dyn Dispatch>> {
        self.by_key.clear();
        self.by_id.drain().map(|(_, e)| e.object).collect()
    }
}

/// One reference received from the peer.
struct Import {
    rref: Weak<RemoteRef>,
    /// Times received since the last release.
    count: u64,
}

/// References the peer sent us: one live [`RemoteRef`] per id.
#[derive(Default)]
pub(crate) struct Imports {
    by_id: HashMap<u64, Import>,
}

impl Imports {
    /// Count one receipt of `id`; return the live reference or `None` if a
    /// new one must be made (then call [`Imports::insert`]).
    pub(crate) fn receive(&mut self, id: u64) -> Option<Arc<RemoteRef>> {
        let entry = self.by_id.get_mut(&id)?;
        entry.count += 1;
        entry.rref.upgrade()
    }

    /// Record a new live reference for `id` (whose receipt was already counted
    /// by [`Imports::receive`] if an entry existed).
    pub(crate) fn insert(&mut self, id: u64, rref: &Arc<RemoteRef>) {
        let count = self.by_id.get(&id).map_or(1, |e| e.count);
        self.by_id.insert(id, Import { rref: Arc::downgrade(rref), count });
    }

    /// The last handle of `rref` (at `ptr`) is gone: forget it and return the
    /// count to release, unless a newer reference for `id` took its place.
    pub(crate) fn forget(&mut self, id: u64, ptr: *const RemoteRef) -> Option<u64> {
        let entry = self.by_id.get(&id)?;
        if !std::ptr::eq(entry.rref.as_ptr(), ptr) {
            return None;
        }
        self.by_id.remove(&id).map(|e| e.count)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}

/// Calls (and pings) waiting for their reply.
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) closed: bool,
    pub(crate) map: HashMap<u64, ReplySlot>,
}
