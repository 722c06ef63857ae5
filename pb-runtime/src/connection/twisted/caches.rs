//! Caches on a Twisted link: ours the peer observes (PB's
//! `remotelyCachedObjects`), and the peer's we observe
//! (`locallyCachedObjects`).
//!
//! Ours: the first send of a view is `[tag, luid, state]`, each later one
//! `["cached", luid]`, and the peer sends one `["decache", luid]` per copy
//! it received; the last one stops feeding it and is answered with
//! `["uncache", luid]`, as Twisted's `proto_decache` does. Each change goes
//! to the peer as `["cachemessage", req, luid, name, 1, args, {}]`.
//!
//! Theirs: the peer's `cachemessage`s are applied to the mirror filed under
//! their luid and answered with `None`; `["uncache", luid]` forgets it. A
//! decache or uncache of a luid never sent, like Twisted's `KeyError`,
//! drops the connection; a `cachemessage` to an unknown luid is answered
//! with `pb.Error("Invalid Object ID")`, as Twisted does.

use std::any::Any;
use std::sync::Arc;

use super::TwistedLink;
use crate::Error;
use crate::connection::link::{Link as _, ReceivedCache, SentCache};
use crate::wire::twisted::banana::Value;
use crate::wire::twisted::broker::{Call, Failure, Message, Outcome, Target};
use crate::wire::twisted::jelly::{cache_occurrences, form, remote_occurrences};

/// The link's caches, both ways.
use super::cache_table::{DECODING, ENCODING, Sent};

impl TwistedLink {
    /// [`JellyCalls::export_cache`](crate::connection::link::JellyCalls::export_cache).
    pub(super) fn export_cache_now(
        &self,
        key: u64,
        make: &mut dyn FnMut(u64) -> Result<SentCache, Error>,
    ) -> Result<(u64, bool), Error> {
        if !ENCODING.is_set() {
            return Err(Error::protocol("a cache is sent to a Twisted peer only inside a message"));
        }
        if self.is_closed() {
            return Err(Error::Disconnected);
        }
        // Sent before: one more copy.
        let again = |state: &mut super::State| {
            let luid = *state.caches.keys.get(&key)?;
            state.caches.sent.get_mut(&luid).expect("a key names a sent cache").copies += 1;
            Some(luid)
        };
        let luid = {
            let mut state = self.state.lock().unwrap();
            if let Some(luid) = again(&mut state) {
                ENCODING.with(|sends| sends.borrow_mut().push((luid, false)));
                return Ok((luid, false));
            }
            let limit = self.settings.max_exports;
            if state.caches.sent.len() >= limit {
                return Err(Error::LimitExceeded { what: "caches sent to the peer".into(), limit: limit as u64 });
            }
            state.caches.last += 1;
            state.caches.last
        };
        // Made outside the lock: it takes the model's, which an event
        // applied holds while it takes this link's.
        let cache = make(luid)?;
        let mut state = self.state.lock().unwrap();
        if self.is_closed() {
            drop(state);
            return Err(Error::Disconnected); // its caches are gone: `cache` is not filed
        }
        let (luid, first, unused) = match again(&mut state) {
            Some(other) => (other, false, Some(cache)), // another encode sent it meanwhile
            None => {
                state.caches.sent.insert(luid, Sent { key, copies: 1, cache });
                state.caches.keys.insert(key, luid);
                (luid, true, None)
            }
        };
        drop(state);
        drop(unused);
        ENCODING.with(|sends| sends.borrow_mut().push((luid, first)));
        Ok((luid, first))
    }

    /// Take back the cache sends of an encode that failed (the peer never
    /// saw them).
    pub(super) fn unsend_caches(&self, sends: Vec<(u64, bool)>) {
        let mut dropped = Vec::new();
        {
            let mut state = self.state.lock().unwrap();
            for (luid, _) in sends.into_iter().rev() {
                if let Some(sent) = state.caches.sent.get_mut(&luid) {
                    sent.copies -= 1;
                    if sent.copies == 0 {
                        dropped.extend(state.caches.remove_sent(luid));
                    }
                }
            }
        }
        drop(dropped); // outside the lock: it closes a model's outlet
    }

    /// Start feeding the caches first sent by a message now queued.
    pub(super) fn start_caches_now(&self, sends: Vec<(u64, bool)>) {
        let starts: Vec<_> = {
            let mut state = self.state.lock().unwrap();
            sends
                .into_iter()
                .filter(|(_, first)| *first)
                .filter_map(|(luid, _)| state.caches.sent.get_mut(&luid).and_then(|s| s.cache.start.take()))
                .collect()
        };
        for start in starts {
            start();
        }
    }

    /// [`JellyCalls::exported_cache`](crate::connection::link::JellyCalls::exported_cache).
    pub(super) fn exported_cache_now(&self, luid: u64) -> Option<Arc<dyn Any + Send + Sync>> {
        self.state.lock().unwrap().caches.sent.get(&luid).map(|s| s.cache.source.clone())
    }

    /// [`JellyCalls::send_cache_call`](crate::connection::link::JellyCalls::send_cache_call).
    pub(super) fn send_cache_call_now(&self, luid: u64, method: &str, args: Value) -> Result<(), Error> {
        let call = Call {
            req: self.state.lock().unwrap().reqs.next_id(),
            target: Target::Luid(luid),
            method: bytes::Bytes::copy_from_slice(method.as_bytes()),
            answer_required: false,
            args,
            kw: form::dictionary([]),
        };
        self.send_message(&Message::CacheCall(call))
    }

    /// [`JellyCalls::received_cache`](crate::connection::link::JellyCalls::received_cache).
    pub(super) fn received_cache_now(&self, luid: u64) -> Option<Arc<dyn ReceivedCache>> {
        self.state.lock().unwrap().caches.received.get(&luid).cloned()
    }

    /// [`JellyCalls::receive_cache`](crate::connection::link::JellyCalls::receive_cache).
    pub(super) fn receive_cache_now(&self, luid: u64, cache: Arc<dyn ReceivedCache>) -> Result<(), Error> {
        let mut state = self.state.lock().unwrap();
        let limit = self.settings.max_exports;
        if state.caches.received.len() >= limit {
            return Err(Error::LimitExceeded { what: "caches received from the peer".into(), limit: limit as u64 });
        }
        if state.caches.received.contains_key(&luid) {
            return Err(Error::protocol(format_args!("the peer sent the whole of its cache {luid} twice")));
        }
        state.caches.received.insert(luid, cache);
        Ok(())
    }

    /// A decode kept a copy of the peer's cache `luid` (see [`keeping`](super::cache_table::keeping)).
    pub(super) fn kept_copy(&self, luid: u64) {
        if DECODING.is_set() {
            DECODING.with(|kept| kept.borrow_mut().push(luid));
        }
    }

    /// Release each copy in `owed` (one per occurrence received) that is
    /// not in `kept`: the caller was gone, the decode failed half way, or
    /// the type skipped it. A copy of a cache never filed is remembered as
    /// an orphan until the peer's uncache (past the limit of caches,
    /// copies are left to the peer).
    pub(super) fn release_caches(&self, mut owed: Vec<u64>, kept: Vec<u64>) {
        for luid in kept {
            if let Some(i) = owed.iter().position(|&l| l == luid) {
                owed.swap_remove(i);
            }
        }
        if owed.is_empty() || self.is_closed() {
            return;
        }
        let release: Vec<u64> = {
            let mut state = self.state.lock().unwrap();
            let limit = self.settings.max_exports;
            let caches = &mut state.caches;
            owed.into_iter()
                .filter(|luid| {
                    caches.received.contains_key(luid)
                        || caches.orphans.contains(luid)
                        || (caches.orphans.len() < limit && caches.orphans.insert(*luid))
                })
                .collect()
        };
        for luid in release {
            let _ = self.send_message(&Message::Decache(luid));
        }
    }

    /// [`JellyCalls::decache`](crate::connection::link::JellyCalls::decache).
    pub(super) fn decache_now(&self, luid: u64, copies: u64) {
        if self.is_closed() {
            return;
        }
        for _ in 0..copies {
            let _ = self.send_message(&Message::Decache(luid));
        }
    }

    /// The peer released one copy of our cache `luid`: after the last, it
    /// is no longer fed, and the peer is told it may forget it.
    pub(super) fn decached(&self, luid: u64) -> Result<(), Error> {
        let released = {
            let mut state = self.state.lock().unwrap();
            let Some(sent) = state.caches.sent.get_mut(&luid) else {
                return Err(Error::protocol(format_args!("the peer released cache {luid}, which it did not hold")));
            };
            sent.copies -= 1;
            if sent.copies > 0 {
                return Ok(());
            }
            state.caches.remove_sent(luid)
        };
        drop(released); // outside the lock: it closes a model's outlet
        let _ = self.send_message(&Message::Uncache(luid));
        Ok(())
    }

    /// The peer forgot its cache `luid`.
    pub(super) fn uncached(&self, luid: u64) -> Result<(), Error> {
        let (removed, orphan) = {
            let mut state = self.state.lock().unwrap();
            (state.caches.received.remove(&luid), state.caches.orphans.remove(&luid))
        };
        match removed {
            Some(cache) => {
                drop(cache); // its mirrors keep the state, and receive nothing more
                Ok(())
            }
            None if orphan => Ok(()),
            None => Err(Error::protocol(format_args!("the peer uncached cache {luid}, which it never sent"))),
        }
    }

    /// The peer's observer call of its cache we hold: applied, and answered
    /// with `None` (or the failure) when an answer is wanted.
    pub(super) fn observe(&self, call: Call) {
        // Observer calls carry plain data: what else they carry is released.
        let owed = remote_occurrences(&call.args).into_iter().chain(remote_occurrences(&call.kw)).collect();
        self.release(owed, Vec::new());
        let owed = cache_occurrences(&call.args).into_iter().chain(cache_occurrences(&call.kw)).collect();
        self.release_caches(owed, Vec::new());
        let outcome = match call.target {
            Target::Luid(luid) => match self.received_cache_now(luid) {
                Some(cache) => {
                    let method = String::from_utf8_lossy(&call.method);
                    cache.observe(&method, &call.args, &call.kw)
                }
                // A copy released unread: its changes are dropped.
                None if self.state.lock().unwrap().caches.orphans.contains(&luid) => Ok(()),
                None => Err(Error::UnknownObject { id: luid }),
            },
            Target::Name(_) => Err(Error::UnknownObject { id: 0 }),
        };
        if !call.answer_required {
            return;
        }
        let outcome = match outcome {
            Ok(()) => Outcome::Answer(form::none()),
            Err(e) => Outcome::Failure(Failure::from_error(&e)),
        };
        use crate::connection::link::JellyCalls as _;
        let _ = self.send_outcome(call.req, outcome);
    }
}
