//! The producer side of a stream sent to a peer: an export answering pulls.

use std::any::Any;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::inner::Inner;
use super::protocol::{Answer, Batch, CHUNK, MAX_PULL_ITEMS, PULL, RESUME, Relayed, STREAM_IFACE};
use super::remote;
use crate::Error;
use crate::connection::{CallFuture, Dispatch, Reply, StreamCount};
use crate::wire::{self, FrameBuf, codec, slice_chunks};

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
    /// Items going in pieces, one after the other (at a relay passing a
    /// stream on, items its pulls put together side by side; elsewhere at
    /// most one).
    pending: std::collections::VecDeque<Pending<T>>,
    /// An item taken from the stream and not sent yet (it goes next).
    held: Option<T>,
}

/// An item going in pieces, one per answer.
struct Pending<T> {
    /// Its number.
    first: u64,
    /// Its encoding, in chunks (large blobs in it shared), and its length.
    parts: Vec<Bytes>,
    len: usize,
    /// How much of it was sent.
    sent: usize,
    /// The item, if it holds references (exported when it was encoded):
    /// kept until its last piece is queued, so that a proxy in it going
    /// back to its owner is released after the answer that names it.
    keep: Option<T>,
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
        let producer = Producer { stream, given: 0, item_bytes: 0, pending: Default::default(), held: None };
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
    if !guard.pending.is_empty() {
        return send_piece(&mut guard, reply);
    }
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
            Ok(Relayed::Plain(answer)) => reply.send_bulk_with(|out| answer.write(out)).map(|_| ()),
            Ok(Relayed::Decoded(batch)) => {
                // Items with references, decoded here: encoded again with
                // this connection's references, in pieces if need be.
                let mut guard = taker.stream.lock().await;
                send_decoded(&mut guard, batch, reply)
            }
            Err(e) => reply.send(&Err::<(), Error>(e)),
        };
    }
    // However much the peer asks for, an answer holds at most `max_batch`
    // bytes, by the sizes of earlier answers.
    let max = match guard.item_bytes {
        0 => max.min(FIRST_ANSWER),
        bytes => max.min((taker.max_batch / bytes).max(1)),
    };
    let first = guard.given;
    // Items up to a chunk, by the size of those before (exactly: one that
    // would pass it goes in the next answer).
    let mut answer = Encoding::new(first);
    while answer.count < max && (answer.count == 0 || answer.buf.len() + guard.item_bytes <= CHUNK + SLACK) {
        let next = match guard.held.take() {
            Some(item) => Some(Ok(item)),
            None if matches!(guard.stream, Inner::Gone) => None,
            None if answer.count == 0 => tokio::select! {
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
        match next {
            Some(Ok(item)) => {
                if !answer.add(&mut guard, item, &reply) {
                    break;
                }
            }
            Some(Err(e)) => {
                answer.end = Some(Err(e));
                break;
            }
            None => {
                answer.end = Some(Ok(()));
                break;
            }
        }
    }
    if answer.count == 0 && answer.end.is_none() && !guard.pending.is_empty() {
        return send_piece(&mut guard, reply);
    }
    answer.send(&mut guard, reply)
}

/// An answer being encoded: its items one after the other, all plain or
/// all encoded with their references exported on the connection. Large
/// `pb::Blob`s in plain items are referenced, not copied.
struct Encoding<T> {
    first: u64,
    buf: FrameBuf,
    count: usize,
    /// Whether the items hold references (the first that did decided).
    refs: bool,
    /// The items with references, kept until the answer is queued.
    keep: Vec<T>,
    end: Option<Result<(), Error>>,
}

impl<T: Serialize> Encoding<T> {
    fn new(first: u64) -> Self {
        Encoding { first, buf: FrameBuf::default(), count: 0, refs: false, keep: Vec::new(), end: None }
    }

    /// Add `item`; false if the answer is full (the item goes in the next
    /// one: held, or pending in pieces) or ended (its encode failed).
    fn add(&mut self, producer: &mut Producer<T>, item: T, reply: &Reply) -> bool {
        let mark = self.buf.len();
        if !self.refs {
            let buf = &mut self.buf;
            if wire::with_encode(|| codec::encode_into(&mut *buf, &item).map(|_| ()).map_err(Error::from)).is_ok() {
                return self.place(producer, mark, None);
            }
            // It holds references (or does not encode here at all).
            self.buf.truncate(mark);
            if self.count > 0 {
                producer.held = Some(item);
                return false;
            }
            self.refs = true;
        }
        if let Err(e) = reply.encode_with_refs(&mut self.buf, &item) {
            // Items before it go, with the error that ends the stream.
            self.end = Some(Err(e));
            return false;
        }
        self.place(producer, mark, Some(item))
    }

    /// The item encoded from `mark` on stays in this answer, or, if it
    /// would make it longer than a chunk, goes next, after the items
    /// before it, in pieces if it is longer than a chunk itself (a whole
    /// item is one last piece).
    fn place(&mut self, producer: &mut Producer<T>, mark: usize, keep: Option<T>) -> bool {
        let len = self.buf.len();
        if len > CHUNK + SLACK {
            let chunks = std::mem::take(&mut self.buf).into_chunks();
            for chunk in slice_chunks(&chunks, 0..mark) {
                self.buf.append_shared(&chunk);
            }
            let parts = slice_chunks(&chunks, mark..len);
            producer.item_bytes = producer.item_bytes.max(len - mark);
            let first = self.first + self.count as u64;
            producer.pending.push_back(Pending { first, parts, len: len - mark, sent: 0, keep });
            return false;
        }
        self.keep.extend(keep);
        self.count += 1;
        true
    }

    /// Queue the answer.
    fn send(self, producer: &mut Producer<T>, reply: Reply) -> Result<(), Error> {
        if self.end.is_some() {
            producer.stream = Inner::Gone;
        }
        if let Some(per_item) = self.buf.len().checked_div(self.count) {
            producer.item_bytes = per_item.max(1);
        }
        producer.given += self.count as u64;
        let count = u32::try_from(self.count).map_err(|_| Error::protocol("too many items in one answer"))?;
        let answer = Answer {
            first: self.first,
            count,
            plain: !self.refs,
            items: self.buf.into_chunks(),
            end: self.end,
            piece: None,
        };
        reply.send_bulk_with(|out| answer.write(out))?;
        drop(self.keep);
        Ok(())
    }
}

/// Answer with `batch`'s items, decoded at a relay that passes the stream
/// on: encoded again with this connection's references; one item longer
/// than a chunk goes in pieces.
fn send_decoded<T: Serialize>(producer: &mut Producer<T>, batch: Batch<T>, reply: Reply) -> Result<(), Error> {
    let mut buf = FrameBuf::default();
    for item in &batch.items {
        reply.encode_with_refs(&mut buf, item)?;
    }
    let count = u32::try_from(batch.items.len()).map_err(|_| Error::protocol("too many items in one answer"))?;
    let len = buf.len();
    if count == 1 && len > CHUNK + SLACK && batch.end.is_none() {
        let keep = batch.items.into_iter().next();
        producer.pending.push_back(Pending { first: batch.first, parts: buf.into_chunks(), len, sent: 0, keep });
        return send_piece(producer, reply);
    }
    let items = buf.into_chunks();
    let answer = Answer { first: batch.first, count, plain: false, items, end: batch.end, piece: None };
    reply.send_bulk_with(|out| answer.write(out))?;
    drop(batch.items);
    Ok(())
}

/// Answer with the next piece of the item going in pieces.
fn send_piece<T>(producer: &mut Producer<T>, reply: Reply) -> Result<(), Error> {
    let Some(mut pending) = producer.pending.pop_front() else { return Ok(()) };
    let (first, sent) = (pending.first, pending.sent);
    let upto = (sent + CHUNK).min(pending.len);
    let last = upto == pending.len;
    let answer = Answer {
        first,
        count: u32::from(last),
        plain: pending.keep.is_none(),
        items: slice_chunks(&pending.parts, sent..upto),
        end: None,
        piece: Some(sent as u64),
    };
    pending.sent = upto;
    if !last {
        producer.pending.push_front(pending);
    }
    reply.send_bulk_with(|out| answer.write(out))?;
    // (`pending`, with the item it keeps, is dropped after its last piece
    // is queued.)
    if last && producer.given == first {
        producer.given += 1;
    }
    Ok(())
}
