//! The client side of calls: send a call, wait for its reply.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use super::link::{self, Link, ReplySlot};
use crate::Error;
use crate::wire::{self, Header};

/// Call `method` on the peer's object `target` over `link` with `args` (a
/// tuple), and decode the reply as `R` (the method's `Result<T, E>`).
///
/// The reply is decoded by the connection's reader, in frame order, before
/// it reads the next frame: a reference in the reply to one of our own
/// exports ("your reference") is resolved before a release the peer sent
/// after the reply can drop that export.
///
/// # Errors
///
/// [`Error::Disconnected`] if the link is down, [`Error::ConnectionLost`] if
/// it dropped while waiting, or any error the peer sent instead of a reply.
///
/// # Cancel safety
///
/// Dropping the future forgets the call; if it was sent it still runs on
/// the far side, and its reply is discarded.
pub(crate) async fn send_call<A, R>(link: &Arc<dyn Link>, target: u64, method: u32, args: &A) -> Result<R, Error>
where
    A: Serialize + ?Sized,
    R: DeserializeOwned + Send + 'static,
{
    if link.is_closed() {
        return Err(Error::Disconnected);
    }
    let req = link.next_req();
    let frame = link::encode_with_refs(link, &Header::Call { req, target, method }, args)?;
    let (tx, rx) = oneshot::channel();
    let slot: ReplySlot = Box::new(move |link, reply| {
        let decoded = reply.and_then(|payload| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                link::decode_with_refs(link, &payload, || wire::decode_payload::<R>(&payload))
            }))
            .unwrap_or_else(|_| Err(Error::protocol("decoding the reply panicked")))
        });
        let _ = tx.send(decoded);
    });
    let owes_flush = link.send_call(req, frame, slot)?;
    let guard = AbandonGuard { link, req };
    if owes_flush {
        // The first of several callers: let the others queue their frames
        // this turn, then write them all in one system call.
        let flush = FlushGuard(link);
        let mut before = link.queued_frames();
        for _ in 0..WAIT_TURNS {
            yield_once().await;
            let now = link.queued_frames();
            if now == before {
                break; // that turn brought nothing: write now
            }
            before = now;
        }
        drop(flush);
    }
    let result = rx.await.map_err(|_| Error::ConnectionLost)?;
    std::mem::forget(guard);
    result
}

/// Round-trip a ping over `link`.
pub(crate) async fn ping(link: &Arc<dyn Link>) -> Result<(), Error> {
    let nonce = link.next_req();
    let frame = wire::encode_frame(&Header::Ping { nonce }, &())?;
    let (tx, rx) = oneshot::channel();
    let slot: ReplySlot = Box::new(move |_, _| {
        let _ = tx.send(());
    });
    if link.send_call(nonce, frame, slot)? {
        link.flush();
    }
    let guard = AbandonGuard { link, req: nonce };
    rx.await.map_err(|_| Error::ConnectionLost)?;
    std::mem::forget(guard);
    Ok(())
}

/// At most this many scheduler turns the first caller of a batch lets the
/// others queue their frames, each only if the one before brought frames.
const WAIT_TURNS: usize = 2;

/// Let the other runnable tasks run once: the task wakes itself and goes
/// to the back of its worker's queue (unlike `tokio::task::yield_now`, no
/// extra poll of the I/O driver and no wake-up of an idle worker).
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            std::task::Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

/// Writes what is queued when dropped: the deferred flush of a batch
/// happens even if the caller stops waiting.
struct FlushGuard<'a>(&'a Arc<dyn Link>);

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        self.0.flush();
    }
}

/// Removes a call's reply slot if its caller stops waiting (cancel safety).
struct AbandonGuard<'a> {
    link: &'a Arc<dyn Link>,
    req: u64,
}

impl Drop for AbandonGuard<'_> {
    fn drop(&mut self) {
        self.link.abandon(self.req);
    }
}
