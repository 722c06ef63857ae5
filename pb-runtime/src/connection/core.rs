//! The state of one connection, shared by its reader and writer, its
//! handles, and (as a [`Link`]) the references on it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::link::{Dispatch, Link, ObjectKey, RemoteRef, ReplySlot, StreamCount};
use super::outbox::Outbox;
use super::tables::{Exports, Imports, Pending};
use crate::Error;
use crate::config::Config;
use crate::transport::BoxWrite;
use crate::wire::codec::Limits;
use crate::wire::resume::Secret;
use crate::wire::{self, EncodedFrame, Header};

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// A process-unique connection number.
pub(crate) fn next_conn_id() -> u64 {
    NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed)
}

/// A server's table of resumable sessions, as a connection of it sees it
/// (implemented in `resume.rs`).
pub(crate) trait SessionTable: Send + Sync {
    /// How long a session whose link dropped waits for its client.
    fn grace(&self) -> Duration;
    /// Bytes of frames a session keeps for its resume.
    fn max_bytes(&self) -> usize;
    /// Count one more session waiting for its client; false (nothing
    /// counted) when as many as allowed already wait.
    fn hold(&self) -> bool;
    /// A waiting session resumed or closed.
    fn unhold(&self);
    /// Session `id` closed for good.
    fn remove(&self, id: u64);
    /// The client's first frame on a resumed link of session `id` arrived.
    fn confirm(&self, id: u64);
}

/// Starts a transport's reader (and writer) task: given the connection,
/// the transport's generation and what stops its tasks. (Provided by the
/// caller, so this file does not reach up to the reader.)
pub(crate) type SpawnLink<'a> = Box<dyn FnOnce(Arc<ConnCore>, u64, CancellationToken) -> JoinHandle<()> + 'a>;

/// Which side of a resumable session a connection is, if it is one.
pub(crate) enum SessionRole {
    /// A plain connection: when its transport fails, it closes.
    None,
    /// The client of a session: it presents `ticket` to resume.
    Client(Mutex<Ticket>),
    /// The server of a session, in its server's table.
    Server(Weak<dyn SessionTable>),
}

/// A client's proof of its session, and how long the server waits for it.
#[derive(Clone)]
pub(crate) struct Ticket {
    pub(crate) id: u64,
    pub(crate) secret: Secret,
    pub(crate) grace: Duration,
}

/// The transport a connection currently runs over.
struct LinkSlot {
    /// Increments at every new transport.
    generation: u64,
    /// Stops this transport's reader and writer.
    cancel: CancellationToken,
    reader: Option<JoinHandle<()>>,
    /// When the link went down (`None` while it is up).
    down_since: Option<Instant>,
    /// A server session counted among those waiting for their client.
    held: bool,
    /// Why the link last went down.
    down_reason: String,
    /// How long the last outage lasted.
    last_outage: Duration,
}

/// One connection's state.
pub(crate) struct ConnCore {
    /// Process-unique connection number, for logs.
    pub(crate) id: u64,
    pub(crate) peer: String,
    pub(crate) config: Config,
    pub(crate) outbox: Outbox,
    next_req: AtomicU64,
    pending: Mutex<Pending>,
    pub(crate) exports: Mutex<Exports>,
    imports: Mutex<Imports>,
    pub(crate) in_flight: AtomicUsize,
    /// New calls are refused with `ShuttingDown` (graceful shutdown).
    pub(crate) draining: AtomicBool,
    closed: AtomicBool,
    pub(crate) cancel: CancellationToken,
    /// Interface id of the peer's root, from its hello.
    pub(crate) peer_root: OnceLock<Option<u64>>,
    /// The protocol version the peer speaks, from its hello.
    pub(crate) peer_version: AtomicU16,
    close_reason: Mutex<Option<String>>,
    me: Weak<ConnCore>,
    /// Whether (and how) the connection survives its transport.
    role: SessionRole,
    /// The server session's id in its table (0: none).
    session_id: AtomicU64,
    link_slot: Mutex<LinkSlot>,
    /// False while a session's link is down.
    attached: AtomicBool,
    /// Follows `attached`, for the session's watcher.
    attached_watch: watch::Sender<bool>,
    /// Numbered frames received (a session's count; see `wire::resume`).
    pub(crate) received: AtomicU64,
    /// Pings waiting for their pong.
    pings: Mutex<HashMap<u64, oneshot::Sender<()>>>,
    /// New calls while the link is down wait for the resume instead of
    /// failing with `Disconnected`.
    pub(crate) wait_when_down: AtomicBool,
    /// A server session resumed and its new secret is not yet confirmed.
    confirm_pending: AtomicBool,
    /// Streams sent on this connection and not yet released.
    streams: Arc<AtomicUsize>,
}

impl ConnCore {
    /// A connection to `peer` serving `root` (export id 0), if any, writing
    /// to `write` (its reader starts with [`ConnCore::start`]).
    pub(crate) fn new(
        peer: String,
        config: Config,
        root: Option<Arc<dyn Dispatch>>,
        write: BoxWrite,
        role: SessionRole,
    ) -> Arc<ConnCore> {
        let mut exports = Exports::default();
        if let Some(root) = root {
            exports.set_root(root);
        }
        let outbox = Outbox::new(write);
        let keep = match &role {
            SessionRole::None => None,
            SessionRole::Client(_) => Some(config.max_resume_bytes),
            SessionRole::Server(table) => Some(table.upgrade().map_or(config.max_resume_bytes, |t| t.max_bytes())),
        };
        if let Some(limit) = keep {
            outbox.keep_for_resume(limit);
        }
        // A server's own calls to its client (cache deliveries, callbacks)
        // wait for the client to resume; a client's fail fast by default
        // (its session sets this).
        let wait_when_down = matches!(role, SessionRole::Server(_));
        let cancel = CancellationToken::new();
        let link_slot = LinkSlot {
            generation: 0,
            cancel: cancel.child_token(),
            reader: None,
            down_since: None,
            held: false,
            down_reason: String::new(),
            last_outage: Duration::ZERO,
        };
        Arc::new_cyclic(|me| ConnCore {
            id: next_conn_id(),
            peer,
            config,
            outbox,
            next_req: AtomicU64::new(1),
            pending: Mutex::new(Pending::default()),
            exports: Mutex::new(exports),
            imports: Mutex::new(Imports::default()),
            in_flight: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            cancel,
            peer_root: OnceLock::new(),
            peer_version: AtomicU16::new(wire::MIN_VERSION),
            close_reason: Mutex::new(None),
            me: me.clone(),
            role,
            session_id: AtomicU64::new(0),
            link_slot: Mutex::new(link_slot),
            attached: AtomicBool::new(true),
            attached_watch: watch::Sender::new(true),
            received: AtomicU64::new(0),
            pings: Mutex::new(HashMap::new()),
            wait_when_down: AtomicBool::new(wait_when_down),
            confirm_pending: AtomicBool::new(false),
            streams: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Start the first transport's tasks (after the hellos).
    pub(crate) fn start(self: &Arc<Self>, spawn: SpawnLink<'_>) {
        let mut slot = self.link_slot.lock().unwrap();
        let (generation, cancel) = (slot.generation, slot.cancel.clone());
        slot.reader = Some(spawn(self.clone(), generation, cancel));
    }

    /// Whether the connection outlives its transport (a session).
    pub(crate) fn is_resumable(&self) -> bool {
        !matches!(self.role, SessionRole::None)
    }

    /// Why the link went down, while it is.
    pub(crate) fn down_reason(&self) -> Option<String> {
        let slot = self.link_slot.lock().unwrap();
        slot.down_since.map(|_| slot.down_reason.clone())
    }

    /// Whether the link is up (always, for a plain connection until it closes).
    pub(crate) fn is_attached(&self) -> bool {
        self.attached.load(Ordering::Acquire)
    }

    /// Resolves once the link is down (or the connection closed).
    pub(crate) async fn link_down(&self) {
        let mut rx = self.attached_watch.subscribe();
        tokio::select! {
            _ = rx.wait_for(|up| !*up) => {}
            () = self.cancel.cancelled() => {}
        }
    }

    /// How long the link has been down, if it is.
    pub(crate) fn down_for(&self) -> Option<Duration> {
        self.link_slot.lock().unwrap().down_since.map(|t| t.elapsed())
    }

    /// The client's session ticket.
    pub(crate) fn ticket(&self) -> Option<Ticket> {
        match &self.role {
            SessionRole::Client(t) => Some(t.lock().unwrap().clone()),
            _ => None,
        }
    }

    /// A fresh secret for the client's next resume.
    pub(crate) fn set_secret(&self, secret: Secret) {
        if let SessionRole::Client(t) = &self.role {
            t.lock().unwrap().secret = secret;
        }
    }

    /// Record the server session's id in its table.
    pub(crate) fn set_session_id(&self, id: u64) {
        self.session_id.store(id, Ordering::Release);
    }

    fn table(&self) -> Option<Arc<dyn SessionTable>> {
        match &self.role {
            SessionRole::Server(t) => t.upgrade(),
            _ => None,
        }
    }

    /// The transport `generation` failed (`None`: whichever is current): a
    /// session's link goes down and waits for a resume, a plain connection
    /// closes.
    pub(crate) fn link_lost(self: &Arc<Self>, generation: Option<u64>, reason: &str) {
        if !self.is_resumable() {
            return self.close(reason);
        }
        let (generation, held) = {
            let mut slot = self.link_slot.lock().unwrap();
            if generation.is_some_and(|g| g != slot.generation) || slot.down_since.is_some() || self.is_closed() {
                return; // an older transport, or already down
            }
            slot.down_since = Some(Instant::now());
            slot.down_reason = reason.to_string();
            slot.cancel.cancel();
            self.attached.store(false, Ordering::Release);
            // A server session counts among those waiting for their client.
            let table = self.table();
            slot.held = table.as_ref().is_some_and(|t| t.hold());
            (slot.generation, table.map(|t| (slot.held, t.grace())))
        };
        self.outbox.detach();
        let pings = std::mem::take(&mut *self.pings.lock().unwrap());
        drop(pings);
        self.attached_watch.send_replace(false);
        tracing::info!(conn = self.id, peer = %self.peer, %reason, "link lost; the session waits for a resume");
        if self.outbox.replay_state().1 {
            return self.close(format!("{reason}; more is waiting for the peer than a resume may keep"));
        }
        match held {
            Some((false, _)) => self.close(format!("{reason}; too many sessions waiting to resume")),
            Some((true, grace)) => {
                // The server's grace period: the client resumes within it,
                // or the session closes.
                let me = self.me.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(grace).await;
                    if let Some(core) = me.upgrade()
                        && core.link_slot.lock().unwrap().generation == generation
                        && !core.is_attached()
                    {
                        core.close("resume grace period expired");
                    }
                });
            }
            None => {}
        }
    }

    /// Wait until the reader of the transport that went down has stopped
    /// (so [`ConnCore::received`] is final).
    pub(crate) async fn reader_stopped(&self) {
        let reader = self.link_slot.lock().unwrap().reader.take();
        if let Some(reader) = reader {
            let _ = reader.await;
        }
    }

    /// Whether a peer that has received `received` of our numbered frames
    /// can resume: we still have every frame after those.
    pub(crate) fn can_resume(&self, received: u64) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::Disconnected);
        }
        self.outbox.check_resume(received)
    }

    /// Resume over a new transport: the peer has `received` of our numbered
    /// frames; the rest are written again, then everything new.
    pub(crate) fn reattach(
        self: &Arc<Self>,
        write: BoxWrite,
        received: u64,
        spawn: SpawnLink<'_>,
    ) -> Result<(), Error> {
        let mut slot = self.link_slot.lock().unwrap();
        if self.is_closed() {
            return Err(Error::Disconnected);
        }
        self.outbox.resume(write, received)?;
        slot.generation += 1;
        slot.cancel = self.cancel.child_token();
        let outage = slot.down_since.take().map(|t| t.elapsed()).unwrap_or_default();
        slot.last_outage = outage;
        if std::mem::take(&mut slot.held)
            && let Some(t) = self.table()
        {
            t.unhold();
        }
        if matches!(self.role, SessionRole::Server(_)) {
            self.confirm_pending.store(true, Ordering::Release);
        }
        slot.reader = Some(spawn(self.clone(), slot.generation, slot.cancel.clone()));
        drop(slot);
        self.attached.store(true, Ordering::Release);
        self.attached_watch.send_replace(true);
        tracing::info!(conn = self.id, peer = %self.peer, ?outage, "session resumed");
        match &self.role {
            // Show the server that the resume's hello (and its new secret)
            // arrived.
            SessionRole::Client(_) => {
                self.send_control(&Header::Ack { received: self.received.load(Ordering::Acquire) });
            }
            SessionRole::Server(_) | SessionRole::None => {}
        }
        Ok(())
    }

    /// How long the last outage lasted.
    pub(crate) fn last_outage(&self) -> Duration {
        self.link_slot.lock().unwrap().last_outage
    }

    /// A frame arrived on a resumed link (the reader calls this for the
    /// first one): the client has the secret the resume sent.
    pub(crate) fn confirm_resume(&self) {
        if self.confirm_pending.swap(false, Ordering::AcqRel)
            && let Some(t) = self.table()
        {
            t.confirm(self.session_id.load(Ordering::Acquire));
        }
    }

    /// This connection as the layers above see it.
    pub(crate) fn link(self: &Arc<Self>) -> Arc<dyn Link> {
        self.clone()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Queue a frame for the writer. Frames are written in the order queued.
    pub(crate) fn send(&self, frame: EncodedFrame) -> Result<(), Error> {
        self.check_open(&frame)?;
        let queued = self.outbox.push(frame);
        self.check_queued(queued)
    }

    /// Queue a bulk frame (a stream's answer): calls' frames overtake it.
    pub(crate) fn send_bulk(&self, frame: EncodedFrame) -> Result<(), Error> {
        self.check_open(&frame)?;
        let queued = self.outbox.push_bulk(frame);
        self.check_queued(queued)
    }

    /// Queue a frame without writing it; true if the queue was empty (the
    /// caller then owes a [`Outbox::flush`]).
    fn queue(&self, frame: EncodedFrame) -> Result<bool, Error> {
        self.check_open(&frame)?;
        let (queued, first) = self.outbox.push_deferred(frame);
        self.check_queued(queued)?;
        Ok(first)
    }

    fn check_open(&self, frame: &EncodedFrame) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::Disconnected);
        }
        let max = self.config.effective_max_frame_len();
        if frame.len() > max {
            return Err(Error::LimitExceeded { what: "frame length".into(), limit: max as u64 });
        }
        Ok(())
    }

    fn check_queued(&self, queued: usize) -> Result<(), Error> {
        if queued > self.config.max_queued_bytes {
            self.close(format!("peer is not reading: {queued} bytes queued"));
            return Err(Error::Disconnected);
        }
        if !self.is_attached() && self.outbox.replay_state().1 {
            // While the link is down, what is kept and queued for the peer
            // is past the resume budget: the session cannot resume.
            self.close("resume buffer full while the link was down");
        }
        Ok(())
    }

    /// Send a message without a payload.
    pub(crate) fn send_header(&self, header: &Header) -> Result<(), Error> {
        self.send(wire::encode_frame(header, &())?)
    }

    /// Send a per-transport message (ping, pong, acknowledgement): never
    /// kept for a resume; dropped while the link is down.
    pub(crate) fn send_control(&self, header: &Header) {
        if self.is_closed() || !self.is_attached() {
            return;
        }
        if let Ok(frame) = wire::encode_frame(header, &()) {
            self.outbox.push_control(frame);
        }
    }

    /// Acknowledge `received` numbered frames, with the next frames written.
    pub(crate) fn send_ack(&self, received: u64) {
        if self.is_closed() || !self.is_attached() {
            return;
        }
        if let Ok(frame) = wire::encode_frame(&Header::Ack { received }, &()) {
            self.outbox.push_ack(frame);
        }
    }

    /// Round-trip a ping on the current transport.
    pub(crate) async fn ping(&self) -> Result<(), Error> {
        let nonce = self.next_req.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut pings = self.pings.lock().unwrap();
            if self.is_closed() || !self.is_attached() {
                return Err(Error::Disconnected);
            }
            pings.insert(nonce, tx);
        }
        self.send_control(&Header::Ping { nonce });
        let result = rx.await.map_err(|_| Error::ConnectionLost);
        self.pings.lock().unwrap().remove(&nonce);
        result
    }

    /// The pong of ping `nonce` arrived.
    pub(crate) fn pong(&self, nonce: u64) {
        let waiting = self.pings.lock().unwrap().remove(&nonce);
        if let Some(tx) = waiting {
            let _ = tx.send(());
        }
    }

    /// Bytes kept for a resume: sent and not acknowledged, and (while the
    /// link is down) queued.
    pub(crate) fn resume_bytes(&self) -> usize {
        if !self.is_resumable() {
            return 0;
        }
        let (held, _) = self.outbox.replay_state();
        if self.is_attached() { held.saturating_sub(self.outbox.queued_bytes()) } else { held }
    }

    /// Close the connection: fail calls in flight with `ConnectionLost`,
    /// release everything exported on it, stop the tasks. Idempotent.
    pub(crate) fn close(&self, reason: impl Into<String>) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let reason = reason.into();
        tracing::debug!(conn = self.id, peer = %self.peer, %reason, "connection closed");
        *self.close_reason.lock().unwrap() = Some(reason);
        let waiting = {
            let mut p = self.pending.lock().unwrap();
            p.closed = true;
            std::mem::take(&mut p.map)
        };
        drop(waiting); // callers see their slot dropped: ConnectionLost
        let pings = std::mem::take(&mut *self.pings.lock().unwrap());
        drop(pings);
        let exported = self.exports.lock().unwrap().take();
        for object in &exported {
            object.released();
        }
        drop(exported);
        if let Some(t) = self.table() {
            let held = std::mem::take(&mut self.link_slot.lock().unwrap().held);
            if held {
                t.unhold();
            }
            t.remove(self.session_id.load(Ordering::Acquire));
        }
        self.cancel.cancel();
        if !self.is_attached() {
            // A session closed while its link was down: nothing will write.
            self.outbox.release();
        }
    }

    /// Close, telling the peer why.
    pub(crate) fn close_with(&self, reason: String) {
        if let Ok(frame) = wire::encode_frame(&Header::Goodbye, &reason) {
            let _ = self.send(frame);
        }
        self.close(reason);
    }

    pub(crate) fn close_reason(&self) -> Option<String> {
        self.close_reason.lock().unwrap().clone()
    }

    /// Complete our call or ping `req` with the peer's reply; false if no
    /// such call is waiting.
    pub(crate) fn complete(&self, link: &Arc<dyn Link>, req: u64, reply: Result<Bytes, Error>) -> bool {
        let slot = self.pending.lock().unwrap().map.remove(&req);
        slot.map(|slot| slot(link, reply)).is_some()
    }

    /// Counts for [`super::Stats`]: exports, imports, calls waiting.
    pub(crate) fn table_sizes(&self) -> (usize, usize, usize) {
        (self.exports.lock().unwrap().len(), self.imports.lock().unwrap().len(), self.pending.lock().unwrap().map.len())
    }
}

impl Link for ConnCore {
    fn id(&self) -> u64 {
        self.id
    }

    fn peer(&self) -> &str {
        &self.peer
    }

    fn is_closed(&self) -> bool {
        ConnCore::is_closed(self)
    }

    fn max_frame_len(&self) -> usize {
        self.config.effective_max_frame_len()
    }

    fn limits(&self) -> Limits {
        Limits::from_config(&self.config)
    }

    fn stream_window(&self) -> usize {
        self.config.stream_window
    }

    fn open_stream(&self) -> Result<StreamCount, Error> {
        let max = self.config.max_streams;
        self.streams
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .map_err(|_| Error::LimitExceeded { what: "streams per connection".into(), limit: max as u64 })?;
        Ok(StreamCount(self.streams.clone()))
    }

    fn export(&self, key: ObjectKey, make: &mut dyn FnMut() -> Arc<dyn Dispatch>) -> Result<u64, Error> {
        self.exports.lock().unwrap().export(key, make, self.config.max_exports)
    }

    fn unexport(&self, id: u64) {
        let released = self.exports.lock().unwrap().release(id, 1);
        if let Ok(Some(object)) = &released {
            object.released();
        }
        drop(released);
    }

    fn exported(&self, id: u64) -> Result<Arc<dyn Dispatch>, Error> {
        self.exports.lock().unwrap().get(id).cloned().ok_or(Error::UnknownObject { id })
    }

    fn import(&self, id: u64) -> Arc<RemoteRef> {
        let mut im = self.imports.lock().unwrap();
        if let Some(r) = im.receive(id) {
            return r;
        }
        let me: Arc<dyn Link> = self.me.upgrade().expect("a connection in use is alive");
        let r = Arc::new(RemoteRef::new(me, id, true));
        im.insert(id, &r);
        r
    }

    fn drop_import(&self, id: u64, rref: *const RemoteRef) {
        let count = self.imports.lock().unwrap().forget(id, rref);
        if let Some(count) = count
            && !self.is_closed()
        {
            let _ = self.send_header(&Header::Release { id, count });
        }
    }

    fn next_req(&self) -> u64 {
        self.next_req.fetch_add(1, Ordering::Relaxed)
    }

    fn send(&self, frame: EncodedFrame) -> Result<(), Error> {
        ConnCore::send(self, frame)
    }

    fn send_bulk(&self, frame: EncodedFrame) -> Result<(), Error> {
        ConnCore::send_bulk(self, frame)
    }

    fn send_call(&self, req: u64, frame: EncodedFrame, slot: ReplySlot) -> Result<bool, Error> {
        // Registration and the closed check happen under one lock with
        // `close`, so a call either fails with `Disconnected` now or gets an
        // answer (or `ConnectionLost`) later; it never waits forever.
        let concurrent = {
            let mut p = self.pending.lock().unwrap();
            if p.closed
                || (!self.is_attached()
                    && !self.wait_when_down.load(Ordering::Relaxed)
                    && !super::behalf::on_behalf_of_peer())
            {
                return Err(Error::Disconnected);
            }
            p.map.insert(req, slot);
            p.map.len() > 1
        };
        let sent = if concurrent {
            // Other callers are about: queue, and let the first of this
            // turn's callers write everyone's frames at once.
            self.queue(frame)
        } else {
            ConnCore::send(self, frame).map(|()| false)
        };
        if sent.is_err() {
            self.pending.lock().unwrap().map.remove(&req);
        }
        sent
    }

    fn flush(&self) {
        self.outbox.flush();
    }

    fn takes_send(&self) -> bool {
        self.peer_version.load(Ordering::Acquire) >= wire::SEND_VERSION
    }

    fn send_oneway(&self, frame: EncodedFrame) -> Result<(), Error> {
        // As a call: refused while detached, unless calls wait for a resume.
        if !self.is_attached() && !self.wait_when_down.load(Ordering::Relaxed) && !super::behalf::on_behalf_of_peer() {
            return Err(Error::Disconnected);
        }
        ConnCore::send(self, frame)
    }

    fn queued_frames(&self) -> usize {
        self.outbox.queued_frames()
    }

    fn abandon(&self, req: u64) {
        let slot = self.pending.lock().unwrap().map.remove(&req);
        drop(slot);
    }

    fn call_finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
