//! What the layers above see of a connection: the [`Link`] trait the
//! connection implements, the objects it exports ([`Dispatch`]), the
//! references it imports ([`RemoteRef`]), a dispatched call's [`Reply`],
//! and the reference context lent to serde during one encode or decode.
//!
//! Proxies, `Ref`, `AnyRef` and caches reach a connection's export and
//! import tables only through [`Link`]; they never hold the connection's
//! state itself.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;

use crate::Error;
use crate::wire::codec::{self, Limits};
use crate::wire::twisted::banana::Value as JellyValue;
use crate::wire::twisted::broker::{self, Outcome};
use crate::wire::twisted::jelly::EncodeOptions;
use crate::wire::{self, EncodedFrame, FrameBuf, Header};

/// Identity of an exported object: its address and interface id. One
/// export id per object and interface per connection.
pub(crate) type ObjectKey = (usize, u64);

/// Completes a call this side sent: run by the reader with the reply's
/// payload (`Ok`: the method's encoded result; `Err`: the call failed
/// before or while running, or the link was lost).
pub(crate) type ReplySlot = Box<dyn FnOnce(&Arc<dyn Link>, Result<Bytes, Error>) + Send>;

/// The future a dispatched call runs: `Ok(())` once its [`Reply`] is sent,
/// or the error the connection sends as the reply instead.
pub type CallFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// A connection, as references, proxies and replies use it.
pub(crate) trait Link: Send + Sync + 'static {
    /// Process-unique connection number.
    fn id(&self) -> u64;
    /// The peer's address, for messages.
    fn peer(&self) -> &str;
    /// Whether the connection is closed.
    fn is_closed(&self) -> bool;
    /// Largest frame this side sends.
    fn max_frame_len(&self) -> usize;
    /// How deeply decoded values may nest and how much they may allocate.
    fn limits(&self) -> Limits;
    /// The window of streams received on this link.
    fn stream_window(&self) -> usize {
        crate::Config::default().stream_window
    }
    /// Count one more stream sent on this link (released when the count
    /// is dropped).
    ///
    /// # Errors
    ///
    /// [`Error::LimitExceeded`] past [`Config::max_streams`](crate::Config::max_streams);
    /// a link that cannot carry streams.
    fn open_stream(&self) -> Result<StreamCount, Error> {
        Err(Error::protocol("streams are not supported on this link"))
    }

    /// Export an object (made by `make` the first time), or count one more
    /// send of it; returns its id.
    fn export(&self, key: ObjectKey, make: &mut dyn FnMut() -> Arc<dyn Dispatch>) -> Result<u64, Error>;
    /// Undo one count of an export whose message was never sent.
    fn unexport(&self, id: u64);
    /// Our export `id`.
    fn exported(&self, id: u64) -> Result<Arc<dyn Dispatch>, Error>;
    /// A reference the peer sent (`id` in its export table).
    fn import(&self, id: u64) -> Arc<RemoteRef>;
    /// The last handle of the import `rref` is gone: release it.
    fn drop_import(&self, id: u64, rref: *const RemoteRef);

    /// A fresh request id.
    fn next_req(&self) -> u64;
    /// Queue a frame. Frames leave in the order queued.
    fn send(&self, frame: EncodedFrame) -> Result<(), Error>;
    /// Queue a bulk frame (a stream's answer): frames queued with
    /// [`send`](Link::send), even later, may leave before it.
    fn send_bulk(&self, frame: EncodedFrame) -> Result<(), Error> {
        self.send(frame)
    }
    /// Register `slot` for the reply to `req`, then send `frame`. Fails with
    /// `Disconnected` at once, or the slot is completed exactly once later.
    ///
    /// With other calls in flight, the frame may be left queued for a
    /// batch: `Ok(true)` then asks the caller to let the other callers run
    /// (one scheduler turn) and [`flush`](Link::flush).
    fn send_call(&self, req: u64, frame: EncodedFrame, slot: ReplySlot) -> Result<bool, Error>;
    /// Write what is queued, from the calling task, if the write side is free.
    fn flush(&self);
    /// Whether the peer takes [`Header::Send`] (a call without a reply).
    fn takes_send(&self) -> bool {
        false
    }
    /// Queue a [`Header::Send`] frame (refused as a call would be when the
    /// link is down).
    fn send_oneway(&self, frame: EncodedFrame) -> Result<(), Error> {
        self.send(frame)
    }
    /// Frames queued and not yet taken for writing.
    fn queued_frames(&self) -> usize;
    /// Forget a call whose caller stopped waiting.
    fn abandon(&self, req: u64);
    /// A call of the peer's finished (its reply is queued or it failed).
    fn call_finished(&self);

    /// The link's own call format, when it does not speak pb's frames (a
    /// Twisted peer speaks banana and jelly). `None`, the default, is pb's
    /// postcard path.
    fn jelly(&self) -> Option<&dyn JellyCalls> {
        None
    }
}

/// One stream counted on a link; dropping it uncounts it.
pub(crate) struct StreamCount(pub(crate) Arc<std::sync::atomic::AtomicUsize>);

impl Drop for StreamCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Completes a call sent over a [`JellyCalls`] link: run by its reader with
/// the answer's jelly value (`Err`: the peer's failure, or the link was lost).
pub(crate) type JellySlot = Box<dyn FnOnce(&Arc<dyn Link>, Result<JellyValue, JellyFault>) + Send>;

/// A call over a [`JellyCalls`] link that failed.
pub(crate) struct JellyFault {
    /// What failed, as pb's error.
    pub(crate) error: Error,
    /// The application's error value, when a pb peer sent it (a failure's
    /// `pb_error`): the caller decodes it as its method's error type if it
    /// can.
    pub(crate) detail: Option<JellyValue>,
}

/// A link whose calls travel as PB messages with jelly arguments (a Twisted
/// peer): the format-specific half of sending a call.
pub(crate) trait JellyCalls: Send + Sync {
    /// Send `["message", req, target, method, 1, args, {}]`, registering
    /// `slot` for the answer. Fails with `Disconnected` at once, or the slot
    /// is completed exactly once later.
    fn send_call(&self, req: u64, target: u64, method: &str, args: JellyValue, slot: JellySlot) -> Result<(), Error>;
    /// Send `["message", req, target, method, 0, args, {}]`: a call that
    /// wants no answer, and gets none.
    fn send_oneway(&self, req: u64, target: u64, method: &str, args: JellyValue) -> Result<(), Error>;
    /// Run `f`, a jelly encode or decode, with the link's references lent
    /// (its hook, and its [`RefCx`]: exports an encode made are rolled back
    /// if `f` fails). Returns the cache sends the encode made: pass them to
    /// [`start_caches`](Self::start_caches) once its message is queued.
    fn with_refs(&self, f: &mut dyn FnMut() -> Result<(), Error>) -> Result<Vec<(u64, bool)>, Error>;
    /// Start feeding the caches an encode sent for the first time (see
    /// [`with_refs`](Self::with_refs)), its message being queued; or, if
    /// the message could not be `sent`, take the sends back.
    fn start_caches(&self, sends: Vec<(u64, bool)>, sent: bool);
    /// Send the reply to the peer's call `req`: an answer or a failure.
    /// Whether it was sent (else the peer got a failure saying why, or
    /// the link is closed).
    fn send_outcome(&self, req: u64, outcome: Outcome) -> bool;

    /// Send one of our caches (a PB `Cacheable`): count one more copy of
    /// the cache `key` names (one per view), made by `make` with its luid
    /// the first time. Returns its luid, and whether this is its first send
    /// (`[tag, luid, state]`, else `["cached", luid]`). Only inside
    /// [`with_refs`](Self::with_refs): an encode that fails takes it back,
    /// and one that succeeds starts feeding a first send after its message
    /// is queued (see [`SentCache::start`]).
    fn export_cache(
        &self,
        key: u64,
        make: &mut dyn FnMut(u64) -> Result<SentCache, Error>,
    ) -> Result<(u64, bool), Error>;
    /// The view of our cache the peer holds as `luid` (for `["lcache",
    /// luid]`, our cache sent back).
    fn exported_cache(&self, luid: u64) -> Option<Arc<dyn Any + Send + Sync>>;
    /// Send `["cachemessage", req, luid, method, 0, args, {}]` to the
    /// peer's copy `luid` of our cache (no answer wanted).
    fn send_cache_call(&self, luid: u64, method: &str, args: JellyValue) -> Result<(), Error>;
    /// A cache the peer sent us as `luid`, if we hold it.
    fn received_cache(&self, luid: u64) -> Option<Arc<dyn ReceivedCache>>;
    /// File the peer's cache `luid`, received for the first time.
    fn receive_cache(&self, luid: u64, cache: Arc<dyn ReceivedCache>) -> Result<(), Error>;
    /// A decode kept one more copy of the peer's cache `luid` (copies the
    /// decodes of a message do not keep are released at once).
    fn kept_copy(&self, luid: u64);
    /// Release `copies` copies of the peer's cache `luid` (one
    /// `["decache", luid]` each).
    fn decache(&self, luid: u64, copies: u64);
    /// Close the link (a peer that cannot be served any more).
    fn close_link(&self);
}

/// One of our caches a Twisted peer holds, as its link keeps it.
pub(crate) struct SentCache {
    /// The view sent, for the peer's `["lcache", luid]`.
    pub(crate) source: Arc<dyn Any + Send + Sync>,
    /// What feeds the peer's copy; dropping it stops observing.
    pub(crate) _feed: Box<dyn Any + Send + Sync>,
    /// Starts feeding the peer: run once the message with the first send is
    /// queued (a change sent before would reach a luid the peer does not
    /// know yet).
    pub(crate) start: Option<Box<dyn FnOnce() + Send>>,
}

/// A Twisted peer's cache (a `pb.Cacheable`) we hold a copy of, as our
/// link keeps it: the peer's observer calls change it.
pub(crate) trait ReceivedCache: Send + Sync {
    /// The peer's `observer.callRemote(method, *args, **kw)`: apply it.
    fn observe(&self, method: &str, args: &JellyValue, kw: &JellyValue) -> Result<(), Error>;
    /// The typed entry, for a later `["cached", luid]`.
    fn as_any(&self) -> &(dyn Any + Send + Sync);
}

/// A reference met during a jelly decode, as the link's hook resolves it.
pub(crate) enum JellyRef {
    /// An object the peer exports (`["remote", luid]`): a counted import.
    Remote(Arc<RemoteRef>),
    /// One of our own exports sent back (`["local", luid]`).
    Local(Arc<dyn Dispatch>),
}

/// An exported object with its interface erased: the server-side dispatch
/// table of one object.
pub trait Dispatch: Send + Sync + 'static {
    /// The object's interface id.
    fn interface_id(&self) -> u64;
    /// Start method `method` with the encoded arguments `args` (the decode
    /// context of the call's connection is set). The future sends its
    /// result through `reply`.
    ///
    /// # Errors
    ///
    /// An unknown method or undecodable arguments, before the object runs.
    fn call(&self, method: u32, args: &Bytes, reply: Reply) -> Result<CallFuture, Error>;
    /// The exported `Arc<dyn Trait>` as `Any`, for identity and downcasts.
    fn object(&self) -> &(dyn Any + Send + Sync);
    /// The peer released its last reference, or the connection closed:
    /// calls of its still running may stop (a stream's producer does).
    /// Runs outside the connection's locks. The default does nothing.
    fn released(&self) {}
    /// The method a peer that calls by name (a Twisted peer) means by
    /// `name`: its id and its parameters' names. `None` by default.
    fn method_named(&self, name: &str) -> Option<(u32, &'static [&'static str])> {
        let _ = name;
        None
    }
    /// The object's interface name, for errors.
    fn interface_name(&self) -> &'static str {
        ""
    }
}

/// One reference to an object the peer exported, on one connection. When
/// the last handle goes, a release is sent (PB's decref).
pub(crate) struct RemoteRef {
    pub(crate) link: Arc<dyn Link>,
    pub(crate) id: u64,
    /// Counted references are released on drop; the peer's root is not.
    counted: bool,
    /// Whether calls go through the link's [`JellyCalls`] (asked once
    /// here, so pb's own calls pay nothing per call for it).
    pub(crate) jelly: bool,
}

impl RemoteRef {
    pub(crate) fn new(link: Arc<dyn Link>, id: u64, counted: bool) -> Self {
        let jelly = link.jelly().is_some();
        RemoteRef { link, id, counted, jelly }
    }

    /// The id if this reference is on the connection `link_id`.
    pub(crate) fn id_on(&self, link_id: u64) -> Option<u64> {
        (self.link.id() == link_id).then_some(self.id)
    }
}

impl Drop for RemoteRef {
    fn drop(&mut self) {
        if self.counted {
            self.link.drop_import(self.id, self);
        }
    }
}

/// The reply of one call of the peer's: encodes and queues the method's
/// result, and holds the call's place in the connection's in-flight count
/// until then (or until dropped unsent: the call failed to decode, panicked
/// or its reply failed to encode, and the connection sends the error).
///
/// The reply is queued while the result it encodes is still alive: a proxy
/// inside the result that goes back to its owner (PB's "your reference") is
/// dropped only after the reply is queued, so the release its drop sends
/// reaches the owner after the reply that names the object, never before.
pub struct Reply {
    link: Arc<dyn Link>,
    req: u64,
    finished: bool,
    /// Whether the caller wants the reply: not for a oneway call (a pb
    /// peer's [`Header::Send`], a Twisted peer's `answerRequired = 0`).
    answer: bool,
}

impl Reply {
    /// The reply to call `req`, which holds an in-flight slot.
    pub(crate) fn new(link: Arc<dyn Link>, req: u64) -> Self {
        Reply { link, req, finished: false, answer: true }
    }

    /// The reply to a call that wants none (a [`Header::Send`]), which
    /// holds an in-flight slot: nothing is encoded or sent.
    pub(crate) fn oneway(link: Arc<dyn Link>) -> Self {
        Reply { link, req: 0, finished: false, answer: false }
    }

    /// The reply to call `req` of a Twisted peer, which holds an in-flight
    /// slot; nothing is sent when `answer` is false.
    pub(crate) fn jelly(link: Arc<dyn Link>, req: u64, answer: bool) -> Self {
        Reply { link, req, finished: false, answer }
    }

    /// Give the in-flight slot back (once).
    fn finish(&mut self) {
        if !std::mem::replace(&mut self.finished, true) {
            self.link.call_finished();
        }
    }

    /// Encode the method's `Result<T, E>` as the reply, exporting any
    /// references inside it on this connection, and queue it.
    ///
    /// # Errors
    ///
    /// An encode failure (for example the export limit); the caller then
    /// gets that error as the reply.
    pub fn send<R: Serialize + ?Sized>(self, result: &R) -> Result<(), Error> {
        self.send_described(result, &|| None)
    }

    /// [`send`](Self::send), with the error's text for peers that show
    /// errors as text (a Twisted failure's value): `text` is called only
    /// for an `Err` going to such a peer.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn send_described<R: Serialize + ?Sized>(
        self,
        result: &R,
        text: &dyn Fn() -> Option<String>,
    ) -> Result<(), Error> {
        self.send_reply(result, text)
    }

    /// Append `value`'s encoding to `buf`, exporting the references inside
    /// it on this connection (rolled back if the encode fails, and `buf`
    /// left as it was): a stream's item, encoded before its answer.
    pub(crate) fn encode_with_refs<T: Serialize + ?Sized>(&self, buf: &mut FrameBuf, value: &T) -> Result<(), Error> {
        let mark = buf.len();
        let result = with_refs(&self.link, || {
            wire::with_encode(|| codec::encode_into(&mut *buf, value).map(|_| ()).map_err(Error::from))
        });
        if result.is_err() {
            buf.truncate(mark);
        }
        result
    }

    /// Send as a bulk frame (a stream's answer: replies to calls queued
    /// after it may leave first) the payload `write` appends (it holds no
    /// references), returning the reply's size in bytes.
    pub(crate) fn send_bulk_with(
        mut self,
        write: impl FnOnce(FrameBuf) -> Result<FrameBuf, Error>,
    ) -> Result<usize, Error> {
        if !self.answer {
            return Ok(0);
        }
        if self.link.jelly().is_some() {
            return Err(Error::protocol("pb's streams do not cross to Twisted"));
        }
        let header = Header::Reply { req: self.req, ok: true };
        let buf = write(codec::encode_into(FrameBuf::with_capacity(64), &header)?)?;
        let max = self.link.max_frame_len();
        if buf.len() > max {
            return Err(Error::LimitExceeded { what: "frame length".into(), limit: max as u64 });
        }
        let frame = buf.finish();
        let len = frame.len();
        self.finish();
        let _ = self.link.send_bulk(frame);
        Ok(len)
    }

    fn send_reply<R: Serialize + ?Sized>(mut self, result: &R, text: &dyn Fn() -> Option<String>) -> Result<(), Error> {
        if !self.answer {
            return Ok(()); // a oneway call: nothing is encoded or sent
        }
        if self.link.jelly().is_some() {
            return self.send_jelly(result, text);
        }
        let frame = encode_with_refs(&self.link, &Header::Reply { req: self.req, ok: true }, result)?;
        self.finish();
        let _ = self.link.send(frame);
        Ok(())
    }

    /// [`send_described`](Self::send_described) to a Twisted peer: an
    /// answer or a failure, or nothing for a call that wants no answer.
    fn send_jelly<R: Serialize + ?Sized>(mut self, result: &R, text: &dyn Fn() -> Option<String>) -> Result<(), Error> {
        if !self.answer {
            return Ok(()); // a oneway call: nothing is encoded or sent
        }
        let link = self.link.clone();
        let jelly = link.jelly().ok_or_else(|| Error::protocol("not a Twisted link"))?;
        let mut outcome = None;
        let caches = jelly.with_refs(&mut || {
            outcome = Some(broker::outcome(result, &EncodeOptions::default(), text)?);
            Ok(())
        })?;
        let outcome = outcome.ok_or_else(|| Error::protocol("the reply was not encoded"))?;
        self.finish();
        let sent = jelly.send_outcome(self.req, outcome);
        jelly.start_caches(caches, sent);
        Ok(())
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A frame whose payload failed: `Reply { ok: false }` with the error.
pub(crate) fn fault_frame(req: u64, e: &Error) -> EncodedFrame {
    wire::encode_frame(&Header::Reply { req, ok: false }, e).expect("errors always encode")
}

scoped_tls::scoped_thread_local!(static REFS: RefCx);

/// The connection references are exported to or imported from during one
/// encode or decode, and the exports an encode made (rolled back if the
/// encode fails: the peer never sees them, so it would never release them).
pub(crate) struct RefCx {
    link: Arc<dyn Link>,
    exported: RefCell<Vec<u64>>,
}

impl RefCx {
    /// The reference context of the encode or decode running on this
    /// thread, if any.
    pub(crate) fn with<R>(f: impl FnOnce(Option<&RefCx>) -> R) -> R {
        if REFS.is_set() { REFS.with(|c| f(Some(c))) } else { f(None) }
    }

    /// The connection.
    pub(crate) fn link(&self) -> &Arc<dyn Link> {
        &self.link
    }

    /// Export an object on the connection, to be rolled back if the encode
    /// fails.
    pub(crate) fn export(&self, key: ObjectKey, make: &mut dyn FnMut() -> Arc<dyn Dispatch>) -> Result<u64, Error> {
        let id = self.link.export(key, make)?;
        self.exported.borrow_mut().push(id);
        Ok(id)
    }
}

/// Run `f`, an encode or decode for `link`, with its [`RefCx`] lent; the
/// exports an encode made are rolled back if `f` fails.
pub(crate) fn with_refs<T>(link: &Arc<dyn Link>, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let cx = RefCx { link: link.clone(), exported: RefCell::new(Vec::new()) };
    let result = REFS.set(&cx, f);
    if result.is_err() {
        for id in cx.exported.take() {
            link.unexport(id);
        }
    }
    result
}

/// Encode a frame whose payload may carry references, all or nothing: if
/// the payload fails to encode or the frame is over the limit, the exports
/// it made are rolled back.
pub(crate) fn encode_with_refs<T: Serialize + ?Sized>(
    link: &Arc<dyn Link>,
    header: &Header,
    payload: &T,
) -> Result<EncodedFrame, Error> {
    with_refs(link, || {
        wire::with_encode(|| {
            let buf = wire::encode_frame_with(header, payload)?;
            let max = link.max_frame_len();
            if buf.len() > max {
                return Err(Error::LimitExceeded { what: "frame length".into(), limit: max as u64 });
            }
            Ok(buf.finish())
        })
    })
}

/// Run `f`, a decode of `frame` (or of part of it) that may hold references
/// on `link`.
pub(crate) fn decode_with_refs<T>(
    link: &Arc<dyn Link>,
    frame: &Bytes,
    f: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    with_refs(link, || wire::with_decode(frame, link.limits(), f))
}
