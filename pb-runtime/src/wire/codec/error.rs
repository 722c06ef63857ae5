//! The codec's error: a limit (kept structured through serde, which only
//! carries errors it does not know as text) or a malformed message.

use std::fmt;

use crate::Error;

/// An encode or decode failure. Boxed, so that the `Result`s every level of
/// a decode returns stay one word wide (less stack per nesting level).
#[derive(Debug)]
pub(crate) struct CodecError(Box<Kind>);

#[derive(Debug)]
enum Kind {
    /// A limit of [`super::Limits`] was hit.
    Limit { what: &'static str, limit: u64 },
    /// The bytes are not a valid encoding, or a serde impl failed.
    Malformed(String),
}

impl CodecError {
    pub(crate) fn limit(what: &'static str, limit: usize) -> Self {
        CodecError(Box::new(Kind::Limit { what, limit: limit as u64 }))
    }

    pub(crate) fn malformed(msg: impl fmt::Display) -> Self {
        CodecError(Box::new(Kind::Malformed(msg.to_string())))
    }

    pub(crate) fn end() -> Self {
        Self::malformed("unexpected end of input")
    }

    pub(crate) fn bad_varint() -> Self {
        Self::malformed("bad varint")
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Kind::Limit { what, limit } => write!(f, "limit exceeded: {what} (limit {limit})"),
            Kind::Malformed(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for CodecError {}

impl serde::de::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::malformed(msg)
    }
}

impl serde::ser::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::malformed(msg)
    }
}

impl From<CodecError> for Error {
    #[cold]
    fn from(e: CodecError) -> Self {
        match *e.0 {
            Kind::Limit { what, limit } => Error::LimitExceeded { what: what.into(), limit },
            Kind::Malformed(msg) => Error::Protocol(msg),
        }
    }
}
