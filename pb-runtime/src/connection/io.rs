//! The reader and writer tasks of a connection.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::oneshot;
use tokio_util::codec::FramedRead;

use super::outbox::{Writer, complete_frame_buffered};
use super::{CallContext, Shared};
use crate::Error;
use crate::object::CallFuture;
use crate::transport::{BoxRead, BoxWrite, Transport};
use crate::wire::frame::FrameDecoder;
use crate::wire::{self, Header};

/// How long a closing connection may spend writing what was queued before
/// the close (a goodbye, a last reply). A peer that does not read cannot hold
/// the writer, and the bytes queued for it, any longer than this.
const CLOSE_FLUSH_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Start the reader and writer tasks.
pub(super) fn spawn(shared: Arc<Shared>, transport: Transport, hello: oneshot::Sender<Result<(), Error>>) {
    let max = shared.config.effective_max_frame_len();
    let reader = FrameDecoder::new(max).with_timeout(shared.config.frame_timeout);
    tokio::spawn(write_loop(shared.clone(), Writer::new(transport.write)));
    tokio::spawn(read_loop(shared, FramedRead::new(transport.read, reader), hello));
}

/// Write queued frames, many per system call (see [`super::outbox`]).
async fn write_loop(shared: Arc<Shared>, mut writer: Writer<BoxWrite>) {
    let body = async {
        // One cancellation future for the whole loop: a new one per batch
        // would register with the token (a lock) each time.
        let cancelled = shared.cancel.cancelled();
        tokio::pin!(cancelled);
        loop {
            let written = tokio::select! {
                biased;
                w = writer.write_next(&shared.outbox) => w?,
                () = &mut cancelled => {
                    // Drain what was queued before the close (a goodbye, a last reply).
                    writer.drain(&shared.outbox).await?;
                    return Ok(());
                }
            };
            shared.queued.fetch_sub(written, Ordering::AcqRel);
        }
    };
    // A write blocked on a peer that does not read ends a grace period after
    // the connection closes; dropping the queue frees what it held.
    let result: Result<(), std::io::Error> = tokio::select! {
        r = body => r,
        () = async {
            shared.cancel.cancelled().await;
            tokio::time::sleep(CLOSE_FLUSH_GRACE).await;
        } => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "peer did not read what was queued")),
    };
    if let Err(e) = result {
        shared.close(format!("write failed: {e}"));
    }
    // Nothing more will be written: free what is still queued.
    shared.outbox.clear();
    let _ = writer.io().shutdown().await;
}

use tokio::io::AsyncWriteExt as _;

async fn read_loop(
    shared: Arc<Shared>,
    mut frames: FramedRead<BoxRead, FrameDecoder>,
    hello: oneshot::Sender<Result<(), Error>>,
) {
    let mut hello = Some(hello);
    // One cancellation future for the whole loop (not a registration with
    // the token per frame), and the cork state kept here (the outbox's lock
    // is taken only when it changes).
    let cancelled = shared.cancel.cancelled();
    tokio::pin!(cancelled);
    let mut corked = false;
    let reason = loop {
        let next = tokio::select! {
            biased;
            n = frames.next() => n,
            () = &mut cancelled => break None,
        };
        let frame = match next {
            None => break Some("peer closed the connection".to_string()),
            Some(Err(e)) => break Some(format!("read failed: {e}")),
            Some(Ok(f)) => f.freeze(),
        };
        // More calls already read: hold their replies and write them
        // together once the burst is handled (see `outbox`).
        let cork = complete_frame_buffered(frames.read_buffer());
        if cork != corked {
            corked = cork;
            shared.outbox.cork(cork);
        }
        match handle_frame(&shared, frame, &mut hello) {
            Ok(None) => {}
            Ok(Some(goodbye)) => {
                tracing::debug!(conn = shared.id, peer = %shared.peer, reason = %goodbye, "peer said goodbye");
                break Some(goodbye);
            }
            Err(e) => {
                tracing::warn!(conn = shared.id, peer = %shared.peer, error = %e, "closing connection on protocol violation");
                if let Some(h) = hello.take() {
                    let _ = h.send(Err(e.clone()));
                }
                break Some(e.to_string());
            }
        }
    };
    shared.outbox.cork(false);
    if let Some(reason) = reason {
        shared.close(reason);
    }
}

/// Handle one frame. An `Err` closes the connection (the peer broke the
/// protocol); errors that concern one call are answered and the connection
/// goes on. `Ok(Some(reason))`: the peer closed the connection politely.
fn handle_frame(
    shared: &Arc<Shared>,
    frame: Bytes,
    hello: &mut Option<oneshot::Sender<Result<(), Error>>>,
) -> Result<Option<String>, Error> {
    let (header, payload) = wire::decode_frame(&frame)?;
    if let Some(h) = hello.take() {
        let Header::Hello { magic, version, root } = header else {
            return Err(Error::protocol("expected hello as the first frame"));
        };
        if magic != wire::MAGIC {
            return Err(Error::protocol(format_args!("not a pb peer (magic {magic:#x})")));
        }
        if version != wire::VERSION {
            return Err(Error::protocol(format_args!("unsupported protocol version {version}")));
        }
        let _ = shared.peer_root.set(root);
        let _ = h.send(Ok(()));
        return Ok(None);
    }
    match header {
        Header::Hello { .. } => return Err(Error::protocol("second hello")),
        Header::Call { req, target, method } => start_call(shared, req, target, method, &payload),
        Header::Reply { req, ok } => {
            if !shared.complete(req, ok, payload) {
                tracing::debug!(conn = shared.id, req, "reply to no call in flight (abandoned or forged); ignored");
            }
        }
        Header::Release { id, count } => {
            let released = shared.exports.lock().unwrap().release(id, count);
            match released {
                Ok(object) => drop(object),
                Err(e) => tracing::debug!(conn = shared.id, id, error = %e, "release of an unknown id; ignored"),
            }
        }
        Header::Ping { nonce } => {
            let _ = shared.send(wire::encode_frame(&Header::Pong { nonce }, &())?);
        }
        Header::Pong { nonce } => {
            shared.complete(nonce, true, payload);
        }
        Header::Goodbye => {
            let reason: String = wire::decode_payload(&payload).unwrap_or_default();
            return Ok(Some(format!("closed by the peer ({reason})")));
        }
    }
    Ok(None)
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

/// Look up the target, decode the arguments, and start the method. The body
/// runs inline up to its first suspension point, so calls start in the order
/// they arrived; only a call that has to wait is spawned.
fn start_call(shared: &Arc<Shared>, req: u64, target: u64, method: u32, args: &Bytes) {
    let fault = |e: Error| {
        let _ = shared.send(Shared::fault_frame(req, &e));
    };
    let object = shared.exports.lock().unwrap().get(target).cloned();
    let Some(object) = object else {
        return fault(Error::UnknownObject { id: target });
    };
    if shared.draining.load(Ordering::Acquire) {
        return fault(Error::ShuttingDown);
    }
    let limit = shared.config.max_in_flight;
    if shared.in_flight.fetch_add(1, Ordering::AcqRel) >= limit {
        shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        return fault(Error::Busy);
    }
    // From here the context holds the in-flight slot and gives it back.
    let cx = CallContext::new(shared.clone(), req);
    if method == wire::DESCRIBE_METHOD {
        // Answered by the runtime for every object: its interface, so a peer
        // can tell whether it runs the same version before calling.
        if let Err(e) = cx.encode_return(&Ok::<_, Error>(object.describe())) {
            drop(cx);
            fault(e);
        }
        return;
    }
    let started: Result<CallFuture, Error> = wire::with_decode(shared, args, || {
        std::panic::catch_unwind(AssertUnwindSafe(|| object.call(method, args, cx)))
            .unwrap_or_else(|p| Err(Error::Panicked { message: panic_message(p) }))
    });
    let call = match started {
        Ok(call) => call,
        Err(e) => return fault(e),
    };
    // Poll the method's own (boxed) future once, inline: most calls complete
    // here, and then no task (and no second boxed future) is made for them.
    // Saves one allocation and one task per call that does not wait.
    let mut call = call;
    let waker = futures_util::task::noop_waker();
    // A no-op waker is enough for the first poll: if the call is pending, it
    // registered interest with that waker, and the spawned task polls it
    // again at once with its own.
    let first =
        std::panic::catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(&mut std::task::Context::from_waker(&waker))));
    let done = match first {
        Ok(Poll::Pending) => None,
        Ok(Poll::Ready(result)) => Some(result),
        Err(p) => Some(Err(Error::Panicked { message: panic_message(p) })),
    };
    if let Some(result) = done {
        // The call's context gives its in-flight slot back before a fault
        // goes out (a successful call queued its reply itself).
        drop(call);
        let frame = result.unwrap_or_else(|e| Shared::fault_frame(req, &e));
        if !frame.is_empty() {
            let _ = shared.send(frame);
        }
        return;
    }
    let conn = shared.clone();
    tokio::spawn(async move {
        // A successful call queued its reply itself (an empty frame here).
        let frame = match AssertUnwindSafe(call).catch_unwind().await {
            Ok(Ok(frame)) => frame,
            Ok(Err(e)) => Shared::fault_frame(req, &e),
            Err(p) => Shared::fault_frame(req, &Error::Panicked { message: panic_message(p) }),
        };
        if !frame.is_empty() {
            let _ = conn.send(frame);
        }
    });
}
