//! The connection a payload is being encoded for or decoded from.
//!
//! serde gives `Serialize`/`Deserialize` impls no way to carry extra state, so
//! the connection is lent to them through a scoped thread-local for the
//! duration of one synchronous encode or decode. Encoding a reference exports
//! the object on that connection; decoding one looks it up or makes a proxy.

use std::cell::RefCell;
use std::sync::Arc;

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
}

/// Accessor of the encoding context.
pub(crate) struct EncodeCx;
/// Accessor of the decoding context.
pub(crate) struct DecodeCx;

fn run<T>(
    key: &'static scoped_tls::ScopedKey<WireCx>,
    conn: &Arc<Shared>,
    f: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let cx = WireCx { conn: conn.clone(), error: RefCell::new(None), exported: RefCell::new(Vec::new()) };
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
    run(&ENCODE, conn, f)
}

/// Run `f` (a synchronous decode) with `conn` as the decoding connection.
pub(crate) fn with_decode<T>(conn: &Arc<Shared>, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    run(&DECODE, conn, f)
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

    /// Remember a structured error to report instead of serde's string.
    pub(crate) fn fail(&self, e: Error) -> Error {
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(e.clone());
        }
        e
    }
}
