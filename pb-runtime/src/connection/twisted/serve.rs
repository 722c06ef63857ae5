//! Messages from a Twisted peer: calls of our objects, answers to our
//! calls, and releases of what we sent.
//!
//! A call (`["message", req, object, name, answerRequired, args, kw]`)
//! runs the trait method whose wire name is `name` (Twisted's `remote_`
//! convention: `callRemote("get_user")` runs `get_user`, or the method
//! named so with `#[pb(name = "...")]`), with the keyword arguments put at
//! their parameters' positions and the whole decoded by the generated
//! dispatch code as usual (the jelly arguments are lent to it). Its `Ok`
//! goes back as an answer, its `Err` as a failure; nothing at all when the
//! caller asked for no answer.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::TwistedLink;
use crate::Error;
use crate::connection::dispatch::{drive, panic_message};
use crate::connection::link::{CallFuture, Dispatch, JellyCalls, JellyFault, Link, Reply};
use crate::wire::twisted::broker::message::ROOT;
use crate::wire::twisted::broker::{Call, Failure, Message, Outcome, Target, fold_kwargs, handshake};
use crate::wire::twisted::jelly::{cache_occurrences, hook, remote_occurrences};

impl TwistedLink {
    /// Handle one message from the peer. An error closes the link (as
    /// Twisted drops a connection that breaks the protocol).
    ///
    /// An object the peer releases (its last `decref`) is parked: it stays
    /// resolvable by its luid until the peer's next answer or error has
    /// been handled, its next call arrives, or it sends nothing for
    /// `io::PARK_GRACE`. Twisted sends the decrefs of a call's arguments
    /// before the call's answer (they die when its method returns, the
    /// answer goes out after, in the same write), so an object of ours
    /// passed to a Twisted method that returns it comes back as
    /// `["local", luid]` just after its release: it still arrives as the
    /// original object. (Our luids are never reused, so a parked luid
    /// cannot name another object.)
    pub(super) fn received(self: &Arc<Self>, message: Message) -> Result<(), Error> {
        match message {
            Message::Decref(_) => self.handle(message),
            Message::Call(_) | Message::CacheCall(_) => {
                self.unpark();
                self.handle(message)
            }
            _ => {
                let result = self.handle(message);
                self.unpark();
                result
            }
        }
    }

    /// Whether released objects are parked.
    pub(super) fn has_parked(&self) -> bool {
        !self.state.lock().unwrap().parked.is_empty()
    }

    /// Drop the parked objects.
    pub(super) fn unpark(&self) {
        let parked = std::mem::take(&mut self.state.lock().unwrap().parked);
        drop(parked); // outside the lock: the objects may be the user's
    }

    fn handle(self: &Arc<Self>, message: Message) -> Result<(), Error> {
        let (req, owed, outcome) = match message {
            Message::Version(v) => return handshake::check_version(v),
            Message::Call(call) => {
                self.serve_call(call);
                return Ok(());
            }
            Message::CacheCall(call) => {
                self.observe(call);
                return Ok(());
            }
            Message::Decref(luid) => {
                let mut state = self.state.lock().unwrap();
                return match state.exports.release(luid, 1) {
                    Ok(Some(object)) => {
                        state.parked.push((luid, object));
                        Ok(())
                    }
                    Ok(None) => Ok(()),
                    Err(_) => {
                        Err(Error::protocol(format_args!("the peer released object {luid}, which it did not hold")))
                    }
                };
            }
            Message::Decache(luid) => return self.decached(luid),
            Message::Uncache(luid) => return self.uncached(luid),
            Message::Answer { req, value } => (req, remote_occurrences(&value), Ok(value)),
            Message::Error { req, failure } => {
                let fault = match Failure::from_value(&failure) {
                    Ok(f) => JellyFault { error: f.to_error(), detail: f.pb_error },
                    Err(error) => JellyFault { error, detail: None },
                };
                (req, remote_occurrences(&failure), Err(fault))
            }
        };
        let owed_caches = match &outcome {
            Ok(value) => cache_occurrences(value),
            Err(_) => Vec::new(),
        };
        let slot = self.state.lock().unwrap().pending.remove(&req);
        let link: Arc<dyn Link> = self.clone();
        // An answer to a call whose caller stopped waiting is dropped (its
        // references and caches are released below).
        let ((_, imported), kept) = super::cache_table::keeping(|| {
            self.lend(|| {
                if let Some(slot) = slot {
                    slot(&link, outcome);
                }
                Ok(())
            })
        });
        self.release(owed, imported);
        self.release_caches(owed_caches, kept);
        Ok(())
    }

    /// Run the peer's call of one of our objects.
    fn serve_call(self: &Arc<Self>, call: Call) {
        let owed = remote_occurrences_of(&call);
        let object = match &call.target {
            Target::Name(name) if name == ROOT => self.root.clone(),
            Target::Name(_) => None,
            Target::Luid(id) => self.state.lock().unwrap().exports.get(*id).cloned(),
        };
        let Some(object) = object else {
            let id = match call.target {
                Target::Luid(id) => id,
                Target::Name(_) => 0,
            };
            return self.refuse(&call, owed, Error::UnknownObject { id });
        };
        let name = String::from_utf8_lossy(&call.method);
        let Some((method, params)) = object.method_named(&name) else {
            let interface = object.interface_name().to_string();
            return self.refuse(&call, owed, Error::UnknownMethod { interface, method: 0, name: Some(name.into()) });
        };
        if self.draining.load(Ordering::Acquire) {
            return self.refuse(&call, owed, Error::ShuttingDown);
        }
        let (req, answer) = (call.req, call.answer_required);
        let args = match fold_kwargs(call.args, &call.kw, params) {
            Ok(args) => args,
            Err(e) => return self.fail(req, answer, owed, e),
        };
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.settings.max_in_flight {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return self.fail(req, answer, owed, Error::Busy);
        }
        // From here the reply holds the in-flight slot and gives it back.
        let reply = Reply::jelly(self.clone(), req, answer);
        let owed_caches = cache_occurrences(&args);
        let ((started, imported), kept) =
            super::cache_table::keeping(|| self.lend(|| start(&*object, method, &args, reply)));
        self.release(owed, imported);
        self.release_caches(owed_caches, kept);
        let fault = || {
            let link = self.clone();
            move |e: Error| {
                if answer {
                    let _ = link.send_outcome(req, Outcome::Failure(Failure::from_error(&e)));
                }
            }
        };
        match started {
            Ok(call) => drive(call, fault),
            Err(e) => fault()(e),
        }
    }

    /// Answer `call` with `error` without running it.
    fn refuse(&self, call: &Call, owed: Vec<u64>, error: Error) {
        self.fail(call.req, call.answer_required, owed, error);
    }

    /// Release what a call carried, and answer it with `error` (if an
    /// answer is wanted).
    fn fail(&self, req: u64, answer: bool, owed: Vec<u64>, error: Error) {
        self.release(owed, Vec::new());
        if answer {
            let _ = self.send_outcome(req, Outcome::Failure(Failure::from_error(&error)));
        }
    }
}

/// Start `method` of `object` with the jelly `args` (decoded by the
/// generated dispatch code, which finds them lent): the method's future.
fn start(
    object: &dyn Dispatch,
    method: u32,
    args: &crate::wire::twisted::banana::Value,
    reply: Reply,
) -> Result<CallFuture, Error> {
    hook::with_args(args, || {
        std::panic::catch_unwind(AssertUnwindSafe(|| object.call(method, &Bytes::new(), reply)))
            .unwrap_or_else(|p| Err(Error::Panicked { message: panic_message(p) }))
    })
}

/// The references a call carries, each owed a decref unless decoded.
fn remote_occurrences_of(call: &Call) -> Vec<u64> {
    let mut owed = remote_occurrences(&call.args);
    owed.extend(remote_occurrences(&call.kw));
    owed
}
