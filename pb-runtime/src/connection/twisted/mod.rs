//! A connection to a Twisted Perspective Broker peer: PB's handshake (as
//! the client or as the server), calls as PB messages with jelly
//! arguments, answers and failures, and references both ways with Twisted's
//! counts.
//!
//! The link implements [`Link`] like pb's own connections, so proxies,
//! references and generated dispatch code use it unchanged; its calls go
//! through [`JellyCalls`].
//!
//! | file | owns |
//! | --- | --- |
//! | `mod.rs` | the link: its state, the two handshakes, `Link` and `JellyCalls` |
//! | `io.rs` | the reader and writer tasks |
//! | `refs.rs` | the reference hook lent to jelly encodes and decodes |
//! | `serve.rs` | messages from the peer: calls of our objects, answers, releases |
//! | `caches.rs` | caches both ways (PB's `Cacheable` and `RemoteCache`) |

mod cache_table;
mod caches;
mod io;
mod refs;
mod serve;

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::core::next_conn_id;
use super::link::{
    self, Dispatch, JellyCalls, JellySlot, Link, ObjectKey, ReceivedCache, RemoteRef, ReplySlot, SentCache,
};
use super::tables::Exports;
use crate::wire::EncodedFrame;
use crate::wire::twisted::banana::{self, Dialect, Limits, Splitter, Value};
use crate::wire::twisted::broker::{self, Call, Failure, Message, Outcome, RequestIds, Target, handshake};
use crate::wire::twisted::jelly::{self, form, hook};
use crate::{Config, Error};

use io::{Inbox, read_value};
use refs::Refs;

/// The luid pb gives the peer's root (Twisted's root goes by the name
/// `b"root"`, never by a luid).
pub(crate) const TWISTED_ROOT: u64 = super::tables::ROOT_ID;

/// The settings of a link, from [`Config`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    limits: Limits,
    max_exports: usize,
    max_in_flight: usize,
    max_queued_bytes: usize,
    frame_timeout: Duration,
    handshake_timeout: Duration,
}

impl Settings {
    /// The settings `config` gives a Twisted link.
    pub(crate) fn from_config(config: &Config) -> Settings {
        Settings {
            limits: Limits { max_depth: config.effective_max_depth(), max_len: config.effective_max_frame_len() },
            max_exports: config.max_exports,
            max_in_flight: config.max_in_flight,
            max_queued_bytes: config.max_queued_bytes,
            frame_timeout: config.frame_timeout,
            handshake_timeout: config.handshake_timeout,
        }
    }
}

/// One connection to a Twisted PB peer.
pub(crate) struct TwistedLink {
    id: u64,
    peer: String,
    dialect: Dialect,
    settings: Settings,
    closed: AtomicBool,
    /// Cancelled when the link closes.
    closed_token: CancellationToken,
    /// Cancelled to stop the reader (the link closes, or the peer does not
    /// read).
    stop: CancellationToken,
    /// This link, for the references it hands out.
    me: Weak<TwistedLink>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    /// Bytes queued for the writer and not yet written.
    queued: Arc<AtomicUsize>,
    state: Mutex<State>,
    /// The object served as `b"root"` (a server's).
    root: Option<Arc<dyn Dispatch>>,
    /// The peer's calls running.
    in_flight: AtomicUsize,
    /// Set by a server shutting down: new calls are refused.
    draining: AtomicBool,
}

#[derive(Default)]
struct State {
    reqs: RequestIds,
    pending: HashMap<u64, JellySlot>,
    /// Our objects the peer holds, by luid, counted per send.
    exports: Exports,
    /// Objects the peer released since its last message of another kind:
    /// still resolvable by luid (see `serve.rs`).
    parked: Vec<(u64, Arc<dyn Dispatch>)>,
    /// Caches both ways.
    caches: cache_table::Caches,
}

/// What a handshake left: the stream halves, and the splitter and buffer
/// with any bytes read past it.
struct Opened<R, W> {
    rd: R,
    wr: W,
    splitter: Splitter,
    buf: BytesMut,
    dialect: Dialect,
}

impl TwistedLink {
    /// Run PB's handshake as the client (the server speaks first), then
    /// start the reader and writer tasks. Returns once calls may be sent.
    ///
    /// # Errors
    ///
    /// An I/O error, or a peer that does not speak PB (no dialect pb knows,
    /// another protocol version).
    pub(crate) async fn connect<R, W>(rd: R, wr: W, peer: String, settings: Settings) -> Result<Arc<TwistedLink>, Error>
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let (mut rd, mut wr) = (rd, wr);
        let mut splitter = Splitter::new(settings.limits);
        let mut buf = BytesMut::with_capacity(4096);
        let offer = read_value(&mut rd, &mut splitter, &mut buf).await?;
        let (dialect, answer) = handshake::choose(&offer)?;
        let mut hello = banana::encode_to_vec(&answer, Dialect::None)?;
        splitter.set_dialect(dialect);
        hello.extend(Message::Version(broker::VERSION).encode(dialect)?);
        wr.write_all(&hello).await?;
        read_version(&mut rd, &mut splitter, &mut buf).await?;
        Ok(Self::start(Opened { rd, wr, splitter, buf, dialect }, peer, settings, None))
    }

    /// Run PB's handshake as the server (offer the dialects, take the
    /// client's pick, exchange versions) within the handshake timeout,
    /// then start the reader and writer tasks, serving `root` as `b"root"`.
    ///
    /// # Errors
    ///
    /// An I/O error, a peer that does not speak PB, or one too slow.
    pub(crate) async fn accept<R, W>(
        rd: R,
        wr: W,
        peer: String,
        settings: Settings,
        root: Option<Arc<dyn Dispatch>>,
    ) -> Result<Arc<TwistedLink>, Error>
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let handshake = async move {
            let (mut rd, mut wr) = (rd, wr);
            wr.write_all(&banana::encode_to_vec(&handshake::offer(), Dialect::None)?).await?;
            let mut splitter = Splitter::new(settings.limits);
            let mut buf = BytesMut::with_capacity(4096);
            let dialect = handshake::accept(&read_value(&mut rd, &mut splitter, &mut buf).await?)?;
            splitter.set_dialect(dialect);
            wr.write_all(&Message::Version(broker::VERSION).encode(dialect)?).await?;
            read_version(&mut rd, &mut splitter, &mut buf).await?;
            Ok::<_, Error>(Opened { rd, wr, splitter, buf, dialect })
        };
        let opened =
            tokio::time::timeout(settings.handshake_timeout, handshake).await.map_err(|_| Error::LimitExceeded {
                what: "PB handshake time (ms)".into(),
                limit: settings.handshake_timeout.as_millis() as u64,
            })??;
        Ok(Self::start(opened, peer, settings, root))
    }

    fn start<R, W>(opened: Opened<R, W>, peer: String, settings: Settings, root: Option<Arc<dyn Dispatch>>) -> Arc<Self>
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let (out, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let link = Arc::new_cyclic(|me| TwistedLink {
            queued: queued.clone(),
            id: next_conn_id(),
            me: me.clone(),
            peer,
            dialect: opened.dialect,
            settings,
            closed: AtomicBool::new(false),
            closed_token: CancellationToken::new(),
            stop: CancellationToken::new(),
            out,
            state: Mutex::new(State::default()),
            root,
            in_flight: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
        });
        tokio::spawn(io::write_loop(opened.wr, rx, queued));
        tokio::spawn(io::read_loop(Arc::downgrade(&link), opened.rd, opened.splitter, opened.buf, link.stop.clone()));
        link
    }

    /// Close the link: pending calls fail with `ConnectionLost`, and our
    /// exports are dropped.
    pub(crate) fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            let (pending, exports, caches) = {
                let mut state = self.state.lock().unwrap();
                let exports = (state.exports.take(), std::mem::take(&mut state.parked));
                (std::mem::take(&mut state.pending), exports, state.caches.take())
            };
            // Dropped outside the lock: a slot's sender (the caller sees
            // ConnectionLost) and the objects, which may be the user's.
            drop((pending, exports, caches));
            let _ = self.out.send(Vec::new()); // an empty write stops the writer
            self.stop.cancel();
            self.closed_token.cancel();
        }
    }

    /// Wait until the link is closed.
    pub(crate) async fn closed(&self) {
        self.closed_token.cancelled().await;
    }

    /// Refuse the peer's new calls with [`Error::ShuttingDown`].
    pub(crate) fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// The peer's calls running now.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// How many of our objects the peer holds (the root not counted).
    pub(crate) fn exported(&self) -> usize {
        self.state.lock().unwrap().exports.len()
    }

    fn send_message(&self, message: &Message) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::Disconnected);
        }
        let bytes = message.encode(self.dialect)?;
        let max = self.settings.limits.max_len;
        if bytes.len() > max {
            return Err(Error::LimitExceeded { what: "frame length".into(), limit: max as u64 });
        }
        let (n, limit) = (bytes.len(), self.settings.max_queued_bytes);
        if self.queued.fetch_add(n, Ordering::AcqRel) + n > limit {
            // A peer that does not read: stop writing (the writer shuts the
            // write side, the peer's end closes, and so does the link).
            self.queued.fetch_sub(n, Ordering::AcqRel);
            tracing::warn!(peer = %self.peer, limit, "a Twisted peer does not read; closing");
            let _ = self.out.send(Vec::new());
            self.stop.cancel(); // the reader closes the link (not here: a lock may be held)
            return Err(Error::LimitExceeded { what: "bytes queued for the peer".into(), limit: limit as u64 });
        }
        self.out.send(bytes).map_err(|_| Error::Disconnected)
    }

    /// Run `f`, a jelly encode or decode, with this link's references lent
    /// (the hook, and the [`link::RefCx`] exports go through); also returns
    /// the luids of the counted references the decode made.
    fn lend<T>(self: &Arc<Self>, f: impl FnOnce() -> Result<T, Error>) -> (Result<T, Error>, Vec<u64>) {
        let link: Arc<dyn Link> = self.clone();
        let refs = Rc::new(Refs::new(link.clone()));
        let hook: Rc<dyn hook::RefHook> = refs.clone();
        let result = link::with_refs(&link, || Ok(hook::with_hook(&hook, || f().map_err(Into::into))?));
        (result, refs.take_imported())
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

/// Read the peer's `["version", n]`, the first message after the dialect.
async fn read_version<R: AsyncRead + Unpin>(
    rd: &mut R,
    splitter: &mut Splitter,
    buf: &mut BytesMut,
) -> Result<(), Error> {
    match Message::from_value(read_value(rd, splitter, buf).await?)? {
        Message::Version(v) => handshake::check_version(v),
        _ => Err(Error::protocol("the peer sent something before its PB version")),
    }
}

impl Inbox for TwistedLink {
    fn decode(&self, expr: &bytes::Bytes) -> Result<Message, Error> {
        Message::decode(expr, self.dialect, self.settings.limits.max_depth)
    }
    fn received(self: &Arc<Self>, message: Message) -> Result<(), Error> {
        TwistedLink::received(self, message)
    }
    fn frame_timeout(&self) -> Duration {
        self.settings.frame_timeout
    }
    fn has_parked(&self) -> bool {
        TwistedLink::has_parked(self)
    }
    fn unpark(&self) {
        TwistedLink::unpark(self)
    }
    fn close(&self) {
        TwistedLink::close(self)
    }
    fn peer(&self) -> &str {
        &self.peer
    }
}

impl JellyCalls for TwistedLink {
    fn send_call(&self, req: u64, target: u64, method: &str, args: Value, slot: JellySlot) -> Result<(), Error> {
        let call = call_message(req, target, method, true, args);
        self.state.lock().unwrap().pending.insert(req, slot);
        if let Err(e) = self.send_message(&call) {
            self.state.lock().unwrap().pending.remove(&req);
            return Err(e);
        }
        Ok(())
    }

    fn send_oneway(&self, req: u64, target: u64, method: &str, args: Value) -> Result<(), Error> {
        self.send_message(&call_message(req, target, method, false, args))
    }

    fn with_refs(&self, f: &mut dyn FnMut() -> Result<(), Error>) -> Result<Vec<(u64, bool)>, Error> {
        let link = self.me.upgrade().ok_or(Error::Disconnected)?;
        let ((result, _), sends) = cache_table::noting(|| link.lend(f));
        match result {
            Ok(()) => Ok(sends),
            Err(e) => {
                link.unsend_caches(sends);
                Err(e)
            }
        }
    }

    fn start_caches(&self, sends: Vec<(u64, bool)>, sent: bool) {
        if sent {
            self.start_caches_now(sends);
        } else {
            self.unsend_caches(sends);
        }
    }

    fn export_cache(
        &self,
        key: u64,
        make: &mut dyn FnMut(u64) -> Result<SentCache, Error>,
    ) -> Result<(u64, bool), Error> {
        self.export_cache_now(key, make)
    }

    fn exported_cache(&self, luid: u64) -> Option<Arc<dyn std::any::Any + Send + Sync>> {
        self.exported_cache_now(luid)
    }

    fn send_cache_call(&self, luid: u64, method: &str, args: Value) -> Result<(), Error> {
        self.send_cache_call_now(luid, method, args)
    }

    fn received_cache(&self, luid: u64) -> Option<Arc<dyn ReceivedCache>> {
        self.received_cache_now(luid)
    }

    fn receive_cache(&self, luid: u64, cache: Arc<dyn ReceivedCache>) -> Result<(), Error> {
        self.receive_cache_now(luid, cache)
    }

    fn kept_copy(&self, luid: u64) {
        TwistedLink::kept_copy(self, luid);
    }

    fn decache(&self, luid: u64, copies: u64) {
        self.decache_now(luid, copies);
    }

    fn close_link(&self) {
        self.close();
    }

    fn send_outcome(&self, req: u64, outcome: Outcome) -> bool {
        let message = match outcome {
            Outcome::Answer(value) => Message::Answer { req, value },
            Outcome::Failure(failure) => Message::Error { req, failure: failure.to_value() },
        };
        if let Err(e) = self.send_message(&message) {
            // Too large for the peer, say: it still gets its one reply.
            tracing::debug!(peer = %self.peer, error = %e, "sending a reply failed");
            let failure = Failure::from_error(&e).to_value();
            let _ = self.send_message(&Message::Error { req, failure });
            return false;
        }
        true
    }
}

/// PB's `["message", ...]` calling `method` of our peer's object `target`.
fn call_message(req: u64, target: u64, method: &str, answer_required: bool, args: Value) -> Message {
    let target = if target == TWISTED_ROOT { Target::root() } else { Target::Luid(target) };
    Message::Call(Call {
        req,
        target,
        method: bytes::Bytes::copy_from_slice(method.as_bytes()),
        answer_required,
        args,
        kw: form::dictionary([]),
    })
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
        self.settings.limits.max_len
    }
    fn limits(&self) -> crate::wire::codec::Limits {
        crate::wire::codec::Limits { max_depth: self.settings.limits.max_depth, ..Default::default() }
    }
    fn export(&self, key: ObjectKey, make: &mut dyn FnMut() -> Arc<dyn Dispatch>) -> Result<u64, Error> {
        if self.is_closed() {
            return Err(Error::Disconnected);
        }
        self.state.lock().unwrap().exports.export(key, make, self.settings.max_exports)
    }
    fn unexport(&self, id: u64) {
        let released = self.state.lock().unwrap().exports.release(id, 1);
        drop(released); // outside the lock
    }
    fn exported(&self, id: u64) -> Result<Arc<dyn Dispatch>, Error> {
        if id == jelly::ROOT_LUID {
            // `["local", b"root"]`: our root sent back.
            return self.root.clone().ok_or(Error::UnknownObject { id });
        }
        let state = self.state.lock().unwrap();
        let parked = || state.parked.iter().find(|(luid, _)| *luid == id).map(|(_, object)| object);
        state.exports.get(id).or_else(parked).cloned().ok_or(Error::UnknownObject { id })
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
    fn call_finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
    fn jelly(&self) -> Option<&dyn JellyCalls> {
        Some(self)
    }
}
