//! Reading length-delimited frames without trusting the length prefix.
//!
//! A frame is a 4-byte big-endian length and that many bytes, the layout of
//! tokio-util's `LengthDelimitedCodec` (which pb writes with). For reading,
//! pb uses [`FrameDecoder`] instead: like the codec, it refuses a prefix over
//! the limit before reading further, but it also never reserves buffer space
//! for what a prefix *claims*: the buffer grows with the bytes that actually
//! arrive, so a peer that announces a 16 MiB frame and sends ten bytes costs
//! ten bytes, not 16 MiB.
//!
//! With a frame timeout ([`FrameDecoder::with_timeout`]), a frame that has
//! begun must be complete within that time: a peer that dribbles a frame a
//! byte at a time (slowloris) is cut when its next byte arrives late. Read
//! through [`Frames`], the deadline also fires on its own, so a peer that
//! sends part of a frame and then nothing is cut too. Idle connections,
//! between frames, are not affected.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncRead;
use tokio::time::{Instant, Sleep};
use tokio_util::codec::{Decoder, FramedRead};

/// Bytes of the length prefix.
pub const PREFIX_LEN: usize = 4;

/// How much buffer space to reserve at a time while a frame arrives.
const RESERVE_STEP: usize = 64 << 10;

/// Decodes frames of at most a maximum length.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    max_frame_len: usize,
    timeout: Option<Duration>,
    /// When the frame being received began to arrive.
    begun: Option<Instant>,
}

impl FrameDecoder {
    /// A decoder refusing frames longer than `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        FrameDecoder { max_frame_len, timeout: None, begun: None }
    }

    /// Also refuse a frame that takes longer than `timeout` to arrive once
    /// its first byte has.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// When the frame being received must be complete (none if no frame
    /// has begun, or there is no timeout).
    pub fn deadline(&self) -> Option<Instant> {
        Some(self.begun? + self.timeout?)
    }
}

/// Frames read from `R`, with the frame deadline enforced by a timer: a
/// frame that has begun and is not complete in time ends the stream with a
/// [`FrameTimedOut`] error even if no further byte arrives.
pub struct Frames<R> {
    inner: FramedRead<R, FrameDecoder>,
    timer: Pin<Box<Sleep>>,
    /// The deadline `timer` is set to.
    armed: Option<Instant>,
}

impl<R: AsyncRead + Unpin> Frames<R> {
    /// Read frames from `read` with `decoder`.
    pub fn new(read: R, decoder: FrameDecoder) -> Self {
        Frames {
            inner: FramedRead::new(read, decoder),
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed: None,
        }
    }

    /// The bytes read but not yet returned as a frame.
    pub fn read_buffer(&self) -> &BytesMut {
        self.inner.read_buffer()
    }
}

impl<R: AsyncRead + Unpin> Stream for Frames<R> {
    type Item = io::Result<BytesMut>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = this.inner.poll_next_unpin(cx) {
            return Poll::Ready(frame);
        }
        // Pending: the decoder has seen every byte that arrived, so its
        // deadline is that of the partial frame, if any.
        let Some(deadline) = this.inner.decoder().deadline() else { return Poll::Pending };
        if this.armed != Some(deadline) {
            this.timer.as_mut().reset(deadline);
            this.armed = Some(deadline);
        }
        match this.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                let timeout = this.inner.decoder().timeout.unwrap_or_default();
                Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::TimedOut, FrameTimedOut { timeout }))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A frame that took too long to arrive.
#[derive(Debug, thiserror::Error)]
#[error("a frame took longer than {timeout:?} to arrive (slow peer)")]
pub struct FrameTimedOut {
    /// The configured frame timeout.
    pub timeout: Duration,
}

/// A length prefix over the limit: the connection cannot go on, since the
/// rest of the stream can no longer be framed.
#[derive(Debug, thiserror::Error)]
#[error("frame length {len} is over the limit of {max} bytes")]
pub struct FrameTooLong {
    /// The length the prefix claimed.
    pub len: u64,
    /// The configured maximum.
    pub max: usize,
}

impl Decoder for FrameDecoder {
    type Item = BytesMut;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        let Some(timeout) = self.timeout else {
            return self.split(src);
        };
        if src.is_empty() {
            self.begun = None;
            return Ok(None);
        }
        let frame = self.split(src)?;
        if frame.is_some() {
            self.begun = None;
            return Ok(frame);
        }
        // Only a frame that is still partial reads the clock: a frame that
        // arrived whole (the common case) costs no clock read.
        let begun = *self.begun.get_or_insert_with(Instant::now);
        if begun.elapsed() > timeout {
            return Err(io::Error::new(io::ErrorKind::TimedOut, FrameTimedOut { timeout }));
        }
        Ok(None)
    }
}

impl FrameDecoder {
    /// The next whole frame, if it has arrived.
    fn split(&mut self, src: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        let Some(prefix) = src.get(..PREFIX_LEN) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(prefix.try_into().expect("four bytes")) as u64;
        if len > self.max_frame_len as u64 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, FrameTooLong { len, max: self.max_frame_len }));
        }
        let whole = PREFIX_LEN + len as usize;
        if src.len() < whole {
            // Room for what comes next, never for the whole claim at once.
            src.reserve((whole - src.len()).min(RESERVE_STEP));
            return Ok(None);
        }
        src.advance(PREFIX_LEN);
        Ok(Some(src.split_to(len as usize)))
    }
}

/// Append the length prefix of a frame of `len` bytes (checked against
/// [`MAX_FRAME_LEN`] when the connection is configured).
pub(crate) fn put_prefix(buf: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
}

/// Whether `buf` (a reader's buffer, at a frame boundary) holds another
/// complete frame.
pub(crate) fn complete_frame_buffered(buf: &[u8]) -> bool {
    match buf.get(..PREFIX_LEN) {
        Some(head) => buf.len() - PREFIX_LEN >= u32::from_be_bytes(head.try_into().expect("four bytes")) as usize,
        None => false,
    }
}

/// Watches the frames a reader has buffered but not yet handled for one
/// that `is_last` recognizes (a goodbye): then the peer had already given up
/// on everything before it when it was read. Each buffered byte is looked at
/// once, however many frames are handled in between.
#[derive(Debug, Default)]
pub(crate) struct LookAhead {
    /// Stream offset of the first byte of the reader's buffer.
    consumed: u64,
    /// Stream offset of the first frame not yet looked at.
    scanned: u64,
    found: bool,
}

impl LookAhead {
    /// A frame of `len` bytes (without its prefix) was taken from the buffer.
    pub(crate) fn consumed(&mut self, len: usize) {
        self.consumed += (PREFIX_LEN + len) as u64;
    }

    /// Whether a frame `is_last` recognizes is in `buf` (the reader's
    /// buffer, at a frame boundary) or was seen earlier.
    pub(crate) fn seen(&mut self, buf: &[u8], is_last: impl Fn(&[u8]) -> bool) -> bool {
        let mut at = usize::try_from(self.scanned.saturating_sub(self.consumed)).unwrap_or(usize::MAX);
        while !self.found {
            let Some(head) = buf.get(at..at + PREFIX_LEN) else { break };
            let len = u32::from_be_bytes(head.try_into().expect("four bytes")) as usize;
            let Some(frame) = buf.get(at + PREFIX_LEN..at + PREFIX_LEN + len) else { break };
            self.found = is_last(frame);
            at += PREFIX_LEN + len;
        }
        self.scanned = self.consumed + at as u64;
        self.found
    }
}

/// The longest frame a 4-byte prefix can announce.
pub const MAX_FRAME_LEN: usize = u32::MAX as usize;

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payloads: &[&[u8]]) -> BytesMut {
        let mut buf = BytesMut::new();
        for p in payloads {
            buf.extend_from_slice(&(p.len() as u32).to_be_bytes());
            buf.extend_from_slice(p);
        }
        buf
    }

    #[test]
    fn frames_split_at_any_byte_come_out_whole() {
        let all = framed(&[b"one", b"", b"three"]);
        for cut in 0..all.len() {
            let mut d = FrameDecoder::new(16);
            let mut buf = BytesMut::from(&all[..cut]);
            let mut out = Vec::new();
            while let Some(f) = d.decode(&mut buf).unwrap() {
                out.push(f);
            }
            buf.extend_from_slice(&all[cut..]);
            while let Some(f) = d.decode(&mut buf).unwrap() {
                out.push(f);
            }
            assert_eq!(out, [&b"one"[..], b"", b"three"]);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn a_prefix_over_the_limit_is_an_error() {
        let mut d = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        let e = d.decode(&mut buf).unwrap_err();
        assert!(e.to_string().contains("over the limit"), "{e}");
        let mut buf = BytesMut::from(&17u32.to_be_bytes()[..]);
        assert!(d.decode(&mut buf).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_frame_dribbled_too_slowly_times_out() {
        let mut d = FrameDecoder::new(64).with_timeout(Duration::from_secs(5));
        let all = framed(&[b"0123456789"]);
        let mut buf = BytesMut::new();
        for (i, byte) in all.iter().enumerate() {
            buf.extend_from_slice(&[*byte]);
            match d.decode(&mut buf) {
                Ok(None) => {}
                Err(e) => {
                    assert!(i >= 5, "cut after {i} s");
                    assert!(e.to_string().contains("slow peer"), "{e}");
                    return;
                }
                Ok(Some(_)) => panic!("a dribbled frame was accepted"),
            }
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        panic!("never timed out");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_between_frames_does_not_count() {
        let mut d = FrameDecoder::new(64).with_timeout(Duration::from_secs(5));
        let mut buf = framed(&[b"one"]);
        assert!(d.decode(&mut buf).unwrap().is_some());
        assert!(d.decode(&mut buf).unwrap().is_none());
        tokio::time::advance(Duration::from_secs(60)).await;
        buf.extend_from_slice(&framed(&[b"two"]));
        assert_eq!(&d.decode(&mut buf).unwrap().unwrap()[..], b"two");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_partial_frame_times_out_without_more_bytes() {
        let (mut tx, rx) = tokio::io::duplex(1 << 16);
        let mut frames = Frames::new(rx, FrameDecoder::new(1 << 20).with_timeout(Duration::from_secs(1)));
        let mut bytes = (1u32 << 20).to_be_bytes().to_vec();
        bytes.extend_from_slice(&[7; 1000]);
        tokio::io::AsyncWriteExt::write_all(&mut tx, &bytes).await.unwrap();
        let start = Instant::now();
        let e = frames.next().await.expect("an error, not the end").unwrap_err();
        assert!(e.to_string().contains("slow peer"), "{e}");
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        drop(tx);
    }

    #[test]
    fn look_ahead_finds_a_last_frame_and_scans_each_byte_once() {
        let is_last = |f: &[u8]| f == b"bye";
        let mut ahead = LookAhead::default();
        let mut buf = framed(&[b"a", b"bb"]);
        buf.extend_from_slice(&framed(&[b"bye"])[..5]); // partial
        assert!(!ahead.seen(&buf, is_last));
        // Handle "a": the rest is scanned from where it stopped.
        buf.advance(PREFIX_LEN + 1);
        ahead.consumed(1);
        assert!(!ahead.seen(&buf, is_last));
        buf.extend_from_slice(&framed(&[b"bye"])[5..]);
        assert!(ahead.seen(&buf, is_last));
        assert!(ahead.seen(&buf, |_| false), "once seen, stays seen");
    }

    #[test]
    fn complete_frames_are_recognized() {
        assert!(!complete_frame_buffered(&[]));
        assert!(!complete_frame_buffered(&[0, 0, 0]));
        assert!(complete_frame_buffered(&[0, 0, 0, 0]));
        assert!(!complete_frame_buffered(&[0, 0, 0, 2, 9]));
        assert!(complete_frame_buffered(&[0, 0, 0, 2, 9, 9, 1]));
    }

    #[test]
    fn a_large_claim_reserves_only_a_step() {
        let mut d = FrameDecoder::new(usize::MAX);
        let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        assert!(d.decode(&mut buf).unwrap().is_none());
        assert!(buf.capacity() <= PREFIX_LEN + 2 * RESERVE_STEP, "capacity {}", buf.capacity());
    }
}
