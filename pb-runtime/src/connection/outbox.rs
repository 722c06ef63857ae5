//! The outgoing side of a connection: frames are written by the task that
//! sends them whenever the write side is free, and batched under contention.
//!
//! - **Write from the calling task.** A frame is queued, and the sender
//!   then tries to take the write side (a `try_lock`, never a wait): if it
//!   is free, the sender writes everything queued at once, with a
//!   non-blocking `writev`. A call on an idle connection costs one system
//!   call and no hop to another task, as in a hand-written client.
//! - **Combining under contention.** A sender that finds the write side
//!   taken leaves its frame in the queue: whoever holds the write side
//!   takes the queue again before letting go (and looks once more after
//!   letting go), so many callers' frames leave in one `writev`.
//! - **Corking.** While the reader still has complete frames buffered (a
//!   burst of calls read in one `read`), it corks the outbox: replies of
//!   calls that complete at once pile up, and the reader writes them all in
//!   one `writev` when it uncorks.
//! - **The writer task only for backpressure.** When the socket does not
//!   take everything (its buffer is full), the rest waits in the write side
//!   and the connection's writer task finishes it, woken by the socket's
//!   readiness; senders meanwhile only queue.
//!
//! - **Replay for resumable sessions.** On a connection with a session,
//!   the writer keeps every numbered frame it takes for writing (small ones
//!   copied into a ring, large ones by reference) until the peer
//!   acknowledges it; after an outage the transport is swapped and what the
//!   peer has not received is written again first (see [`Replay`]).
//!   Per-transport frames (pings, pongs, acks) have a queue of their own;
//!   acks wait for the next batch instead of costing a write.
//!
//! Frames are written with vectored I/O: small frames are copied behind
//! their length prefix into one scratch buffer, large ones go to the kernel
//! straight from their own buffer (no copy into a codec buffer).

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, TryLockError};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::io::AsyncWrite;

use crate::Error;
use crate::transport::BoxWrite;
use crate::wire::EncodedFrame;
use crate::wire::frame::put_prefix;

/// Frames at least this long are written from their own buffer; shorter
/// ones are copied into the scratch buffer (one iovec for many frames).
const COPY_BELOW: usize = 2048;
/// At most this many iovecs per `writev` (Linux's `IOV_MAX` is 1024).
const MAX_SLICES: usize = 256;
/// A scratch buffer grown past this is dropped after the write, so an idle
/// connection does not keep a burst's worth of memory.
const KEEP_SCRATCH: usize = 64 << 10;

#[derive(Default)]
struct Queue {
    /// Frames in the order sent (numbered, on a session).
    frames: Vec<EncodedFrame>,
    /// Per-transport frames (pings, pongs, acks, a server's hello): written
    /// before the next batch, never kept for a resume.
    control: Vec<EncodedFrame>,
    /// `control` holds more than acknowledgements, which may wait for the
    /// next batch: it is written even without one.
    urgent: bool,
    /// Bulk frames (a stream's answers), in the order sent: each batch
    /// takes every frame of `frames` first, then bulk frames up to
    /// [`BULK_PER_BATCH`] bytes (at least one), so a call's reply queued
    /// behind a stream's answers overtakes them.
    bulk: VecDeque<EncodedFrame>,
    corked: bool,
}

impl Queue {
    /// Whether there is something to write now.
    fn has_work(&self) -> bool {
        !self.frames.is_empty() || !self.bulk.is_empty() || (self.urgent && !self.control.is_empty())
    }
}

/// Bytes of bulk frames one batch takes (at least one frame).
const BULK_PER_BATCH: usize = 256 << 10;

/// The numbered frames a peer has not acknowledged yet, kept to send again
/// after an outage, within a byte budget.
///
/// Small frames are copied into one ring of bytes (a memcpy of a few dozen
/// bytes, while the frame's own buffer is freed after its write as on a
/// plain connection); large ones are kept by reference (no copy).
///
/// Past the budget every kept frame is dropped (their memory freed) and the
/// session can resume only once the peer is known to have received them all:
/// an acknowledgement or a resume hello counting past [`Replay::gap`].
pub(crate) struct Replay {
    frames: VecDeque<Kept>,
    /// The bytes of the small frames of `frames`, in order.
    ring: VecDeque<u8>,
    bytes: usize,
    /// Number of the frame before `frames[0]` (frames are numbered from 1).
    base: u64,
    /// The peer must have received through this frame for a resume to work.
    gap: u64,
    /// Frames the peer has acknowledged.
    acked: u64,
    limit: usize,
}

/// One kept frame.
enum Kept {
    /// The next `len` bytes of the ring.
    Small(usize),
    /// A large frame, by reference.
    Large(EncodedFrame),
}

impl Replay {
    fn sent(&self) -> u64 {
        self.base + self.frames.len() as u64
    }

    fn keep(&mut self, frame: &EncodedFrame) {
        let len = frame.len();
        if self.bytes + len > self.limit {
            tracing::debug!(limit = self.limit, "resume buffer full: frames dropped from it");
            self.base = self.sent() + 1;
            self.gap = self.base;
            self.frames.clear();
            self.ring.clear();
            self.bytes = 0;
            return;
        }
        self.bytes += len;
        if len < COPY_BELOW {
            for chunk in frame.chunks() {
                self.ring.extend(chunk.iter());
            }
            self.frames.push_back(Kept::Small(len));
        } else {
            self.frames.push_back(Kept::Large(frame.clone()));
        }
    }

    /// Forget what the peer has received (`received` frames in all).
    fn trim(&mut self, received: u64) {
        self.acked = self.acked.max(received);
        while self.base < received {
            match self.frames.pop_front() {
                Some(Kept::Small(len)) => {
                    self.ring.drain(..len);
                    self.bytes -= len;
                }
                Some(Kept::Large(f)) => self.bytes -= f.len(),
                None => {
                    self.base = received;
                    break;
                }
            }
            self.base += 1;
        }
        if self.frames.is_empty() && self.ring.capacity() > KEEP_SCRATCH {
            self.ring = VecDeque::new();
        }
    }

    /// Every kept frame, as frames to write again.
    fn frames(&self) -> Vec<EncodedFrame> {
        let mut at = 0;
        self.frames
            .iter()
            .map(|k| match k {
                Kept::Small(len) => {
                    let bytes: Vec<u8> = self.ring.range(at..at + len).copied().collect();
                    at += len;
                    bytes.into()
                }
                Kept::Large(f) => f.clone(),
            })
            .collect()
    }
}

/// A piece of a batch being written.
#[derive(Clone, Copy)]
enum Part {
    /// `scratch[a..b]`.
    Scratch(usize, usize),
    /// Chunk `j` of the batch's frame `i`, from its own buffer.
    Chunk(usize, usize),
}

/// The transport's write half and the batch being written on it.
struct WriteSide {
    io: Option<BoxWrite>,
    /// Frames taken from the queue, laid out in `parts`.
    batch: Vec<EncodedFrame>,
    parts: Vec<Part>,
    scratch: Vec<u8>,
    /// Bytes of `parts` already written.
    written: usize,
    /// Bytes of `parts` in all.
    total: usize,
    /// Frame bytes (without prefixes) of the batch, for the queued count.
    frame_bytes: usize,
    /// Written since the last flush (TLS buffers).
    needs_flush: bool,
    /// A write failed: nothing more can be written.
    failed: bool,
}

/// Frames waiting to be written, and the write side.
pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    side: Mutex<WriteSide>,
    /// The writer task, woken when a batch is left half-written.
    writer: AtomicWaker,
    /// Frame bytes queued and not yet written.
    queued: AtomicUsize,
    /// Numbered frames kept for a resume (a connection with a session):
    /// kept by the writer as it takes them from the queue, so in the order
    /// written and outside the queue's lock.
    replay: Mutex<Option<Replay>>,
    /// Numbered frames taken for writing (the replay's `sent`), and those
    /// the peer acknowledged: the reader records an acknowledgement here
    /// without a lock, and the writer forgets the frames at its next batch.
    sent: AtomicU64,
    acked: AtomicU64,
}

impl Outbox {
    /// An outbox writing to `io`.
    pub(crate) fn new(io: BoxWrite) -> Self {
        Outbox {
            queue: Mutex::new(Queue::default()),
            side: Mutex::new(WriteSide {
                io: Some(io),
                batch: Vec::new(),
                parts: Vec::new(),
                scratch: Vec::new(),
                written: 0,
                total: 0,
                frame_bytes: 0,
                needs_flush: false,
                failed: false,
            }),
            writer: AtomicWaker::new(),
            queued: AtomicUsize::new(0),
            replay: Mutex::new(None),
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
        }
    }

    /// Queue a frame and write what is queued if the write side is free;
    /// returns the frame bytes queued and not yet written.
    pub(crate) fn push(&self, frame: EncodedFrame) -> usize {
        let len = frame.len();
        let queued = self.queued.fetch_add(len, Ordering::AcqRel) + len;
        let corked = {
            let mut q = self.queue.lock().unwrap();
            q.frames.push(frame);
            q.corked
        };
        if !corked {
            self.write_here();
        }
        queued
    }

    /// Queue a bulk frame (a stream's answer): written after the frames
    /// queued with [`push`](Self::push), even those queued later, a batch's
    /// worth at a time. Returns the frame bytes queued and not yet written.
    pub(crate) fn push_bulk(&self, frame: EncodedFrame) -> usize {
        let len = frame.len();
        let queued = self.queued.fetch_add(len, Ordering::AcqRel) + len;
        let corked = {
            let mut q = self.queue.lock().unwrap();
            q.bulk.push_back(frame);
            q.corked
        };
        if !corked {
            self.write_here();
        }
        queued
    }

    /// Queue a per-transport frame (a ping, a pong, a server's hello): never
    /// numbered nor kept for a resume.
    pub(crate) fn push_control(&self, frame: EncodedFrame) {
        self.push_control_then(frame, true);
    }

    /// Queue an acknowledgement: it leaves with the next frames written
    /// (every pong or reply, every ping of a session), not in a write of
    /// its own.
    pub(crate) fn push_ack(&self, frame: EncodedFrame) {
        self.push_control_then(frame, false);
    }

    fn push_control_then(&self, frame: EncodedFrame, write: bool) {
        let len = frame.len();
        self.queued.fetch_add(len, Ordering::AcqRel);
        let corked = {
            let mut q = self.queue.lock().unwrap();
            q.control.push(frame);
            q.urgent |= write;
            q.corked || !write
        };
        if !corked {
            self.write_here();
        }
    }

    /// Keep numbered frames for resumes from now on, within `limit` bytes.
    pub(crate) fn keep_for_resume(&self, limit: usize) {
        let replay =
            Replay { frames: VecDeque::new(), ring: VecDeque::new(), bytes: 0, base: 0, gap: 0, acked: 0, limit };
        *self.replay.lock().unwrap() = Some(replay);
    }

    /// The peer acknowledged `received` numbered frames (they are forgotten
    /// at the next batch written).
    ///
    /// # Errors
    ///
    /// A count of frames never sent.
    pub(crate) fn ack(&self, received: u64) -> Result<(), Error> {
        let sent = self.sent.load(Ordering::Acquire);
        if received > sent {
            return Err(Error::protocol(format_args!("acknowledged {received} frames of {sent} sent")));
        }
        self.acked.fetch_max(received, Ordering::AcqRel);
        Ok(())
    }

    /// Bytes kept for a resume (sent and not acknowledged) and queued, and
    /// whether they are past the resume budget (or frames are missing).
    pub(crate) fn replay_state(&self) -> (usize, bool) {
        let mut replay = self.replay.lock().unwrap();
        let queued = self.queued.load(Ordering::Acquire);
        let acked = self.acked.load(Ordering::Acquire);
        replay.as_mut().map_or((queued, true), |r| {
            r.trim(acked);
            (r.bytes + queued, r.gap > r.acked || r.bytes + queued > r.limit)
        })
    }

    /// Stop writing: the transport is gone but the session lives on. What
    /// is queued or half-written stays kept for the resume.
    pub(crate) fn detach(&self) {
        let mut side = self.side.lock().unwrap_or_else(|p| p.into_inner());
        side.io = None;
        side.failed = false;
        side.batch.clear();
        side.parts.clear();
        side.scratch = Vec::new();
        side.written = 0;
        side.total = 0;
        side.frame_bytes = 0;
        side.needs_flush = false;
    }

    /// Whether a peer that has received `received` numbered frames can
    /// resume: every frame after those is still kept.
    ///
    /// # Errors
    ///
    /// The peer claims frames never sent, or lacks frames no longer kept.
    pub(crate) fn check_resume(&self, received: u64) -> Result<(), Error> {
        let replay = self.replay.lock().unwrap();
        let Some(r) = replay.as_ref() else {
            return Err(Error::protocol("resume of a connection without a session"));
        };
        if received > r.sent() {
            return Err(Error::protocol(format_args!("peer claims {received} frames of {} sent", r.sent())));
        }
        if received < self.acked.load(Ordering::Acquire) {
            return Err(Error::protocol(format_args!("peer claims {received} frames after acknowledging more")));
        }
        if received < r.base || received < r.gap {
            return Err(Error::protocol(format_args!(
                "peer has {received} frames; frames after {} are no longer kept",
                r.base.min(r.gap)
            )));
        }
        Ok(())
    }

    /// Write to `io` from now on, starting with every kept frame after the
    /// first `received` (what the peer has): the resume of a session.
    ///
    /// # Errors
    ///
    /// As [`check_resume`](Self::check_resume).
    pub(crate) fn resume(&self, io: BoxWrite, received: u64) -> Result<(), Error> {
        // Lock order as in `poll_drain`: the write side, the queue, the replay.
        let mut side = self.side.lock().unwrap_or_else(|p| p.into_inner());
        self.check_resume(received)?;
        let resend = {
            let mut replay = self.replay.lock().unwrap();
            let r = replay.as_mut().expect("checked above");
            r.trim(received);
            r.frames()
        };
        // Per-transport frames of the old link mean nothing on the new one.
        let control = {
            let mut q = self.queue.lock().unwrap();
            q.urgent = false;
            std::mem::take(&mut q.control)
        };
        let dropped: usize = control.iter().map(EncodedFrame::len).sum();
        self.queued.fetch_sub(dropped, Ordering::AcqRel);
        // What the peer lacks goes first, as a batch of its own: it is kept
        // already, so it does not pass through the queue (which keeps).
        let resent: usize = resend.iter().map(EncodedFrame::len).sum();
        self.queued.fetch_add(resent, Ordering::AcqRel);
        side.finish_batch();
        side.batch = resend;
        side.lay_out();
        side.io = Some(io);
        side.failed = false;
        drop(side);
        self.writer.wake();
        Ok(())
    }

    /// Queue a frame for a batch without writing; returns the frame bytes
    /// queued and whether the queue was empty (then the caller owes a
    /// [`flush`](Self::flush), after letting the batch's other senders run).
    pub(crate) fn push_deferred(&self, frame: EncodedFrame) -> (usize, bool) {
        let len = frame.len();
        let queued = self.queued.fetch_add(len, Ordering::AcqRel) + len;
        let mut q = self.queue.lock().unwrap();
        let first = q.frames.is_empty();
        q.frames.push(frame);
        (queued, first)
    }

    /// Write what is queued, if the write side is free and writes are not
    /// corked.
    pub(crate) fn flush(&self) {
        if !self.queue.lock().unwrap().corked {
            self.write_here();
        }
    }

    /// Hold (`true`) or release (`false`) writes; releasing writes what
    /// piled up, from the calling task.
    pub(crate) fn cork(&self, corked: bool) {
        let release = {
            let mut q = self.queue.lock().unwrap();
            let was = std::mem::replace(&mut q.corked, corked);
            was && !corked && q.has_work()
        };
        if release {
            self.write_here();
        }
    }

    /// Drop every queued frame (the writer is gone).
    pub(crate) fn clear(&self) {
        let (frames, control, bulk) = {
            let mut q = self.queue.lock().unwrap();
            (std::mem::take(&mut q.frames), std::mem::take(&mut q.control), std::mem::take(&mut q.bulk))
        };
        drop((frames, control, bulk));
    }

    /// Frames waiting in the queue (not counting a batch being written).
    pub(crate) fn queued_frames(&self) -> usize {
        let q = self.queue.lock().unwrap();
        q.frames.len() + q.bulk.len()
    }

    /// Whether frames are waiting in the queue (not counting a batch being
    /// written).
    fn has_queued(&self) -> bool {
        self.queue.lock().unwrap().has_work()
    }

    /// Write what is queued from the calling task, without waiting: if the
    /// write side is taken, its holder writes our frames; if the socket is
    /// full, the writer task finishes.
    fn write_here(&self) {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        loop {
            let mut side = match self.side.try_lock() {
                Ok(side) => side,
                Err(TryLockError::WouldBlock) => return, // its holder takes our frames
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
            };
            if side.failed || side.total > side.written {
                // A batch waits for the socket: the writer task has it.
                return;
            }
            match self.poll_drain(&mut side, &mut cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) | Poll::Pending => {
                    drop(side);
                    self.writer.wake();
                    return;
                }
            }
            drop(side);
            // A sender that found the side taken just now left its frame
            // for us: look once more after letting go.
            if !self.has_queued() {
                return;
            }
        }
    }

    /// Write the batch in progress and everything queued, until done or
    /// the socket is full. Ready(Ok) means nothing is left to write.
    fn poll_drain(&self, side: &mut WriteSide, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if side.failed {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            if side.io.is_none() {
                // Detached: frames wait for the resume.
                return Poll::Pending;
            }
            if side.total == side.written {
                side.finish_batch();
                let control = {
                    let mut q = self.queue.lock().unwrap();
                    std::mem::swap(&mut q.frames, &mut side.batch);
                    let mut bulk = 0;
                    while bulk < BULK_PER_BATCH
                        && let Some(frame) = q.bulk.pop_front()
                    {
                        bulk += frame.len();
                        side.batch.push(frame);
                    }
                    let take = !q.control.is_empty() && (q.urgent || !side.batch.is_empty());
                    q.urgent = false;
                    take.then(|| std::mem::take(&mut q.control))
                };
                if !side.batch.is_empty()
                    && let Some(r) = self.replay.lock().unwrap().as_mut()
                {
                    // Numbered in the order written: kept here, by the one
                    // holder of the write side (which also forgets what the
                    // peer acknowledged).
                    r.trim(self.acked.load(Ordering::Acquire));
                    for frame in &side.batch {
                        r.keep(frame);
                    }
                    self.sent.store(r.sent(), Ordering::Release);
                }
                if let Some(control) = control {
                    side.batch.splice(0..0, control);
                }
                if side.batch.is_empty() {
                    return side.poll_flush(cx);
                }
                side.lay_out();
            }
            match side.poll_write(cx) {
                Poll::Ready(Ok(())) => {
                    self.queued.fetch_sub(side.frame_bytes, Ordering::AcqRel);
                    side.frame_bytes = 0;
                }
                Poll::Ready(Err(e)) => {
                    side.failed = true;
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The writer task's step: wait until something is left half-written
    /// or queued, and write it with the task's own waker (so the socket's
    /// readiness wakes it).
    pub(crate) fn poll_write_task(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.writer.register(cx.waker());
        let mut side = self.side.lock().unwrap_or_else(|p| p.into_inner());
        match self.poll_drain(&mut side, cx) {
            // All written: sleep until a sender leaves something behind.
            Poll::Ready(Ok(())) => Poll::Pending,
            other => other,
        }
    }

    /// Write everything queued (the last frames before a close); Ready once
    /// all is written.
    pub(crate) fn poll_finish(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.writer.register(cx.waker());
        let mut side = self.side.lock().unwrap_or_else(|p| p.into_inner());
        self.poll_drain(&mut side, cx)
    }

    /// Shut the transport's write half down.
    pub(crate) fn poll_shutdown(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut side = self.side.lock().unwrap_or_else(|p| p.into_inner());
        match side.io.as_mut() {
            Some(io) => Pin::new(io).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Close the transport's write half for good: drop it and what waits.
    pub(crate) fn release(&self) {
        let mut side = self.side.lock().unwrap_or_else(|p| p.into_inner());
        side.io = None;
        side.failed = true;
        side.batch.clear();
        side.parts.clear();
        side.scratch = Vec::new();
        drop(side);
        self.clear();
    }

    /// Frame bytes queued and not yet written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    #[cfg(test)]
    fn queued(&self) -> usize {
        self.queued_bytes()
    }
}

impl WriteSide {
    /// Lay the batch out as parts: small chunks (with every length prefix)
    /// copied into the scratch buffer, large chunks by reference.
    fn lay_out(&mut self) {
        self.scratch.clear();
        self.parts.clear();
        let mut start = 0;
        for (i, frame) in self.batch.iter().enumerate() {
            self.frame_bytes += frame.len();
            put_prefix(&mut self.scratch, frame.len());
            for (j, chunk) in frame.chunks().iter().enumerate() {
                if chunk.len() < COPY_BELOW {
                    self.scratch.extend_from_slice(chunk);
                } else {
                    if start < self.scratch.len() {
                        self.parts.push(Part::Scratch(start, self.scratch.len()));
                    }
                    self.parts.push(Part::Chunk(i, j));
                    start = self.scratch.len();
                }
            }
        }
        if start < self.scratch.len() {
            self.parts.push(Part::Scratch(start, self.scratch.len()));
        }
        self.total = self.parts.iter().map(|p| self.part(*p).len()).sum();
        self.written = 0;
    }

    fn part(&self, p: Part) -> &[u8] {
        match p {
            Part::Scratch(a, b) => &self.scratch[a..b],
            Part::Chunk(i, j) => &self.batch[i].chunks()[j],
        }
    }

    /// The batch is written: forget it, keep the buffers.
    fn finish_batch(&mut self) {
        self.batch.clear();
        self.parts.clear();
        self.written = 0;
        self.total = 0;
        if self.scratch.capacity() > KEEP_SCRATCH {
            self.scratch = Vec::new();
        }
    }

    /// Write the rest of the batch.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.total {
            let Some(mut io) = self.io.take() else {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            };
            let slices = self.slices();
            let result = if io.is_write_vectored() {
                Pin::new(&mut io).poll_write_vectored(cx, &slices)
            } else {
                Pin::new(&mut io).poll_write(cx, slices.first().map_or(&[][..], |s| &**s))
            };
            drop(slices);
            self.io = Some(io);
            match result {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.written += n;
                    self.needs_flush = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Up to [`MAX_SLICES`] slices of what is left to write.
    fn slices(&self) -> Vec<IoSlice<'_>> {
        let mut skip = self.written;
        let mut out = Vec::new();
        for p in &self.parts {
            let bytes = self.part(*p);
            if skip >= bytes.len() {
                skip -= bytes.len();
                continue;
            }
            out.push(IoSlice::new(&bytes[skip..]));
            skip = 0;
            if out.len() == MAX_SLICES {
                break;
            }
        }
        out
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.needs_flush {
            return Poll::Ready(Ok(()));
        }
        let Some(io) = self.io.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let r = Pin::new(io).poll_flush(cx);
        if let Poll::Ready(Ok(())) = r {
            self.needs_flush = false;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::StreamExt;
    use tokio_util::codec::{FramedRead, LengthDelimitedCodec};

    async fn finish(outbox: &Outbox) {
        std::future::poll_fn(|cx| outbox.poll_finish(cx)).await.unwrap();
    }

    #[tokio::test]
    async fn without_vectored_writes_frames_arrive_whole_and_in_order() {
        let frames: Vec<Bytes> =
            [3usize, 0, 5000, 10, 70_000, 1, 2047, 2048].iter().map(|&n| Bytes::from(vec![n as u8; n])).collect();
        let (a, b) = tokio::io::duplex(1 << 20);
        let outbox = Outbox::new(Box::new(a));
        outbox.cork(true);
        for f in &frames {
            outbox.push(f.clone().into());
        }
        outbox.cork(false);
        finish(&outbox).await;
        assert_eq!(outbox.queued(), 0);
        let mut read = FramedRead::new(b, LengthDelimitedCodec::new());
        for f in frames {
            assert_eq!(read.next().await.unwrap().unwrap().freeze(), f);
        }
    }

    #[tokio::test]
    async fn a_full_socket_leaves_the_rest_to_the_writer_task_in_order() {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let outbox = std::sync::Arc::new(Outbox::new(Box::new(a)));
        // Past MAX_SLICES and past the socket buffer, copied and referenced.
        let frames: Vec<Bytes> = (0..700).map(|i| Bytes::from(vec![i as u8; (i * 37) % 5000])).collect();
        for f in &frames {
            outbox.push(f.clone().into());
        }
        let task = {
            let outbox = outbox.clone();
            tokio::spawn(async move { std::future::poll_fn(|cx| outbox.poll_finish(cx)).await })
        };
        let reader = tokio::spawn(async move {
            let mut read = FramedRead::new(b, LengthDelimitedCodec::new());
            let mut got = Vec::new();
            while got.len() < 700 {
                got.push(read.next().await.unwrap().unwrap().freeze());
            }
            got
        });
        task.await.unwrap().unwrap();
        assert_eq!(reader.await.unwrap(), frames);
        assert_eq!(outbox.queued(), 0);
    }

    #[tokio::test]
    async fn calls_frames_overtake_queued_bulk_frames_a_batch_at_a_time() {
        let (a, b) = tokio::io::duplex(8 << 20);
        let outbox = Outbox::new(Box::new(a));
        outbox.cork(true);
        // Four stream answers of 200 KiB, then a reply queued after them.
        let bulk: Vec<Bytes> = (0..4u8).map(|i| Bytes::from(vec![i; 200 << 10])).collect();
        for f in &bulk {
            outbox.push_bulk(f.clone().into());
        }
        let reply = Bytes::from_static(b"reply");
        outbox.push(reply.clone().into());
        outbox.cork(false);
        finish(&outbox).await;
        assert_eq!(outbox.queued(), 0);
        let mut read = FramedRead::new(b, LengthDelimitedCodec::builder().max_frame_length(1 << 20).new_codec());
        // The reply leaves first; bulk frames keep their own order.
        assert_eq!(read.next().await.unwrap().unwrap().freeze(), reply);
        for f in bulk {
            assert_eq!(read.next().await.unwrap().unwrap().freeze(), f);
        }
    }

    #[tokio::test]
    async fn an_idle_connection_writes_from_the_sender_at_once() {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let outbox = Outbox::new(Box::new(a));
        outbox.push(Bytes::from_static(b"hello").into());
        // No writer task runs: the frame left with the push.
        assert_eq!(outbox.queued(), 0);
        let mut read = FramedRead::new(b, LengthDelimitedCodec::new());
        assert_eq!(&read.next().await.unwrap().unwrap()[..], b"hello");
    }

    async fn read_frames(read: &mut FramedRead<tokio::io::DuplexStream, LengthDelimitedCodec>, n: usize) -> Vec<Bytes> {
        let mut got = Vec::new();
        for _ in 0..n {
            got.push(read.next().await.unwrap().unwrap().freeze());
        }
        got
    }

    #[tokio::test]
    async fn a_resume_writes_what_the_peer_lacks_then_what_came_since_and_no_control_frame() {
        let (a, b) = tokio::io::duplex(1 << 20);
        let outbox = Outbox::new(Box::new(a));
        outbox.keep_for_resume(1 << 20);
        let frame = |i: usize| Bytes::from(vec![i as u8; if i == 3 { 5000 } else { 10 + i }]);
        for i in 0..5 {
            outbox.push(frame(i).into());
        }
        let mut read = FramedRead::new(b, LengthDelimitedCodec::new());
        assert_eq!(read_frames(&mut read, 5).await, (0..5).map(frame).collect::<Vec<_>>());
        outbox.ack(2).unwrap();
        assert!(outbox.ack(6).is_err(), "frames never sent");
        // The link drops; meanwhile a frame is sent and a ping queued.
        outbox.detach();
        outbox.push(frame(5).into());
        outbox.push_control(Bytes::from_static(b"ping").into());
        assert!(outbox.check_resume(1).is_err(), "fewer than it acknowledged");
        // The peer had received 3 frames (one more than it acknowledged).
        let (a, b) = tokio::io::duplex(1 << 20);
        outbox.resume(Box::new(a), 3).unwrap();
        finish(&outbox).await;
        let mut read = FramedRead::new(b, LengthDelimitedCodec::new());
        assert_eq!(read_frames(&mut read, 3).await, (3..6).map(frame).collect::<Vec<_>>());
        assert_eq!(outbox.queued(), 0);
        drop(outbox);
        assert!(read.next().await.is_none(), "the old link's ping is not written on the new one");
    }

    #[tokio::test]
    async fn past_the_budget_a_resume_needs_the_peer_to_have_everything_dropped() {
        let (a, b) = tokio::io::duplex(1 << 20);
        let outbox = Outbox::new(Box::new(a));
        outbox.keep_for_resume(4096);
        outbox.push(Bytes::from(vec![1; 100]).into());
        outbox.push(Bytes::from(vec![2; 8192]).into()); // past the budget: dropped
        outbox.push(Bytes::from(vec![3; 100]).into());
        let mut read = FramedRead::new(b, LengthDelimitedCodec::new());
        read_frames(&mut read, 3).await;
        assert!(outbox.replay_state().1, "frames are missing");
        assert!(outbox.check_resume(1).is_err());
        assert!(outbox.check_resume(2).is_ok(), "the peer has everything dropped");
        outbox.ack(2).unwrap();
        assert!(!outbox.replay_state().1);
        assert_eq!(outbox.replay_state().0, 100, "only the third frame is kept");
    }
}
