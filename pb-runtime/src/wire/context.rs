//! The connection a payload is being encoded for or decoded from.
//!
//! serde gives `Serialize`/`Deserialize` impls no way to carry extra state, so
//! the connection is lent to them through a scoped thread-local for the
//! duration of one synchronous encode or decode. Encoding a reference exports
//! the object on that connection; decoding one looks it up or makes a proxy.

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;

use crate::Error;
use crate::connection::Shared;

scoped_tls::scoped_thread_local!(static ENCODE: WireCx);
scoped_tls::scoped_thread_local!(static DECODE: WireCx);

/// The connection being encoded for or decoded from, and the first
/// structured error a reference raised (serde only carries strings through
/// its errors, so the structured one is kept here and wins).
pub(crate) struct WireCx {
    pub(crate) conn: Arc<Shared>,
    error: RefCell<Option<Error>>,
    /// Export ids counted while encoding, rolled back if the encode fails
    /// (the peer never sees them, so it would never release them).
    exported: RefCell<Vec<u64>>,
    /// Encoding: the large blob being serialized, offered to the frame
    /// buffer so it can reference it instead of copying (see `blob.rs`).
    blob: RefCell<Option<Bytes>>,
    /// Decoding: the buffer being decoded, so blobs can be slices of it.
    frame: Option<Bytes>,
}

/// Accessor of the encoding context.
pub(crate) struct EncodeCx;
/// Accessor of the decoding context.
pub(crate) struct DecodeCx;

fn run<T>(
    key: &'static scoped_tls::ScopedKey<WireCx>,
    conn: &Arc<Shared>,
    frame: Option<Bytes>,
    f: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let cx = WireCx {
        conn: conn.clone(),
        error: RefCell::new(None),
        exported: RefCell::new(Vec::new()),
        blob: RefCell::new(None),
        frame,
    };
    let result = key.set(&cx, f);
    result.map_err(|e| {
        for id in cx.exported.take() {
            conn.unexport(id);
        }
        cx.error.into_inner().unwrap_or(e)
    })
}

/// Run `f` (a synchronous encode) with `conn` as the encoding connection.
pub(crate) fn with_encode<T>(conn: &Arc<Shared>, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    run(&ENCODE, conn, None, f)
}

/// Run `f` (a synchronous decode of `frame`, or of part of it) with `conn`
/// as the decoding connection; blobs in it become slices of `frame`.
pub(crate) fn with_decode<T>(
    conn: &Arc<Shared>,
    frame: &Bytes,
    f: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    run(&DECODE, conn, Some(frame.clone()), f)
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
    /// Note an export made by this encode.
    pub(crate) fn exported(&self, id: u64) {
        self.exported.borrow_mut().push(id);
    }

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

    /// Remember a structured error to report instead of serde's string.
    pub(crate) fn fail(&self, e: Error) -> Error {
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(e.clone());
        }
        e
    }
}
