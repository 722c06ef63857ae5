//! The state of one connection, shared by its reader and writer, its
//! handles, and (as a [`Link`]) the references on it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::link::{Dispatch, Link, ObjectKey, RemoteRef, ReplySlot};
use super::outbox::Outbox;
use super::tables::{Exports, Imports, Pending};
use crate::Error;
use crate::config::Config;
use crate::transport::BoxWrite;
use crate::wire::codec::Limits;
use crate::wire::{self, EncodedFrame, Header};

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// A process-unique connection number.
pub(crate) fn next_conn_id() -> u64 {
    NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed)
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
    close_reason: Mutex<Option<String>>,
    me: Weak<ConnCore>,
}

impl ConnCore {
    /// A connection to `peer` serving `root` (export id 0), if any.
    pub(crate) fn new(peer: String, config: Config, root: Option<Arc<dyn Dispatch>>, write: BoxWrite) -> Arc<ConnCore> {
        let mut exports = Exports::default();
        if let Some(root) = root {
            exports.set_root(root);
        }
        Arc::new_cyclic(|me| ConnCore {
            id: next_conn_id(),
            peer,
            config,
            outbox: Outbox::new(write),
            next_req: AtomicU64::new(1),
            pending: Mutex::new(Pending::default()),
            exports: Mutex::new(exports),
            imports: Mutex::new(Imports::default()),
            in_flight: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            cancel: CancellationToken::new(),
            peer_root: OnceLock::new(),
            close_reason: Mutex::new(None),
            me: me.clone(),
        })
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
        Ok(())
    }

    /// Send a message without a payload.
    pub(crate) fn send_header(&self, header: &Header) -> Result<(), Error> {
        self.send(wire::encode_frame(header, &())?)
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
        let exported = self.exports.lock().unwrap().take();
        drop(exported);
        self.cancel.cancel();
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

    fn export(&self, key: ObjectKey, make: &mut dyn FnMut() -> Arc<dyn Dispatch>) -> Result<u64, Error> {
        self.exports.lock().unwrap().export(key, make, self.config.max_exports)
    }

    fn unexport(&self, id: u64) {
        let released = self.exports.lock().unwrap().release(id, 1);
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

    fn send_call(&self, req: u64, frame: EncodedFrame, slot: ReplySlot) -> Result<bool, Error> {
        // Registration and the closed check happen under one lock with
        // `close`, so a call either fails with `Disconnected` now or gets an
        // answer (or `ConnectionLost`) later; it never waits forever.
        let concurrent = {
            let mut p = self.pending.lock().unwrap();
            if p.closed {
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
