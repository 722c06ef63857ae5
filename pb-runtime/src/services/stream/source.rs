//! The producer side of a stream sent to a peer: an export answering pulls.

use std::any::Any;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::inner::Inner;
use super::protocol::{Batch, CHUNK, MAX_PULL_ITEMS, PULL, RESUME, STREAM_IFACE};
use super::remote;
use crate::Error;
use crate::connection::{CallFuture, Dispatch, Reply, StreamCount};

/// Most items of the first answer, before the producer knows their size.
const FIRST_ANSWER: usize = 16;

/// The producer's state: the stream, the items it gave, and their size.
struct Producer<T> {
    /// `Gone` once it ended (or went home).
    stream: Inner<T>,
    given: u64,
    /// Bytes per item in the answers so far (zero: none yet).
    item_bytes: usize,
}

/// The producer, shared by the export and the pulls running on it.
pub(crate) struct Taker<T> {
    stream: tokio::sync::Mutex<Producer<T>>,
    /// The most bytes of items one answer may carry.
    max_batch: usize,
    /// Fired when the peer releases the stream or the connection closes.
    cancel: CancellationToken,
}

impl<T> Taker<T> {
    /// The producer back, when a stream comes home (sent back by the peer).
    pub(crate) fn take(&self) -> Inner<T> {
        self.stream.try_lock().map_or(Inner::Gone, |mut s| std::mem::replace(&mut s.stream, Inner::Gone))
    }
}

/// A stream's export.
pub(crate) struct Source<T> {
    taker: Arc<Taker<T>>,
    /// Counted among the connection's streams while exported.
    _count: StreamCount,
}

impl<T: Serialize + DeserializeOwned + Send + 'static> Source<T> {
    /// The export of `stream`, answering with at most `max_batch` bytes.
    pub(crate) fn new(stream: Inner<T>, count: StreamCount, max_batch: usize) -> Arc<Self> {
        let producer = Producer { stream, given: 0, item_bytes: 0 };
        let taker = Taker {
            stream: tokio::sync::Mutex::new(producer),
            max_batch: max_batch.clamp(1, CHUNK),
            cancel: CancellationToken::new(),
        };
        Arc::new(Source { taker: Arc::new(taker), _count: count })
    }
}

impl<T: Serialize + DeserializeOwned + Send + 'static> Dispatch for Source<T> {
    fn interface_id(&self) -> u64 {
        STREAM_IFACE
    }

    fn call(&self, method: u32, args: &Bytes, reply: Reply) -> Result<CallFuture, Error> {
        match method {
            PULL => {
                let (max,): (u32,) = crate::decode_args(args)?;
                let max = max.clamp(1, MAX_PULL_ITEMS) as usize;
                Ok(Box::pin(pull(self.taker.clone(), max, reply)))
            }
            RESUME => {
                let (next,): (u64,) = crate::decode_args(args)?;
                let taker = self.taker.clone();
                Ok(Box::pin(async move { reply.send(&resume(taker, next).await) }))
            }
            _ => Err(Error::UnknownMethod { interface: "pb.Stream".into(), method, name: None }),
        }
    }

    fn object(&self) -> &(dyn Any + Send + Sync) {
        &*self.taker
    }

    fn released(&self) {
        self.taker.cancel.cancel();
    }
}

/// Start the producer at item `next`: a consumer whose session could not
/// resume goes on with a fresh producer (the same method, asked again).
/// Only a producer with a cursor, or one that is itself a stream from a
/// peer not yet read (a relay's), can start elsewhere than where it is.
async fn resume<T: DeserializeOwned + Send + 'static>(taker: Arc<Taker<T>>, next: u64) -> Result<(), Error> {
    let mut guard = tokio::select! {
        biased;
        () = taker.cancel.cancelled() => return Err(Error::Disconnected),
        guard = taker.stream.lock() => guard,
    };
    if guard.given == next {
        return Ok(());
    }
    let last = guard.given;
    match &mut guard.stream {
        Inner::Cursor(cursor) if last == 0 => cursor.start_at(next),
        Inner::Remote(remote) if last == 0 && remote.untouched() => remote.start_at(next).await?,
        _ => return Err(Error::Lost { last }),
    }
    guard.given = next;
    Ok(())
}

/// Answer one pull: wait for one item, then take what else is ready, up to
/// `max`. Pulls run one at a time; each answer says where its items start.
async fn pull<T: Serialize + DeserializeOwned + Send + 'static>(
    taker: Arc<Taker<T>>,
    max: usize,
    reply: Reply,
) -> Result<(), Error> {
    let mut guard = tokio::select! {
        biased;
        () = taker.cancel.cancelled() => return Err(Error::Disconnected),
        guard = taker.stream.lock() => guard,
    };
    // A relay passing a peer's stream on: the pull goes upstream as it is,
    // without holding the producer (pulls run side by side, like the
    // consumer's), and plain items pass as bytes.
    if let Inner::Remote(remote) = &guard.stream
        && remote.forward()
    {
        let shared = remote.shared().clone();
        drop(guard);
        let answer = tokio::select! {
            biased;
            () = taker.cancel.cancelled() => return Err(Error::Disconnected),
            answer = remote::forward_pull(shared, max as u32) => answer,
        };
        return match answer {
            Ok(relayed) => reply.send_bulk_sized(&Ok::<_, Error>(relayed)).map(|_| ()),
            Err(e) => reply.send(&Err::<(), Error>(e)),
        };
    }
    // However much the peer asks for, an answer holds at most `max_batch`
    // bytes, by the sizes of earlier answers.
    let max = match guard.item_bytes {
        0 => max.min(FIRST_ANSWER),
        bytes => max.min((taker.max_batch / bytes).max(1)),
    };
    let mut items = Vec::new();
    let mut end = None;
    let first = guard.given;
    if !matches!(guard.stream, Inner::Gone) {
        let stream = &mut guard.stream;
        while items.len() < max {
            let next = if items.is_empty() {
                tokio::select! {
                    biased;
                    () = taker.cancel.cancelled() => {
                        // The consumer is gone: drop the producer now.
                        guard.stream = Inner::Gone;
                        return Err(Error::Disconnected);
                    }
                    next = stream.next() => next,
                }
            } else {
                match stream.next().now_or_never() {
                    Some(next) => next,
                    None => break, // send what is ready
                }
            };
            match next {
                Some(Ok(item)) => items.push(item),
                Some(Err(e)) => {
                    end = Some(Err(e));
                    break;
                }
                None => {
                    end = Some(Ok(()));
                    break;
                }
            }
        }
    } else {
        end = Some(Ok(()));
    }
    if end.is_some() {
        guard.stream = Inner::Gone;
    }
    let n = items.len();
    guard.given += n as u64;
    let bytes = reply.send_bulk_sized(&Ok::<_, Error>(Batch { first, items, end }))?;
    if let Some(per_item) = bytes.checked_div(n) {
        guard.item_bytes = per_item.max(1);
    }
    Ok(())
}
