//! How a [`Cache`] travels: to and from pb peers (a feed and a
//! snapshot), and to and from Twisted peers (a cacheable).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::protocol::CacheWire;
use super::state::Cacheable;
use super::twisted;
use super::view::Cache;
use crate::Error;

impl<S: Cacheable> Serialize for Cache<S> {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        use serde::ser::Error as _;
        if crate::wire::twisted::jelly::hook::is_lent() {
            return twisted::serialize(self, s);
        }
        self.to_wire().map_err(Se::Error::custom)?.serialize(s)
    }
}

impl<'de, S: Cacheable> Deserialize<'de> for Cache<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        if crate::wire::twisted::jelly::hook::is_lent() {
            return twisted::deserialize(d);
        }
        Cache::from_wire(CacheWire::deserialize(d)?).map_err(D::Error::custom)
    }
}

impl<S: Cacheable> Cache<S> {
    /// Take over `fresh` (a new copy of the same view, after an outage):
    /// its state replaces this one's (observers get `Resynced`), and its
    /// feed now feeds this cache.
    pub(crate) fn adopt(&self, fresh: Cache<S>) -> Result<(), Error> {
        if self.ptr_eq(&fresh) {
            return Ok(());
        }
        match (self.twisted_upstream().is_some(), fresh.twisted_upstream().is_some()) {
            (true, true) => twisted::adopt(self, fresh),
            (false, false) => self.adopt_mirror(fresh),
            _ => Err(Error::protocol("a mirror of a pb cache and one of a Twisted cache cannot adopt each other")),
        }
    }
}
