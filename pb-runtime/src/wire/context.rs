//! What one synchronous encode or decode knows beyond the value itself.
//!
//! serde gives `Serialize`/`Deserialize` impls no way to carry extra state,
//! so the wire layer lends it to them through a scoped thread-local for the
//! duration of one encode or decode: the limits to decode within, the frame
//! being decoded (so a [`Blob`](super::Blob) can be a slice of it), the large
//! blob being encoded (so the frame can reference it instead of copying), and
//! the first structured error raised inside (serde only carries strings).
//!
//! The wire layer knows nothing of connections: the layer above passes the
//! limits in, and lends its own context (how references are exported and
//! imported) the same way, beside this one.

use std::cell::RefCell;

use bytes::Bytes;

use super::codec::Limits;
use crate::Error;

scoped_tls::scoped_thread_local!(static ENCODE: WireCx);
scoped_tls::scoped_thread_local!(static DECODE: WireCx);

/// The state of one encode or decode.
pub(crate) struct WireCx {
    error: RefCell<Option<Error>>,
    /// Encoding: the large blob being serialized, offered to the frame
    /// buffer so it can reference it instead of copying (see `blob.rs`).
    blob: RefCell<Option<Bytes>>,
    /// Decoding: the buffer being decoded, so blobs can be slices of it.
    frame: Option<Bytes>,
    /// Decoding: how deeply values may nest, how much they may allocate.
    limits: Limits,
}

/// Accessor of the encoding context.
pub(crate) struct EncodeCx;
/// Accessor of the decoding context.
pub(crate) struct DecodeCx;

fn run<T>(
    key: &'static scoped_tls::ScopedKey<WireCx>,
    frame: Option<Bytes>,
    limits: Limits,
    f: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let cx = WireCx { error: RefCell::new(None), blob: RefCell::new(None), frame, limits };
    let result = key.set(&cx, f);
    result.map_err(|e| cx.error.into_inner().unwrap_or(e))
}

/// Run `f` (a synchronous encode) with an encoding context.
pub(crate) fn with_encode<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    run(&ENCODE, None, Limits::default(), f)
}

/// Run `f` (a synchronous decode of `frame`, or of part of it) with a
/// decoding context: values are decoded within `limits`, and blobs in it
/// become slices of `frame`.
pub(crate) fn with_decode<T>(frame: &Bytes, limits: Limits, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    run(&DECODE, Some(frame.clone()), limits, f)
}

impl EncodeCx {
    /// The encoding context, if any.
    pub(crate) fn with<R>(f: impl FnOnce(Option<&WireCx>) -> R) -> R {
        if ENCODE.is_set() { ENCODE.with(|c| f(Some(c))) } else { f(None) }
    }
}

impl DecodeCx {
    /// The decoding context, if any.
    pub(crate) fn with<R>(f: impl FnOnce(Option<&WireCx>) -> R) -> R {
        if DECODE.is_set() { DECODE.with(|c| f(Some(c))) } else { f(None) }
    }
}

impl WireCx {
    /// Offer the blob about to be serialized to the frame buffer.
    pub(crate) fn offer_blob(&self, blob: Bytes) {
        *self.blob.borrow_mut() = Some(blob);
    }

    /// The offered blob, if `data` is exactly its bytes.
    pub(crate) fn take_blob(&self, data: &[u8]) -> Option<Bytes> {
        self.blob.borrow_mut().take_if(|b| b.as_ptr() == data.as_ptr() && b.len() == data.len())
    }

    /// `part` as a slice of the frame being decoded, if it lies inside it.
    pub(crate) fn frame_slice(&self, part: &[u8]) -> Option<Bytes> {
        let frame = self.frame.as_ref()?;
        let (start, end) = (frame.as_ptr() as usize, frame.as_ptr() as usize + frame.len());
        let p = part.as_ptr() as usize;
        (p >= start && p + part.len() <= end).then(|| frame.slice_ref(part))
    }

    /// The limits of this decode.
    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    /// Remember a structured error to report instead of serde's string.
    pub(crate) fn fail(&self, e: Error) -> Error {
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(e.clone());
        }
        e
    }
}

/// Remember `e` as the structured error of the encode or decode running on
/// this thread (if any), and return it.
pub(crate) fn fail(e: Error) -> Error {
    let e = EncodeCx::with(|cx| match cx {
        Some(cx) => cx.fail(e),
        None => e,
    });
    DecodeCx::with(|cx| match cx {
        Some(cx) => cx.fail(e),
        None => e,
    })
}
