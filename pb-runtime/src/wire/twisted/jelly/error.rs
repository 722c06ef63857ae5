//! The error of jelly encoding and decoding.

use std::fmt;

/// An error of jelly encoding or decoding: a [`crate::Error`] (a protocol
/// error, or a limit) that serde can carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct Error(pub crate::Error);

impl Error {
    /// A protocol error with the given message.
    pub fn new(msg: impl fmt::Display) -> Self {
        Error(crate::Error::protocol(format_args!("jelly: {msg}")))
    }
}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(msg)
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(msg)
    }
}

impl From<Error> for crate::Error {
    fn from(e: Error) -> Self {
        e.0
    }
}

impl From<crate::Error> for Error {
    fn from(e: crate::Error) -> Self {
        Error(e)
    }
}

/// Result alias with the jelly [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
