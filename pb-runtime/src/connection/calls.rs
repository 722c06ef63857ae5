//! The client side of calls: send a call, wait for its reply.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use super::link::{self, JellyCalls, JellyFault, JellySlot, Link, RemoteRef, ReplySlot};
use crate::Error;
use crate::wire::twisted::banana::Value as JellyValue;
use crate::wire::twisted::{self, jelly::form};
use crate::wire::{self, Header};

/// Call `method` (named `name()`, for links that call by name) on the
/// peer's object `target` with `args` (a tuple), and decode the reply as `R`
/// (the method's `Result<T, E>`).
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
pub(crate) async fn send_call<A, R>(
    target: &RemoteRef,
    method: u32,
    name: impl FnOnce() -> Option<&'static str>,
    args: &A,
) -> Result<R, Error>
where
    A: Serialize + ?Sized,
    R: DeserializeOwned + Send + 'static,
{
    send_call_measured(target, method, name, args).await.map(|(r, _)| r)
}

/// [`send_call`], also returning the size of the reply's payload in bytes
/// (zero over a link with its own call format).
pub(crate) async fn send_call_measured<A, R>(
    target: &RemoteRef,
    method: u32,
    name: impl FnOnce() -> Option<&'static str>,
    args: &A,
) -> Result<(R, usize), Error>
where
    A: Serialize + ?Sized,
    R: DeserializeOwned + Send + 'static,
{
    let (link, target_id) = (&target.link, target.id);
    if let Some((jelly, name)) = route(target, method, name)? {
        // Boxed: pb's own calls keep a future of their own size.
        return Box::pin(send_jelly_call(link, jelly, target_id, name, args)).await.map(|r| (r, 0));
    }
    let req = link.next_req();
    let frame = link::encode_with_refs(link, &Header::Call { req, target: target_id, method }, args)?;
    let (tx, rx) = oneshot::channel();
    let slot: ReplySlot = Box::new(move |link, reply| {
        let decoded = reply.and_then(|payload| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                link::decode_with_refs(link, &payload, || wire::decode_payload::<R>(&payload))
            }))
            .unwrap_or_else(|_| Err(Error::protocol("decoding the reply panicked")))
            .map(|r| (r, payload.len()))
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

/// Send a call of `method` (named `name()`, for links that call by name)
/// on the peer's object `target` with `args`, and return once it is queued
/// for writing, without waiting for its answer (a `#[pb(oneway)]` method).
///
/// To a pb peer the call goes as a [`Header::Send`], and nothing comes back
/// (a peer of protocol version 1, which has no such frame, gets a call and
/// replies: the reader decodes that reply as `R`, so that references inside
/// it are released, and drops it, failure or not). To a Twisted peer it
/// goes as PB's message with `answerRequired = 0`, and no answer comes.
///
/// # Errors
///
/// [`Error::Disconnected`] if the link is down; the arguments failed to
/// encode or are over the link's limits. Nothing the peer does reaches
/// the caller.
pub(crate) fn send_oneway<A, R>(
    target: &RemoteRef,
    method: u32,
    name: impl FnOnce() -> Option<&'static str>,
    args: &A,
) -> Result<(), Error>
where
    A: Serialize + ?Sized,
    R: DeserializeOwned + Send + 'static,
{
    let (link, target_id) = (&target.link, target.id);
    if let Some((jelly, name)) = route(target, method, name)? {
        let (args, caches) = jelly_args(jelly, args)?;
        let sent = jelly.send_oneway(link.next_req(), target_id, name, args);
        jelly.start_caches(caches, sent.is_ok());
        return sent;
    }
    if link.takes_send() {
        let frame = link::encode_with_refs(link, &Header::Send { target: target_id, method }, args)?;
        return link.send_oneway(frame);
    }
    let req = link.next_req();
    let frame = link::encode_with_refs(link, &Header::Call { req, target: target_id, method }, args)?;
    let slot: ReplySlot = Box::new(move |link, reply| {
        let Ok(payload) = reply else { return };
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            link::decode_with_refs(link, &payload, || wire::decode_payload::<R>(&payload))
        }));
        if !matches!(decoded, Ok(Ok(_))) {
            tracing::debug!(req, "the reply to a oneway call did not decode; dropped");
        }
    });
    if link.send_call(req, frame, slot)? {
        link.flush(); // no batch to wait for: the caller does not wait
    }
    Ok(())
}

/// Where a call of `method` on `target` goes: [`Error::Disconnected`] if
/// its link is closed; the link's Twisted calls and the method's name if
/// it calls by name (a Twisted peer); `None` for pb's own wire.
fn route(
    target: &RemoteRef,
    method: u32,
    name: impl FnOnce() -> Option<&'static str>,
) -> Result<Option<(&dyn JellyCalls, &'static str)>, Error> {
    if target.link.is_closed() {
        return Err(Error::Disconnected);
    }
    // `target.jelly` first: pb's own calls do not ask the link.
    if target.jelly
        && let Some(jelly) = target.link.jelly()
    {
        let name = name().ok_or_else(|| Error::UnknownMethod { interface: String::new(), method, name: None })?;
        return Ok(Some((jelly, name)));
    }
    Ok(None)
}

/// `args` (a tuple) as the jelly arguments of a call over `jelly`.
/// Also returns the caches the encode sent (see [`JellyCalls::with_refs`]),
/// to be started once the call's message is queued.
fn jelly_args<A: Serialize + ?Sized>(
    jelly: &dyn JellyCalls,
    args: &A,
) -> Result<(JellyValue, Vec<(u64, bool)>), Error> {
    let mut encoded = None;
    let caches = jelly.with_refs(&mut || {
        encoded = Some(twisted::jelly::to_value(args)?);
        Ok(())
    })?;
    let args = encoded.ok_or_else(|| Error::protocol("call arguments were not encoded"))?;
    // A call without arguments encodes as `()`, which jelly writes as None.
    Ok((if args == form::none() { form::tuple([]) } else { args }, caches))
}

/// [`send_call`] over a link that speaks PB messages with jelly (a Twisted
/// peer): the method goes by name, the answer is the method's `Ok` value.
async fn send_jelly_call<A, R>(
    link: &Arc<dyn Link>,
    jelly: &dyn JellyCalls,
    target: u64,
    name: &str,
    args: &A,
) -> Result<R, Error>
where
    A: Serialize + ?Sized,
    R: DeserializeOwned + Send + 'static,
{
    let (args, caches) = jelly_args(jelly, args)?;
    let req = link.next_req();
    let (tx, rx) = oneshot::channel();
    let slot: JellySlot = Box::new(move |_, answer| {
        // R is the method's `Result<T, E>`: an answer is its `Ok`, as serde
        // reads an enum variant from jelly (a one-entry dictionary).
        let decode = |tag: &str, value: JellyValue| {
            let tagged = form::dictionary([(form::unicode(tag), value)]);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                twisted::jelly::from_value::<R>(&tagged).map_err(Error::from)
            }))
            .unwrap_or_else(|_| Err(Error::protocol("decoding the answer panicked")))
        };
        let decoded = match answer {
            Ok(value) => decode("Ok", value),
            // A pb peer's application error comes back as the method's own
            // error if it decodes as one; anything else is a pb::Error.
            Err(JellyFault { error, detail }) => match detail.map(|d| decode("Err", d)) {
                Some(Ok(r)) => Ok(r),
                _ => Err(error),
            },
        };
        let _ = tx.send(decoded);
    });
    let sent = jelly.send_call(req, target, name, args, slot);
    jelly.start_caches(caches, sent.is_ok());
    sent?;
    let guard = AbandonGuard { link, req };
    let result = rx.await.map_err(|_| Error::ConnectionLost)?;
    std::mem::forget(guard);
    result
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
