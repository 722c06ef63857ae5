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

scoped_tls::scoped_thread_local!(static ENCODE: Arc<Shared>);
scoped_tls::scoped_thread_local!(static DECODE: DecodeCx);

/// Access to the connection a payload is encoded for.
pub(crate) struct EncodeCx;

/// The connection a payload is decoded from, and the first structured error
/// a reference raised (serde only carries strings through its errors).
pub(crate) struct DecodeCx {
    pub(crate) conn: Arc<Shared>,
    error: RefCell<Option<Error>>,
}

/// Run `f` (a synchronous encode) with `conn` as the encoding connection.
pub(crate) fn with_encode<R>(conn: &Arc<Shared>, f: impl FnOnce() -> R) -> R {
    ENCODE.set(conn, f)
}

/// Run `f` (a synchronous decode) with `conn` as the decoding connection.
/// If `f` fails and a reference recorded a structured error, that error wins.
pub(crate) fn with_decode<T>(conn: &Arc<Shared>, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let cx = DecodeCx { conn: conn.clone(), error: RefCell::new(None) };
    let result = DECODE.set(&cx, f);
    match result {
        Ok(v) => Ok(v),
        Err(e) => Err(cx.error.into_inner().unwrap_or(e)),
    }
}

impl EncodeCx {
    /// The connection being encoded for, if any.
    pub(crate) fn with<R>(f: impl FnOnce(Option<&Arc<Shared>>) -> R) -> R {
        if ENCODE.is_set() { ENCODE.with(|c| f(Some(c))) } else { f(None) }
    }
}

impl DecodeCx {
    /// The connection being decoded from, if any.
    pub(crate) fn with<R>(f: impl FnOnce(Option<&DecodeCx>) -> R) -> R {
        if DECODE.is_set() { DECODE.with(|c| f(Some(c))) } else { f(None) }
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
