//! One connection to a peer: framing, the reader and writer tasks, the export
//! and import tables, and calls in flight.
//!
//! Connections are symmetric: either side may serve a root object and call
//! the other's. Each connection has its own export table, so ids from another
//! connection mean nothing here and are rejected.

mod io;
mod outbox;
mod tables;

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::config::Config;
use crate::object::{Dispatch, Dispatcher, Interface};
use crate::proxy::{ProxyHandle, RemoteRef};
use crate::transport::Transport;
use crate::wire::{self, EncodedFrame, Header};

pub(crate) use tables::ROOT_ID;
use tables::{Exports, Imports, Pending, ReplySlot};

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// State shared by a connection's tasks, its handles and the proxies on it.
pub(crate) struct Shared {
    /// Process-unique connection number, for logs.
    pub(crate) id: u64,
    pub(crate) peer: String,
    pub(crate) config: Config,
    outbox: outbox::Outbox,
    /// Bytes handed to the writer and not yet written.
    queued: AtomicUsize,
    next_req: AtomicU64,
    pending: Mutex<Pending>,
    exports: Mutex<Exports>,
    imports: Mutex<Imports>,
    in_flight: AtomicUsize,
    /// New calls are refused with `ShuttingDown` (graceful shutdown).
    pub(crate) draining: AtomicBool,
    closed: AtomicBool,
    cancel: CancellationToken,
    /// Interface id of the peer's root, from its hello.
    peer_root: OnceLock<Option<u64>>,
    close_reason: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Queue a frame for the writer. Frames are written in the order queued.
    pub(crate) fn send(&self, frame: EncodedFrame) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::Disconnected);
        }
        let len = frame.len();
        let max = self.config.effective_max_frame_len();
        if len > max {
            return Err(Error::LimitExceeded { what: "frame length".into(), limit: max as u64 });
        }
        let queued = self.queued.fetch_add(len, Ordering::AcqRel) + len;
        if queued > self.config.max_queued_bytes {
            self.close(format!("peer is not reading: {queued} bytes queued"));
            return Err(Error::Disconnected);
        }
        self.outbox.push(frame);
        Ok(())
    }

    pub(crate) fn next_req(&self) -> u64 {
        self.next_req.fetch_add(1, Ordering::Relaxed)
    }

    /// Register a reply slot for `req` and send `frame`. Registration and the
    /// closed check happen under one lock with [`Shared::close`], so a call
    /// either fails with `Disconnected` now or gets an answer (or
    /// `ConnectionLost`) later; it never waits forever.
    fn start_slot(&self, req: u64, slot: ReplySlot, frame: EncodedFrame) -> Result<(), Error> {
        {
            let mut p = self.pending.lock().unwrap();
            if p.closed {
                return Err(Error::Disconnected);
            }
            p.map.insert(req, slot);
        }
        if let Err(e) = self.send(frame) {
            self.pending.lock().unwrap().map.remove(&req);
            return Err(e);
        }
        Ok(())
    }

    /// Send the call `frame` (request `req`); its reply is decoded as an `R`.
    ///
    /// The reply is decoded by the reader, in frame order, before it reads
    /// the next frame: a reference in the reply to one of our own exports
    /// ("your reference") is resolved before a release the peer sent after
    /// the reply can drop that export.
    pub(crate) fn start_call<R: DeserializeOwned + Send + 'static>(
        &self,
        req: u64,
        frame: EncodedFrame,
    ) -> Result<oneshot::Receiver<Result<R, Error>>, Error> {
        let (tx, rx) = oneshot::channel();
        let slot: ReplySlot = Box::new(move |conn, ok, payload| {
            let decoded =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_reply::<R>(conn, ok, &payload)))
                    .unwrap_or_else(|_| Err(Error::protocol("decoding the reply panicked")));
            let _ = tx.send(decoded);
        });
        self.start_slot(req, slot, frame)?;
        Ok(rx)
    }

    /// Forget a call whose caller stopped waiting.
    pub(crate) fn abandon_call(&self, req: u64) {
        self.pending.lock().unwrap().map.remove(&req);
    }

    /// Export `object` on this connection (or count another send of it).
    pub(crate) fn export<T: ?Sized + Interface>(&self, object: Arc<T>) -> Result<u64, Error> {
        let key = (Arc::as_ptr(&object) as *const () as usize, T::ID);
        let mut ex = self.exports.lock().unwrap();
        ex.export(key, || Arc::new(Dispatcher(object)) as Arc<dyn Dispatch>, self.config.max_exports)
    }

    /// Undo one count of an export whose message was never sent.
    pub(crate) fn unexport(&self, id: u64) {
        let released = self.exports.lock().unwrap().release(id, 1);
        drop(released);
    }

    /// Encode a frame whose payload may carry references, all or nothing: if
    /// the payload fails to encode or the frame is over the limit, the
    /// exports it made are rolled back.
    pub(crate) fn encode_with_refs<T: serde::Serialize + ?Sized>(
        self: &Arc<Self>,
        header: &Header,
        payload: &T,
    ) -> Result<EncodedFrame, Error> {
        wire::with_encode(self, || {
            let buf = wire::encode_frame_with(header, payload)?;
            let max = self.config.effective_max_frame_len();
            if buf.len() > max {
                return Err(Error::LimitExceeded { what: "frame length".into(), limit: max as u64 });
            }
            Ok(buf.finish())
        })
    }

    /// The original object behind our export `id`, typed as `T`.
    pub(crate) fn exported<T: ?Sized + Interface>(&self, id: u64) -> Result<Arc<T>, Error> {
        let ex = self.exports.lock().unwrap();
        let object = ex.get(id).ok_or(Error::UnknownObject { id })?;
        let any: &(dyn Any + Send + Sync) = object.original();
        any.downcast_ref::<Arc<T>>()
            .cloned()
            .ok_or_else(|| Error::WrongInterface { expected: T::NAME.to_string(), found: object.interface_id() })
    }

    /// Our export `id`, with its interface erased.
    pub(crate) fn exported_any(&self, id: u64) -> Result<crate::anyref::AnyRef, Error> {
        self.exports.lock().unwrap().get(id).map(|d| d.any_ref()).ok_or(Error::UnknownObject { id })
    }

    /// A reference the peer sent us (`id` in its export table).
    pub(crate) fn import(self: &Arc<Self>, id: u64) -> Arc<RemoteRef> {
        let mut im = self.imports.lock().unwrap();
        if let Some(r) = im.receive(id) {
            return r;
        }
        let r = Arc::new(RemoteRef::new(self.clone(), id, true));
        im.insert(id, &r);
        r
    }

    /// The last local handle of an imported reference is gone: release it.
    pub(crate) fn drop_import(&self, id: u64, ptr: *const RemoteRef) {
        let count = self.imports.lock().unwrap().forget(id, ptr);
        if let Some(count) = count
            && !self.is_closed()
            && let Ok(frame) = wire::encode_frame(&Header::Release { id, count }, &())
        {
            let _ = self.send(frame);
        }
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

    /// Complete our call or ping `req` with a reply from the peer; false if
    /// no such call is waiting.
    pub(crate) fn complete(self: &Arc<Self>, req: u64, ok: bool, payload: Bytes) -> bool {
        let slot = self.pending.lock().unwrap().map.remove(&req);
        slot.map(|slot| slot(self, ok, payload)).is_some()
    }

    fn fault_frame(req: u64, e: &Error) -> EncodedFrame {
        wire::encode_frame(&Header::Reply { req, ok: false }, e).expect("errors always encode")
    }
}

/// Decode the payload of a reply: the method's result when `ok`, else the
/// error the peer sent.
fn decode_reply<R: DeserializeOwned>(conn: &Arc<Shared>, ok: bool, payload: &Bytes) -> Result<R, Error> {
    if ok {
        wire::with_decode(conn, payload, || wire::decode_payload::<R>(payload))
    } else {
        Err(wire::decode_payload::<Error>(payload)
            .unwrap_or_else(|e| Error::protocol(format_args!("undecodable fault: {e}"))))
    }
}

/// Handed to a dispatched call: encodes and queues its reply, and holds the
/// call's slot in the connection's in-flight count.
///
/// The reply is queued by [`CallContext::encode_return`] itself, while the
/// result it encodes is still alive: a proxy inside the result that goes
/// back to its owner (PB's "your reference") is dropped only after the reply
/// is queued, so the release its drop sends reaches the owner after the
/// reply that names the object, never before.
///
/// The in-flight slot is given back exactly once: when the reply is queued,
/// or when the context is dropped without replying (the call failed to
/// decode, panicked, or its reply failed to encode; the connection then
/// sends the error).
pub struct CallContext {
    conn: Arc<Shared>,
    req: u64,
    done: AtomicBool,
}

impl CallContext {
    /// A context for call `req`, which already holds an in-flight slot.
    pub(crate) fn new(conn: Arc<Shared>, req: u64) -> Self {
        CallContext { conn, req, done: AtomicBool::new(false) }
    }

    fn finish(&self) -> bool {
        let first = !self.done.swap(true, Ordering::AcqRel);
        if first {
            self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
        first
    }

    /// Encode the method's `Result<T, E>` as the reply, exporting any
    /// references inside it on this connection, and queue it. Returns an
    /// empty frame: the reply is already on its way.
    ///
    /// # Errors
    ///
    /// An encode failure (for example the export limit), which the connection
    /// sends to the caller instead.
    pub fn encode_return<R: serde::Serialize + ?Sized>(&self, result: &R) -> Result<EncodedFrame, Error> {
        let frame = self.conn.encode_with_refs(&Header::Reply { req: self.req, ok: true }, result)?;
        if self.finish() {
            let _ = self.conn.send(frame);
        }
        Ok(EncodedFrame::from(Bytes::new()))
    }
}

impl Drop for CallContext {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Statistics of one connection, for tests and monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Objects exported to the peer (the root included).
    pub exports: usize,
    /// Live references received from the peer.
    pub imports: usize,
    /// Our calls waiting for a reply.
    pub pending: usize,
    /// The peer's calls running here.
    pub in_flight: usize,
}

/// A connection to a peer. Cheap to clone; all clones are the same connection.
///
/// The connection stays open while its transport does, until [`Connection::close`]
/// or a protocol violation; dropping the handles does not close it.
#[derive(Clone)]
pub struct Connection {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("id", &self.shared.id).field("peer", &self.shared.peer).finish()
    }
}

/// Runs once a connection is established (a login deadline, say).
type OnOpen = Box<dyn FnOnce(&Connection) + Send>;

/// Builds a [`Connection`]: its settings and the root object it serves.
#[derive(Default)]
pub struct ConnectionBuilder {
    config: Config,
    root: Option<Arc<dyn Dispatch>>,
    on_open: Option<OnOpen>,
}

impl ConnectionBuilder {
    /// Use these settings.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Serve `object` as this side's root (object id 0 on the connection).
    pub fn root<T: ?Sized + Interface>(mut self, object: Arc<T>) -> Self {
        self.root = Some(Arc::new(Dispatcher(object)));
        self
    }

    /// Run `f` with the connection once it is established.
    pub(crate) fn on_open(mut self, f: impl FnOnce(&Connection) + Send + 'static) -> Self {
        self.on_open = Some(Box::new(f));
        self
    }

    /// Start the connection over `transport` and wait for the peer's hello.
    ///
    /// # Errors
    ///
    /// The transport failed, the peer spoke another protocol, or it did not
    /// answer within [`Config::handshake_timeout`].
    pub async fn establish(self, transport: Transport) -> Result<Connection, Error> {
        let root_iface = self.root.as_ref().map(|r| r.interface_id());
        let mut exports = Exports::default();
        if let Some(root) = self.root {
            exports.set_root(root);
        }
        let shared = Arc::new(Shared {
            id: NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed),
            peer: transport.peer.clone(),
            config: self.config,
            outbox: outbox::Outbox::default(),
            queued: AtomicUsize::new(0),
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
        });
        let hello = Header::Hello { magic: wire::MAGIC, version: wire::VERSION, root: root_iface };
        shared.send(wire::encode_frame(&hello, &())?)?;
        let (hello_tx, hello_rx) = oneshot::channel();
        io::spawn(shared.clone(), transport, hello_tx);
        let timeout = shared.config.handshake_timeout;
        match tokio::time::timeout(timeout, hello_rx).await {
            Ok(Ok(Ok(()))) => {
                let conn = Connection { shared };
                if let Some(f) = self.on_open {
                    f(&conn);
                }
                Ok(conn)
            }
            Ok(Ok(Err(e))) => {
                shared.close(e.to_string());
                Err(e)
            }
            Ok(Err(_)) => {
                Err(Error::protocol(shared.close_reason().unwrap_or_else(|| "closed during handshake".into())))
            }
            Err(_) => {
                shared.close("handshake timed out");
                Err(Error::LimitExceeded { what: "handshake timeout (ms)".into(), limit: timeout.as_millis() as u64 })
            }
        }
    }
}

impl Shared {
    fn close_reason(&self) -> Option<String> {
        self.close_reason.lock().unwrap().clone()
    }
}

impl Connection {
    /// A builder for a connection with settings and a root object.
    pub fn builder() -> ConnectionBuilder {
        ConnectionBuilder::default()
    }

    /// Connect over TCP with default settings, serving no root.
    ///
    /// # Errors
    ///
    /// Connect or handshake failures.
    pub async fn connect_tcp(addr: impl tokio::net::ToSocketAddrs) -> Result<Connection, Error> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        Connection::builder().establish(Transport::tcp(stream)).await
    }

    /// A proxy to the peer's root object.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownObject`] if the peer serves no root,
    /// [`Error::WrongInterface`] if its root is of another interface.
    pub fn root<T: ?Sized + Interface>(&self) -> Result<Arc<T>, Error> {
        Ok(T::proxy(ProxyHandle::new(self.root_ref::<T>()?, T::NAME)))
    }

    /// A reference to the peer's root, checked to be of interface `T`.
    pub(crate) fn root_ref<T: ?Sized + Interface>(&self) -> Result<Arc<RemoteRef>, Error> {
        match self.shared.peer_root.get().copied().flatten() {
            None => Err(Error::UnknownObject { id: ROOT_ID }),
            Some(iface) if iface != T::ID => Err(Error::WrongInterface { expected: T::NAME.into(), found: iface }),
            Some(_) => Ok(Arc::new(RemoteRef::new(self.shared.clone(), ROOT_ID, false))),
        }
    }

    /// Refuse new calls from the peer (they fail with
    /// [`Error::ShuttingDown`]); calls already running go on.
    pub fn drain(&self) {
        self.shared.draining.store(true, Ordering::Release);
    }

    /// The interface id of the peer's root, if it serves one.
    pub fn peer_root_interface(&self) -> Option<u64> {
        self.shared.peer_root.get().copied().flatten()
    }

    /// Process-unique number of this connection.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The peer's address.
    pub fn peer(&self) -> &str {
        &self.shared.peer
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<String> {
        self.shared.close_reason()
    }

    /// Wait until the connection is closed.
    pub async fn closed(&self) {
        self.shared.cancel.cancelled().await
    }

    /// Close the connection: tell the peer, fail calls in flight with
    /// [`Error::ConnectionLost`] and release every export.
    pub fn close(&self) {
        if let Ok(frame) = wire::encode_frame(&Header::Goodbye, "closed") {
            let _ = self.shared.send(frame);
        }
        self.shared.close("closed by local side");
    }

    /// Close the connection, telling the peer why.
    pub(crate) fn close_with(&self, reason: String) {
        if let Ok(frame) = wire::encode_frame(&Header::Goodbye, &reason) {
            let _ = self.shared.send(frame);
        }
        self.shared.close(reason);
    }

    /// Round-trip a ping; returns the time it took.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] or [`Error::ConnectionLost`].
    pub async fn ping(&self) -> Result<Duration, Error> {
        let start = Instant::now();
        let nonce = self.shared.next_req();
        let frame = wire::encode_frame(&Header::Ping { nonce }, &())?;
        let (tx, rx) = oneshot::channel();
        let slot: ReplySlot = Box::new(move |_, _, _| {
            let _ = tx.send(());
        });
        self.shared.start_slot(nonce, slot, frame)?;
        let guard = AbandonGuard { conn: &self.shared, req: nonce };
        rx.await.map_err(|_| Error::ConnectionLost)?;
        std::mem::forget(guard);
        Ok(start.elapsed())
    }

    /// Counts of this connection's tables.
    pub fn stats(&self) -> Stats {
        Stats {
            exports: self.shared.exports.lock().unwrap().len(),
            imports: self.shared.imports.lock().unwrap().len(),
            pending: self.shared.pending.lock().unwrap().map.len(),
            in_flight: self.shared.in_flight.load(Ordering::Acquire),
        }
    }
}

/// Removes a call's reply slot if its caller stops waiting (cancel safety).
pub(crate) struct AbandonGuard<'a> {
    pub(crate) conn: &'a Shared,
    pub(crate) req: u64,
}

impl Drop for AbandonGuard<'_> {
    fn drop(&mut self) {
        self.conn.abandon_call(self.req);
    }
}
