//! Streams: a sequence of values passed as one argument or result
//! ([`Stream<T>`]), moved with backpressure, that survives an outage of a
//! resumable session.
//!
//! A `Stream<T>` is serde data: return it from a method (server
//! streaming), pass it as an argument (client streaming: the receiving half
//! of a [`channel`], or a [`Sink`] that bundles the channel with the call),
//! or nest it in copied data. The sending half of a channel, a [`Sender`],
//! travels too: a peer given one sends into the channel, and its items
//! come out of the channel's stream here (streamed back with the same
//! flow control). It travels by reference:
//! the sender exports the stream's producer, and the receiver gets a
//! `Stream<T>` that implements [`futures_util::Stream`] with items
//! `Result<T, pb::Error>`.
//!
//! # Flow control
//!
//! The receiver pulls: it asks for items in requests of at most 256 KiB
//! (sized from the items it has seen so far), with enough of them in
//! flight to cover its window (two to eight), and only while it is being
//! polled. The producer runs only to answer a request: it is never ahead
//! of its consumer by more than the window, and a consumer that stops
//! reading stops the producer.
//!
//! The window adapts to the end-to-end rate: every few round trips of
//! requests the receiver measures how fast its consumer reads and how long
//! a request takes to be answered, and holds four round trips' worth of
//! reading, between 64 KiB and the most allowed ([`DEFAULT_WINDOW`], or
//! [`Stream::window`]). A consumer held back by the window reads about a
//! window per round trip, so its window grows back to the most; a slow
//! consumer holds little.
//!
//! A relay that passes a stream on (returns a peer's stream it has not
//! read) passes each of its consumer's requests upstream as it is, and the
//! answer back: backpressure is end to end, the relay holds only the
//! answers crossing it, and round trips are measured end to end. Items
//! without references cross the relay as the bytes they came in, never
//! decoded there; items with references are decoded and encoded again
//! (their references become the relay's own).
//!
//! Answers are bulk frames: a call's reply queued behind a stream's
//! answers leaves before those not yet written, so a stream delays other
//! calls on its connection by at most the answer being written.
//!
//! # Outages
//!
//! Pulls are ordinary calls of the session: when a resumable session
//! resumes, a pull in flight is answered once, and the stream goes on with
//! no item lost or repeated.
//!
//! When the session cannot resume (the server restarted, the outage
//! outlasted the grace period), a stream returned by a `#[pb(replay)]`
//! method waits for the session to heal, which asks the method again (with
//! the same arguments) and tells the fresh producer to start at the item
//! the consumer needs next. A producer made with [`Stream::with_cursor`]
//! starts there (like a Kafka consumer at its offset), and the stream goes
//! on with no item lost or repeated; a relay passing such a stream on
//! passes the request upstream, so this works through relays restarted as
//! well as servers. Any other stream (no cursor, not from a replayed
//! method, or a heal that does not come within the session's
//! `retry_wait`) ends with [`Error::Lost`] carrying how many items
//! arrived: never a gap, a duplicate or a hang.
//!
//! # Cancellation
//!
//! Dropping the receiving `Stream` releases the producer: the release
//! reaches the sender within one trip, which drops the producer (at its
//! next await, even if a request is waiting on it).
//!
//! # Large items
//!
//! An item must fit in one frame
//! ([`Config::max_frame_len`](crate::Config::max_frame_len)). One longer
//! than a chunk (256 KiB, plus 4 KiB of room for length prefixes) goes in
//! pieces of 256 KiB, one per answer, so no answer is longer than a chunk,
//! whether or not the item holds references: its references are exported
//! when it is encoded, and resolved once its last piece arrived. A relay
//! passes the pieces of a plain item on as they came; it puts an item
//! with references together, and sends it on in pieces of its own. If the
//! stream moves to a fresh producer mid-item (a session that could not
//! resume), the part that arrived is dropped and the item comes again from
//! its first piece.
//!
//! Items are encoded on their own, then the answer refers to their bytes.
//! A `pb::Blob` of 4 KiB or more in an item is not copied on either side,
//! as in a call: the answer's frame refers to its buffer (pieces too), and
//! a received one is a slice of the frame it came in.
//!
//! A `Stream<T>` describes itself as `stream<T>` ([`crate::describe`]), as
//! `.pbidl` schemas write it.

mod inner;
mod protocol;
mod remote;
mod replay;
mod sender;
mod source;
mod value;

use crate::Error;

pub use remote::DEFAULT_WINDOW;
pub use replay::track_replay_stream;
pub use sender::{Sender, channel};
pub use value::Stream;

/// The sending end of a call that takes a stream (client streaming): send
/// items into it, then [`finish`](Sink::finish) for the call's result.
///
/// ```ignore
/// let upload = pb::Sink::new(16, move |items| async move { files.upload(items).await });
/// for chunk in chunks {
///     upload.send(chunk).await?; // waits while the server is a window behind
/// }
/// let stored = upload.finish().await?; // the call's own Result
/// ```
pub struct Sink<T, R> {
    tx: Option<Sender<T>>,
    call: tokio::task::JoinHandle<R>,
}

impl<T, R> std::fmt::Debug for Sink<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").field("finished", &self.call.is_finished()).finish()
    }
}

impl<T: Send + 'static, R: Send + 'static> Sink<T, R> {
    /// Start the call `start` with the receiving stream of a [`channel`] of
    /// `buffer` items, as a task of its own.
    pub fn new<F, Fut>(buffer: usize, start: F) -> Self
    where
        F: FnOnce(Stream<T>) -> Fut,
        Fut: std::future::Future<Output = R> + Send + 'static,
    {
        let (tx, stream) = channel(buffer);
        Sink { tx: Some(tx), call: tokio::spawn(start(stream)) }
    }

    /// Send an item, waiting while the stream's consumer is a window behind.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] once the call stopped reading (its result
    /// is what [`finish`](Self::finish) returns).
    pub async fn send(&self, item: T) -> Result<(), Error> {
        match &self.tx {
            Some(tx) => tx.send(item).await,
            None => Err(Error::Disconnected),
        }
    }

    /// End the stream and wait for the call's result.
    ///
    /// # Panics
    ///
    /// If the call panicked: its panic goes on here.
    pub async fn finish(mut self) -> R {
        drop(self.tx.take());
        match (&mut self.call).await {
            Ok(result) => result,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => panic!("the call of a pb::Sink stopped: {e}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::protocol::{Answer, PULL};
    use crate::Error;
    use crate::wire::{self, Blob, FrameBuf, Header, codec};

    /// Bytes on the wire per item beyond the item's own bytes: the answer's
    /// frame (prefix, header, batch) and the pull that asked for it.
    fn overhead_per_item(size: usize, items: usize) -> f64 {
        // As the producer encodes them: one after the other, then the answer.
        let mut bytes = Vec::new();
        for _ in 0..items {
            bytes = codec::encode_into(bytes, &vec![7u8; size]).unwrap();
        }
        let count = items as u32;
        let chunks = vec![bytes::Bytes::from(bytes)];
        let batch = Answer { first: 1 << 40, count, plain: true, items: chunks, end: None, piece: None };
        let answer = wire::encode_frame(&Header::Reply { req: 1 << 30, ok: true }, &Ok::<_, Error>(batch)).unwrap();
        let pull = Header::Call { req: 1 << 30, target: 1 << 20, method: PULL };
        let pull = wire::encode_frame(&pull, &(items as u32,)).unwrap();
        let wire = answer.len() + pull.len() + 2 * wire::frame::PREFIX_LEN;
        (wire - size * items) as f64 / items as f64
    }

    #[tokio::test]
    async fn a_stream_with_a_cursor_read_here_starts_at_item_zero() {
        use futures_util::StreamExt;
        let opened = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = opened.clone();
        let stream = super::Stream::with_cursor(move |next| {
            seen.lock().unwrap().push(next);
            futures_util::stream::iter((next..5).map(Ok))
        });
        let items: Vec<u64> = stream.map(Result::unwrap).collect().await;
        assert_eq!(items, [0, 1, 2, 3, 4]);
        assert_eq!(*opened.lock().unwrap(), [0], "opened once, at the first read");
    }

    #[test]
    fn a_stream_describes_itself_with_its_items() {
        use crate::describe::types::{Describe, TypeCx, TypeDesc};
        let mut cx = TypeCx::default();
        let desc = <super::Stream<Vec<String>> as Describe>::describe(&mut cx);
        assert_eq!(desc, TypeDesc::Stream(Box::new(TypeDesc::List(Box::new(TypeDesc::String)))));
    }

    #[test]
    fn a_sender_describes_itself_with_its_items() {
        use crate::describe::types::{Describe, TypeCx, TypeDesc};
        let mut cx = TypeCx::default();
        let desc = <super::Sender<Option<u32>> as Describe>::describe(&mut cx);
        assert_eq!(desc, TypeDesc::Sender(Box::new(TypeDesc::Option(Box::new(TypeDesc::U32)))));
    }

    /// Items encoded as the producer encodes them (large blobs offered to
    /// the buffer), as chunks.
    fn encoded(items: &[(u32, Blob)]) -> Vec<bytes::Bytes> {
        let mut buf = FrameBuf::default();
        for item in items {
            wire::with_encode(|| codec::encode_into(&mut buf, item).map(|_| ()).map_err(Error::from)).unwrap();
        }
        buf.into_chunks()
    }

    #[test]
    fn an_answer_written_in_chunks_is_the_bytes_serde_writes_and_shares_large_blobs() {
        let big = Blob::from(vec![9u8; 100_000]);
        let small = Blob::from(vec![1u8; 10]);
        for items in [vec![], vec![(1, small.clone())], vec![(1, small.clone()), (2, big.clone()), (3, small)]] {
            for (end, piece) in [(None, None), (Some(Ok(())), None), (Some(Err(Error::Busy)), Some(5))] {
                let count = items.len() as u32;
                let chunks = encoded(&items);
                let answer = Answer { first: 7, count, plain: true, items: chunks, end, piece };
                let written = answer.write(FrameBuf::default()).unwrap().finish();
                let flat: Vec<u8> = written.chunks().iter().flat_map(|c| c.iter().copied()).collect();
                assert_eq!(flat, codec::encode_into(Vec::new(), &Ok::<_, Error>(&answer)).unwrap(), "{count} items");
                if count == 3 {
                    let shared = written.chunks().iter().any(|c| c.as_ptr() == big.as_ptr());
                    assert!(shared, "the large blob is referenced by the frame, not copied");
                }
            }
        }
    }

    #[test]
    fn framing_costs_at_most_16_bytes_per_item() {
        // What the window asks for at a time: 512 items of 1 KiB, 8 of
        // 64 KiB; and the first pull's 16 items.
        for (size, items) in [(1 << 10, 512), (64 << 10, 8), (1 << 10, 16), (16, 16)] {
            let per_item = overhead_per_item(size, items);
            assert!(per_item <= 16.0, "{per_item} bytes per item of {size} bytes in batches of {items}");
        }
        assert!(overhead_per_item(1 << 10, 512) < 3.0);
    }
}
