//! The reader task of a connection: frames in, messages handled in order.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::core::ConnCore;
use super::dispatch;
use super::link::Link;
use super::writer::write_loop;
use crate::Error;
use crate::transport::BoxRead;
use crate::wire::frame::{Frames, LookAhead, complete_frame_buffered};
use crate::wire::resume::{ACK_EVERY_BYTES, ACK_EVERY_FRAMES};
use crate::wire::{self, Header};

/// Start the reader and writer tasks of transport `generation` (both stop
/// when `cancel` fires); returns the reader.
pub(super) fn spawn(
    core: Arc<ConnCore>,
    frames: Frames<BoxRead>,
    generation: u64,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(write_loop(core.clone(), generation, cancel.clone()));
    tokio::spawn(read_loop(core, frames, generation, cancel))
}

/// What the reader counts for a session's acknowledgements.
struct Acks {
    numbered: bool,
    frames: u64,
    bytes: usize,
}

async fn read_loop(core: Arc<ConnCore>, mut frames: Frames<BoxRead>, generation: u64, cancel: CancellationToken) {
    let link = core.link();
    let mut acks = Acks { numbered: core.is_resumable(), frames: 0, bytes: 0 };
    // One cancellation future for the whole loop (not a registration with
    // the token per frame), and the cork state kept here (the outbox's lock
    // is taken only when it changes).
    let cancelled = cancel.cancelled();
    tokio::pin!(cancelled);
    let mut corked = false;
    let mut ahead = LookAhead::default();
    let mut first = true;
    let outcome = loop {
        let next = tokio::select! {
            biased;
            n = frames.next() => n,
            () = &mut cancelled => break None,
        };
        let frame = match next {
            None => break Some(Err("peer closed the connection".to_string())),
            Some(Err(e)) => break Some(Err(format!("read failed: {e}"))),
            Some(Ok(f)) => f.freeze(),
        };
        let len = frame.len();
        if std::mem::take(&mut first) {
            core.confirm_resume();
        }
        ahead.consumed(frame.len());
        // More calls already read: hold their replies and write them
        // together once the burst is handled (see `outbox`).
        let cork = complete_frame_buffered(frames.read_buffer());
        if cork != corked {
            corked = cork;
            core.outbox.cork(cork);
        }
        // Calls read together with the peer's later goodbye are not run: it
        // gave up on them (say, declared the link lost while a black hole
        // held them), and reported them `ConnectionLost`.
        let given_up = cork && ahead.seen(frames.read_buffer(), wire::is_goodbye);
        match handle(&core, &link, frame, given_up) {
            Ok(Handled::Control) => {}
            Ok(Handled::Numbered) => {
                if acks.numbered {
                    count(&core, &mut acks, len);
                }
            }
            Ok(Handled::Goodbye(goodbye)) => {
                tracing::debug!(conn = core.id, peer = %core.peer, reason = %goodbye, "peer said goodbye");
                break Some(Ok(goodbye));
            }
            Err(e) => {
                tracing::warn!(conn = core.id, peer = %core.peer, error = %e, "closing connection on protocol violation");
                break Some(Ok(e.to_string()));
            }
        }
    };
    core.outbox.cork(false);
    match outcome {
        // The connection ends: a goodbye or a protocol violation.
        Some(Ok(reason)) => core.close(reason),
        // The transport failed: a session waits for a resume.
        Some(Err(reason)) => core.link_lost(Some(generation), &reason),
        // Stopped: the connection closed, or its link was replaced.
        None => {}
    }
}

/// Count a numbered frame received, and acknowledge every so often.
fn count(core: &ConnCore, acks: &mut Acks, len: usize) {
    let received = core.received.load(Ordering::Relaxed) + 1;
    core.received.store(received, Ordering::Release);
    acks.frames += 1;
    acks.bytes += len;
    if acks.frames >= ACK_EVERY_FRAMES || acks.bytes >= ACK_EVERY_BYTES {
        acks.frames = 0;
        acks.bytes = 0;
        core.send_ack(received);
    }
}

/// What one frame was.
enum Handled {
    /// A per-transport message (not numbered).
    Control,
    /// A numbered message of the session.
    Numbered,
    /// The peer closed the connection politely, with this reason.
    Goodbye(String),
}

/// Handle one frame. An `Err` closes the connection (the peer broke the
/// protocol); errors that concern one call are answered and the connection
/// goes on.
fn handle(core: &Arc<ConnCore>, link: &Arc<dyn Link>, frame: Bytes, given_up: bool) -> Result<Handled, Error> {
    let (header, payload) = wire::decode_frame(&frame)?;
    let numbered = header.is_numbered();
    match header {
        Header::Hello { .. } => return Err(Error::protocol("second hello")),
        Header::Call { req, .. } if given_up => {
            tracing::debug!(conn = core.id, req, "call read with the peer's goodbye: not run");
        }
        Header::Call { req, target, method } => dispatch::start(core, link, Some(req), target, method, &payload),
        Header::Send { target, method } if given_up => {
            tracing::debug!(conn = core.id, target, method, "oneway call read with the peer's goodbye: not run");
        }
        Header::Send { target, method } => dispatch::start(core, link, None, target, method, &payload),
        Header::Reply { req, ok } => {
            let reply = if ok {
                Ok(payload)
            } else {
                Err(wire::decode_payload::<Error>(&payload)
                    .unwrap_or_else(|e| Error::protocol(format_args!("undecodable fault: {e}"))))
            };
            if !core.complete(link, req, reply) {
                tracing::debug!(conn = core.id, req, "reply to no call in flight (abandoned or forged); ignored");
            }
        }
        Header::Release { id, count } => {
            let released = core.exports.lock().unwrap().release(id, count);
            match released {
                Ok(object) => {
                    if let Some(object) = &object {
                        object.released();
                    }
                    drop(object);
                }
                Err(e) => tracing::debug!(conn = core.id, id, error = %e, "release of an unknown id; ignored"),
            }
        }
        Header::Ping { nonce } => core.send_control(&Header::Pong { nonce }),
        Header::Pong { nonce } => core.pong(nonce),
        Header::Ack { received } => core.outbox.ack(received)?,
        Header::Goodbye => {
            let reason: String = wire::decode_payload(&payload).unwrap_or_default();
            return Ok(Handled::Goodbye(format!("closed by the peer ({reason})")));
        }
    }
    Ok(if numbered { Handled::Numbered } else { Handled::Control })
}
