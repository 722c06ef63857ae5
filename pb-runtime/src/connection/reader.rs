//! The reader task of a connection: frames in, messages handled in order.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::oneshot;

use super::core::ConnCore;
use super::dispatch;
use super::link::Link;
use super::writer::write_loop;
use crate::Error;
use crate::transport::BoxRead;
use crate::wire::frame::{FrameDecoder, Frames, LookAhead, complete_frame_buffered};
use crate::wire::{self, Header};

/// Start the reader and writer tasks; `hello` learns how the handshake went.
pub(super) fn spawn(core: Arc<ConnCore>, read: BoxRead, hello: oneshot::Sender<Result<(), Error>>) {
    let decoder = FrameDecoder::new(core.config.effective_max_frame_len()).with_timeout(core.config.frame_timeout);
    tokio::spawn(write_loop(core.clone()));
    tokio::spawn(read_loop(core, Frames::new(read, decoder), hello));
}

async fn read_loop(core: Arc<ConnCore>, mut frames: Frames<BoxRead>, hello: oneshot::Sender<Result<(), Error>>) {
    let link = core.link();
    let mut hello = Some(hello);
    // One cancellation future for the whole loop (not a registration with
    // the token per frame), and the cork state kept here (the outbox's lock
    // is taken only when it changes).
    let cancelled = core.cancel.cancelled();
    tokio::pin!(cancelled);
    let mut corked = false;
    let mut ahead = LookAhead::default();
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
        match handle(&core, &link, frame, &mut hello, given_up) {
            Ok(None) => {}
            Ok(Some(goodbye)) => {
                tracing::debug!(conn = core.id, peer = %core.peer, reason = %goodbye, "peer said goodbye");
                break Some(goodbye);
            }
            Err(e) => {
                tracing::warn!(conn = core.id, peer = %core.peer, error = %e, "closing connection on protocol violation");
                if let Some(h) = hello.take() {
                    let _ = h.send(Err(e.clone()));
                }
                break Some(e.to_string());
            }
        }
    };
    core.outbox.cork(false);
    if let Some(reason) = reason {
        core.close(reason);
    }
}

/// Handle one frame. An `Err` closes the connection (the peer broke the
/// protocol); errors that concern one call are answered and the connection
/// goes on. `Ok(Some(reason))`: the peer closed the connection politely.
fn handle(
    core: &Arc<ConnCore>,
    link: &Arc<dyn Link>,
    frame: Bytes,
    hello: &mut Option<oneshot::Sender<Result<(), Error>>>,
    given_up: bool,
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
        let _ = core.peer_root.set(root);
        let _ = h.send(Ok(()));
        return Ok(None);
    }
    match header {
        Header::Hello { .. } => return Err(Error::protocol("second hello")),
        Header::Call { req, .. } if given_up => {
            tracing::debug!(conn = core.id, req, "call read with the peer's goodbye: not run");
        }
        Header::Call { req, target, method } => dispatch::start(core, link, req, target, method, &payload),
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
                Ok(object) => drop(object),
                Err(e) => tracing::debug!(conn = core.id, id, error = %e, "release of an unknown id; ignored"),
            }
        }
        Header::Ping { nonce } => {
            let _ = core.send_header(&Header::Pong { nonce });
        }
        Header::Pong { nonce } => {
            core.complete(link, nonce, Ok(payload));
        }
        Header::Goodbye => {
            let reason: String = wire::decode_payload(&payload).unwrap_or_default();
            return Ok(Some(format!("closed by the peer ({reason})")));
        }
    }
    Ok(None)
}
