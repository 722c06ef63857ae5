//! A connection to a Twisted Perspective Broker peer: the client side of
//! PB's handshake, calls as PB messages with jelly arguments, answers and
//! failures, and the references the peer sends (one `RemoteRef` per
//! occurrence received, one `decref` when it goes, as Twisted counts).
//!
//! The link implements [`Link`] like pb's own connections, so proxies and
//! references use it unchanged; its calls go through [`JellyCalls`]. It
//! serves nothing: a call or reference from the peer to an object of ours
//! is refused (pb does not export objects to Twisted peers yet).

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::core::next_conn_id;
use super::link::{Dispatch, JellyCalls, JellySlot, Link, ObjectKey, RemoteRef, ReplySlot};
use crate::Error;
use crate::wire::EncodedFrame;
use crate::wire::twisted::banana::{self, Dialect, Limits, Splitter, Value};
use crate::wire::twisted::broker::{self, Call, Failure, Message, RequestIds, Target, handshake};
use crate::wire::twisted::jelly::{Received, RefForm, form, hook, remote_occurrences};

/// The luid pb gives the peer's root (Twisted's root goes by the name
/// `b"root"`, never by a luid).
pub(crate) const TWISTED_ROOT: u64 = super::tables::ROOT_ID;

/// One connection to a Twisted PB server.
pub(crate) struct TwistedLink {
    id: u64,
    peer: String,
    dialect: Dialect,
    limits: Limits,
    closed: AtomicBool,
    /// This link, for the references it hands out.
    me: Weak<TwistedLink>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    reqs: RequestIds,
    pending: HashMap<u64, JellySlot>,
}

impl TwistedLink {
    /// Run PB's handshake as the client over `stream`, then start the
    /// reader and writer tasks. Returns once calls may be sent.
    ///
    /// # Errors
    ///
    /// An I/O error, or a peer that does not speak PB (no dialect pb knows,
    /// another protocol version).
    pub(crate) async fn connect<S>(stream: S, peer: String, limits: Limits) -> Result<Arc<TwistedLink>, Error>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut splitter = Splitter::new(limits);
        let mut buf = BytesMut::with_capacity(4096);
        let offer = read_value(&mut rd, &mut splitter, &mut buf).await?;
        let (dialect, answer) = handshake::choose(&offer)?;
        let mut hello = banana::encode_to_vec(&answer, Dialect::None)?;
        splitter.set_dialect(dialect);
        hello.extend(Message::Version(broker::VERSION).encode(dialect)?);
        wr.write_all(&hello).await?;
        match Message::from_value(read_value(&mut rd, &mut splitter, &mut buf).await?)? {
            Message::Version(v) => handshake::check_version(v)?,
            _ => return Err(Error::protocol("the peer sent something before its PB version")),
        }
        let (out, rx) = mpsc::unbounded_channel();
        let link = Arc::new_cyclic(|me| TwistedLink {
            id: next_conn_id(),
            me: me.clone(),
            peer,
            dialect,
            limits,
            closed: AtomicBool::new(false),
            out,
            state: Mutex::new(State::default()),
        });
        tokio::spawn(write_loop(wr, rx));
        tokio::spawn(read_loop(Arc::downgrade(&link), rd, splitter, buf));
        Ok(link)
    }

    /// Close the link: pending calls fail with `ConnectionLost`.
    pub(crate) fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            let pending = std::mem::take(&mut self.state.lock().unwrap().pending);
            drop(pending); // dropping a slot drops its sender: the caller sees ConnectionLost
            let _ = self.out.send(Vec::new()); // an empty write stops the writer
        }
    }

    fn send_message(&self, message: &Message) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::Disconnected);
        }
        let bytes = message.encode(self.dialect)?;
        if bytes.len() > self.limits.max_len {
            return Err(Error::LimitExceeded { what: "frame length".into(), limit: self.limits.max_len as u64 });
        }
        self.out.send(bytes).map_err(|_| Error::Disconnected)
    }

    /// Handle one message from the peer.
    fn received(self: &Arc<Self>, message: Message) -> Result<(), Error> {
        let (req, owed, outcome) = match message {
            Message::Version(v) => return handshake::check_version(v),
            Message::Answer { req, value } => (req, remote_occurrences(&value), Ok(value)),
            Message::Error { req, failure } => {
                let error = Failure::from_value(&failure).map_or_else(|e| e, |f| f.to_error());
                (req, remote_occurrences(&failure), Err(error))
            }
            Message::Call(call) | Message::CacheCall(call) => {
                // pb serves nothing to a Twisted peer yet: refuse the call,
                // and release the references it carried.
                let mut owed = remote_occurrences(&call.args);
                owed.extend(remote_occurrences(&call.kw));
                self.release(owed, Vec::new());
                let id = match call.target {
                    Target::Luid(id) => id,
                    Target::Name(_) => TWISTED_ROOT,
                };
                let failure = Failure::from_error(&Error::UnknownObject { id }).to_value();
                return match broker::reply(&call, Err(failure)) {
                    Some(reply) => self.send_message(&reply),
                    None => Ok(()),
                };
            }
            Message::Decref(_) | Message::Decache(_) | Message::Uncache(_) => {
                return Err(Error::protocol("a Twisted peer released an object pb never sent"));
            }
        };
        let slot = self.state.lock().unwrap().pending.remove(&req);
        let link: Arc<dyn Link> = self.clone();
        let refs = Rc::new(Refs { link: link.clone(), seen: RefCell::default(), imported: RefCell::default() });
        // An answer to a call whose caller stopped waiting is dropped (its
        // references are released below).
        if let Some(slot) = slot {
            let hook: Rc<dyn hook::RefHook> = refs.clone();
            let _ = hook::with_hook(&hook, || {
                slot(&link, outcome);
                Ok(())
            });
        }
        self.release(owed, refs.imported.take());
        Ok(())
    }

    /// Send a decref for each reference in `owed` (one per occurrence
    /// received) that did not become a [`RemoteRef`] (in `imported`, which
    /// releases itself): the caller was gone, the decode failed half way,
    /// or the type skipped it.
    fn release(&self, mut owed: Vec<u64>, imported: Vec<u64>) {
        for luid in imported {
            if let Some(i) = owed.iter().position(|&l| l == luid) {
                owed.swap_remove(i);
            }
        }
        for luid in owed {
            let _ = self.send_message(&Message::Decref(luid));
        }
    }
}

/// Read one whole banana expression during the handshake.
async fn read_value<R: AsyncRead + Unpin>(
    rd: &mut R,
    splitter: &mut Splitter,
    buf: &mut BytesMut,
) -> Result<Value, Error> {
    loop {
        if let Some(expr) = splitter.split(buf)? {
            let (value, _) = banana::decode(&expr.freeze(), splitter.dialect(), splitter.limits().max_depth)?;
            return Ok(value);
        }
        if rd.read_buf(buf).await? == 0 {
            return Err(Error::ConnectionLost);
        }
    }
}

/// The reader task. It holds the link weakly: when the last proxy and
/// handle go, the writer's queue closes, the writer shuts the write side,
/// the peer closes, and this loop ends.
async fn read_loop<R: AsyncRead + Unpin>(
    link: Weak<TwistedLink>,
    mut rd: R,
    mut splitter: Splitter,
    mut buf: BytesMut,
) {
    let result: Result<(), Error> = async {
        loop {
            while let Some(expr) = splitter.split(&mut buf)? {
                let Some(link) = link.upgrade() else { return Ok(()) };
                let message = Message::decode(&expr.freeze(), link.dialect, link.limits.max_depth)?;
                link.received(message)?;
            }
            if rd.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        }
    }
    .await;
    if let Some(link) = link.upgrade() {
        if let Err(e) = result {
            tracing::debug!(peer = %link.peer, error = %e, "closing the Twisted link");
        }
        link.close();
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(mut wr: W, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(bytes) = rx.recv().await {
        if bytes.is_empty() || wr.write_all(&bytes).await.is_err() {
            break;
        }
    }
    let _ = wr.shutdown().await;
}

/// The link's side of references during one encode or decode.
///
/// Decoding, each `["remote", luid]` occurrence becomes a fresh counted
/// [`RemoteRef`], released with one `decref` (Twisted counts one per
/// occurrence sent); a `["dereference", n]` of an occurrence already met is
/// the same reference. Encoding, a proxy to one of the peer's objects goes
/// back as `["local", luid]`; pb's own objects cannot be sent yet.
struct Refs {
    link: Arc<dyn Link>,
    /// The reference made for each luid met, for its dereferences.
    seen: RefCell<HashMap<u64, Arc<RemoteRef>>>,
    /// The luid of each counted reference made.
    imported: RefCell<Vec<u64>>,
}

impl hook::RefHook for Refs {
    fn export(&self, object: &dyn Any) -> Result<RefForm, Error> {
        match object.downcast_ref::<Option<Arc<RemoteRef>>>() {
            Some(Some(target)) => target
                .id_on(self.link.id())
                .filter(|&id| id != TWISTED_ROOT)
                .map(RefForm::Local)
                .ok_or_else(|| Error::protocol("a reference from another connection cannot go to a Twisted peer")),
            _ => Err(Error::protocol("pb cannot send its own objects to a Twisted peer yet")),
        }
    }

    fn import(&self, received: Received) -> Result<Box<dyn Any>, Error> {
        let RefForm::Remote(luid) = received.form else {
            return Err(Error::protocol("a Twisted peer sent back an object pb never sent"));
        };
        let mut seen = self.seen.borrow_mut();
        let target = match seen.get(&luid) {
            Some(target) if !received.first => target.clone(),
            _ => {
                let target = self.link.import(luid);
                self.imported.borrow_mut().push(luid);
                seen.insert(luid, target.clone());
                target
            }
        };
        Ok(Box::new(target))
    }
}

impl JellyCalls for TwistedLink {
    fn send_call(&self, req: u64, target: u64, method: &str, args: Value, slot: JellySlot) -> Result<(), Error> {
        let target = if target == TWISTED_ROOT { Target::root() } else { Target::Luid(target) };
        let call = Call {
            req,
            target,
            method: bytes::Bytes::copy_from_slice(method.as_bytes()),
            answer_required: true,
            args,
            kw: form::dictionary([]),
        };
        self.state.lock().unwrap().pending.insert(req, slot);
        if let Err(e) = self.send_message(&Message::Call(call)) {
            self.state.lock().unwrap().pending.remove(&req);
            return Err(e);
        }
        Ok(())
    }

    fn with_refs(&self, f: &mut dyn FnMut() -> Result<(), Error>) -> Result<(), Error> {
        let link: Arc<dyn Link> = self.me.upgrade().ok_or(Error::Disconnected)?;
        let hook: Rc<dyn hook::RefHook> =
            Rc::new(Refs { link, seen: RefCell::default(), imported: RefCell::default() });
        Ok(hook::with_hook(&hook, || f().map_err(Into::into))?)
    }
}

impl Link for TwistedLink {
    fn id(&self) -> u64 {
        self.id
    }
    fn peer(&self) -> &str {
        &self.peer
    }
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
    fn max_frame_len(&self) -> usize {
        self.limits.max_len
    }
    fn limits(&self) -> crate::wire::codec::Limits {
        crate::wire::codec::Limits { max_depth: self.limits.max_depth, ..Default::default() }
    }
    fn export(&self, _key: ObjectKey, _make: &mut dyn FnMut() -> Arc<dyn Dispatch>) -> Result<u64, Error> {
        Err(Error::protocol("pb cannot send objects to a Twisted peer yet"))
    }
    fn unexport(&self, _id: u64) {}
    fn exported(&self, id: u64) -> Result<Arc<dyn Dispatch>, Error> {
        Err(Error::UnknownObject { id })
    }
    fn import(&self, id: u64) -> Arc<RemoteRef> {
        // Called from a decode, which holds an `Arc` of this link.
        let link: Arc<dyn Link> = self.me.upgrade().expect("a link imports while it is alive");
        Arc::new(RemoteRef::new(link, id, true))
    }
    fn drop_import(&self, id: u64, _rref: *const RemoteRef) {
        if !self.is_closed() {
            let _ = self.send_message(&Message::Decref(id));
        }
    }
    fn next_req(&self) -> u64 {
        self.state.lock().unwrap().reqs.next_id()
    }
    fn send(&self, _frame: EncodedFrame) -> Result<(), Error> {
        Err(Error::protocol("a Twisted link sends PB messages, not pb frames"))
    }
    fn send_call(&self, _req: u64, _frame: EncodedFrame, _slot: ReplySlot) -> Result<bool, Error> {
        Err(Error::protocol("a Twisted link sends PB messages, not pb frames"))
    }
    fn flush(&self) {}

    fn queued_frames(&self) -> usize {
        0
    }
    fn abandon(&self, req: u64) {
        self.state.lock().unwrap().pending.remove(&req);
    }
    fn call_finished(&self) {}
    fn jelly(&self) -> Option<&dyn JellyCalls> {
        Some(self)
    }
}
