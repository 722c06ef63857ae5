//! The producer side of a stream sent to a peer: an export answering pulls.

use std::any::Any;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::inner::Inner;
use super::protocol::{Batch, CHUNK, MAX_PULL_ITEMS, PULL, Piece, RESUME, Relayed, STREAM_IFACE};
use super::remote;
use crate::Error;
use crate::connection::{CallFuture, Dispatch, Reply, StreamCount};
use crate::wire::{Blob, codec};

/// Bytes an answer's items may take beyond a chunk: their length prefixes
/// (four 64 KiB items are a chunk and 12 bytes).
const SLACK: usize = CHUNK / 64;

/// Most items of the first answer, before the producer knows their size.
const FIRST_ANSWER: usize = 16;

/// The producer's state: the stream, the items it gave, and their size.
struct Producer<T> {
    /// `Gone` once it ended (or went home).
    stream: Inner<T>,
    given: u64,
    /// Bytes per item in the answers so far (zero: none yet).
    item_bytes: usize,
    /// An item going in pieces: its encoding, and how much of it was sent.
    pending: Option<(Bytes, usize)>,
    /// An item taken from the stream and not sent yet (it goes next).
    held: Option<T>,
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
        let producer = Producer { stream, given: 0, item_bytes: 0, pending: None, held: None };
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
    if guard.pending.is_some() {
        return send_piece(&mut guard, reply);
    }
    // However much the peer asks for, an answer holds at most `max_batch`
    // bytes, by the sizes of earlier answers.
    let max = match guard.item_bytes {
        0 => max.min(FIRST_ANSWER),
        bytes => max.min((taker.max_batch / bytes).max(1)),
    };
    let first = guard.given;
    // Items without references are encoded here, one after the other, up
    // to a chunk: they go as bytes (a relay passes them on as they are),
    // and one longer than a chunk goes in pieces. Items with references
    // are encoded with the reply, where their references are exported.
    let mut plain = Vec::new();
    let mut count = 0usize;
    let mut typed = Vec::new();
    let mut end = None;
    // Items up to a chunk, by the size of those before (exactly: one that
    // would pass it goes in the next answer).
    while count + typed.len() < max && (count == 0 || plain.len() + guard.item_bytes <= CHUNK + SLACK) {
        let next = match guard.held.take() {
            Some(item) => Some(Ok(item)),
            None if matches!(guard.stream, Inner::Gone) => None,
            None if count + typed.len() == 0 => tokio::select! {
                biased;
                () = taker.cancel.cancelled() => {
                    // The consumer is gone: drop the producer now.
                    guard.stream = Inner::Gone;
                    return Err(Error::Disconnected);
                }
                next = guard.stream.next() => next,
            },
            None => match guard.stream.next().now_or_never() {
                Some(next) => next,
                None => break, // send what is ready
            },
        };
        let item = match next {
            Some(Ok(item)) => item,
            Some(Err(e)) => {
                end = Some(Err(e));
                break;
            }
            None => {
                end = Some(Ok(()));
                break;
            }
        };
        if !typed.is_empty() {
            typed.push(item);
            continue;
        }
        let mark = plain.len();
        if codec::encode_into(&mut plain, &item).is_err() {
            // It holds references (or does not encode here at all).
            plain.truncate(mark);
            if count == 0 {
                typed.push(item);
                continue;
            }
            guard.held = Some(item);
            break;
        }
        if plain.len() > CHUNK + SLACK {
            // This item would make the answer longer than a chunk: it goes
            // next, after the items before it, in pieces if it is longer
            // than a chunk itself (a whole item is one last piece).
            let next = Bytes::from(plain.split_off(mark));
            guard.item_bytes = guard.item_bytes.max(next.len());
            guard.pending = Some((next, 0));
            if count == 0 {
                return send_piece(&mut guard, reply);
            }
            break;
        }
        count += 1;
    }
    if end.is_some() {
        guard.stream = Inner::Gone;
    }
    if !typed.is_empty() {
        let n = typed.len();
        guard.given += n as u64;
        let bytes = reply.send_bulk_sized(&Ok::<_, Error>(Batch::items(first, typed, end)))?;
        if let Some(per_item) = bytes.checked_div(n) {
            guard.item_bytes = per_item.max(1);
        }
        return Ok(());
    }
    if let Some(per_item) = plain.len().checked_div(count) {
        guard.item_bytes = per_item.max(1);
    }
    guard.given += count as u64;
    let count = u32::try_from(count).map_err(|_| Error::protocol("too many items in one answer"))?;
    let answer = Relayed::<T>::Plain { first, count, items: Blob::from(plain), end, piece: None };
    reply.send_bulk_sized(&Ok::<_, Error>(answer)).map(|_| ())
}

/// Answer with the next piece of the item going in pieces.
fn send_piece<T: Serialize + Send + 'static>(guard: &mut Producer<T>, reply: Reply) -> Result<(), Error> {
    let Some((bytes, sent)) = guard.pending.take() else { return Ok(()) };
    let upto = (sent + CHUNK).min(bytes.len());
    let last = upto == bytes.len();
    let piece = Piece { offset: sent as u64, bytes: Blob::from(bytes.slice(sent..upto)), last };
    let first = guard.given;
    if last {
        guard.given += 1;
    } else {
        guard.pending = Some((bytes, upto));
    }
    let batch = Batch::<T> { first, items: Vec::new(), end: None, piece: Some(piece) };
    reply.send_bulk_sized(&Ok::<_, Error>(batch)).map(|_| ())
}
