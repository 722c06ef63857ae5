//! The outgoing side of a connection: the queue of frames and the writer
//! task that turns many frames into one system call.
//!
//! Three things keep the number of `writev` calls per frame low. Measured
//! with `bench/run.sh --only add_tput --targets pb` (64 callers): ~0.37
//! writes per frame with the former channel and `FramedWrite` (as the raw
//! baseline still does), ~0.05 with this outbox; 62k -> 140k calls/s.
//!
//! - **One wake-up per batch.** Senders push into a plain `Vec` under a
//!   mutex and wake the writer only when the queue goes from empty to
//!   non-empty; the writer takes the whole queue at once.
//! - **Corking.** While the reader still has complete frames buffered (a
//!   burst of calls read in one `read`), it corks the outbox: replies of calls
//!   that complete at once pile up and leave in one write when the burst is
//!   handled, instead of waking the writer for each.
//! - **Waiting a turn or two when busy.** When the previous batch held
//!   several frames (many callers), the writer yields before writing, so the
//!   callers that the same wake-up made runnable can queue their frames too;
//!   it yields a second time only if the first turn brought more frames
//!   ([`WAIT_TURNS`]). A lone caller never pays for it.
//!
//! Frames are written with vectored I/O: small frames are copied behind
//! their length prefix into one scratch buffer, large ones go to the kernel
//! straight from their own buffer (no copy into a codec buffer).

use std::io::IoSlice;
use std::sync::Mutex;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use crate::wire::EncodedFrame;
use crate::wire::frame::put_prefix as prefix;

/// Frames at least this long are written from their own buffer; shorter
/// ones are copied into the scratch buffer (one iovec for many frames).
const COPY_BELOW: usize = 2048;
/// At most this many scheduler turns the writer waits for more frames when
/// busy, each only if the one before brought frames. Two rather than one:
/// pb-only runs of `bench/run.sh --only add_tput,echo_1k_tput --targets pb`
/// (5 rounds, three alternations) measured add_tput 250-284k -> 287-327k
/// calls/s and echo_1k 108-115 -> 127-130 MB/s; four turns gained nothing
/// more, and echo_64k did not move. On another machine (session 4) the same
/// pb-only comparison (3 alternations of 0, 1 and 2 turns, and without
/// corking) stayed within the run-to-run noise of +-15% on every workload:
/// the gain depends on the machine, no setting was worse than this one.
/// The cost: each turn may wake the runtime's other worker (echo_1k, 5 s:
/// 384k context switches and 53k eventfd writes with two turns, 189k and 24k
/// with none), against 3x fewer `writev`s (169k against 539k).
const WAIT_TURNS: usize = 2;
/// At most this many iovecs per `writev` (Linux's `IOV_MAX` is 1024).
const MAX_SLICES: usize = 256;
/// A scratch buffer grown past this is dropped after the write, so an idle
/// connection does not keep a burst's worth of memory.
const KEEP_SCRATCH: usize = 64 << 10;

#[derive(Default)]
struct Queue {
    frames: Vec<EncodedFrame>,
    corked: bool,
}

/// Frames waiting for the writer, in the order they were queued.
#[derive(Default)]
pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    wake: Notify,
}

impl Outbox {
    /// Queue a frame.
    pub(crate) fn push(&self, frame: EncodedFrame) {
        let mut q = self.queue.lock().unwrap();
        q.frames.push(frame);
        let wake = q.frames.len() == 1 && !q.corked;
        drop(q);
        if wake {
            self.wake.notify_one();
        }
    }

    /// Hold (`true`) or release (`false`) the writer's wake-ups; releasing
    /// wakes it if frames are waiting.
    pub(crate) fn cork(&self, corked: bool) {
        let mut q = self.queue.lock().unwrap();
        if q.corked == corked {
            return;
        }
        q.corked = corked;
        let wake = !corked && !q.frames.is_empty();
        drop(q);
        if wake {
            self.wake.notify_one();
        }
    }

    /// Drop every queued frame (the writer is gone).
    pub(crate) fn clear(&self) {
        let frames = std::mem::take(&mut self.queue.lock().unwrap().frames);
        drop(frames);
    }

    /// Move every queued frame to the end of `into`.
    fn take(&self, into: &mut Vec<EncodedFrame>) {
        let mut q = self.queue.lock().unwrap();
        if into.is_empty() {
            std::mem::swap(&mut q.frames, into);
        } else {
            into.append(&mut q.frames);
        }
    }

    /// Wait until frames may be waiting.
    async fn ready(&self) {
        self.wake.notified().await
    }
}

/// The writer's state between batches.
pub(crate) struct Writer<W> {
    io: W,
    batch: Vec<EncodedFrame>,
    scratch: Vec<u8>,
    /// The last batch held several frames: wait up to [`WAIT_TURNS`] turns
    /// for more.
    busy: bool,
    /// A write was interrupted (the task was cancelled mid-batch): the
    /// stream may end inside a frame, so nothing more can be written.
    torn: bool,
}

impl<W: AsyncWrite + Unpin> Writer<W> {
    pub(crate) fn new(io: W) -> Self {
        Writer { io, batch: Vec::new(), scratch: Vec::new(), busy: false, torn: false }
    }

    /// Wait for frames and write one batch; returns the bytes of frames
    /// written (0 if the wake-up found nothing).
    pub(crate) async fn write_next(&mut self, outbox: &Outbox) -> std::io::Result<usize> {
        outbox.ready().await;
        outbox.take(&mut self.batch);
        if self.batch.is_empty() {
            return Ok(0);
        }
        if self.busy || self.batch.len() > 1 {
            for _ in 0..WAIT_TURNS {
                let before = self.batch.len();
                tokio::task::yield_now().await;
                outbox.take(&mut self.batch);
                if self.batch.len() == before {
                    break; // that turn brought nothing: write now
                }
            }
        }
        self.busy = self.batch.len() > 1;
        self.flush_batch().await
    }

    /// Write whatever is queued now (the last frames before a close).
    pub(crate) async fn drain(&mut self, outbox: &Outbox) -> std::io::Result<usize> {
        outbox.take(&mut self.batch);
        self.flush_batch().await
    }

    /// The transport, to shut it down.
    pub(crate) fn io(&mut self) -> &mut W {
        &mut self.io
    }

    async fn flush_batch(&mut self) -> std::io::Result<usize> {
        if self.torn {
            return Ok(0);
        }
        self.torn = true;
        let total: usize = self.batch.iter().map(EncodedFrame::len).sum();
        let result = if self.io.is_write_vectored() {
            self.write_vectored().await
        } else {
            // No vectored writes (e.g. an in-memory pipe): one copy, one write.
            self.scratch.clear();
            for frame in &self.batch {
                prefix(&mut self.scratch, frame.len());
                for chunk in frame.chunks() {
                    self.scratch.extend_from_slice(chunk);
                }
            }
            self.io.write_all(&self.scratch).await
        };
        self.torn = false;
        self.batch.clear();
        if self.scratch.capacity() > KEEP_SCRATCH {
            self.scratch = Vec::new();
        }
        result.map(|()| total)
    }

    async fn write_vectored(&mut self) -> std::io::Result<()> {
        // Lay out a run of frames: small chunks (with every length prefix)
        // copied into the scratch buffer, large chunks by reference; at most
        // MAX_SLICES iovecs per write.
        let mut next = 0;
        while next < self.batch.len() {
            self.scratch.clear();
            let mut parts: Vec<Part> = Vec::new();
            let mut start = 0;
            while next < self.batch.len() && parts.len() + 2 * self.batch[next].chunks().len() < MAX_SLICES {
                let frame = &self.batch[next];
                prefix(&mut self.scratch, frame.len());
                for (j, chunk) in frame.chunks().iter().enumerate() {
                    if chunk.len() < COPY_BELOW {
                        self.scratch.extend_from_slice(chunk);
                    } else {
                        if start < self.scratch.len() {
                            parts.push(Part::Scratch(start, self.scratch.len()));
                        }
                        parts.push(Part::Chunk(next, j));
                        start = self.scratch.len();
                    }
                }
                next += 1;
            }
            if parts.is_empty() && start == self.scratch.len() {
                // A single frame with more chunks than MAX_SLICES allows:
                // copy it whole.
                let frame = &self.batch[next];
                prefix(&mut self.scratch, frame.len());
                for chunk in frame.chunks() {
                    self.scratch.extend_from_slice(chunk);
                }
                next += 1;
            }
            if start < self.scratch.len() {
                parts.push(Part::Scratch(start, self.scratch.len()));
            }
            let batch = &self.batch;
            let mut slices: Vec<IoSlice<'_>> = parts
                .iter()
                .map(|p| match *p {
                    Part::Scratch(a, b) => IoSlice::new(&self.scratch[a..b]),
                    Part::Chunk(i, j) => IoSlice::new(&batch[i].chunks()[j]),
                })
                .collect();
            let mut rest = &mut slices[..];
            while !rest.is_empty() {
                let n = self.io.write_vectored(rest).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                IoSlice::advance_slices(&mut rest, n);
            }
        }
        self.io.flush().await
    }
}

/// A piece of a vectored write.
enum Part {
    /// `scratch[a..b]`.
    Scratch(usize, usize),
    /// Chunk `j` of the batch's frame `i`, from its own buffer.
    Chunk(usize, usize),
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::StreamExt;
    use tokio_util::codec::{FramedRead, LengthDelimitedCodec};

    #[tokio::test]
    async fn without_vectored_writes_frames_arrive_whole_and_in_order() {
        let frames: Vec<Bytes> =
            [3usize, 0, 5000, 10, 70_000, 1, 2047, 2048].iter().map(|&n| Bytes::from(vec![n as u8; n])).collect();
        let (a, b) = tokio::io::duplex(1 << 20);
        let outbox = Outbox::default();
        for f in &frames {
            outbox.push(f.clone().into());
        }
        let mut writer = Writer::new(a);
        assert_eq!(writer.drain(&outbox).await.unwrap(), frames.iter().map(Bytes::len).sum::<usize>());
        let mut read = FramedRead::new(b, LengthDelimitedCodec::new());
        for f in frames {
            assert_eq!(read.next().await.unwrap().unwrap().freeze(), f);
        }
    }

    #[tokio::test]
    async fn vectored_writes_over_a_socket_keep_order() {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let outbox = Outbox::default();
        let frames: Vec<Bytes> = (0..700).map(|i| Bytes::from(vec![i as u8; (i * 37) % 5000])).collect();
        // Past MAX_SLICES, with a mix of copied and referenced frames.
        for f in &frames {
            outbox.push(f.clone().into());
        }
        let mut writer = Writer::new(a);
        assert!(writer.io().is_write_vectored());
        let reader = tokio::spawn(async move {
            let mut read = FramedRead::new(b, LengthDelimitedCodec::new());
            let mut got = Vec::new();
            while got.len() < 700 {
                got.push(read.next().await.unwrap().unwrap().freeze());
            }
            got
        });
        writer.drain(&outbox).await.unwrap();
        assert_eq!(reader.await.unwrap(), frames);
    }
}
